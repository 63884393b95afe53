"""TPI records -> an ISF document (volatility3 schema 6.2.0), shaped as
``shared/reference/types/*/Wdf01000.json`` and a snapshot's ``types``:

* C++ classes flattened with their bases: a base's members at the base's
  offset, the vtable pointer ``__vfptr`` at 0 and a further base's vtable
  pointer as ``__vfptr_<Base>``; a derived class's member whose name a base
  already uses is ``NAME__0xOFF`` (FxSpinLock's own ``m_SpinLock__0x68``);
* anonymous unions and structs are already flattened by the compiler (their
  members sit in the enclosing field list);
* forward references resolved by unique name (else by name);
* unions, enums, bitfields, arrays, pointers (``{"kind": "function"}`` for
  code), modifiers dropped.
"""

from wdfdbg.sources.pdb import tpi

FORMAT = "6.2.0"
MAX_DEPTH = 64          # nesting of bases and of type references
MAX_FIELDS = 100000     # fields of one flattened type

# CodeView simple types (cvinfo.h TYPE_ENUM_e, the low byte) -> ISF base type
SIMPLE = {
    0x03: ("void", "void", 0, False),
    0x10: ("char", "char", 1, True), 0x20: ("unsigned char", "int", 1, False),
    0x68: ("char", "char", 1, True), 0x69: ("unsigned char", "int", 1, False),
    0x70: ("char", "char", 1, True), 0x71: ("wchar", "int", 2, False),
    0x7A: ("wchar", "int", 2, False), 0x7B: ("unsigned long", "int", 4, False), 0x7C: ("char", "char", 1, True),
    0x11: ("short", "int", 2, True), 0x21: ("unsigned short", "int", 2, False),
    0x72: ("short", "int", 2, True), 0x73: ("unsigned short", "int", 2, False),
    0x12: ("long", "int", 4, True), 0x22: ("unsigned long", "int", 4, False),
    0x74: ("int", "int", 4, True), 0x75: ("unsigned int", "int", 4, False),
    0x13: ("long long", "int", 8, True), 0x23: ("unsigned long long", "int", 8, False),
    0x76: ("long long", "int", 8, True), 0x77: ("unsigned long long", "int", 8, False),
    0x30: ("bool", "bool", 1, False), 0x31: ("unsigned short", "int", 2, False),
    0x32: ("unsigned long", "int", 4, False), 0x33: ("unsigned long long", "int", 8, False),
    0x40: ("float", "float", 4, True), 0x41: ("double", "float", 8, True),
    0x08: ("long", "int", 4, True),   # HRESULT
}


