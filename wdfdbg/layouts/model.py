"""Types as data: compile ISF type descriptions into struct layouts.

A :class:`StructLayout` has a size and fields (offset, size, kind). Nested
structs are flattened into dotted names (``m_ChildListHead.Flink``), so one
:meth:`StructLayout.decode` of the bytes read for the whole struct gives every
scalar at once through precompiled :mod:`struct` formats.
"""

import struct

from wdfdbg.errors import LayoutError
from wdfdbg.sources import limits
from wdfdbg.sources.isf import BUILTIN_BASE, KIND_SIZES, POINTER_NAMES

# Base type names the debugger and ISF use, when a type source has no
# base_types entry for them: name -> (kind, size, signed).
_BUILTIN_BASE = BUILTIN_BASE

_INT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
              (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}

MAX_FLATTEN_DEPTH = 6
MAX_ARRAY_DECODE = 64


class Field(object):
    """One member: ``offset``, ``size`` and ``kind`` (int, char, bool,
    float, pointer, struct, union, class, array, enum, bitfield, function,
    void); ``type_name`` for struct/enum kinds, ``count`` and ``element``
    (a Field) for arrays, ``target`` (a type dict) for pointers."""

    __slots__ = ("name", "offset", "size", "kind", "signed", "type_name", "count",
                 "element", "bit_position", "bit_length", "raw")

    def __init__(self, name, offset, size, kind, signed=False, type_name=None, count=None,
                 element=None, bit_position=None, bit_length=None, raw=None):
        self.name = name
        self.offset = offset
        self.size = size
        self.kind = kind
        self.signed = signed
        self.type_name = type_name
        self.count = count
        self.element = element
        self.bit_position = bit_position
        self.bit_length = bit_length
        self.raw = raw

    def __repr__(self):
        return "Field(%s @0x%x size %d %s)" % (self.name, self.offset, self.size, self.kind)


