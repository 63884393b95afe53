"""``wdfdbg info``, ``wdfdbg scan`` and ``wdfdbg snapshot`` on the real
triage dumps (skipped when ``../shared/dumps`` is absent), on synthetic
triage and bitmap dumps, and on snapshots; reports validate against the
shipped JSON Schema."""

import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import validate_report
from test_minidump import (ARM64, DEVICE, DRIVER, GLOBALS, LIB, MEMORY, PAGE, WDF, WDF_SIZE, X64, build_bitmap_dump,
                           build_triage_dump, kmdf_scene, need_arm64, need_x64, write)
from wdfdbg.problems import ProblemLog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "*.wdfsnap.json*")))


def run(*argv):
    """Run ``python -m wdfdbg.<argv>`` as a user would: (rc, stdout, stderr)."""
    env = dict(os.environ)
    env.pop("WDFDBG_DEBUG", None)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-m"] + ["wdfdbg.%s" % argv[0]] + list(argv[1:]), cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def main_json(module, argv, capsys):
    rc = module.main(list(argv) + ["--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out)


# -- info ------------------------------------------------------------------------
@need_x64
def test_info_x64_cli():
    rc, out, err = run("info", X64)
    assert rc == 0, err
    assert "19041" in out and "x64" in out and "processors:  16" in out
    assert "0x1000007E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M" in out
    for p in ("0xffffffffc0000005", "0xfffff8048b58334c", "0xffff850429891ee8", "0xffff850429891720"):
        assert p in out
    assert "151 loaded" in out
    assert "Wdf01000.sys at 0xfffff80479950000" in out
    assert "KMDF 1.31" in out
    assert "AmdPPM" in out and "USBXHCI" in out
    assert "STATUS_ACCESS_VIOLATION" in out and "amdppm+0x334c" in out


@need_arm64
def test_info_arm64_cli():
    rc, out, err = run("info", ARM64)
    assert rc == 0, err
    assert "22000" in out and "ARM64" in out and "0x1C8 MANUALLY_INITIATED_POWER_BUTTON_HOLD" in out
    assert "held_ms: 7000" in out and "245 loaded" in out and "KMDF 1.33" in out


@need_x64
def test_info_x64_json(capsys):
    from wdfdbg import info
    rc, doc = main_json(info, [X64], capsys)
    assert rc == 0
    validate_report(doc)
    assert doc["bugcheck"]["code"] == "0x1000007e"
    i = doc["info"]
    assert i["os_build"] == 19041 and i["processors"] == 16 and i["loaded_drivers"] == 151
    assert i["wdf01000"]["base"] == "0xfffff80479950000" and i["wdf01000"]["version"] == "1.31"
    assert len(doc["drivers"]) == 27 and len(i["kmdf_drivers"]) == 27
    assert doc["objects"] == []


def test_info_on_snapshots(capsys):
    from wdfdbg import info
    assert FIXTURES, "fixtures/ holds the lead's snapshots"
    for path in FIXTURES[:2]:
        rc, doc = main_json(info, [path], capsys)
        validate_report(doc)
        assert doc["info"]["kind"] == "snapshot"
        assert doc["info"]["kmdf_drivers"]
    rc = info.main(["--sample"])
    out = capsys.readouterr().out
    assert rc == 0 and "WDF_VIOLATION" in out and "KMDF drivers: 1" in out


def test_info_synthetic_triage(tmp_path, capsys):
    from wdfdbg import info
    p = write(tmp_path, "t.dmp", build_triage_dump())
    rc, doc = main_json(info, [p], capsys)
    assert rc == 0
    validate_report(doc)
    assert doc["bugcheck"]["decoded"]["violation"] == "WDF_INVALID_HANDLE"
    assert doc["bugcheck"]["decoded"]["driver"] == "TestDrv"
    assert doc["info"]["wdf01000"]["fx_library_globals"] == "0x%x" % LIB
    assert [d["name"] for d in doc["info"]["kmdf_drivers"]] == ["TestDrv"]


def test_info_bitmap_dump(tmp_path, capsys):
    pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed")
    from wdfdbg import info
    mods = [("\\SystemRoot\\system32\\ntoskrnl.exe", 0xfffff80470000000, 0x100000),
            ("\\SystemRoot\\system32\\drivers\\Wdf01000.sys", WDF, WDF_SIZE)]
    p = write(tmp_path, "b.dmp", build_bitmap_dump({0xffffc08b00000000: b"A" * PAGE}, modules=mods))
    rc, doc = main_json(info, [p], capsys)
    validate_report(doc)
    assert doc["info"]["dump_type"] == 5 and doc["info"]["loaded_drivers"] == 2
    assert doc["info"]["wdf01000"]["base"] == "0x%x" % WDF


# -- scan ------------------------------------------------------------------------
@need_x64
def test_scan_x64_finds_the_real_objects(capsys):
    from wdfdbg import scan
    rc, doc = main_json(scan, [X64], capsys)
    assert rc == 0
    validate_report(doc)
    objs = doc["objects"]
    types = set(o["wdf_type"] for o in objs)
    for t in ("WDFDRIVER", "WDFDEVICE", "WDFWAITLOCK", "WDFSPINLOCK", "WDFWORKITEM", "WDFMEMORY"):
        assert t in types
    assert any(o["fx_type"] == "0x100c" for o in objs)          # FxUserObject
    for o in objs:
        assert o["refcount"] is not None and o["object_size"] is not None and o["globals"]
    mem = [o for o in objs if o["wdf_type"] == "WDFMEMORY"]
    assert mem[0]["address"] == "0xffffc08be455c060" and mem[0]["memory"]["length"] == 20
    wi = [o for o in objs if o["address"] == "0xffffc08bdce9f8b0"][0]
    assert (wi["fx_type"], wi["object_size"], wi["refcount"], wi["driver"]) == ("0x1025", 0xd0, 2, "acpiex")
    named = dict((d["name"], d) for d in doc["drivers"] if d["objects"])
    assert named["AmdPPM"]["objects"] == 21 and named["AmdPPM"]["tag"] == "AmdP"
    assert named["AmdPPM"]["driver"] == "0xffffc08bde9d0870"
    assert "USBXHCI" in named and "amdgpio2" in named
    drv = [o for o in objs if o["address"] == "0xffffc08bde9d0870"][0]
    kids = [o for o in objs if o["parent"] == "0xffffc08bde9d0870"]
    assert drv["depth"] == 0 and len(kids) >= 8 and all(k["depth"] == 1 for k in kids)
    assert doc["scan"]["objects"] == len(objs) >= 35
    assert doc["summary"]["objects"] == len(objs)


@need_x64
def test_scan_x64_text_cli():
    rc, out, err = run("scan", X64)
    assert rc == 0, err
    assert "Driver AmdPPM  tag 'AmdP'" in out and "FxMemoryBuffer" in out and "WDFWORKITEM" in out


@need_arm64
def test_scan_arm64_finds_the_fxdriver(capsys):
    from wdfdbg import scan
    rc, doc = main_json(scan, [ARM64], capsys)
    validate_report(doc)
    drv = [o for o in doc["objects"] if o["wdf_type"] == "WDFDRIVER"]
    assert drv and drv[0]["driver"] == "WindowsTrustedRT" and drv[0]["class"] == "FxDriver"


def test_scan_synthetic_triage(tmp_path, capsys):
    from wdfdbg import scan
    p = write(tmp_path, "t.dmp", build_triage_dump())
    rc, doc = main_json(scan, [p], capsys)
    assert rc == 0
    validate_report(doc)
    by = dict((o["address"], o) for o in doc["objects"])
    assert set(by) == set("0x%x" % a for a in (DRIVER, DEVICE, MEMORY))
    assert by["0x%x" % DEVICE]["parent"] == "0x%x" % DRIVER and by["0x%x" % DEVICE]["depth"] == 1
    assert by["0x%x" % MEMORY]["memory"]["length"] == 0x14
    assert by["0x%x" % MEMORY]["memory"]["origin"] == "inline"
    assert [o["address"] for o in doc["objects"]][0] == "0x%x" % DRIVER      # pre-order
    assert doc["drivers"][0]["name"] == "TestDrv" and doc["drivers"][0]["tag"] == "Test"


def test_scan_rejects_bad_globals(tmp_path):
    """An FxObject-shaped block whose m_Globals has a readable mask that is
    not ~7 is not an object."""
    from wdfdbg.decoders.scan import scan
    from wdfdbg.session import open_session
    blocks = kmdf_scene()
    g = bytearray(blocks[0][1])
    g[0x38:0x40] = b"\x11" * 8
    blocks[0] = (GLOBALS, bytes(g))
    s = open_session(write(tmp_path, "t.dmp", build_triage_dump(blocks=blocks, blobs=[])))
    res = scan(s, ProblemLog())
    assert res.nodes == [] and res.stats.rejected.get("globals_mask") == 3


def test_scan_objects_for_memtree(tmp_path):
    from wdfdbg.decoders.objects import ObjectNode
    from wdfdbg.decoders.scan import scan_objects
    from wdfdbg.session import open_session
    s = open_session(write(tmp_path, "t.dmp", build_triage_dump()))
    drivers, nodes = scan_objects(s, ProblemLog())
    nodes = list(nodes)     # one at a time, as memtree emits them
    assert drivers[0].name == "TestDrv" and drivers[0].driver == DRIVER
    assert all(isinstance(n, ObjectNode) for n in nodes)
    assert [(n.address, n.depth, n.parent) for n in nodes] == [(DRIVER, 0, None), (DEVICE, 1, DRIVER),
                                                              (MEMORY, 1, DRIVER)]


def test_scan_finds_what_the_walk_finds():
    """On the lead's synthetic snapshots the scan finds every object the
    driver-list walk finds (the scan adds only objects that are on no child
    list, such as requests a queue presented)."""
    from wdfdbg import memtree
    from wdfdbg.decoders.scan import scan
    from wdfdbg.session import open_session
    for path in FIXTURES:
        s = open_session(path)
        _d, nodes, _p = memtree.collect(s, memtree.parse_args([]))
        walked = set(n.address for n in nodes)
        res = scan(open_session(path), ProblemLog())
        found = set(n.address for n in res.nodes)
        assert walked <= found, path
        for n in res.nodes:
            assert n.header.state != 12


def test_scan_bitmap_dump(tmp_path, capsys):
    pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed")
    from wdfdbg import scan
    mem = {}
    for a, d in kmdf_scene():
        pa = a & ~0xFFF
        page = bytearray(mem.get(pa, bytes(PAGE)))
        page[a - pa:a - pa + len(d)] = d
        mem[pa] = bytes(page)
    mods = [("\\SystemRoot\\system32\\ntoskrnl.exe", 0xfffff80470000000, 0x100000),
            ("\\SystemRoot\\system32\\drivers\\Wdf01000.sys", WDF, WDF_SIZE)]
    p = write(tmp_path, "b.dmp", build_bitmap_dump(mem, modules=mods))
    rc, doc = main_json(scan, [p], capsys)
    validate_report(doc)
    assert set(o["address"] for o in doc["objects"]) == set("0x%x" % a for a in (DRIVER, DEVICE, MEMORY))
    assert doc["drivers"][0]["name"] == "TestDrv"


# -- snapshot ----------------------------------------------------------------------
def _scan_doc(path, capsys):
    from wdfdbg import scan
    rc, doc = main_json(scan, [path], capsys)
    return doc


def test_snapshot_of_synthetic_triage_replays(tmp_path, capsys):
    from wdfdbg import snapshot
    from wdfdbg.sources import snapshot as snapfmt
    p = write(tmp_path, "t.dmp", build_triage_dump())
    out = str(tmp_path / "t.wdfsnap.json.gz")
    assert snapshot.main([p, "-o", out]) == 0
    capsys.readouterr()
    snap = snapfmt.load(out)
    assert snap.origin == "converted" and snap.os_build == 19041 and snap.bugcheck.code == 0x10D
    assert snap.symbols["Wdf01000!FxLibraryGlobals"] == LIB
    assert sorted(m.name for m in snap.modules) == ["Wdf01000", "nt", "testdrv"]
    assert snap.doc["kmdf_drivers"][1]["name"] == "TestDrv"
    a = _scan_doc(p, capsys)
    b = _scan_doc(out, capsys)
    assert a["objects"] == b["objects"] and a["drivers"] == b["drivers"] and a["bugcheck"] == b["bugcheck"]
    # refuses to overwrite without --force
    assert snapshot.main([p, "-o", out]) == 2
    assert "exists" in capsys.readouterr().err


def test_snapshot_all_and_around(tmp_path, capsys):
    from wdfdbg import snapshot
    from wdfdbg.sources import snapshot as snapfmt
    stack = (0xffff850429890000, b"S" * 0x800)
    p = write(tmp_path, "t.dmp", build_triage_dump(stack=stack))
    out = str(tmp_path / "a.wdfsnap.json")
    assert snapshot.main([p, "-o", out, "--all"]) == 0
    snap = snapfmt.load(out)
    assert sum(len(d) for _, d in snap.memory) == 0x800 + sum(len(d) for _, d in kmdf_scene())
    out2 = str(tmp_path / "b.wdfsnap.json")
    assert snapshot.main([p, "-o", out2, "--no-analysis", "--around", "0x%x" % (stack[0] + 0x10),
                          "--around-size", "0x20"]) == 0
    snap = snapfmt.load(out2)
    assert [(a, len(d)) for a, d in snap.memory] == [(stack[0], 0x800)]


@need_x64
def test_snapshot_of_the_real_dump_replays(tmp_path, capsys):
    from wdfdbg import info, snapshot
    out = str(tmp_path / "x64.wdfsnap.json.gz")
    assert snapshot.main([X64, "-o", out]) == 0
    assert os.path.getsize(out) < 100000
    capsys.readouterr()
    a = _scan_doc(X64, capsys)
    b = _scan_doc(out, capsys)
    assert a["objects"] == b["objects"] and a["drivers"] == b["drivers"]
    rc, doc = main_json(info, [out], capsys)
    assert doc["info"]["wdf01000"]["version"] == "1.31" and len(doc["info"]["kmdf_drivers"]) == 27


def test_cli_lists_the_commands(capsys):
    from wdfdbg import cli
    assert cli.main(["info", "--help"]) == 0
    assert "SOURCE" in capsys.readouterr().out
    assert cli.main(["scan", "--help"]) == 0
    assert "--include-destroyed" in capsys.readouterr().out


def test_bitmap_dump_with_a_driver_list(tmp_path, capsys):
    """A full/bitmap dump holds FxLibraryGlobals: the kdmp backend finds it
    in Wdf01000's image (a list head whose entry is an FX_DRIVER_GLOBALS
    pointing back), and memtree walks the real driver list."""
    pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed")
    import struct
    from wdfdbg import info, memtree
    mem = {}

    def put(addr, data):
        while data:
            pa = addr & ~0xFFF
            n = min(len(data), pa + PAGE - addr)
            page = bytearray(mem.get(pa, bytes(PAGE)))
            page[addr - pa:addr - pa + n] = data[:n]
            mem[pa] = bytes(page)
            addr += n
            data = data[n:]

    for a, d in kmdf_scene():
        put(a, d)
    head = LIB + 0x1E0
    put(head, struct.pack("<QQ", GLOBALS, GLOBALS))
    put(GLOBALS, struct.pack("<QQ", head, head))
    mods = [("\\SystemRoot\\system32\\ntoskrnl.exe", 0xfffff80470000000, 0x100000),
            ("\\SystemRoot\\system32\\drivers\\Wdf01000.sys", WDF, WDF_SIZE)]
    p = write(tmp_path, "b.dmp", build_bitmap_dump(mem, modules=mods))
    rc, doc = main_json(info, [p], capsys)
    assert doc["info"]["wdf01000"]["fx_library_globals"] == "0x%x" % LIB
    assert doc["info"]["kmdf_drivers_source"].startswith("driver list")
    assert doc["info"]["kmdf_drivers"][0]["name"] == "TestDrv"
    rc, doc = main_json(memtree, [p], capsys)
    validate_report(doc)
    assert [o["address"] for o in doc["objects"]] == ["0x%x" % a for a in (DRIVER, DEVICE, MEMORY)]
    assert not any(pr["code"] == "SCAN_FALLBACK" for pr in doc["problems"])
