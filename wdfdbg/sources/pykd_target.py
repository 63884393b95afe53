"""The pykd backend: a live WinDbg session, or a dump opened through pykd.

This is the only module of wdfdbg that imports :mod:`pykd`, and it does so
inside functions only, so the package imports anywhere without it.

What it relies on (pykd 0.3.4.x, github:ivellioscolin/pykd ``pykd/pymod.cpp``
and its kdlib, github:ivellioscolin/kdlibcpp):

- memory: ``loadBytes`` (all or nothing, ``MemoryException`` at the start
  address), ``isVaRegionValid``, ``isValid``, ``findMemoryRegion`` (refused
  on kernel targets): see :mod:`wdfdbg.sources.pykd_memory`.
- ``typeInfo("Module!Type")``: ``fields()``/``getNumberFields()`` list every
  non-static member *including inherited ones* at their offsets from the
  start of the object (kdlib ``enumFields`` walks base classes), so a
  member a derived class redeclares appears twice under one name, the base
  class's first (by index both are there; by name kdlib answers the last,
  ``FieldCollection::lookup`` in ``kdlib/source/udtfiled.cpp``): the second
  is kept as ``<name>__0x<offset>``; vtable
  pointers are fields named ``__VFN_table`` whose type ``isVtbl()`` (its
  ``size()`` is the size of the table, not of the pointer); ``baseClasses()``
  gives ``(name, offset, typeInfo)``; bit fields have ``bitOffset()``,
  ``bitWidth()`` and a name like ``UInt4B:3``; base types are named
  ``Char``, ``WChar``, ``Int1B`` .. ``UInt8B``, ``Bool``, ``Float``,
  ``Double``, ``Void``; enum ``fields()`` are ``(name, value)`` with
  ``int(value)``. pykd cannot tell a struct from a class or a union: a type
  with a vtable or base classes is reported as ``class``, a type whose
  members all sit at offset 0 as ``union``, anything else as ``struct``.
- ``getOffset("mod!sym")`` -> address, ``findSymbolAndDisp(addr)`` ->
  ``(module, symbol, displacement)``; both raise ``DbgException`` subclasses
  when there is nothing. Vtable symbols come back undecorated
  (``FxMemoryBuffer::`vftable'``).
- ``getModulesList()`` -> module objects with ``name()``, ``begin()``,
  ``size()``; ``ptrSize()``, ``pageSize()``, ``getCPUType()`` (a
  ``CPUType`` value: ``I386``, ``AMD64``, ``ARM64``, ``ARM``),
  ``getSystemVersion().buildNumber``, ``bugCheckData()`` ->
  ``(code, p1, p2, p3, p4)``, ``isDumpAnalyzing()``, ``isKernelDebugging()``,
  ``isWindbgExt()``, ``getDumpType()`` (a ``dumpType``), ``loadDump(path)``,
  ``closeDump()``, ``getDebugOptions()`` with ``debugOptions.PreferDml``,
  ``dbgCommand(text)``.

The interpreter (github:ivellioscolin/pykd-ext ``sources/pyinterpret.cpp``,
``windbgext.cpp``): every ``!py`` runs in a sub-interpreter
(``Py_NewInterpreter``; ``-g`` keeps one for the session, still a
sub-interpreter), with ``sys.stdout`` a ``dbgout`` object. pykd's wheels on
PyPI exist for Python 3.8 and 3.9 only; pykd-ext picks the newest Python 3
installed unless ``!py -3.x`` says otherwise.

Ctrl+Break: the ``!py`` front ends (pykd-ext ``InterruptWatch`` and pykd's
own ``PykdInterruptWatch``) poll ``IDebugControl::GetInterrupt`` on a thread
and, when the user breaks, schedule ``SystemExit("CTRL+BREAK")`` into the
interpreter with ``Py_AddPendingCall``; pykd has no API to poll for it (and
``GetInterrupt`` clears the flag, so polling it ourselves would race the
front end). The interrupt therefore already arrives asynchronously at the
next bytecode, and :attr:`PykdBackend.interrupt_check` is None. Under Python
3.9 and later it never arrives: pending calls are per interpreter since
CPython 3.9 (bpo-39984) and the front end posts to the main one, then waits
for it forever (:func:`interpreter_warning` says so once).
"""

import os
import struct
import sys

from wdfdbg.errors import DumpError, InputError, UsageError
from wdfdbg.sources.base import Backend, Bugcheck, Module, RangeIndex
from wdfdbg.sources.pykd_memory import PykdMemory

