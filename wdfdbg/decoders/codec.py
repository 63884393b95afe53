"""Per-object hot paths: precompiled field decoding and compact address sets.

* :class:`FieldCodec`: chosen scalar fields of one struct layout decoded by
  one precompiled :class:`struct.Struct` into a tuple in a fixed order (None
  for a field the layout lacks), instead of ``Layout.decode``'s dict of
  every field read back with ``rec.get("m_...")``. Built once per (layout,
  field list) and kept in the session's derived facts.
* :class:`AddressSet`: a set of addresses in compact form (a bitmap per
  page) for the walks' cycle checks, which must remember every object of a
  tree of a million objects.
"""

import operator
import struct

# The same codes StructLayout uses, so a codec decodes exactly what
# Layout.decode does (signed only for int, char and enum members).
_INT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
              (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}
_SCALAR_KINDS = ("int", "char", "bool", "pointer", "enum", "float")


class FieldCodec(object):
    """``names`` of ``layout`` through one :class:`struct.Struct`.

    :meth:`unpack` ``(data, base)`` returns a tuple in ``names`` order;
    ``data`` must hold at least :attr:`end` bytes from ``base`` (callers
    read the whole struct, or fall back to ``Layout.decode`` for a partial
    read). ``present`` says which names the layout has; a field that is not
    a plain scalar (a union, an array) decodes as None, like a missing one.
    """

    __slots__ = ("names", "present", "end", "_st", "_pick", "_n")

    def __init__(self, layout, names):
        self.names = tuple(names)
        items = []
        for i, name in enumerate(self.names):
            f = layout.flat.get(name)
            if f is None or f.kind not in _SCALAR_KINDS or f.size not in (1, 2, 4, 8):
                continue
            if f.kind == "float":
                code = "f" if f.size == 4 else "d"
            else:
                code = _INT_CODES[(f.size, bool(f.signed and f.kind in ("int", "char", "enum")))]
            items.append((f.offset, f.size, code, i))
        items.sort()
        fmt = ["<"]
        pos = 0
        kept = []
        for off, size, code, i in items:
            if off < pos:
                continue  # overlapping members (a union): the first one wins
            if off > pos:
                fmt.append("%dx" % (off - pos))
            fmt.append(code)
            pos = off + size
            kept.append(i)
        self._st = struct.Struct("".join(fmt))
        self.end = pos
        self.present = tuple(i in kept for i in range(len(self.names)))
        slot = dict((i, k) for k, i in enumerate(kept))
        missing = len(kept)  # index of the None appended to each unpack
        picks = [slot.get(i, missing) for i in range(len(self.names))]
        self._n = len(picks)
        self._pick = operator.itemgetter(*picks) if len(picks) > 1 else None

    def unpack(self, data, base=0):
        values = self._st.unpack_from(data, base) + (None,)
        if self._pick is None:
            return (values[0] if self._n else None,)
        return self._pick(values)

    def has(self, name):
        return self.present[self.names.index(name)]


class AddressSet(object):
    """A set of addresses, compact: one int per page used as a bitmap of
    its 8-byte slots (objects, list entries and pool blocks are at least
    8-aligned), so a tree of a million objects costs about 10 bytes per
    address instead of the ~90 of a ``set`` of Python ints. Unaligned
    addresses (only in corrupt memory) go to a plain set."""

    __slots__ = ("_pages", "_odd", "_len")

    def __init__(self):
        self._pages = {}
        self._odd = None
        self._len = 0

    def add(self, address):
        if address & 7:
            if self._odd is None:
                self._odd = set()
            if address not in self._odd:
                self._odd.add(address)
                self._len += 1
            return
        page = address >> 12
        bit = 1 << ((address & 0xFFF) >> 3)
        bits = self._pages.get(page, 0)
        if not bits & bit:
            self._pages[page] = bits | bit
            self._len += 1

    def __contains__(self, address):
        if address & 7:
            return self._odd is not None and address in self._odd
        return bool(self._pages.get(address >> 12, 0) & (1 << ((address & 0xFFF) >> 3)))

    def __len__(self):
        return self._len
