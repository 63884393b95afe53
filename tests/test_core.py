"""Core engine: page cache, handle encoding, layouts against the fact sheet,
Python 3.8 syntax, and the tree walk on a tiny hand-laid heap."""

import ast
import pathlib

import pytest

from minisnap import DEVICE, DRIVER, MEMORY, document
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders.handles import decode_handle, handle_of
from wdfdbg.errors import CorruptionError, ReadError
from wdfdbg.layouts import IsfSource, Layouts
from wdfdbg.layouts.model import TypeCompiler
from wdfdbg.layouts.profiles import PROFILE_BY_NAME
from wdfdbg.problems import ProblemLog
from wdfdbg.session import Session
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Backend, Page, Target

ROOT = pathlib.Path(__file__).resolve().parent.parent


def session_for(doc, use_symbols=True):
    snap = snapfmt.loads(snapfmt.dumps(doc))
    t = Target(snapfmt.SnapshotBackend(snap))
    return Session(t, Layouts(t, use_symbols=use_symbols), "snapshot", None, snap.origin)


class CountingBackend(Backend):
    page_size = 4096

    def __init__(self, pages):
        self.pages = pages
        self.calls = []

    def read_page(self, pa):
        self.calls.append(pa)
        if pa not in self.pages:
            raise ReadError(pa)
        return Page(self.pages[pa])


def test_backend_reads_equal_distinct_pages_touched():
    pages = dict((0x10000 + i * 4096, bytes([i]) * 4096) for i in range(8))
    be = CountingBackend(pages)
    t = Target(be)
    touched = set()
    import random
    rnd = random.Random(7)
    for _ in range(500):
        addr = 0x10000 + rnd.randrange(0, 8 * 4096 - 64)
        size = rnd.randrange(1, 64)
        t.read(addr, size)
        touched.update(range(addr & ~0xfff, addr + size, 4096))
        touched.add((addr + size - 1) & ~0xfff)
    assert t.backend_reads == len(be.calls) == len(touched)
    assert sorted(be.calls) == sorted(touched)
    assert t.reads == 500


def test_reads_spanning_pages_and_unreadable_pages():
    be = CountingBackend({0x1000: b"a" * 4096, 0x2000: b"b" * 4096})
    t = Target(be)
    assert t.read(0x1ffe, 4) == b"aabb"
    with pytest.raises(ReadError) as e:
        t.read(0x2ffe, 4)
    assert e.value.address == 0x3000
    with pytest.raises(ReadError):
        t.read(0x3000, 1)  # cached failure, no new backend call
    assert be.calls.count(0x3000) == 1


def test_partial_page_valid_ranges():
    snap = snapfmt.loads(snapfmt.dumps(snapfmt.build_document("synthetic", "x64", 8, [(0x1010, b"x" * 16), (0x1040, b"y" * 8)])))
    t = Target(snapfmt.SnapshotBackend(snap))
    assert t.read(0x1010, 16) == b"x" * 16
    with pytest.raises(ReadError) as e:
        t.read(0x1018, 16)
    assert e.value.address == 0x1020
    assert t.read(0x1040, 8) == b"y" * 8


@pytest.mark.parametrize("obj,handle,ptr", [
    (0x83584e38, 0x7ca7b1c0, 4),
    (0xffffb60940162a20, 0x000049f6bfe9d5d8, 8),
    (0xfffffa8002e7b1f0, 0x0000057ffd184e08, 8),
    (0xffffb60940045b70, 0x49f6bffba488, 8),
])
def test_published_handle_examples(obj, handle, ptr):
    class T(object):
        pointer_size = ptr
    assert handle_of(obj, ptr) == handle
    assert decode_handle(T(), handle).object == obj


def test_handle_with_reserved_bits_is_bad():
    class T(object):
        pointer_size = 8
    assert decode_handle(T(), 0x49f6bfe9d5da).problem
    assert decode_handle(T(), 0).problem
    assert handle_of(0xffffb60940162a20, 8, object_size=0) is None


