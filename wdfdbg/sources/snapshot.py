"""The wdfdbg snapshot format, version 1 (``shared/spec/snapshot-format.md``):
reader with full validation, writer, and the replay backend.

A snapshot is untrusted input: the whole document is validated before any
analysis, every problem is reported with its JSON path, decompression and
decoding are bounded by the file's own size, and nothing is evaluated.
"""

import base64
import binascii
import bisect
import gzip
import lzma
import io
import json
import re
import zlib

from wdfdbg.errors import ReadError, SnapshotError
from wdfdbg.sources import isf as isf_rules
from wdfdbg.sources import limits
from wdfdbg.sources.base import ARCH_POINTER_SIZE, Backend, Bugcheck, IsfSource, Module, Page, SparsePage, SymbolTable
from wdfdbg.sources.inputfile import open_input, read_exactly
from wdfdbg.sources.limits import size_text

FORMAT = "wdfdbg-snapshot"
VERSION = 1
ORIGINS = ("recorded", "converted", "synthetic")
_HEX = re.compile(r"^0x[0-9a-fA-F]{1,16}$")
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"   # FD 37 7A 58 5A 00: volatility3 ships its ISF as .json.xz
MAX_TYPE_DEPTH = isf_rules.MAX_TYPE_DEPTH
TYPE_KINDS = isf_rules.TYPE_KINDS


def parse_hex(value):
    """``"0x..."`` -> int, or None when malformed."""
    if isinstance(value, str) and _HEX.match(value):
        return int(value, 16)
    return None


def hexstr(value):
    return "0x%x" % value


# -- reading ---------------------------------------------------------------
# The text is decompressed in a stream into one buffer (bounded by
# limits.JSON_BYTES and by GZIP_RATIO times the file's size), checked for
# what parsing it would cost (limits.JSON_MEMORY) before json.loads runs,
# and decoded once; the buffer is gone before parsing starts.
READ_PIECE = 1 << 20
OUT_PIECE = 4 << 20
_SPACE = re.compile(rb"[ \t\r\n]*")


def read_bytes(path):
    """The bytes of a regular file, bounded by limits.JSON_BYTES."""
    f, size = open_input(path, SnapshotError)
    with f:
        if size > limits.JSON_BYTES.value():
            raise SnapshotError(_too_large(size))
        return bytes(read_exactly(f, size, path, SnapshotError))


def _too_large(size):
    return ("$: the file is %s, more than the %s a snapshot or types file may be (%s)"
            % (size_text(size), limits.JSON_BYTES.text(), limits.JSON_BYTES.hint()))


def expansion_limit(compressed_size):
    """How far gzip data of ``compressed_size`` bytes may expand."""
    ratio = limits.GZIP_RATIO.value()
    return min(limits.JSON_BYTES.value(), max(limits.GZIP_FREE, compressed_size * ratio))


def _expands_past(limit, compressed_size, what="gzip"):
    if limit >= limits.JSON_BYTES.value():
        why = "the most a snapshot or types file may hold (%s)" % limits.JSON_BYTES.hint()
    else:
        why = "%d times the file's %s (%s)" % (limits.GZIP_RATIO.value(), size_text(compressed_size),
                                               limits.GZIP_RATIO.hint())
    return "$: %s data expands past %s, %s: refusing it as a decompression bomb" % (what, size_text(limit), why)


