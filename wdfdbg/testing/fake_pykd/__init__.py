"""A stand-in for pykd 0.3.4, backed by a wdfdbg snapshot, for tests on any OS.

It is as strict as the real pykd where wdfdbg depends on it. Each rule and
the source it comes from (github:ivellioscolin/pykd ``pykd/``, its kdlib
submodule github:ivellioscolin/kdlibcpp ``kdlib/``):

Memory
  - ``loadBytes(offset, count, phyAddr=False)`` is all or nothing: kdlib
    ``loadArray`` (``kdlib/source/memaccess.cpp``) first checks
    ``isVaRegionValid(offset, count)`` and throws ``MemoryException(offset)``
    naming the *start* address, never the first bad byte; then
    ``readMemory`` (``kdlib/source/win/dbgmem.cpp``). A readable range comes
    back as a list of ints (``pykd/pymemaccess.cpp`` ``vectorToList``).
    ``count`` is a C ``unsigned long``: more than 0xFFFFFFFF is refused.
  - ``isVaRegionValid(addr, length)``: dbgeng ``GetValidRegionVirtual`` must
    return S_OK with the region starting at ``addr`` and ``length`` long:
    true only when every byte is readable; false for length > 0xFFFFFFFF
    (``dbgmem.cpp`` ``isVaRegionValid``).
  - ``isValid(addr)``: one byte (``dbgmem.cpp`` ``isVaValid``).
  - ``findMemoryRegion(addr)`` throws ``DbgException("findMemoryRegion does
    not work in the kernel mode")`` on a kernel target (``dbgmem.cpp``
    ``findMemoryRegion``, since kdlibcpp commit 69de10c, 2015); wdfdbg only
    reads kernel targets, so it never answers there. On a user-mode target
    it returns ``(base, size)`` of the region holding ``addr`` or the next
    one above it (``QueryVirtual`` walked up to a committed region); past
    the last region ``QueryVirtual`` fails and kdlib throws
    ``MemoryException`` naming its uninitialised output address (here 0).
    ``pykd/pymemaccess.h`` wraps it as a tuple.
  - Every call is counted in :attr:`FakePykd.calls` by name.

Output and the debugger
  - ``dprint(s, dml=False)`` writes ``sys.stdout.writedml(s)`` when ``dml``
    and the current ``sys.stdout`` has ``writedml``, else
    ``sys.stdout.write(s)``; ``dprintln`` adds ``"\\n"`` (``pykd/pydbgio.h``).
    What pykd-ext does with a write is :mod:`wdfdbg.testing.pykd_ext`'s job.
  - ``isWindbgExt()`` is true when ``sys.stdout`` has ``writedml``
    (``pydbgio.h`` ``isWindbgExt``): inside ``!py``, not in a plain Python.
  - ``getDebugOptions()`` returns the engine options as an int;
    ``debugOptions.PreferDml`` is 0x40000 (``pykd/pymod.cpp`` exports both;
    kdlib ``getDebugOptions`` is dbgeng ``GetEngineOptions``, in
    ``kdlib/source/win/dbgeng.cpp``). ``.prefer_dml 1`` sets that bit.
  - ``dbgCommand(cmd)`` answers ``.prefer_dml`` with the setting and ``||``
    with one status line per system: ``".  0 64-bit Kernel triage dump:
    PATH"`` for a dump. The debugger documentation names the command ("||
    (System Status)") but not its exact text; wdfdbg accepts any line that
    ends in ``: PATH`` when PATH opens as the same dump. Anything else
    returns "".

Target, symbols, types
  - session: ``isKernelDebugging()``, ``isDumpAnalyzing()``, ``getDumpType()``
    / ``dumpType``, ``loadDump(path)`` (loads a *snapshot* file),
    ``closeDump(id)``; ``ptrSize()``, ``is64bitSystem()``, ``pageSize()``,
    ``getCPUType()`` / ``CPUType``, ``getSystemVersion()``, ``bugCheckData()``,
    ``getImplicitThread()``;
  - symbols: ``getOffset(name)``, ``findSymbol``, ``findSymbolAndDisp``
    (nearest symbol of the module holding the address), ``getModulesList()``,
    ``module(name_or_address)``;
  - types: ``typeInfo("Module!Type")`` (see
    :mod:`wdfdbg.testing.fake_pykd.typeinfo` for its rules);
  - exceptions and enums: :mod:`wdfdbg.testing.fake_pykd.model`.

Install it with :func:`install_fake_pykd` (it becomes ``sys.modules["pykd"]``)
or the :func:`fake_pykd` context manager.
"""

import bisect
import contextlib
import sys
import types as _types

from wdfdbg.sources import snapshot as _snapfmt
from wdfdbg.testing.fake_pykd import typeinfo as _ti
from wdfdbg.testing.fake_pykd.model import (CPU_BY_ARCH, EXCEPTIONS, CPUType, DbgException, MemoryException,
                                            SymbolException, TypeException, debugOptions, dumpType, systemVersion)