# Offsets straight from kmdf.md, independent of profiles.py.
KMDF_MD_X64 = {
    "FxObject": {"m_Type": 0x08, "m_ObjectSize": 0x0A, "m_Refcnt": 0x0C, "m_Globals": 0x10, "m_ObjectFlags": 0x18,
                 "m_ObjectState": 0x1A, "m_ChildListHead": 0x20, "m_SpinLock": 0x30, "m_ParentObject": 0x40,
                 "m_ChildEntry": 0x48, "m_DisposeSingleEntry": 0x58, "m_DeviceBase": 0x60, "__size": 0x68},
    "FxMemoryObject": {"__vfptr_IFxMemory": 0x68, "m_BufferSize": 0x70, "__size": 0x78},
    "FxMemoryBufferFromPool": {"m_Pool": 0x78, "__size": 0x80},
    "FxMemoryBufferFromLookaside": {"m_pLookaside": 0x78, "__size": 0x80},
    "FxMemoryBufferFromPoolLookaside": {"m_pLookaside": 0x78, "m_Pool": 0x80, "__size": 0x88},
    "FxMemoryBufferPreallocated": {"m_pBuffer": 0x78, "__size": 0x80},
    "FxRequestMemory": {"m_pBuffer": 0x78, "m_Request": 0x80, "m_Mdl": 0x88, "m_Flags": 0x90, "__size": 0x98},
    "FxRequest": {"m_Irp": 0x98, "m_Completed": 0xD6, "m_SystemBufferOffset": 0xD8, "m_IrpReferenceCount": 0xDC,
                  "m_OutputBufferOffset": 0xE8, "m_IoQueue": 0xF8, "m_SystemBuffer": 0x100, "m_OutputBuffer": 0x110,
                  "m_Presented": 0x160, "__size": 0x168},
    "FxLookasideList": {"m_MemoryAttributes": 0x68, "m_BufferSize": 0xA0, "m_MemoryObjectSize": 0xA8, "m_PoolTag": 0xB0, "__size": 0xB8},
    "FxNPagedLookasideList": {"m_ObjectLookaside": 0xC0, "__size": 0x140},
    "FxNPagedLookasideListFromPool": {"m_ObjectLookaside": 0xC0, "m_PoolLookaside": 0x140, "__size": 0x1C0},
    "FxPagedLookasideListFromPool": {"m_RawBufferSize": 0xB8, "m_MemoryDeviceBase": 0xC0, "m_ObjectLookaside": 0x100,
                                     "m_PoolLookaside": 0x180, "__size": 0x200},
    "FxContextHeader": {"Object": 0, "NextHeader": 8, "EvtCleanupCallback": 0x10, "EvtDestroyCallback": 0x18,
                        "ContextTypeInfo": 0x20, "Context": 0x30, "__size": 0x40},
    "_FX_DUMP_DRIVER_INFO_ENTRY": {"FxDriverGlobals": 0, "Version": 8, "DriverName": 0x14, "__size": 0x38},
    "FxAllocatedMdls": {"Info": 0, "Count": 0x180, "Next": 0x188},
    "_MDL": {"Next": 0, "Size": 8, "MdlFlags": 0xA, "Process": 0x10, "MappedSystemVa": 0x18, "StartVa": 0x20,
             "ByteCount": 0x28, "ByteOffset": 0x2C, "__size": 0x30},
    "_GENERAL_LOOKASIDE": {"ListHead": 0, "Depth": 0x10, "MaximumDepth": 0x12, "TotalAllocates": 0x14, "AllocateMisses": 0x18,
                           "TotalFrees": 0x1C, "FreeMisses": 0x20, "Type": 0x24, "Tag": 0x28, "Size": 0x2C,
                           "ListEntry": 0x40, "LastTotalAllocates": 0x50, "LastAllocateMisses": 0x54, "__size": 0x80},
    "_WDF_MEMORY_DESCRIPTOR": {"Type": 0, "BufferBuffer": 8, "BufferLength": 0x10, "HandleOffsets": 0x10, "__size": 0x18},
}
GLOBALS_MD = {
    "win10-1607-x64": {"WdfHandleMask": 0x38, "Tag": 0x44, "Driver": 0x48, "DebugExtension": 0x50, "FxPoolTrackingOn": 0x108,
                       "FxVerifierOn": 0x13C, "LibraryGlobals": 0x58, "WdfLogHeader": 0x60, "WdfBindInfo": 0x128,
                       "ImageAddress": 0x130, "ImageSize": 0x138, "Public": 0x1A0, "list": 0x1D8},
    "win10-19041-x64": {"WdfHandleMask": 0x38, "Tag": 0x44, "Driver": 0x48, "DebugExtension": 0x50, "FxPoolTrackingOn": 0x108,
                        "FxVerifierOn": 0x13C, "LibraryGlobals": 0x58, "WdfLogHeader": 0x60, "WdfBindInfo": 0x128,
                        "ImageAddress": 0x130, "ImageSize": 0x138, "Public": 0x1B0, "list": 0x1E0},
    "win11-x64": {"WdfHandleMask": 0x38, "Tag": 0x44, "DriverObject": 0x48, "Driver": 0x50, "DebugExtension": 0x58,
                  "FxPoolTrackingOn": 0x110, "FxVerifierOn": 0x144, "LibraryGlobals": 0x60, "WdfLogHeader": 0x68,
                  "WdfBindInfo": 0x130, "ImageAddress": 0x138, "ImageSize": 0x140, "Public": 0x1C0, "list": 0x1E0},
}


