"""The pieces of ``wdfdbg batch``: the report stream, the record builder,
signatures, inputs, progress, option parsing."""

import io
import json
import os
import random

import pytest

from conftest import DUMPS, FIXTURES
from wdfdbg.batch.report_stream import LineStream
from wdfdbg.batch.signature import Focus, signature
from wdfdbg.errors import UsageError


# -- the JSONL stream ------------------------------------------------------------
def _stream(text, pieces):
    lines = []
    s = LineStream(lines.append)
    pos = 0
    for n in pieces:
        s.feed(text[pos:pos + n])
        pos += n
    s.feed(text[pos:])
    return s.close(), lines


def _jsonl_text(name="typical"):
    from wdfdbg.batch.analyse import run_command
    from wdfdbg import memtree
    parts = []
    code, _, exc = run_command(memtree.main, [os.path.join(FIXTURES, name + ".wdfsnap.json.gz"), "--jsonl"],
                               parts.append)
    assert code in (0, 1) and exc is None
    return "".join(parts)


def test_stream_gives_every_line_whatever_the_pieces():
    text = _jsonl_text()
    expect = [json.loads(line) for line in text.splitlines()]
    kinds = [r["record"] for r in expect]
    assert kinds[:2] == ["report", "object"] and kinds[-2:] == ["summary", "triage"]
    rng = random.Random(5)
    for _ in range(30):
        cuts = [rng.choice((1, 2, 7, 64, 500, 8000)) for _ in range(200)]
        err, lines = _stream(text, cuts)
        assert err is None
        assert lines == expect


@pytest.mark.parametrize("text,why", [
    ('{"record": "report"}\n{"record": "object", "a"', "ends inside line 2"),
    ('{"record": "report"}\nnot json\n', "line 2 is not JSON"),
    ('[1, 2]\n', "no \"record\" key"),
    ('{"a": 1}\n', "no \"record\" key"),
])
def test_stream_errors_are_returned_never_raised(text, why):
    err, _ = _stream(text, [2] * len(text))
    assert err is not None and why in err


def test_stream_reports_a_failing_callback():
    def boom(rec):
        raise KeyError("x")
    s = LineStream(boom)
    s.feed('{"record": "report"}\n')
    assert "KeyError" in s.close()


# -- the record builder ----------------------------------------------------------
def _obj(address, driver, globals_, wdf_type, memory=None, lookaside=None, mdls=(), problems=()):
    return {"record": "object", "address": address, "driver": driver, "globals": globals_, "wdf_type": wdf_type,
            "memory": memory, "lookaside": lookaside, "mdls": list(mdls), "problems": list(problems)}


def _problem(code, severity, address, owner):
    return {"record": "problem", "code": code, "severity": severity, "address": address, "message": "m",
            "object": owner}


def _builder(lines):
    from wdfdbg.batch.record import RecordBuilder
    b = RecordBuilder("/x", "0" * 64, 10)
    for line in lines:
        b.on_line(line)
    return b


REPORT_LINE = {"record": "report", "schema": "wdfdbg.report/1", "schema_version": "1.1",
               "source": {"kind": "snapshot", "arch": "x64", "os_build": 19041, "origin": "synthetic",
                          "dump_type": None}, "bugcheck": None}


