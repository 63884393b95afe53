"""Reading target memory through pykd at the fewest round trips.

Used by :class:`wdfdbg.sources.pykd_target.PykdBackend`, which hands it the
pykd module (this module never imports pykd). What pykd 0.3.4 offers and
how it behaves (github:ivellioscolin/pykd ``pykd/pymod.cpp`` exports;
kdlib github:ivellioscolin/kdlibcpp):

- ``loadBytes(offset, count)`` is all or nothing: kdlib ``loadArray``
  (``kdlib/source/memaccess.cpp``) checks ``isVaRegionValid(offset, count)``
  first and raises ``MemoryException`` naming ``offset``, whatever byte is
  missing. So a failed read says nothing about where the gap is.
- ``isVaRegionValid(addr, n)`` is true when all ``n`` bytes are readable
  (``kdlib/source/win/dbgmem.cpp``, dbgeng ``GetValidRegionVirtual``);
  ``isValid(addr)`` checks one byte.
- ``findMemoryRegion`` raises ``DbgException`` on every kernel target
  (``dbgmem.cpp``: "findMemoryRegion does not work in the kernel mode"), so
  no pykd call lists a kernel target's readable memory; the regions (a
  :class:`~wdfdbg.sources.base.RangeIndex`) therefore come from the dump
  file itself when there is one.

Strategy, per missed page (``read_run``):

1. The readable regions are known (a dump whose file wdfdbg can read): the
   page's readable runs are known exactly. A run of whole readable pages
   comes in one ``loadBytes`` (read-ahead up to ``max_pages``); a partly
   readable page costs one ``loadBytes`` per readable run, and an
   unreadable page costs nothing. If the debugger disagrees with the file
   (a ``loadBytes`` fails), the run's readable prefix is found by a binary
   search with ``isVaRegionValid`` (at most 12 calls for 4 KiB).
2. Unknown regions: a window of pages is read speculatively in one call
   (live memory is readable by whole pages). A window that fails costs one
   wasted call and halves; each success doubles it (up to 16 pages). Waste
   is bounded: speculation stops while the failed windows outnumber the
   calls read-ahead saved by :data:`CREDIT`. Then the page alone: on a live
   target an unreadable page is one call; on a dump its readable prefix is
   found by binary search (``isValid`` first: an unreadable first byte
   ends it in one call).
"""

from wdfdbg.errors import ReadError
from wdfdbg.sources.base import Page, SparsePage

MAX_WINDOW = 16
CREDIT = 4          # failed speculative reads allowed beyond the calls read-ahead saved


class PykdMemory(object):
    """Page reads over one pykd module (``p``); ``regions``: the dump file's
    readable regions (a :class:`~wdfdbg.sources.base.RangeIndex`) or None;
    ``live``: a live target (see the module doc).
    ``calls`` counts pykd calls by name; ``wasted`` the speculative reads
    that failed, ``saved`` the calls read-ahead spared."""

    def __init__(self, p, page_size, live, regions=None):
        self._p = p
        self._mem_exc = getattr(p, "MemoryException", None) or Exception
        self._dbg_exc = getattr(p, "DbgException", None) or self._mem_exc
        self.page_size = page_size
        self.live = live
        self.regions = regions
        self.calls = {}
        self.window = MAX_WINDOW
        self.wasted = 0
        self.saved = 0

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def load(self, address, count):
        """``loadBytes`` as bytes; raises the pykd exception."""
        self._count("loadBytes")
        return bytes(bytearray(self._p.loadBytes(address, count)))

    def _valid(self, address, count):
        self._count("isVaRegionValid")
        try:
            return bool(self._p.isVaRegionValid(address, count))
        except self._dbg_exc:
            return False

    def _first_valid(self, address):
        self._count("isValid")
        try:
            return bool(self._p.isValid(address))
        except self._dbg_exc:
            return False

    def _prefix(self, address, limit):
        """Length of the readable prefix of ``[address, address + limit)``
        (binary search with isVaRegionValid; ``limit`` itself known bad)."""
        if not self._first_valid(address):
            return 0
        lo, hi = 1, limit   # lo readable, hi not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._valid(address, mid):
                lo = mid
            else:
                hi = mid
        return lo

    def _refused(self, pa, e):
        return ReadError(pa, reason="not readable (%s)" % e)

    # -- reads ---------------------------------------------------------------
    def read_run(self, pa, max_pages):
        """Pages from ``pa`` (see :meth:`wdfdbg.sources.base.Backend.read_run`)."""
        if self.regions is not None:
            return self._known(pa, max_pages)
        return self._speculate(pa, max_pages)

    def _pages(self, pa, data):
        ps = self.page_size
        return [Page(data[i:i + ps]) for i in range(0, len(data), ps)]

    def _known(self, pa, max_pages):
        ps = self.page_size
        runs = self.regions.overlapping(pa, pa + ps)
        if not runs:
            raise ReadError(pa, reason="not readable (not in the dump)")
        if runs[0] == (pa, pa + ps):
            whole = self.regions.overlapping(pa, pa + max(1, max_pages) * ps)[0]
            n = max(1, (whole[1] - pa) // ps)
            try:
                data = self.load(pa, n * ps)
                self.saved += n - 1
                return self._pages(pa, data)
            except self._mem_exc:
                pass            # the debugger disagrees with the file: find what it has
            except self._dbg_exc as e:
                raise self._refused(pa, e)
            return [self._page_with_prefix(pa, loaded=True)]
        segs = []
        for lo, hi in runs:
            try:
                segs.append((lo - pa, self.load(lo, hi - lo)))
            except self._mem_exc:
                n = self._prefix(lo, hi - lo)
                if n:
                    segs.append((lo - pa, self.load(lo, n)))
            except self._dbg_exc as e:
                raise self._refused(pa, e)
        if not segs:
            raise ReadError(pa, reason="not readable (paged out or not in the dump)")
        return [SparsePage(segs, ps)]

    def _speculate(self, pa, max_pages):
        ps = self.page_size
        w = max(1, min(self.window, max_pages))
        if w > 1 and self.wasted < self.saved + CREDIT:
            try:
                data = self.load(pa, w * ps)
                self.saved += w - 1
                self.window = min(MAX_WINDOW, 2 * w)
                return self._pages(pa, data)
            except self._mem_exc:
                self.wasted += 1
                self.window = max(1, w // 2)
            except self._dbg_exc as e:
                raise self._refused(pa, e)
        if not self.live:
            return [self._page_with_prefix(pa)]
        try:
            page = Page(self.load(pa, ps))
        except self._mem_exc:
            raise ReadError(pa, reason="not readable (paged out)")
        except self._dbg_exc as e:
            raise self._refused(pa, e)
        return [page]

    def _page_with_prefix(self, pa, loaded=False):
        """One page; when ``loadBytes`` refuses it, its readable prefix."""
        ps = self.page_size
        if not loaded:
            try:
                return Page(self.load(pa, ps))
            except self._mem_exc:
                pass
            except self._dbg_exc as e:
                raise self._refused(pa, e)
        n = self._prefix(pa, ps)
        if not n:
            raise ReadError(pa, reason="not readable (paged out or not in the dump)")
        try:
            return SparsePage([(0, self.load(pa, n))], ps)
        except self._dbg_exc as e:
            raise self._refused(pa, e)
