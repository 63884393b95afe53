"""A tiny hand-laid snapshot for core tests that must not depend on the
scenario builder: FxLibraryGlobals -> one driver -> FxDriver with two
children, laid out per kmdf.md (synthetic)."""

import copy
import struct

from wdfdbg.layouts.profiles import PROFILE_BY_NAME
from wdfdbg.sources.base import Module
from wdfdbg.sources.snapshot import build_document

BASE = 0xffffc08b00000000
WDF = 0xfffff80479950000
LIB = WDF + 0x1000
GLOBALS = BASE + 0x100
DRIVER = BASE + 0x1000
DEVICE = BASE + 0x2000
MEMORY = BASE + 0x3000
VT = {"FxDriver": WDF + 0x2000, "FxDevice": WDF + 0x2100, "FxMemoryBuffer": WDF + 0x2200}


def document(with_types=True):
    mem = bytearray(0x4000)

    def w(addr, fmt, *v):
        struct.pack_into("<" + fmt, mem, addr - BASE, *v)

    lib = bytearray(0x300)
    struct.pack_into("<QQ", lib, 0x1e0, GLOBALS, GLOBALS)
    w(GLOBALS, "QQ", LIB + 0x1e0, LIB + 0x1e0)
    w(GLOBALS + 0x38, "Q", 0xFFFFFFFFFFFFFFF8)
    w(GLOBALS + 0x44, "I", int.from_bytes(b"Mini", "little"))
    w(GLOBALS + 0x48, "Q", DRIVER)
    mem[GLOBALS - BASE + 0x1c0:GLOBALS - BASE + 0x1c8] = b"MiniDrv\0"

    def obj(a, vt, typ, size, parent):
        w(a, "QHHi", vt, typ, size, 1)
        w(a + 0x10, "Q", GLOBALS)
        w(a + 0x18, "HH", 8, 1)
        w(a + 0x20, "QQ", a + 0x20, a + 0x20)
        w(a + 0x40, "Q", parent)
        w(a + size, "Q", a)  # FxContextHeader.Object

    obj(DRIVER, VT["FxDriver"], 0x1001, 0x100, 0)
    obj(DEVICE, VT["FxDevice"], 0x1002, 0x200, DRIVER)
    obj(MEMORY, VT["FxMemoryBuffer"], 0x1000, 0xa0, DRIVER)
    w(MEMORY + 0x70, "Q", 0x20)
    w(DRIVER + 0x20, "QQ", DEVICE + 0x48, MEMORY + 0x48)
    w(DEVICE + 0x48, "QQ", MEMORY + 0x48, DRIVER + 0x20)
    w(MEMORY + 0x48, "QQ", DRIVER + 0x20, DEVICE + 0x48)
    syms = {"Wdf01000!FxLibraryGlobals": LIB}
    for k, v in VT.items():
        syms["Wdf01000!%s::`vftable'" % k] = v
    types = copy.deepcopy(PROFILE_BY_NAME["win10-19041-x64"].documents()) if with_types else {}
    return build_document("synthetic", "x64", 8, [(BASE, bytes(mem)), (LIB, bytes(lib))], os_build=19041,
                          description="synthetic: tests/minisnap.py", modules=[Module("Wdf01000", WDF, 856064)],
                          symbols=syms, types=types)
