"""Drivers and the framework's globals: where a walk starts.

C types laid out here:

* ``_FX_DRIVER_GLOBALS`` (Linkage, WdfHandleMask, Tag, Driver,
  DebugExtension, LibraryGlobals, FxPoolTrackingOn, FxVerifierOn,
  WdfBindInfo, ImageAddress/ImageSize) with ``Public``
  (``WDF_DRIVER_GLOBALS``: Driver handle, DriverFlags, DriverTag,
  DriverName), and the client's ``<drv>!WdfDriverGlobals`` variable that
  points at Public (kmdf.md §9, x64 [pdb][dump]; offsets from the profile).
* ``FxLibraryGlobalsType`` at ``Wdf01000!FxLibraryGlobals``:
  FxDriverGlobalsList linking every driver's globals through Linkage, and
  BugCheckDriverInfo / BugCheckDriverInfoIndex over a table of
  ``_FX_DUMP_DRIVER_INFO_ENTRY`` (FxDriverGlobals, Version, DriverName;
  entry 0 is the framework itself) (kmdf.md §9, [pdb] and [src]).
* ``FxDriverGlobalsDebugExtension`` (verifier on) and its AllocatedMdls
  chain of ``FxAllocatedMdls`` {FxMdlDebugInfo Info[16] {Mdl, Owner,
  Caller}, Count, Next} (kmdf.md §9, x64 [pdb]).
* Vtable symbols ``Wdf01000!<Class>::`vftable'`` (and the ``{for
  `IFxMemory'}`` one of memory classes): the real 19041 offsets where the
  triage dump shows them [dump], synthetic ones otherwise.
"""

import struct

from wdfdbg.sources.base import Module
from wdfdbg.testing.heap.space import Region, align, tag_value

# Vtable offsets inside Wdf01000. The first group are the real 19041 ones
# seen in the triage dump; the rest are synthetic (append-only: never
# reorder, fixtures depend on it).
VTABLE_REAL = {"FxDriver": 0x96558, "FxDevice": 0x964c8, "FxWaitLock": 0x967a0, "FxSpinLock": 0x92d48,
               "FxWorkItem": 0x92bc8, "FxUserObject": 0x92c08, "FxMemoryBuffer": 0x922e8,
               "FxSystemWorkItem": 0x92c88}
VTABLE_SYNTHETIC = ["FxObject", "FxIoQueue", "FxRequest", "FxMemoryBufferFromPool", "FxMemoryPagedBufferFromPool",
                    "FxMemoryBufferFromLookaside", "FxMemoryBufferFromPoolLookaside",
                    "FxMemoryPagedBufferFromPoolLookaside", "FxMemoryBufferPreallocated", "FxRequestMemory",
                    "FxNPagedLookasideList", "FxNPagedLookasideListFromPool", "FxPagedLookasideListFromPool",
                    "FxRequestSystemBuffer", "FxRequestOutputBuffer", "FxMemoryObject", "FxIoTarget",
                    "FxCmResList"]
# Classes whose vtable the linker folded into another's (identical virtual
# functions): the real dump's 0x1017 FxResourceCm objects point at
# FxWaitLock's vtable (kmdf.md §12), so no symbol names their class
FOLDED_VTABLES = {"FxResourceCm": "FxWaitLock"}
IFX_VTABLE_DELTA = 0x68   # the {for `IFxMemory'} vtable sits this far after the primary one
MDLS_PER_BLOCK = 16       # FxAllocatedMdls.Info[16] [pdb]
DRIVER_INFO_MIN = 8       # the bugcheck driver-info table's smallest capacity


class Driver(object):
    """One client driver as placed."""

    __slots__ = ("name", "tag", "tagv", "globals", "public", "image_base", "image_size", "image", "verifier",
                 "object_debug", "fxdriver", "ctx_types", "allocated_mdls", "debug_ext", "version", "var",
                 "bind_info", "mdl_blocks", "index")

    def __init__(self, index, name, tag, verifier, object_debug, version, image_base, image_size):
        self.index = index
        self.name = name
        self.tag = tag
        self.tagv = tag_value(tag)
        self.verifier = verifier
        self.object_debug = object_debug
        self.version = version
        self.image_base = image_base
        self.image_size = image_size
        self.image = None        # the Region of the client image's data
        self.ctx_types = {}
        self.allocated_mdls = []  # (Mdl, owner Obj or None, caller address), as tracked
        self.mdl_blocks = []      # (FxAllocatedMdls address, Count), written at finalize
        self.globals = self.public = self.debug_ext = self.var = self.bind_info = self.fxdriver = None


