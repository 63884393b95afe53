"""A stand-in for pykd, backed by a wdfdbg snapshot, for tests on any OS.

It implements the part of pykd's API that wdfdbg uses, with pykd's names,
argument orders, return types and exceptions (pykd 0.3.4.x,
github:ivellioscolin/pykd ``pykd/pymod.cpp``, and kdlib behind it):

- exceptions ``DbgException`` > ``MemoryException``, ``SymbolException`` >
  ``TypeException`` (also ``CallException``, ``CPUException``);
- session: ``isWindbgExt()``, ``isKernelDebugging()``, ``isDumpAnalyzing()``,
  ``getDumpType()`` / ``dumpType``, ``loadDump(path)`` (loads a *snapshot*
  file), ``closeDump(id)``;
- target: ``ptrSize()``, ``is64bitSystem()``, ``pageSize()``,
  ``getCPUType()`` / ``getCPUMode()`` / ``CPUType``, ``getSystemVersion()``
  (``buildNumber``...), ``bugCheckData()``;
- memory: ``loadBytes(offset, count, phyAddr=False)`` -> list of ints,
  raising ``MemoryException("Memory exception at 0x... target virtual
  address")`` for the first unreadable byte as kdlib does;
- symbols: ``getOffset(name)``, ``findSymbol(offset, showDisplacement=True)``,
  ``findSymbolAndDisp(offset)`` (nearest symbol of the module containing
  the address), ``getModulesList()``, ``module(name_or_address)``;
- types: ``typeInfo("Module!Type")`` over the snapshot's ISF, presented as
  pykd presents PDB types: inherited members listed with the rest, vtable
  pointers as ``__VFN_table`` fields whose type ``isVtbl()``, a secondary
  ``__vfptr_<Base>`` also as a base class ``<Base>`` at that offset, base
  types named ``UInt4B`` and so on, bit fields ``UInt4B:3``;
- output: ``dprint(str, dml=False)``, ``dprintln(str, dml=False)`` (captured
  in :attr:`FakePykd.output` as ``(text, dml)``), ``dbgCommand(command)``
  (answers ``.prefer_dml`` from :attr:`FakePykd.prefer_dml_text`, else "").

Install it with :func:`install_fake_pykd` (it becomes ``sys.modules["pykd"]``)
or the :func:`fake_pykd` context manager.
"""

import bisect
import contextlib
import sys
import types as _types

from wdfdbg.sources import snapshot as _snapfmt


# -- exceptions (pykd/dbgexcept.h registerExceptions) ------------------------
class DbgException(Exception):
    """Pykd base exception class"""


class MemoryException(DbgException):
    """Target memory access exception class"""


class SymbolException(DbgException):
    """Symbol exception"""


class TypeException(SymbolException):
    """type exception"""


class CallException(DbgException):
    """Function call exception"""


class CPUException(DbgException):
    """CPU exception"""


class _Enum(object):
    """A boost.python enum value: an int with a name."""

    def __init__(self, owner, name, value):
        self.owner, self.name, self.value = owner, name, value

    def __int__(self):
        return self.value

    __index__ = __int__

    def __eq__(self, other):
        if isinstance(other, _Enum):
            return self.owner == other.owner and self.value == other.value
        return self.value == other

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.value)

    def __str__(self):
        return self.name

    def __repr__(self):
        return "pykd.%s.%s" % (self.owner, self.name)


def _enum_class(owner, names):
    cls = type(owner, (object,), {})
    for i, n in enumerate(names):
        setattr(cls, n, _Enum(owner, n, i))
    return cls


CPUType = _enum_class("CPUType", ["I386", "AMD64", "ARM64", "ARM"])
dumpType = _enum_class("dumpType", ["Small", "Default", "Full", "Image", "KernelSmall", "Kernel", "KernelFull"])
_CPU_BY_ARCH = {"x64": CPUType.AMD64, "x86": CPUType.I386, "arm64": CPUType.ARM64}


class systemVersion(object):
    def __init__(self, build):
        self.win32Major = 10
        self.win32Minor = 0
        self.servicePack = 0
        self.buildNumber = build
        self.buildString = "fake build %d" % build

    def __str__(self):
        return "Major Version: %d\nMinor Version: %d\nBuild: %d\nDescription: %s\n" % (
            self.win32Major, self.win32Minor, self.buildNumber, self.buildString)


