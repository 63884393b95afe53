"""Recording: what an analysis read (pages, types, symbols) becomes a
snapshot that replays the same analysis byte for byte; the ``record``
command in and out of a (fake) debugger."""

import glob
import json
import os

import pytest

from minisnap import DRIVER, MEMORY, VT, document
from wdfdbg.layouts import Layouts
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Target
from wdfdbg.sources.recording import RecordingBackend
from wdfdbg.testing.fake_pykd import fake_pykd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_FILES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "*.wdfsnap.json*")))
SOURCES = [("minisnap", document()), ("minisnap-notypes", document(with_types=False))] + \
    [(os.path.basename(p), p) for p in FIXTURE_FILES]


@pytest.fixture(params=SOURCES, ids=[n for n, _ in SOURCES])
def source_path(request, tmp_path):
    src = request.param[1]
    if isinstance(src, dict):
        path = str(tmp_path / "src.wdfsnap.json")
        snapfmt.save(src, path)
        return path
    return src


def replay_backend(doc):
    return snapfmt.SnapshotBackend(snapfmt.loads(snapfmt.dumps(doc, compress=True)))


def session_over(backend):
    from wdfdbg.session import Session
    t = Target(backend)
    return Session(t, Layouts(t), backend.kind, getattr(backend, "path", None), backend.origin)


from cmdhelpers import json_without_source, strip_source  # noqa: E402  (the source's own lines left out)


def run_memtree(session, argv):
    from wdfdbg import memtree
    from wdfdbg.render.markup import PLAIN
    args = memtree.parse_args(argv)
    return memtree.execute(session, args, None if args.json else PLAIN)


def json_wo_source(text):
    return json_without_source(json.loads(text))


# -- round trips ----------------------------------------------------------------
def test_record_replay_memtree_through_pykd(source_path):
    pytest.importorskip("wdfdbg.memtree")
    for argv in ([], ["--json"]):
        with fake_pykd(source_path):
            from wdfdbg.sources.pykd_target import live_backend
            rec = RecordingBackend(live_backend())
            code1, out1 = run_memtree(session_over(rec), list(argv))
            doc = rec.to_document(description="test")
        assert doc["origin"] == "recorded"
        assert not snapfmt.validate(doc)[0]
        code2, out2 = run_memtree(session_over(replay_backend(doc)), list(argv))
        code3, out3 = run_memtree(session_over(snapfmt.SnapshotBackend(snapfmt.load(source_path))), list(argv))
        assert code1 == code2 == code3
        if argv:
            assert json_wo_source(out1) == json_wo_source(out2) == json_wo_source(out3)
        else:
            assert strip_source(out1) == strip_source(out2) == strip_source(out3)
        assert rec.warnings == []


def test_record_from_snapshot_keeps_origin_and_replays(source_path):
    pytest.importorskip("wdfdbg.memtree")
    inner = snapfmt.SnapshotBackend(snapfmt.load(source_path))
    rec = RecordingBackend(inner)
    _, out1 = run_memtree(session_over(rec), [])
    doc = rec.to_document()
    assert doc["origin"] == inner.origin
    _, out2 = run_memtree(session_over(replay_backend(doc)), [])
    assert strip_source(out1) == strip_source(out2)


def test_replayed_reads_equal_recorded_reads(source_path):
    snap = snapfmt.load(source_path)
    with fake_pykd(snap):
        from wdfdbg.sources.pykd_target import live_backend
        from wdfdbg.errors import ReadError
        rec = RecordingBackend(live_backend())
        t = Target(rec)
        seen = []
        for a, d in snap.memory[:20]:
            for addr, size in ((a, min(len(d), 0x300)), (a - 4, 8), (a + len(d) - 2, 4)):
                try:
                    seen.append((addr, size, t.read(addr, size)))
                except ReadError as e:
                    seen.append((addr, size, ("err", e.address)))
        doc = rec.to_document()
    rt = Target(replay_backend(doc))
    for addr, size, want in seen:
        try:
            got = rt.read(addr, size)
        except ReadError as e:
            got = ("err", e.address)
        assert got == want, hex(addr)
    # only pages that were read are stored
    ps = snap.page_size
    stored = set()
    for r in doc["memory"]:
        a = int(r["address"], 16)
        n = len(snapfmt.base64.b64decode(r["data"]))
        p = a & ~(ps - 1)
        while p < a + n:
            stored.add(p)
            p += ps
    assert stored <= set(rec.pages)
    assert stored == set(pa for pa, runs in rec.pages.items() if runs)