def _compiler(profile):
    p = PROFILE_BY_NAME[profile]
    return TypeCompiler(IsfSource(p.documents()["Wdf01000"]), 8, p.label())


@pytest.mark.parametrize("cls", sorted(KMDF_MD_X64))
def test_x64_profile_matches_fact_sheet(cls):
    for profile in ("win10-1607-x64", "win10-19041-x64", "win11-x64"):
        lay = _compiler(profile).compile(cls)
        for field, off in KMDF_MD_X64[cls].items():
            if field == "__size":
                assert lay.size == off, (profile, cls)
            else:
                assert lay.offset(field) == off, (profile, cls, field)


@pytest.mark.parametrize("profile", sorted(GLOBALS_MD))
def test_driver_globals_per_build(profile):
    c = _compiler(profile)
    g = c.compile("_FX_DRIVER_GLOBALS")
    lib = c.compile("FxLibraryGlobalsType")
    for field, off in GLOBALS_MD[profile].items():
        if field == "list":
            assert lib.offset("FxDriverGlobalsList") == off
        else:
            assert g.offset(field) == off, field
    assert g.offset("Public.DriverName") == GLOBALS_MD[profile]["Public"] + 0x10


def test_every_profile_type_compiles_and_fits():
    for p in PROFILE_BY_NAME.values():
        for mod, doc in p.documents().items():
            c = TypeCompiler(IsfSource(doc), p.pointer_size, p.label())
            for name in doc["user_types"]:
                lay = c.compile(name)
                for f in lay.flat.values():
                    assert f.offset + f.size <= lay.size or f.kind == "array", (p.name, name, f)
            assert not snapfmt.validate_isf(doc, "x", p.pointer_size), p.name


def test_package_parses_as_python_38():
    bad = []
    for f in sorted((ROOT / "wdfdbg").rglob("*.py")):
        try:
            ast.parse(f.read_text(), filename=str(f), feature_version=(3, 8))
        except SyntaxError as e:
            bad.append("%s:%s %s" % (f, e.lineno, e.msg))
    assert not bad


def test_tree_walk_on_minimal_heap():
    s = session_for(document())
    problems = ProblemLog()
    nodes = fxo.walk_tree(s, DRIVER, problems)
    assert [n.address for n in nodes] == [DRIVER, DEVICE, MEMORY]
    assert [n.depth for n in nodes] == [0, 1, 1]
    assert [n.wdf_type for n in nodes] == ["WDFDRIVER", "WDFDEVICE", "WDFMEMORY"]
    assert nodes[1].parent == DRIVER
    assert not len(problems)