class DriverBuilder(object):
    """Part of :class:`~wdfdbg.testing.heap.HeapBuilder`: drivers, the
    library globals and vtable symbols. Relies on the core and the object
    part (``new_object`` for each FxDriver)."""

    def _init_drivers(self):
        self.lib_globals = self.wdf_data.take(self.wdf_data.cursor, self.t("FxLibraryGlobalsType").size)
        self.symbols["Wdf01000!FxLibraryGlobals"] = self.lib_globals
        self.vtables = {}
        self.drivers = []
        self.bugcheck_info_table = None   # (address, [(name, globals, version)], capacity) after finalize

    def vtable(self, cls, iface=False):
        """The address of ``cls``'s vtable (registering its symbol)."""
        cls = FOLDED_VTABLES.get(cls, cls)
        off = VTABLE_REAL.get(cls)
        if off is None:
            off = 0x98000 + 0x100 * VTABLE_SYNTHETIC.index(cls)
        addr = self.modules[1].base + off
        name = "Wdf01000!%s::`vftable'" % cls
        if iface:
            addr += IFX_VTABLE_DELTA
            name += "{for `IFxMemory'}"
        self.symbols[name] = addr
        self.vtables[addr] = name
        return addr

    def add_driver(self, name, tag, verifier=False, object_debug=False, version=(1, 15, 0), image_base=None,
                   image_size=None):
        A = self.A
        index = len(self.drivers)
        d = Driver(index, name, tag, verifier, object_debug, version,
                   image_base or (A["client_base"] + A["client_step"] * index), image_size or A["client_size"])
        self.modules.append(Module(name, d.image_base, d.image_size))
        d.image = self.heap.add(Region("image:" + name, d.image_base + 0x8000))
        gl = self.t("_FX_DRIVER_GLOBALS")
        d.globals, _ = self.pool(gl.size, "FxDr")
        d.public = d.globals + gl.offset("Public")
        if verifier:
            d.debug_ext, _ = self.pool(self.t("FxDriverGlobalsDebugExtension").size, tag)
        d.var = self.image_alloc(d, self.ptr, self.ptr)
        self.wptr(d.var, d.public)
        self.symbols["%s!WdfDriverGlobals" % name] = d.var
        d.bind_info = self.image_alloc(d, 0x20)
        self.drivers.append(d)
        d.fxdriver = self.new_object("FxDriver", None, driver=d)
        values = {"WdfHandleMask": self.mask, "Tag": d.tagv, "Driver": d.fxdriver.addr,
                  "DebugExtension": d.debug_ext or 0, "LibraryGlobals": self.lib_globals, "FxPoolTrackingOn": 0,
                  "FxVerifierOn": 1 if verifier else 0, "WdfBindInfo": d.bind_info, "ImageAddress": d.image_base,
                  "ImageSize": d.image_size, "Public.Driver": self.handle(d.fxdriver.addr), "Public.DriverFlags": 0,
                  "Public.DriverTag": d.tagv, "Public.DriverName": name.encode("latin-1")}
        self.put(d.globals, "_FX_DRIVER_GLOBALS", values)
        return d

    def image_alloc(self, drv, size, al=16):
        """``size`` bytes of the client image's data section."""
        return drv.image.take(align(drv.image.cursor, al), size)

    def code_address(self, drv, n):
        """A plausible address in the client's code section."""
        return drv.image_base + 0x1000 + 0x40 * n

    def track_mdl(self, drv, mdl, owner, caller_n=0):
        """Record ``mdl`` in the driver's verifier AllocatedMdls."""
        if drv.debug_ext is None:
            raise ValueError("driver %s has no verifier debug extension" % drv.name)
        drv.allocated_mdls.append((mdl, owner, self.code_address(drv, 0x40 + caller_n)))
        mdl.tracked = True
        mdl.owner = owner.addr if owner is not None else None

    def _finalize_drivers(self):
        """Finalize step: the driver list, the bugcheck driver-info table,
        and each verifier driver's AllocatedMdls blocks."""
        lg = self.t("FxLibraryGlobalsType")
        self.link_list(self.lib_globals + lg.offset("FxDriverGlobalsList"), [d.globals for d in self.drivers])
        self._write_driver_info()
        self._write_allocated_mdls()

    def _write_driver_info(self):
        ent = self.t("_FX_DUMP_DRIVER_INFO_ENTRY")
        cap = max(DRIVER_INFO_MIN, len(self.drivers) + 1)
        table, _ = self.pool(ent.size * cap, "FxDI")
        names = [("Wdf01000", 0, tuple(int(x) for x in (self.kmdf_version + ".0").split(".")[:3]))]
        for d in self.drivers:
            names.append((d.name, d.globals, d.version))
        for i, (nm, g, ver) in enumerate(names):
            a = table + i * ent.size
            self.put(a, "_FX_DUMP_DRIVER_INFO_ENTRY", {"FxDriverGlobals": g, "DriverName": nm.encode("latin-1")})
            self.heap.write(a + ent.offset("Version"), struct.pack("<III", *ver))
        self.put(self.lib_globals, "FxLibraryGlobalsType", {"BugCheckDriverInfoIndex": len(names),
                                                            "BugCheckDriverInfo": table})
        self.bugcheck_info_table = (table, names, cap)

    def _write_allocated_mdls(self):
        am = self.t("FxAllocatedMdls")
        info = self.t("FxMdlDebugInfo")
        emb = self.off("FxDriverGlobalsDebugExtension", "AllocatedMdls")
        for d in self.drivers:
            if d.debug_ext is None:
                continue
            entries = d.allocated_mdls
            # the first block is embedded in the debug extension; the rest come from pool
            blocks = [d.debug_ext + emb]
            nblocks = max(1, (len(entries) + MDLS_PER_BLOCK - 1) // MDLS_PER_BLOCK)
            for _ in range(nblocks - 1):
                a, _h = self.pool(am.size, d.tagv)
                blocks.append(a)
            d.mdl_blocks = []
            for b in range(nblocks):
                chunk = entries[MDLS_PER_BLOCK * b:MDLS_PER_BLOCK * (b + 1)]
                base = blocks[b]
                for i, (mdl, owner, caller) in enumerate(chunk):
                    self.put(base + am.offset("Info") + i * info.size, "FxMdlDebugInfo",
                             {"Mdl": mdl.addr, "Owner": owner.addr if owner is not None else 0, "Caller": caller})
                self.put(base, "FxAllocatedMdls", {"Count": len(chunk),
                                                   "Next": blocks[b + 1] if b + 1 < nblocks else 0})
                d.mdl_blocks.append((base, len(chunk)))