def gunzip(f, first, compressed_size):
    """Decompress the gzip members of ``f`` (``first``: bytes already read
    from it) into one bytearray, stopping at :func:`expansion_limit`.
    Members follow each other (``cat a.gz b.gz``); bytes after the last
    member that do not start another one are ignored, as gzip(1) does."""
    limit = expansion_limit(compressed_size)
    out = bytearray()
    d = None
    pending = first
    try:
        while True:
            if not pending:
                pending = f.read(READ_PIECE)
                if not pending:
                    break
            if d is None:
                if len(pending) < 2:
                    more = f.read(READ_PIECE)
                    if not more:
                        break
                    pending += more
                    continue
                if pending[:2] != GZIP_MAGIC:
                    break
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data, pending = pending, b""
            while data:
                chunk = d.decompress(data, OUT_PIECE)
                if len(out) + len(chunk) > limit:
                    raise SnapshotError(_expands_past(limit, compressed_size))
                out += chunk
                data = d.unconsumed_tail
                if d.eof:
                    pending = d.unused_data
                    d = None
                    break
    except zlib.error as e:
        raise SnapshotError("$: corrupt gzip data (%s)" % e)
    except OSError as e:
        raise SnapshotError("$: cannot read: %s" % (e.strerror or e))
    if d is not None:
        raise SnapshotError("$: truncated gzip data")
    return out


def unxz(f, first, compressed_size):
    """Decompress the xz stream of ``f`` (``first``: bytes already read
    from it) into one bytearray, bounded as :func:`gunzip` is. Only the
    first stream is read (volatility3 writes one)."""
    limit = expansion_limit(compressed_size)
    out = bytearray()
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=limits.XZ_MEMORY)
    data = first
    try:
        while not d.eof:
            if d.needs_input:
                if not data:
                    data = f.read(READ_PIECE)
                    if not data:
                        break
            chunk = d.decompress(data, OUT_PIECE)
            data = b""
            if len(out) + len(chunk) > limit:
                raise SnapshotError(_expands_past(limit, compressed_size, "xz"))
            out += chunk
    except lzma.LZMAError as e:
        raise SnapshotError("$: corrupt xz data (%s)" % e)
    except OSError as e:
        raise SnapshotError("$: cannot read: %s" % (e.strerror or e))
    if not d.eof:
        raise SnapshotError("$: truncated xz data")
    return out


def parse_cost(text):
    """Estimated bytes of the Python objects json.loads would build from
    ``text`` (bytes), from its structural characters (braces and commas in
    strings only make the estimate larger)."""
    return (len(text) + limits.ESTIMATE_OBJECT * text.count(b"{") + limits.ESTIMATE_ARRAY * text.count(b"[")
            + limits.ESTIMATE_ITEM * text.count(b","))


def read_text(f, size, xz=False):
    """The JSON text of an open snapshot or types file of ``size`` bytes, as
    a str: gunzipped when it starts with the gzip magic (and, with ``xz``,
    a types file, unxz'ed when it starts with the xz magic), bounded, and
    checked for its parse cost. SnapshotError with a ``$:`` path."""
    first = f.read(len(XZ_MAGIC))
    if first[:2] == GZIP_MAGIC:
        buf = gunzip(f, first, size)
    elif xz and first == XZ_MAGIC:
        buf = unxz(f, first, size)
    else:
        if size > limits.JSON_BYTES.value():
            raise SnapshotError(_too_large(size))
        f.seek(0)
        buf = read_exactly(f, size, "$", SnapshotError)
    cost = parse_cost(buf)
    if cost > limits.JSON_MEMORY.value():
        raise SnapshotError("$: parsing this JSON would take about %s (%d objects, %d items), more than %s (%s)"
                            % (size_text(cost), buf.count(b"{"), buf.count(b","), limits.JSON_MEMORY.text(),
                               limits.JSON_MEMORY.hint()))
    try:
        return buf.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SnapshotError("$: not UTF-8 text (byte %d)" % e.start)


def parse_text(text):
    """``json.loads`` with its failures as SnapshotError."""
    try:
        return json.loads(text)
    except ValueError as e:
        raise SnapshotError("$: not JSON (%s)" % e)
    except RecursionError:
        raise SnapshotError("$: JSON nested too deeply")