VOID = {"kind": "base", "name": "void"}
VOID_PTR = {"kind": "pointer", "subtype": VOID}

# pykd/kdlib base type names -> ISF base type names.
PYKD_BASE = {
    "Char": "char", "WChar": "wchar", "Int1B": "signed char", "UInt1B": "unsigned char",
    "Int2B": "short", "UInt2B": "unsigned short", "Int4B": "long", "UInt4B": "unsigned long",
    "Int8B": "long long", "UInt8B": "unsigned long long", "Long": "long", "ULong": "unsigned long",
    "Bool": "bool", "Float": "float", "Double": "double", "Hresult": "long", "Void": "void", "NoType": "void",
}
# ISF base types this source defines: name -> (kind, size, signed)
ISF_BASE = {
    "char": ("char", 1, True), "wchar": ("int", 2, False), "signed char": ("int", 1, True),
    "unsigned char": ("int", 1, False), "short": ("int", 2, True), "unsigned short": ("int", 2, False),
    "long": ("int", 4, True), "unsigned long": ("int", 4, False), "long long": ("int", 8, True),
    "unsigned long long": ("int", 8, False), "bool": ("bool", 1, False), "float": ("float", 4, True),
    "double": ("float", 8, True), "void": ("void", 0, False),
}
_UNSIGNED_BY_SIZE = {1: "unsigned char", 2: "unsigned short", 4: "unsigned long", 8: "unsigned long long"}
_ENUM_BASE = {1: "signed char", 2: "short", 4: "long", 8: "long long"}
MAX_REGIONS = 1 << 20
MAX_REF_DEPTH = 8

# the integer registers a stack walk starts from (sources/minidump.py names the same)
X64_REGISTERS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
                 "r14", "r15", "rip")
ARM64_REGISTERS = tuple("x%d" % i for i in range(29)) + ("fp", "lr", "sp", "pc")


def import_pykd():
    """``import pykd``: the one place wdfdbg imports it (raises ImportError)."""
    import pykd  # the only import of pykd in wdfdbg
    return pykd


def _flag(fn, *args):
    """Call a pykd predicate; False when it is missing or raises."""
    try:
        return bool(fn(*args))
    except Exception:
        return False


def _is(ti, predicate):
    fn = getattr(ti, predicate, None)
    return fn is not None and _flag(fn)


def _anonymous(name):
    return not name or name.startswith("<") or name.startswith("__unnamed")


def isf_base_type(name):
    spec = ISF_BASE.get(name)
    if spec is None:
        return None
    kind, size, signed = spec
    return {"kind": kind, "size": size, "signed": signed, "endian": "little"}


def isf_base_name(pykd_name, size=None):
    """A pykd base type name (``UInt4B``) -> an ISF base type name."""
    name = PYKD_BASE.get(pykd_name)
    if name is not None:
        return name
    return _UNSIGNED_BY_SIZE.get(size, "unsigned char")