class StructLayout(object):
    """A compiled struct: ``name``, ``size``, ``fields`` (top level, by
    name), ``flat`` (scalars with dotted names), ``extent`` (the bytes the
    fields cover, at most ``size``) and ``source`` (where the type came
    from: ``"symbols:Wdf01000"`` or ``"profile:win10-19041-x64"``)."""

    def __init__(self, name, size, fields, flat, source):
        self.name = name
        self.size = size
        self.fields = fields
        self.flat = flat
        self.source = source
        # the bytes the fields cover: a struct read needs no more than this
        # (a type may declare a size far past its last field)
        self.extent = min(size, max([f.offset + f.size for f in flat.values()] or [0]))
        self._compile()

    def _compile(self):
        scalars = []
        self._bitfields = []
        self._arrays = []
        for dotted, f in self.flat.items():
            if f.kind == "bitfield":
                self._bitfields.append((dotted, f))
            elif f.kind == "array":
                self._arrays.append((dotted, f))
            elif f.size in (1, 2, 4, 8) and f.kind in ("int", "char", "bool", "pointer", "enum"):
                # no "float": kernel code keeps no floating-point members in
                # the structures wdfdbg reads, and a float where a decoder
                # expects an integer is a lie of the types; left out
                scalars.append((f.offset, dotted, f))
        scalars.sort(key=lambda t: (t[0], t[1]))
        passes = []  # each: (end, [(offset, name, code, size)])
        for off, dotted, f in scalars:
            code = _INT_CODES[(f.size, f.signed and f.kind in ("int", "char", "enum"))]
            for p in passes:
                if p[0] <= off:
                    p[1].append((off, dotted, code, f.size))
                    p[0] = off + f.size
                    break
            else:
                passes.append([off + f.size, [(off, dotted, code, f.size)]])
        self._passes = []
        for end, items in passes:
            fmt = ["<"]
            pos = 0
            names = []
            for off, dotted, code, size in items:
                if off > pos:
                    fmt.append("%dx" % (off - pos))
                fmt.append(code)
                pos = off + size
                names.append(dotted)
            self._passes.append((struct.Struct("".join(fmt)), tuple(names), end))

    def has(self, name):
        return name in self.flat or name in self.fields

    def offset(self, name):
        f = self.flat.get(name) or self.fields.get(name)
        if f is None:
            raise LayoutError("%s has no field %s" % (self.name, name))
        return f.offset

    def field(self, name):
        f = self.flat.get(name) or self.fields.get(name)
        if f is None:
            raise LayoutError("%s has no field %s" % (self.name, name))
        return f

    def own_member(self, name, base_end):
        """The member ``name`` this class declares itself, told apart from
        a base class's member of the same name by offset: the first one at
        or past ``base_end`` (the base class's size). A derived class may
        redeclare a base member's name (FxSpinLock's own ``m_SpinLock`` at
        0x68, FxObject's at 0x30); symbols present either one under the
        plain name, and ISF flattened from headers keeps the derived one as
        ``m_SpinLock__0x68``. LayoutError when the class declares none."""
        found = [f for n, f in self.fields.items()
                 if (n == name or n.startswith(name + "__")) and f.offset >= base_end]
        if not found:
            raise LayoutError("%s declares no member %s of its own (past 0x%x)" % (self.name, name, base_end))
        return min(found, key=lambda f: f.offset)

    def decode(self, data, base=0):
        """Decode ``data[base:base+size]`` into a dict of flattened fields.

        Bytes past the end of ``data`` decode as missing keys (a struct
        read short is never padded with invented values)."""
        out = {}
        avail = len(data) - base
        for st, names, end in self._passes:
            if end <= avail:
                out.update(zip(names, st.unpack_from(data, base)))
            else:
                for name in names:
                    f = self.flat[name]
                    if f.offset + f.size <= avail:
                        out[name] = _decode_scalar(f, data, base + f.offset)
        for dotted, f in self._bitfields:
            if f.offset + f.size <= avail:
                raw = int.from_bytes(bytes(data[base + f.offset: base + f.offset + f.size]), "little")
                out[dotted] = (raw >> f.bit_position) & ((1 << f.bit_length) - 1)
        for dotted, f in self._arrays:
            if f.offset + f.size > avail:
                continue
            el = f.element
            start = base + f.offset
            if el is not None and el.kind == "char" and el.size == 1:
                out[dotted] = bytes(data[start:start + f.count])
            elif el is not None and el.kind in ("int", "pointer", "enum", "bool") and el.size in (1, 2, 4, 8):
                n = min(f.count, MAX_ARRAY_DECODE)
                code = _INT_CODES[(el.size, el.signed and el.kind == "int")]
                out[dotted] = struct.unpack_from("<%d%s" % (n, code), data, start)
        return out

    def __repr__(self):
        return "StructLayout(%s, size 0x%x, %d fields, %s)" % (self.name, self.size, len(self.fields), self.source)


def _decode_scalar(f, data, pos):
    return int.from_bytes(bytes(data[pos:pos + f.size]), "little", signed=bool(f.signed and f.kind in ("int", "char", "enum")))


_SCALAR_KINDS = ("int", "char", "bool", "pointer", "enum")
SHAPE_WORDS = {"scalar": "an integer or pointer of 1, 2, 4 or 8 bytes", "aggregate": "a struct, union or class",
               "array": "an array", "array of scalars": "an array of integers", "array of aggregates": "an array of structs"}


def shape(f):
    """What a decoder gets for field ``f``: ``"scalar"`` (an int), ``"array
    of scalars"`` (bytes or a tuple of ints), ``"aggregate"`` (its members,
    flattened), ... or the kind and size of anything no decoder can use (a
    float, void, a 16-byte integer)."""
    if f.kind in _SCALAR_KINDS and f.size in (1, 2, 4, 8):
        return "scalar"
    if f.kind == "bitfield" and f.size in (1, 2, 4, 8):
        return "scalar"
    if f.kind in ("struct", "union", "class"):
        return "aggregate"
    if f.kind == "array":
        el = f.element
        if el is not None and shape(el) == "scalar":
            return "array of scalars"
        if el is not None and shape(el) == "aggregate":
            return "array of aggregates"
        return "array"
    return "%s of %d bytes" % (f.kind, f.size)