def decompress(raw):
    """Gunzip ``raw`` (bytes) if it starts with the gzip magic, bounded as
    a file of ``len(raw)`` bytes is."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    return bytes(gunzip(io.BytesIO(raw), b"", len(raw)))


def load_document(raw):
    """The parsed JSON of ``raw`` (bytes, gzip or not), bounded."""
    return parse_text(read_text(io.BytesIO(raw), len(raw)))


def looks_like_snapshot(raw):
    """Cheap sniff of a file's first bytes: gzip, or JSON object text."""
    if raw.startswith(GZIP_MAGIC):
        return True
    i = _SPACE.match(raw).end()
    return i == len(raw) or raw[i:i + 1] in (b"{", b"[")


class Snapshot(object):
    """A validated snapshot: plain Python values, memory as (address, bytes)."""

    def __init__(self, doc, memory, path=None):
        self.doc = doc
        self.path = path
        t = doc["target"]
        self.arch = t["arch"]
        self.pointer_size = t["pointer_size"]
        self.page_size = t.get("page_size", 4096)
        self.os_build = t.get("os_build")
        self.kmdf_version = t.get("kmdf_version")
        self.origin = doc["origin"]
        self.description = doc.get("description")
        bc = doc.get("bugcheck")
        self.bugcheck = Bugcheck(int(bc["code"], 16), [int(p, 16) for p in bc["parameters"]]) if bc else None
        self.modules = [module_from_record(m) for m in doc.get("modules") or []]
        self.symbols = dict((k, int(v, 16)) for k, v in (doc.get("symbols") or {}).items())
        self.types = doc.get("types") or {}
        self.memory = memory  # sorted list of (address, bytes)

    def memory_bytes(self):
        return sum(len(d) for _, d in self.memory)


def load(path):
    """Read, validate and return a :class:`Snapshot`; raises SnapshotError."""
    f, size = open_input(path, SnapshotError)
    with f:
        return load_file(f, size, path)


def load_file(f, size, path=None):
    """A :class:`Snapshot` from an open file of ``size`` bytes (what
    :func:`~wdfdbg.sources.inputfile.open_input` returns)."""
    try:
        doc = parse_text(read_text(f, size))
    except SnapshotError as e:
        raise _labelled(e.problems, path)
    return from_document(doc, path)


def loads(raw, path=None):
    """A :class:`Snapshot` from the bytes of a file (gzip or not)."""
    return load_file(io.BytesIO(raw), len(raw), path)


def from_document(doc, path=None):
    """Validate a parsed document and build the :class:`Snapshot`. The
    base64 text of each memory range is dropped from ``doc`` once decoded,
    and the ranges' JSON objects once all are, so the bytes are held once
    (in ``Snapshot.memory``)."""
    problems, memory = validate(doc, consume=True)
    if problems:
        raise _labelled(problems, path)
    # the ranges live on in Snapshot.memory; their JSON objects (a dict and
    # an address string, ~300 bytes each) are not kept beside them
    doc["memory"] = []
    return Snapshot(doc, memory, path=path)


def _labelled(problems, path):
    if not path:
        return SnapshotError(problems)
    return SnapshotError(["%s: %s" % (path, p[3:] if p.startswith("$: ") else p) for p in problems])


def _type_name(p, what):
    return "%s: %s" % (p, what)


