"""Full, bitmap and kernel dumps (DumpType 1, 5, 6, 8, 9, 10) through the
optional ``kdmp-parser`` package (``pip install wdfdbg[dumps]``).

kdmp-parser indexes the physical pages and translates virtual addresses
through the dump's x64 page tables; this backend asks it for one page at a
time (the :class:`~wdfdbg.sources.base.Target` page cache stitches pages into
arbitrary reads). The header is checked here first, against the file size,
so that a hostile file cannot make the C++ parser loop over absurd page
counts: DumpError for anything out of bounds.
"""

import os
import struct
import sys

from wdfdbg.errors import DumpError, InputError, ReadError
from wdfdbg.sources.base import Backend, Bugcheck, Module, Page
from wdfdbg.sources.inputfile import open_input
from wdfdbg.sources.minidump import (DUMP_TYPES, KERNEL_IMAGES, DumpSymbols, context_registers, header_symbols,
                                     module_name)

PAGE_SIZE = 0x1000
HEADER_SIZE = 0x2000
MAX_RUNS = (700 - 16) // 16
MAX_MODULES = 4096
PRESENCE_CHECK_PAGES = 1 << 20   # build a set of present pages for ranges() below this
CONTEXT = 0x348
PTE_PFN = 0x000FFFFFFFFFF000


def _u32(d, o):
    return struct.unpack_from("<I", d, o)[0]


def _u64(d, o):
    return struct.unpack_from("<Q", d, o)[0]


def _popcount(raw):
    return bin(int.from_bytes(raw, "little")).count("1") if raw else 0


def validate_header(path, head, size):
    """Check what kdmp-parser will trust; return the number of pages the
    dump holds (an upper bound). ``head`` holds at least the first 0x2000
    bytes plus the dump-type specific tables that were read."""
    label = path
    if size < HEADER_SIZE + 0x40:
        raise DumpError("%s: truncated: %d bytes is less than a 64-bit dump header" % (label, size))
    machine = _u32(head, 0x30)
    if machine != 0x8664:
        raise DumpError("%s: machine type 0x%x: kdmp-parser translates x64 page tables only" % (label, machine))
    if _u32(head, CONTEXT + 0x34) != _u32(head, CONTEXT + 0x118):
        raise DumpError("%s: corrupt context record in the dump header (MxCsr copies differ)" % label)
    dump_type = _u32(head, 0xF98)
    if dump_type == 1:
        runs = _u32(head, 0x88)
        if runs == 0x45474150 or runs > MAX_RUNS:
            raise DumpError("%s: absurd physical memory run count %d" % (label, runs))
        total = 0
        for i in range(runs):
            base, count = struct.unpack_from("<QQ", head, 0x98 + 16 * i)
            total += count
            if base + count > (1 << 52):
                raise DumpError("%s: physical memory run %d (page 0x%x, %d pages) is past any physical address"
                                % (label, i, base, count))
        if total * PAGE_SIZE > size - HEADER_SIZE:
            raise DumpError("%s: truncated: the header lists %d pages (%d bytes), the file has %d"
                            % (label, total, total * PAGE_SIZE, size))
        return total
    if dump_type in (5, 6):
        sig, valid = head[0x2000:0x2004], head[0x2004:0x2008]
        if sig not in (b"SDMP", b"FDMP") or valid != b"DUMP":
            raise DumpError("%s: bitmap dump header has signature %r/%r, expected 'SDMP' or 'FDMP' and 'DUMP'"
                            % (label, bytes(sig), bytes(valid)))
        first, present, pages = struct.unpack_from("<QQQ", head, 0x2020)
        bitmap_bytes = (pages + 7) // 8
        if 0x2038 + bitmap_bytes > size:
            raise DumpError("%s: absurd page count %d: its bitmap would need %d bytes, the file has %d"
                            % (label, pages, bitmap_bytes, size))
        if first > size or first < 0x2038:
            raise DumpError("%s: first page offset 0x%x is outside the file (%d bytes)" % (label, first, size))
        return None  # counted by the caller from the bitmap
    if dump_type in (8, 9, 10):
        marker, sig, valid = _u32(head, 0x2000), head[0x2004:0x2008], head[0x2008:0x200C]
        if marker != 0x40 or sig != b"RDMP" or valid != b"DUMP":
            raise DumpError("%s: kernel dump RDMP header is malformed" % label)
        meta, first = struct.unpack_from("<QQ", head, 0x2010)
        if meta > size or first > size or first < 0x2040 or meta < 0x20 or meta - 0x20 != first - 0x2040:
            raise DumpError("%s: RDMP metadata size 0x%x / first page 0x%x do not fit the file (%d bytes)"
                            % (label, meta, first, size))
        return None
    raise DumpError("%s: DumpType %d (%s) is not read through kdmp-parser" % (label, dump_type,
                                                                             DUMP_TYPES.get(dump_type, "unknown")))