# -- types ---------------------------------------------------------------------
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
        self._desc = _desc  # ("udt", name) | ("isf", TYPE) | ("vtbl",) | ("const", name, value)
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
        return self._is("pointer")

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
                out.append((cname, 0, self._make(("const", cname, int(val)))))
        elif d[0] == "udt":
            ut = self._udt()
            if ut is None:
                raise TypeException("%s : type is not defined in the fake's ISF" % d[1])
            items = sorted((ut.get("fields") or {}).items(), key=lambda kv: (int(kv[1].get("offset", 0)), kv[0] != "__vfptr"))
            for fname, fd in items:
                off = int(fd.get("offset", 0))
                t = fd.get("type") or {}
                if fname == "__vfptr" or fname.startswith("__vfptr_"):
                    out.append(("__VFN_table", off, self._make(("vtbl",))))
                    continue
                if t.get("kind") in ("struct", "union", "class"):
                    ft = self._make(("udt", t.get("name")))
                else:
                    ft = self._make(("isf", t))
                out.append((fname, off, ft))
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
        for i, (n, _, _) in enumerate(fl):
            if n == key:
                return i
        raise TypeException("%s : field \"%s not found" % (self.name(), key))

    def fieldName(self, index):
        return self._field_list()[self._index(index)][0]

    def fieldOffset(self, key):
        if isinstance(key, str) and "." in key:
            head, rest = key.split(".", 1)
            return self.fieldOffset(head) + self.field(head).fieldOffset(rest)
        return self._field_list()[self._index(key)][1]

    def field(self, key):
        return self._field_list()[self._index(key)][2]

    def hasField(self, name):
        try:
            return any(n == name for n, _, _ in self._field_list())
        except TypeException:
            return False

    def isStaticField(self, key):
        self._index(key)
        return False

    def isConstField(self, key):
        self._index(key)
        return False

    def fields(self):
        fl = self._field_list()
        if self.isEnum():
            return [(n, t) for n, _, t in fl]
        return [(n, t) for n, _, t in fl]

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

    def __int__(self):
        return self._m.base

    __index__ = __int__

    def __str__(self):
        return "Module: %s\nStart: %x End: %x Size: %x\n" % (self.name(), self.begin(), self.end(), self.size())


# -- the fake --------------------------------------------------------------------
_CURRENT = {}


