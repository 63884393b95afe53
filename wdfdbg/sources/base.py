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
    """A loaded image: ``name`` without extension, ``base``, ``size``."""

    __slots__ = ("name", "base", "size", "path", "timestamp")

    def __init__(self, name, base, size, path=None, timestamp=None):
        self.name = name
        self.base = base
        self.size = size
        self.path = path
        self.timestamp = timestamp

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
    """

    __slots__ = ("data", "valid")

    def __init__(self, data, valid=None):
        self.data = data
        self.valid = valid

    def first_invalid(self, start, end):
        """Return the first unreadable offset in ``[start, end)`` or None."""
        if self.valid is None:
            return None
        pos = start
        for vs, ve in self.valid:
            if ve <= pos:
                continue
            if vs > pos:
                return pos
            pos = ve
            if pos >= end:
                return None
        return pos if pos < end else None


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

    def ranges(self):
        """Readable ``(address, size)`` ranges when they can be listed (for a
        scan of all memory), else None."""
        return None

    def close(self):
        pass


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

    Reads go through a page cache: :attr:`backend_reads` counts the calls
    made to the backend (one per distinct page while the cache holds it),
    :attr:`reads` the calls made to :meth:`read`.
    """

    def __init__(self, backend, cache_pages=65536):
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
        self._cache_pages = max(16, int(cache_pages))
        self.backend_reads = 0
        self.reads = 0
        self._modules = None
        self._ptr = _U[self.pointer_size]
        self.pointer_mask = (1 << (8 * self.pointer_size)) - 1
        self.interrupt_check = None  # set by the pykd target: raises KeyboardInterrupt on Ctrl+Break

    # -- memory --------------------------------------------------------
    def _page(self, pa):
        page = self._cache.get(pa)
        if page is None:
            if len(self._cache) >= self._cache_pages:
                # FIFO eviction of the oldest quarter: cheap and bounded.
                for key in list(self._cache)[: self._cache_pages // 4]:
                    del self._cache[key]
            self.backend_reads += 1
            try:
                page = self.backend.read_page(pa)
            except ReadError as e:
                page = e
            except (OSError, ValueError, MemoryError) as e:  # backend trouble = unreadable
                page = ReadError(pa, reason="not readable (%s)" % e)
            self._cache[pa] = page
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
            return bytes(page.data[off:off + size])
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
            out.append(bytes(page.data[off:off + n]))
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