def shape_problem(f, ref):
    """Why field ``f`` of a type from symbols cannot stand where the
    built-in profile has ``ref``, or None: the decoders use every field as
    the profile declares it (an int, a sequence of ints, members)."""
    have, want = shape(f), shape(ref)
    if have != want:
        return "the types make it %s, but wdfdbg reads it as %s, as every Windows build it knows lays it out" % (
            SHAPE_WORDS.get(have, "a " + have), SHAPE_WORDS.get(want, "a " + want))
    if have.startswith("array") and f.count < ref.count:
        return "the types make it an array of %d, but wdfdbg reads %d elements, as every Windows build it knows has" % (
            f.count, ref.count)
    return None


def _view(ref, f, offset=None):
    """A field that reads the bytes of ``f`` (at ``offset``, default its
    own) the way the profile's ``ref`` reads them."""
    return Field(ref.name, f.offset if offset is None else offset, ref.size, ref.kind, signed=ref.signed,
                 type_name=ref.type_name, count=ref.count, element=ref.element, raw=ref.raw)


def fit_shapes(layout, ref):
    """``layout`` (a type from symbols) made to answer every field the
    profile's ``ref`` has in the shape the decoders read it, or a
    (dotted name, why) problem.

    Types are data: a decoder asks for an integer, a pointer-sized value
    or bytes at a member path, and a legitimate shape of that member gives
    it. A struct, union or class where an integer or pointer is read (the
    class ``FxIrp`` whose first member is the PIRP, the union
    ``_IRP.AssociatedIrp``) is read as its first ``ref.size`` bytes; a
    struct or union where bytes are read (``_WDF_OBJECT_ATTRIBUTES``,
    ``_IO_STACK_LOCATION.Parameters``) as the array of its bytes; an
    integer where the profile has a union (``_LARGE_INTEGER`` as a 64-bit
    integer) answers the union's members inside it. The member's own
    members stay readable under their dotted names. Enums and bitfields
    are integers already (:func:`shape`). What no build could lay out
    stays refused: a member smaller than what is read from it, an array
    shorter than the profile's, a float or void where an integer is
    read."""
    flat = dict(layout.flat)
    changed = False
    for dotted, rf in ref.flat.items():
        f = layout.flat.get(dotted)
        if f is None:
            continue
        have, want = shape(f), shape(rf)
        if have == want:
            why = shape_problem(f, rf)
            if why:
                return dotted, why
            continue
        if have == "aggregate" and want == "scalar" and f.size >= rf.size:
            flat[dotted] = _view(rf, f)
        elif have == "aggregate" and want == "array of scalars" and rf.element is not None \
                and rf.element.size and f.size >= rf.size:
            count = f.size // rf.element.size
            flat[dotted] = Field(dotted, f.offset, count * rf.element.size, "array", count=count,
                                 element=rf.element, raw=rf.raw)
        elif have == "scalar" and want == "aggregate" and f.size == rf.size:
            prefix = dotted + "."
            for sub, sf in ref.flat.items():
                rel = sf.offset - rf.offset
                if sub.startswith(prefix) and sub not in flat and shape(sf) == "scalar" \
                        and 0 <= rel and rel + sf.size <= f.size:
                    flat[sub] = _view(sf, f, f.offset + rel)
        else:
            return dotted, shape_problem(f, rf)
        changed = True
    if not changed:
        return layout
    return StructLayout(layout.name, layout.size, layout.fields, flat, layout.source)


class UnresolvedTypeError(LayoutError):
    """A type names a struct, union, class or base type that no module
    defines (own module, then nt, then the others: see
    :class:`wdfdbg.layouts.ChainedTypes`)."""