class PykdTypeSource(object):
    """A type source (``user_type``/``base_type``/``enum`` returning ISF
    dicts) over ``pykd.typeInfo("<module>!<name>")``, converted lazily and
    cached. C++ classes come out flattened: every inherited member at its
    offset from the object start, the vtable pointer at 0 as ``__vfptr``,
    further vtable pointers as ``__vfptr_<Base>``. Embedded members of
    anonymous types are named ``<Owner>::<field>``."""

    def __init__(self, pykd, module, pointer_size):
        self._p = pykd
        self.module = module
        self.pointer_size = pointer_size
        self._ut = {}
        self._en = {}
        self._anon = {}

    # -- type source interface -------------------------------------------
    def user_type(self, name):
        if name in self._ut:
            return self._ut[name]
        self._ut[name] = None  # guards against cycles while converting
        ti = self._anon.get(name)
        if ti is None:
            ti = self._type_info(name)
        result = None
        if ti is not None:
            try:
                if _is(ti, "isUserDefined"):
                    result = self._convert_udt(ti, name)
            except Exception:
                result = None
        self._ut[name] = result
        return result

    def base_type(self, name):
        return isf_base_type(name)

    def enum(self, name):
        if name in self._en:
            return self._en[name]
        ti = self._type_info(name)
        result = None
        if ti is not None and _is(ti, "isEnum"):
            result = self._convert_enum(ti)
        self._en[name] = result
        return result

    def available(self, name):
        """True when the debugger knows ``<module>!<name>``."""
        return self.user_type(name) is not None

    # -- conversion ------------------------------------------------------
    def _type_info(self, name):
        try:
            return self._p.typeInfo("%s!%s" % (self.module, name))
        except Exception:
            return None

    def _convert_udt(self, ti, name):
        size = int(ti.size())
        count = int(ti.getNumberFields())
        fields = {}
        offsets = []
        has_vtbl = False
        vt_bases = None
        for i in range(count):
            if _flag(getattr(ti, "isStaticField", lambda i: False), i) or \
                    _flag(getattr(ti, "isConstField", lambda i: False), i):
                continue
            fname = str(ti.fieldName(i))
            off = int(ti.fieldOffset(i))
            ft = ti.field(i)
            if fname == "__VFN_table" or _is(ft, "isVtbl"):
                has_vtbl = True
                if off == 0:
                    fname = "__vfptr"
                else:
                    if vt_bases is None:
                        vt_bases = self._base_offsets(ti)
                    base = vt_bases.get(off)
                    fname = "__vfptr_%s" % base if base else "__vfptr_%x" % off
                t = dict(VOID_PTR)
            else:
                t = self._ref(ft, name, fname, 0, False)
            if fname in fields:
                if fields[fname]["offset"] == off:
                    continue
                # a derived class's own member with a base class's member
                # name (FxSpinLock's m_SpinLock at 0x68, FxObject's at
                # 0x30): kept beside it, named as ISF from headers names it
                fname = "%s__0x%x" % (fname, off)
                if fname in fields:
                    continue
            fields[fname] = {"offset": off, "type": t}
            offsets.append(off)
        if has_vtbl or self._num_bases(ti):
            kind = "class"
        elif len(offsets) > 1 and not any(offsets):
            kind = "union"
        else:
            kind = "struct"
        return {"kind": kind, "size": size, "fields": fields}

    def _num_bases(self, ti):
        try:
            return int(ti.getNumberBaseClasses())
        except Exception:
            return 0

    def _base_offsets(self, ti):
        """offset -> name of the deepest base class starting there."""
        found = {}
        stack = [(ti, 0, 0)]
        while stack:
            t, at, depth = stack.pop()
            if depth >= 16:
                continue
            try:
                bases = list(t.baseClasses())
            except Exception:
                continue
            for entry in bases:
                try:
                    bname, boff, btype = entry[0], int(entry[1]), entry[2]
                except Exception:
                    continue
                o = at + boff
                prev = found.get(o)
                if prev is None or prev[1] <= depth + 1:
                    found[o] = (str(bname), depth + 1)
                stack.append((btype, o, depth + 1))
        return dict((o, n) for o, (n, _) in found.items())

    def _ref(self, ft, owner, fname, depth, pointee):
        """An ISF TYPE for a pykd typeInfo."""
        if depth > MAX_REF_DEPTH:
            return dict(VOID)
        if _is(ft, "isBitField"):
            size = int(ft.size())
            base = str(ft.name()).split(":", 1)[0]
            return {"kind": "bitfield", "bit_position": int(ft.bitOffset()), "bit_length": int(ft.bitWidth()),
                    "type": {"kind": "base", "name": isf_base_name(base, size)}}
        if _is(ft, "isVtbl"):
            return dict(VOID_PTR)
        if _is(ft, "isPointer"):
            try:
                sub = self._ref(ft.deref(), owner, fname, depth + 1, True)
            except Exception:
                sub = dict(VOID)
            return {"kind": "pointer", "subtype": sub}
        if _is(ft, "isArray"):
            el = ft.deref()
            try:
                count = int(ft.getNumberFields())
            except Exception:
                esize = int(el.size()) or 1
                count = int(ft.size()) // esize
            return {"kind": "array", "count": count, "subtype": self._ref(el, owner, fname, depth + 1, pointee)}
        if _is(ft, "isEnum"):
            name = str(ft.name())
            if name not in self._en or self._en[name] is None:
                self._en[name] = self._convert_enum(ft)
            return {"kind": "enum", "name": name}
        if _is(ft, "isFunction"):
            return {"kind": "function"}
        if _is(ft, "isUserDefined"):
            name = str(ft.name())
            if _anonymous(name):
                name = "%s::%s" % (owner, fname)
                self._anon[name] = ft
            if pointee:
                return {"kind": "class" if self._num_bases(ft) else "struct", "name": name}
            ut = self.user_type(name)
            if ut is None and name not in self._anon:
                # known only through this member (nested type): convert it here
                self._anon[name] = ft
                self._ut.pop(name, None)
                ut = self.user_type(name)
            return {"kind": (ut or {}).get("kind", "struct"), "name": name}
        if _is(ft, "isVoid"):
            return dict(VOID)
        if _is(ft, "isBase"):
            try:
                size = int(ft.size())
            except Exception:
                size = None
            return {"kind": "base", "name": isf_base_name(str(ft.name()), size)}
        return dict(VOID)

    def _convert_enum(self, ti):
        try:
            size = int(ti.size())
        except Exception:
            size = 4
        constants = {}
        try:
            for entry in ti.fields():
                try:
                    constants[str(entry[0])] = int(entry[1])
                except Exception:
                    continue
        except Exception:
            pass
        return {"size": size if size in (1, 2, 4, 8) else 4, "base": _ENUM_BASE.get(size, "long"),
                "constants": constants}


