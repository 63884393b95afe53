"""ISF types (volatility3's Intermediate Symbol Format) as untrusted input:
what a base type can be, the order names resolve across modules, and the
validation of one module's document (``shared/spec/snapshot-format.md``,
"Types: ISF").

* Base types: the kinds and sizes volatility3's schema and ``pdbconv.py``
  (its PDB converter, whose primitive table lists every CodeView base type)
  use, little-endian only (every Windows target is). A C type name means
  one thing on Windows (LLP64 on x64 and ARM64, ILP32 on x86; ``long`` is 4
  bytes on both): an ISF that declares ``unsigned long`` a float, or 8 bytes
  wide, lies, and is refused.
* Cross-module names: a type a module's ISF names but does not define is
  looked up as a debugger does, in the module's own types first, then
  ``nt``'s, then the other modules' in the order listed
  (:func:`resolution_order`). A name no module defines is not a validation
  error; it is refused only when an analysis needs the type
  (:class:`wdfdbg.layouts.Layouts`).
"""

import json


TYPE_KINDS = ("base", "pointer", "array", "struct", "union", "class", "enum", "function", "bitfield")
MAX_TYPE_DEPTH = 32
MAX_ARRAY_COUNT = 1 << 32
KERNEL = "nt"

# Base type names the debugger and ISF use, when a type source has no
# base_types entry for them: name -> (kind, size, signed).
BUILTIN_BASE = {
    "char": ("char", 1, True), "signed char": ("int", 1, True), "unsigned char": ("int", 1, False),
    "short": ("int", 2, True), "unsigned short": ("int", 2, False), "wchar": ("int", 2, False),
    "wchar_t": ("int", 2, False), "int": ("int", 4, True), "unsigned int": ("int", 4, False),
    "long": ("int", 4, True), "unsigned long": ("int", 4, False), "long long": ("int", 8, True),
    "unsigned long long": ("int", 8, False), "__int64": ("int", 8, True),
    "unsigned __int64": ("int", 8, False), "bool": ("bool", 1, False), "void": ("void", 0, False),
    "float": ("float", 4, True), "double": ("float", 8, True),
}

# The sizes each kind can have (pdbconv: int8..int128, f16..f128, bool8).
KIND_SIZES = {"void": (0,), "char": (1, 2), "bool": (1, 2, 4, 8), "int": (1, 2, 4, 8, 16),
              "float": (2, 4, 6, 8, 10, 16)}

# What a known name must be: name -> (kinds, size, signed). size "ptr" is the
# target's pointer size; signed None is either (MSVC's /J makes char
# unsigned; pdbconv calls wchar signed, pykd unsigned; pointers are read
# unsigned whatever the ISF says).
_INTS = ("int",)
_CHARS = ("char", "int")
KNOWN_BASE = {
    "char": (_CHARS, 1, None), "signed char": (_CHARS, 1, True), "unsigned char": (_CHARS, 1, False),
    "wchar": (_CHARS, 2, None), "wchar_t": (_CHARS, 2, None), "rchar16": (_CHARS, 2, None),
    "rchar32": (_CHARS, 4, None),
    "short": (_INTS, 2, True), "unsigned short": (_INTS, 2, False),
    "int": (_INTS, 4, True), "unsigned int": (_INTS, 4, False),
    "long": (_INTS, 4, True), "unsigned long": (_INTS, 4, False), "HRESULT": (_INTS, 4, None),
    "long long": (_INTS, 8, True), "unsigned long long": (_INTS, 8, False),
    "__int64": (_INTS, 8, True), "unsigned __int64": (_INTS, 8, False),
    "int8": (_INTS, 1, True), "uint8": (_INTS, 1, False), "int128": (_INTS, 16, True),
    "uint128": (_INTS, 16, False),
    "bool": (("bool", "int"), 1, None), "bool8": (("bool", "int"), 1, None),
    "f16": (("float",), 2, None), "float": (("float",), 4, None), "f32": (("float",), 4, None),
    "f32pp": (("float",), 4, None), "f48": (("float",), 6, None), "double": (("float",), 8, None),
    "f80": (("float",), 10, None), "f128": (("float",), 16, None),
    "void": (("void",), 0, None),
    "pointer": (_INTS, "ptr", None), "pointer16": (_INTS, 2, None), "pointer32": (_INTS, 4, None),
    "pointer64": (_INTS, 8, None),
}
POINTER_NAMES = ("pointer", "pointer16", "pointer32", "pointer64")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def short(v):
    """A JSON value as its JSON text, cut to 60 characters (messages name
    what the file says, in the file's own spelling)."""
    try:
        s = json.dumps(v, sort_keys=True)
    except (TypeError, ValueError):
        s = str(v)
    return s if len(s) < 60 else s[:57] + "..."


