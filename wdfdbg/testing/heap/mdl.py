"""MDLs: nt ``_MDL`` with its PFN array, chains, partial MDLs, and the
pages they describe.

C types laid out here: ``_MDL`` (Next, Size, MdlFlags, Process,
MappedSystemVa, StartVa, ByteCount, ByteOffset) followed by one
PFN_NUMBER per page spanned, ``ADDRESS_AND_SIZE_TO_SPAN_PAGES(StartVa +
ByteOffset, ByteCount)`` (kmdf.md §7, public ntkrnlmp type; offsets from the
profile). MdlFlags names are wdm.h's. Mapped MDLs get a system-PTE mapping
holding recognisable bytes; a stand-in EPROCESS block is what Process names.
PFNs are the builder's only randomness (seeded, one per page).

The verifier's record of MDLs (``FxAllocatedMdls``) is written by the
driver part (:mod:`~wdfdbg.testing.heap.drivers`).
"""

import struct

from wdfdbg.testing.heap.space import PAGE, align

MDL_FLAG_NAMES = [(0x1, "MAPPED_TO_SYSTEM_VA"), (0x2, "PAGES_LOCKED"), (0x4, "SOURCE_IS_NONPAGED_POOL"),
                  (0x8, "ALLOCATED_FIXED_SIZE"), (0x10, "PARTIAL"), (0x20, "PARTIAL_HAS_BEEN_MAPPED"),
                  (0x40, "IO_PAGE_READ"), (0x80, "WRITE_OPERATION"), (0x100, "LOCKED_PAGE_TABLES"),
                  (0x200, "FREE_EXTRA_PTES"), (0x400, "DESCRIBES_AWE"), (0x800, "IO_SPACE"),
                  (0x1000, "NETWORK_HEADER"), (0x2000, "MAPPING_CAN_FAIL"), (0x4000, "PAGE_CONTENTS_INVARIANT"),
                  (0x8000, "INTERNAL")]
MDL_MAPPED_TO_SYSTEM_VA = 0x1
MDL_SOURCE_IS_NONPAGED_POOL = 0x4
MDL_ALLOCATED_FIXED_SIZE = 0x8
MDL_PARTIAL = 0x10


def spanned_pages(va, length):
    """ADDRESS_AND_SIZE_TO_SPAN_PAGES."""
    return ((va & (PAGE - 1)) + length + PAGE - 1) >> 12


def mdl_flag_names(flags):
    return [n for bit, n in MDL_FLAG_NAMES if flags & bit]


class Mdl(object):
    __slots__ = ("addr", "next", "size", "flags", "byte_count", "byte_offset", "start_va", "mapped", "process",
                 "pfns", "owner", "tracked", "problems", "label", "pool_tag", "referenced_by")


class MdlBuilder(object):
    """Part of :class:`~wdfdbg.testing.heap.HeapBuilder`: MDLs. Relies on
    the core (pool, layouts, the seeded RNG)."""

    def _init_mdls(self):
        self.MDL_HDR = self.t("_MDL").size
        self.mdls = []
        self._pfns = {}
        self._eprocess = None

    def pfn(self, va):
        """The page frame of ``va``'s page (random once per page, then fixed)."""
        page = va & ~(PAGE - 1)
        v = self._pfns.get(page)
        if v is None:
            v = self.rng.randrange(0x10000, 0x7ffff)
            self._pfns[page] = v
        return v

    def eprocess(self):
        """The stand-in process of user-mode MDLs (an opaque pool block)."""
        if self._eprocess is None:
            a, _ = self.pool(0x80, "Proc")
            self._eprocess = a
        return self._eprocess

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
            if flags & MDL_SOURCE_IS_NONPAGED_POOL:
                mapped = va
            elif flags & MDL_MAPPED_TO_SYSTEM_VA:
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
        """Chain ``b`` after ``a`` (b=None ends the chain)."""
        a.next = b.addr if b is not None else 0
        self.put(a.addr, "_MDL", {"Next": a.next})

    def partial_mdl(self, source, va, length, label=None):
        """IoBuildPartialMdl(source, new, va, length)."""
        first = (va & ~(PAGE - 1)) - source.start_va
        pages = spanned_pages(va, length)
        pf = source.pfns[first // PAGE:first // PAGE + pages]
        flags = MDL_ALLOCATED_FIXED_SIZE | MDL_PARTIAL | (source.flags & MDL_SOURCE_IS_NONPAGED_POOL)
        if source.flags & MDL_SOURCE_IS_NONPAGED_POOL:
            mapped = source.mapped + (va - (source.start_va + source.byte_offset))
        else:
            mapped = 0
        m = self.mdl(va, length, flags, process=source.process, mapped=mapped, pfns=pf, label=label)
        m.referenced_by.append(("partial-of", source.addr))
        return m
