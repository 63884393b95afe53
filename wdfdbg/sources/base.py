"""The target interface and the page cache in front of every backend.

A backend implements :class:`Backend`: it answers ``read_page`` for one
page-aligned address at a time, and describes the target (arch, pointer
size, symbols, modules, types, bugcheck). :class:`Target` is what the rest
of wdfdbg uses; it never lets a backend see a read that is not a whole page,
and it asks for each page at most once while the page stays cached.
"""

import bisect
import struct

from wdfdbg.errors import ReadError

ARCH_POINTER_SIZE = {"x64": 8, "x86": 4, "arm64": 8}


class Module(object):
    """A loaded image: ``name`` without extension, ``base``, ``size``.
    Its identity, when known (``wdfdbg.sources.symbols``): ``timestamp`` and
    ``image_size`` (the PE header's TimeDateStamp and SizeOfImage), ``file``
    (``Wdf01000.sys``) and ``pdb`` ``(name, guid, age)`` from its CodeView
    record."""

    __slots__ = ("name", "base", "size", "path", "timestamp", "file", "image_size", "pdb")

    def __init__(self, name, base, size, path=None, timestamp=None, file=None, image_size=None, pdb=None):
        self.name = name
        self.base = base
        self.size = size
        self.path = path
        self.timestamp = timestamp
        self.file = file
        self.image_size = image_size
        self.pdb = pdb

    def contains(self, address):
        return self.base <= address < self.base + self.size

    def __repr__(self):
        return "Module(%r, 0x%x, 0x%x)" % (self.name, self.base, self.size)


class Bugcheck(object):
    """Bugcheck code and its four parameters (ints)."""

    __slots__ = ("code", "parameters")

    def __init__(self, code, parameters):
        self.code = int(code)
        params = [int(p) for p in parameters][:4]
        while len(params) < 4:
            params.append(0)
        self.parameters = params

    def __repr__(self):
        return "Bugcheck(0x%x, [%s])" % (self.code, ", ".join("0x%x" % p for p in self.parameters))


class Page(object):
    """One page as a backend returns it.

    ``data`` is exactly ``page_size`` bytes (a bytes, bytearray or
    memoryview). ``valid`` is ``None`` when the whole page is readable, else a
    sorted tuple of ``(start, end)`` offsets that are; bytes outside them are
    unreadable and their content in ``data`` is meaningless.

    Lookups bisect: a page may hold thousands of runs (2,048 one-byte ranges
    in a 4 KiB page of a snapshot), and a scan asks about each of them, so a
    linear walk per read made a 200,000-range snapshot take 21 s to scan.
    """

    __slots__ = ("data", "valid", "_index")

    def __init__(self, data, valid=None):
        self.data = data
        self.valid = valid
        self._index = None

    def _runs_index(self):
        """``(starts, ends)`` of ``valid`` merged where runs touch or
        overlap, built on first use and rebuilt if ``valid`` is replaced."""
        idx = self._index
        if idx is not None and idx[0] is self.valid:
            return idx[1], idx[2]
        starts, ends = [], []
        for vs, ve in self.valid:
            if ve <= vs:
                continue
            if ends and vs <= ends[-1]:
                if ve > ends[-1]:
                    ends[-1] = ve
            else:
                starts.append(vs)
                ends.append(ve)
        self._index = (self.valid, starts, ends)
        return starts, ends

    def first_invalid(self, start, end):
        """Return the first unreadable offset in ``[start, end)`` or None."""
        if self.valid is None or start >= end:
            return None
        starts, ends = self._runs_index()
        i = bisect.bisect_right(starts, start) - 1
        if i < 0 or ends[i] <= start:
            return start
        # merged runs never touch, so the byte after this run is unreadable
        return None if ends[i] >= end else ends[i]

    def get(self, off, size):
        """The bytes at ``[off, off + size)`` (the caller checked they are valid)."""
        return bytes(self.data[off:off + size])

    def runs(self):
        """``[(offset, bytes)]`` of the readable runs."""
        if self.valid is None:
            return [(0, bytes(self.data))]
        return [(s, bytes(self.data[s:e])) for s, e in self.valid if e > s]

    def nbytes(self):
        """What the page costs in a cache (its readable bytes, at least a header's worth)."""
        if self.valid is None:
            return len(self.data) + PAGE_OVERHEAD
        return sum(e - s for s, e in self.valid) + PAGE_OVERHEAD * (1 + len(self.valid))