def test_only_requested_types_and_what_they_embed():
    with fake_pykd(document()):
        from wdfdbg.sources.pykd_target import live_backend
        rec = RecordingBackend(live_backend())
        lay = Layouts(Target(rec))
        lay.get("Wdf01000!FxObject")
        doc = rec.to_document()
    uts = doc["types"]["Wdf01000"]["user_types"]
    assert "FxObject" in uts
    assert {"_LIST_ENTRY", "_SINGLE_LIST_ENTRY"} <= set(uts)
    assert "FxRequest" not in uts and "FxMemoryBuffer" not in uts
    assert "nt" not in doc["types"]
    # the replayed layout is the recorded one
    replay = Layouts(Target(replay_backend(doc)))
    a, b = replay.get("Wdf01000!FxObject"), lay.get("Wdf01000!FxObject")
    assert a.size == b.size and sorted((k, f.offset, f.size) for k, f in a.flat.items()) == \
        sorted((k, f.offset, f.size) for k, f in b.flat.items())


def test_symbols_exact_for_symbol_at_and_by_name():
    with fake_pykd(document()):
        from wdfdbg.sources.pykd_target import live_backend
        rec = RecordingBackend(live_backend())
        t = Target(rec)
        assert t.symbol_at(VT["FxMemoryBuffer"]) == ("Wdf01000!FxMemoryBuffer::`vftable'", 0)
        assert t.symbol_at(VT["FxDevice"] + 0x18) == ("Wdf01000!FxDevice::`vftable'", 0x18)
        assert t.symbol("Wdf01000!FxLibraryGlobals") is not None
        assert t.symbol("Wdf01000!Nope") is None
        doc = rec.to_document()
    syms = doc["symbols"]
    assert set(syms) == {"Wdf01000!FxMemoryBuffer::`vftable'", "Wdf01000!FxDevice::`vftable'",
                         "Wdf01000!FxLibraryGlobals"}
    rb = replay_backend(doc)
    assert rb.symbol_at(VT["FxMemoryBuffer"]) == ("Wdf01000!FxMemoryBuffer::`vftable'", 0)
    assert rb.symbol_at(VT["FxDevice"] + 0x18) == ("Wdf01000!FxDevice::`vftable'", 0x18)
    assert rb.symbol("Wdf01000!Nope") is None
    assert rec.warnings == []


def test_symbol_lookup_the_replay_cannot_reproduce_is_reported():
    with fake_pykd(document()):
        from wdfdbg.sources.pykd_target import live_backend
        rec = RecordingBackend(live_backend())
        t = Target(rec)
        assert t.symbol_at(VT["FxDriver"]) is not None
        assert t.symbol_at(0xffffffffffff0000) is None  # live: no module there; a replay agrees
        # a debugger that named nothing inside Wdf01000 just past a vtable,
        # where a replay names the vtable (sources/snapshot.nearest_in_module)
        rec.lookups[VT["FxDriver"] + 0x10] = None
        rec.to_document()
    assert [m[0] for m in rec.symbol_mismatches()] == [VT["FxDriver"] + 0x10]
    assert rec.warnings == ["symbol at 0x%x: this source finds no symbol, a replay would find "
                            "Wdf01000!FxDriver::`vftable'+0x10" % (VT["FxDriver"] + 0x10)]