def test_record_from_lines_counts_unlisted_drivers_and_joins_problems_to_their_objects():
    cycle = {"code": "CHILD_LIST_CYCLE", "severity": "error", "address": "0x1000", "message": "m"}
    lines = [REPORT_LINE,
             _obj("0x1000", "A", "0x10", "WDFOBJECT", problems=[cycle]),
             _obj("0x1100", "A", "0x10", "WDFMEMORY", memory={"length": 5}, mdls=[{}]),
             _obj("0x2000", "B", "0x20", "WDFLOOKASIDE", lookaside={}),
             _obj("0x3000", None, "0x30", "WDFQUEUE"),
             _obj("0x3100", None, "0x30", "WDFMEMORY", memory={"length": 7}),
             {"record": "allocated", "address": "0x2000", "allocated": ["0x1100"]},
             _problem("CHILD_LIST_CYCLE", "error", "0x1000", "0x1000"),
             # found after its object's line was written: the type comes from the object line
             _problem("LIKELY_LEAK", "warning", "0x3000", "0x3000"),
             _problem("BUGCHECK", "info", "0x20", None),   # at B's FX_DRIVER_GLOBALS
             _problem("SCAN_FALLBACK", "info", None, None),
             {"record": "summary", "drivers": [
                 {"name": "B", "globals": "0x20", "kmdf_version": "1.21", "objects": 1, "memory_objects": 0,
                  "memory_bytes": 0, "lookasides": 1, "mdls": 0, "problems": 0},
                 {"name": "A", "globals": "0x10", "kmdf_version": None}],
              "summary": {"objects": 5, "memory_objects": 2, "memory_bytes": 12, "lookasides": 1, "mdls": 1,
                          "problems": 4}, "notes": []}]
    b = _builder(lines)
    assert b.complete() is None
    rec = b.finish("problems", 1)
    assert [x["name"] for x in rec["drivers"]] == ["B", "A", None]  # the report's order, then the unlisted
    d = dict((x["name"], x) for x in rec["drivers"])
    assert (d["A"]["objects"], d["A"]["memory_objects"], d["A"]["memory_bytes"], d["A"]["mdls"]) == (2, 1, 5, 1)
    assert d["A"]["kmdf_version"] is None and d["B"]["kmdf_version"] == "1.21"
    assert (d[None]["objects"], d[None]["memory_bytes"], d[None]["problem_counts"]) == (2, 7, {"LIKELY_LEAK": 1})
    assert d["A"]["problem_counts"] == {"CHILD_LIST_CYCLE": 1} and d["B"]["problem_counts"] == {"BUGCHECK": 1}
    assert sum(x["objects"] for x in rec["drivers"]) == rec["summary"]["objects"]
    assert rec["problem_counts"] == {"BUGCHECK": 1, "CHILD_LIST_CYCLE": 1, "LIKELY_LEAK": 1, "SCAN_FALLBACK": 1}
    assert rec["problems"][0] == {"code": "CHILD_LIST_CYCLE", "severity": "error", "driver": "A", "address": "0x1000"}
    assert rec["signature"] == "NONE/CHILD_LIST_CYCLE/A/-/WDFOBJECT"
    assert rec["source"]["dump_type"] is None and rec["fault"] is None


def test_record_takes_the_reports_per_driver_fields():
    lines = [REPORT_LINE, _obj("0x1", "A", "0x10", "WDFDRIVER"),
             {"record": "summary", "drivers": [
                 {"name": "A", "globals": "0x10", "kmdf_version": "1.33", "objects": 7, "memory_objects": 3,
                  "memory_bytes": 96, "lookasides": 1, "mdls": 2, "problems": 4}], "summary": {}}]
    d = _builder(lines).finish("ok", 0)["drivers"][0]
    assert (d["kmdf_version"], d["objects"], d["memory_objects"], d["memory_bytes"], d["lookasides"], d["mdls"],
            d["problems"]) == ("1.33", 7, 3, 96, 1, 2, 4)


def test_record_needs_a_report_line_and_a_summary_line():
    assert "not a wdfdbg.report/1" in _builder([_obj("0x1", "A", "0x10", "WDFDRIVER")]).complete()
    assert "no summary line after 1 object" in _builder([REPORT_LINE, _obj("0x1", "A", "0x10", "X")]).complete()


def test_record_lists_at_most_100_problems_errors_first():
    from wdfdbg.batch.record import MAX_PROBLEMS
    lines = [REPORT_LINE] + [_problem("LIKELY_LEAK", "warning", "0x%x" % i, None) for i in range(150)]
    lines += [_problem("MDL_INCONSISTENT", "error", "0x1", None), {"record": "summary", "drivers": [], "summary": {}}]
    rec = _builder(lines).finish("problems", 1)
    assert len(rec["problems"]) == MAX_PROBLEMS and rec["problems_omitted"] == 51
    assert rec["problems"][0]["code"] == "MDL_INCONSISTENT"
    assert rec["problem_counts"] == {"LIKELY_LEAK": 150, "MDL_INCONSISTENT": 1}