def _an(word):
    """``a 4-byte``, ``an 8-byte``, ``an int``, ``a float``."""
    text = str(word)
    return "an" if text[:1] in "aeiou8" or text in ("11", "18") else "a"


def _alternatives(values):
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else "%s or %s" % (", ".join(values[:-1]), values[-1])


def base_type_problem(name, bt, ptr):
    """Why the ISF base type ``bt`` named ``name`` cannot be, or None."""
    if not isinstance(bt, dict):
        return "not an object"
    kind, size, signed = bt.get("kind"), bt.get("size"), bt.get("signed")
    if not isinstance(kind, str) or kind not in KIND_SIZES:
        return ".kind: expected one of %s, found %s" % (", ".join(sorted(KIND_SIZES)), short(kind))
    if not is_int(size) or size not in KIND_SIZES[kind]:
        return ".size: %s %s base type is %s bytes, found %s" % (_an(kind), kind, _alternatives(KIND_SIZES[kind]),
                                                                 short(size))
    if not isinstance(signed, bool):
        return ".signed: expected true or false, found %s" % (short(signed),)
    if bt.get("endian", "little") != "little":
        return ".endian: %s: Windows targets are little-endian" % (short(bt.get("endian")),)
    known = KNOWN_BASE.get(name)
    if known is not None:
        kinds, ksize, ksigned = known
        ksize = ptr if ksize == "ptr" else ksize
        if kind not in kinds or size != ksize or (ksigned is not None and signed != ksigned):
            sign = "" if ksigned is None else ("signed " if ksigned else "unsigned ")
            what = {"int": "integer", "char": "character", "bool": "boolean", "float": "floating-point number",
                    "void": "void"}[kinds[0]]
            return ": %s is %s %d-byte %s%s on Windows, not %s %d-byte %s%s" % (
                json.dumps(name), _an(ksize), ksize, sign, what, _an(size), size,
                ("signed " if signed else "unsigned ") if kind != "void" else "", kind)
    return None


def resolution_order(module, listed):
    """Where a name ``module``'s types use is looked up: ``module``, then
    ``nt``, then the other ``listed`` modules in their order (names
    compared without case, each once)."""
    out = [module]
    seen = set([module.lower()])
    for m in [KERNEL] + list(listed):
        if m.lower() not in seen:
            seen.add(m.lower())
            out.append(m)
    return out


class _Lookup(object):
    """Names of one module resolved across the ISF documents of others
    (``chain``: the documents in :func:`resolution_order`, own first)."""

    def __init__(self, chain):
        self.chain = [d for d in chain if isinstance(d, dict)]

    def _get(self, section, name):
        for doc in self.chain:
            sec = doc.get(section)
            if isinstance(sec, dict) and name in sec:
                return sec[name]
        return None

    def user_size(self, name):
        ut = self._get("user_types", name)
        if isinstance(ut, dict) and is_int(ut.get("size")) and ut["size"] >= 0:
            return ut["size"], True
        return None, ut is not None

    def base_size(self, name):
        own = self.chain[0].get("base_types") if self.chain else None
        if isinstance(own, dict) and name in own:
            bt = own[name]
            return (bt["size"], True) if isinstance(bt, dict) and is_int(bt.get("size")) else (None, True)
        if name in BUILTIN_BASE:
            return BUILTIN_BASE[name][1], True
        bt = self._get("base_types", name)
        if isinstance(bt, dict) and is_int(bt.get("size")):
            return bt["size"], True
        return None, bt is not None

    def enum_size(self, name):
        en = self._get("enums", name)
        if isinstance(en, dict):
            esz = en.get("size", 4)
            return (esz if esz in (1, 2, 4, 8) else 4), True
        return None, False