class SparsePage(Page):
    """A partly readable page kept as its readable runs only: a huge page
    (``page_size`` up to 2 MiB) holding a few captured bytes costs those
    bytes, not a page-sized buffer. ``segments`` are ``(offset, bytes-like)``
    sorted, non-overlapping; ``data`` builds the full page on demand."""

    __slots__ = ("segments", "size", "_starts")

    def __init__(self, segments, size):
        self.segments = tuple(segments)
        self.size = size
        self.valid = tuple((s, s + len(d)) for s, d in self.segments)
        self._index = None
        self._starts = [s for s, _ in self.segments]

    @property
    def data(self):
        buf = bytearray(self.size)
        for s, d in self.segments:
            buf[s:s + len(d)] = d
        return buf

    def get(self, off, size):
        segs = self.segments
        end = off + size
        i = max(0, bisect.bisect_right(self._starts, off) - 1)
        out = []
        while i < len(segs) and segs[i][0] < end:
            s, d = segs[i]
            e = s + len(d)
            if e > off:
                lo = max(s, off)
                out.append(bytes(d[lo - s:min(e, end) - s]))
            i += 1
        return b"".join(out)

    def runs(self):
        return [(s, bytes(d)) for s, d in self.segments if len(d)]


PAGE_OVERHEAD = 64


class Backend(object):
    """What a :class:`Target` reads from. Subclasses override what they know.

    Attributes: ``arch`` ("x64", "x86", "arm64"), ``pointer_size``,
    ``page_size``, ``os_build`` (int or None), ``kmdf_version`` (str or
    None), ``kind`` (e.g. "snapshot", "minidump", "pykd"), ``path``,
    ``origin`` ("recorded", "converted", "synthetic", "live", "dump").
    """

    arch = "x64"
    pointer_size = 8
    page_size = 4096
    os_build = None
    kmdf_version = None
    kind = "unknown"
    path = None
    origin = None
    description = None

    def read_page(self, page_address):
        """Return a :class:`Page` for ``page_address`` or raise ReadError."""
        raise ReadError(page_address, reason="not readable (no memory in this backend)")

    def symbol(self, name):
        """``"module!name"`` -> address, or None."""
        return None

    def symbol_at(self, address):
        """Exact or nearest preceding symbol: ``(name, displacement)`` or None."""
        return None

    def modules(self):
        """List of :class:`Module`."""
        return []

    def type_source(self, module):
        """An object with ``user_type(name)``, ``base_type(name)`` and
        ``enum(name)`` returning ISF entries (dicts) or None, for ``module``;
        None when this backend has no types for that module."""
        return None

    def bugcheck(self):
        """A :class:`Bugcheck` or None."""
        return None

    def crash_thread(self):
        """The KTHREAD address the crashing processor was running, or None
        when this source does not say."""
        return None

    # Read-ahead: how many bytes a Target may ask for in one read_run when
    # a page is missed. 0 (local files): a page costs no round trip, so
    # fetch only what is asked for; the pykd backend asks for 64 KiB.
    readahead = 0

    def ranges(self):
        """Readable ``(address, size)`` ranges when they can be listed (for a
        scan of all memory), else None."""
        return None

    def known_readable(self, page_address, max_pages):
        """How many whole pages from ``page_address`` on (at most
        ``max_pages``) this backend knows to be readable without reading
        them; 0 when it does not know. The default answers from
        :meth:`ranges`."""
        idx = RangeIndex.of(self)
        if idx is None:
            return 0
        return idx.whole_pages(page_address, self.page_size, max_pages)

    def read_run(self, page_address, max_pages):
        """One round trip: the page at ``page_address`` and up to
        ``max_pages - 1`` following ones, as a list of :class:`Page` (at
        least one; raises ReadError for the first). The default reads the
        pages :meth:`known_readable` vouches for, one by one (local backends
        have no round trip to save)."""
        n = self.known_readable(page_address, max_pages) if max_pages > 1 else 0
        out = [self.read_page(page_address)]
        ps = self.page_size
        for i in range(1, n):
            try:
                out.append(self.read_page(page_address + i * ps))
            except ReadError:
                break
        return out

    def close(self):
        pass


# A snapshot cut from a dump keeps the crashing thread under this top-level key
# (sources/convert.py, sources/recording.py; readers ignore keys they do not know).
CRASH_THREAD_KEY = "crash_thread"