class FakePykd(object):
    """State behind the fake module; ``make_module()`` builds the module."""

    def __init__(self, source=None, live=False, dump_type="KernelSmall", windbg=True, kernel=True,
                 prefer_dml_text="DML versions of commands on by default\n"):
        self.windbg = windbg
        self.kernel = kernel
        self.live = live
        self.dump_type = getattr(dumpType, dump_type)
        self.prefer_dml_text = prefer_dml_text
        self.output = []          # (text, dml) from dprint/dprintln
        self.commands = []        # dbgCommand calls
        self.calls = {}           # API name -> count
        self.dumps = {}
        self.snap = None
        if source is not None:
            self._load(source)

    # -- state
    def _load(self, source):
        if isinstance(source, _snapfmt.Snapshot):
            snap = source
        elif isinstance(source, dict):
            snap = _snapfmt.loads(_snapfmt.dumps(source))
        else:
            snap = _snapfmt.load(source)
        self.snap = snap
        self.ptr = snap.pointer_size
        self.mask = (1 << (8 * self.ptr)) - 1
        self._starts = [a for a, _ in snap.memory]
        self._data = [d for _, d in snap.memory]
        self._types = dict((k.lower(), v) for k, v in snap.types.items())
        self._symtab = sorted((a, n) for n, a in snap.symbols.items())
        self._symbols_lower = dict((n.lower(), a) for n, a in snap.symbols.items())

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def _need_target(self):
        if self.snap is None:
            raise DbgException("no debug target (the fake pykd has no snapshot loaded)")

    def _types_of(self, module):
        return self._types.get(module.lower()) or {}

    def _find_module(self, key):
        self._need_target()
        for m in self.snap.modules:
            if isinstance(key, int):
                if m.base <= (key & self.mask) < m.base + m.size:
                    return m
            elif m.name.lower() == str(key).lower():
                return m
        raise SymbolException("module not found: %s" % (hex(key) if isinstance(key, int) else key))

    # -- API implementations
    def isWindbgExt(self):
        return bool(self.windbg)

    def isKernelDebugging(self):
        self._need_target()
        return bool(self.kernel)

    def isDumpAnalyzing(self):
        self._need_target()
        return not self.live

    def getDumpType(self):
        self._need_target()
        if self.live:
            raise DbgException("target is not a dump")
        return self.dump_type

    def loadDump(self, path):
        self._load(path)
        self.live = False
        dump_id = len(self.dumps) + 1
        self.dumps[dump_id] = path
        return dump_id

    def closeDump(self, id=-1):
        self.dumps.pop(id, None)

    def ptrSize(self):
        self._need_target()
        return self.ptr

    def is64bitSystem(self):
        self._need_target()
        return self.ptr == 8

    def pageSize(self):
        self._need_target()
        return self.snap.page_size

    def getCPUType(self):
        self._need_target()
        return _CPU_BY_ARCH.get(self.snap.arch, CPUType.AMD64)

    def getCPUMode(self):
        return self.getCPUType()

    def getSystemVersion(self):
        self._need_target()
        return systemVersion(self.snap.os_build or 0)

    def bugCheckData(self):
        self._need_target()
        bc = self.snap.bugcheck
        if bc is None:
            raise DbgException("no bugcheck information on this target")
        return tuple([bc.code] + list(bc.parameters))

    def loadBytes(self, offset, count, phyAddr=False):
        self._need_target()
        self._count("loadBytes")
        if phyAddr:
            raise MemoryException("Memory exception at 0x%x target physical address" % offset)
        offset = int(offset) & self.mask
        count = int(count)
        out = bytearray()
        pos = offset
        end = offset + count
        while pos < end:
            i = bisect.bisect_right(self._starts, pos) - 1
            if i < 0:
                break
            s, d = self._starts[i], self._data[i]
            if pos >= s + len(d):
                break
            take = min(end, s + len(d)) - pos
            out += d[pos - s:pos - s + take]
            pos += take
        if pos < end:
            # kdlib: nothing read -> MemoryException(offset); a short read ->
            # MemoryException(offset + bytes read)
            raise MemoryException("Memory exception at 0x%x target virtual address" % pos)
        return list(out)

    def getOffset(self, name):
        self._need_target()
        addr = self._symbols_lower.get(str(name).lower())
        if addr is None:
            raise SymbolException("%s : symbol not found" % name)
        return addr

    def _nearest(self, offset):
        offset = int(offset) & self.mask
        mod = self._find_module(offset)
        prefix = mod.name.lower() + "!"
        i = bisect.bisect_right(self._symtab, (offset, "\U0010ffff")) - 1
        while i >= 0:
            addr, name = self._symtab[i]
            if addr < mod.base:
                break
            if name.lower().startswith(prefix):
                return mod, name.split("!", 1)[1], offset - addr
            i -= 1
        raise SymbolException("symbol not found at 0x%x" % offset)

    def findSymbolAndDisp(self, offset):
        self._need_target()
        self._count("findSymbolAndDisp")
        mod, sym, disp = self._nearest(offset)
        return (mod.name, sym, disp)

    def findSymbol(self, offset, showDisplacement=True):
        self._need_target()
        try:
            mod = self._find_module(int(offset) & self.mask)
        except SymbolException:
            return "%x" % offset
        try:
            _, sym, disp = self._nearest(offset)
        except SymbolException:
            return mod.name + ("+%x" % (offset - mod.base) if showDisplacement else "")
        s = "%s!%s" % (mod.name, sym)
        if showDisplacement and disp:
            s += "+%x" % disp
        return s

    def getModulesList(self):
        self._need_target()
        return [module(None, _fake=self, _m=m) for m in self.snap.modules]

    def typeInfo(self, name):
        self._need_target()
        self._count("typeInfo")
        name = str(name)
        if "!" in name:
            mod, tname = name.split("!", 1)
        else:
            mod, tname = None, name
        if mod is None:
            for key, isf in self._types.items():
                if tname in (isf.get("user_types") or {}) or tname in (isf.get("enums") or {}):
                    mod = key
                    break
        if mod is None:
            raise TypeException("%s : type not found" % name)
        isf = self._types_of(mod)
        if not isf:
            raise SymbolException("%s : no symbols for module %s" % (name, mod))
        if tname in (isf.get("user_types") or {}):
            return typeInfo(None, _fake=self, _module=mod, _desc=("udt", tname))
        if tname in (isf.get("enums") or {}):
            return typeInfo(None, _fake=self, _module=mod, _desc=("isf", {"kind": "enum", "name": tname}))
        raise TypeException("%s : type not found" % name)

    def dprint(self, str, dml=False):
        self.output.append((str, bool(dml)))

    def dprintln(self, str, dml=False):
        self.output.append((str + "\r\n", bool(dml)))

    def dbgCommand(self, command, suppressOutput=True, outputMask=None):
        self.commands.append(command)
        if command.strip().startswith(".prefer_dml"):
            return self.prefer_dml_text
        return ""

    def text(self):
        """Everything printed with dprint, as one string."""
        return "".join(t for t, _ in self.output)

    # -- the module
    def make_module(self):
        m = _types.ModuleType("pykd", "wdfdbg's fake pykd (wdfdbg.testing.fake_pykd)")
        for cls in (DbgException, MemoryException, SymbolException, TypeException, CallException, CPUException):
            setattr(m, cls.__name__, cls)
        m.CPUType = CPUType
        m.dumpType = dumpType
        m.systemVersion = systemVersion
        m.module = module
        m.__version__ = m.version = "0.3.4.15-fake"
        for name in ("isWindbgExt", "isKernelDebugging", "isDumpAnalyzing", "getDumpType", "loadDump", "closeDump",
                     "ptrSize", "is64bitSystem", "pageSize", "getCPUType", "getCPUMode", "getSystemVersion",
                     "bugCheckData", "loadBytes", "getOffset", "findSymbolAndDisp", "findSymbol", "getModulesList",
                     "dprint", "dprintln", "dbgCommand"):
            setattr(m, name, getattr(self, name))
        m.typeInfo = _TypeInfoFactory(self)
        m.fake = self
        return m


