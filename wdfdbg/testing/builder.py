"""Deterministic synthetic KMDF kernel heaps: snapshots plus ground truth.

:class:`HeapBuilder` lays out a fake kernel address space the way the real
binaries do (``shared/reference/kmdf.md``): nt ``_POOL_HEADER`` ->
``FX_POOL_HEADER`` {self-base, globals} -> optional ``FxObjectDebugExtension``
('FxOD') -> the C++ object at the profile's offsets -> inline extra ->
``FxContextHeader`` at ``object + m_ObjectSize`` -> context bytes. Handles use
the real encoding, child lists really link, the driver globals hang off
``Wdf01000!FxLibraryGlobals``. Scenarios (:mod:`wdfdbg.testing.scenarios`)
drive it; :class:`Built` turns the result into a snapshot document, an
in-memory :class:`~wdfdbg.sources.snapshot.SnapshotBackend` and a ground-truth
dict, all deterministic (no clock, only a seeded ``random.Random``).

Ground truth ("truth", ``fixtures/<name>.truth.json``) is what was placed
where, independent of any decoder. Addresses are hex strings, sizes numbers.

Address conventions (decoders should report problems at these addresses)
------------------------------------------------------------------------
* An *object address* is the FxObject pointer (what the handle encodes), never
  the pool block or the FX_POOL_HEADER.
* A *list entry* is ``object + offset(m_ChildEntry)`` (x64: +0x48); a *list
  head* is ``object + offset(m_ChildListHead)`` (x64: +0x20).
* ``CHILD_LIST_CYCLE``: at the list head whose forward (Flink) walk comes back
  to an entry it already visited.
* ``CHILD_LIST_CORRUPT``: at the entry whose ``Blink`` is not the entry the
  walk came from (the entry holding the bad link). Walkers that check
  ``X.Flink->Blink == X`` instead find it at the previous entry: truth lists
  that address as an alternative in the same group.
* ``PARENT_MISMATCH``: at the child object (in A's list, m_ParentObject = B).
* ``UNREADABLE``: at the first unreadable address the walk needed, i.e. the
  child's list entry (its object address is accepted in the same group).
* ``MDL_CHAIN_CYCLE`` / ``MDL_INCONSISTENT``: at the MDL address (for a cycle,
  the first MDL of the chain as referenced, whose Next walk comes back).
* ``LOOKASIDE_INCONSISTENT``: at the FxLookasideList object.
* ``MEMORY_OUT_OF_BOUNDS``: at the WDF_MEMORY_DESCRIPTOR.
* ``LIKELY_LEAK`` (warning): at the parent holding >= 1000 WDFMEMORY children.
* ``BAD_HANDLE`` for a 0x10D/0x5 P2 that decodes to a freed object: at the
  object it decodes to.

``expected_problems`` entries carry ``group``: a decoder satisfies the truth
when, for every group whose entries are ``required``, it reports at least one
``{code, address}`` of that group (reporting all is fine). ``found_by`` says
which analysis finds it: ``walk`` (driver list -> child lists -> memory,
lookaside and MDL facts of the walked objects, AllocatedMdls), ``triage``
(rules over the walked tree and the bugcheck), ``descriptor`` (decoding the
WDF_MEMORY_DESCRIPTOR at its address).

Other decisions
---------------
* ``in_tree``: reached from a driver's FxDriver by following child lists: the
  forward (Flink) walk, and when it breaks, the backward (Blink) walk from
  the list head (``reachable_by_flink`` tells them apart). Requests presented
  by a queue but not parented (m_ParentObject NULL, m_ChildEntry pointing at
  itself) are *not* in the tree: ``presented_by`` names the queue.
* ``parent`` is the stored m_ParentObject; ``list_parent`` the object whose
  child list holds the object in the walk (they differ for PARENT_MISMATCH).
* Freed lookaside entries are not objects: they are listed under their
  lookaside (``free_entries`` = SLIST entry addresses = the FX_POOL_HEADER
  address of each entry, whose first pointer is the SLIST link;
  ``free_objects`` = the stale FxObject images, state 12 Destroyed, vptr
  ``FxObject::`vftable'``).
* ``memory.pool_tag`` is the tag in the nt ``_POOL_HEADER`` of the pool block
  holding the buffer (the object's own block for inline buffers), ``null``
  when there is none (page-aligned big allocations, image or mapped
  buffers); ``requested_tag`` is the tag the creating call asked for.
* Pool tracking (FxPoolTrackingOn) is always off, so no FX_POOL_TRACKER.
* ``<drv>!WdfDriverGlobals`` is the address of the client's pointer variable;
  the variable holds the address of ``_FX_DRIVER_GLOBALS.Public``.
* User-mode buffers are not in the snapshot (unreadable); the system-VA
  mappings of MDLs (MappedSystemVa) are.
"""

import array
import base64
import bisect
import copy
import random
import struct

from wdfdbg.decoders import types as fxt
from wdfdbg.layouts import IsfSource
from wdfdbg.layouts.model import TypeCompiler
from wdfdbg.layouts.profiles import PROFILE_BY_NAME
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Module, Target

PAGE = 4096
TRUTH_FORMAT = "wdfdbg-truth"
TRUTH_VERSION = 1

# -- per-architecture constants ---------------------------------------------
ARCHES = {
    "x64": {
        "ptr": 8, "maa": 16, "pool_hdr": 16, "pool_unit": 16, "mask": 0xFFFFFFFFFFFFFFF8,
        "nonpaged": 0xffffc08b00000000, "paged": 0xffffd40f00000000, "syspte": 0xffffe58000000000,
        "user": 0x000001f45a230000,
        "nt": (0xfffff80478800000, 0x1046000), "wdf": (0xfffff80479950000, 856064),
        "lib_globals": 0xbc000, "client_base": 0xfffff8048b580000, "client_step": 0x80000,
        "client_size": 241664,
        "irp_stack_count": 0x42, "irp_current_location": 0x43, "type3_input": 0x20, "stack_device": 0x28,
        "profile": "win10-19041-x64", "os_build": 19041,
    },
    "x86": {
        "ptr": 4, "maa": 8, "pool_hdr": 8, "pool_unit": 8, "mask": 0xFFFFFFF8,
        "nonpaged": 0x85000000, "paged": 0x9a000000, "syspte": 0xa4000000, "user": 0x01230000,
        "nt": (0x82800000, 0x6e0000), "wdf": (0x8a200000, 856064),
        "lib_globals": 0xbc000, "client_base": 0x8f400000, "client_step": 0x80000, "client_size": 241664,
        "irp_stack_count": 0x22, "irp_current_location": 0x23, "type3_input": 0x10, "stack_device": 0x14,
        "profile": "win10-x86", "os_build": 19041,
    },
}

# sizeof of classes the profiles do not describe (only FxObject fields are
# written for them). x64: the real dump's m_ObjectSize values (FxDriver 0x170,
# FxDevice 0x2c0, FxWaitLock 0x90, FxSpinLock 0x80, FxWorkItem 0xd0,
# FxUserObject 0x80) and selene's FxIoQueue (0x3a8). x86: guesses.
OTHER_SIZES = {
    "x64": {"FxDriver": 0x170, "FxDevice": 0x2c0, "FxIoQueue": 0x3a8, "FxWorkItem": 0xd0, "FxSpinLock": 0x80,
            "FxWaitLock": 0x90, "FxUserObject": 0x80, "FxSystemWorkItem": 0xa8},
    "x86": {"FxDriver": 0xd8, "FxDevice": 0x1a0, "FxIoQueue": 0x230, "FxWorkItem": 0x78, "FxSpinLock": 0x48,
            "FxWaitLock": 0x50, "FxUserObject": 0x40, "FxSystemWorkItem": 0x60},
}

CLASS_TYPE = {
    "FxDriver": 0x1001, "FxDevice": 0x1002, "FxIoQueue": 0x1003, "FxRequest": 0x1008, "FxWorkItem": 0x1025,
    "FxSpinLock": 0x1024, "FxWaitLock": 0x1023, "FxUserObject": 0x100C, "FxSystemWorkItem": 0x1031,
    "FxNPagedLookasideList": 0x1009, "FxNPagedLookasideListFromPool": 0x1009, "FxPagedLookasideListFromPool": 0x1009,
}
for _c in fxt.MEMORY_CLASSES:
    CLASS_TYPE[_c] = 0x1000  # kmdf.md §5: m_Type is 0x1000 for every memory class

# m_ObjectFlags per class (real values where the triage dump shows them)
CLASS_FLAGS = {
    "FxDriver": 0x81b, "FxDevice": 0x81a, "FxIoQueue": 0x818, "FxRequest": 0x8, "FxWorkItem": 0x819,
    "FxSpinLock": 0x8, "FxWaitLock": 0x8, "FxUserObject": 0x19, "FxSystemWorkItem": 0x811,
}
F_PASSIVE = 0x11     # PASSIVE_CALLBACKS | PASSIVE_DISPOSE (paged memory)
F_COMMITTED = 0x8
F_HAS_DEBUG = 0x80
F_HAS_CLEANUP = 0x400

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
                    "FxRequestSystemBuffer", "FxRequestOutputBuffer", "FxMemoryObject"]
IFX_VTABLE_DELTA = 0x68   # the {for `IFxMemory'} vtable sits this far after the primary one

LOOKASIDE_KINDS = {"npaged": "FxNPagedLookasideList", "npaged-from-pool": "FxNPagedLookasideListFromPool",
                   "paged-from-pool": "FxPagedLookasideListFromPool"}
POOL_TYPES = {0: "NonPagedPool", 1: "PagedPool", 512: "NonPagedPoolNx"}
NONPAGED_NX = 512
PAGED_POOL = 1

MDL_FLAG_NAMES = [(0x1, "MAPPED_TO_SYSTEM_VA"), (0x2, "PAGES_LOCKED"), (0x4, "SOURCE_IS_NONPAGED_POOL"),
                  (0x8, "ALLOCATED_FIXED_SIZE"), (0x10, "PARTIAL"), (0x20, "PARTIAL_HAS_BEEN_MAPPED"),
                  (0x40, "IO_PAGE_READ"), (0x80, "WRITE_OPERATION"), (0x100, "LOCKED_PAGE_TABLES"),
                  (0x200, "FREE_EXTRA_PTES"), (0x400, "DESCRIBES_AWE"), (0x800, "IO_SPACE"),
                  (0x1000, "NETWORK_HEADER"), (0x2000, "MAPPING_CAN_FAIL"), (0x4000, "PAGE_CONTENTS_INVARIANT"),
                  (0x8000, "INTERNAL")]
IRP_MJ_READ = 3
IRP_MJ_DEVICE_CONTROL = 0xE
LEAK_CHILDREN = 1000


def align(v, a):
    return (v + a - 1) & ~(a - 1)


def hx(v):
    return None if v is None else "0x%x" % v


def tag_value(tag):
    """'AmdP' -> the little-endian ULONG whose bytes in memory read 'AmdP'."""
    return int.from_bytes(tag.encode("latin-1")[:4].ljust(4, b" "), "little")


def tag_text(value):
    return value.to_bytes(4, "little").decode("latin-1")


