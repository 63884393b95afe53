"""Triage ("small memory") dumps, full/bitmap dumps through kdmp-parser,
``--types`` files and bugcheck decoding.

Real-data tests read ``../shared/dumps/triage_*.dmp`` (relative to the
project root) and skip when the folder is absent. Synthetic dumps are
written here in the real on-disk formats: a triage dump (DUMP_HEADER64 or
DUMP_HEADER32 + TRIAGE_DUMP + driver list + string pool + data blocks +
secondary ``DumpBlob`` data) and an x64 bitmap kernel dump (DUMP_HEADER64,
BMP_HEADER64 ``SDMP``, the bitmap of present pages, 4-level page tables).
The builders are shared with ``test_info_scan.py`` and ``test_dump_fuzz.py``.
"""

import gzip
import json
import os
import struct
import uuid

import pytest

from wdfdbg.errors import DumpError, InputError
from wdfdbg.sources import minidump
from wdfdbg.sources.dumpfile import open_dump

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUMPS = os.path.join(os.path.dirname(ROOT), "shared", "dumps")
X64 = os.path.join(DUMPS, "triage_x64.dmp")
ARM64 = os.path.join(DUMPS, "triage_arm64.dmp")
need_x64 = pytest.mark.skipif(not os.path.exists(X64), reason="real dump %s is absent" % X64)
need_arm64 = pytest.mark.skipif(not os.path.exists(ARM64), reason="real dump %s is absent" % ARM64)

PAGE = 0x1000

# -- a synthetic KMDF scene (x64 layout, kmdf.md §2 and §9) -----------------
WDF = 0xfffff80479950000
WDF_SIZE = 0xd1000
LIB = WDF + 0xa9d30
VT_DRIVER = WDF + 0x96558
VT_DEVICE = WDF + 0x964c8
VT_MEMORY = WDF + 0x922e8
VT_IFXMEM = WDF + 0x922a0
GLOBALS = 0xffffc08be52e6690
DRIVER = 0xffffc08bde9d0870
DEVICE = 0xffffc08be450c550
MEMORY = 0xffffc08be455c060
FULL_MASK = 0xFFFFFFFFFFFFFFF8


def fxobject(addr, vt, typ, size, globals_addr, parent, flags=0x8, state=1, refs=1, children=()):
    """0x100 bytes of an FxObject header; ``children`` are the addresses
    of objects on its child list (their m_ChildEntry at +0x48)."""
    b = bytearray(0x100)
    struct.pack_into("<QHHiQHH", b, 0, vt, typ, size, refs, globals_addr, flags, state)
    head = addr + 0x20
    if children:
        struct.pack_into("<QQ", b, 0x20, children[0] + 0x48, children[-1] + 0x48)
    else:
        struct.pack_into("<QQ", b, 0x20, head, head)
    struct.pack_into("<Q", b, 0x40, parent)
    return b


def kmdf_scene(name=b"TestDrv", with_name=True):
    """Data blocks of one KMDF driver: globals, FxDriver, FxDevice and an
    FxMemoryBuffer with a 0x14-byte inline buffer."""
    g = bytearray(0x100)
    struct.pack_into("<QQ", g, 0, GLOBALS, GLOBALS)
    struct.pack_into("<Q", g, 0x38, FULL_MASK)
    g[0x44:0x48] = b"Test"
    struct.pack_into("<QQQ", g, 0x48, DRIVER, 0, LIB)
    pub = bytearray(0x30)
    struct.pack_into("<QII", pub, 0, DRIVER ^ FULL_MASK, 0, 0x74736554)
    if with_name:
        pub[0x10:0x10 + len(name)] = name
    drv = fxobject(DRIVER, VT_DRIVER, 0x1001, 0x170, GLOBALS, 0, flags=0x81b, children=(DEVICE, MEMORY))
    dev = fxobject(DEVICE, VT_DEVICE, 0x1002, 0x2c0, GLOBALS, DRIVER, flags=0x81a)
    struct.pack_into("<QQ", dev, 0x48, MEMORY + 0x48, DRIVER + 0x20)
    mem = fxobject(MEMORY, VT_MEMORY, 0x1000, 0xa0, GLOBALS, DRIVER)
    struct.pack_into("<QQ", mem, 0x48, DRIVER + 0x20, DEVICE + 0x48)
    struct.pack_into("<QQ", mem, 0x68, VT_IFXMEM, 0x14)
    mem[0x80:0x94] = b"0123456789abcdefghij"
    return [(GLOBALS, bytes(g)), (GLOBALS + 0x1B0, bytes(pub)), (DRIVER, bytes(drv)), (DEVICE, bytes(dev)),
            (MEMORY, bytes(mem))]