def backend_crash_thread(backend):
    """``crash_thread()`` of the first backend in a wrapper chain that
    answers it (recording and ``--types`` wrappers forward through
    ``inner``), or the ``crash_thread`` key of a snapshot; None when no
    layer knows."""
    from wdfdbg.sources.snapshot import parse_hex
    for _ in range(8):
        if backend is None:
            return None
        meth = getattr(type(backend), "crash_thread", None)
        if meth is not None and meth is not Backend.crash_thread:
            return backend.crash_thread() or None
        doc = getattr(getattr(backend, "snap", None), "doc", None)
        if isinstance(doc, dict):
            return parse_hex(doc.get(CRASH_THREAD_KEY)) or None
        backend = getattr(backend, "inner", None)
    return None


CRASH_REGISTERS_KEY = "crash_registers"
MAX_REGISTERS = 64


def backend_crash_registers(backend):
    """The saved context's integer registers (name -> value) from the first
    backend in a wrapper chain that has them (``crash_registers()``), or the
    ``crash_registers`` key of a snapshot (``{name: "0x..."}``, as a
    recording of a dump keeps them); {} when no layer has them."""
    from wdfdbg.sources.snapshot import parse_hex
    for _ in range(8):
        if backend is None:
            return {}
        meth = getattr(type(backend), "crash_registers", None)
        if meth is not None:
            return dict(backend.crash_registers() or {})
        doc = getattr(getattr(backend, "snap", None), "doc", None)
        if isinstance(doc, dict):
            regs = doc.get(CRASH_REGISTERS_KEY)
            out = {}
            if isinstance(regs, dict):
                for name, text in list(regs.items())[:MAX_REGISTERS]:
                    v = parse_hex(text)
                    if isinstance(name, str) and len(name) <= 8 and v is not None:
                        out[name] = v
            return out
        backend = getattr(backend, "inner", None)
    return {}


class ForwardingBackend(Backend):
    """A backend that wraps another (``inner``) and changes some of its
    answers (user types files, PDBs, a recording): the wrapped source's own
    facts are copied, every question a subclass does not override is passed
    on, backend-specific extras (``dump``, ``kmdf_drivers``, ...) included."""

    FACTS = ("arch", "pointer_size", "page_size", "os_build", "kmdf_version", "kind", "path", "origin",
             "description")

    def __init__(self, inner):
        self.inner = inner
        for attr in self.FACTS:
            setattr(self, attr, getattr(inner, attr, getattr(Backend, attr, None)))
        self.interrupt_check = getattr(inner, "interrupt_check", None)

    def __getattr__(self, name):
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def read_page(self, page_address):
        return self.inner.read_page(page_address)

    def symbol(self, name):
        return self.inner.symbol(name)

    def symbol_at(self, address):
        return self.inner.symbol_at(address)

    def modules(self):
        return self.inner.modules()

    def type_source(self, module):
        return self.inner.type_source(module)

    def bugcheck(self):
        return self.inner.bugcheck()

    def ranges(self):
        return self.inner.ranges()

    def close(self):
        self.inner.close()


