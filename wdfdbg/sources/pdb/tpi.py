"""The TPI stream of a PDB: CodeView type records, read into small records.

Record layouts from Microsoft's ``microsoft-pdb`` ``include/cvinfo.h`` (the
``lfClass``, ``lfUnion``, ``lfEnum``, ``lfPointer``, ``lfArray``,
``lfBitfield``, ``lfModifier`` and field-list member structs) and LLVM's
``llvm/docs/PDB/TpiStream.rst``. A record kind wdfdbg does not need is
skipped by its length; a field-list member kind it does not know ends that
field list (members carry no length), and the type keeps what was read before
it and is marked ``partial``.
"""

import struct

from wdfdbg.sources.pdb.msf import PdbFormatError

TI_FIRST = 0x1000
MAX_TYPE_RECORDS = 4000000      # ntkrnlmp.pdb has some 200,000

# type record kinds (cvinfo.h LEAF_ENUM_e)
LF_VTSHAPE = 0x000A
LF_MODIFIER = 0x1001
LF_POINTER = 0x1002
LF_PROCEDURE = 0x1008
LF_MFUNCTION = 0x1009
LF_ARGLIST = 0x1201
LF_FIELDLIST = 0x1203
LF_BITFIELD = 0x1205
LF_METHODLIST = 0x1206
LF_ARRAY = 0x1503
LF_CLASS = 0x1504
LF_STRUCTURE = 0x1505
LF_UNION = 0x1506
LF_ENUM = 0x1507
LF_INTERFACE = 0x1519
LF_CLASS2 = 0x1608
LF_STRUCTURE2 = 0x1609
LF_UNION2 = 0x160A
LF_INTERFACE2 = 0x160B
# field-list members
LF_BCLASS = 0x1400
LF_VBCLASS = 0x1401
LF_IVBCLASS = 0x1402
LF_FRIENDCLS = 0x140B
LF_INDEX = 0x1404
LF_VFUNCTAB = 0x1409
LF_VFUNCOFF = 0x140C
LF_ENUMERATE = 0x1502
LF_FRIENDFCN = 0x150C
LF_MEMBER = 0x150D
LF_STMEMBER = 0x150E
LF_METHOD = 0x150F
LF_NESTTYPE = 0x1510
LF_ONEMETHOD = 0x1511
LF_NESTTYPEEX = 0x1512
# numeric leaves: (struct format)
_NUMERIC = {0x8000: "<b", 0x8001: "<h", 0x8002: "<H", 0x8003: "<i", 0x8004: "<I", 0x8009: "<q", 0x800A: "<Q"}

# lfClass.property bits (cvinfo.h CV_prop_t)
PROP_FWDREF = 0x80
PROP_HASUNIQUENAME = 0x200

CLASS_KINDS = {LF_CLASS: "class", LF_STRUCTURE: "struct", LF_INTERFACE: "class",
               LF_CLASS2: "class", LF_STRUCTURE2: "struct", LF_INTERFACE2: "class"}


class Composite(object):
    """LF_CLASS / LF_STRUCTURE / LF_UNION / LF_INTERFACE."""
    __slots__ = ("kind", "name", "unique", "size", "fields", "forward")

    def __init__(self, kind, name, unique, size, fields, forward):
        self.kind, self.name, self.unique, self.size, self.fields, self.forward = kind, name, unique, size, fields, forward


class Enum(object):
    __slots__ = ("name", "unique", "underlying", "fields", "forward")

    def __init__(self, name, unique, underlying, fields, forward):
        self.name, self.unique, self.underlying, self.fields, self.forward = name, unique, underlying, fields, forward


class Pointer(object):
    __slots__ = ("referent", "size", "mode")

    def __init__(self, referent, size, mode):
        self.referent, self.size, self.mode = referent, size, mode


class Modifier(object):
    __slots__ = ("type",)

    def __init__(self, t):
        self.type = t


class Array(object):
    __slots__ = ("element", "size")

    def __init__(self, element, size):
        self.element, self.size = element, size


class Bitfield(object):
    __slots__ = ("type", "length", "position")

    def __init__(self, t, length, position):
        self.type, self.length, self.position = t, length, position


class Procedure(object):
    __slots__ = ()


class FieldList(object):
    """``members``: ("member", name, type, offset), ("base", type, offset),
    ("vbase", type), ("vfptr", type), ("enumerate", name, value),
    ("static", name, type), ("nested", name, type), ("index", type);
    ``partial``: an unknown member kind ended the list early."""
    __slots__ = ("members", "partial")

    def __init__(self, members, partial):
        self.members, self.partial = members, partial


