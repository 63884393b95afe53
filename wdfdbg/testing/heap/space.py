"""The synthetic address space: growing regions of bytes, pages cut out as
holes, and a packer for fixed lists of struct fields.

No C type is laid out here; every other part of :mod:`wdfdbg.testing.heap`
writes through :class:`Heap` (``write``/``pack``/``put``) and
:class:`StructWriter`. Offsets always come from the profile's layouts (the
caller names the fields), never from this module.
"""

import bisect
import struct

PAGE = 4096


def align(v, a):
    return (v + a - 1) & ~(a - 1)


def pattern(text, n):
    """``n`` recognisable bytes: ``text`` repeated (ASCII)."""
    unit = text.encode("ascii")
    if not unit:
        return bytes(n)
    return (unit * (n // len(unit) + 1))[:n]


def tag_value(tag):
    """'AmdP' -> the little-endian ULONG whose bytes in memory read 'AmdP'."""
    return int.from_bytes(tag.encode("latin-1")[:4].ljust(4, b" "), "little")


def tag_text(value):
    return value.to_bytes(4, "little").decode("latin-1")


class Region(object):
    """One growing bytearray of readable memory starting at ``base``."""

    __slots__ = ("name", "base", "buf", "used", "last_block")

    def __init__(self, name, base):
        self.name = name
        self.base = base
        self.buf = bytearray()
        self.used = 0
        self.last_block = None   # the last nt pool block placed (for _POOL_HEADER.PreviousSize)

    @property
    def cursor(self):
        return self.base + self.used

    def take(self, start, size):
        """Claim ``[start, start+size)`` (start at or past the cursor)."""
        need = start + size - self.base
        if need > len(self.buf):
            # grow geometrically (bounded) so a 10^6-object heap is not copied 10^6 times
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