class TypeTooLargeError(LayoutError):
    """A type an analysis reads declares a size past
    :data:`limits.STRUCT_SIZE` (itself, or a struct it embeds):
    ``type_name`` and ``size`` say which and how large."""

    def __init__(self, type_name, size):
        self.type_name = type_name
        self.size = size
        super().__init__("type %s: %s" % (type_name, self.why()))

    def why(self):
        return "declares %d bytes, larger than any kernel structure wdfdbg reads (at most %s; %s)" % (
            self.size, limits.STRUCT_SIZE.text(), limits.STRUCT_SIZE.hint())


class TypeCompiler(object):
    """Compiles ISF user types from a type source into StructLayouts.

    ``source`` has ``user_type(name)``, ``base_type(name)``, ``enum(name)``
    returning ISF dicts or None; it answers the types compiled by name.
    ``refs`` (default ``source``) answers the names those types use, so
    that a module's types may use another module's (a
    :class:`~wdfdbg.layouts.ChainedTypes`). ``pointer_size`` sizes
    pointers.

    The size a type declares is checked here, when an analysis reads the
    type (compiles it, or a type that embeds it), not when its document is
    loaded: at most :data:`limits.STRUCT_SIZE`, so that what a struct read
    reads (its ``extent``, the bytes its fields cover, never more than its
    size) is bounded. A kernel may declare larger types than any wdfdbg
    reads (the 1809 kernel's ``_MI_HYPER_SPACE`` is 264 MiB); only
    declaring one is not refused. Sources that were not validated (the
    debugger's symbols) are checked the same way.
    """

    def __init__(self, source, pointer_size, label, refs=None):
        self.source = source
        self.refs = refs if refs is not None else source
        self.pointer_size = pointer_size
        self.label = label
        self._cache = {}

    def _user(self, name):
        ut = self.refs.user_type(name) if isinstance(name, str) else None
        if ut is None:
            raise UnresolvedTypeError("type %r is not defined in any module's types" % (name,))
        return ut

    def _checked_size(self, ut, name):
        size = ut.get("size", 0) if isinstance(ut, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise LayoutError("type %s has no valid size" % name)
        if size > limits.STRUCT_SIZE.value():
            raise TypeTooLargeError(name, size)
        return size

    def type_size(self, t, depth=0):
        kind = t.get("kind")
        if kind == "pointer":
            return self.pointer_size
        if kind == "base":
            return self._base(t.get("name"))[1]
        if kind in ("struct", "union", "class"):
            return self._checked_size(self._user(t.get("name")), t.get("name"))
        if kind == "array":
            if depth > 16:
                raise LayoutError("array nesting too deep")
            size = int(t.get("count", 0)) * self.type_size(t.get("subtype", {}), depth + 1)
            if size < 0 or size > limits.STRUCT_SIZE.value():
                raise LayoutError("an array of %d bytes is larger than any kernel structure" % size)
            return size
        if kind == "enum":
            e = self.refs.enum(t.get("name"))
            if e is None:
                return 4
            return int(e.get("size", 4))
        if kind == "bitfield":
            return self.type_size(t.get("type", {}), depth + 1)
        if kind == "function":
            return 0
        raise LayoutError("unknown type kind %r" % (kind,))

    def _base(self, name):
        """(kind, size, signed) of a base type; pointers are unsigned
        whatever the ISF says (an address is never negative)."""
        bt = self.refs.base_type(name) if isinstance(name, str) else None
        if bt is not None:
            kind, size = bt.get("kind", "int"), bt.get("size", 0)
            if not isinstance(kind, str) or kind not in KIND_SIZES or size not in KIND_SIZES[kind]:
                raise LayoutError("base type %r: a %r of %r bytes cannot be" % (name, kind, size))
            return kind, size, bool(bt.get("signed", False)) and name not in POINTER_NAMES
        if isinstance(name, str) and name in _BUILTIN_BASE:
            return _BUILTIN_BASE[name]
        if name == "pointer":
            return "pointer", self.pointer_size, False
        raise UnresolvedTypeError("base type %r is not defined in any module's types" % (name,))

    def make_field(self, name, offset, t):
        kind = t.get("kind")
        if kind == "base":
            bkind, size, signed = self._base(t.get("name"))
            return Field(name, offset, size, bkind, signed=signed, raw=t)
        if kind == "pointer":
            return Field(name, offset, self.pointer_size, "pointer", raw=t)
        if kind in ("struct", "union", "class"):
            return Field(name, offset, self.type_size(t), kind, type_name=t.get("name"), raw=t)
        if kind == "enum":
            e = self.refs.enum(t.get("name"))
            size = int(e.get("size", 4)) if e else 4
            signed = True
            if e is not None and e.get("base"):
                try:
                    signed = self._base(e.get("base"))[2]
                except LayoutError:
                    signed = True
            return Field(name, offset, size, "enum", signed=signed, type_name=t.get("name"), raw=t)
        if kind == "array":
            sub = t.get("subtype", {})
            count = int(t.get("count", 0))
            el = self.make_field(name + "[]", 0, sub)
            if count < 0 or count * el.size > limits.STRUCT_SIZE.value():
                raise LayoutError("field %s: an array of %d elements is larger than any kernel structure"
                                  % (name, count))
            return Field(name, offset, count * el.size, "array", count=count, element=el, raw=t)
        if kind == "bitfield":
            inner = self.make_field(name, offset, t.get("type", {}))
            return Field(name, offset, inner.size, "bitfield", signed=inner.signed,
                         bit_position=int(t.get("bit_position", 0)), bit_length=int(t.get("bit_length", 1)), raw=t)
        if kind == "function":
            return Field(name, offset, 0, "function", raw=t)
        raise LayoutError("field %s has unknown type kind %r" % (name, kind))

    def _fields(self, typename, ut):
        fields = {}
        for fname, fdesc in (ut.get("fields") or {}).items():
            try:
                fields[fname] = self.make_field(fname, int(fdesc.get("offset", 0)), fdesc.get("type", {}))
            except UnresolvedTypeError as e:
                raise UnresolvedTypeError("%s.%s: %s" % (typename, fname, e))
        return fields

    def compile(self, name):
        if name in self._cache:
            return self._cache[name]
        ut = self.source.user_type(name)
        if ut is None:
            return None
        size = self._checked_size(ut, name)
        fields = self._fields(name, ut)
        flat = {}
        # Iterative flattening of nested structs (no recursion; bounded depth).
        work = [("", 0, fields, 0)]
        seen_budget = 4096
        while work:
            prefix, base, flds, depth = work.pop()
            for fname, f in flds.items():
                dotted = prefix + fname
                seen_budget -= 1
                if seen_budget < 0:
                    break
                if f.kind in ("struct", "union", "class"):
                    flat.setdefault(dotted, Field(dotted, base + f.offset, f.size, f.kind, type_name=f.type_name, raw=f.raw))
                    if depth < MAX_FLATTEN_DEPTH:
                        sub = self.refs.user_type(f.type_name)
                        if sub is not None:
                            work.append((dotted + ".", base + f.offset, self._subfields(f.type_name, sub), depth + 1))
                else:
                    nf = Field(dotted, base + f.offset, f.size, f.kind, signed=f.signed, type_name=f.type_name,
                               count=f.count, element=f.element, bit_position=f.bit_position,
                               bit_length=f.bit_length, raw=f.raw)
                    flat.setdefault(dotted, nf)
        layout = StructLayout(name, size, fields, flat, self.label)
        self._cache[name] = layout
        return layout

    def _subfields(self, typename, sub):
        """Fields of an embedded type; a malformed one is left out (its
        bytes stay covered by the embedding field), a name defined nowhere
        is not."""
        out = {}
        for sn, sd in (sub.get("fields") or {}).items():
            try:
                out[sn] = self.make_field(sn, int(sd.get("offset", 0)), sd.get("type", {}))
            except UnresolvedTypeError as e:
                raise UnresolvedTypeError("%s.%s: %s" % (typename, sn, e))
            except (LayoutError, ValueError, TypeError, AttributeError):
                continue
        return out
