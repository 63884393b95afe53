"""The object tree behind a stream of report object records.

Report records come in tree pre-order with a ``depth`` (``memtree``'s walk),
or, when objects were found by scanning memory, all at depth 0 with a
``parent`` address that may name a record further on or none at all.
:class:`TreeIndex` gives each record the index of its parent record (-1 for
a root) as records arrive, keeping one int per record plus an address
index, never the records. Parents named only by address are resolved in
:meth:`TreeIndex.finish`, refusing any link that would close a cycle (lying
memory can make two objects each other's parent).
"""

from array import array


def parse_hex(text):
    """``"0x1f"`` -> 31; None (or anything not hex) -> None."""
    if not isinstance(text, str):
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


class TreeIndex(object):
    """Parent indexes of records added in report order."""

    def __init__(self):
        self.parents = array("i")
        self._by_address = {}
        self._stack = []    # (depth, index) of the current pre-order path
        self._pending = []  # (index, parent address) resolved by finish()

    def __len__(self):
        return len(self.parents)

    def add(self, rec):
        """Add the next record; returns (index, parent index or -1). A
        parent known only by address is -1 here and set by finish()."""
        i = len(self.parents)
        address = parse_hex(rec.get("address"))
        parent = parse_hex(rec.get("parent"))
        depth = rec.get("depth")
        p = -1
        if isinstance(depth, int) and not isinstance(depth, bool) and depth > 0:
            while self._stack and self._stack[-1][0] >= depth:
                self._stack.pop()
            if self._stack and self._stack[-1][0] == depth - 1:
                p = self._stack[-1][1]
            elif parent is not None:
                self._pending.append((i, parent))
            self._stack.append((depth, i))
        else:
            self._stack = [(0, i)]
            if parent is not None:
                self._pending.append((i, parent))
        if address is not None:
            self._by_address.setdefault(address, i)
        self.parents.append(p)
        return i, p

    def addresses(self):
        """(address, index) of every record with an address (the first
        record, if two share one)."""
        return self._by_address.items()

    def index_of(self, address):
        return self._by_address.get(address)

    def finish(self):
        """Resolve parents named by address; returns [(index, parent index)]
        for the links it made."""
        made = []
        parents = self.parents
        for i, address in self._pending:
            p = self._by_address.get(address)
            if p is None or p == i:
                continue
            # refuse a link that would make i its own ancestor
            q, steps = p, 0
            while q >= 0 and q != i and steps <= len(parents):
                q = parents[q]
                steps += 1
            if q == i:
                continue
            parents[i] = p
            made.append((i, p))
        self._pending = []
        return made