def validate(doc, consume=False):
    """Validate a parsed document. Returns (problems, memory) where memory is
    the decoded, sorted list of (address, bytes) ranges (empty ranges left
    out). ``consume``: drop each range's base64 text from ``doc`` once
    decoded (the reader's way of holding the bytes once)."""
    problems = []
    add = problems.append
    if not isinstance(doc, dict):
        return ["$: not a JSON object"], []
    if doc.get("format") != FORMAT:
        add("format: expected \"%s\", found %s" % (FORMAT, _short(doc.get("format"))))
    if doc.get("version") != VERSION or isinstance(doc.get("version"), bool):
        add("version: unsupported version %s (this reader takes %d)" % (_short(doc.get("version")), VERSION))
    if problems:
        return problems, []
    if doc.get("origin") not in ORIGINS:
        add("origin: expected one of %s, found %s" % (", ".join(ORIGINS), _short(doc.get("origin"))))
    if "description" in doc and doc["description"] is not None and not isinstance(doc["description"], str):
        add("description: not a string")
    t = doc.get("target")
    ptr = 8
    if not isinstance(t, dict):
        add("target: missing or not an object")
    else:
        arch = t.get("arch")
        if not isinstance(arch, str) or arch not in ARCH_POINTER_SIZE:
            add("target.arch: expected x64, x86 or arm64, found %s" % (_short(arch),))
            arch = None
        ps = t.get("pointer_size")
        if not _is_int(ps) or ps not in (4, 8):
            add("target.pointer_size: expected 4 or 8, found %s" % (_short(ps),))
        elif arch in ARCH_POINTER_SIZE and ARCH_POINTER_SIZE[arch] != ps:
            add("target.pointer_size: %d contradicts arch %s (pointer size %d)" % (ps, arch, ARCH_POINTER_SIZE[arch]))
        else:
            ptr = ps
        if "page_size" in t:
            pg = t["page_size"]
            if not _is_int(pg) or pg < 512 or pg > (1 << 21) or pg & (pg - 1):
                add("target.page_size: expected a power of two from 512 to 2 MiB, found %s" % (_short(pg),))
        if t.get("os_build") is not None and (not _is_int(t["os_build"]) or t["os_build"] < 0):
            add("target.os_build: not a non-negative integer")
        if t.get("kmdf_version") is not None and not isinstance(t["kmdf_version"], str):
            add("target.kmdf_version: not a string")
    top = (1 << (8 * ptr)) - 1
    bc = doc.get("bugcheck")
    if bc is not None:
        if not isinstance(bc, dict):
            add("bugcheck: not null or an object")
        else:
            if parse_hex(bc.get("code")) is None:
                add("bugcheck.code: not a hex string")
            params = bc.get("parameters")
            if not isinstance(params, list) or len(params) != 4:
                add("bugcheck.parameters: expected a list of 4 hex strings")
            else:
                for i, p in enumerate(params):
                    if parse_hex(p) is None:
                        add("bugcheck.parameters[%d]: not a hex string" % i)
    mods = doc.get("modules")
    if mods is not None:
        if not isinstance(mods, list):
            add("modules: not a list")
        else:
            for i, m in enumerate(mods):
                p = "modules[%d]" % i
                if not isinstance(m, dict):
                    add("%s: not an object" % p)
                    continue
                if not isinstance(m.get("name"), str) or not m.get("name"):
                    add("%s.name: not a non-empty string" % p)
                base = parse_hex(m.get("base"))
                if base is None:
                    add("%s.base: not a hex string" % p)
                if not _is_int(m.get("size")) or m.get("size") < 0:
                    add("%s.size: not a non-negative number" % p)
                elif base is not None and base + m["size"] - 1 > top:
                    add("%s: extends past the top of the address space" % p)
                for why in module_identity_problems(m):
                    add("%s.%s" % (p, why))
    syms = doc.get("symbols")
    if syms is not None:
        if not isinstance(syms, dict):
            add("symbols: not an object")
        else:
            for k, v in syms.items():
                if parse_hex(v) is None:
                    add("symbols[%s]: not a hex string" % json.dumps(k))
                elif int(v, 16) > top:
                    add("symbols[%s]: past the top of the address space" % json.dumps(k))
    types = doc.get("types")
    if not isinstance(types, dict):
        add("types: missing or not an object (may be {})")
    else:
        listed = list(types)
        for mod, isf in types.items():
            others = [types[m] for m in isf_rules.resolution_order(mod, listed)[1:] if m in types]
            problems.extend(validate_isf(isf, "types.%s" % mod, ptr, others))
    memory = []
    mem = doc.get("memory")
    if not isinstance(mem, list):
        add("memory: missing or not a list")
    elif len(mem) > limits.RANGES.value():
        add("memory: %d ranges, more than %s (%s)" % (len(mem), limits.RANGES.text(), limits.RANGES.hint()))
    else:
        memory = _decode_ranges(mem, top, add, consume)
    return problems, memory