def test_record_of_every_fixture_adds_up_to_memtrees_report():
    from wdfdbg import memtree
    from wdfdbg.batch.analyse import analyse_file, run_command
    from wdfdbg.batch.inputs import open_hashed
    for name in ("typical", "two_drivers", "corrupt", "leak"):
        path = os.path.join(FIXTURES, name + ".wdfsnap.json.gz")
        parts = []
        run_command(memtree.main, [path, "--json"], parts.append)
        doc = json.loads("".join(parts))
        opened = open_hashed(path)
        rec = analyse_file(path, opened)
        opened.close()
        assert rec["summary"] == doc["summary"] and rec["bugcheck"] == doc["bugcheck"], name
        assert sum(d["objects"] for d in rec["drivers"]) == len(doc["objects"]), name
        assert sum(rec["problem_counts"].values()) == len(doc["problems"]), name
        by_type = {}
        for o in doc["objects"]:
            for p in o["problems"]:
                by_type[(p["code"], p["address"])] = (o["driver"], o["wdf_type"])
        listed = dict(((p["code"], p["address"]), p["driver"]) for p in rec["problems"])
        for key, (driver, _type) in by_type.items():
            assert listed.get(key, driver) == driver, (name, key)


# -- the triage's fault --------------------------------------------------------------
def test_record_carries_the_triages_fault():
    from wdfdbg.batch.record import fault_facts
    tri = {"fault": {"address": "0xfffff8048b58334c", "where": "amdppm+0x334c", "module": "amdppm",
                     "kmdf_driver": {"name": "AmdPPM", "kmdf_version": "1.15", "globals": "0xffff10",
                                     "matched_by": "FX_DRIVER_GLOBALS.ImageAddress"}}}
    assert fault_facts(tri) == {"address": "0xfffff8048b58334c", "where": "amdppm+0x334c", "module": "amdppm",
                                "driver": "AmdPPM", "kmdf_version": "1.15"}
    assert fault_facts({"fault": None}) is None and fault_facts(None) is None
    # both shapes of a triage line: the dict under "triage", or the line itself
    for line in ({"record": "triage", "triage": tri}, dict(tri, record="triage")):
        lines = [REPORT_LINE, line, {"record": "summary", "drivers": [], "summary": {}}]
        assert _builder(lines).finish("ok", 0)["fault"]["driver"] == "AmdPPM"


def test_record_fault_from_the_real_dumps_triage():
    from wdfdbg import memtree
    from wdfdbg.analysis.headline import TriageFeed, build_triage
    from wdfdbg.batch.analyse import run_command
    from wdfdbg.session import open_session
    path = os.path.join(DUMPS, "triage_x64.dmp")
    if not os.path.exists(path):
        pytest.skip("../shared/dumps/triage_x64.dmp is absent")
    s = open_session(path)
    drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
    feed = TriageFeed(s, problems)
    for n in nodes:
        feed.feed(n)
    feed.finish()
    tri = build_triage(s, drivers, problems, feed)
    parts = []
    run_command(memtree.main, [path, "--jsonl"], parts.append)
    lines = [json.loads(x) for x in "".join(parts).splitlines()]
    # the stream ends with its own triage line, the same facts build_triage gives
    assert lines[-1]["record"] == "triage"
    streamed_tri = dict(lines[-1]["triage"])
    assert streamed_tri.pop("headline")  # the text lines the report adds to the facts
    assert streamed_tri == json.loads(json.dumps(tri))
    streamed = _builder(lines).finish("ok", 0)
    plain = _builder([x for x in lines if x["record"] != "triage"]).finish("ok", 0)
    with_triage = _builder(lines[:-1] + [{"record": "triage", "triage": tri}]).finish("ok", 0)
    fault = {"address": "0xfffff8048b58334c", "where": "amdppm+0x334c", "module": "amdppm",
             "driver": "AmdPPM", "kmdf_version": "1.15"}
    assert streamed["fault"] == with_triage["fault"] == fault
    assert plain["fault"] is None
    # TYPE: the focus problem is LOCK_HELD_BY_CRASHING_THREAD at AmdPPM's wait lock
    want = "0x7E/ACCESS_VIOLATION/AmdPPM/1.15/WDFWAITLOCK"
    assert plain["signature"] == want
    # with the triage's stack, FRAME: the saved context's frame (docs/batch.md)
    assert streamed["signature"] == with_triage["signature"] == want + "/amdppm+0x334c"