class StaticTypeSource(object):
    """A fixed set of ISF user types (the g_WdfTriageInfo fallback)."""

    def __init__(self, user_types):
        self._ut = user_types

    def user_type(self, name):
        return self._ut.get(name)

    def base_type(self, name):
        return isf_base_type(name)

    def enum(self, name):
        return None


# WDF_TRIAGE_INFO (public wdftriage.h): 4 ULONGs, then pointers:
# Reserved, WdfObjectTriageInfo, WdfContextTriageInfo, WdfContextTypeTriageInfo, ...
TRIAGE_OBJECT_FIELDS = ("RawObjectSize", "ObjectType", "TotalObjectSize", "ChildListHead", "ChildEntry",
                        "Globals", "ParentObject")
TRIAGE_CONTEXT_FIELDS = ("HeaderSize", "NextHeader", "Object", "TypeInfoPtr", "Context")
TRIAGE_CONTEXT_TYPE_FIELDS = ("TypeInfoSize", "ContextSize", "ContextName")


class PykdBackend(Backend):
    """Reads a kernel target through pykd: ``origin`` is ``"live"`` for a
    live session, ``"dump"`` for a dump (opened by WinDbg or by
    :func:`open_dump_backend`).

    Memory comes through :class:`~wdfdbg.sources.pykd_memory.PykdMemory`
    (all-or-nothing ``loadBytes``, read-ahead of up to :attr:`readahead`
    bytes per round trip). :meth:`ranges` lists readable memory from the
    dump file itself (pykd cannot list a kernel target's memory: see
    :mod:`wdfdbg.sources.pykd_memory`): the file given to
    :func:`open_dump_backend`, or the one the debugger names in ``||``,
    accepted only when it opens as the same dump. With ``partial_pages``
    (default: on for dumps) those ranges also tell which parts of a page are
    readable. ``calls`` counts the pykd calls made for memory.

    ``notes`` lists the fallbacks taken (missing types, the
    ``g_WdfTriageInfo`` layout, no list of readable memory).
    """

    kind = "pykd"
    interrupt_check = None  # Ctrl+Break arrives as SystemExit("CTRL+BREAK") from the !py front end
    readahead = 64 * 1024

    def __init__(self, pykd=None, origin="live", path=None, partial_pages=None):
        p = pykd if pykd is not None else import_pykd()
        self._p = p
        self._mem_exc = getattr(p, "MemoryException", None) or Exception
        self._dbg_exc = getattr(p, "DbgException", None) or self._mem_exc
        self.origin = origin
        self.path = path
        self.notes = []
        self._dump_id = None
        self.pointer_size = int(p.ptrSize())
        self.arch = _arch(p, self.pointer_size)
        self.mask = (1 << (8 * self.pointer_size)) - 1
        try:
            ps = int(p.pageSize())
            self.page_size = ps if ps >= 512 and not ps & (ps - 1) else 4096
        except Exception:
            self.page_size = 4096
        try:
            build = int(p.getSystemVersion().buildNumber)
            self.os_build = build or None
        except Exception:
            self.os_build = None
        if partial_pages is None:
            partial_pages = origin == "dump"
        self.partial_pages = bool(partial_pages)
        self._ranges = False      # not looked for yet
        self._kmdf = []
        self.memory = PykdMemory(p, self.page_size, live=origin == "live")
        self._symbols = {}
        self._symbols_at = {}
        self._modules = None
        self._type_sources = {}
        self._triage = None
        self.kmdf_version = None
        tri = self.triage_info()
        if tri is not None and tri.get("WdfMajorVersion"):
            self.kmdf_version = "%d.%d" % (tri["WdfMajorVersion"], tri["WdfMinorVersion"])

    @property
    def calls(self):
        return self.memory.calls

    # -- memory ------------------------------------------------------------
    def _load(self, address, count):
        return self.memory.load(address, count)

    def _regions(self):
        if self.partial_pages and self.memory.regions is None and self._ranges is not None:
            r = self.ranges()
            if r is not None:
                self.memory.regions = RangeIndex(r)
        return self.memory.regions

    def read_page(self, page_address):
        return self.read_run(page_address, 1)[0]

    def read_run(self, page_address, max_pages):
        self._regions()
        return self.memory.read_run(page_address, max_pages)

    def known_readable(self, page_address, max_pages):
        regions = self._regions()
        if regions is None:
            return 0
        r = regions.overlapping(page_address, page_address + max_pages * self.page_size)
        if not r or r[0][0] != page_address:
            return 0
        return (r[0][1] - page_address) // self.page_size

    def ranges(self):
        """Readable ``(address, size)`` ranges, or None when they cannot be
        listed (a live target; a dump whose file wdfdbg cannot find or read)."""
        if self._ranges is False:
            self._ranges = self._find_ranges()
        return None if self._ranges is None else list(self._ranges)

    def kmdf_drivers(self):
        """KMDF's driver-info table (``WdfDumpGuid2``, a triage dump's
        secondary data) from the dump file :meth:`ranges` found, else []."""
        self.ranges()
        return list(self._kmdf)

    def _find_ranges(self):
        try:
            r = _walk_regions(self._p)
        except Exception:   # kdlib: "findMemoryRegion does not work in the kernel mode"
            r = None
        if r is not None:
            return r
        if self.origin != "dump":
            self.notes.append("a live kernel target cannot list its readable memory through pykd "
                              "(kdlib findMemoryRegion refuses kernel mode): nothing to scan")
            return None
        for path in ([self.path] if self.path else []) + _dump_paths(self._p):
            r = self._ranges_of_file(path)
            if r is not None:
                return r
        self.notes.append("pykd cannot list a kernel dump's readable memory and the dump file was not found "
                          "through '||': run 'wdfdbg scan DUMP' outside the debugger")
        return None

    def _ranges_of_file(self, path):
        """The readable ranges of the dump at ``path`` when it is this target's."""
        from wdfdbg.sources import snapshot as snapfmt
        from wdfdbg.sources.dumpfile import open_dump
        try:
            with open(path, "rb") as f:
                head = f.read(8)
            if head[:4] == b"PAGE":
                other = open_dump(path)
            else:
                other = snapfmt.SnapshotBackend(snapfmt.load(path))
        except Exception:
            return None
        try:
            mine = self.bugcheck()
            theirs = other.bugcheck()
            same = other.pointer_size == self.pointer_size and (
                (mine is None) == (theirs is None)
                and (mine is None or (mine.code, mine.parameters) == (theirs.code, theirs.parameters)))
            ranges = other.ranges() if same else None
            if ranges is not None:
                from wdfdbg.sources.minidump import kmdf_driver_table
                self._kmdf = kmdf_driver_table(other)
        except Exception:
            ranges = None
        finally:
            try:
                other.close()
            except Exception:
                pass
        if ranges is None:
            return None
        return [(int(a), int(n)) for a, n in ranges]

    # -- symbols and modules ---------------------------------------------
    def symbol(self, name):
        if name in self._symbols:
            return self._symbols[name]
        try:
            addr = int(self._p.getOffset(name)) & self.mask
        except Exception:
            addr = None
        self._symbols[name] = addr
        return addr

    def symbol_at(self, address):
        if address in self._symbols_at:
            return self._symbols_at[address]
        result = None
        try:
            mod, sym, disp = self._p.findSymbolAndDisp(address)
            disp = int(disp)
            sym = str(sym)
            if sym.startswith("const "):
                sym = sym[6:]
            if sym and disp >= 0:
                result = ("%s!%s" % (mod, sym) if mod else sym, disp)
        except Exception:
            result = None
        self._symbols_at[address] = result
        return result

    def modules(self):
        if self._modules is None:
            mods = []
            try:
                lst = list(self._p.getModulesList())
            except Exception:
                lst = []
            for m in lst:
                try:
                    mods.append(Module(str(m.name()), int(m.begin()) & self.mask, int(m.size()),
                                       timestamp=_module_timestamp(m)))
                except Exception:
                    continue
            self._modules = mods
        return list(self._modules)

    def bugcheck(self):
        try:
            data = [int(v) for v in self._p.bugCheckData()]
        except Exception:
            return None
        if not data or data[0] == 0:
            return None
        return Bugcheck(data[0], data[1:5])

    def crash_thread(self):
        """The crashing processor's current KTHREAD, on a dump with a
        bugcheck: ``pykd.getImplicitThread()`` (pykd ``pymod.cpp``; kdlib
        ``getImplicitThreadOffset``, ``kdlib/source/win/dbgeng.cpp``: dbgeng
        ``IDebugSystemObjects::GetImplicitThreadDataOffset``, in kernel mode
        the KTHREAD of the thread the dump's event happened on). None on a
        live target (no crash) or when the engine has no thread data."""
        if self.origin != "dump" or self.bugcheck() is None:
            return None
        try:
            return int(self._p.getImplicitThread()) & self.mask or None
        except Exception:
            return None

    def crash_registers(self):
        """The crash's integer registers on a dump with a bugcheck:
        ``pykd.reg(name)`` for each (pykd ``pymod.cpp`` ``reg`` ->
        ``pykd::getRegisterByName``: the register in the engine's current
        register context, which on a freshly opened dump is the context the
        dump saved; a ``.cxr`` or ``.frame`` moves it). {} on a live target,
        or when the engine refuses a register (then none is trusted)."""
        if self.origin != "dump" or self.bugcheck() is None:
            return {}
        names = {"x64": X64_REGISTERS, "arm64": ARM64_REGISTERS}.get(self.arch)
        if not names:
            return {}
        out = {}
        try:
            for name in names:
                out[name] = int(self._p.reg(name)) & self.mask
        except Exception:  # the engine's refusal (DbgException), whatever its class in this pykd
            return {}
        return out

    # -- types ---------------------------------------------------------------
    def type_source(self, module):
        key = module.lower()
        if key in self._type_sources:
            return self._type_sources[key]
        src = PykdTypeSource(self._p, module, self.pointer_size)
        if key == "wdf01000" and not src.available("FxObject"):
            src = self._triage_source(module)
        self._type_sources[key] = src
        return src

    def triage_info(self):
        """``Wdf01000!g_WdfTriageInfo`` as a dict (its versions and the
        WDFOBJECT/WDFCONTEXT/WDFCONTEXTTYPE triage offsets), or None."""
        if self._triage is not None:
            return self._triage or None
        self._triage = {}
        addr = self.symbol("Wdf01000!g_WdfTriageInfo")
        if addr is None:
            return None
        ptr = self.pointer_size
        fmt = "<Q" if ptr == 8 else "<I"
        try:
            head = self._load(addr, 16 + 4 * ptr)
            out = dict(zip(("WdfMajorVersion", "WdfMinorVersion", "TriageInfoMajorVersion", "TriageInfoMinorVersion"),
                           struct.unpack_from("<4I", head, 0)))
            ptrs = [struct.unpack_from(fmt, head, 16 + i * ptr)[0] for i in range(4)]
            for names, p in ((TRIAGE_OBJECT_FIELDS, ptrs[1]), (TRIAGE_CONTEXT_FIELDS, ptrs[2]),
                             (TRIAGE_CONTEXT_TYPE_FIELDS, ptrs[3])):
                if not p:
                    continue
                try:
                    vals = struct.unpack("<%dI" % len(names), self._load(p, 4 * len(names)))
                except Exception:
                    continue
                out.update(zip(names, vals))
        except Exception:  # unreadable or the engine refused: no triage info
            return None
        self._triage = out
        return out

    def _triage_source(self, module):
        """No Wdf01000 types: build FxObject from g_WdfTriageInfo when it
        disagrees with the built-in profile; else let the profile serve."""
        tri = self.triage_info()
        if tri is None or "RawObjectSize" not in tri:
            self.notes.append("no Wdf01000 types and no readable Wdf01000!g_WdfTriageInfo: built-in layout profile")
            return None
        ptr = self.pointer_size
        size = tri["RawObjectSize"]
        offs = dict((k, tri[k]) for k in TRIAGE_OBJECT_FIELDS[1:])
        if not (0 < size <= 0x1000) or any(v + 2 > size for v in offs.values()):
            self.notes.append("no Wdf01000 types; g_WdfTriageInfo offsets are implausible: built-in layout profile")
            return None
        expected = _profile_fxobject(self.arch, self.os_build)
        mine = {"size": size, "m_Type": offs["ObjectType"], "m_ObjectSize": offs["TotalObjectSize"],
                "m_ChildListHead": offs["ChildListHead"], "m_ChildEntry": offs["ChildEntry"],
                "m_Globals": offs["Globals"], "m_ParentObject": offs["ParentObject"]}
        if expected is not None and expected[1] == mine:
            self.notes.append("no Wdf01000 types; g_WdfTriageInfo agrees with built-in profile %s" % expected[0])
            return None
        U16 = {"kind": "base", "name": "unsigned short"}
        le = {"kind": "struct", "name": "_LIST_ENTRY"}
        fx = {"__vfptr": {"offset": 0, "type": dict(VOID_PTR)},
              "m_Type": {"offset": mine["m_Type"], "type": U16},
              "m_ObjectSize": {"offset": mine["m_ObjectSize"], "type": dict(U16)},
              "m_Globals": {"offset": mine["m_Globals"],
                            "type": {"kind": "pointer", "subtype": {"kind": "struct", "name": "_FX_DRIVER_GLOBALS"}}},
              "m_ChildListHead": {"offset": mine["m_ChildListHead"], "type": le},
              "m_ParentObject": {"offset": mine["m_ParentObject"],
                                 "type": {"kind": "pointer", "subtype": {"kind": "class", "name": "FxObject"}}},
              "m_ChildEntry": {"offset": mine["m_ChildEntry"], "type": dict(le)}}
        lptr = {"kind": "pointer", "subtype": {"kind": "struct", "name": "_LIST_ENTRY"}}
        uts = {"FxObject": {"kind": "class", "size": size, "fields": fx},
               "_LIST_ENTRY": {"kind": "struct", "size": 2 * ptr, "fields": {
                   "Flink": {"offset": 0, "type": lptr}, "Blink": {"offset": ptr, "type": dict(lptr)}}}}
        if all(k in tri for k in TRIAGE_CONTEXT_FIELDS) and 0 < tri["HeaderSize"] <= 0x100:
            P = dict(VOID_PTR)
            uts["FxContextHeader"] = {"kind": "struct", "size": tri["HeaderSize"], "fields": {
                "Object": {"offset": tri["Object"], "type": P},
                "NextHeader": {"offset": tri["NextHeader"], "type": dict(P)},
                "ContextTypeInfo": {"offset": tri["TypeInfoPtr"], "type": dict(P)},
                "Context": {"offset": tri["Context"], "type": {"kind": "array", "count": 1, "subtype": dict(P)}}}}
        self.notes.append("no Wdf01000 types: FxObject from Wdf01000!g_WdfTriageInfo (m_Type, m_ObjectSize, "
                          "m_Globals, m_ChildListHead, m_ChildEntry, m_ParentObject only)%s"
                          % ("; it disagrees with built-in profile %s" % expected[0] if expected else ""))
        return StaticTypeSource(uts)

    def close(self):
        if self._dump_id is not None:
            try:
                self._p.closeDump(self._dump_id)
            except Exception:
                pass
            self._dump_id = None


