"""Which object a problem belongs to, decided while records stream out.

The rule is the report's (``render/report.assign_problems``): a problem
belongs to the object with the greatest address at or below the problem's
address, when the problem lies inside it (``[address, address +
max(m_ObjectSize, sizeof(FxObject)))``). A streaming walk applies it in two
steps:

* when an object is emitted, the problems already found inside it join its
  record (:meth:`ProblemAssigner.assign`), unless an object emitted earlier
  lies between it and the problem;
* a problem found after its object left (a LIKELY_LEAK at a parent, a
  CHILD_LIST_CYCLE at a list head, a lookaside check for a memory object
  that came later) is matched at the end against the compact index of
  every emitted object (:meth:`ProblemAssigner.finish`): the renderers put
  it in a later record (the JSON document's second pass over its spooled
  records, a JSONL problem line naming the object, the text's problem
  table).

The only difference from assigning after the whole walk: a problem found
before its object is emitted goes to the first emitted object that holds
it; an object emitted later at a higher address inside the same span (two
objects overlapping, which only corrupt memory makes) does not take it over.

The index costs 16 bytes per object (two 64-bit words in a per-page
array); the pending problems are a sorted list of (address, index) pairs.
"""

import bisect
from array import array

# A problem at most this far past an object's start is inside it when its
# m_ObjectSize says less (sizeof(FxObject) on x64, as the report's rule).
MIN_SPAN = 0x68
MAX_SPAN = 0xFFFF  # m_ObjectSize is a USHORT
_PAGE = 12
_OFFSET = (1 << _PAGE) - 1


class ObjectIndex(object):
    """Emitted objects by address: page -> array of (offset << 32 | span <<
    16 | driver slot, emission number) word pairs."""

    __slots__ = ("_pages",)

    def __init__(self):
        self._pages = {}

    def add(self, address, span, seq, slot):
        page = address >> _PAGE
        arr = self._pages.get(page)
        if arr is None:
            arr = self._pages[page] = array("Q")
        arr.append(((address & ((1 << _PAGE) - 1)) << 32) | (min(span, MAX_SPAN) << 16) | (slot & 0xFFFF))
        arr.append(seq)

    def greatest_at_or_below(self, address):
        """``(object address, span, seq, slot)`` of the emitted object with
        the greatest address <= ``address`` within MAX_SPAN, or None."""
        page = address >> _PAGE
        lowest = (address - MAX_SPAN) >> _PAGE if address >= MAX_SPAN else 0
        while page >= lowest:
            arr = self._pages.get(page)
            if arr:
                best = None
                base = page << _PAGE
                for i in range(0, len(arr), 2):
                    w = arr[i]
                    a = base + (w >> 32)
                    if a <= address and (best is None or a > best[0]):
                        best = (a, (w >> 16) & 0xFFFF, arr[i + 1], w & 0xFFFF)
                if best is not None:
                    return best
            page -= 1
        return None


class ProblemAssigner(object):
    """Assign a ProblemLog's problems to emitted objects (see the module
    docstring). ``late``: emission number -> problems that came after the
    object (filled by :meth:`finish`)."""

    def __init__(self, problems):
        self.log = problems
        self.index = ObjectIndex()
        self.late = {}
        self._taken = 0
        self._pending = []   # sorted (address, log index)

    def _take_new(self):
        items = self.log.items
        pending = self._pending
        while self._taken < len(items):
            p = items[self._taken]
            if p.address is not None:
                bisect.insort(pending, (p.address, self._taken))
            self._taken += 1

    def assign(self, node, seq, slot):
        """Index ``node`` (emission number ``seq``, driver slot ``slot``)
        and attach to it the problems found so far that lie inside it."""
        address = node.address
        span = node.header.object_size or 0
        if span < MIN_SPAN:
            span = MIN_SPAN
        if self._taken < len(self.log.items):
            self._take_new()
        if self._pending:
            self._attach(node, address, span)
        # the index (ObjectIndex.add, inlined: once per object)
        page = address >> _PAGE
        arr = self.index._pages.get(page)
        if arr is None:
            arr = self.index._pages[page] = array("Q")
        arr.append(((address & _OFFSET) << 32) | ((span if span < MAX_SPAN else MAX_SPAN) << 16) | (slot & 0xFFFF))
        arr.append(seq)

    def _attach(self, node, address, span):
        pending = self._pending
        lo = bisect.bisect_left(pending, (address, -1))
        hi = bisect.bisect_left(pending, (address + span, -1), lo)
        if lo >= hi:
            return
        items = self.log.items
        picked = []
        keep = []
        for pa, i in pending[lo:hi]:
            other = self.index.greatest_at_or_below(pa)
            if other is not None and other[0] > address:
                keep.append((pa, i))  # an emitted object lies between: not this one's
            else:
                picked.append(i)
        pending[lo:hi] = keep
        if picked:
            picked.sort()
            node.problems = list(node.problems) + [items[i] for i in picked]

    def finish(self):
        """Match every problem not yet assigned: returns ``{seq: (slot,
        [problems], object address)}`` for those inside an emitted object
        (in log order), also kept as :attr:`late`."""
        self._take_new()
        items = self.log.items
        for pa, i in sorted(self._pending, key=lambda t: t[1]):
            hit = self.index.greatest_at_or_below(pa)
            if hit is None:
                continue
            a, span, seq, slot = hit
            if pa < a + span:
                entry = self.late.get(seq)
                if entry is None:
                    entry = self.late[seq] = (slot, [], a)
                entry[1].append(items[i])
        self._pending = []
        return self.late