class _TypeInfoFactory(object):
    """``pykd.typeInfo`` bound to one fake (callable like the class)."""

    def __init__(self, fake):
        self._fake = fake

    def __call__(self, name):
        return self._fake.typeInfo(name)


_SAVED = []


def install_fake_pykd(source=None, live=False, dump_type="KernelSmall", windbg=True, kernel=True,
                      prefer_dml_text="DML versions of commands on by default\n"):
    """Make ``import pykd`` return a fake backed by ``source`` (a snapshot
    path, a snapshot document, a :class:`~wdfdbg.sources.snapshot.Snapshot`,
    or None for "no target"). ``live``: a live session (else a dump of
    ``dump_type``). Returns the module; its ``fake`` attribute is the
    :class:`FakePykd` (captured output in ``fake.output``)."""
    fake = FakePykd(source, live=live, dump_type=dump_type, windbg=windbg, kernel=kernel,
                    prefer_dml_text=prefer_dml_text)
    mod = fake.make_module()
    _SAVED.append(sys.modules.get("pykd", _MISSING))
    sys.modules["pykd"] = mod
    _CURRENT["fake"] = fake
    return mod


_MISSING = object()


def uninstall_fake_pykd():
    """Undo the last :func:`install_fake_pykd`."""
    prev = _SAVED.pop() if _SAVED else _MISSING
    if prev is _MISSING:
        sys.modules.pop("pykd", None)
    else:
        sys.modules["pykd"] = prev
    cur = sys.modules.get("pykd")
    _CURRENT["fake"] = getattr(cur, "fake", None) if cur is not None else None


@contextlib.contextmanager
def fake_pykd(source=None, **kw):
    """Context manager around :func:`install_fake_pykd`."""
    mod = install_fake_pykd(source, **kw)
    try:
        yield mod
    finally:
        uninstall_fake_pykd()