def _profile_fxobject(arch, os_build):
    """(profile name, FxObject offsets) of the built-in profile for this target."""
    try:
        from wdfdbg.layouts import IsfSource
        from wdfdbg.layouts.model import TypeCompiler
        from wdfdbg.layouts.profiles import choose_profile
        prof = choose_profile(arch, os_build)
        lay = TypeCompiler(IsfSource(prof.documents()["Wdf01000"]), prof.pointer_size, prof.label()).compile("FxObject")
        out = {"size": lay.size}
        for f in ("m_Type", "m_ObjectSize", "m_ChildListHead", "m_ChildEntry", "m_Globals", "m_ParentObject"):
            out[f] = lay.offset(f)
        return prof.name, out
    except Exception:
        return None


def _arch(p, pointer_size):
    try:
        ct = p.getCPUType()
        CT = p.CPUType
        if ct == CT.AMD64:
            arch = "x64"
        elif ct == CT.ARM64:
            arch = "arm64"
        elif ct == CT.I386:
            arch = "x86"
        else:
            arch = None
    except Exception:
        arch = None
    if arch is None or (arch == "x86") != (pointer_size == 4):
        arch = "x86" if pointer_size == 4 else "x64"
    return arch



def _module_timestamp(m):
    """The image's TimeDateStamp as the debugger's module list has it
    (pykd ``module.timestamp()``, pykd/pymodule.h ``getTimeDataStamp``);
    None when pykd cannot say (0 is no timestamp)."""
    try:
        ts = int(m.timestamp())
    except Exception:  # an older pykd, or the engine could not tell: the module keeps no identity
        return None
    return ts or None