from wdfdbg.testing.fake_pykd.typeinfo import module, typeInfo

__all__ = ["FakePykd", "install_fake_pykd", "uninstall_fake_pykd", "fake_pykd", "DbgException", "MemoryException",
           "SymbolException", "TypeException", "typeInfo", "module"]

MAX_ULONG = 0xFFFFFFFF
# engine options of a debugger with ".prefer_dml 1" (plus the usual ones)
DEFAULT_OPTIONS = debugOptions.PreferDml | debugOptions.FinalBreak


class FakePykd(object):
    """State behind the fake module; ``make_module()`` builds the module.

    ``live``: a live session (else a dump of ``dump_type``); ``kernel``: a
    kernel target; ``prefer_dml``: the debugger's ``.prefer_dml`` setting;
    ``dump_path``: the file ``||`` names (default: the snapshot's own path
    when it was loaded from a file)."""

    def __init__(self, source=None, live=False, dump_type="KernelSmall", kernel=True, prefer_dml=True,
                 dump_path=None):
        self.kernel = kernel
        self.live = live
        self.dump_type = getattr(dumpType, dump_type)
        self.options = DEFAULT_OPTIONS if prefer_dml else DEFAULT_OPTIONS & ~debugOptions.PreferDml
        self.dump_path = dump_path
        self.output = []          # (text, dml) from dprint/dprintln (also written to sys.stdout)
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
            if self.dump_path is None:
                self.dump_path = source
        self.snap = snap
        self.ptr = snap.pointer_size
        self.mask = (1 << (8 * self.ptr)) - 1
        self._starts = [a for a, _ in snap.memory]
        self._ends = [a + len(d) for a, d in snap.memory]
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

    def _valid(self, addr, length):
        """Every byte of ``[addr, addr + length)`` is in the snapshot. Adjacent
        ranges count as one region (an assumption: a snapshot merges them
        anyway, and dbgeng's answer for two touching dump blocks is not
        documented)."""
        pos, end = addr, addr + length
        i = bisect.bisect_right(self._starts, pos) - 1
        while pos < end:
            if i < 0 or i >= len(self._starts) or not self._starts[i] <= pos < self._ends[i]:
                return False
            pos = self._ends[i]
            i += 1
        return True

    # -- session
    def isWindbgExt(self):
        return hasattr(sys.stdout, "writedml")

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
        return CPU_BY_ARCH.get(self.snap.arch, CPUType.AMD64)

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

    def getImplicitThread(self):
        """The implicit thread's KTHREAD (pykd ``pymod.cpp`` getImplicitThread
        -> kdlib ``getImplicitThreadOffset``, ``kdlib/source/win/dbgeng.cpp``:
        dbgeng ``IDebugSystemObjects::GetImplicitThreadDataOffset``, which
        kdlib turns into a DbgEngException when it fails). On a kernel dump
        the engine's implicit thread is the one the crash happened on: here
        the snapshot's ``crash_thread`` (what a snapshot cut from a triage
        dump keeps, ``sources/convert.py``); without one the call fails as
        the engine does without thread data."""
        self._need_target()
        self._count("getImplicitThread")
        value = _snapfmt.parse_hex(self.snap.doc.get("crash_thread")) if isinstance(self.snap.doc, dict) else None
        if not value:
            raise DbgException("IDebugSystemObjects::GetImplicitThreadDataOffset failed")
        return value

    def reg(self, name):
        """A register of the engine's current context (pykd ``pymod.cpp``
        ``reg`` -> ``pykd::getRegisterByName``; kdlib raises DbgException
        for a name the CPU does not have or a target without a context).
        On a dump: the context the dump saved, here the snapshot's
        ``crash_registers`` (what a snapshot cut from a dump keeps,
        ``sources/recording.py``)."""
        self._need_target()
        self._count("reg")
        regs = self.snap.doc.get("crash_registers") if isinstance(self.snap.doc, dict) else None
        value = _snapfmt.parse_hex(regs.get(str(name).lower())) if isinstance(regs, dict) else None
        if value is None:
            raise DbgException("invalid register name or no register context: %s" % name)
        return value

    def getDebugOptions(self):
        self._count("getDebugOptions")
        return int(self.options)

    # -- memory
    def loadBytes(self, offset, count, phyAddr=False):
        self._need_target()
        self._count("loadBytes")
        offset = int(offset) & self.mask
        count = int(count)
        if not 0 <= count <= MAX_ULONG:
            raise OverflowError("count does not fit an unsigned long")
        if phyAddr:
            raise MemoryException(offset, phys=True)
        if not self._valid(offset, count):
            raise MemoryException(offset)   # kdlib loadArray: the start address, always
        out = bytearray()
        pos, end = offset, offset + count
        i = bisect.bisect_right(self._starts, pos) - 1
        while pos < end:
            s, d = self._starts[i], self._data[i]
            take = min(end, s + len(d)) - pos
            out += d[pos - s:pos - s + take]
            pos += take
            i += 1
        return list(out)

    def isValid(self, offset):
        self._need_target()
        self._count("isValid")
        return self._valid(int(offset) & self.mask, 1)

    def isVaRegionValid(self, offset, length):
        self._need_target()
        self._count("isVaRegionValid")
        length = int(length)
        if length < 0:
            raise OverflowError("length does not fit an unsigned long")
        if length > MAX_ULONG:
            return False
        return self._valid(int(offset) & self.mask, length)

    def findMemoryRegion(self, offset):
        self._need_target()
        self._count("findMemoryRegion")
        if self.kernel:
            raise DbgException("findMemoryRegion does not work in the kernel mode")
        offset = int(offset) & self.mask
        i = max(0, bisect.bisect_right(self._starts, offset) - 1)
        while i < len(self._starts):
            if self._ends[i] > offset:
                j = i
                while j + 1 < len(self._starts) and self._starts[j + 1] == self._ends[j]:
                    j += 1
                return (self._starts[i], self._ends[j] - self._starts[i])
            i += 1
        raise MemoryException(0)

    # -- symbols and types
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

    # -- output
    def dprint(self, str, dml=False):
        self.output.append((str, bool(dml)))
        out = sys.stdout
        if dml and hasattr(out, "writedml"):
            out.writedml(str)
        else:
            out.write(str)

    def dprintln(self, str, dml=False):
        self.dprint(str + "\n", dml)

    def dbgCommand(self, command, suppressOutput=True, outputMask=None):
        self.commands.append(command)
        cmd = command.strip()
        if cmd.startswith(".prefer_dml"):
            arg = cmd[len(".prefer_dml"):].strip()
            if arg in ("0", "1"):
                self.options = (self.options | debugOptions.PreferDml if arg == "1"
                                else self.options & ~debugOptions.PreferDml)
            on = self.options & debugOptions.PreferDml
            return "DML versions of commands %s by default\n" % ("on" if on else "off")
        if cmd == "||" and self.snap is not None:
            if self.live:
                return ".  0 Remote KD: KdSrvTransport=NET,Port=50000\n"
            if self.dump_path:
                return ".  0 %d-bit Kernel triage dump: %s\n" % (8 * self.ptr, self.dump_path)
        return ""

    def text(self):
        """Everything printed with dprint, as one string."""
        return "".join(t for t, _ in self.output)

    # -- the module
    def make_module(self):
        m = _types.ModuleType("pykd", "wdfdbg's stand-in for pykd (wdfdbg.testing.fake_pykd)")
        for cls in EXCEPTIONS:
            setattr(m, cls.__name__, cls)
        m.CPUType = CPUType
        m.dumpType = dumpType
        m.debugOptions = debugOptions
        m.systemVersion = systemVersion
        m.module = module
        m.__version__ = m.version = "0.3.4.15-stand-in"
        for name in ("isWindbgExt", "isKernelDebugging", "isDumpAnalyzing", "getDumpType", "loadDump", "closeDump",
                     "ptrSize", "is64bitSystem", "pageSize", "getCPUType", "getCPUMode", "getSystemVersion",
                     "bugCheckData", "getImplicitThread", "reg", "getDebugOptions", "loadBytes", "isValid",
                     "isVaRegionValid",
                     "findMemoryRegion",
                     "getOffset", "findSymbolAndDisp", "findSymbol", "getModulesList", "dprint", "dprintln",
                     "dbgCommand"):
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
_MISSING = object()