def _check_bitmap_pages(path, f, size):
    f.seek(0x2020)
    first, present, pages = struct.unpack("<QQQ", f.read(24))
    bitmap_bytes = pages // 8
    total = 0
    f.seek(0x2038)
    left = bitmap_bytes
    while left > 0:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            break
        total += _popcount(chunk)
        left -= len(chunk)
    if total * PAGE_SIZE > size - first:
        raise DumpError("%s: truncated: the bitmap marks %d pages (%d bytes), the file holds %d after 0x%x"
                        % (path, total, total * PAGE_SIZE, size - first, first))
    return total


def _check_rdmp_ranges(path, f, size):
    f.seek(0x2010)
    meta, first = struct.unpack("<QQ", f.read(16))
    f.seek(0x2030)
    total = 0
    left = min(meta, size) // 16
    while left > 0:
        # in pieces: the metadata size is the file's word, up to its size
        raw = f.read(16 * min(left, 1 << 16))
        if len(raw) < 16:
            break
        left -= len(raw) // 16
        for i in range(len(raw) // 16):
            pfn, count = struct.unpack_from("<QQ", raw, 16 * i)
            if not pfn:
                return total
            total += count
            if total * PAGE_SIZE > size - first:
                raise DumpError("%s: truncated: the PFN ranges list more pages than the file holds" % path)
    return total


class _QuietStdout(object):
    """Silence the C++ parser's printf diagnostics (fd 1) while it runs."""

    def __enter__(self):
        self.saved = None
        try:
            sys.stdout.flush()
            self.saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            try:
                os.dup2(self.saved, 1)
                os.close(self.saved)
            except OSError:
                pass
        return False


def import_kdmp_parser():
    try:
        import kdmp_parser  # noqa: F401
    except ImportError:
        raise InputError("reading full and kernel dumps needs the kdmp-parser package: "
                         "pip install 'wdfdbg[dumps]' (or pip install kdmp-parser)")
    return kdmp_parser


class KdmpBackend(DumpSymbols, Backend):
    """A 64-bit x64 full/bitmap/kernel dump through kdmp-parser."""

    kind = "kernel-dump"
    origin = "dump"

    def __init__(self, path, parser, head, pages):
        self.path = path
        self._p = parser
        self.arch = "x64"
        self.pointer_size = 8
        self.page_size = PAGE_SIZE
        self.dump_type = _u32(head, 0xF98)
        self.description = "%s dump (DumpType %d) via kdmp-parser" % (DUMP_TYPES.get(self.dump_type, "?"), self.dump_type)
        self.os_build = _u32(head, 0xC)
        self.major_version = _u32(head, 0x8)
        self.processors = _u32(head, 0x34)
        self.directory_table_base = _u64(head, 0x10) & ~0xFFF
        self.ps_loaded_module_list = _u64(head, 0x20)
        self.ps_active_process_head = _u64(head, 0x28)
        self.kd_debugger_data_block = _u64(head, 0x80)
        self._bugcheck = Bugcheck(_u32(head, 0x38), struct.unpack_from("<4Q", head, 0x40))
        self.context = {"rsp": _u64(head, CONTEXT + 0x98), "rbp": _u64(head, CONTEXT + 0xA0),
                        "rip": _u64(head, CONTEXT + 0xF8)}
        self.registers = context_registers("x64", head, CONTEXT)
        self.page_count = pages
        self.notes = []
        self._modules = None
        self._ranges = None
        self._tables = {}

    # -- memory ---------------------------------------------------------------
    def read_page(self, page_address):
        pa = self.translate(page_address)
        if pa is None:
            raise ReadError(page_address, reason="not mapped (no valid page table entry in the dump)")
        raw = self._phys(pa)
        if raw is None:
            raise ReadError(page_address, reason="its physical page 0x%x is not in the dump" % pa)
        return Page(raw)

    def _phys(self, pa):
        try:
            raw = self._p.read_physical_page(pa)
        except (RuntimeError, ValueError, OverflowError, TypeError):
            return None
        return bytes(raw) if raw is not None and len(raw) == PAGE_SIZE else None

    def _table(self, pa):
        t = self._tables.get(pa)
        if t is None:
            raw = self._phys(pa)
            t = struct.unpack("<512Q", raw) if raw is not None else ()
            if len(self._tables) > 4096:
                self._tables.clear()
            self._tables[pa] = t
        return t

    def translate(self, va):
        """x64 4-level translation through the dump's page tables (read with
        kdmp-parser's physical page API); None when not mapped."""
        if va >> 47 not in (0, 0x1FFFF):
            return None
        t = self._table(self.directory_table_base)
        for shift, large_mask in ((39, None), (30, (1 << 30) - 1), (21, (1 << 21) - 1), (12, None)):
            if not t:
                return None
            e = t[(va >> shift) & 511]
            if not e & 1:
                return None
            if shift == 12:
                return (e & PTE_PFN) | (va & 0xFFF)
            if large_mask is not None and e & 0x80:
                return ((e & PTE_PFN) & ~large_mask) | (va & large_mask)
            t = self._table(e & PTE_PFN)
        return None

    def ranges(self):
        """Readable kernel ranges from a walk of the x64 page tables (the
        upper half, without the page-table self-map)."""
        if self._ranges is None:
            self._ranges = self._walk_kernel_ranges()
        return list(self._ranges)

    def _present_set(self):
        if self.page_count is None or self.page_count > PRESENCE_CHECK_PAGES:
            return None
        try:
            return set(self._p.pages.keys())
        except (RuntimeError, ValueError, TypeError):
            return None

    def _walk_kernel_ranges(self):
        present = self._present_set()
        pml4_pa = self.directory_table_base
        pml4 = self._phys(pml4_pa)
        if pml4 is None:
            return []
        spans = []
        visited = 0
        limit = (self.page_count or (1 << 22)) + 16

        def table(raw):
            return struct.unpack("<512Q", raw) if raw is not None else ()

        def add(va, size, pa):
            if present is not None and size == PAGE_SIZE and (pa & ~0xFFF) not in present:
                return
            spans.append((va, size))

        for i4, e4 in enumerate(table(pml4)):
            if i4 < 256 or not e4 & 1:
                continue
            if (e4 & PTE_PFN) == pml4_pa:
                continue  # the self-map: page tables seen as memory
            va4 = (0xFFFF << 48) | (i4 << 39)
            visited += 1
            for i3, e3 in enumerate(table(self._phys(e4 & PTE_PFN))):
                if not e3 & 1:
                    continue
                va3 = va4 | (i3 << 30)
                if e3 & 0x80:
                    add(va3, 1 << 30, e3 & PTE_PFN)
                    continue
                visited += 1
                if visited > limit:
                    return _merge(spans)
                for i2, e2 in enumerate(table(self._phys(e3 & PTE_PFN))):
                    if not e2 & 1:
                        continue
                    va2 = va3 | (i2 << 21)
                    if e2 & 0x80:
                        add(va2, 1 << 21, e2 & PTE_PFN)
                        continue
                    visited += 1
                    if visited > limit:
                        return _merge(spans)
                    for i1, e1 in enumerate(table(self._phys(e2 & PTE_PFN))):
                        if e1 & 1:
                            add(va2 | (i1 << 12), PAGE_SIZE, e1 & PTE_PFN)
        return _merge(spans)

    # -- description --------------------------------------------------------
    def bugcheck(self):
        return self._bugcheck

    def crash_registers(self):
        """The header's CONTEXT record: every integer register."""
        return dict(self.registers)

    def modules(self):
        if self._modules is None:
            self._modules = self._walk_modules()
        return list(self._modules)

    def module(self, name):
        low = name.lower()
        for m in self.modules():
            if m.name.lower() == low:
                return m
        return None

    def _read(self, addr, size):
        out = b""
        while len(out) < size:
            a = addr + len(out)
            pa = a & ~0xFFF
            page = self.read_page(pa)
            n = min(size - len(out), PAGE_SIZE - (a - pa))
            out += bytes(page.data[a - pa:a - pa + n])
        return out

    def _walk_modules(self):
        """nt!PsLoadedModuleList -> KLDR_DATA_TABLE_ENTRY (x64 offsets)."""
        out = []
        head = self.ps_loaded_module_list
        if not head:
            return out
        try:
            entry = _u64(self._read(head, 8), 0)
            seen = set()
            while entry and entry != head and entry not in seen and len(out) < MAX_MODULES:
                seen.add(entry)
                rec = self._read(entry, 0x88)
                base, size = _u64(rec, 0x30), _u32(rec, 0x40)
                ln, buf = struct.unpack_from("<H", rec, 0x58)[0], _u64(rec, 0x60)
                name = None
                if buf and 0 < ln <= 512:
                    try:
                        name = self._read(buf, ln).decode("utf-16-le", "replace")
                    except ReadError:
                        name = None
                path = name
                mname = module_name(name, len(out)) if name else "module%d" % len(out)
                if len(out) == 0 and name and name.rsplit(".", 1)[0].lower() in KERNEL_IMAGES:
                    mname = "nt"
                out.append(Module(mname, base, size, path, _u32(rec, 0x80)))
                entry = _u64(rec, 0)
        except ReadError as e:
            self.notes.append("the loaded module list could not be read past %d entries (%s)" % (len(out), e))
        return out

    def derived_symbols(self):
        syms = header_symbols(self)
        lib = derive_library_globals(self)
        if lib is not None:
            syms["Wdf01000!FxLibraryGlobals"] = lib
        return syms


def _merge(spans):
    spans.sort()
    out = []
    for va, size in spans:
        if out and va <= out[-1][0] + out[-1][1]:
            end = max(out[-1][0] + out[-1][1], va + size)
            out[-1] = (out[-1][0], end - out[-1][0])
        else:
            out.append((va, size))
    return out


# FxLibraryGlobals.FxDriverGlobalsList at 0x1E0 (0x1D8 on 1607); each entry is
# an FX_DRIVER_GLOBALS (Linkage at 0) with WdfHandleMask ~7 at 0x38 and
# LibraryGlobals (0x58, Windows 11: 0x60) pointing back at FxLibraryGlobals.
_LIST_OFFSETS = (0x1E0, 0x1D8)
_BACK_OFFSETS = (0x58, 0x60)
_MASK = 0xFFFFFFFFFFFFFFF8
MAX_PROBES = 50000


def derive_library_globals(backend):
    """Find ``Wdf01000!FxLibraryGlobals`` in Wdf01000's image: a LIST_ENTRY
    whose first entry is an FX_DRIVER_GLOBALS that points back at the list's
    owner. None when it cannot be shown."""
    wdf = backend.module("Wdf01000")
    if wdf is None or not wdf.size or wdf.size > (64 << 20):
        return None
    cache = {}

    def q(addr):
        pa = addr & ~0xFFF
        if pa not in cache:
            try:
                cache[pa] = bytes(backend.read_page(pa).data)
            except ReadError:
                cache[pa] = None
        page = cache[pa]
        off = addr - pa
        if page is None or off + 8 > PAGE_SIZE:
            return None
        return _u64(page, off)

    probes = 0
    found = set()
    for pa in range(wdf.base, wdf.base + wdf.size, PAGE_SIZE):
        try:
            page = bytes(backend.read_page(pa).data)
        except ReadError:
            continue
        for i in range(0, PAGE_SIZE - 8, 8):
            flink = _u64(page, i)
            if flink >> 48 != 0xFFFF or flink & 0xF or wdf.base <= flink < wdf.base + wdf.size:
                continue
            probes += 1
            if probes > MAX_PROBES:
                return None
            if q(flink + 0x38) != _MASK:
                continue
            head = pa + i
            for lo in _LIST_OFFSETS:
                for bo in _BACK_OFFSETS:
                    if q(flink + bo) == head - lo and q(flink + 8) is not None:
                        found.add(head - lo)
    return found.pop() if len(found) == 1 else None


def open_kdmp(path):
    """Validate the header, then parse with kdmp-parser; return a backend."""
    f, size = open_input(path, DumpError)
    try:
        with f:
            head = f.read(HEADER_SIZE + 0x40)
            validate_header(path, head, size)
            dump_type = _u32(head, 0xF98)
            pages = None
            if dump_type == 1:
                runs = _u32(head, 0x88)
                pages = sum(struct.unpack_from("<QQ", head, 0x98 + 16 * i)[1] for i in range(runs))
            elif dump_type in (5, 6):
                pages = _check_bitmap_pages(path, f, size)
            else:
                pages = _check_rdmp_ranges(path, f, size)
    except OSError as e:
        raise DumpError("%s: cannot read: %s" % (path, e.strerror or e))
    except struct.error:
        raise DumpError("%s: truncated dump header" % path)
    kp = import_kdmp_parser()
    try:
        with _QuietStdout():
            parser = kp.KernelDumpParser(os.path.abspath(path))
    except (RuntimeError, ValueError, TypeError, OSError) as e:
        raise DumpError("%s: kdmp-parser cannot read this dump (%s)" % (path, e))
    return KdmpBackend(path, parser, head, pages)
