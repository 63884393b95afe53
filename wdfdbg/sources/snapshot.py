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
import io
import json
import re
import zlib

from wdfdbg.errors import ReadError, SnapshotError
from wdfdbg.sources.base import ARCH_POINTER_SIZE, Backend, Bugcheck, IsfSource, Module, Page, SparsePage, SymbolTable

FORMAT = "wdfdbg-snapshot"
VERSION = 1
ORIGINS = ("recorded", "converted", "synthetic")
_HEX = re.compile(r"^0x[0-9a-fA-F]{1,16}$")
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
GZIP_MAGIC = b"\x1f\x8b"
MAX_RATIO = 1100          # deflate cannot exceed ~1032:1
MAX_DECOMPRESSED = 4 << 30
MAX_TYPE_DEPTH = 32
TYPE_KINDS = ("base", "pointer", "array", "struct", "union", "class", "enum", "function", "bitfield")


def parse_hex(value):
    """``"0x..."`` -> int, or None when malformed."""
    if isinstance(value, str) and _HEX.match(value):
        return int(value, 16)
    return None


def hexstr(value):
    return "0x%x" % value


# -- reading ---------------------------------------------------------------
def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise SnapshotError("%s: cannot read: %s" % (path, e.strerror or e))


def decompress(raw):
    """Gunzip if the bytes start with the gzip magic, bounded in size."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    limit = min(MAX_DECOMPRESSED, max(1 << 20, len(raw) * MAX_RATIO))
    out = []
    total = 0
    data = raw
    try:
        while data:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while True:
                chunk = d.decompress(data, 1 << 20)
                total += len(chunk)
                if total > limit:
                    raise SnapshotError("$: gzip data expands past %d bytes: refusing it" % limit)
                out.append(chunk)
                data = d.unconsumed_tail
                if d.eof or not data:
                    break
            if not d.eof:
                raise SnapshotError("$: truncated gzip data")
            data = d.unused_data  # concatenated gzip members
            if data and not data.startswith(GZIP_MAGIC):
                break
    except zlib.error as e:
        raise SnapshotError("$: corrupt gzip data (%s)" % e)
    return b"".join(out)


def load_document(raw):
    text = decompress(raw)
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SnapshotError("$: not UTF-8 text (byte %d)" % e.start)
    try:
        doc = json.loads(s)
    except ValueError as e:
        raise SnapshotError("$: not JSON (%s)" % e)
    except RecursionError:
        raise SnapshotError("$: JSON nested too deeply")
    return doc


def looks_like_snapshot(raw):
    """Cheap sniff: gzip, or JSON object text."""
    if raw.startswith(GZIP_MAGIC):
        return True
    return raw.lstrip()[:1] in (b"{", b"[")


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
        self.modules = [Module(m["name"], int(m["base"], 16), m["size"]) for m in doc.get("modules") or []]
        self.symbols = dict((k, int(v, 16)) for k, v in (doc.get("symbols") or {}).items())
        self.types = doc.get("types") or {}
        self.memory = memory  # sorted list of (address, bytes)

    def memory_bytes(self):
        return sum(len(d) for _, d in self.memory)


def load(path):
    """Read, validate and return a :class:`Snapshot`; raises SnapshotError."""
    raw = read_bytes(path)
    return loads(raw, path=path)


def loads(raw, path=None):
    doc = load_document(raw)
    problems, memory = validate(doc)
    if problems:
        raise SnapshotError(problems)
    return Snapshot(doc, memory, path=path)


def _type_name(p, what):
    return "%s: %s" % (p, what)


def validate(doc):
    """Validate a parsed document. Returns (problems, memory) where memory is
    the decoded, sorted list of (address, bytes) ranges."""
    problems = []
    add = problems.append
    if not isinstance(doc, dict):
        return ["$: not a JSON object"], []
    if doc.get("format") != FORMAT:
        add("format: expected %r, found %r" % (FORMAT, _short(doc.get("format"))))
    if doc.get("version") != VERSION or isinstance(doc.get("version"), bool):
        add("version: unsupported version %r (this reader takes %d)" % (_short(doc.get("version")), VERSION))
    if problems:
        return problems, []
    if doc.get("origin") not in ORIGINS:
        add("origin: expected one of %s, found %r" % (", ".join(ORIGINS), _short(doc.get("origin"))))
    if "description" in doc and doc["description"] is not None and not isinstance(doc["description"], str):
        add("description: not a string")
    t = doc.get("target")
    ptr = 8
    if not isinstance(t, dict):
        add("target: missing or not an object")
    else:
        arch = t.get("arch")
        if arch not in ARCH_POINTER_SIZE:
            add("target.arch: expected x64, x86 or arm64, found %r" % (_short(arch),))
        ps = t.get("pointer_size")
        if not _is_int(ps) or ps not in (4, 8):
            add("target.pointer_size: expected 4 or 8, found %r" % (_short(ps),))
        elif arch in ARCH_POINTER_SIZE and ARCH_POINTER_SIZE[arch] != ps:
            add("target.pointer_size: %d contradicts arch %s (pointer size %d)" % (ps, arch, ARCH_POINTER_SIZE[arch]))
        else:
            ptr = ps
        if "page_size" in t:
            pg = t["page_size"]
            if not _is_int(pg) or pg < 512 or pg > (1 << 21) or pg & (pg - 1):
                add("target.page_size: expected a power of two from 512 to 2 MiB, found %r" % (_short(pg),))
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
        for mod, isf in types.items():
            problems.extend(validate_isf(isf, "types.%s" % mod, ptr))
    memory = []
    mem = doc.get("memory")
    if not isinstance(mem, list):
        add("memory: missing or not a list")
    else:
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
                b = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                add("%s.data: not base64" % p)
                continue
            if addr + len(b) - 1 > top and b:
                add("%s: range 0x%x+0x%x runs past the top of the address space" % (p, addr, len(b)))
                continue
            memory.append((addr, b, i))
        memory.sort(key=lambda t: t[0])
        for (a1, b1, i1), (a2, b2, i2) in zip(memory, memory[1:]):
            if a1 + len(b1) > a2:
                add("memory[%d]: range 0x%x+0x%x overlaps memory[%d] at 0x%x" % (i2, a2, len(b2), i1, a1))
    return problems, [(a, b) for a, b, _ in memory if b]


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _short(v):
    s = repr(v)
    return v if len(s) < 60 else s[:57] + "..."


def validate_isf(isf, path, ptr):
    """Check an ISF document as much as wdfdbg relies on it: shapes, known
    kinds, defined types, and every field inside its struct."""
    problems = []
    add = problems.append
    if not isinstance(isf, dict):
        return ["%s: not an ISF object" % path]
    meta = isf.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("format"), str):
        add("%s.metadata.format: missing" % path)
    bts = isf.get("base_types", {})
    uts = isf.get("user_types", {})
    ens = isf.get("enums", {})
    for key, val in (("base_types", bts), ("user_types", uts), ("enums", ens), ("symbols", isf.get("symbols", {}))):
        if not isinstance(val, dict):
            add("%s.%s: not an object" % (path, key))
    if problems:
        return problems
    for name, bt in bts.items():
        if not isinstance(bt, dict) or not _is_int(bt.get("size")) or bt.get("size") < 0 or bt.get("size") > 16:
            add("%s.base_types[%s].size: missing or not a small number" % (path, json.dumps(name)))
    for name, en in ens.items():
        if not isinstance(en, dict) or not _is_int(en.get("size")) or en.get("size") not in (1, 2, 4, 8):
            add("%s.enums[%s].size: expected 1, 2, 4 or 8" % (path, json.dumps(name)))
    sizes = {}

    def type_size(t, tpath):
        """Iterative size of a TYPE; (size or None, problem or None)."""
        depth = 0
        mult = 1
        cur = t
        while True:
            depth += 1
            if depth > MAX_TYPE_DEPTH:
                return None, "%s: type nested too deeply" % tpath
            if not isinstance(cur, dict):
                return None, "%s: not a type object" % tpath
            kind = cur.get("kind")
            if kind not in TYPE_KINDS:
                return None, "%s.kind: unknown type kind %r" % (tpath, _short(kind))
            if kind == "pointer":
                return mult * ptr, None
            if kind == "function":
                return 0, None
            if kind == "base":
                n = cur.get("name")
                if not isinstance(n, str):
                    return None, "%s.name: not a string" % tpath
                if n in bts and isinstance(bts[n], dict) and _is_int(bts[n].get("size")):
                    return mult * bts[n]["size"], None
                from wdfdbg.layouts.model import _BUILTIN_BASE
                if n in _BUILTIN_BASE:
                    return mult * _BUILTIN_BASE[n][1], None
                return None, "%s: base type %r is not defined" % (tpath, _short(n))
            if kind in ("struct", "union", "class"):
                n = cur.get("name")
                ut = uts.get(n) if isinstance(n, str) else None
                if not isinstance(ut, dict) or not _is_int(ut.get("size")):
                    return None, "%s: type %r is not defined" % (tpath, _short(n))
                return mult * ut["size"], None
            if kind == "enum":
                n = cur.get("name")
                en = ens.get(n) if isinstance(n, str) else None
                if not isinstance(en, dict):
                    return None, "%s: enum %r is not defined" % (tpath, _short(n))
                esz = en.get("size", 4)
                return mult * (esz if _is_int(esz) else 4), None
            if kind == "array":
                c = cur.get("count")
                if not _is_int(c) or c < 0 or c > (1 << 32):
                    return None, "%s.count: not a sane array count" % tpath
                mult *= c
                cur = cur.get("subtype")
                tpath += ".subtype"
                continue
            if kind == "bitfield":
                bp, bl = cur.get("bit_position"), cur.get("bit_length")
                inner = cur.get("type")
                isz, prob = type_size(inner, tpath + ".type") if depth < MAX_TYPE_DEPTH else (None, "too deep")
                if prob:
                    return None, prob
                if not _is_int(bp) or not _is_int(bl) or bp < 0 or bl < 1 or bp + bl > 8 * isz:
                    return None, "%s: bit_position/bit_length outside its %d-byte type" % (tpath, isz)
                return mult * isz, None

    for name, ut in uts.items():
        upath = "%s.user_types[%s]" % (path, json.dumps(name))
        if not isinstance(ut, dict):
            add("%s: not an object" % upath)
            continue
        if ut.get("kind") not in ("struct", "union", "class"):
            add("%s.kind: expected struct, union or class" % upath)
        size = ut.get("size")
        if not _is_int(size) or size < 0 or size > (1 << 32):
            add("%s.size: not a sane size" % upath)
            continue
        fields = ut.get("fields")
        if not isinstance(fields, dict):
            add("%s.fields: not an object" % upath)
            continue
        for fname, fd in fields.items():
            fpath = "%s.fields[%s]" % (upath, json.dumps(fname))
            if not isinstance(fd, dict):
                add("%s: not an object" % fpath)
                continue
            off = fd.get("offset")
            if not _is_int(off) or off < 0:
                add("%s.offset: not a non-negative number" % fpath)
                continue
            fsize, prob = type_size(fd.get("type"), fpath + ".type")
            if prob:
                add(prob)
                continue
            if off + fsize > size and not (fd.get("type", {}).get("kind") == "array" and fd["type"].get("count") in (0, 1)):
                add("%s: field at offset 0x%x size 0x%x lies outside its %s of size 0x%x" % (fpath, off, fsize, ut.get("kind", "struct"), size))
    del sizes
    return problems


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
        self._data = [memoryview(d) for _, d in snap.memory]
        self._symtab = SymbolTable(snap.symbols)
        self._type_sources = {}
        for mod, isf in snap.types.items():
            self._type_sources[mod.lower()] = IsfSource(isf)

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

    def bugcheck(self):
        return self.snap.bugcheck

    def ranges(self):
        return [(a, len(d)) for a, d in zip(self._starts, self._data)]


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
    doc["modules"] = [{"name": m.name, "base": hexstr(m.base), "size": m.size} for m in sorted(modules or [], key=lambda m: m.base)]
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