def _numeric(buf, at):
    """A CodeView numeric leaf at ``at`` -> (value, next offset)."""
    if at + 2 > len(buf):
        raise PdbFormatError("type record cut short in a number")
    (v,) = struct.unpack_from("<H", buf, at)
    if v < 0x8000:
        return v, at + 2
    fmt = _NUMERIC.get(v)
    if fmt is None:
        raise PdbFormatError("type record: numeric leaf 0x%x" % v)
    size = struct.calcsize(fmt)
    if at + 2 + size > len(buf):
        raise PdbFormatError("type record cut short in a number")
    return struct.unpack_from(fmt, buf, at + 2)[0], at + 2 + size


def _cstring(buf, at):
    end = buf.find(b"\0", at)
    if end < 0:
        end = len(buf)
    return buf[at:end].decode("utf-8", "replace"), end + 1


def _skip_pad(buf, at):
    # LF_PAD0..LF_PAD15 (0xF0 | n): n bytes to the next member
    if at < len(buf) and buf[at] > 0xF0:
        return at + (buf[at] & 0x0F)
    if at < len(buf) and buf[at] == 0xF0:
        return at + 1
    return at


def parse_fieldlist(buf):
    members = []
    at = 0
    n = len(buf)
    while at + 2 <= n:
        at = _skip_pad(buf, at)
        if at + 2 > n:
            break
        (leaf,) = struct.unpack_from("<H", buf, at)
        p = at + 2
        if leaf == LF_MEMBER:
            _attr, t = struct.unpack_from("<HI", buf, p)
            off, p = _numeric(buf, p + 6)
            name, p = _cstring(buf, p)
            members.append(("member", name, t, off))
        elif leaf == LF_BCLASS:
            _attr, t = struct.unpack_from("<HI", buf, p)
            off, p = _numeric(buf, p + 6)
            members.append(("base", t, off))
        elif leaf in (LF_VBCLASS, LF_IVBCLASS):
            _attr, t, _vbptr = struct.unpack_from("<HII", buf, p)
            _vbpoff, p = _numeric(buf, p + 10)
            _vboff, p = _numeric(buf, p)
            members.append(("vbase", t))
        elif leaf == LF_VFUNCTAB:
            _pad, t = struct.unpack_from("<HI", buf, p)
            p += 6
            members.append(("vfptr", t))
        elif leaf == LF_ENUMERATE:
            value, p = _numeric(buf, p + 2)
            name, p = _cstring(buf, p)
            members.append(("enumerate", name, value))
        elif leaf == LF_STMEMBER:
            _attr, t = struct.unpack_from("<HI", buf, p)
            name, p = _cstring(buf, p + 6)
            members.append(("static", name, t))
        elif leaf in (LF_NESTTYPE, LF_NESTTYPEEX):
            _pad, t = struct.unpack_from("<HI", buf, p)
            name, p = _cstring(buf, p + 6)
            members.append(("nested", name, t))
        elif leaf == LF_ONEMETHOD:
            attr, _t = struct.unpack_from("<HI", buf, p)
            p += 6
            if ((attr >> 2) & 7) in (4, 6):   # introducing virtual: a vtable offset follows
                p += 4
            _name, p = _cstring(buf, p)
        elif leaf == LF_METHOD:
            _name, p = _cstring(buf, p + 6)
        elif leaf == LF_INDEX:
            _pad, t = struct.unpack_from("<HI", buf, p)
            p += 6
            members.append(("index", t))
        elif leaf == LF_FRIENDCLS:
            p += 6
        elif leaf == LF_FRIENDFCN:
            _name, p = _cstring(buf, p + 6)
        elif leaf == LF_VFUNCOFF:
            p += 10
        else:
            return FieldList(members, True)
        if p > n:
            return FieldList(members, True)
        at = p
    return FieldList(members, False)