def type_size(t, tpath, ptr, look, depth=0):
    """Size of a TYPE, iteratively through arrays: ``(size, problem)``;
    ``(None, None)`` when it names a type defined nowhere (not an error
    here: only an analysis that needs it refuses it)."""
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
            return None, "%s.kind: unknown type kind %s" % (tpath, short(kind))
        if kind == "pointer":
            return mult * ptr, None
        if kind == "function":
            return 0, None
        if kind == "array":
            c = cur.get("count")
            if not is_int(c) or c < 0 or c > MAX_ARRAY_COUNT:
                return None, "%s.count: not a sane array count" % tpath
            mult *= c
            cur = cur.get("subtype")
            tpath += ".subtype"
            continue
        if kind == "bitfield":
            bp, bl = cur.get("bit_position"), cur.get("bit_length")
            isz, prob = type_size(cur.get("type"), tpath + ".type", ptr, look, depth)
            if prob or isz is None:
                return None, prob
            if not is_int(bp) or not is_int(bl) or bp < 0 or bl < 1 or bp + bl > 8 * isz:
                return None, "%s: bit_position/bit_length outside its %d-byte type" % (tpath, isz)
            return mult * isz, None
        n = cur.get("name")
        if not isinstance(n, str):
            return None, "%s.name: not a string" % tpath
        if kind == "base":
            size, _found = look.base_size(n)
        elif kind == "enum":
            size, _found = look.enum_size(n)
        else:
            size, _found = look.user_size(n)
        return (None if size is None else mult * size), None


def address_space(ptr):
    """The bytes a target with ``ptr``-byte pointers can address: no type
    it lays out is larger (a size past it is malformed, not big)."""
    return 1 << (8 * ptr)


def validate_isf(isf, path, ptr, others=()):
    """Check an ISF document as much as wdfdbg relies on it: shapes, known
    kinds, base types that can be, struct sizes that are numbers within
    the target's address space, and every field inside its struct. Names
    it uses but does not define are looked up in ``others`` (ISF documents
    in resolution order after this one). Returns the problems, each with
    its JSON path.

    A declared size is not held to :data:`limits.STRUCT_SIZE` here: real
    kernels declare types far larger than any struct wdfdbg reads (the
    1809 ntkrnlmp.pdb's ``_MI_HYPER_SPACE`` is 264 MiB), and a type only
    declared costs nothing. The layouts check the size of each type an
    analysis reads, when it is compiled (:mod:`wdfdbg.layouts.model`)."""
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
        prob = base_type_problem(name, bt, ptr)
        if prob:
            add("%s.base_types[%s]%s" % (path, json.dumps(name), prob if prob[0] in ".:" else ": " + prob))
    for name, en in ens.items():
        if not isinstance(en, dict) or not is_int(en.get("size")) or en.get("size") not in (1, 2, 4, 8):
            add("%s.enums[%s].size: expected 1, 2, 4 or 8" % (path, json.dumps(name)))
    look = _Lookup([isf] + list(others))
    max_size = address_space(ptr)
    for name, ut in uts.items():
        upath = "%s.user_types[%s]" % (path, json.dumps(name))
        if not isinstance(ut, dict):
            add("%s: not an object" % upath)
            continue
        if ut.get("kind") not in ("struct", "union", "class"):
            add("%s.kind: expected struct, union or class" % upath)
        size = ut.get("size")
        if not is_int(size) or size < 0:
            add("%s.size: not a non-negative number" % upath)
            continue
        if size > max_size:
            add("%s.size: %d bytes is larger than the target's %d-bit address space"
                % (upath, size, 8 * ptr))
            continue
        fields = ut.get("fields")
        if not isinstance(fields, dict):
            add("%s.fields: not an object" % upath)
            continue
        for fname, fd in fields.items():
            prob = _field_problem(fd, "%s.fields[%s]" % (upath, json.dumps(fname)), size, ut.get("kind"), ptr, look)
            if prob:
                add(prob)
    return problems


def _field_problem(fd, fpath, size, kind, ptr, look):
    if not isinstance(fd, dict):
        return "%s: not an object" % fpath
    off = fd.get("offset")
    if not is_int(off) or off < 0:
        return "%s.offset: not a non-negative number" % fpath
    t = fd.get("type")
    fsize, prob = type_size(t, fpath + ".type", ptr, look)
    if prob:
        return prob
    flexible = isinstance(t, dict) and t.get("kind") == "array" and t.get("count") in (0, 1)
    if flexible:
        # a variable-length tail (``UCHAR AllocationStart[1]``): it starts
        # inside its struct or at its end, and one element is bounded like
        # any type
        if off > size:
            return "%s: variable-length array at offset 0x%x starts past the end of its %s of size 0x%x" % (
                fpath, off, kind or "struct", size)
        if fsize is not None and fsize > address_space(ptr):
            return "%s: its element is larger than the target's %d-bit address space" % (fpath, 8 * ptr)
        return None
    if fsize is not None and off + fsize > size:
        return "%s: field at offset 0x%x size 0x%x lies outside its %s of size 0x%x" % (
            fpath, off, fsize, kind or "struct", size)
    return None