def test_other_facts_recorded():
    doc = document()
    doc["bugcheck"] = {"code": "0x10d", "parameters": ["0x5", "0x1", "0x1000", "0x0"]}
    with fake_pykd(doc):
        from wdfdbg.sources.pykd_target import live_backend
        inner = live_backend()
        rec = RecordingBackend(inner)
        Target(rec).read(DRIVER, 8)
        out = rec.to_document()
    assert out["target"]["arch"] == "x64" and out["target"]["pointer_size"] == 8 and out["target"]["os_build"] == 19041
    assert out["bugcheck"] == {"code": "0x10d", "parameters": ["0x5", "0x1", "0x1000", "0x0"]}
    assert [m["name"] for m in out["modules"]] == ["Wdf01000"]


# -- the record command ---------------------------------------------------------
def test_record_cli_from_file_then_replay(source_path, tmp_path, capsys):
    pytest.importorskip("wdfdbg.memtree")
    from wdfdbg import memtree, record
    out = str(tmp_path / "rec.wdfsnap.json.gz")
    code = record.main([out, "--", "memtree", source_path])
    o1, err = capsys.readouterr()
    assert code in (0, 1), err
    assert "recorded" in err and os.path.exists(out)
    code2 = memtree.main([out])
    o2, _ = capsys.readouterr()
    code3 = memtree.main([source_path])
    o3, _ = capsys.readouterr()
    assert code == code2 == code3
    assert strip_source(o1) == strip_source(o2) == strip_source(o3)
    # refuses to overwrite, and --force does
    assert record.main([out, "--", "memtree", source_path]) == 2
    capsys.readouterr()
    assert record.main([out, "--force", "--source", source_path, "--", "memtree", "--json"]) in (0, 1)
    o4, _ = capsys.readouterr()
    assert json.loads(o4)["summary"] == json.loads(_memtree_json(source_path, capsys))["summary"]


def _memtree_json(path, capsys):
    from wdfdbg import memtree
    memtree.main([path, "--json"])
    return capsys.readouterr()[0]


def test_record_cli_inside_debugger(tmp_path, capsys):
    pytest.importorskip("wdfdbg.memtree")
    from wdfdbg import record
    out = str(tmp_path / "live.wdfsnap.json")
    mini = str(tmp_path / "mini.wdfsnap.json")
    snapfmt.save(document(), mini)   # a dump the debugger opened (partly captured pages)
    with fake_pykd(mini, prefer_dml=False) as pk:
        code = record.main([out, "--", "memtree"])
        printed = pk.fake.text()
    o, err = capsys.readouterr()
    assert code == 0, err
    assert "WDFDRIVER" in (o + printed)
    doc = json.load(open(out))
    assert doc["origin"] == "recorded" and "memtree" in doc["description"]
    assert doc["types"]["Wdf01000"]["user_types"]["FxObject"]["size"] == 0x68


def test_record_cli_usage_errors(tmp_path, capsys):
    from wdfdbg import record
    assert record.main([str(tmp_path / "x.json")]) == 2
    assert record.main([str(tmp_path / "x.json"), "--", "snapshot"]) == 2
    assert record.main([str(tmp_path / "x.json"), "--", "memtree"]) == 2  # no source, no debugger
    err = capsys.readouterr()[1]
    assert "no SOURCE" in err
    assert not os.path.exists(str(tmp_path / "x.json"))


def test_split_argv():
    from wdfdbg.record import split_argv
    assert split_argv(["o", "--", "memtree", "--json"]) == (["o"], ["memtree", "--json"])
    assert split_argv(["o", "--source", "s", "memtree", "x"]) == (["o", "--source", "s"], ["memtree", "x"])
    assert split_argv(["--force", "o", "memtree"]) == (["--force", "o"], ["memtree"])