def _composite(kind, buf, leaf):
    if leaf in (LF_CLASS2, LF_STRUCTURE2, LF_INTERFACE2):
        prop, fields, _derived, _vshape, _count = struct.unpack_from("<IIIIH", buf, 0)
        size, p = _numeric(buf, 18)
    elif leaf == LF_UNION2:
        prop, fields, _count = struct.unpack_from("<IIH", buf, 0)
        size, p = _numeric(buf, 10)
    elif leaf == LF_UNION:
        _count, prop, fields = struct.unpack_from("<HHI", buf, 0)
        size, p = _numeric(buf, 8)
    else:
        _count, prop, fields, _derived, _vshape = struct.unpack_from("<HHIII", buf, 0)
        size, p = _numeric(buf, 16)
    name, p = _cstring(buf, p)
    unique = None
    if prop & PROP_HASUNIQUENAME:
        unique, p = _cstring(buf, p)
    return Composite(kind, name, unique, size, fields, bool(prop & PROP_FWDREF))


def parse_record(leaf, buf):
    """One type record's body -> a record object, or None for kinds wdfdbg
    does not use. Raises struct.error / PdbFormatError when cut short."""
    if leaf in CLASS_KINDS:
        return _composite(CLASS_KINDS[leaf], buf, leaf)
    if leaf in (LF_UNION, LF_UNION2):
        return _composite("union", buf, leaf)
    if leaf == LF_ENUM:
        _count, prop, underlying, fields = struct.unpack_from("<HHII", buf, 0)
        name, p = _cstring(buf, 12)
        unique = None
        if prop & PROP_HASUNIQUENAME:
            unique, p = _cstring(buf, p)
        return Enum(name, unique, underlying, fields, bool(prop & PROP_FWDREF))
    if leaf == LF_POINTER:
        referent, attrs = struct.unpack_from("<II", buf, 0)
        return Pointer(referent, (attrs >> 13) & 0x3F, (attrs >> 5) & 7)
    if leaf == LF_MODIFIER:
        return Modifier(struct.unpack_from("<I", buf, 0)[0])
    if leaf == LF_ARRAY:
        element, _index = struct.unpack_from("<II", buf, 0)
        size, _p = _numeric(buf, 8)
        return Array(element, size)
    if leaf == LF_BITFIELD:
        t, length, position = struct.unpack_from("<IBB", buf, 0)
        return Bitfield(t, length, position)
    if leaf in (LF_PROCEDURE, LF_MFUNCTION):
        return Procedure()
    if leaf == LF_FIELDLIST:
        return FieldList(None, False), buf  # parsed on demand (most are never needed)
    return None


class TypeStream(object):
    """The TPI stream's records by type index. ``get(ti)`` -> record or None;
    field lists are parsed when first asked for."""

    def __init__(self, data):
        if len(data) < 56:
            raise PdbFormatError("TPI stream of %d bytes" % len(data))
        (_version, header_size, self.first, self.end, record_bytes) = struct.unpack_from("<5I", data, 0)
        if self.first != TI_FIRST or self.end < self.first or self.end - self.first > MAX_TYPE_RECORDS:
            raise PdbFormatError("TPI stream: type indices 0x%x..0x%x" % (self.first, self.end))
        if header_size < 56 or header_size + record_bytes > len(data):
            raise PdbFormatError("TPI stream: %d record bytes after a %d-byte header in a %d-byte stream"
                                 % (record_bytes, header_size, len(data)))
        self._records = {}
        self._fieldlists = {}
        self.skipped = 0
        at = header_size
        stop = header_size + record_bytes
        ti = self.first
        while at + 4 <= stop and ti < self.end:
            length, leaf = struct.unpack_from("<HH", data, at)
            if length < 2 or at + 2 + length > stop:
                raise PdbFormatError("TPI stream: record 0x%x of %d bytes runs past the stream" % (ti, length))
            body = data[at + 4:at + 2 + length]
            try:
                rec = parse_record(leaf, body)
            except (struct.error, PdbFormatError) as e:
                raise PdbFormatError("TPI stream: record 0x%x (kind 0x%x) is malformed: %s" % (ti, leaf, e))
            if isinstance(rec, tuple):
                self._fieldlists[ti] = rec[1]
            elif rec is not None:
                self._records[ti] = rec
            else:
                self.skipped += 1
            at += 2 + length
            ti += 1
        self.count = ti - self.first

    def get(self, ti):
        return self._records.get(ti)

    def fieldlist(self, ti):
        """The members of field list ``ti`` (following LF_INDEX
        continuations), or None when ``ti`` is not a field list."""
        fl = self._fieldlists.get(ti)
        if fl is None:
            return None
        if not isinstance(fl, FieldList):
            try:
                fl = parse_fieldlist(fl)
            except (struct.error, PdbFormatError):
                fl = FieldList([], True)
            self._fieldlists[ti] = fl
        return fl

    def records(self):
        return self._records.items()
