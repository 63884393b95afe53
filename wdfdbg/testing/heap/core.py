"""The builder's core: per-architecture constants, the profile's layouts,
the kernel regions and modules, and nt pool blocks.

C types laid out here: nt ``_POOL_HEADER`` only. Its presence and size (16
bytes on x64, right before the FX_POOL_HEADER of every small framework
allocation) are [dump] (kmdf.md §4); its fields are packed by hand because
the profiles describe only ``Ulong1``/``PoolTag``: x64 PreviousSize,
PoolIndex, BlockSize, PoolType (one byte each, in pool units) then the
ULONG PoolTag and a pointer-sized ProcessBilled; x86 ``Ulong1`` as 9-bit
PreviousSize and BlockSize and the PoolType above them, then PoolTag
(public nt ``_POOL_HEADER``, not in kmdf.md). Every other offset any part
writes comes from the profile through :meth:`HeapCore.t`.

:class:`HeapCore` holds the state every part shares (one address space, one
layout cache, the symbol table, the expected problems); the other parts of
:mod:`wdfdbg.testing.heap` add their own state in their ``_init_*`` method.
"""

import random
import struct

from wdfdbg.layouts import IsfSource
from wdfdbg.layouts.model import TypeCompiler
from wdfdbg.layouts.profiles import PROFILE_BY_NAME
from wdfdbg.sources.base import Module
from wdfdbg.testing.heap.space import PAGE, Heap, Region, align, pattern, tag_value

# Per architecture: pointer and MEMORY_ALLOCATION_ALIGNMENT sizes, pool
# header size and unit, the handle mask (kmdf.md §1), where each region and
# module sits, IRP offsets the profiles do not name (_IRP.StackCount and
# CurrentLocation, _IO_STACK_LOCATION.Parameters.DeviceIoControl
# .Type3InputBuffer and DeviceObject), and the default profile.
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


class HeapCore(object):
    """Shared state and the primitives every part writes with.

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
        self.POOL_HDR = A["pool_hdr"]
        self._ptrw = struct.Struct("<" + self.pfmt)
        self._linkw = struct.Struct("<" + self.pfmt * 2)    # LIST_ENTRY {Flink, Blink}
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
        self.expected = []
        self.bugcheck = None
        self.bugcheck_info = None
        self.crash_thread = None
        self.notes = []
        self.finalized = False
        self._init_parts()

    def _init_parts(self):
        """Each part's own state, in a fixed order (the composed builder lists them)."""

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

    def _fill(self, addr, length, text):
        """``length`` recognisable bytes (``text`` repeated) at ``addr``."""
        if length:
            self.heap.write(addr, pattern(text, length))

    def link_list(self, head, entries):
        """Link LIST_ENTRYs ``entries`` (addresses) behind ``head``, in order."""
        lw = self._linkw
        if not entries:
            self.heap.pack(head, lw, head, head)
            return
        self.heap.pack(head, lw, entries[0], entries[-1])
        for i, e in enumerate(entries):
            self.heap.pack(e, lw, entries[i + 1] if i + 1 < len(entries) else head, entries[i - 1] if i else head)

    # -- nt pool -------------------------------------------------------------
    def _pool_header(self, region, hdr, total, tag, paged):
        unit = self.A["pool_unit"]
        lb = region.last_block
        # PreviousSize counts back to the previous block only inside one page
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
        tagv = tag_value(tag) if isinstance(tag, str) else tag
        hdr_size = self.POOL_HDR
        total = align(size + hdr_size, self.A["pool_unit"])
        if total > PAGE:
            return self.pool_big(size, paged), None
        r = self.paged if paged else self.nonpaged
        cur = r.cursor
        if alone or (cur % PAGE) + total > PAGE:
            cur = align(cur, PAGE)
        r.take(cur, total)
        self._pool_header(r, cur, total, tagv, paged)
        if alone:
            r.page_break()
        return cur + hdr_size, cur

    def pool_big(self, size, paged=False):
        """A page-aligned big allocation (no nt pool header)."""
        r = self.paged if paged else self.nonpaged
        start = r.take(align(r.cursor, PAGE), align(size, PAGE))
        r.last_block = None
        return start

    def remove_page(self, addr):
        """Make the page holding ``addr`` unreadable (as if paged out)."""
        page = addr & ~(PAGE - 1)
        self.heap.holes.append((page, PAGE))
        return page

    # -- what the truth should expect ------------------------------------------
    def expect(self, code, address, group=None, found_by="walk", note="", required=True, severity=None):
        if group is None:
            group = "g%02d" % (len(set(e["group"] for e in self.expected)) + 1)
        self.expected.append({"code": code, "address": address, "group": group, "found_by": found_by,
                              "note": note, "required": required, "severity": severity})
        return group

    def set_bugcheck(self, code, params, info=None):
        self.bugcheck = (code, list(params))
        self.bugcheck_info = info

    def kernel_thread(self):
        """A KTHREAD-sized nonpaged block ('Thre', as the kernel tags
        threads) to stand for a thread: only its address is used."""
        data, _hdr = self.pool(0x80, "Thre")
        return data

    def set_crash_thread(self, thread):
        """The crashing processor's current thread (KPRCB.CurrentThread):
        the snapshot keeps it under ``crash_thread``, as a snapshot cut from
        a triage dump does (``sources/convert.py``)."""
        self.crash_thread = thread