def live_backend():
    """The backend for the debugger's current target, or None when pykd is
    not importable or no target is attached. Raises UsageError for a
    user-mode target (wdfdbg reads kernel memory)."""
    try:
        p = import_pykd()
    except ImportError:
        if in_pykd_ext():
            raise UsageError(no_pykd_message())
        return None
    except Exception:
        return None
    interpreter_warning()
    try:
        kernel = bool(p.isKernelDebugging())
        dump = bool(p.isDumpAnalyzing())
    except Exception:
        return None
    if not kernel:
        raise UsageError("the debugger's target is a user-mode target: wdfdbg needs a kernel target "
                         "(a kernel debugging session or a kernel dump)")
    return PykdBackend(p, origin="dump" if dump else "live")


def open_dump_backend(path):
    """Open a dump with ``pykd.loadDump`` (``--engine pykd``, Windows)."""
    try:
        p = import_pykd()
    except ImportError:
        raise InputError("--engine pykd needs pykd (pip install wdfdbg[windbg]; Windows only)")
    if not os.path.exists(path):
        raise InputError("%s: no such file" % path)
    try:
        dump_id = p.loadDump(os.path.abspath(path))
    except Exception as e:
        raise DumpError("%s: pykd could not open the dump: %s" % (path, e))
    try:
        kernel = bool(p.isKernelDebugging())
    except Exception:
        kernel = False
    if not kernel:
        try:
            p.closeDump(dump_id)
        except Exception:
            pass
        raise DumpError("%s: not a kernel dump (wdfdbg reads kernel memory)" % path)
    backend = PykdBackend(p, origin="dump", path=path)
    backend._dump_id = dump_id
    return backend