MAX_LISTED_PROBLEMS = 100


B64_PIECE = 4 << 20  # base64 characters decoded at a time (a multiple of 4)


def b64decode_text(data):
    """The bytes of base64 text ``data`` (a str that matched ``_B64``).
    Up to :data:`B64_PIECE` characters, ``bytes``; a longer text is decoded
    piece by piece into one ``bytearray`` of its exact size, so that no
    ASCII copy of the whole text is made (``b64decode`` of a str makes one).
    On the 200,000-child snapshot (one 64 MB range) that took the whole
    process's peak from 257 to 149 MB (``benchmarks/bench_memtree.py``)."""
    if len(data) <= B64_PIECE:
        return base64.b64decode(data, validate=True)
    size = len(data) // 4 * 3 - (len(data) - len(data.rstrip("=")))
    out = bytearray(size)
    pos = 0
    for i in range(0, len(data), B64_PIECE):
        piece = binascii.a2b_base64(data[i:i + B64_PIECE].encode("ascii"))
        out[pos:pos + len(piece)] = piece
        pos += len(piece)
    if pos != size:
        raise ValueError("base64 text of %d characters decoded to %d bytes, not %d" % (len(data), pos, size))
    return out


def _decode_ranges(mem, top, add, consume):
    """Decode ``memory[i]`` into a sorted list of (address, bytes), adding
    problems; with ``consume`` each range's base64 text is dropped from the
    document as soon as it is decoded."""
    memory = []
    for i, r in enumerate(mem):
        p = "memory[%d]" % i
        if not isinstance(r, dict):
            add("%s: not an object" % p)
            continue
        addr = parse_hex(r.get("address"))
        if addr is None:
            add("%s.address: not a hex string" % p)
            continue
        data = r.get("data")
        if not isinstance(data, str) or len(data) % 4 or not _B64.match(data):
            add("%s.data: not base64" % p)
            continue
        try:
            b = b64decode_text(data)
        except (binascii.Error, ValueError):
            add("%s.data: not base64" % p)
            continue
        del data
        if consume:
            r["data"] = ""
        if isinstance(b, bytearray):
            b = bytes(b)  # once the text is gone: the bytes and this copy, never the text beside both
        if addr + len(b) - 1 > top and b:
            add("%s: range 0x%x+0x%x runs past the top of the address space" % (p, addr, len(b)))
            continue
        if b:
            memory.append((addr, b, i))
    memory.sort(key=lambda t: t[0])
    overlaps = 0
    for (a1, b1, i1), (a2, b2, i2) in zip(memory, memory[1:]):
        if a1 + len(b1) > a2:
            overlaps += 1
            if overlaps <= MAX_LISTED_PROBLEMS:
                add("memory[%d]: range 0x%x+0x%x overlaps memory[%d] at 0x%x" % (i2, a2, len(b2), i1, a1))
    if overlaps > MAX_LISTED_PROBLEMS:
        add("memory: %d more overlapping ranges" % (overlaps - MAX_LISTED_PROBLEMS))
    for k, (a, b, _i) in enumerate(memory):
        memory[k] = (a, b)
    return memory


_is_int = isf_rules.is_int
_short = isf_rules.short
validate_isf = isf_rules.validate_isf


# -- the replay backend ----------------------------------------------------
def nearest_in_module(symtab, modules, address):
    """Exact symbol, or the nearest preceding one in the same module as
    ``address`` (never a symbol of another module, never outside modules)."""
    hit = symtab.at(address)
    if hit is None or hit[1] == 0:
        return hit
    name = hit[0]
    mod = None
    for m in modules:
        if m.contains(address):
            mod = m
            break
    if mod is None or "!" not in name or name.split("!", 1)[0].lower() != mod.name.lower():
        return None
    if address - hit[1] < mod.base:
        return None
    return hit