def test_source_dump_type_by_kind(tmp_path):
    from test_minidump import build_bitmap_dump, build_triage_dump, write
    from wdfdbg.session import open_session
    assert open_session(os.path.join(FIXTURES, "typical.wdfsnap.json.gz")).source_json()["dump_type"] is None
    assert open_session(write(tmp_path, "t.dmp", build_triage_dump())).source_json()["dump_type"] == "triage"
    pytest.importorskip("kdmp_parser")
    page = {0xffffc08b00000000: bytes(0x1000)}
    for code, word in ((5, "bitmap-full"), (6, "bitmap-kernel")):
        p = write(tmp_path, "b%d.dmp" % code, build_bitmap_dump(page, dump_type=code))
        assert open_session(p).source_json()["dump_type"] == word


# -- signatures -------------------------------------------------------------------
DRV = [{"name": "AmdPPM", "globals": "0xffff10", "kmdf_version": "1.15.2"},
       {"name": "Other", "globals": "0xffff20", "kmdf_version": "1.31"}]


def bc(code, params, decoded):
    return {"code": code, "name": None, "parameters": params, "decoded": decoded}


def test_signature_of_0x10d_invalid_handle_names_the_asked_type():
    b = bc("0x10d", ["0x5", "0x1234", "0x100a", "0xffff10"], {"violation": "WDF_INVALID_HANDLE", "driver": "AmdPPM"})
    assert signature(b, DRV, []) == "0x10D/INVALID_HANDLE/AmdPPM/1.15/WDFMEMORY"
    b["parameters"][2] = "0x1008"
    assert signature(b, DRV, [Focus("CHILD_LIST_CYCLE", "error", "Other", "WDFDEVICE")]) == \
        "0x10D/INVALID_HANDLE/AmdPPM/1.15/WDFREQUEST"
    # the driver from P4's globals when its name was not decoded
    b = bc("0x10d", ["0x7", "0x1", "0x2", "0xffff20"], {"violation": "WDF_OBJECT_ERROR", "driver": None,
                                                       "driver_globals": "0xffff20"})
    assert signature(b, DRV, []) == "0x10D/OBJECT_ERROR/Other/1.31/-"
    b = bc("0x10d", ["0x77", "0", "0", "0"], {"violation": None})
    assert signature(b, DRV, []) == "0x10D/0x77/-/-/-"


def test_signature_folds_m_variants_and_driver_spelling():
    a = bc("0x1000007e", ["0xffffffffc0000005", "0x1", "0x2", "0x3"],
           {"exception_code": "0xc0000005 STATUS_ACCESS_VIOLATION", "exception_address_symbol": "amdppm+0x334c"})
    b = bc("0x7e", ["0xc0000005", "0x9", "0x2", "0x3"],
           {"exception_code": "0xc0000005 STATUS_ACCESS_VIOLATION", "exception_address_symbol": "AMDPPM.SYS+0x10"})
    assert signature(a, DRV, []) == signature(b, DRV, []) == "0x7E/ACCESS_VIOLATION/AmdPPM/1.15/-"
    c = bc("0x7e", ["0x80000003", "0x9", "0x2", "0x3"],
           {"exception_code": "0x80000003 STATUS_BREAKPOINT", "exception_address_symbol": "nt!KeBugCheckEx+0x10"})
    assert signature(c, DRV, []) == "0x7E/BREAKPOINT/nt/-/-"