class RangeIndex(object):
    """Sorted, merged readable ``(start, end)`` regions: a backend's
    ``ranges()`` for :meth:`Backend.known_readable` (built once per backend,
    kept on it), and the dump file's regions behind a pykd target
    (``PykdMemory.regions``)."""

    __slots__ = ("starts", "ends")

    @classmethod
    def of(cls, backend):
        idx = backend.__dict__.get("_range_index", False)
        if idx is False:
            r = backend.ranges()
            idx = None if r is None else cls(r)
            backend.__dict__["_range_index"] = idx
        return idx

    def __init__(self, ranges):
        merged = []
        for a, n in sorted((int(a), int(n)) for a, n in ranges if n > 0):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], a + n)
            else:
                merged.append([a, a + n])
        self.starts = [a for a, _ in merged]
        self.ends = [e for _, e in merged]

    def ranges(self):
        """``[(start, size)]``, as ``Backend.ranges`` gives them."""
        return [(a, e - a) for a, e in zip(self.starts, self.ends)]

    def covering(self, address):
        """(start, end) of the merged range holding ``address``, or None."""
        i = bisect.bisect_right(self.starts, address) - 1
        if i >= 0 and address < self.ends[i]:
            return self.starts[i], self.ends[i]
        return None

    def overlapping(self, start, end):
        """``[(lo, hi)]`` of the readable parts of ``[start, end)``."""
        i = max(0, bisect.bisect_right(self.starts, start) - 1)
        out = []
        while i < len(self.starts) and self.starts[i] < end:
            lo, hi = max(self.starts[i], start), min(self.ends[i], end)
            if hi > lo:
                out.append((lo, hi))
            i += 1
        return out

    def whole_pages(self, page_address, page_size, max_pages):
        r = self.covering(page_address)
        if r is None:
            return 0
        return max(0, min(max_pages, (r[1] - page_address) // page_size))


class IsfSource(object):
    """A type source over one ISF document (``user_type``, ``base_type``,
    ``enum`` return the ISF entries or None); ``label`` names where the
    types came from in reports (None: the caller's default)."""

    def __init__(self, doc, label=None):
        self.doc = doc or {}
        self.label = label
        self._ut = self.doc.get("user_types") or {}
        self._bt = self.doc.get("base_types") or {}
        self._en = self.doc.get("enums") or {}

    def user_type(self, name):
        return self._ut.get(name)

    def base_type(self, name):
        return self._bt.get(name)

    def enum(self, name):
        return self._en.get(name)


class SymbolTable(object):
    """Name <-> address map with nearest-symbol lookup (for vtables)."""

    def __init__(self, symbols):
        self.by_name = {}
        self.by_lower = {}
        pairs = []
        for name, addr in symbols.items():
            self.by_name[name] = addr
            self.by_lower[name.lower()] = addr
            pairs.append((addr, name))
        pairs.sort()
        self._addrs = [a for a, _ in pairs]
        self._names = [n for _, n in pairs]
        self.exact = {}
        for a, n in pairs:
            self.exact.setdefault(a, n)

    def lookup(self, name):
        addr = self.by_name.get(name)
        if addr is None:
            addr = self.by_lower.get(name.lower())
        return addr

    def at(self, address):
        name = self.exact.get(address)
        if name is not None:
            return name, 0
        i = bisect.bisect_right(self._addrs, address) - 1
        if i < 0:
            return None
        return self._names[i], address - self._addrs[i]


_U = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"), 8: struct.Struct("<Q")}


class Target(object):
    """The interface every decoder uses.

    Reads go through a page cache bounded in bytes (``cache_bytes``, by
    default ``cache_pages`` 4 KiB pages' worth: 256 MiB), whatever the page
    size: a page costs what :meth:`Page.nbytes` says. Counters:

    - :attr:`backend_reads`: round trips to the backend's memory (calls to
      ``read_page``/``read_run``): the debugger round trips under pykd;
    - :attr:`pages_fetched`: pages those round trips brought in (read-ahead
      included);
    - :attr:`reads`: calls made to :meth:`read`.

    Read-ahead: on a miss, when the backend's ``readahead`` (or the
    ``readahead`` argument, bytes) covers two pages or more, the run of
    following pages the backend knows to be readable comes in the same round
    trip (:meth:`Backend.read_run`).

    A ``MemoryError`` is never turned into "unreadable": it propagates, and
    the command ends with one line.
    """

    def __init__(self, backend, cache_pages=65536, cache_bytes=None, readahead=None):
        self.backend = backend
        self.arch = backend.arch
        self.pointer_size = backend.pointer_size
        self.page_size = backend.page_size
        self.os_build = backend.os_build
        self.kmdf_version = backend.kmdf_version
        self.kind = backend.kind
        self.path = backend.path
        self.origin = backend.origin
        self._page_mask = ~(self.page_size - 1)
        self._cache = {}
        if cache_bytes is None:
            cache_bytes = max(16, int(cache_pages)) * 4096
        self.cache_bytes = max(int(cache_bytes), 4 * self.page_size)
        self._cached_bytes = 0
        ra = getattr(backend, "readahead", 0) if readahead is None else readahead
        self.readahead_pages = max(1, int(ra or 0) // self.page_size)
        self.backend_reads = 0
        self.pages_fetched = 0
        self.reads = 0
        self._modules = None
        self._ptr = _U[self.pointer_size]
        self.pointer_mask = (1 << (8 * self.pointer_size)) - 1
        self.interrupt_check = None  # set by the pykd target: raises KeyboardInterrupt on Ctrl+Break

    # -- memory --------------------------------------------------------
    def _store(self, pa, page):
        cost = PAGE_OVERHEAD if isinstance(page, ReadError) else page.nbytes()
        if self._cached_bytes + cost > self.cache_bytes and self._cache:
            # FIFO eviction of the oldest quarter of the bytes: cheap and bounded.
            goal = self._cached_bytes - self.cache_bytes // 4
            for key in list(self._cache):
                if self._cached_bytes <= goal and self._cached_bytes + cost <= self.cache_bytes:
                    break
                old = self._cache.pop(key)
                self._cached_bytes -= old[1]
        self._cache[pa] = (page, cost)
        self._cached_bytes += cost

    def _page(self, pa):
        hit = self._cache.get(pa)
        if hit is None:
            self.backend_reads += 1
            try:
                if self.readahead_pages > 1:
                    pages = self.backend.read_run(pa, self.readahead_pages)
                else:
                    pages = [self.backend.read_page(pa)]
            except ReadError as e:
                pages = [e]
            except (OSError, ValueError) as e:  # backend trouble = unreadable (never MemoryError)
                pages = [ReadError(pa, reason="not readable (%s)" % e)]
            self.pages_fetched += len(pages)
            page = pages[0]
            self._store(pa, page)
            ps = self.page_size
            for i, extra in enumerate(pages[1:], 1):
                if pa + i * ps not in self._cache:
                    self._store(pa + i * ps, extra)
        else:
            page = hit[0]
        if isinstance(page, ReadError):
            raise ReadError(page.address, reason=page.reason)
        return page

    def read(self, address, size):
        """Return ``size`` bytes at ``address`` or raise :class:`ReadError`
        naming the first unreadable address."""
        self.reads += 1
        if size <= 0:
            return b""
        if address < 0 or address + size - 1 > self.pointer_mask:
            raise ReadError(address, size, "outside the address space")
        ps = self.page_size
        pa = address & self._page_mask
        off = address - pa
        if off + size <= ps:
            try:
                page = self._page(pa)
            except ReadError as e:
                raise ReadError(max(address, e.address), size, e.reason)
            if page.valid is not None:
                bad = page.first_invalid(off, off + size)
                if bad is not None:
                    raise ReadError(pa + bad, size)
            return page.get(off, size)
        out = []
        remaining = size
        while remaining > 0:
            n = min(ps - off, remaining)
            try:
                page = self._page(pa)
            except ReadError as e:
                raise ReadError(max(pa + off, e.address), size, e.reason)
            if page.valid is not None:
                bad = page.first_invalid(off, off + n)
                if bad is not None:
                    raise ReadError(pa + bad, size)
            out.append(page.get(off, n))
            remaining -= n
            pa += ps
            off = 0
        return b"".join(out)

    def is_readable(self, address, size=1):
        try:
            self.read(address, size)
            return True
        except ReadError:
            return False

    def read_uint(self, address, size):
        return _U[size].unpack(self.read(address, size))[0]

    def read_u16(self, address):
        return self.read_uint(address, 2)

    def read_u32(self, address):
        return self.read_uint(address, 4)

    def read_u64(self, address):
        return self.read_uint(address, 8)

    def read_pointer(self, address):
        return self._ptr.unpack(self.read(address, self.pointer_size))[0]

    def read_cstring(self, address, limit=256):
        """A NUL-terminated byte string, decoded as Latin-1, at most ``limit``
        bytes; reads only as far as readable."""
        out = bytearray()
        addr = address
        while len(out) < limit:
            n = min(limit - len(out), self.page_size - (addr % self.page_size))
            try:
                chunk = self.read(addr, n)
            except ReadError:
                if not out:
                    raise
                break
            nul = chunk.find(b"\0")
            if nul >= 0:
                out += chunk[:nul]
                break
            out += chunk
            addr += n
        return out.decode("latin-1")

    def check_interrupt(self):
        """Raise KeyboardInterrupt if the user asked to stop (Ctrl+Break)."""
        if self.interrupt_check is not None:
            self.interrupt_check()

    # -- symbols and modules ------------------------------------------
    def symbol(self, name):
        return self.backend.symbol(name)

    def symbol_at(self, address):
        return self.backend.symbol_at(address)

    def modules(self):
        if self._modules is None:
            self._modules = sorted(self.backend.modules(), key=lambda m: m.base)
        return self._modules

    def module(self, name):
        low = name.lower()
        for m in self.modules():
            if m.name.lower() == low:
                return m
        return None

    def module_of(self, address):
        for m in self.modules():
            if m.contains(address):
                return m
        return None

    def describe_address(self, address):
        """``module!symbol+0xN`` or ``module+0xN`` or None."""
        sym = self.symbol_at(address)
        if sym is not None:
            name, disp = sym
            mod = self.module_of(address)
            if mod is None or name.lower().startswith(mod.name.lower() + "!"):
                return name if disp == 0 else "%s+0x%x" % (name, disp)
        mod = self.module_of(address)
        if mod is not None:
            return "%s+0x%x" % (mod.name, address - mod.base)
        return None

    def type_source(self, module):
        return self.backend.type_source(module)

    def bugcheck(self):
        return self.backend.bugcheck()

    def ranges(self):
        return self.backend.ranges()

    def close(self):
        self.backend.close()
