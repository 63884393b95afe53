"""The pykd backend: a live WinDbg session, or a dump opened through pykd.

This is the only module of wdfdbg that imports :mod:`pykd`, and it does so
inside functions only, so the package imports anywhere without it.

What it relies on (pykd 0.3.4.x, github:ivellioscolin/pykd ``pykd/pymod.cpp``
and its kdlib, github:ivellioscolin/kdlibcpp):

- ``loadBytes(offset, count)`` returns a list of ints. When the first byte
  is unreadable it raises ``MemoryException`` for ``offset``; when only a
  prefix is readable it raises ``MemoryException`` whose message names the
  first unreadable address ("Memory exception at 0x... target virtual
  address"): kdlib ``readMemory`` throws ``MemoryException(offset + read)``.
- ``typeInfo("Module!Type")``: ``fields()``/``getNumberFields()`` list every
  non-static member *including inherited ones* at their offsets from the
  start of the object (kdlib ``enumFields`` walks base classes); vtable
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
  ``closeDump()``.

Ctrl+Break: the ``!py`` front ends (pykd-ext ``InterruptWatch`` and pykd's
own ``PykdInterruptWatch``) poll ``IDebugControl::GetInterrupt`` on a thread
and, when the user breaks, schedule ``SystemExit("CTRL+BREAK")`` into the
interpreter with ``Py_AddPendingCall``; pykd has no API to poll for it (and
``GetInterrupt`` clears the flag, so polling it ourselves would race the
front end). The interrupt therefore already arrives asynchronously at the
next bytecode, and :attr:`PykdBackend.interrupt_check` is None.
"""

import os
import re
import struct

from wdfdbg.errors import DumpError, InputError, ReadError, UsageError
from wdfdbg.sources.base import Backend, Bugcheck, Module, Page

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
_MEMEXC_ADDR = re.compile(r"0x([0-9a-fA-F]+)")
MAX_REF_DEPTH = 8


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

    Pages are read whole with one ``loadBytes``. When that fails part way
    (pykd names the first unreadable byte), the readable prefix is kept and
    the page comes back partial. ``partial_pages`` (default: on for small
    "triage" kernel dumps, which save arbitrary byte ranges, off otherwise)
    also looks past an unreadable gap: single-byte probes every
    ``gap_granularity`` bytes, then a binary search for the exact start of
    each readable run. A gap search can miss a readable run shorter than
    ``gap_granularity`` bytes that holds no multiple of it.

    ``notes`` lists the fallbacks taken (missing types, the
    ``g_WdfTriageInfo`` layout).
    """

    kind = "pykd"
    interrupt_check = None  # Ctrl+Break arrives as SystemExit("CTRL+BREAK") from the !py front end

    def __init__(self, pykd=None, origin="live", path=None, partial_pages=None, gap_granularity=8):
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
            partial_pages = origin == "dump" and _small_dump(p)
        self.partial_pages = bool(partial_pages)
        self.gap_granularity = max(1, int(gap_granularity))
        self._symbols = {}
        self._symbols_at = {}
        self._modules = None
        self._type_sources = {}
        self._triage = None
        self.kmdf_version = None
        tri = self.triage_info()
        if tri is not None and tri.get("WdfMajorVersion"):
            self.kmdf_version = "%d.%d" % (tri["WdfMajorVersion"], tri["WdfMinorVersion"])

    # -- memory ------------------------------------------------------------
    def _load(self, address, count):
        return bytes(bytearray(self._p.loadBytes(address, count)))

    def _failed_at(self, exc, start, end):
        """The first unreadable address named by a MemoryException, clipped
        to ``[start, end]``; ``start`` when it names none."""
        for m in _MEMEXC_ADDR.finditer(str(exc)):
            a = int(m.group(1), 16) & self.mask
            if start <= a <= end:
                return a
        return start

    def _readable(self, address):
        try:
            self._p.loadBytes(address, 1)
            return True
        except self._mem_exc:
            return False

    def _next_readable(self, start, end):
        """First readable address in ``[start, end)`` found by probing, or None."""
        g = self.gap_granularity
        last_bad = start - 1
        q = start
        while q < end:
            if self._readable(q):
                lo, hi = last_bad, q  # lo unreadable (or before start), hi readable
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if self._readable(mid):
                        hi = mid
                    else:
                        lo = mid
                return hi
            last_bad = q
            q = (q // g + 1) * g
        return None

    def read_page(self, page_address):
        ps = self.page_size
        pa = page_address
        end = pa + ps
        try:
            return Page(self._load(pa, ps))
        except self._mem_exc as e:
            fail = self._failed_at(e, pa, end)
        except self._dbg_exc as e:  # the engine refused the read itself
            raise ReadError(pa, reason="not readable (%s)" % e)
        segs = []
        pos = pa
        while pos < end:
            if fail > pos:
                try:
                    segs.append((pos, self._load(pos, fail - pos)))
                except self._mem_exc:
                    pass
                pos = fail
            if pos >= end or not self.partial_pages:
                break
            nxt = self._next_readable(pos + 1, end)
            if nxt is None:
                break
            pos = nxt
            try:
                segs.append((pos, self._load(pos, end - pos)))
                break
            except self._mem_exc as e:
                fail = self._failed_at(e, pos, end)
                if fail <= pos:
                    fail = pos + 1  # a probe said readable: keep going
        if not segs:
            raise ReadError(pa, reason="not readable (paged out or not in the dump)")
        buf = bytearray(ps)
        valid = []
        for s, d in segs:
            buf[s - pa:s - pa + len(d)] = d
            valid.append((s - pa, s - pa + len(d)))
        if len(valid) == 1 and valid[0] == (0, ps):
            return Page(bytes(buf))
        return Page(bytes(buf), tuple(valid))

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
                    mods.append(Module(str(m.name()), int(m.begin()) & self.mask, int(m.size())))
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


def _small_dump(p):
    try:
        return p.getDumpType() == p.dumpType.KernelSmall
    except Exception:
        return False


def live_backend():
    """The backend for the debugger's current target, or None when pykd is
    not importable or no target is attached. Raises UsageError for a
    user-mode target (wdfdbg reads kernel memory)."""
    try:
        p = import_pykd()
    except ImportError:
        return None
    except Exception:
        return None
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