def test_signature_focus_ignores_order_count_and_capture_problems():
    probs = [Focus("UNREADABLE", "warning", None, None), Focus("SCAN_FALLBACK", "info", None, None),
             Focus("LIKELY_LEAK", "warning", "AmdPPM", "WDFDRIVER"),
             Focus("MDL_INCONSISTENT", "error", "AmdPPM", "WDFOBJECT"),
             Focus("CHILD_LIST_CORRUPT", "error", "AmdPPM", "WDFDEVICE")]
    expect = "NONE/CHILD_LIST_CORRUPT/AmdPPM/1.15/WDFDEVICE"
    assert signature(None, DRV, probs) == expect
    assert signature(None, DRV, list(reversed(probs)) + probs[2:] * 5) == expect
    assert signature(None, DRV, probs[:2]) == "NONE/-/-/-/-"
    assert signature(bc("0x1c8", ["0x1b58", "0x1", "0", "0"], {"held_ms": 7000}), DRV, probs[:2]) == "0x1C8/-/-/-/-"
    # a problem of another driver does not lend its type to the crash's driver
    other = [Focus("CHILD_LIST_CYCLE", "error", "Other", "WDFQUEUE")]
    b = bc("0x7e", ["0xc0000005", "0", "0", "0"], {"exception_code": "0xc0000005 STATUS_ACCESS_VIOLATION",
                                                  "exception_address_symbol": "amdppm+0x1"})
    assert signature(b, DRV, other) == "0x7E/ACCESS_VIOLATION/AmdPPM/1.15/-"


def test_signature_driver_from_the_triages_fault():
    drivers = DRV + [{"name": "e1dexpress", "globals": "0xffff30", "kmdf_version": "1.19.0"}]
    # the image file is e1d68x64.sys, its KMDF (service) name e1dexpress: the module alone has no KMDF version
    b = bc("0xd1", ["0x10", "0x2", "0x0", "0xfffff80412340010"], {"faulting_address_symbol": "e1d68x64+0x10"})
    assert signature(b, drivers, []) == "0xD1/-/e1d68x64/-/-"
    fault = {"address": "0xfffff80412340010", "where": "e1d68x64+0x10", "module": "e1d68x64",
             "driver": "e1dexpress", "kmdf_version": "1.19"}
    assert signature(b, drivers, [], fault) == "0xD1/-/e1dexpress/1.19/-"
    # a KMDF driver absent from the record's drivers: the version the triage found
    assert signature(b, DRV, [], fault) == "0xD1/-/e1dexpress/1.19/-"
    # a fault outside any KMDF driver: the module, as without triage
    nt = dict(fault, driver=None, kmdf_version=None, module="nt", where="nt+0x1000")
    assert signature(bc("0xd1", ["0x10", "0x2", "0x0", "0x1"], {}), DRV, [], nt) == "0xD1/-/nt/-/-"
    # 0x10D: parameter 4 first; the triage's reading of it when the decoder had none
    v = bc("0x10d", ["0x7", "0x1", "0x2", "0xffff99"], {"violation": "WDF_OBJECT_ERROR"})
    assert signature(v, DRV, [], {"driver": "AmdPPM", "kmdf_version": "1.15"}) == "0x10D/OBJECT_ERROR/AmdPPM/1.15/-"


# -- inputs, options, progress -------------------------------------------------------
def test_folders_are_walked_recursively_sorted_and_once(tmp_path):
    from wdfdbg.batch.inputs import expand
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.dmp").write_bytes(b"PAGEDU64x")
    (tmp_path / "a.dmp").write_bytes(b"PAGEDUMPy")
    (tmp_path / "b" / "link").symlink_to(tmp_path / "missing")  # dangling: not a candidate
    got = expand([str(tmp_path), str(tmp_path / "a.dmp"), str(tmp_path / "b")]).inputs
    assert [os.path.relpath(i.path, str(tmp_path)) for i in got] == ["a.dmp", os.path.join("b", "z.dmp")]
    assert not any(i.explicit for i in got)
    with pytest.raises(UsageError):
        expand(["@" + str(tmp_path / "no-list.txt")])