class IsfBuilder(object):
    """Builds the ISF document from a :class:`~wdfdbg.sources.pdb.tpi.TypeStream`."""

    def __init__(self, types, pointer_size):
        self.types = types
        self.ptr = pointer_size
        self.base_types = {"pointer": {"kind": "int", "size": pointer_size, "signed": False, "endian": "little"}}
        self.problems = []
        self._defs = {}        # unique or plain name -> defining type index
        self._names = {}       # defining type index -> ISF name
        for ti, rec in types.records():
            if isinstance(rec, (tpi.Composite, tpi.Enum)) and not rec.forward:
                self._defs.setdefault(rec.unique or rec.name, ti)
                self._defs.setdefault(rec.name, ti)

    # -- references ----------------------------------------------------
    def definition(self, ti):
        """The defining record's index for ``ti`` (forward references followed)."""
        rec = self.types.get(ti)
        if isinstance(rec, (tpi.Composite, tpi.Enum)) and rec.forward:
            return self._defs.get(rec.unique or rec.name, self._defs.get(rec.name, ti))
        return ti

    def _base(self, ti):
        low = ti & 0xFF
        mode = (ti >> 8) & 0x7
        if mode:     # a pointer to a simple type (near32 = 4, near64 = 6)
            return {"kind": "pointer", "subtype": self._base(low)}
        name, kind, size, signed = SIMPLE.get(low, ("void", "void", 0, False))
        self.base_types.setdefault(name, {"kind": kind, "size": size, "signed": signed, "endian": "little"})
        return {"kind": "base", "name": name}

    def size_of(self, ti, depth=0):
        if depth > MAX_DEPTH:
            return 0
        if ti < tpi.TI_FIRST:
            if (ti >> 8) & 7:
                return self.ptr
            return SIMPLE.get(ti & 0xFF, ("", "", 0, False))[2]
        rec = self.types.get(self.definition(ti))
        if isinstance(rec, tpi.Composite):
            return rec.size
        if isinstance(rec, tpi.Enum):
            return self.size_of(rec.underlying, depth + 1)
        if isinstance(rec, tpi.Pointer):
            return rec.size or self.ptr
        if isinstance(rec, tpi.Modifier):
            return self.size_of(rec.type, depth + 1)
        if isinstance(rec, tpi.Array):
            return rec.size
        if isinstance(rec, tpi.Bitfield):
            return self.size_of(rec.type, depth + 1)
        return 0

    def ref(self, ti, depth=0):
        """An ISF type reference for type index ``ti``."""
        if ti < tpi.TI_FIRST:
            return self._base(ti)
        if depth > MAX_DEPTH:
            return {"kind": "base", "name": "void"}
        d = self.definition(ti)
        rec = self.types.get(d)
        if isinstance(rec, tpi.Composite):
            return {"kind": rec.kind, "name": self.name_of(d)}
        if isinstance(rec, tpi.Enum):
            return {"kind": "enum", "name": self.name_of(d)}
        if isinstance(rec, tpi.Pointer):
            if rec.mode in (2, 3) or (rec.size and rec.size != self.ptr):   # pointer to member
                return {"kind": "array", "count": rec.size or self.ptr, "subtype": self._base(0x20)}
            return {"kind": "pointer", "subtype": self.ref(rec.referent, depth + 1)}
        if isinstance(rec, tpi.Modifier):
            return self.ref(rec.type, depth + 1)
        if isinstance(rec, tpi.Array):
            esize = self.size_of(rec.element)
            count = rec.size // esize if esize else 0
            return {"kind": "array", "count": count, "subtype": self.ref(rec.element, depth + 1)}
        if isinstance(rec, tpi.Bitfield):
            return {"kind": "bitfield", "bit_position": rec.position, "bit_length": rec.length,
                    "type": self.ref(rec.type, depth + 1)}
        if isinstance(rec, tpi.Procedure):
            return {"kind": "function"}
        return {"kind": "base", "name": "void"}

    def name_of(self, d):
        name = self._names.get(d)
        if name is None:
            rec = self.types.get(d)
            name = rec.name
            owner = self._defs.get(rec.name)
            if owner is not None and owner != d and self.types.get(owner).unique != rec.unique:
                name = "%s__%x" % (rec.name, d)    # another type of the same name (unnamed tags)
            self._names[d] = name
        return name

    # -- fields --------------------------------------------------------
    def _members(self, fieldlist_ti):
        """The members of a field list and its LF_INDEX continuations."""
        out = []
        seen = set()
        ti = fieldlist_ti
        while ti and ti not in seen and len(seen) < 1000:
            seen.add(ti)
            fl = self.types.fieldlist(ti)
            if fl is None:
                break
            nxt = None
            for m in fl.members:
                if m[0] == "index":
                    nxt = m[1]
                else:
                    out.append(m)
            if fl.partial:
                self.problems.append("field list 0x%x: a member kind wdfdbg does not read ended it early" % ti)
            ti = nxt
        return out

    def flatten(self, d, fields, base_offset=0, depth=0, base_name=None):
        rec = self.types.get(d)
        if depth > MAX_DEPTH or not isinstance(rec, tpi.Composite):
            return
        for m in self._members(rec.fields):
            if len(fields) >= MAX_FIELDS:
                return
            if m[0] == "base":
                self.flatten(self.definition(m[1]), fields, base_offset + m[2], depth + 1,
                             self.types.get(self.definition(m[1])).name
                             if isinstance(self.types.get(self.definition(m[1])), tpi.Composite) else None)
            elif m[0] == "vfptr":
                name = "__vfptr" if base_offset == 0 or base_name is None else "__vfptr_%s" % base_name
                self._add(fields, name, base_offset, {"kind": "pointer", "subtype": {"kind": "base", "name": "void"}})
            elif m[0] == "member":
                self._add(fields, m[1], base_offset + m[3], self.ref(m[2]))
            elif m[0] == "vbase":
                self.problems.append("%s: a virtual base; its members are not flattened" % rec.name)

    @staticmethod
    def _add(fields, name, offset, ref):
        have = fields.get(name)
        if have is not None:
            if have["offset"] == offset:
                return
            name = "%s__0x%x" % (name, offset)
        fields[name] = {"offset": offset, "type": ref}

    # -- one type at a time (what a type source is asked) ----------------
    def user_type(self, name):
        """The ISF entry of struct/union/class ``name``, flattened now; None
        when the PDB defines no such type."""
        d = self._defs.get(name)
        if d is None and "__" in name:     # a renamed duplicate: NAME__<type index>
            head, _, tail = name.rpartition("__")
            try:
                d = int(tail, 16)
            except ValueError:
                d = None
            if d is not None and self.name_of_safe(d) != name:
                d = None
        rec = self.types.get(d) if d is not None else None
        if not isinstance(rec, tpi.Composite) or rec.forward:
            return None
        fields = {}
        self.flatten(d, fields)
        return {"kind": rec.kind, "size": rec.size, "fields": fields}

    def name_of_safe(self, d):
        rec = self.types.get(d)
        return self.name_of(d) if isinstance(rec, (tpi.Composite, tpi.Enum)) and not rec.forward else None

    def enum(self, name):
        d = self._defs.get(name)
        rec = self.types.get(d) if d is not None else None
        if not isinstance(rec, tpi.Enum) or rec.forward:
            return None
        constants = {}
        for m in self._members(rec.fields):
            if m[0] == "enumerate":
                constants.setdefault(m[1], m[2])
        base = self._base(rec.underlying) if rec.underlying < tpi.TI_FIRST else {"name": "int"}
        return {"size": self.size_of(rec.underlying) or 4, "base": base.get("name", "int"), "constants": constants}

    def _enum_at(self, ti):
        rec = self.types.get(ti)
        constants = dict((m[1], m[2]) for m in reversed(self._members(rec.fields)) if m[0] == "enumerate")
        base = self._base(rec.underlying) if rec.underlying < tpi.TI_FIRST else {"name": "int"}
        return {"size": self.size_of(rec.underlying) or 4, "base": base.get("name", "int"), "constants": constants}

    def base_type(self, name):
        if name not in self.base_types:
            for low, (bname, kind, size, signed) in SIMPLE.items():
                if bname == name:
                    self.base_types[name] = {"kind": kind, "size": size, "signed": signed, "endian": "little"}
                    break
        return self.base_types.get(name)

    def document(self, producer_version):
        self.base_types.setdefault("void", {"kind": "void", "size": 0, "signed": False, "endian": "little"})
        user_types = {}
        enums = {}
        for ti, rec in sorted(self.types.records()):
            if isinstance(rec, tpi.Composite) and not rec.forward:
                name = self.name_of(ti)
                if name in user_types:
                    continue
                fields = {}
                self.flatten(ti, fields)
                user_types[name] = {"kind": rec.kind, "size": rec.size, "fields": fields}
            elif isinstance(rec, tpi.Enum) and not rec.forward:
                name = self.name_of(ti)
                if name not in enums:
                    enums[name] = self.enum(rec.name) if self._defs.get(rec.name) == ti else self._enum_at(ti)
        return {"metadata": {"format": FORMAT, "producer": {"name": "wdfdbg-pdb", "version": producer_version}},
                "base_types": self.base_types, "user_types": user_types, "enums": enums, "symbols": {}}