def install_fake_pykd(source=None, **kw):
    """Make ``import pykd`` return a stand-in backed by ``source`` (a
    snapshot path, a snapshot document, a
    :class:`~wdfdbg.sources.snapshot.Snapshot`, or None for "no target");
    ``kw`` as :class:`FakePykd` takes them. Returns the module; its ``fake``
    attribute is the :class:`FakePykd`."""
    fake = FakePykd(source, **kw)
    mod = fake.make_module()
    _SAVED.append(sys.modules.get("pykd", _MISSING))
    sys.modules["pykd"] = mod
    _ti._CURRENT["fake"] = fake
    return mod


def uninstall_fake_pykd():
    """Undo the last :func:`install_fake_pykd`."""
    prev = _SAVED.pop() if _SAVED else _MISSING
    if prev is _MISSING:
        sys.modules.pop("pykd", None)
    else:
        sys.modules["pykd"] = prev
    cur = sys.modules.get("pykd")
    _ti._CURRENT["fake"] = getattr(cur, "fake", None) if cur is not None else None


@contextlib.contextmanager
def fake_pykd(source=None, **kw):
    """Context manager around :func:`install_fake_pykd`."""
    mod = install_fake_pykd(source, **kw)
    try:
        yield mod
    finally:
        uninstall_fake_pykd()
