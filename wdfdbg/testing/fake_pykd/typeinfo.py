"""``pykd.typeInfo`` and ``pykd.module`` over a snapshot's ISF types, as
pykd 0.3.4 presents PDB types (rules and the kdlib source behind each):

- Members are listed with inherited ones, at offsets from the object start
  (kdlibcpp ``kdlib/source/typeinfo.cpp`` ``enumFields`` walks base classes).
- A vtable pointer is a field named ``__VFN_table`` (``enumFields``,
  ``SymbolUdtField::getVtblField`` in ``kdlib/source/udtfield.h``); its type
  is a *pointer* (``isPointer()`` true, ``isVtbl()`` false) whose
  ``deref()`` is the table: ``isVtbl()`` true, named ``VTable``
  (``TypeInfoVtbl`` in ``kdlib/source/typeinfoimp.h``; kdlib's own test
  ``typedvartest.cpp`` checks ``getElement(L"__VFN_table")->getType()->deref()->isVtbl()``).
  A secondary vtable (ISF ``__vfptr_<Base>``) is another ``__VFN_table`` at
  its offset, and ``<Base>`` is a base class there.
- Static and constant members are listed like the others
  (``enumFields``: ``DataIsStaticMember``, ``DataIsConstant``; pykd's own
  test ``test/scripts/typeinfo.py`` ``testMembers`` lists ``m_staticConst``,
  ``m_staticField`` among the fields); ``isStaticField`` / ``isConstField``
  tell them, and ``fieldOffset`` raises ``TypeException`` for them ("static
  field has no offset", "constant has no offset": ``TypeField::getOffset``
  in ``kdlib/source/udtfield.h``). ISF has no static members, so the
  stand-in adds :data:`STATIC_MEMBERS` to every class with a vtable.
- A derived class that redeclares a base class's member name lists both
  under that name, the base class's first (``enumFields`` walks the base
  classes before the class's own members); a lookup by name answers the
  last one, the derived class's own (``FieldCollection::lookup(name)`` in
  ``kdlib/source/udtfiled.cpp`` scans the list in reverse). ISF flattened
  from headers keeps the derived one as ``<name>__0x<offset>``
  (``shared/reference/types/README.md``): the stand-in lists it under the
  plain name, as pykd does.
- Base types are named ``Char``, ``WChar``, ``Int1B`` .. ``UInt8B``,
  ``Bool``, ``Float``, ``Double``, ``Void`` (``TypeInfo::isBaseType`` in
  ``typeinfo.cpp``); bit fields ``UInt4B:3`` with ``bitOffset()`` and
  ``bitWidth()``; enum fields are constants with ``int()``.
"""

import re

from wdfdbg.testing.fake_pykd.model import DbgException, TypeException

_CURRENT = {}

# (name, kind) added to every ISF class that has a vtable: pykd lists such
# members, and a reader must skip them (fieldOffset raises for them).
STATIC_MEMBERS = (("s_wdfdbgStandInStatic", "static"), ("s_wdfdbgStandInConst", "const"))


def _pykd_base_name(isf_doc, name, ptr):
    """ISF base type name -> kdlib's name (``UInt4B``...)."""
    from wdfdbg.layouts.model import _BUILTIN_BASE
    bt = (isf_doc.get("base_types") or {}).get(name)
    if bt is not None:
        kind, size, signed = bt.get("kind", "int"), int(bt.get("size", 0)), bool(bt.get("signed", False))
    elif name in _BUILTIN_BASE:
        kind, size, signed = _BUILTIN_BASE[name]
    elif name == "pointer":
        kind, size, signed = "int", ptr, False
    else:
        raise TypeException("%s : type not found" % name)
    if kind == "void":
        return "Void", 0
    if kind == "bool":
        return "Bool", size
    if kind == "float":
        return ("Double" if size == 8 else "Float"), size
    if kind == "char":
        return ("WChar" if size == 2 else "Char"), size
    return ("%sInt%dB" % ("" if signed else "U", size)), size