# -- the interpreter and the dump file ------------------------------------------
def in_pykd_ext():
    """True inside pykd-ext's ``!py``: its ``sys.stdout`` is a ``dbgout``
    (``sources/dbgout.h``, class name from ``BEGIN_PYTHON_METHOD_MAP``)."""
    return type(sys.stdout).__name__ == "dbgout"


def in_sub_interpreter():
    """True in a sub-interpreter: always under pykd-ext (``Py_NewInterpreter``
    in ``sources/pyinterpret.cpp``); else as CPython's private interpreter
    module says (absent: False)."""
    if in_pykd_ext():
        return True
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            mod = __import__(name)
            return mod.get_current() != mod.get_main()
        except Exception:
            continue
    return False


def python_flag():
    """``-3.9``: the option that makes ``!py`` pick this interpreter."""
    return "-%d.%d" % sys.version_info[:2]


NOTED = "WDFDBG_CTRL_BREAK_NOTED"


def interpreter_warning():
    """Under Python 3.9+ in a sub-interpreter, one line on stderr, once per
    debugger process (an environment variable is process-wide): Ctrl+Break
    cannot stop a command there."""
    if sys.version_info < (3, 9) or not in_sub_interpreter() or os.environ.get(NOTED):
        return False
    os.environ[NOTED] = "1"
    sys.stderr.write("wdfdbg: note: Ctrl+Break cannot stop a command under Python %d.%d in !py (pykd-ext sends it "
                     "to the main interpreter; CPython 3.9+ keeps it there) and the debugger would then hang: "
                     "use Python 3.8 (!py -3.8 -m wdfdbg.memtree) to be able to interrupt\n" % sys.version_info[:2])
    return True