class _Views(object):
    """The ranges' bytes, each seen through a memoryview made when it is
    asked for, so that a page slices a view, not a copy, while no view is
    kept per range (one costs ~200 bytes, and a snapshot may hold a million
    ranges)."""

    __slots__ = ("_data",)

    def __init__(self, data):
        self._data = data

    def __len__(self):
        return len(self._data)

    def __getitem__(self, i):
        return memoryview(self._data[i])

    def __iter__(self):
        return (memoryview(d) for d in self._data)


class SnapshotBackend(Backend):
    """Replays a :class:`Snapshot`: bytes not covered are unreadable."""

    kind = "snapshot"

    def __init__(self, snap):
        self.snap = snap
        self.arch = snap.arch
        self.pointer_size = snap.pointer_size
        self.page_size = snap.page_size
        self.os_build = snap.os_build
        self.kmdf_version = snap.kmdf_version
        self.origin = snap.origin
        self.path = snap.path
        self.description = snap.description
        self._starts = [a for a, _ in snap.memory]
        self._data = _Views([d for _, d in snap.memory])
        self._symtab = SymbolTable(snap.symbols)
        self._type_sources = {}
        for mod, isf in snap.types.items():
            self._type_sources[mod.lower()] = IsfSource(isf)
        self._type_modules = list(snap.types)

    def read_page(self, pa):
        ps = self.page_size
        end = pa + ps
        i = bisect.bisect_right(self._starts, pa) - 1
        if i < 0:
            i = 0
        segs = []
        n = len(self._starts)
        while i < n and self._starts[i] < end:
            s = self._starts[i]
            d = self._data[i]
            e = s + len(d)
            if e > pa:
                segs.append((max(s, pa), min(e, end), s, d))
            i += 1
        if not segs:
            raise ReadError(pa, reason="not in the snapshot")
        if len(segs) == 1 and segs[0][0] == pa and segs[0][1] == end:
            lo, hi, s, d = segs[0]
            return Page(d[pa - s:end - s])
        # A partly captured page is kept as views of its captured runs: a
        # 2 MiB page holding one byte costs a byte, not a 2 MiB buffer.
        return SparsePage([(lo - pa, d[lo - s:hi - s]) for lo, hi, s, d in segs], ps)

    def symbol(self, name):
        return self._symtab.lookup(name)

    def symbol_at(self, address):
        return nearest_in_module(self._symtab, self.snap.modules, address)

    def modules(self):
        return list(self.snap.modules)

    def type_source(self, module):
        return self._type_sources.get(module.lower())

    def type_modules(self):
        """Modules with types, in the order the snapshot lists them (the
        order names resolve across modules after the own module and nt)."""
        return list(self._type_modules)

    def bugcheck(self):
        return self.snap.bugcheck

    def ranges(self):
        return [(a, len(d)) for a, d in zip(self._starts, self._data)]


# -- module identity (modules[i].file, timestamp, image_size, pdb) --------------
_GUID_DIGITS = frozenset("0123456789abcdefABCDEF")


def module_identity_problems(m):
    """What is wrong with a module record's optional identity keys."""
    out = []
    if "file" in m and (not isinstance(m["file"], str) or not m["file"] or len(m["file"]) > 260):
        out.append("file: not a file name")
    for key in ("timestamp", "image_size"):
        if key in m and (parse_hex(m[key]) is None or parse_hex(m[key]) > 0xFFFFFFFF):
            out.append("%s: not a 32-bit hex string" % key)
    pdb = m.get("pdb")
    if "pdb" in m and pdb is not None:
        if not isinstance(pdb, dict):
            out.append("pdb: not an object")
        else:
            if not isinstance(pdb.get("name"), str) or not pdb.get("name") or len(pdb["name"]) > 260:
                out.append("pdb.name: not a file name")
            g = pdb.get("guid")
            if not isinstance(g, str) or len(g.replace("-", "")) != 32 or not set(g.replace("-", "")) <= _GUID_DIGITS:
                out.append("pdb.guid: not 32 hex digits")
            if not _is_int(pdb.get("age")) or not 0 <= pdb["age"] <= 0xFFFFFFFF:
                out.append("pdb.age: not a 32-bit number")
    return out


