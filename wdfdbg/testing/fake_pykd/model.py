"""pykd's exceptions, enums and small value classes, as the stand-in
presents them.

- Exceptions: ``DbgException`` > ``MemoryException``, ``SymbolException``
  > ``TypeException``, ``CallException``, ``CPUException`` (pykd
  ``pykd/dbgexcept.h``). ``MemoryException``'s text is kdlib's
  ``MemoryException::buildDesc`` (kdlibcpp ``kdlib/include/kdlib/exceptions.h``):
  ``"Memory exception at 0x<hex> target virtual address"``.
- Enums are boost.python enums (pykd ``pykd/pymod.cpp`` ``python::enum_``):
  int subclasses with a name. ``debugOptions`` carries kdlib's values
  (kdlibcpp ``kdlib/include/kdlib/dbgtypedef.h`` ``enum DebugOptions``:
  ``PreferDml = 0x00040000``, the dbgeng ``DEBUG_ENGOPT_PREFER_DML`` bit).
"""


class DbgException(Exception):
    """Pykd base exception class"""


class MemoryException(DbgException):
    """Target memory access exception class"""

    def __init__(self, address, phys=False):
        self.address = address
        DbgException.__init__(self, "Memory exception at 0x%x target %s address"
                              % (address, "physical" if phys else "virtual"))

    def getAddress(self):
        return self.address


class SymbolException(DbgException):
    """Symbol exception"""


class TypeException(SymbolException):
    """type exception"""


class CallException(DbgException):
    """Function call exception"""


class CPUException(DbgException):
    """CPU exception"""


EXCEPTIONS = (DbgException, MemoryException, SymbolException, TypeException, CallException, CPUException)


class EnumValue(int):
    """A boost.python enum value: an int with a name."""

    def __new__(cls, owner, name, value):
        v = int.__new__(cls, value)
        v.owner = owner
        v.name = name
        return v

    def __str__(self):
        return self.name

    def __repr__(self):
        return "pykd.%s.%s" % (self.owner, self.name)


def enum_class(owner, items):
    """A class whose attributes are :class:`EnumValue` (``items``: names,
    numbered from 0, or ``(name, value)`` pairs)."""
    cls = type(owner, (object,), {})
    values = {}
    for i, item in enumerate(items):
        name, value = item if isinstance(item, tuple) else (item, i)
        ev = EnumValue(owner, name, value)
        setattr(cls, name, ev)
        values[value] = ev
    cls.values = values
    return cls


CPUType = enum_class("CPUType", ["I386", "AMD64", "ARM64", "ARM"])
dumpType = enum_class("dumpType", ["Small", "Default", "Full", "Image", "KernelSmall", "Kernel", "KernelFull"])
debugOptions = enum_class("debugOptions", [
    ("AllowNetworkPaths", 0x4), ("DisallowNetworkPaths", 0x8), ("InitialBreak", 0x20), ("FinalBreak", 0x40),
    ("FailIncompleteInformation", 0x200), ("DisableModuleSymbolLoad", 0x8000),
    ("DisallowImageFileMapping", 0x20000), ("PreferDml", 0x40000)])
CPU_BY_ARCH = {"x64": CPUType.AMD64, "x86": CPUType.I386, "arm64": CPUType.ARM64}


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