def test_sizes_parse():
    from wdfdbg.batch.cli import parse_size
    assert parse_size("2G") == 2 << 30 and parse_size("512MiB") == 512 << 20 and parse_size("0") == 0
    assert parse_size("1048576") == 1 << 20 and parse_size("1.5k") == 1536
    with pytest.raises(UsageError):
        parse_size("-1G")


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_and_a_summary_line_always():
    pytest.importorskip("tqdm")
    from wdfdbg.batch.progress import Progress
    tty = _Tty()
    p = Progress(3, stream=tty)
    assert p.bar is not None
    for s in ("ok", "problems", "timeout"):
        p.add(s)
    p.close()
    text = tty.getvalue()
    assert "3/3" in text and "wdfdbg batch: 3 done, 1 ok, 1 problems, 0 unreadable, 1 timeout, 0 crashed" in text
    plain = io.StringIO()
    p = Progress(3, stream=plain)
    assert p.bar is None
    p.add("ok")
    p.close()
    assert plain.getvalue().count("\n") == 1


def test_child_records_what_it_could_not_hash(tmp_path):
    from wdfdbg.batch.isolate import Settings, child_work
    sent = []
    child_work(str(tmp_path / "nope"), Settings(memory_cap=0), sent.append)  # no cap on the test process
    assert sent[0][0] == "record" and sent[0][1]["status"] == "unreadable"


def test_subprocess_worker_for_daemonic_callers(monkeypatch):
    from wdfdbg.batch.isolate import FAULT_ENV, Settings, run_subprocess
    path = os.path.join(FIXTURES, "corrupt.wdfsnap.json.gz")
    rec = run_subprocess(path, Settings(timeout=60))
    assert rec["status"] == "problems" and rec["signature"].startswith("NONE/CHILD_LIST_CYCLE/Corrupt/")
    monkeypatch.setenv(FAULT_ENV, "hang:corrupt")
    rec = run_subprocess(path, Settings(timeout=1))
    assert rec["status"] == "timeout" and rec["sha256"] and rec["elapsed_s"] >= 1


def test_shipped_schemas_are_valid_2020_12():
    import jsonschema
    from wdfdbg.batch.record import schema_path
    for name in ("dumprecord", "corpus"):
        with open(os.path.join(os.path.dirname(schema_path()), "%s.schema.json" % name)) as f:
            jsonschema.Draft202012Validator.check_schema(json.load(f))


def test_line_splitter_bounds_the_unfinished_line_for_both_readers():
    """One splitter serves the batch worker's LineStream and the saved-JSONL
    reader: lines whatever the cuts, and a line past the bound is an error
    in one line, its pieces dropped (no unbounded memory on a file without
    newlines)."""
    from wdfdbg.errors import InputError
    from wdfdbg.render.lines import LineSplitter, LineTooLong
    from wdfdbg.render.reportreader import JsonlReader
    sp = LineSplitter(max_line=10)
    got = []
    for piece in ("ab", "c\nde", "f\n\ng", "h"):
        got.extend(sp.lines(piece))
    assert got == ["abc", "def", ""] and sp.lines_done == 3 and sp.rest() == "gh" and sp.rest() == ""
    with pytest.raises(LineTooLong) as e:
        list(sp.lines("x" * 11))
    assert "line 4 is longer than 10 characters" in str(e.value) and sp.rest() == ""
    ls = LineStream(lambda rec: None)
    ls._split.max_line = 10
    ls.feed("y" * 6)
    ls.feed("y" * 6)
    assert ls.close() == "line 1 is longer than 10 characters"
    r = JsonlReader(lambda k, v: None, lambda o: None, what="saved.jsonl")
    r._split.max_line = 10
    with pytest.raises(InputError) as e:
        r.write("z" * 20)
    assert str(e.value) == "saved.jsonl: line 1 is longer than 10 characters"