def module_from_record(m):
    """A validated ``modules[i]`` -> Module (with its identity when given)."""
    pdb = m.get("pdb")
    return Module(m["name"], int(m["base"], 16), m["size"], file=m.get("file"),
                  timestamp=parse_hex(m["timestamp"]) if "timestamp" in m else None,
                  image_size=parse_hex(m["image_size"]) if "image_size" in m else None,
                  pdb=(pdb["name"], pdb["guid"].replace("-", "").upper(), pdb["age"]) if pdb else None)


def module_record(m):
    """Module -> ``modules[i]``: name, base, size, then what is known of its identity."""
    rec = {"name": m.name, "base": hexstr(m.base), "size": m.size}
    if getattr(m, "file", None):
        rec["file"] = m.file
    if getattr(m, "timestamp", None) is not None:
        rec["timestamp"] = hexstr(m.timestamp)
    if getattr(m, "image_size", None) is not None:
        rec["image_size"] = hexstr(m.image_size)
    if getattr(m, "pdb", None):
        rec["pdb"] = {"name": m.pdb[0], "guid": m.pdb[1], "age": m.pdb[2]}
    return rec


# -- writing ---------------------------------------------------------------
def build_document(origin, arch, pointer_size, memory, page_size=4096, os_build=None, kmdf_version=None,
                   description=None, bugcheck=None, modules=None, symbols=None, types=None):
    """Assemble a snapshot document with keys in the spec's order.

    ``memory``: iterable of (address, bytes); adjacent ranges are merged,
    the result sorted by address. ``bugcheck``: a Bugcheck or None.
    ``modules``: Module list. ``symbols``: name -> int."""
    target = {"arch": arch, "pointer_size": pointer_size, "page_size": page_size}
    if os_build is not None:
        target["os_build"] = os_build
    if kmdf_version is not None:
        target["kmdf_version"] = kmdf_version
    doc = {"format": FORMAT, "version": VERSION, "origin": origin}
    if description is not None:
        doc["description"] = description
    doc["target"] = target
    doc["bugcheck"] = None if bugcheck is None else {
        "code": hexstr(bugcheck.code), "parameters": [hexstr(p) for p in bugcheck.parameters]}
    doc["modules"] = [module_record(m) for m in sorted(modules or [], key=lambda m: m.base)]
    doc["symbols"] = dict((k, hexstr(v)) for k, v in sorted((symbols or {}).items(), key=lambda kv: (kv[1], kv[0])))
    doc["types"] = types or {}
    doc["memory"] = [{"address": hexstr(a), "data": base64.b64encode(bytes(d)).decode("ascii")}
                     for a, d in merge_ranges(memory)]
    return doc


def merge_ranges(memory):
    items = sorted(((a, bytes(d)) for a, d in memory if len(d)), key=lambda t: t[0])
    out = []
    for a, d in items:
        if out and out[-1][0] + len(out[-1][1]) >= a:
            pa, pd = out[-1]
            end = pa + len(pd)
            if a + len(d) > end:
                pd = pd + d[end - a:]
            out[-1] = (pa, pd)
        else:
            out.append((a, d))
    return out


def dumps(doc, compress=False):
    text = json.dumps(doc, indent=1, sort_keys=False).encode("utf-8") + b"\n"
    if not compress:
        return text
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as g:
        g.write(text)
    return buf.getvalue()


def save(doc, path):
    """Write ``doc``; gzip when the name ends in ``.gz``."""
    data = dumps(doc, compress=str(path).endswith(".gz"))
    with open(path, "wb") as f:
        f.write(data)
    return path