def test_same_walk_without_symbols():
    a = session_for(document(), use_symbols=True)
    b = session_for(document(with_types=False))
    assert a.layouts.describe()["types"] == "symbols"
    pa, pb = ProblemLog(), ProblemLog()
    na = [(n.address, n.depth, n.wdf_type) for n in fxo.walk_tree(a, DRIVER, pa)]
    nb = [(n.address, n.depth, n.wdf_type) for n in fxo.walk_tree(b, DRIVER, pb)]
    assert na == nb
    assert b.layouts.describe()["types"] == "profile"


def test_validate_child_list_raises_on_corruption():
    import base64
    import struct
    doc = document()
    data = bytearray(base64.b64decode(doc["memory"][0]["data"]))
    # break the device entry's Blink
    struct.pack_into("<Q", data, DEVICE - 0xffffc08b00000000 + 0x50, 0x1234)
    doc["memory"][0]["data"] = base64.b64encode(bytes(data)).decode()
    s = session_for(doc)
    hdr = fxo.read_object(s, DRIVER)
    with pytest.raises(CorruptionError) as e:
        fxo.validate_child_list(s, hdr)
    assert e.value.problem.code == "CHILD_LIST_CORRUPT"
    log = ProblemLog()
    assert list(fxo.for_each_child(s, hdr, log)) == [DEVICE, MEMORY]
    assert [p.code for p in log] == ["CHILD_LIST_CORRUPT"]
    assert log.items[0].address == DEVICE + 0x48


def _with_memory(doc, writes):
    """``doc`` with ``writes`` ({address: bytes}) laid over its first range."""
    import base64
    base = int(doc["memory"][0]["address"], 16)
    data = bytearray(base64.b64decode(doc["memory"][0]["data"]))
    for address, raw in writes.items():
        data[address - base:address - base + len(raw)] = raw
    doc["memory"][0]["data"] = base64.b64encode(bytes(data)).decode()
    return doc


def test_slist_walk_and_its_validate_twin():
    """SLIST_ENTRY chains (Next at 0): the iterator records a cycle, an
    unreadable entry or the bound and stops; validate_slist raises on the
    first. The entries sit in free space of the mini heap."""
    import struct
    from minisnap import BASE
    from wdfdbg.decoders.lookaside import for_each_slist_entry, validate_slist, walk_slist
    a, b, c = BASE + 0x3000, BASE + 0x3010, BASE + 0x3020
    q = lambda v: struct.pack("<Q", v)  # noqa: E731
    s = session_for(_with_memory(document(), {a: q(b), b: q(c), c: q(0)}))
    assert validate_slist(s, a) == [a, b, c]
    assert walk_slist(s, a, ProblemLog(), a, "list") == ([a, b, c], True, False)
    with pytest.raises(CorruptionError) as e:
        validate_slist(s, a, limit=2)
    assert e.value.problem.code == "WALK_LIMIT"
    cyc = session_for(_with_memory(document(), {a: q(b), b: q(c), c: q(a)}))
    log = ProblemLog()
    assert list(for_each_slist_entry(cyc, a, log, owner=0x1234, what="list")) == [a, b, c]
    assert [(p.code, p.address) for p in log] == [("LOOKASIDE_INCONSISTENT", 0x1234)]
    assert walk_slist(cyc, a, log, 0x1234, "list") == ([a, b, c], False, True)  # the log already holds it
    with pytest.raises(CorruptionError) as e:
        validate_slist(cyc, a)
    assert e.value.problem.code == "LOOKASIDE_INCONSISTENT"
    lost = session_for(_with_memory(document(), {a: q(b), b: q(0xffffc08b00900000)}))
    log = ProblemLog()
    assert list(for_each_slist_entry(lost, a, log)) == [a, b, 0xffffc08b00900000]
    assert [p.code for p in log] == ["UNREADABLE"]