def pattern(text, n):
    """``n`` recognisable bytes: ``text`` repeated (ASCII)."""
    unit = text.encode("ascii")
    if not unit:
        return bytes(n)
    return (unit * (n // len(unit) + 1))[:n]


def spanned_pages(va, length):
    """ADDRESS_AND_SIZE_TO_SPAN_PAGES."""
    return ((va & (PAGE - 1)) + length + PAGE - 1) >> 12


def mdl_flag_names(flags):
    return [n for bit, n in MDL_FLAG_NAMES if flags & bit]


# -- address space ------------------------------------------------------------
class Region(object):
    """One growing bytearray of readable memory starting at ``base``."""

    __slots__ = ("name", "base", "buf", "used", "last_block")

    def __init__(self, name, base):
        self.name = name
        self.base = base
        self.buf = bytearray()
        self.used = 0
        self.last_block = None

    @property
    def cursor(self):
        return self.base + self.used

    def take(self, start, size):
        """Claim ``[start, start+size)`` (start at or past the cursor)."""
        need = start + size - self.base
        if need > len(self.buf):
            grow = max(need - len(self.buf), min(max(len(self.buf), 1 << 16), 64 << 20))
            self.buf += bytes(grow)
        if need > self.used:
            self.used = need
        return start

    def page_break(self):
        self.used = align(self.used, PAGE)

    def trim(self):
        end = align(self.used, PAGE)
        if len(self.buf) < end:
            self.buf += bytes(end - len(self.buf))
        elif len(self.buf) > end:
            del self.buf[end:]


class Heap(object):
    """The synthetic address space: regions plus holes (removed pages)."""

    def __init__(self):
        self.regions = []
        self._bases = []
        self.holes = []
        self._last = None

    def add(self, region):
        i = bisect.bisect_left(self._bases, region.base)
        self.regions.insert(i, region)
        self._bases.insert(i, region.base)
        return region

    def region(self, addr):
        r = self._last
        if r is not None and r.base <= addr < r.base + len(r.buf):
            return r
        i = bisect.bisect_right(self._bases, addr) - 1
        if i >= 0:
            r = self.regions[i]
            if addr < r.base + len(r.buf):
                self._last = r
                return r
        raise ValueError("builder: 0x%x is outside every region" % addr)

    def write(self, addr, data):
        r = self.region(addr)
        off = addr - r.base
        r.buf[off:off + len(data)] = data

    def pack(self, addr, st, *values):
        r = self.region(addr)
        st.pack_into(r.buf, addr - r.base, *values)

    def put(self, addr, size, value):
        self.write(addr, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def in_hole(self, addr, size=1):
        for a, n in self.holes:
            if addr < a + n and a < addr + size:
                return True
        return False

    def readable(self, addr, size=1):
        try:
            r = self.region(addr)
        except ValueError:
            return False
        if addr + size > r.base + len(r.buf):
            return False
        return not self.in_hole(addr, size)

    def read(self, addr, size):
        r = self.region(addr)
        off = addr - r.base
        return bytes(r.buf[off:off + size])

    def uint(self, addr, size):
        return int.from_bytes(self.read(addr, size), "little")

    def ranges(self):
        """Readable (address, memoryview) ranges, holes cut out, sorted."""
        out = []
        for r in self.regions:
            if not r.buf:
                continue
            mv = memoryview(r.buf).toreadonly()
            start = r.base
            end = r.base + len(r.buf)
            cuts = sorted((a, a + n) for a, n in self.holes if a < end and a + n > start)
            pos = start
            for a, b in cuts:
                if a > pos:
                    out.append((pos, mv[pos - r.base:a - r.base]))
                pos = max(pos, b)
            if pos < end:
                out.append((pos, mv[pos - r.base:end - r.base]))
        return out


# -- the model ------------------------------------------------------------------
class CtxType(object):
    """A WDF_OBJECT_CONTEXT_TYPE_INFO in a client image."""

    __slots__ = ("address", "name", "size", "name_address")

    def __init__(self, address, name, size, name_address):
        self.address = address
        self.name = name
        self.size = size
        self.name_address = name_address


class Obj(object):
    """One framework object as placed (``info`` holds class specifics)."""

    __slots__ = ("addr", "cls", "fx_type", "osize", "refcnt", "flags", "state", "parent", "children", "driver",
                 "dbg", "fxhdr", "poolhdr", "pool_tag", "pool_kind", "ctx", "info", "device_base", "label",
                 "alive", "parent_value")

    def __init__(self):
        self.children = None
        self.info = None
        self.alive = True
        self.parent_value = None
        self.label = None


class Segment(object):
    """Many bulk objects, consecutive in one parent's child list, written
    without a Python object each (kinds: indices into ``specs``)."""

    __slots__ = ("parent", "driver", "specs", "addrs", "kinds", "lens", "aux", "prev_entry")

    def __init__(self, parent, driver, specs):
        self.parent = parent
        self.driver = driver
        self.specs = specs
        self.addrs = array.array("Q")
        self.kinds = bytearray()
        self.lens = array.array("L")
        self.aux = array.array("Q")
        self.prev_entry = None

    def __len__(self):
        return len(self.addrs)


class Driver(object):
    __slots__ = ("name", "tag", "tagv", "globals", "public", "image_base", "image_size", "image", "verifier",
                 "object_debug", "fxdriver", "ctx_types", "allocated_mdls", "debug_ext", "version", "var",
                 "bind_info", "mdl_blocks", "index")


class Mdl(object):
    __slots__ = ("addr", "next", "size", "flags", "byte_count", "byte_offset", "start_va", "mapped", "process",
                 "pfns", "owner", "tracked", "problems", "label", "pool_tag", "referenced_by")


class GeneralLookaside(object):
    """A kernel _GENERAL_LOOKASIDE simulated on the side."""

    __slots__ = ("addr", "type", "tag", "size", "depth", "max_depth", "slist", "total_allocates",
                 "allocate_misses", "total_frees", "free_misses", "sequence", "freed_to_pool", "paged")

    def __init__(self, addr, pool_type, tag, size, depth, max_depth, paged=False):
        self.addr = addr
        self.type = pool_type
        self.tag = tag
        self.size = size
        self.depth = depth
        self.max_depth = max_depth
        self.slist = []          # stack of entry addresses, top last
        self.total_allocates = 0
        self.allocate_misses = 0
        self.total_frees = 0
        self.free_misses = 0
        self.sequence = 0
        self.freed_to_pool = []
        self.paged = paged


class StructWriter(object):
    """Packs a fixed list of flattened fields of one layout in one call."""

    def __init__(self, layout, names):
        items = []
        for n in names:
            f = layout.field(n)
            if f.kind == "array":
                raise ValueError("StructWriter: %s is an array" % n)
            signed = f.signed and f.kind in ("int", "char", "enum")
            code = {1: "B", 2: "H", 4: "I", 8: "Q"}[f.size]
            if signed:
                code = code.lower()
            items.append((f.offset, f.size, code, n))
        order = [i for i, _ in sorted(enumerate(items), key=lambda t: t[1][0])]
        if order != list(range(len(items))):
            raise ValueError("StructWriter: fields must be listed by offset (%s)" % layout.name)
        fmt = ["<"]
        self.base = items[0][0]
        pos = self.base
        for off, size, code, n in items:
            if off < pos:
                raise ValueError("StructWriter: overlapping fields in %s" % layout.name)
            if off > pos:
                fmt.append("%dx" % (off - pos))
            fmt.append(code)
            pos = off + size
        self.st = struct.Struct("".join(fmt))

    def pack(self, heap, addr, *values):
        """Write the fields of the struct at ``addr`` (padding between
        fields is zeroed; nothing before the first field is touched)."""
        heap.pack(addr + self.base, self.st, *values)


# -- the builder ---------------------------------------------------------------
class HeapBuilder(object):
    """Lays out drivers, objects, memory, lookasides, requests and MDLs.

    ``arch``: "x64" (default) or "x86" (unverified layouts); ``profile``: a
    built-in profile name (default per arch); ``seed`` seeds the only RNG
    (PFNs)."""

    def __init__(self, scenario="custom", arch="x64", profile=None, seed=0x5EED, os_build=None,
                 kmdf_version="1.31", description=None, params=None):
        if arch not in ARCHES:
            raise ValueError("arch must be one of %s" % ", ".join(sorted(ARCHES)))
        self.A = A = ARCHES[arch]
        self.arch = arch
        self.scenario = scenario
        self.params = dict(params or {})
        self.profile = PROFILE_BY_NAME[profile or A["profile"]]
        if self.profile.pointer_size != A["ptr"]:
            raise ValueError("profile %s does not match arch %s" % (self.profile.name, arch))
        self.os_build = os_build if os_build is not None else A["os_build"]
        self.kmdf_version = kmdf_version
        self.description = description
        self.rng = random.Random(seed)
        self.ptr = A["ptr"]
        self.maa = A["maa"]
        self.mask = A["mask"]
        self.pfmt = "Q" if self.ptr == 8 else "I"
        docs = self.profile.documents()
        self._wdf = TypeCompiler(IsfSource(docs["Wdf01000"]), self.ptr, self.profile.label())
        self._nt = TypeCompiler(IsfSource(docs["nt"]), self.ptr, self.profile.label())
        self._layouts = {}
        L = self.t
        self.POOL_HDR = A["pool_hdr"]
        self.FXHDR = L("FX_POOL_HEADER").offset("AllocationStart")
        self.DBG = L("FxObjectDebugExtension").offset("AllocationStart")
        self.CTXHDR = L("FxContextHeader").offset("Context")
        self.MDL_HDR = L("_MDL").size
        obj = L("FxObject")
        self.off_head = obj.offset("m_ChildListHead")
        self.off_entry = obj.offset("m_ChildEntry")
        self.off_parent = obj.offset("m_ParentObject")
        self._objw = StructWriter(obj, ["__vfptr", "m_Type", "m_ObjectSize", "m_Refcnt", "m_Globals", "m_ObjectFlags",
                                        "m_ObjectState", "m_ChildListHead.Flink", "m_ChildListHead.Blink",
                                        "m_ParentObject", "m_ChildEntry.Flink", "m_ChildEntry.Blink",
                                        "m_DeviceBase"])
        self._linkw = struct.Struct("<" + self.pfmt * 2)
        self._ptrw = struct.Struct("<" + self.pfmt)
        self._fxhw = struct.Struct("<" + self.pfmt * 2)
        self._ctxw = StructWriter(L("FxContextHeader"), ["Object", "NextHeader", "EvtCleanupCallback",
                                                         "EvtDestroyCallback", "ContextTypeInfo"])
        mem = L("FxMemoryObject")
        self._memw = StructWriter(mem, ["__vfptr_IFxMemory", "m_BufferSize"])
        self.off_ifx = mem.offset("__vfptr_IFxMemory")
        self._pool_x64 = struct.Struct("<BBBBIQ")
        # address space
        self.heap = Heap()
        self.nonpaged = self.heap.add(Region("nonpaged", A["nonpaged"]))
        self.paged = self.heap.add(Region("paged", A["paged"]))
        self.syspte = self.heap.add(Region("syspte", A["syspte"]))
        nt_base, nt_size = A["nt"]
        wdf_base, wdf_size = A["wdf"]
        self.modules = [Module("nt", nt_base, nt_size), Module("Wdf01000", wdf_base, wdf_size)]
        self.nt_data = self.heap.add(Region("nt-data", nt_base + 0xC00000))
        self.wdf_data = self.heap.add(Region("wdf-data", wdf_base + A["lib_globals"]))
        self.symbols = {}
        self.lib_globals = self.wdf_data.take(self.wdf_data.cursor, L("FxLibraryGlobalsType").size)
        self.symbols["Wdf01000!FxLibraryGlobals"] = self.lib_globals
        self.lookaside_heads = {}
        for name in ("ExNPagedLookasideListHead", "ExPagedLookasideListHead"):
            a = self.nt_data.take(align(self.nt_data.cursor, 16), 2 * self.ptr)
            self.symbols["nt!" + name] = a
            self.lookaside_heads[name] = [a, []]
        self.vtables = {}
        self.drivers = []
        self.objects = []      # every Obj ever created (dead ones keep alive=False)
        self.segments = []
        self.lookasides = []   # Obj of lookaside classes
        self.mdls = []
        self.descriptors = []
        self.requests = []
        self.expected = []
        self.bugcheck = None
        self.bugcheck_info = None
        self.notes = []
        self._pfns = {}
        self._eprocess = None
        self._device_object = None
        self.finalized = False
        self.bugcheck_info_table = None

    # -- layouts -------------------------------------------------------------
    def t(self, name):
        lay = self._layouts.get(name)
        if lay is None:
            lay = self._wdf.compile(name) or self._nt.compile(name)
            if lay is None:
                raise KeyError("no layout for %s in profile %s" % (name, self.profile.name))
            self._layouts[name] = lay
        return lay

    def off(self, tname, field):
        return self.t(tname).offset(field)

    def put(self, addr, tname, values):
        """Write fields (flattened names) of ``tname`` at ``addr``."""
        lay = self.t(tname)
        for name, value in values.items():
            f = lay.field(name)
            if isinstance(value, (bytes, bytearray)):
                data = bytes(value)[:f.size].ljust(f.size, b"\0")
                self.heap.write(addr + f.offset, data)
            else:
                self.heap.put(addr + f.offset, f.size, int(value))

    def wptr(self, addr, value):
        self.heap.pack(addr, self._ptrw, value)

    def rptr(self, addr):
        return self.heap.uint(addr, self.ptr)

    def handle(self, addr):
        return addr ^ self.mask

    def class_size(self, cls):
        try:
            return self.t(cls).size
        except KeyError:
            return OTHER_SIZES[self.arch][cls]

    def vtable(self, cls, iface=False):
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

    # -- pool ----------------------------------------------------------------
    def _pool_header(self, region, hdr, total, tag, paged):
        unit = self.A["pool_unit"]
        lb = region.last_block
        prev = (hdr - lb) // unit if lb is not None and lb // PAGE == hdr // PAGE and hdr > lb else 0
        ptype = 3 if paged else 2
        if self.ptr == 8:
            self.heap.pack(hdr, self._pool_x64, prev & 0xff, 0, (total // unit) & 0xff, ptype, tag, 0)
        else:
            ulong1 = (prev & 0x1ff) | (((total // unit) & 0x1ff) << 16) | (ptype << 25)
            self.heap.write(hdr, struct.pack("<II", ulong1, tag))
        region.last_block = hdr

    def pool(self, size, tag, paged=False, alone=False):
        """A pool block of ``size`` bytes tagged ``tag`` (a 4-char string or
        its ULONG). Returns (data address, nt header address or None): blocks
        that do not fit a page are page-aligned big allocations with no
        header; small blocks never straddle a page. ``alone``: the block
        gets a page to itself."""
        r = self.paged if paged else self.nonpaged
        tagv = tag_value(tag) if isinstance(tag, str) else tag
        hdr_size = self.POOL_HDR
        total = align(size + hdr_size, self.A["pool_unit"])
        if total > PAGE:
            start = r.take(align(r.cursor, PAGE), align(size, PAGE))
            r.last_block = None
            return start, None
        cur = r.cursor
        if alone:
            cur = align(cur, PAGE)
        elif (cur % PAGE) + total > PAGE:
            cur = align(cur, PAGE)
        r.take(cur, total)
        self._pool_header(r, cur, total, tagv, paged)
        if alone:
            r.page_break()
        return cur + hdr_size, cur

    def pool_big(self, size, paged=False):
        r = self.paged if paged else self.nonpaged
        start = r.take(align(r.cursor, PAGE), align(size, PAGE))
        r.last_block = None
        return start

    def image_alloc(self, drv, size, al=16):
        return drv.image.take(align(drv.image.cursor, al), size)

    def pfn(self, va):
        page = va & ~(PAGE - 1)
        v = self._pfns.get(page)
        if v is None:
            v = self.rng.randrange(0x10000, 0x7ffff)
            self._pfns[page] = v
        return v

    def eprocess(self):
        if self._eprocess is None:
            a, _ = self.pool(0x80, "Proc")
            self._eprocess = a
        return self._eprocess

    def device_object(self):
        if self._device_object is None:
            a, _ = self.pool(0x150, "Devi")
            self.heap.write(a, struct.pack("<hH", 3, 0x150))
            self._device_object = a
        return self._device_object

    # -- drivers ---------------------------------------------------------------
    def add_driver(self, name, tag, verifier=False, object_debug=False, version=(1, 15, 0), image_base=None,
                   image_size=None):
        A = self.A
        d = Driver()
        d.index = len(self.drivers)
        d.name = name
        d.tag = tag
        d.tagv = tag_value(tag)
        d.verifier = verifier
        d.object_debug = object_debug
        d.version = version
        d.image_base = image_base or (A["client_base"] + A["client_step"] * d.index)
        d.image_size = image_size or A["client_size"]
        self.modules.append(Module(name, d.image_base, d.image_size))
        d.image = self.heap.add(Region("image:" + name, d.image_base + 0x8000))
        d.ctx_types = {}
        d.allocated_mdls = []
        d.mdl_blocks = []
        gl = self.t("_FX_DRIVER_GLOBALS")
        d.globals, _ = self.pool(gl.size, "FxDr")
        d.public = d.globals + gl.offset("Public")
        d.debug_ext = None
        if verifier:
            d.debug_ext, _ = self.pool(self.t("FxDriverGlobalsDebugExtension").size, tag)
        d.var = self.image_alloc(d, self.ptr, self.ptr)
        self.wptr(d.var, d.public)
        self.symbols["%s!WdfDriverGlobals" % name] = d.var
        d.bind_info = self.image_alloc(d, 0x20)
        self.drivers.append(d)
        d.fxdriver = None
        d.fxdriver = self.new_object("FxDriver", None, driver=d)
        values = {"WdfHandleMask": self.mask, "Tag": d.tagv, "Driver": d.fxdriver.addr,
                  "DebugExtension": d.debug_ext or 0, "LibraryGlobals": self.lib_globals, "FxPoolTrackingOn": 0,
                  "FxVerifierOn": 1 if verifier else 0, "WdfBindInfo": d.bind_info, "ImageAddress": d.image_base,
                  "ImageSize": d.image_size, "Public.Driver": self.handle(d.fxdriver.addr), "Public.DriverFlags": 0,
                  "Public.DriverTag": d.tagv, "Public.DriverName": name.encode("latin-1")}
        self.put(d.globals, "_FX_DRIVER_GLOBALS", values)
        return d

    def ctx_type(self, drv, name, size):
        ct = drv.ctx_types.get(name)
        if ct is None:
            info = self.t("_WDF_OBJECT_CONTEXT_TYPE_INFO")
            addr = self.image_alloc(drv, info.size, self.ptr)
            name_addr = self.image_alloc(drv, len(name) + 1, 8)
            self.heap.write(name_addr, name.encode("ascii") + b"\0")
            self.put(addr, "_WDF_OBJECT_CONTEXT_TYPE_INFO", {"Size": info.size, "ContextName": name_addr,
                                                              "ContextSize": size, "UniqueType": addr,
                                                              "EvtDriverGetUniqueContextType": 0})
            ct = CtxType(addr, name, size, name_addr)
            drv.ctx_types[name] = ct
        return ct

    def code_address(self, drv, n):
        """A plausible address in the client's code section."""
        return drv.image_base + 0x1000 + 0x40 * n

    # -- objects ---------------------------------------------------------------
    def _object_span(self, cls, drv, extra, ctx, internal):
        body = align(self.class_size(cls), self.maa)
        osize = 0 if internal else body + align(extra, self.maa)
        span = osize if osize else body
        dbg = self.DBG if drv.object_debug else 0
        ctxb = 0
        ctxh = 0
        if osize:
            ctxh = self.CTXHDR
            if ctx is not None:
                ctxb = align(ctx.size, self.ptr)
        return osize, dbg, dbg + span + ctxh + ctxb

    def new_object(self, cls, parent, driver=None, extra=0, ctx=None, flags=None, refcnt=1, internal=False,
                   tag=None, fx_type=None, label=None, cleanup=None, state=1, link=True):
        """Allocate and lay out one framework object; append it to
        ``parent``'s child list (``link=False``: parented but not listed is
        not allowed; pass parent=None for unparented objects)."""
        drv = driver or parent.driver
        osize, dbg, size = self._object_span(cls, drv, extra, ctx, internal)
        tagv = tag_value(tag) if tag else drv.tagv
        o = Obj()
        o.cls = cls
        o.driver = drv
        o.fx_type = fx_type if fx_type is not None else CLASS_TYPE[cls]
        o.osize = osize
        o.refcnt = refcnt
        f = CLASS_FLAGS.get(cls, F_COMMITTED) if flags is None else flags
        if cleanup:
            f |= F_HAS_CLEANUP
        if dbg:
            f |= F_HAS_DEBUG
        o.flags = f
        o.state = state
        o.parent = parent
        o.label = label
        o.ctx = None
        if size + self.FXHDR >= PAGE:
            base = self.pool_big(size)
            o.fxhdr = None
            o.poolhdr = None
            o.pool_tag = None
            o.pool_kind = None
            o.addr = base + dbg
        else:
            data, hdr = self.pool(size + self.FXHDR, tagv)
            o.fxhdr = data
            o.poolhdr = hdr
            o.pool_tag = tagv
            o.pool_kind = "nonpaged"
            o.addr = data + self.FXHDR + dbg
            self.heap.pack(data, self._fxhw, data, drv.globals)
        o.dbg = o.addr - dbg if dbg else None
        if dbg:
            self._write_debug_ext(o.dbg)
        o.device_base = parent.device_base if parent is not None else None
        if cls == "FxDevice":
            o.device_base = o.addr
        self._write_header(o)
        if osize:
            self._write_ctx(o, ctx, cleanup)
        self.objects.append(o)
        if parent is not None and link:
            if parent.children is None:
                parent.children = []
            parent.children.append(o)
        return o

    def _write_debug_ext(self, addr):
        lay = self.t("FxObjectDebugExtension")
        self.heap.put(addr + lay.offset("Signature"), 4, 0x444F7846)

    def _write_header(self, o, vptr=None):
        head = o.addr + self.off_head
        entry = o.addr + self.off_entry
        self._objw.pack(self.heap, o.addr, self.vtable(o.cls) if vptr is None else vptr, o.fx_type, o.osize,
                       o.refcnt, o.driver.globals, o.flags, o.state, head, head,
                       o.parent.addr if o.parent is not None else 0, entry, entry, o.device_base or 0)

    def _write_ctx(self, o, ctx, cleanup):
        hdr = o.addr + o.osize
        self._ctxw.pack(self.heap, hdr, o.addr, 0, cleanup or 0, 0, ctx.address if ctx is not None else 0)
        data = hdr + self.CTXHDR
        if ctx is not None:
            self.heap.write(data, pattern(ctx.name[:12] + "#", ctx.size))
        o.ctx = (hdr, ctx, cleanup or 0)

    # convenience constructors
    def device(self, drv, ctx=None):
        return self.new_object("FxDevice", drv.fxdriver, ctx=ctx)

    def queue(self, device, ctx=None):
        return self.new_object("FxIoQueue", device, ctx=ctx)

    def user_object(self, parent, ctx=None, cleanup=None, label=None, refcnt=1):
        return self.new_object("FxUserObject", parent, ctx=ctx, cleanup=cleanup, label=label, refcnt=refcnt)

    # -- memory ----------------------------------------------------------------
    def _set_memory(self, o, buffer, length, origin, pool_tag, requested_tag, lookaside=None, mdl=None,
                    read_only=False, buffer_kind=None):
        o.info = {"kind": "memory", "buffer": buffer, "length": length, "origin": origin, "pool_tag": pool_tag,
                  "requested_tag": requested_tag, "lookaside": lookaside, "mdl": mdl, "read_only": read_only}
        self._memw.pack(self.heap, o.addr, self.vtable(o.cls, iface=True), length)

    def _fill(self, addr, length, text):
        if length:
            self.heap.write(addr, pattern(text, length))

    def memory_buffer(self, parent, length, tag, ctx=None, label=None, text=None):
        """WdfMemoryCreate below PAGE_SIZE, nonpaged: FxMemoryBuffer with the
        buffer inline at object + sizeof (aligned)."""
        o = self.new_object("FxMemoryBuffer", parent, extra=length, ctx=ctx, tag=tag, label=label)
        buf = o.addr + align(self.class_size("FxMemoryBuffer"), self.maa)
        self._fill(buf, length, text or ("%s inline " % (label or "WDFMEMORY")))
        self._set_memory(o, buf, length, "inline", o.pool_tag, tag_value(tag))
        return o

    def memory_create(self, parent, length, tag, paged=False, ctx=None, label=None, text=None):
        """WdfMemoryCreate: picks the class as the framework does (kmdf.md §5)."""
        if length < PAGE and not paged:
            return self.memory_buffer(parent, length, tag, ctx=ctx, label=label, text=text)
        dev = self._device_ancestor(parent)
        cls = "FxMemoryPagedBufferFromPool" if (paged and dev is not None) else "FxMemoryBufferFromPool"
        flags = F_COMMITTED | (F_PASSIVE if paged else 0)
        o = self.new_object(cls, parent, ctx=ctx, flags=flags, label=label)
        buf, hdr = self.pool(length, tag, paged=paged)
        self._fill(buf, length, text or ("%s pool " % (label or "WDFMEMORY")))
        self.wptr(o.addr + self.off(cls, "m_Pool"), buf)
        self._set_memory(o, buf, length, "pool", tag_value(tag) if hdr is not None else None, tag_value(tag))
        o.info["buffer_pool_header"] = hdr
        o.info["buffer_paged"] = paged
        return o

    def memory_preallocated(self, parent, buffer, length, label=None, ctx=None):
        o = self.new_object("FxMemoryBufferPreallocated", parent, ctx=ctx, label=label)
        self.wptr(o.addr + self.off("FxMemoryBufferPreallocated", "m_pBuffer"), buffer)
        self._set_memory(o, buffer, length, "preallocated", None, None)
        return o

    def _device_ancestor(self, o):
        while o is not None:
            if o.cls == "FxDevice":
                return o
            o = o.parent
        return None

    # -- lookasides --------------------------------------------------------------
    def lookaside(self, parent, kind, buffer_size, tag, mem_parent=None, mem_ctx=None, depth=4, max_depth=256,
                  label=None):
        """WdfLookasideListCreate: one of the three kinds (kmdf.md §6)."""
        cls = LOOKASIDE_KINDS[kind]
        drv = parent.driver
        o = self.new_object(cls, parent, label=label)
        tagv = tag_value(tag)
        mem_parent = mem_parent or drv.fxdriver
        explicit_parent = mem_parent is not drv.fxdriver
        dev = self._device_ancestor(mem_parent)
        # entry sizes (FxCalculateObjectTotalSize + FX_POOL_HEADER)
        if kind == "npaged":
            mcls = "FxMemoryBufferFromLookaside"
            extra = buffer_size
        else:
            mcls = "FxMemoryBufferFromPoolLookaside"
            if kind == "paged-from-pool" and dev is not None:
                mcls = "FxMemoryPagedBufferFromPoolLookaside"
            extra = 0
        osize, dbg, span = self._object_span(mcls, drv, extra, mem_ctx, False)
        mos = span + self.FXHDR
        la = {"kind": kind, "buffer_size": buffer_size, "memory_object_size": mos, "pool_tag": tagv,
              "memory_class": mcls, "memory_parent": mem_parent, "memory_ctx": mem_ctx, "live": [],
              "pool_type": PAGED_POOL if kind == "paged-from-pool" else NONPAGED_NX}
        lay = self.t(cls)
        vals = {"m_BufferSize": buffer_size, "m_MemoryObjectSize": mos, "m_PoolTag": tagv}
        obj_list_field = "m_ObjectLookaside"
        la["object_list"] = GeneralLookaside(o.addr + lay.offset(obj_list_field), NONPAGED_NX, tagv, mos, depth,
                                             max_depth)
        la["pool_list"] = None
        if kind == "npaged-from-pool":
            la["pool_list"] = GeneralLookaside(o.addr + lay.offset("m_PoolLookaside"), NONPAGED_NX, tagv,
                                               buffer_size, depth, max_depth)
        elif kind == "paged-from-pool":
            raw = buffer_size if buffer_size >= PAGE else buffer_size + self.FXHDR
            vals["m_RawBufferSize"] = raw
            vals["m_MemoryDeviceBase"] = dev.addr if dev is not None else 0
            la["pool_list"] = GeneralLookaside(o.addr + lay.offset("m_PoolLookaside"), PAGED_POOL, tagv, raw,
                                               depth, max_depth, paged=True)
            la["raw_buffer_size"] = raw
            la["memory_device_base"] = dev.addr if dev is not None else None
        self.put(o.addr, cls, vals)
        # m_MemoryAttributes: WDF_OBJECT_ATTRIBUTES {Size, EvtCleanup, EvtDestroy, ExecutionLevel,
        # SynchronizationScope, ParentObject, ContextSizeOverride, ContextTypeInfo}
        p = self.ptr
        attrs = o.addr + lay.offset("m_MemoryAttributes")
        a_size = lay.field("m_MemoryAttributes").size
        self.heap.put(attrs, 4, a_size)
        self.heap.put(attrs + 3 * p, 4, 1)
        self.heap.put(attrs + 3 * p + 4, 4, 1)
        self.heap.put(attrs + 3 * p + 8, p, self.handle(mem_parent.addr) if explicit_parent else 0)
        self.heap.put(attrs + 5 * p + 8, p, mem_ctx.address if mem_ctx is not None else 0)
        la["attributes"] = attrs
        la["attributes_parent"] = self.handle(mem_parent.addr) if explicit_parent else None
        o.info = {"kind": "lookaside", "la": la}
        self.lookasides.append(o)
        for gl in (la["object_list"], la["pool_list"]):
            if gl is not None:
                head = "ExPagedLookasideListHead" if gl.paged else "ExNPagedLookasideListHead"
                self.lookaside_heads[head][1].append(gl.addr)
        return o

    def _gl_allocate(self, gl, fresh):
        """Pop an entry or miss: returns (entry, reused)."""
        gl.total_allocates += 1
        if gl.slist:
            return gl.slist.pop(), True
        gl.allocate_misses += 1
        return fresh(), False

    def _gl_free(self, gl, entry):
        gl.total_frees += 1
        if len(gl.slist) < gl.depth:
            nxt = gl.slist[-1] if gl.slist else 0
            self.wptr(entry, nxt)
            gl.slist.append(entry)
            gl.sequence += 1
            return True
        gl.free_misses += 1
        gl.freed_to_pool.append(entry)
        return False

    def lookaside_allocate(self, lo, label=None, text=None):
        """WdfMemoryCreateFromLookaside."""
        la = lo.info["la"]
        drv = lo.driver
        mcls = la["memory_class"]
        parent = la["memory_parent"]
        gl = la["object_list"]
        tagv = la["pool_tag"]
        mos = la["memory_object_size"]

        def fresh_entry():
            data, hdr = self.pool(mos, tagv)
            return data

        entry, reused = self._gl_allocate(gl, fresh_entry)
        self.heap.write(entry, bytes(mos))  # InitObjectAlloc zeroes the entry
        self.heap.pack(entry, self._fxhw, entry, drv.globals)
        o = Obj()
        o.cls = mcls
        o.driver = drv
        o.fx_type = CLASS_TYPE[mcls]
        ctx = la["memory_ctx"]
        extra = la["buffer_size"] if la["kind"] == "npaged" else 0
        o.osize, dbg, _ = self._object_span(mcls, drv, extra, ctx, False)
        o.refcnt = 1
        o.flags = F_COMMITTED | (F_HAS_DEBUG if dbg else 0) | (F_PASSIVE if la["kind"] == "paged-from-pool" else 0)
        o.state = 1
        o.parent = parent
        o.fxhdr = entry
        o.poolhdr = entry - self.POOL_HDR
        o.pool_tag = tagv
        o.pool_kind = "nonpaged"
        o.addr = entry + self.FXHDR + dbg
        o.dbg = o.addr - dbg if dbg else None
        o.label = label
        o.ctx = None
        if dbg:
            self._write_debug_ext(o.dbg)
        o.device_base = parent.device_base
        if mcls == "FxMemoryPagedBufferFromPoolLookaside":
            o.device_base = la.get("memory_device_base")
        self._write_header(o)
        self._write_ctx(o, ctx, None)
        self.wptr(o.addr + self.off(mcls, "m_pLookaside"), lo.addr)
        length = la["buffer_size"]
        if la["kind"] == "npaged":
            buf = o.addr + align(self.class_size(mcls), self.maa)
            self._fill(buf, length, text or ("%s lookaside " % (label or "LA")))
            self._set_memory(o, buf, length, "lookaside", tagv, tagv, lookaside=lo.addr)
        else:
            pl = la["pool_list"]
            if la["kind"] == "npaged-from-pool":
                pentry, _ = self._gl_allocate(pl, lambda: self.pool_big(length))
                buf = pentry
                ptag = None
            else:
                def fresh_paged():
                    d, h = self.pool(pl.size, tagv, paged=True)
                    return d
                pentry, _ = self._gl_allocate(pl, fresh_paged)
                self.heap.pack(pentry, self._fxhw, pentry, drv.globals)
                buf = pentry + self.FXHDR
                ptag = tagv
            self._fill(buf, length, text or ("%s pool-lookaside " % (label or "LA")))
            self.wptr(o.addr + self.off(mcls, "m_Pool"), buf)
            self._set_memory(o, buf, length, "pool-lookaside", ptag, tagv, lookaside=lo.addr)
            o.info["pool_entry"] = pentry
        o.info["entry"] = entry
        o.info["reused"] = reused
        self.objects.append(o)
        if parent.children is None:
            parent.children = []
        parent.children.append(o)
        la["live"].append(o)
        return o

    def lookaside_free(self, lo, o):
        """WdfObjectDelete on memory from a lookaside: destroy and reclaim."""
        la = lo.info["la"]
        la["live"].remove(o)
        o.parent.children.remove(o)
        o.alive = False
        o.state = 12
        o.refcnt = 0
        head = o.parent.addr + self.off_head
        # the stale image: destructors ran (vptr at the base class), state Destroyed
        self._objw.pack(self.heap, o.addr, self.vtable("FxObject"), o.fx_type, o.osize, 0, o.driver.globals,
                       o.flags, 12, o.addr + self.off_head, o.addr + self.off_head, o.parent.addr, head, head,
                       o.device_base or 0)
        if la["pool_list"] is not None:
            self._gl_free(la["pool_list"], o.info["pool_entry"])
        self._gl_free(la["object_list"], o.info["entry"])

    # -- requests ----------------------------------------------------------------
    def request(self, queue, kind, parented=True, ctx=None, input_length=0, output_length=0, ioctl=None,
                read_length=0, irp_refs=0, label=None, user_va=None, text=None):
        """An FxRequest with its IRP. ``kind``: "ioctl-buffered",
        "ioctl-neither" or "read-direct". ``parented``: in the queue's
        child list (else m_ParentObject NULL, presented by the queue)."""
        R = self.new_object("FxRequest", queue if parented else None, driver=queue.driver, ctx=ctx, label=label)
        irp_l = self.t("_IRP")
        stk = self.t("_IO_STACK_LOCATION")
        irp, _ = self.pool(irp_l.size + stk.size, "Irp ")
        cur = irp + irp_l.size
        self.heap.write(irp, struct.pack("<hH", 6, irp_l.size + stk.size))
        self.heap.put(irp + self.A["irp_stack_count"], 1, 1)
        self.heap.put(irp + self.A["irp_current_location"], 1, 1)
        self.put(irp, "_IRP", {"CurrentStackLocation": cur})
        self.heap.put(cur + self.A["stack_device"], self.ptr, self.device_object())
        user_va = user_va if user_va is not None else self.A["user"] + 0x1000 * (len(self.requests) * 4 + 1) + 0x200
        info = {"kind": "request", "irp": irp, "stack": cur, "request_kind": kind, "queue": queue.addr,
                "parented": parented, "user_buffer": None, "system_buffer": None, "mdl": None,
                "input": None, "output": None, "irp_refs": irp_refs}
        sb_buf = 0
        ob_buf = 0
        if kind == "ioctl-buffered":
            code = ioctl if ioctl is not None else 0x222000
            sysbuf, _ = self.pool(max(input_length, output_length, 1), "IoSB")
            self._fill(sysbuf, max(input_length, output_length), text or "IOCTL SYSBUF ")
            self.put(irp, "_IRP", {"AssociatedIrp": sysbuf, "UserBuffer": user_va})
            self.put(cur, "_IO_STACK_LOCATION", {"MajorFunction": IRP_MJ_DEVICE_CONTROL,
                                                 "OutputBufferLength": output_length,
                                                 "InputBufferLength": input_length, "IoControlCode": code})
            sb_buf = ob_buf = sysbuf
            info.update(major=IRP_MJ_DEVICE_CONTROL, ioctl=code, system_buffer=sysbuf, user_buffer=user_va,
                        input={"buffer": sysbuf, "mdl": None, "length": input_length},
                        output={"buffer": sysbuf, "mdl": None, "length": output_length})
        elif kind == "ioctl-neither":
            code = ioctl if ioctl is not None else 0x222003
            self.put(irp, "_IRP", {"UserBuffer": user_va + 0x800})
            self.put(cur, "_IO_STACK_LOCATION", {"MajorFunction": IRP_MJ_DEVICE_CONTROL,
                                                 "OutputBufferLength": output_length,
                                                 "InputBufferLength": input_length, "IoControlCode": code})
            self.heap.put(cur + self.A["type3_input"], self.ptr, user_va)
            info.update(major=IRP_MJ_DEVICE_CONTROL, ioctl=code, user_buffer=user_va + 0x800, type3_input=user_va,
                        input={"buffer": None, "mdl": None, "length": input_length},
                        output={"buffer": None, "mdl": None, "length": output_length})
        elif kind == "read-direct":
            mdl = self.mdl(user_va, read_length, 0x8 | 0x2 | 0x80 | 0x1, process=self.eprocess(),
                           text=text or "READ DIRECT DATA ", label=(label or "request") + " MdlAddress")
            self.put(irp, "_IRP", {"MdlAddress": mdl.addr, "UserBuffer": user_va})
            self.put(cur, "_IO_STACK_LOCATION", {"MajorFunction": IRP_MJ_READ, "ReadWriteLength": read_length})
            sb_buf = mdl.addr
            mdl.referenced_by.append(("request", R.addr))
            info.update(major=IRP_MJ_READ, ioctl=None, mdl=mdl.addr, user_buffer=user_va,
                        input={"buffer": mdl.mapped, "mdl": mdl.addr, "length": read_length},
                        output=None)
        else:
            raise ValueError("unknown request kind %r" % kind)
        rq = "FxRequest"
        self.put(R.addr, rq, {"m_Irp": irp, "m_SystemBufferOffset": self.off(rq, "m_SystemBufferOffset"),
                              "m_IrpReferenceCount": irp_refs,
                              "m_OutputBufferOffset": self.off(rq, "m_OutputBufferOffset"),
                              "m_IoQueue": queue.addr, "m_SystemBuffer.__vfptr": self.vtable("FxRequestSystemBuffer"),
                              "m_SystemBuffer.m_Buffer": sb_buf,
                              "m_OutputBuffer.__vfptr": self.vtable("FxRequestOutputBuffer"),
                              "m_OutputBuffer.m_Buffer": ob_buf, "m_Presented": 1})
        R.info = info
        self.requests.append(R)
        return R

    def request_memory(self, R, length, read_only=True, text=None, label=None):
        """FxRequestMemory from WdfRequestProbeAndLockUserBufferForRead/Write
        of a METHOD_NEITHER request: parent the request, MDL owned."""
        info = R.info
        va = info.get("type3_input") or info.get("user_buffer")
        flags = 0x8 | 0x2 | 0x1 | (0 if read_only else 0x80)
        mdl = self.mdl(va, length, flags, process=self.eprocess(), text=text or "PROBED USER DATA ",
                       label=(label or "request memory") + " MDL")
        o = self.new_object("FxRequestMemory", R, label=label)
        rm = "FxRequestMemory"
        self.put(o.addr, rm, {"m_pBuffer": mdl.mapped, "m_Request": R.addr, "m_Mdl": mdl.addr,
                              "m_Flags": 1 if read_only else 0})
        self._set_memory(o, mdl.mapped, length, "request", None, None, mdl=mdl.addr, read_only=read_only)
        mdl.owner = o.addr
        mdl.referenced_by.append(("FxRequestMemory", o.addr))
        return o

    # -- MDLs ----------------------------------------------------------------------
    def mdl(self, va, length, flags, process=0, mapped=None, pfns=None, text=None, label=None, size=None,
            tag="Mdl "):
        """An nt _MDL describing ``va``/``length`` (+ its PFN array). A
        mapped (flag 0x1) MDL without ``mapped`` gets a system-PTE mapping
        holding ``text``; a nonpaged-pool one (0x4) maps to ``va`` itself."""
        pages = spanned_pages(va, length)
        true_size = self.MDL_HDR + self.ptr * pages
        m = Mdl()
        m.size = true_size if size is None else size
        m.addr, hdr = self.pool(max(true_size, m.size), tag)
        m.pool_tag = tag
        m.start_va = va & ~(PAGE - 1)
        m.byte_offset = va & (PAGE - 1)
        m.byte_count = length
        m.flags = flags
        m.process = process or 0
        m.pfns = list(pfns) if pfns is not None else [self.pfn(m.start_va + i * PAGE) for i in range(pages)]
        if mapped is None:
            if flags & 0x4:
                mapped = va
            elif flags & 0x1:
                base = self.syspte.take(align(self.syspte.cursor, PAGE), pages * PAGE)
                mapped = base + m.byte_offset
                if text:
                    self._fill(mapped, length, text)
            else:
                mapped = 0
        m.mapped = mapped
        m.next = 0
        m.owner = None
        m.tracked = False
        m.problems = []
        m.label = label
        m.referenced_by = []
        self.put(m.addr, "_MDL", {"Next": 0, "Size": m.size, "MdlFlags": flags, "Process": m.process,
                                  "MappedSystemVa": mapped, "StartVa": m.start_va, "ByteCount": length,
                                  "ByteOffset": m.byte_offset})
        pf = struct.Struct("<%d%s" % (len(m.pfns), self.pfmt))
        self.heap.pack(m.addr + self.MDL_HDR, pf, *m.pfns)
        self.mdls.append(m)
        return m

    def mdl_link(self, a, b):
        a.next = b.addr if b is not None else 0
        self.put(a.addr, "_MDL", {"Next": a.next})

    def partial_mdl(self, source, va, length, label=None):
        """IoBuildPartialMdl(source, new, va, length)."""
        first = (va & ~(PAGE - 1)) - source.start_va
        pages = spanned_pages(va, length)
        pf = source.pfns[first // PAGE:first // PAGE + pages]
        flags = 0x8 | 0x10 | (source.flags & 0x4)
        mapped = source.mapped + (va - (source.start_va + source.byte_offset)) if source.flags & 0x4 else 0
        m = self.mdl(va, length, flags, process=source.process, mapped=mapped, pfns=pf, label=label)
        m.referenced_by.append(("partial-of", source.addr))
        return m

    def track_mdl(self, drv, mdl, owner, caller_n=0):
        """Record ``mdl`` in the driver's verifier AllocatedMdls."""
        if drv.debug_ext is None:
            raise ValueError("driver %s has no verifier debug extension" % drv.name)
        drv.allocated_mdls.append((mdl, owner, self.code_address(drv, 0x40 + caller_n)))
        mdl.tracked = True
        mdl.owner = owner.addr if owner is not None else None

    # -- descriptors -----------------------------------------------------------------
    def descriptors_block(self, drv, specs):
        """WDF_MEMORY_DESCRIPTORs in one pool block (driver tag). ``specs``:
        dicts {type: "buffer"|"mdl"|"handle", ...}; handle ones may carry
        ``offsets`` (BufferOffset, BufferLength) stored right after."""
        dl = self.t("_WDF_MEMORY_DESCRIPTOR")
        ol = self.t("_WDFMEMORY_OFFSET")
        n_off = sum(1 for s in specs if s.get("offsets") is not None)
        size = dl.size * len(specs) + ol.size * n_off
        base, _ = self.pool(size, drv.tagv)
        opos = base + align(dl.size * len(specs), 8)
        out = []
        for i, s in enumerate(specs):
            a = base + i * dl.size
            rec = {"address": a, "label": s.get("label"), "expected_problem": s.get("expected_problem")}
            if s["type"] == "buffer":
                self.put(a, "_WDF_MEMORY_DESCRIPTOR", {"Type": 1, "BufferBuffer": s["buffer"], "BufferLength": s["length"]})
                rec.update(type=1, type_name="WdfMemoryDescriptorTypeBuffer", buffer=s["buffer"], length=s["length"])
            elif s["type"] == "mdl":
                self.put(a, "_WDF_MEMORY_DESCRIPTOR", {"Type": 2, "MdlMdl": s["mdl"].addr, "MdlBufferLength": s["length"]})
                s["mdl"].referenced_by.append(("descriptor", a))
                rec.update(type=2, type_name="WdfMemoryDescriptorTypeMdl", mdl=s["mdl"].addr, length=s["length"])
            else:
                mem = s["memory"]
                offp = 0
                offsets = s.get("offsets")
                if offsets is not None:
                    offp = opos
                    opos += ol.size
                    self.put(offp, "_WDFMEMORY_OFFSET", {"BufferOffset": offsets[0], "BufferLength": offsets[1]})
                self.put(a, "_WDF_MEMORY_DESCRIPTOR", {"Type": 3, "HandleMemory": self.handle(mem.addr),
                                                       "HandleOffsets": offp})
                length = mem.info["length"]
                rec.update(type=3, type_name="WdfMemoryDescriptorTypeHandle", memory=self.handle(mem.addr),
                           memory_object=mem.addr, memory_length=length, offsets=offp or None,
                           buffer_offset=offsets[0] if offsets else None,
                           buffer_length=offsets[1] if offsets else None,
                           in_bounds=(offsets is None or offsets[0] + offsets[1] <= length))
            out.append(rec)
            self.descriptors.append(rec)
            if s.get("expected_problem"):
                self.expect(s["expected_problem"], a, found_by="descriptor",
                            note="WDF_MEMORY_DESCRIPTOR %s" % (s.get("label") or ""))
        return out

    # -- bulk segments ---------------------------------------------------------------
    def segment(self, parent, specs):
        """Start a bulk segment under ``parent``. ``specs``: list of dicts
        {cls: "FxMemoryBuffer"|"FxUserObject"|"FxMemoryBufferFromPool",
        tag, ctx (CtxType or None), text, paged}."""
        drv = parent.driver
        prepared = []
        for sp in specs:
            sp = dict(sp)
            cls = sp["cls"]
            sp["fx_type"] = CLASS_TYPE[cls]
            sp["tagv"] = tag_value(sp.get("tag") or drv.tag)
            sp["vptr"] = self.vtable(cls)
            if cls in fxt.MEMORY_CLASSES:
                sp["ifx"] = self.vtable(cls, iface=True)
            flags = CLASS_FLAGS.get(cls, F_COMMITTED)
            if cls == "FxMemoryBufferFromPool" and sp.get("paged"):
                flags |= F_PASSIVE
            if drv.object_debug:
                flags |= F_HAS_DEBUG
            sp["flags"] = flags
            sp["body"] = align(self.class_size(cls), self.maa)
            if cls == "FxMemoryBufferFromPool":
                sp["m_pool"] = self.off(cls, "m_Pool")
            prepared.append(sp)
        seg = Segment(parent, drv, prepared)
        self.segments.append(seg)
        if parent.children is None:
            parent.children = []
        parent.children.append(seg)
        return seg

    def segment_add(self, seg, kind, length=0):
        """Append one bulk object of ``seg.specs[kind]`` (fast path)."""
        sp = seg.specs[kind]
        drv = seg.driver
        cls = sp["cls"]
        inline = length if cls == "FxMemoryBuffer" else 0
        osize = sp["body"] + align(inline, self.maa)
        dbg = self.DBG if drv.object_debug else 0
        ctx = sp.get("ctx")
        size = dbg + osize + self.CTXHDR + (align(ctx.size, self.ptr) if ctx is not None else 0)
        data, hdr = self.pool(size + self.FXHDR, sp["tagv"] if cls == "FxMemoryBuffer" else drv.tagv)
        heap = self.heap
        heap.pack(data, self._fxhw, data, drv.globals)
        addr = data + self.FXHDR + dbg
        if dbg:
            self._write_debug_ext(addr - dbg)
        entry = addr + self.off_entry
        head = addr + self.off_head
        parent = seg.parent
        prev = seg.prev_entry if seg.prev_entry is not None else parent.addr + self.off_head
        self._objw.pack(heap, addr, sp["vptr"], sp["fx_type"], osize, 1, drv.globals, sp["flags"], 1, head, head,
                  parent.addr, entry, prev, parent.device_base or 0)
        if seg.prev_entry is not None:
            heap.pack(seg.prev_entry, self._ptrw, entry)
        seg.prev_entry = entry
        hdrc = addr + osize
        self._ctxw.pack(heap, hdrc, addr, 0, 0, 0, ctx.address if ctx is not None else 0)
        if ctx is not None:
            heap.write(hdrc + self.CTXHDR, sp.setdefault("_ctxfill", pattern(ctx.name[:12] + "#", ctx.size)))
        aux = 0
        if cls == "FxMemoryBuffer":
            buf = addr + sp["body"]
            if length:
                heap.write(buf, pattern(sp.get("text") or "BULK ", length))
            self._memw.pack(heap, addr, sp["ifx"], length)
        elif cls == "FxMemoryBufferFromPool":
            buf, _ = self.pool(length, sp["tagv"], paged=bool(sp.get("paged")))
            if length:
                heap.write(buf, pattern(sp.get("text") or "BULKPOOL ", length))
            self._memw.pack(heap, addr, sp["ifx"], length)
            heap.pack(addr + sp["m_pool"], self._ptrw, buf)
            aux = buf
        seg.addrs.append(addr)
        seg.kinds.append(kind)
        seg.lens.append(length)
        seg.aux.append(aux)
        return addr

    def _segment_obj(self, seg, i):
        """Materialise bulk object ``i`` as an Obj (for truth)."""
        sp = seg.specs[seg.kinds[i]]
        drv = seg.driver
        cls = sp["cls"]
        length = seg.lens[i]
        o = Obj()
        o.addr = seg.addrs[i]
        o.cls = cls
        o.driver = drv
        o.fx_type = sp["fx_type"]
        o.osize = sp["body"] + (align(length, self.maa) if cls == "FxMemoryBuffer" else 0)
        o.refcnt = 1
        o.flags = sp["flags"]
        o.state = 1
        o.parent = seg.parent
        dbg = self.DBG if drv.object_debug else 0
        o.dbg = o.addr - dbg if dbg else None
        o.fxhdr = o.addr - dbg - self.FXHDR
        o.poolhdr = o.fxhdr - self.POOL_HDR
        o.pool_tag = sp["tagv"] if cls == "FxMemoryBuffer" else drv.tagv
        o.pool_kind = "nonpaged"
        o.device_base = seg.parent.device_base
        o.ctx = (o.addr + o.osize, sp.get("ctx"), 0)
        o.label = None
        if cls == "FxMemoryBuffer":
            o.info = {"kind": "memory", "buffer": o.addr + sp["body"], "length": length, "origin": "inline",
                      "pool_tag": sp["tagv"], "requested_tag": sp["tagv"], "lookaside": None, "mdl": None,
                      "read_only": False}
        elif cls == "FxMemoryBufferFromPool":
            o.info = {"kind": "memory", "buffer": seg.aux[i], "length": length, "origin": "pool",
                      "pool_tag": sp["tagv"], "requested_tag": sp["tagv"], "lookaside": None, "mdl": None,
                      "read_only": False}
        return o

    # -- problems / bugcheck ---------------------------------------------------------
    def expect(self, code, address, group=None, found_by="walk", note="", required=True, severity=None):
        if group is None:
            group = "g%02d" % (len(set(e["group"] for e in self.expected)) + 1)
        self.expected.append({"code": code, "address": address, "group": group, "found_by": found_by,
                              "note": note, "required": required, "severity": severity})
        return group

    def set_bugcheck(self, code, params, info=None):
        self.bugcheck = (code, list(params))
        self.bugcheck_info = info

    # -- finalize --------------------------------------------------------------------
    def finalize(self):
        """Write what depends on everything being placed: child lists,
        lookaside counters and SLIST headers, driver list, bugcheck driver
        info, AllocatedMdls blocks, kernel lookaside lists."""
        if self.finalized:
            return
        self.finalized = True
        heap = self.heap
        lw = self._linkw
        he = self.off_head
        en = self.off_entry
        for o in self.objects:
            if not o.alive or not o.children:
                continue
            head = o.addr + he
            items = o.children
            n = len(items)
            firsts = []
            lasts = []
            for it in items:
                if isinstance(it, Segment):
                    if len(it) == 0:
                        firsts.append(None)
                        lasts.append(None)
                    else:
                        firsts.append(it.addrs[0] + en)
                        lasts.append(it.addrs[-1] + en)
                else:
                    firsts.append(it.addr + en)
                    lasts.append(it.addr + en)
            idx = [i for i in range(n) if firsts[i] is not None]
            if not idx:
                continue
            heap.pack(head, lw, firsts[idx[0]], lasts[idx[-1]])
            for k, i in enumerate(idx):
                prev = lasts[idx[k - 1]] if k > 0 else head
                nxt = firsts[idx[k + 1]] if k + 1 < len(idx) else head
                it = items[i]
                if isinstance(it, Segment):
                    heap.pack(firsts[i] + self.ptr, self._ptrw, prev)
                    heap.pack(lasts[i], self._ptrw, nxt)
                else:
                    heap.pack(it.addr + en, lw, nxt, prev)
                    pv = it.parent_value if it.parent_value is not None else o.addr
                    heap.pack(it.addr + self.off_parent, self._ptrw, pv)
        # lookasides
        for lo in self.lookasides:
            la = lo.info["la"]
            lo.refcnt = 1 + len(la["live"])
            self.put(lo.addr, "FxObject", {"m_Refcnt": lo.refcnt})
            for gl in (la["object_list"], la["pool_list"]):
                if gl is not None:
                    self._write_gl(gl)
        # kernel lookaside lists (ListEntry), driver list, bugcheck driver info
        gll = self.t("_GENERAL_LOOKASIDE")
        for name in sorted(self.lookaside_heads):
            head, items = self.lookaside_heads[name]
            self._link_list(head, [a + gll.offset("ListEntry") for a in items])
        lg = self.t("FxLibraryGlobalsType")
        self._link_list(self.lib_globals + lg.offset("FxDriverGlobalsList"), [d.globals for d in self.drivers])
        ent = self.t("_FX_DUMP_DRIVER_INFO_ENTRY")
        cap = max(8, len(self.drivers) + 1)
        table, _ = self.pool(ent.size * cap, "FxDI")
        names = [("Wdf01000", 0, tuple(int(x) for x in (self.kmdf_version + ".0").split(".")[:3]))]
        for d in self.drivers:
            names.append((d.name, d.globals, d.version))
        for i, (nm, g, ver) in enumerate(names):
            a = table + i * ent.size
            self.put(a, "_FX_DUMP_DRIVER_INFO_ENTRY", {"FxDriverGlobals": g, "DriverName": nm.encode("latin-1")})
            vo = ent.offset("Version")
            self.heap.write(a + vo, struct.pack("<III", *ver))
        self.put(self.lib_globals, "FxLibraryGlobalsType", {"BugCheckDriverInfoIndex": len(names),
                                                            "BugCheckDriverInfo": table})
        self.bugcheck_info_table = (table, names, cap)
        # verifier AllocatedMdls
        am = self.t("FxAllocatedMdls")
        info = self.t("FxMdlDebugInfo")
        emb = self.off("FxDriverGlobalsDebugExtension", "AllocatedMdls")
        for d in self.drivers:
            if d.debug_ext is None:
                continue
            entries = d.allocated_mdls
            blocks = [d.debug_ext + emb]
            nblocks = max(1, (len(entries) + 15) // 16)
            for _ in range(nblocks - 1):
                a, _h = self.pool(am.size, d.tagv)
                blocks.append(a)
            d.mdl_blocks = []
            for b in range(nblocks):
                chunk = entries[16 * b:16 * b + 16]
                base = blocks[b]
                for i, (mdl, owner, caller) in enumerate(chunk):
                    self.put(base + am.offset("Info") + i * info.size, "FxMdlDebugInfo",
                             {"Mdl": mdl.addr, "Owner": owner.addr if owner is not None else 0, "Caller": caller})
                self.put(base, "FxAllocatedMdls", {"Count": len(chunk),
                                                   "Next": blocks[b + 1] if b + 1 < nblocks else 0})
                d.mdl_blocks.append((base, len(chunk)))

    def _link_list(self, head, entries):
        lw = self._linkw
        if not entries:
            self.heap.pack(head, lw, head, head)
            return
        self.heap.pack(head, lw, entries[0], entries[-1])
        for i, e in enumerate(entries):
            self.heap.pack(e, lw, entries[i + 1] if i + 1 < len(entries) else head, entries[i - 1] if i else head)

    def _write_gl(self, gl):
        self.write_slist_header(gl.addr, len(gl.slist), gl.sequence, gl.slist[-1] if gl.slist else 0)
        self.put(gl.addr, "_GENERAL_LOOKASIDE", {
            "Depth": gl.depth, "MaximumDepth": gl.max_depth, "TotalAllocates": gl.total_allocates,
            "AllocateMisses": gl.allocate_misses, "TotalFrees": gl.total_frees, "FreeMisses": gl.free_misses,
            "Type": gl.type, "Tag": gl.tag, "Size": gl.size, "LastTotalAllocates": gl.total_allocates,
            "LastAllocateMisses": gl.allocate_misses})

    def write_slist_header(self, addr, depth, sequence, first):
        if self.ptr == 8:
            self.heap.write(addr, struct.pack("<QQ", (depth & 0xffff) | ((sequence & ((1 << 48) - 1)) << 16),
                                              first & ~0xF))
        else:
            self.heap.write(addr, struct.pack("<IHH", first, depth & 0xffff, sequence & 0xffff))

    def read_slist_header(self, addr):
        if self.ptr == 8:
            q0, q1 = struct.unpack("<QQ", self.heap.read(addr, 16))
            return q0 & 0xffff, q0 >> 16, q1 & ~0xF
        nxt, depth, seq = struct.unpack("<IHH", self.heap.read(addr, 8))
        return depth, seq, nxt

    def remove_page(self, addr):
        """Make the page holding ``addr`` unreadable (as if paged out)."""
        page = addr & ~(PAGE - 1)
        self.heap.holes.append((page, PAGE))
        return page

    def built(self):
        self.finalize()
        mods = sorted(self.modules, key=lambda m: m.base)
        for m1, m2 in zip(mods, mods[1:]):
            if m1.base + m1.size > m2.base:
                raise ValueError("builder: modules %s and %s overlap" % (m1.name, m2.name))
        for r in self.heap.regions:
            r.trim()
        return Built(self)


# -- the result ------------------------------------------------------------------
class Built(object):
    """A finished heap: ``document()``, ``backend()``, ``target()``,
    ``truth()``, ``memory()``."""

    def __init__(self, builder):
        self.b = builder
        self.scenario = builder.scenario
        self.params = builder.params
        self._truth_cache = {}

    # snapshot ----------------------------------------------------------------
    def memory(self):
        """Readable ranges as (address, memoryview), sorted, holes removed."""
        return self.b.heap.ranges()

    def _description(self):
        b = self.b
        text = b.description or ""
        return ("Synthetic KMDF heap built by wdfdbg.testing from scenario '%s'%s. %s"
                % (b.scenario, self._param_text(), text)).strip()

    def _param_text(self):
        if not self.params:
            return ""
        return " (" + ", ".join("%s=%s" % (k, self.params[k]) for k in sorted(self.params)) + ")"

    def _head(self, types=True, symbols=True):
        b = self.b
        target = {"arch": b.arch, "pointer_size": b.ptr, "page_size": PAGE, "os_build": b.os_build,
                  "kmdf_version": b.kmdf_version}
        doc = {"format": snapfmt.FORMAT, "version": snapfmt.VERSION, "origin": "synthetic",
               "description": self._description(), "target": target}
        doc["bugcheck"] = None if b.bugcheck is None else {"code": hx(b.bugcheck[0]),
                                                           "parameters": [hx(p) for p in b.bugcheck[1]]}
        doc["modules"] = [{"name": m.name, "base": hx(m.base), "size": m.size}
                          for m in sorted(b.modules, key=lambda m: m.base)]
        syms = b.symbols if symbols else {}
        doc["symbols"] = dict((k, hx(v)) for k, v in sorted(syms.items(), key=lambda kv: (kv[1], kv[0])))
        doc["types"] = copy.deepcopy(b.profile.documents()) if types else {}
        return doc

    def document(self, types=True, symbols=True):
        """The snapshot document (a dict, spec key order). ``types=False``:
        ``types: {}`` as a symbol-less recording; ``symbols=False`` also
        drops the symbol table."""
        doc = self._head(types, symbols)
        doc["memory"] = [{"address": hx(a), "data": base64.b64encode(d).decode("ascii")}
                         for a, d in self.memory()]
        return doc

    def dumps(self, types=True, symbols=True, compress=True):
        return snapfmt.dumps(self.document(types, symbols), compress=compress)

    def snapshot(self, types=True, symbols=True):
        """A validated :class:`~wdfdbg.sources.snapshot.Snapshot` built
        straight from memory (no JSON, no base64)."""
        doc = self._head(types, symbols)
        doc["memory"] = []
        problems, _ = snapfmt.validate(doc)
        if problems:
            raise ValueError("builder produced an invalid snapshot: %s" % "; ".join(problems))
        mem = [(a, d) for a, d in self.memory() if len(d)]
        return snapfmt.Snapshot(doc, mem, path=None)

    def backend(self, types=True, symbols=True):
        return snapfmt.SnapshotBackend(self.snapshot(types, symbols))

    def target(self, types=True, symbols=True, cache_pages=65536):
        return Target(self.backend(types, symbols), cache_pages=cache_pages)

    def summary(self):
        b = self.b
        n = sum(1 for o in b.objects if o.alive) + sum(len(s) for s in b.segments)
        return {"scenario": b.scenario, "objects": n, "memory_bytes": sum(len(d) for _, d in self.memory()),
                "drivers": len(b.drivers), "mdls": len(b.mdls)}

    # truth -------------------------------------------------------------------
    def truth(self, compact=False, objects=True):
        """Ground truth (a dict of JSON values). ``compact=True`` folds runs
        of objects that differ only by address (see :func:`compact_objects`);
        ``objects=False`` leaves the per-object records out (``objects``:
        null) for bounded memory on huge bulk heaps."""
        key = (bool(compact), bool(objects))
        if key not in self._truth_cache:
            t = make_truth(self.b, objects=objects)
            if compact and objects:
                t = dict(t)
                t["objects"] = compact_objects(t["objects"], self.b.mask)
            self._truth_cache[key] = t
        return self._truth_cache[key]


# -- ground truth ------------------------------------------------------------------
CONVENTIONS = {
    "addresses": "hex strings; sizes, counts and offsets are numbers; unknown or absent values are null",
    "object": "the FxObject pointer (what a handle encodes), never the pool block",
    "list_entry": "object + offset(FxObject.m_ChildEntry); list head: object + offset(m_ChildListHead)",
    "in_tree": "reached from a driver's FxDriver by child lists: forward (Flink) walk, and when it breaks the "
               "backward (Blink) walk from the list head; reachable_by_flink tells them apart",
    "parent": "the stored m_ParentObject; list_parent is the object whose child list holds it in the walk",
    "CHILD_LIST_CYCLE": "at the list head whose forward walk comes back to an entry it saw",
    "CHILD_LIST_CORRUPT": "at the entry whose Blink is not the entry the walk came from (alternative in the "
                          "same group: the previous entry, whose Flink->Blink is not itself)",
    "PARENT_MISMATCH": "at the child object",
    "UNREADABLE": "at the first unreadable address the walk needs (the child's list entry; its object address "
                  "is an alternative in the same group)",
    "MDL_CHAIN_CYCLE": "at the first MDL of the chain as referenced",
    "MDL_INCONSISTENT": "at the MDL",
    "LOOKASIDE_INCONSISTENT": "at the FxLookasideList object",
    "MEMORY_OUT_OF_BOUNDS": "at the WDF_MEMORY_DESCRIPTOR",
    "LIKELY_LEAK": "at the parent holding >= %d WDFMEMORY children (warning)" % LEAK_CHILDREN,
    "BAD_HANDLE": "for a 0x10D/0x5 P2 decoding to a freed object: at the object it decodes to",
    "groups": "a decoder satisfies expected_problems when, for every group with required entries, it reports at "
              "least one {code, address} of the group",
    "found_by": "walk: driver list -> child lists -> memory/lookaside/MDL facts of walked objects and "
                "AllocatedMdls; triage: rules over the walked tree and the bugcheck; descriptor: decoding the "
                "WDF_MEMORY_DESCRIPTOR at its address",
    "free_entries": "SLIST entry addresses (an entry's first pointer is the SLIST link); for object lists the "
                    "entry is the FX_POOL_HEADER and free_objects are the stale FxObject images (state 12)",
    "pool_tag": "tag of the nt _POOL_HEADER of the block holding the buffer; null without one (big page-aligned "
                "allocations, image or mapped buffers); requested_tag is what the creating call asked for",
    "object_runs": "in a compact truth file, objects[i] may be {\"run\": {count, addresses, template}}: expand with "
                   "wdfdbg.testing.load_truth (template values {\"$rel\": d} are address + d, {\"$handle\": 1} "
                   "is address ^ handle mask)",
}


def _walk(b):
    """Walk every driver's tree over the built bytes (holes unreadable).
    Returns (order, info) where info[addr] = (depth, list_parent, by_flink)."""
    heap = b.heap
    ptr = b.ptr
    he, en = b.off_head, b.off_entry

    def rp(a):
        if not heap.readable(a, ptr):
            return None
        return heap.uint(a, ptr)

    def children(obj):
        head = obj + he
        entry = rp(head)
        if entry is None:
            return []
        seen = set()
        out = []
        broken = False
        while entry != head:
            if not entry or entry in seen or not heap.readable(entry, 2 * ptr):
                broken = True
                break
            seen.add(entry)
            out.append((entry - en, True))
            entry = rp(entry)
            if entry is None:
                broken = True
                break
        if broken:
            back = []
            e = rp(head + ptr)
            while e and e != head and e not in seen and heap.readable(e, 2 * ptr):
                seen.add(e)
                back.append((e - en, False))
                e = rp(e + ptr)
            out.extend(reversed(back))
        return out

    info = {}
    order = []
    for d in b.drivers:
        stack = [(d.fxdriver.addr, 0, None, True)]
        while stack:
            a, depth, lp, byf = stack.pop()
            if a in info:
                continue
            info[a] = (depth, lp, byf)
            order.append(a)
            kids = children(a)
            for c, cb in reversed(kids):
                if c not in info:
                    stack.append((c, depth + 1, a, cb))
    return order, info


def _slist(b, first, limit=4096):
    """Walk an SLIST from ``first``: (entries, corrupt)."""
    out = []
    seen = set()
    e = first
    while e:
        if e in seen or len(out) >= limit or not b.heap.readable(e, b.ptr):
            return out, True
        seen.add(e)
        out.append(e)
        e = b.heap.uint(e, b.ptr)
    return out, False


def _first_bytes(b, addr, length):
    if not addr or not length:
        return None
    n = min(16, length)
    if not b.heap.readable(addr, n):
        return None
    return b.heap.read(addr, n).hex()


def _gl_record(b, gl, object_list, dbg):
    depth, seq, first = b.read_slist_header(gl.addr)
    entries, corrupt = _slist(b, first)
    ta = gl.total_allocates
    rec = {"address": hx(gl.addr), "depth": gl.depth, "max_depth": gl.max_depth, "slist_depth": depth,
           "sequence": seq, "total_allocates": ta, "allocate_misses": gl.allocate_misses,
           "total_frees": gl.total_frees, "free_misses": gl.free_misses,
           "hit_rate": round((ta - gl.allocate_misses) / float(ta), 4) if ta else None,
           "type": gl.type, "type_name": POOL_TYPES.get(gl.type), "tag": tag_text(gl.tag), "size": gl.size,
           "first_entry": hx(first or None), "free_entries": [hx(e) for e in entries],
           "free_entry_count": len(entries), "slist_corrupt": corrupt or depth != len(entries),
           "freed_to_pool": [hx(e) for e in gl.freed_to_pool]}
    if object_list:
        rec["free_objects"] = [hx(e + b.FXHDR + dbg) for e in entries]
    return rec


def _ctx_record(b, o):
    if not o.ctx:
        return None
    hdr, ct, cleanup = o.ctx
    return {"header": hx(hdr), "object": hx(o.addr), "next_header": None, "cleanup": hx(cleanup or None),
            "destroy": None, "type_info": hx(ct.address) if ct else None, "name": ct.name if ct else None,
            "name_address": hx(ct.name_address) if ct else None, "context_size": ct.size if ct else None,
            "context": hx(hdr + b.CTXHDR) if ct else None}


def _object_record(b, o, walk, mdl_index):
    depth, lp, byf = walk.get(o.addr, (None, None, None))
    parent = o.parent_value if o.parent_value is not None else (o.parent.addr if o.parent is not None else None)
    rec = {
        "address": hx(o.addr), "handle": hx(o.addr ^ b.mask) if o.osize else None, "fx_type": hx(o.fx_type),
        "wdf_type": fxt.ddi_name(o.fx_type, o.cls), "class": o.cls, "parent": hx(parent), "list_parent": hx(lp),
        "driver": o.driver.name, "depth": depth, "in_tree": o.addr in walk, "reachable_by_flink": bool(byf),
        "readable": b.heap.readable(o.addr, b.t("FxObject").size), "refcount": o.refcnt, "state": o.state,
        "state_name": fxt.state_name(o.state), "flags": o.flags, "flag_names": fxt.flag_names(o.flags),
        "object_size": o.osize, "has_debug": o.dbg is not None, "debug_extension": hx(o.dbg),
        "fx_pool_header": hx(o.fxhdr), "device_base": hx(o.device_base), "label": o.label,
        "pool_header": None if o.poolhdr is None else {"address": hx(o.poolhdr), "tag": tag_text(o.pool_tag),
                                                       "pool": o.pool_kind},
        "context": _ctx_record(b, o), "memory": None, "lookaside": None, "request": None, "presented_by": None,
        "mdls": [], "tracked_mdls": [hx(m) for m in mdl_index.get(o.addr, [])],
    }
    info = o.info or {}
    kind = info.get("kind")
    if kind == "memory":
        rec["memory"] = {"buffer": hx(info["buffer"]), "length": info["length"], "origin": info["origin"],
                         "pool_tag": tag_text(info["pool_tag"]) if info["pool_tag"] is not None else None,
                         "requested_tag": tag_text(info["requested_tag"]) if info["requested_tag"] is not None else None,
                         "lookaside": hx(info["lookaside"]), "mdl": hx(info["mdl"]), "read_only": info["read_only"],
                         "first_bytes": _first_bytes(b, info["buffer"], info["length"])}
        if info.get("mdl"):
            rec["mdls"].append(hx(info["mdl"]))
    elif kind == "lookaside":
        la = info["la"]
        dbg = b.DBG if o.driver.object_debug else 0
        rec["lookaside"] = {
            "kind": la["kind"], "buffer_size": la["buffer_size"], "memory_object_size": la["memory_object_size"],
            "pool_tag": tag_text(la["pool_tag"]), "pool_type": la["pool_type"],
            "pool_type_name": POOL_TYPES.get(la["pool_type"]), "memory_class": la["memory_class"],
            "memory_parent": hx(la["memory_parent"].addr), "attributes": hx(la["attributes"]),
            "attributes_parent_handle": hx(la["attributes_parent"]),
            "raw_buffer_size": la.get("raw_buffer_size"), "memory_device_base": hx(la.get("memory_device_base")),
            "live_memory": [hx(m.addr) for m in la["live"]],
            "list": _gl_record(b, la["object_list"], True, dbg),
            "pool_list": _gl_record(b, la["pool_list"], False, 0) if la["pool_list"] is not None else None}
    elif kind == "request":
        rq = "FxRequest"
        R = o.addr

        def buf(off_field, emb_field, data):
            field = R + b.off(rq, off_field)
            d = {"handle": hx(((field ^ b.mask) | 1)), "offset_field": hx(field), "offset_value": b.off(rq, off_field),
                 "resolves_to": hx(R), "embedded": hx(R + b.off(rq, emb_field))}
            if data is None:
                d.update(buffer=None, mdl=None, length=None, used=False)
            else:
                d.update(buffer=hx(data["buffer"]), mdl=hx(data["mdl"]), length=data["length"], used=True,
                         first_bytes=_first_bytes(b, data["buffer"], data["length"]))
            return d

        rec["request"] = {"kind": info["request_kind"], "irp": hx(info["irp"]), "stack_location": hx(info["stack"]),
                          "major_function": info["major"], "io_control_code": hx(info.get("ioctl")),
                          "queue": hx(info["queue"]), "parented": info["parented"],
                          "irp_reference_count": info["irp_refs"], "system_buffer": hx(info["system_buffer"]),
                          "user_buffer": hx(info["user_buffer"]), "mdl_address": hx(info["mdl"]),
                          "input": buf("m_SystemBufferOffset", "m_SystemBuffer", info["input"]),
                          "output": buf("m_OutputBufferOffset", "m_OutputBuffer", info["output"])}
        rec["presented_by"] = hx(info["queue"])
        if info["mdl"]:
            rec["mdls"].append(hx(info["mdl"]))
    return rec


def _mdl_record(b, m):
    chain = []
    seen = set()
    a = m.addr
    cycle = False
    while a:
        if a in seen:
            cycle = True
            break
        if not b.heap.readable(a, b.MDL_HDR) or len(chain) > 256:
            break
        seen.add(a)
        chain.append(a)
        a = b.rptr(a)
    pages = spanned_pages(m.start_va + m.byte_offset, m.byte_count)
    return {"address": hx(m.addr), "next": hx(m.next or None), "size": m.size, "flags": m.flags,
            "flag_names": mdl_flag_names(m.flags), "byte_count": m.byte_count, "byte_offset": m.byte_offset,
            "start_va": hx(m.start_va), "mapped_system_va": hx(m.mapped or None), "process": hx(m.process or None),
            "pfns": [hx(p) for p in m.pfns], "pages_spanned": pages, "expected_size": b.MDL_HDR + b.ptr * pages,
            "owner": hx(m.owner), "tracked": m.tracked, "label": m.label, "pool_tag": m.pool_tag,
            "referenced_by": [{"by": k, "address": hx(v)} for k, v in m.referenced_by],
            "chain": [hx(x) for x in chain], "chain_cycle": cycle, "problems": list(m.problems)}


def make_truth(b, objects=True):
    """The ground-truth dict for a finished builder. ``objects=False``
    leaves out the per-object records (``objects`` is null) but computes
    everything else in one streaming pass (bounded memory at 10^6 objects)."""
    from wdfdbg.analysis.problems import CODES
    order, walk = _walk(b)
    mdl_owner = {}
    for m in b.mdls:
        if m.owner is not None and m.tracked:
            mdl_owner.setdefault(m.owner, []).append(m.addr)
    by_addr = {}
    for o in b.objects:
        if o.alive:
            by_addr[o.addr] = o
    seg_of = {}
    for seg in b.segments:
        for i, a in enumerate(seg.addrs):
            seg_of[a] = (seg, i)

    def obj_at(a):
        o = by_addr.get(a)
        if o is None and a in seg_of:
            seg, i = seg_of[a]
            o = b._segment_obj(seg, i)
        return o

    def all_records():
        placed = set()
        for a in order:
            o = obj_at(a)
            if o is None:
                continue
            placed.add(a)
            yield _object_record(b, o, walk, mdl_owner)
        for a in sorted(set(by_addr) | set(seg_of)):
            if a not in placed:
                yield _object_record(b, obj_at(a), walk, mdl_owner)

    records = [] if objects else None
    per_driver = dict((d.name, [0, 0, 0]) for d in b.drivers)
    leak_counts = {}
    n_records = n_tree = n_mem = mem_bytes = n_la = 0
    for r in all_records():
        n_records += 1
        if records is not None:
            records.append(r)
        if not r["in_tree"]:
            continue
        n_tree += 1
        pd = per_driver[r["driver"]]
        pd[0] += 1
        if r["lookaside"] is not None:
            n_la += 1
        if r["memory"] is not None:
            n_mem += 1
            mem_bytes += r["memory"]["length"]
            pd[1] += 1
            pd[2] += r["memory"]["length"]
            if r["list_parent"]:
                leak_counts[r["list_parent"]] = leak_counts.get(r["list_parent"], 0) + 1
    # drivers
    drivers = []
    for d in b.drivers:
        am = []
        for bi, (base, count) in enumerate(d.mdl_blocks):
            for i in range(count):
                mdl, owner, caller = d.allocated_mdls[16 * bi + i]
                am.append({"block": hx(base), "index": i, "mdl": hx(mdl.addr),
                           "owner": hx(owner.addr if owner is not None else None), "caller": hx(caller)})
        pd = per_driver[d.name]
        drivers.append({
            "name": d.name, "tag": d.tag, "globals": hx(d.globals), "public": hx(d.public),
            "wdf_driver_globals_symbol": "%s!WdfDriverGlobals" % d.name, "wdf_driver_globals_variable": hx(d.var),
            "driver": hx(d.fxdriver.addr), "driver_handle": hx(d.fxdriver.addr ^ b.mask),
            "image_base": hx(d.image_base), "image_size": d.image_size, "verifier_on": d.verifier,
            "object_debug": d.object_debug, "pool_tracking": False, "debug_extension": hx(d.debug_ext),
            "version": list(d.version), "allocated_mdls": am,
            "allocated_mdls_blocks": [{"address": hx(x), "count": c} for x, c in d.mdl_blocks],
            "objects": pd[0], "memory_objects": pd[1], "memory_bytes": pd[2]})
    # library globals
    lg = b.t("FxLibraryGlobalsType")
    table, names, cap = b.bugcheck_info_table
    ent = b.t("_FX_DUMP_DRIVER_INFO_ENTRY")
    library = {"address": hx(b.lib_globals), "symbol": "Wdf01000!FxLibraryGlobals",
               "driver_globals_list": hx(b.lib_globals + lg.offset("FxDriverGlobalsList")),
               "driver_globals": [hx(d.globals) for d in b.drivers],
               "bugcheck_driver_info": hx(table), "bugcheck_driver_info_index": len(names),
               "bugcheck_driver_info_capacity": cap,
               "bugcheck_driver_info_entries": [{"index": i, "address": hx(table + i * ent.size), "globals": hx(g or None),
                                                 "name": n, "version": list(v)} for i, (n, g, v) in enumerate(names)]}
    # expected problems: the scenario's, plus leak warnings derived from the walk
    expected = [dict(e) for e in b.expected]
    for parent, n in sorted(leak_counts.items(), key=lambda kv: int(kv[0], 16)):
        if n >= LEAK_CHILDREN:
            expected.append({"code": "LIKELY_LEAK", "address": int(parent, 16), "group": "leak:%s" % parent,
                             "found_by": "triage", "note": "%d WDFMEMORY children" % n, "required": False,
                             "severity": "warning"})
    exp = []
    for e in expected:
        e = dict(e)
        e["address"] = hx(e["address"])
        if not e.get("severity"):
            e["severity"] = CODES.get(e["code"], "error")
        exp.append(e)
    exp.sort(key=lambda e: (e["group"], e["code"], e["address"] or ""))
    bugcheck = None
    if b.bugcheck is not None:
        bugcheck = {"code": hx(b.bugcheck[0]), "parameters": [hx(p) for p in b.bugcheck[1]]}
        bugcheck.update(b.bugcheck_info or {})
    return {
        "format": TRUTH_FORMAT, "version": TRUTH_VERSION, "scenario": b.scenario,
        "params": dict((k, v) for k, v in sorted(b.params.items())), "description": b.description,
        "arch": b.arch, "pointer_size": b.ptr, "page_size": PAGE, "profile": b.profile.name, "os_build": b.os_build,
        "kmdf_version": b.kmdf_version, "handle_mask": hx(b.mask), "conventions": CONVENTIONS,
        "layout": {"pool_header": b.POOL_HDR, "fx_pool_header": b.FXHDR, "debug_extension": b.DBG,
                   "context_header": b.CTXHDR, "child_list_head": b.off_head, "child_entry": b.off_entry},
        "modules": [{"name": m.name, "base": hx(m.base), "size": m.size} for m in sorted(b.modules, key=lambda m: m.base)],
        "library_globals": library, "drivers": drivers, "objects": records,
        "mdls": [_mdl_record(b, m) for m in b.mdls],
        "descriptors": [dict((k, hx(v) if k in ("address", "buffer", "mdl", "memory", "memory_object", "offsets")
                              else v) for k, v in d.items()) for d in b.descriptors],
        "requests": [hx(r.addr) for r in b.requests],
        "lookasides": [hx(lo.addr) for lo in b.lookasides],
        "bugcheck": bugcheck,
        "holes": [{"address": hx(a), "size": n} for a, n in sorted(b.heap.holes)],
        "notes": list(b.notes),
        "expected_problems": exp,
        "counts": {"objects": n_records, "in_tree": n_tree, "memory_objects": n_mem, "memory_bytes": mem_bytes,
                   "lookasides": n_la,
                   "requests": len(b.requests), "mdls": len(b.mdls), "descriptors": len(b.descriptors),
                   "drivers": len(b.drivers),
                   "required_problem_groups": len(set(e["group"] for e in exp if e["required"]))},
    }


# -- compact truth (object runs) ---------------------------------------------------
REL_WINDOW = 0x10000
MIN_RUN = 8
# keys whose values are stored relative to the object's address in a run
# template (never parent, list_parent, lookaside, ...: those are shared)
REL_KEYS = frozenset(["address", "fx_pool_header", "debug_extension", "header", "object", "context", "buffer",
                      "handle"])


def _templ(value, addr, mask, key=None):
    if isinstance(value, dict):
        return dict((k, _templ(v, addr, mask, k)) for k, v in value.items())
    if isinstance(value, list):
        return [_templ(v, addr, mask) for v in value]
    if key in REL_KEYS and isinstance(value, str) and value.startswith("0x"):
        v = int(value, 16)
        if key == "handle" and v == addr ^ mask:
            return {"$handle": 1}
        if abs(v - addr) < REL_WINDOW:
            return {"$rel": v - addr}
    return value


def _untempl(value, addr, mask):
    if isinstance(value, dict):
        if len(value) == 1 and "$rel" in value:
            return hx(addr + value["$rel"])
        if len(value) == 1 and "$handle" in value:
            return hx(addr ^ mask)
        return dict((k, _untempl(v, addr, mask)) for k, v in value.items())
    if isinstance(value, list):
        return [_untempl(v, addr, mask) for v in value]
    return value


def compact_objects(records, mask):
    """Fold runs (>= MIN_RUN) of consecutive records that differ only by
    address-relative values into ``{"run": {count, addresses, template}}``."""
    import json
    out = []
    i = 0
    n = len(records)
    keys = []
    for r in records:
        addr = int(r["address"], 16)
        keys.append(json.dumps(_templ(r, addr, mask), sort_keys=True))
    while i < n:
        j = i + 1
        while j < n and keys[j] == keys[i]:
            j += 1
        if j - i >= MIN_RUN:
            out.append({"run": {"count": j - i, "addresses": [records[k]["address"] for k in range(i, j)],
                                "template": json.loads(keys[i])}})
        else:
            out.extend(records[i:j])
        i = j
    return out


def expand_objects(objects, mask):
    """Inverse of :func:`compact_objects`."""
    out = []
    for r in objects:
        run = r.get("run") if isinstance(r, dict) and len(r) == 1 else None
        if run is None:
            out.append(r)
            continue
        for a in run["addresses"]:
            out.append(_untempl(run["template"], int(a, 16), mask))
    return out


def load_truth(path_or_dict):
    """Read a truth file (or dict) and expand object runs."""
    import json
    if isinstance(path_or_dict, dict):
        t = dict(path_or_dict)
    else:
        with open(path_or_dict, "r") as f:
            t = json.load(f)
    if t.get("objects") is not None:
        t["objects"] = expand_objects(t["objects"], int(t["handle_mask"], 16))
    return t