_REDECLARED = re.compile(r"^(.+)__0x[0-9a-fA-F]+$")


def _declared_name(isf_name):
    """The name a debugger gives a member the ISF renamed because a base
    class has a member of the same name (``m_SpinLock__0x68``)."""
    m = _REDECLARED.match(isf_name)
    return m.group(1) if m else isf_name


class typeInfo(object):
    """pykd.typeInfo over an ISF type description."""

    def __init__(self, name, _fake=None, _module=None, _desc=None):
        if _fake is None:
            fake = _CURRENT.get("fake")
            if fake is None:
                raise DbgException("pykd is not initialized (no fake target)")
            other = fake.typeInfo(name)
            self.__dict__.update(other.__dict__)
            return
        self._fake = _fake
        self._module = _module
        self._desc = _desc  # ("udt", name) | ("isf", TYPE) | ("vtptr",) | ("vtbl",) | ("const", name, value)
        self._fields = None
        self._cache_name = name

    # -- construction helpers
    def _isf(self):
        return self._fake._types_of(self._module)

    def _make(self, desc):
        return typeInfo(None, _fake=self._fake, _module=self._module, _desc=desc)

    def _kind(self):
        d = self._desc
        if d[0] == "isf":
            return d[1].get("kind")
        return d[0]

    def _udt(self):
        if self._desc[0] == "udt":
            return (self._isf().get("user_types") or {}).get(self._desc[1])
        return None

    # -- pykd API
    def name(self):
        d = self._desc
        if d[0] == "udt":
            return d[1]
        if d[0] == "vtbl":
            return "VTable"
        if d[0] == "vtptr":
            return "VTable*"
        if d[0] == "const":
            return d[1]
        t = d[1]
        k = t.get("kind")
        if k == "base":
            return _pykd_base_name(self._isf(), t.get("name"), self._fake.ptr)[0]
        if k == "pointer":
            return self.deref().name() + "*"
        if k == "array":
            return "%s[%d]" % (self.deref().name(), int(t.get("count", 0)))
        if k in ("struct", "union", "class", "enum"):
            return t.get("name")
        if k == "function":
            return "Void(__cdecl)()"
        if k == "bitfield":
            return "%s:%d" % (self._make(("isf", t.get("type"))).name(), int(t.get("bit_length", 1)))
        return "NoType"

    def scopeName(self):
        return self._module

    def size(self):
        d = self._desc
        if d[0] == "udt":
            ut = self._udt()
            if ut is None:
                raise TypeException("%s : type has no size (not defined)" % d[1])
            return int(ut.get("size", 0))
        if d[0] == "vtbl":
            return self._fake.ptr * 8  # a table of eight entries, as DIA would size it
        if d[0] == "vtptr":
            return self._fake.ptr
        if d[0] == "const":
            return 4
        t = d[1]
        k = t.get("kind")
        if k == "base":
            name, size = _pykd_base_name(self._isf(), t.get("name"), self._fake.ptr)
            if name == "Void":
                raise TypeException("Void : This type has no size")
            return size
        if k == "pointer":
            return self._fake.ptr
        if k == "array":
            return int(t.get("count", 0)) * self.deref().size()
        if k in ("struct", "union", "class"):
            return self._make(("udt", t.get("name"))).size()
        if k == "enum":
            e = (self._isf().get("enums") or {}).get(t.get("name")) or {}
            return int(e.get("size", 4))
        if k == "bitfield":
            return self._make(("isf", t.get("type"))).size()
        raise TypeException("%s : type has no size" % self.name())

    def _is(self, *kinds):
        return self._kind() in kinds

    def isPointer(self):
        return self._is("pointer") or self._desc[0] == "vtptr"

    def isArray(self):
        return self._is("array")

    def isUserDefined(self):
        d = self._desc
        return d[0] == "udt" or (d[0] == "isf" and d[1].get("kind") in ("struct", "union", "class"))

    def isEnum(self):
        return self._is("enum")

    def isBitField(self):
        return self._is("bitfield")

    def isFunction(self):
        return self._is("function")

    def isVtbl(self):
        return self._desc[0] == "vtbl"

    def isConstant(self):
        return self._desc[0] == "const"

    def isBase(self):
        return self._is("base") and not self.isVoid()

    def isVoid(self):
        d = self._desc
        return d[0] == "isf" and d[1].get("kind") == "base" and \
            _pykd_base_name(self._isf(), d[1].get("name"), self._fake.ptr)[0] == "Void"

    def isNoType(self):
        return False

    def deref(self):
        d = self._desc
        if d[0] == "vtptr":
            return self._make(("vtbl",))
        if d[0] == "isf" and d[1].get("kind") in ("pointer", "array"):
            sub = d[1].get("subtype") or {"kind": "base", "name": "void"}
            if sub.get("kind") in ("struct", "union", "class"):
                return self._make(("udt", sub.get("name")))
            return self._make(("isf", sub))
        raise TypeException("%s : type can not be dereffered" % self.name())

    def bitOffset(self):
        if not self.isBitField():
            raise TypeException("%s : type is not a bit field" % self.name())
        return int(self._desc[1].get("bit_position", 0))

    def bitWidth(self):
        if not self.isBitField():
            raise TypeException("%s : type is not a bit field" % self.name())
        return int(self._desc[1].get("bit_length", 1))

    # fields
    def _field_list(self):
        """[(pykd name, offset, typeInfo)] as kdlib lists them."""
        if self._fields is not None:
            return self._fields
        d = self._desc
        out = []
        if d[0] == "isf" and d[1].get("kind") in ("struct", "union", "class"):
            return self._make(("udt", d[1].get("name")))._field_list()
        if d[0] == "isf" and d[1].get("kind") == "enum":
            e = (self._isf().get("enums") or {}).get(d[1].get("name")) or {}
            for cname, val in sorted((e.get("constants") or {}).items(), key=lambda kv: (kv[1], kv[0])):
                out.append((cname, 0, self._make(("const", cname, int(val))), "const"))
        elif d[0] == "udt":
            ut = self._udt()
            if ut is None:
                raise TypeException("%s : type is not defined in the fake's ISF" % d[1])
            fields = ut.get("fields") or {}
            items = sorted(fields.items(), key=lambda kv: (int(kv[1].get("offset", 0)), kv[0] != "__vfptr"))
            statics = "__vfptr" in fields
            for fname, fd in items:
                off = int(fd.get("offset", 0))
                t = fd.get("type") or {}
                if fname == "__vfptr" or fname.startswith("__vfptr_"):
                    out.append(("__VFN_table", off, self._make(("vtptr",)), "member"))
                    if statics and fname == "__vfptr":
                        statics = False
                        u4 = self._make(("isf", {"kind": "base", "name": "unsigned long"}))
                        for sname, skind in STATIC_MEMBERS:
                            out.append((sname, None, u4, skind))
                    continue
                if t.get("kind") in ("struct", "union", "class"):
                    ft = self._make(("udt", t.get("name")))
                else:
                    ft = self._make(("isf", t))
                out.append((_declared_name(fname), off, ft, "member"))
        elif d[0] == "isf" and d[1].get("kind") == "array":
            raise TypeException("%s : array elements are not fields" % self.name())
        else:
            raise TypeException("%s : type has no fields or array elements" % self.name())
        self._fields = out
        return out

    def getNumberFields(self):
        d = self._desc
        if d[0] == "isf" and d[1].get("kind") == "array":
            return int(d[1].get("count", 0))
        return len(self._field_list())

    def __len__(self):
        return self.getNumberFields()

    def _index(self, key):
        fl = self._field_list()
        if isinstance(key, int):
            if not 0 <= key < len(fl):
                raise IndexError("Index out of range")
            return key
        for i in range(len(fl) - 1, -1, -1):   # the last of a redeclared name: the derived class's own
            if fl[i][0] == key:
                return i
        raise TypeException("%s : field \"%s not found" % (self.name(), key))

    def fieldName(self, index):
        return self._field_list()[self._index(index)][0]

    def fieldOffset(self, key):
        if isinstance(key, str) and "." in key:
            head, rest = key.split(".", 1)
            return self.fieldOffset(head) + self.field(head).fieldOffset(rest)
        entry = self._field_list()[self._index(key)]
        if entry[3] == "static":
            raise TypeException("%s : static field has no offset" % entry[0])
        if entry[3] == "const" and not self.isEnum():
            raise TypeException("%s : constant has no offset" % entry[0])
        return entry[1]

    def staticOffset(self, key):
        entry = self._field_list()[self._index(key)]
        if entry[3] != "static":
            raise TypeException("%s : this is not a static field" % entry[0])
        return 0

    def field(self, key):
        return self._field_list()[self._index(key)][2]

    def hasField(self, name):
        try:
            return any(e[0] == name for e in self._field_list())
        except TypeException:
            return False

    def isStaticField(self, key):
        return self._field_list()[self._index(key)][3] == "static"

    def isConstField(self, key):
        return self._field_list()[self._index(key)][3] == "const" and not self.isEnum()

    def fields(self):
        return [(e[0], e[2]) for e in self._field_list()]

    def __getitem__(self, key):
        return self.field(key)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.field(name)
        except (TypeException, IndexError):
            raise AttributeError(name)

    def __contains__(self, name):
        return self.hasField(name)

    # base classes (only the secondary-vtable bases the flattened ISF implies)
    def baseClasses(self):
        ut = self._udt()
        if ut is None:
            return []
        out = []
        for fname, fd in sorted((ut.get("fields") or {}).items(), key=lambda kv: int(kv[1].get("offset", 0))):
            if fname.startswith("__vfptr_"):
                base = fname[len("__vfptr_"):]
                out.append((base, int(fd.get("offset", 0)), self._make(("udt", base))))
        return out

    def getNumberBaseClasses(self):
        return len(self.baseClasses())

    def baseClass(self, key):
        for i, (n, _, t) in enumerate(self.baseClasses()):
            if key == i or key == n:
                return t
        raise TypeException("%s : type has no base class %s" % (self.name(), key))

    def baseClassOffset(self, key):
        for i, (n, o, _) in enumerate(self.baseClasses()):
            if key == i or key == n:
                return o
        raise TypeException("%s : type has no base class %s" % (self.name(), key))

    # constants (enum members) behave like numbers
    def __int__(self):
        if self._desc[0] == "const":
            return self._desc[2]
        raise TypeException("%s : this type is not a constant and has not a value" % self.name())

    __index__ = __int__

    def __eq__(self, other):
        if self._desc[0] == "const" and isinstance(other, int):
            return self._desc[2] == other
        return self is other

    def __hash__(self):
        return id(self)

    def __bool__(self):
        return True

    def __str__(self):
        return "fake typeInfo %s" % self.name()

    def __repr__(self):
        return "<pykd.typeInfo %s>" % self.name()


class module(object):
    """pykd.module by name or address."""

    def __init__(self, key, _fake=None, _m=None):
        if _m is None:
            fake = _fake or _CURRENT.get("fake")
            if fake is None:
                raise DbgException("pykd is not initialized (no fake target)")
            _m = fake._find_module(key)
            _fake = fake
        self._fake = _fake
        self._m = _m

    def name(self):
        return self._m.name

    def begin(self):
        return self._m.base

    def end(self):
        return self._m.base + self._m.size

    def size(self):
        return self._m.size

    def image(self):
        return self._m.name + ".sys"

    def timestamp(self):
        # pykd/pymodule.h getTimeDataStamp: the module list's TimeDateStamp
        # (the snapshot's modules[i].timestamp; 0 where it has none)
        return self._m.timestamp or 0

    def __int__(self):
        return self._m.base

    __index__ = __int__

    def __str__(self):
        return "Module: %s\nStart: %x End: %x Size: %x\n" % (self.name(), self.begin(), self.end(), self.size())