DEFAULT_DRIVERS = [("\\SystemRoot\\system32\\ntoskrnl.exe", 0xfffff8047ba00000, 0x1046000, 0x12345678),
                   ("\\SystemRoot\\system32\\drivers\\Wdf01000.sys", WDF, WDF_SIZE, 0x23456789),
                   ("\\SystemRoot\\System32\\drivers\\testdrv.sys", 0xfffff8048b580000, 0x3b000, 0x3456789a)]


def kmdf_table_blob(entries, ptr=8):
    """WdfDumpGuid2 data: FX_DUMP_DRIVER_INFO_ENTRY records."""
    out = bytearray()
    for g, ver, name in entries:
        e = bytearray((ptr + 12 + 32 + ptr - 1) // ptr * ptr)     # 0x38 on x64, 0x30 on x86
        struct.pack_into("<Q" if ptr == 8 else "<I", e, 0, g & ((1 << (8 * ptr)) - 1))
        struct.pack_into("<3I", e, ptr, *ver)
        e[ptr + 12:ptr + 12 + len(name)] = name.encode("latin-1")
        out += e
    return bytes(out)


def build_triage_dump(bits=64, machine=None, build=19041, bugcheck=(0x10D, (0x5, 0x3f74ffff6908, 0x1000, GLOBALS)),
                      drivers=DEFAULT_DRIVERS, blocks=None, stack=None, blobs=None, processors=4,
                      mini_dump_fields=0xCFF, valid=True):
    """A triage dump (DumpType 4) in the real layout (kmdf.md §11,
    ntiodump.h). ``blocks``: [(va, bytes)]; ``stack``: (top, bytes);
    ``blobs``: [(uuid, bytes)] written as secondary data after SizeOfDump."""
    if blocks is None:
        blocks = kmdf_scene()
    if blobs is None:
        blobs = [(minidump.WDF_DUMP_GUID2, kmdf_table_blob([(0, (1, 31, 0), "Wdf01000"), (GLOBALS, (1, 15, 0), "TestDrv")],
                                                           8 if bits == 64 else 4))]
    lay = minidump.Layout(bits)
    if machine is None:
        machine = 0x8664 if bits == 64 else 0x14C
    out = bytearray(lay.header_size + lay.triage_size)
    out[0:8] = b"PAGEDU64" if bits == 64 else b"PAGEDUMP"
    struct.pack_into("<II", out, 8, 15, build)
    code, params = bugcheck
    if bits == 64:
        struct.pack_into("<4Q", out, 0x10, 0x1ad000, 0xfffff8047c6fc500, 0xfffff8047c62a390, 0xfffff8047c61e200)
        struct.pack_into("<3I", out, 0x30, machine, processors, code)
        struct.pack_into("<4Q", out, 0x40, *params)
        struct.pack_into("<Q", out, 0x80, 0)
    else:
        struct.pack_into("<4I", out, 0x10, 0x1ad000, 0x8c6fc500, 0x8262a390, 0x8261e200)
        struct.pack_into("<3I", out, 0x20, machine, processors, code)
        struct.pack_into("<4I", out, 0x2C, *[p & 0xFFFFFFFF for p in params])
    struct.pack_into("<I", out, lay.dump_type, 4)
    struct.pack_into("<I", out, lay.mini_dump_fields, mini_dump_fields)

    def align(n, a=8):
        return (n + a - 1) & ~(a - 1)

    pos = len(out)
    # driver list, then the string pool
    dl_off = pos
    out += bytes(lay.driver_stride * len(drivers))
    pool_off = len(out)
    name_offs = []
    for path, base, size, ts in drivers:
        name_offs.append(len(out))
        enc = path.encode("utf-16-le")
        out += struct.pack("<I", len(path)) + enc + b"\0\0"
        out += bytes(align(len(out)) - len(out))
    pool_size = len(out) - pool_off
    for i, (path, base, size, ts) in enumerate(drivers):
        e = dl_off + i * lay.driver_stride
        struct.pack_into("<I", out, e, name_offs[i])
        ldr = e + lay.ldr
        struct.pack_into("<Q" if bits == 64 else "<I", out, ldr + lay.ldr_base, base)
        struct.pack_into("<I", out, ldr + lay.ldr_size, size)
        struct.pack_into("<I", out, ldr + lay.ldr_timestamp, ts)
    # call stack
    cs_off = cs_size = top = 0
    if stack is not None:
        top, data = stack
        cs_off = len(out)
        cs_size = len(data)
        out += data
        out += bytes(align(len(out)) - len(out))
    # data block table, then the data
    db_off = len(out)
    out += bytes(16 * len(blocks))
    for i, (va, data) in enumerate(blocks):
        struct.pack_into("<QII", out, db_off + 16 * i, va, len(out), len(data))
        out += data
    valid_off = len(out)
    out += b"TRGD" if valid else b"\0\0\0\0"
    size_of_dump = len(out)
    t = lay.triage
    struct.pack_into("<18I", out, t, 0, size_of_dump, valid_off, lay.context, 0, 0, 0, 0, 0, 0, cs_off, cs_size,
                     dl_off, len(drivers), pool_off, pool_size, 0, 0xFFFFFFFF)
    if bits == 64:
        struct.pack_into("<Q", out, 0x2048, top)
        struct.pack_into("<II", out, 0x2078, db_off, len(blocks))
    else:
        struct.pack_into("<I", out, 0x1048, top)
        struct.pack_into("<II", out, 0x1060, db_off, len(blocks))
    if blobs:
        out += b"DumpBlob" + struct.pack("<II", 16, build)
        for tag, data in blobs:
            out += struct.pack("<I", 0x20) + tag.bytes_le + struct.pack("<III", len(data), 0, (-len(data)) % 8)
            out += data + bytes((-len(data)) % 8)
    return bytes(out)


# -- a synthetic x64 bitmap kernel dump (DumpType 5) ---------------------------
def build_bitmap_dump(mem, build=19041, bugcheck=(0x10D, (5, 0x1234, 0x1000, 0)), modules=(), signature=b"SDMP",
                      dump_type=5, processors=4):
    """``mem`` maps page-aligned VAs to page bytes; ``modules`` are
    (path, base, size) linked on a PsLoadedModuleList in memory."""
    phys = {}
    next_pa = [0x10000]

    def alloc(data=None):
        pa = next_pa[0]
        next_pa[0] += PAGE
        phys[pa] = bytearray(data if data is not None else PAGE)
        return pa

    def pte(pa):
        return (pa & 0x000FFFFFFFFFF000) | 0x3

    pml4 = alloc()

    def table(parent, index):
        e = struct.unpack_from("<Q", phys[parent], index * 8)[0]
        if e & 1:
            return e & 0x000FFFFFFFFFF000
        pa = alloc()
        struct.pack_into("<Q", phys[parent], index * 8, pte(pa))
        return pa

    mem = dict(mem)
    head = 0
    if modules:
        head = 0xfffff80400000000
        page = bytearray(PAGE)
        entries = [head + 0x100 + i * 0x100 for i in range(len(modules))]
        for i, (name, base, size) in enumerate(modules):
            e = entries[i] - head
            flink = entries[i + 1] if i + 1 < len(entries) else head
            blink = entries[i - 1] if i else head
            struct.pack_into("<QQ", page, e, flink, blink)
            struct.pack_into("<Q", page, e + 0x30, base)
            struct.pack_into("<I", page, e + 0x40, size)
            nm = name.encode("utf-16-le")
            page[e + 0xA0:e + 0xA0 + len(nm)] = nm
            struct.pack_into("<HHIQ", page, e + 0x58, len(nm), len(nm), 0, head + e + 0xA0)
            struct.pack_into("<I", page, e + 0x80, 0x5f000000 + i)
        struct.pack_into("<QQ", page, 0, entries[0], entries[-1])
        mem[head] = bytes(page)
    for va in sorted(mem):
        p3 = table(pml4, (va >> 39) & 511)
        p2 = table(p3, (va >> 30) & 511)
        p1 = table(p2, (va >> 21) & 511)
        struct.pack_into("<Q", phys[p1], ((va >> 12) & 511) * 8, pte(alloc(mem[va])))
    hdr = bytearray(0x2000)
    hdr[0:8] = b"PAGEDU64"
    struct.pack_into("<II", hdr, 8, 15, build)
    struct.pack_into("<QQQQ", hdr, 0x10, pml4, 0, head, 0)
    struct.pack_into("<III", hdr, 0x30, 0x8664, processors, bugcheck[0])
    struct.pack_into("<4Q", hdr, 0x40, *bugcheck[1])
    struct.pack_into("<I", hdr, 0x348 + 0x34, 0x1f80)     # CONTEXT.MxCsr
    struct.pack_into("<I", hdr, 0x348 + 0x118, 0x1f80)    # CONTEXT.FltSave.MxCsr (kdmp-parser checks both)
    struct.pack_into("<Q", hdr, 0x348 + 0xF8, 0xfffff8048b58334c)
    struct.pack_into("<I", hdr, 0xF98, dump_type)
    pages = ((max(phys) // PAGE + 1) + 63) // 64 * 64
    bitmap = bytearray(pages // 8)
    for pa in phys:
        pfn = pa // PAGE
        bitmap[pfn // 8] |= 1 << (pfn % 8)
    first = (0x2038 + len(bitmap) + PAGE - 1) // PAGE * PAGE
    bmp = bytearray(0x38)
    bmp[0:4] = signature
    bmp[4:8] = b"DUMP"
    struct.pack_into("<QQQ", bmp, 0x20, first, len(phys), pages)
    out = bytearray(hdr) + bmp + bitmap
    out += bytes(first - len(out))
    for pa in sorted(phys):
        out += phys[pa]
    return bytes(out)


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


# -- real dumps ----------------------------------------------------------------
@need_x64
def test_real_x64_header_and_drivers():
    b = open_dump(X64)
    assert b.kind == "minidump" and b.arch == "x64" and b.pointer_size == 8
    assert b.os_build == 19041
    d = b.dump
    assert d.processors == 16 and d.dump_type == 4 and d.machine == 0x8664
    bc = b.bugcheck()
    assert bc.code == 0x1000007E
    assert bc.parameters == [0xffffffffc0000005, 0xfffff8048b58334c, 0xffff850429891ee8, 0xffff850429891720]
    mods = b.modules()
    assert len(mods) == 151
    wdf = b.module("Wdf01000")
    assert wdf.base == 0xfffff80479950000 and wdf.size == 0xd1000
    assert wdf.path.endswith("Wdf01000.sys")
    assert mods[0].name == "nt" and mods[0].path.endswith("ntoskrnl.exe")
    assert b.module("WDFLDR") is not None
    assert d.data_blocks == 1831
    assert d.ps_loaded_module_list == 0xfffff8047c62a390
    assert d.context["rip"] == 0xfffff8048b58334c
    assert not b.notes


@need_x64
def test_real_x64_memory_and_kmdf_secondary_data():
    b = open_dump(X64)
    # a work item the fact sheet quotes (kmdf.md §2): type 0x1025, size 0xd0
    wi = 0xffffc08bdce9f8b0
    page = b.read_page(wi & ~0xFFF)
    off = wi & 0xFFF
    assert page.first_invalid(off, off + 0x20) is None
    assert struct.unpack_from("<HH", page.data, off + 8) == (0x1025, 0xd0)
    assert page.valid is not None          # blocks cover pages only in part
    with pytest.raises(Exception):
        b.read_page(0x1000)
    ranges = b.ranges()
    assert sum(s for _, s in ranges) >= 1100000
    assert all(a1 + s1 <= a2 for (a1, s1), (a2, _) in zip(ranges, ranges[1:]))
    table = b.kmdf_drivers()
    assert table[0].name == "Wdf01000" and table[0].version[:2] == (1, 31)
    names = [e.name for e in table]
    assert "AmdPPM" in names and "USBXHCI" in names and len(table) == 28
    assert b.kmdf_version == "1.31"
    assert b.dump.kmdf_ifr_logs() == [("AmdPPM", 4096)]
    assert b.symbol("Wdf01000!FxLibraryGlobals") == 0xfffff804799f9d30
    assert b.symbol("nt!PsLoadedModuleList") == 0xfffff8047c62a390
    assert b.symbol("nt!KiBugcheckData") is not None


@need_arm64
def test_real_arm64():
    b = open_dump(ARM64)
    assert b.arch == "arm64" and b.os_build == 22000 and b.dump.processors == 8
    assert b.bugcheck().code == 0x1C8
    assert b.bugcheck().parameters[0] == 0x1b58
    assert len(b.modules()) == 245
    assert b.module("Wdf01000").base == 0xfffff803f59d0000
    assert b.dump.data_blocks == 679
    assert b.kmdf_version == "1.33"
    assert b.symbol("Wdf01000!FxLibraryGlobals") == 0xfffff803f5a70e00
    assert b.dump.context["pc"] == 0xfffff803f32de014


@need_x64
def test_real_session_reads_through_the_page_cache():
    from wdfdbg.session import open_session
    s = open_session(X64)
    t = s.target
    assert t.read_u16(0xffffc08bdce9f8b0 + 8) == 0x1025
    before = t.backend_reads
    t.read(0xffffc08bdce9f8b0, 0x20)
    assert t.backend_reads == before          # cached page


# -- synthetic triage dumps ----------------------------------------------------
def test_synthetic_triage_64(tmp_path):
    stack = (0xffff850429890ee8, bytes(range(256)) * 4)
    p = write(tmp_path, "t64.dmp", build_triage_dump(stack=stack))
    b = open_dump(p)
    assert b.arch == "x64" and b.os_build == 19041
    assert [m.name for m in b.modules()] == ["nt", "Wdf01000", "testdrv"]
    assert b.bugcheck().code == 0x10D
    t = b.read_page(DRIVER & ~0xFFF)
    assert struct.unpack_from("<H", t.data, (DRIVER & 0xFFF) + 8)[0] == 0x1001
    top = stack[0]
    pg = b.read_page(top & ~0xFFF)
    assert bytes(pg.data[top & 0xFFF:(top & 0xFFF) + 4]) == b"\x00\x01\x02\x03"
    assert b.symbol("Wdf01000!FxLibraryGlobals") == LIB
    assert [e.name for e in b.kmdf_drivers()] == ["Wdf01000", "TestDrv"]


def test_synthetic_triage_32(tmp_path):
    blocks = [(0x8a000000, b"\x11" * 0x40), (0x8a000ff0, b"\x22" * 0x20)]
    data = build_triage_dump(bits=32, drivers=[("\\SystemRoot\\system32\\ntkrnlpa.exe", 0x82000000, 0x400000, 1),
                                               ("\\SystemRoot\\system32\\drivers\\Wdf01000.sys", 0x8b000000, 0xc0000, 2)],
                             blocks=blocks, bugcheck=(0xE2, (0, 0, 0, 0)))
    b = open_dump(write(tmp_path, "t32.dmp", data))
    assert b.arch == "x86" and b.pointer_size == 4
    assert [m.name for m in b.modules()] == ["nt", "Wdf01000"]
    assert b.bugcheck().code == 0xE2
    p0 = b.read_page(0x8a000000)
    assert bytes(p0.data[:4]) == b"\x11" * 4
    assert p0.valid == ((0, 0x40), (0xff0, 0x1000))
    p1 = b.read_page(0x8a001000)
    assert p1.valid == ((0, 0x10),)
    assert b.symbol("Wdf01000!FxLibraryGlobals") is None      # x86 globals layout unverified
    assert b.kmdf_drivers()[1].globals == GLOBALS & 0xFFFFFFFF


def test_unsupported_machine_is_a_clear_error(tmp_path):
    data = build_triage_dump(bits=32, machine=0x1C4, drivers=[("\\SystemRoot\\system32\\ntoskrnl.exe", 0x82000000, 0x1000, 1)],
                             blocks=[(0x8a000000, b"x" * 16)])
    with pytest.raises(DumpError, match="ARMNT"):
        open_dump(write(tmp_path, "arm.dmp", data))


def test_type4_header_refusals(tmp_path):
    good = build_triage_dump()
    cases = {
        "empty": (b"", "empty file"),
        "short": (good[:100], "truncated"),
        "sig": (b"MZ" + good[2:], "not a Windows kernel dump"),
        "flavour": (good[:4] + b"XXXX" + good[8:], "unknown kernel dump flavour"),
        "cut": (good[:len(good) // 2], "truncated"),
    }
    for name, (data, msg) in cases.items():
        with pytest.raises(DumpError, match=msg):
            open_dump(write(tmp_path, name + ".dmp", data))
    bad = bytearray(good)
    struct.pack_into("<I", bad, 0x2000 + 13 * 4, 0x7fffffff)       # DriverCount
    with pytest.raises(DumpError, match="absurd driver count"):
        open_dump(write(tmp_path, "drivers.dmp", bytes(bad)))
    bad = bytearray(good)
    struct.pack_into("<I", bad, 0x207C, 0x10000000)                 # DataBlocksCount
    with pytest.raises(DumpError, match="absurd data block count"):
        open_dump(write(tmp_path, "blocks.dmp", bytes(bad)))
    bad = bytearray(good)
    struct.pack_into("<I", bad, 0xF98, 3)                           # DumpType: header only
    with pytest.raises(DumpError, match="DumpType 3"):
        open_dump(write(tmp_path, "type3.dmp", bytes(bad)))


def test_missing_validity_marker_is_a_note(tmp_path):
    b = open_dump(write(tmp_path, "nv.dmp", build_triage_dump(valid=False)))
    assert any("validity marker" in n for n in b.notes)


def test_dump_error_is_an_input_error():
    assert issubclass(DumpError, InputError)


# -- kdmp-parser -----------------------------------------------------------------
def _kdmp():
    return pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed (pip install kdmp-parser)")


def test_bitmap_dump_through_kdmp_parser(tmp_path):
    _kdmp()
    va = 0xffffc08b00000000
    scene = dict((a, d) for a, d in kmdf_scene())
    mem = {va: bytes(range(256)) * 16, va + 0x2000: b"A" * PAGE, va + 0x3000: b"C" * PAGE}
    # the KMDF scene on whole pages
    for a, d in scene.items():
        pa = a & ~0xFFF
        page = bytearray(mem.get(pa, bytes(PAGE)))
        page[a - pa:a - pa + len(d)] = d
        mem[pa] = bytes(page)
    mods = [("\\SystemRoot\\system32\\ntoskrnl.exe", 0xfffff80470000000, 0x100000),
            ("\\SystemRoot\\system32\\drivers\\Wdf01000.sys", WDF, WDF_SIZE)]
    p = write(tmp_path, "bmp.dmp", build_bitmap_dump(mem, modules=mods))
    b = open_dump(p)
    assert b.kind == "kernel-dump" and b.dump_type == 5 and b.os_build == 19041
    assert b.bugcheck().code == 0x10D
    assert bytes(b.read_page(va).data[:4]) == b"\x00\x01\x02\x03"
    assert bytes(b.read_page(va + 0x2000).data[:2]) == b"AA"
    with pytest.raises(Exception):
        b.read_page(va + 0x1000)
    assert [m.name for m in b.modules()] == ["nt", "Wdf01000"]
    rs = b.ranges()
    assert (va, PAGE) in rs
    # through a session: arbitrary reads stitched by the page cache
    from wdfdbg.session import open_session
    s = open_session(p)
    assert s.target.read(va + 0x2ffe, 4) == b"AACC"
    assert s.target.read(va + 0xfe, 4) == bytes([0xfe, 0xff, 0x00, 0x01])
    assert s.target.read_u16(DRIVER + 8) == 0x1001


def test_fdmp_signature_and_corrupt_bitmap(tmp_path):
    _kdmp()
    va = 0xffffc08b00000000
    p = write(tmp_path, "f.dmp", build_bitmap_dump({va: b"B" * PAGE}, signature=b"FDMP"))
    assert bytes(open_dump(p).read_page(va).data[:1]) == b"B"
    data = bytearray(build_bitmap_dump({va: b"B" * PAGE}))
    struct.pack_into("<Q", data, 0x2030, 1 << 60)       # Pages: an absurd bitmap
    with pytest.raises(DumpError, match="absurd page count"):
        open_dump(write(tmp_path, "g.dmp", bytes(data)))
    data = bytearray(build_bitmap_dump({va: b"B" * PAGE}))
    data[0x2000:0x2004] = b"XXXX"
    with pytest.raises(DumpError, match="SDMP"):
        open_dump(write(tmp_path, "h.dmp", bytes(data)))
    data = build_bitmap_dump({va: b"B" * PAGE})
    with pytest.raises(DumpError, match="truncated"):
        open_dump(write(tmp_path, "i.dmp", data[:-PAGE]))


def test_kdmp_missing_package_is_an_input_error(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name == "kdmp_parser":
            raise ImportError("no kdmp_parser")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    p = write(tmp_path, "bmp.dmp", build_bitmap_dump({0xffffc08b00000000: b"A" * PAGE}))
    with pytest.raises(InputError, match="kdmp-parser"):
        open_dump(p)


# -- --types files -------------------------------------------------------------
def _profile_doc():
    from wdfdbg.layouts.profiles import PROFILE_BY_NAME
    return json.loads(json.dumps(PROFILE_BY_NAME["win10-19041-x64"].documents()["Wdf01000"]))


def test_types_file_answers_type_source(tmp_path):
    from wdfdbg.sources.typesfile import parse_spec, with_types
    p = tmp_path / "Wdf01000.isf.json.gz"
    with gzip.open(str(p), "wt") as f:
        json.dump(_profile_doc(), f)
    b = open_dump(write(tmp_path, "t.dmp", build_triage_dump()))
    w = with_types(b, [str(p)])
    src = w.type_source("wdf01000")
    assert src.user_type("FxObject")["size"] == 0x68
    assert w.type_source("nt") is None
    assert any("user-supplied ISF" in n for n in w.notes)
    assert w.kmdf_drivers()[1].name == "TestDrv"            # extras are forwarded
    assert parse_spec("ntkrnlmp.json") == ("nt", "ntkrnlmp.json")
    assert parse_spec("Wdf01000=x.json") == ("Wdf01000", "x.json")


def test_types_file_refusals(tmp_path):
    from wdfdbg.sources.typesfile import with_types
    b = open_dump(write(tmp_path, "t.dmp", build_triage_dump()))
    doc = _profile_doc()
    doc["user_types"]["FxObject"]["fields"]["m_Type"]["offset"] = 0x1000
    bad = tmp_path / "Wdf01000.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="outside its class"):
        with_types(b, [str(bad)])
    junk = tmp_path / "nt.json"
    junk.write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        with_types(b, [str(junk)])
    with pytest.raises(InputError, match="cannot open"):
        with_types(b, [str(tmp_path / "missing.json")])


def test_types_file_used_by_a_session(tmp_path):
    from wdfdbg.session import open_session
    doc = _profile_doc()
    p = tmp_path / "Wdf01000.json"
    p.write_text(json.dumps(doc))
    s = open_session(write(tmp_path, "t.dmp", build_triage_dump()), types_files=[str(p)])
    lay = s.layouts.get("Wdf01000!FxObject")
    assert lay.source.startswith("types-file:Wdf01000=") and lay.offset("m_Type") == 8


# -- bugcheck decoding -----------------------------------------------------------
def test_bugcheck_names():
    from wdfdbg.decoders.bugcheck import bugcheck_name
    assert bugcheck_name(0x10D) == "WDF_VIOLATION"
    assert bugcheck_name(0x7E) == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"
    assert bugcheck_name(0x1000007E) == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"
    assert bugcheck_name(0x1C8) == "MANUALLY_INITIATED_POWER_BUTTON_HOLD"
    assert bugcheck_name(0xE2) == "MANUALLY_INITIATED_CRASH"
    for code in (0x9F, 0xD1, 0x3B, 0x50, 0xC4):
        assert bugcheck_name(code)
    assert bugcheck_name(0x12345) is None


def test_wdf_violation_decoding(tmp_path):
    from wdfdbg.decoders.bugcheck import describe_bugcheck
    from wdfdbg.session import open_session
    from wdfdbg.sources.base import Bugcheck
    s = open_session(write(tmp_path, "t.dmp", build_triage_dump()))
    d = describe_bugcheck(s, s.target.bugcheck())
    assert d["code"] == "0x10d" and d["name"] == "WDF_VIOLATION"
    assert d["parameters"] == ["0x5", "0x3f74ffff6908", "0x1000", "0x%x" % GLOBALS]
    dec = d["decoded"]
    assert dec["violation"] == "WDF_INVALID_HANDLE"
    assert dec["handle"] == "0x3f74ffff6908"
    assert dec["expected_type"].startswith("0x1000 OBJECT")
    assert dec["driver_globals"] == "0x%x" % GLOBALS and dec["driver"] == "TestDrv"
    d = describe_bugcheck(s, Bugcheck(0x10D, [0x6, 0x4, 0x1234, GLOBALS]))
    assert d["decoded"]["violation"] == "WDF_REQUEST_FATAL_ERROR"
    assert d["decoded"]["request_error"] == "WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH"
    d = describe_bugcheck(s, Bugcheck(0x10D, [0x4, 0, 0xfffff8048b583000, 0]))
    assert d["decoded"]["driver"] is None and "FxPoolFree" in d["decoded"]["note"]
    assert d["decoded"]["caller"] == "testdrv+0x3000"
    d = describe_bugcheck(s, Bugcheck(0x10D, [0x8, 0x99, 4, GLOBALS]))
    assert d["decoded"]["transaction_state"] == "Transfer"
    for p1 in range(1, 0x11):
        assert describe_bugcheck(s, Bugcheck(0x10D, [p1, 1, 2, 3]))["decoded"]["violation"]
    d = describe_bugcheck(None, Bugcheck(0x1000007E, [0xffffffffc0000005, 1, 2, 3]))
    assert d["decoded"]["exception_code"] == "0xc0000005 STATUS_ACCESS_VIOLATION"


def test_synthetic_kmdf_table_blob_roundtrip():
    raw = kmdf_table_blob([(0, (1, 33, 0), "Wdf01000"), (0x1234, (1, 25, 0), "qcpep")])
    assert len(raw) == 2 * 0x38
    assert uuid.UUID("f87e4a4c-c5a1-4d2f-bff0-d5de63a5e4c3") == minidump.WDF_DUMP_GUID2