def no_pykd_message():
    """What to say when ``import pykd`` fails inside the debugger."""
    return ("pykd is not importable in Python %d.%d (%s); pykd's wheels exist for Python 3.8 and 3.9: "
            "'!pip -3.9 install wdfdbg[windbg]', then '!py -3.9 -m wdfdbg.memtree'"
            % (sys.version_info[0], sys.version_info[1], sys.executable or "this interpreter"))


def _walk_regions(p):
    """Readable regions from ``findMemoryRegion`` walked upwards (user-mode
    targets only: kdlib raises DbgException on kernel targets)."""
    out = []
    addr = 0
    top = (1 << (8 * int(p.ptrSize()))) - 1
    while addr <= top and len(out) < MAX_REGIONS:
        try:
            base, size = p.findMemoryRegion(addr)
        except getattr(p, "MemoryException", Exception):
            break
        base, size = int(base), int(size)
        if size <= 0 or base + size <= addr:
            break
        out.append((base, size))
        addr = base + size
    return out


def _dump_paths(p):
    """Files the debugger names in ``||`` (System Status) for the current
    system: the text after the last ``": "`` of each line, when it is a file."""
    try:
        text = str(p.dbgCommand("||"))
    except Exception:
        return []
    out = []
    for line in text.splitlines():
        if ": " not in line:
            continue
        cand = line.rsplit(": ", 1)[1].strip().strip("[]\"")
        if cand and os.path.isfile(cand) and cand not in out:
            out.append(cand)
    return out