def test_ctrl_break_writes_nothing(tmp_path, capsys, monkeypatch):
    pytest.importorskip("wdfdbg.memtree")
    from wdfdbg import record
    from wdfdbg.sources.recording import RecordingBackend as RB
    orig, orig_run = RB.read_page, RB.read_run

    def boom(self, pa):
        if pa == MEMORY & ~0xfff:
            raise SystemExit("CTRL+BREAK")
        return orig(self, pa)

    def boom_run(self, pa, n):   # the page cache asks for runs of pages (read-ahead)
        if pa <= MEMORY & ~0xfff < pa + n * 0x1000:
            raise SystemExit("CTRL+BREAK")
        return orig_run(self, pa, n)
    monkeypatch.setattr(RB, "read_page", boom)
    monkeypatch.setattr(RB, "read_run", boom_run)
    out = str(tmp_path / "c.json")
    mini = str(tmp_path / "mini.wdfsnap.json")
    snapfmt.save(document(), mini)
    with fake_pykd(mini):
        code = record.main([out, "--", "memtree"])
    assert code == 130
    assert "interrupted" in capsys.readouterr()[1]
    assert not os.path.exists(out)


def _targets(path):
    """Command lines worth recording for a fixture: memory, lookaside, mdl,
    memusage and scan on the first objects memtree finds."""
    from wdfdbg import memtree
    from wdfdbg.session import open_session
    _, js = memtree.execute(open_session(path), memtree.parse_args([path, "--json"]))
    d = json.loads(js)
    out = []
    for wdf, cmd in (("WDFMEMORY", "memory"), ("WDFLOOKASIDE", "lookaside")):
        for o in d["objects"]:
            if o["wdf_type"] == wdf and o.get("handle"):
                out.append([cmd, o["handle"]] + (["--dump", "48"] if cmd == "memory" else []))
                break
    for o in d["objects"]:
        if o.get("mdls"):
            out.append(["mdl", o["mdls"][0]["address"]])
            break
    out.append(["memusage"])
    out.append(["scan"])
    return out


def test_record_replay_other_commands_through_pykd(source_path):
    from wdfdbg.command import open_recording_session
    from wdfdbg.record import command_module, takes_markup
    from wdfdbg.render.markup import PLAIN
    from wdfdbg.session import open_session
    from wdfdbg.errors import UsageError
    done = 0
    for argv in _targets(source_path):
        try:
            _, parse, execute = command_module(argv[0])
        except UsageError:
            continue  # that command does not exist yet
        for extra in ([], ["--json"]):
            args = parse(argv[1:] + extra)

            def run(session):
                if takes_markup(execute):
                    return execute(session, args, None if args.json else PLAIN)
                return execute(session, args)
            if argv[0] == "scan":  # a pykd target cannot list its memory: record from the file
                session, rec = open_recording_session(args, source=source_path)
                code1, out1 = run(session)
                doc = rec.to_document()
            else:
                # a dump the debugger opened (its pages are partly captured, as in a triage
                # dump; live memory is readable by whole pages, which a snapshot cannot be)
                with fake_pykd(source_path):
                    session, rec = open_recording_session(args)
                    code1, out1 = run(session)
                    doc = rec.to_document()
            assert not snapfmt.validate(doc)[0]
            code2, out2 = run(session_over(replay_backend(doc)))
            code3, out3 = run(open_session(source_path))
            assert code1 == code2 == code3, argv
            if extra:
                assert json_wo_source(out1) == json_wo_source(out2), argv
            else:
                assert strip_source(out1) == strip_source(out2) == strip_source(out3), argv
        done += 1
    assert done


def test_record_refuses_scan_from_a_debugger(tmp_path, capsys):
    from wdfdbg import record
    try:
        record.command_module("scan")
    except Exception:
        pytest.skip("no scan command yet")
    out = str(tmp_path / "s.json")
    with fake_pykd(document(), live=True):
        assert record.main([out, "--", "scan"]) == 2
    assert "cannot list its memory" in capsys.readouterr()[1]
    assert not os.path.exists(out)