def test_driver_list_and_its_validate_twin():
    import struct
    from minisnap import GLOBALS
    from wdfdbg.decoders.drivers import for_each_driver, validate_driver_list
    s = session_for(document())
    assert [d.name for d in validate_driver_list(s)] == ["MiniDrv"]
    bad = session_for(_with_memory(document(), {GLOBALS + 8: struct.pack("<Q", 0xffffc08b00001230)}))
    with pytest.raises(CorruptionError) as e:
        validate_driver_list(bad)
    assert e.value.problem.code == "DRIVER_LIST_CORRUPT" and e.value.problem.address == GLOBALS
    log = ProblemLog()
    assert [d.name for d in for_each_driver(bad, log)] == ["MiniDrv"]  # the iterator goes on
    assert [p.code for p in log] == ["DRIVER_LIST_CORRUPT"]


def test_walk_survives_deep_chain_without_recursion():
    """A 2000-deep parent chain (beyond WinDbg's recursion limit of 500)."""
    import struct
    base = 0xffffc08b00000000
    n = 2000
    mem = bytearray(0x100 * (n + 1))
    for i in range(n):
        a = base + i * 0x100
        child = base + (i + 1) * 0x100 if i + 1 < n else None
        struct.pack_into("<QHHi", mem, i * 0x100, 0, 0x100C, 0x80, 1)
        head = a + 0x20
        if child:
            struct.pack_into("<QQ", mem, i * 0x100 + 0x20, child + 0x48, child + 0x48)
            struct.pack_into("<QQ", mem, (i + 1) * 0x100 + 0x48, head, head)
        else:
            struct.pack_into("<QQ", mem, i * 0x100 + 0x20, head, head)
        struct.pack_into("<Q", mem, i * 0x100 + 0x40, a - 0x100 if i else 0)
    doc = snapfmt.build_document("synthetic", "x64", 8, [(base, bytes(mem))], os_build=19041)
    s = session_for(doc)
    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(500)
    try:
        log = ProblemLog()
        nodes = fxo.walk_tree(s, base, log, max_depth=5000)
    finally:
        sys.setrecursionlimit(old)
    assert len(nodes) == n and nodes[-1].depth == n - 1
    log = ProblemLog()
    nodes = fxo.walk_tree(s, base, log, max_depth=10)
    assert len(nodes) == 11 and [p.code for p in log] == ["WALK_LIMIT"]


def test_vermin_says_python_38():
    """API-level check (vermin): nothing in wdfdbg/ needs more than 3.8."""
    import shutil
    import subprocess
    exe = shutil.which("vermin")
    if exe is None:
        pytest.skip("vermin is not installed (pip install -e '.[test]' installs it)")
    r = subprocess.run([exe, "-t=3.8-", "--no-tips", "--violations", "--eval-annotations", str(ROOT / "wdfdbg")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert r.returncode == 0, r.stdout


@pytest.mark.parametrize("profile", ["win10-1607-x64", "win10-19041-x64", "win11-x64"])
def test_profile_chosen_by_probing_and_by_build(profile):
    """Without types or an OS build, probing the driver list picks the
    profile whose FxDriverGlobalsList and Driver offsets hold; with a build
    the build decides; --profile overrides both."""
    from wdfdbg.decoders import drivers as drv
    from wdfdbg.testing import build
    doc = build("typical", profile=profile).document(types=False)
    del doc["target"]["os_build"]
    s = session_for(doc)
    assert s.layouts.profile.name == profile
    names = [d.name for d in drv.for_each_driver(s, ProblemLog())]
    assert names == ["AmdPPM"]
    builds = {"win10-1607-x64": 14393, "win10-19041-x64": 19041, "win11-x64": 22000}
    doc["target"]["os_build"] = builds[profile]
    assert session_for(doc).layouts.profile.name == profile
    snap = snapfmt.loads(snapfmt.dumps(doc))
    t = Target(snapfmt.SnapshotBackend(snap))
    assert Layouts(t, profile="win10-x86").profile.name == "win10-x86"


def test_handle_or_address():
    from wdfdbg.decoders.handles import decode_handle_or_address

    class T(object):
        pointer_size = 8
    assert decode_handle_or_address(T(), 0x000049f6bfe9d5d8).object == 0xffffb60940162a20
    d = decode_handle_or_address(T(), 0xffffb60940162a20)
    assert d.object == 0xffffb60940162a20 and d.handle is None and d.problem is None
    assert decode_handle_or_address(T(), 0x49f6bfe9d5da).problem
