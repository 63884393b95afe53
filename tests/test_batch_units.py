"""The pieces of ``wdfdbg batch``: the report stream, the record builder,
signatures, inputs, progress, option parsing."""

import io
import json
import os
import random

import pytest

from conftest import FIXTURES
from wdfdbg.batch.report_stream import ReportStream
from wdfdbg.batch.signature import Focus, signature
from wdfdbg.errors import UsageError


# -- the report stream ---------------------------------------------------------
def _stream(text, pieces):
    fields, objects = {}, []
    s = ReportStream(fields.__setitem__, objects.append)
    pos = 0
    for n in pieces:
        s.feed(text[pos:pos + n])
        pos += n
    s.feed(text[pos:])
    return s.close(), fields, objects


def _report_text():
    from wdfdbg.batch.analyse import run_command
    from wdfdbg import memtree
    parts = []
    code, _, exc = run_command(memtree.main, [os.path.join(FIXTURES, "typical.wdfsnap.json.gz"), "--json"], parts.append)
    assert code == 0 and exc is None
    return "".join(parts)


def test_stream_gives_every_member_and_object_whatever_the_pieces():
    text = _report_text()
    doc = json.loads(text)
    rng = random.Random(5)
    for _ in range(30):
        cuts = [rng.choice((1, 2, 7, 64, 500, 8000)) for _ in range(200)]
        err, fields, objects = _stream(text, cuts)
        assert err is None
        assert objects == doc["objects"]
        assert fields.pop("objects") is None  # streamed, not kept
        assert fields == dict((k, v) for k, v in doc.items() if k != "objects")


@pytest.mark.parametrize("text", ['{"a": 12, "objects": [1, 22, 333], "b": [1, {"c": 4.5}]}',
                                  ' \n{ "objects" : [ ] , "z" : null }\n', '{}'])
def test_stream_on_any_json_object(text):
    doc = json.loads(text)
    for size in (1, 3, len(text)):
        err, fields, objects = _stream(text, [size] * len(text))
        assert err is None
        assert objects == doc.get("objects", [])
        fields.pop("objects", None)
        assert fields == dict((k, v) for k, v in doc.items() if k != "objects")


@pytest.mark.parametrize("text,why", [
    ('{"schema": "wdfdbg.report/1", "objects": [{"a": 1}, {"b"', "ends early"),
    ('{"a": 1} trailing', "after the end"),
    ("[1, 2]", "expected '{'"),
    ('{"a" 1}', "expected ':'"),
    ('{"a": 1,, }', "expected a key"),
    ("", "ends early"),
])
def test_stream_errors_are_returned_never_raised(text, why):
    err, _, _ = _stream(text, [2] * len(text))
    assert err is not None and why in err


# -- the record builder ----------------------------------------------------------
def test_record_counts_per_driver_from_objects_when_the_report_has_none():
    from wdfdbg.batch.record import RecordBuilder
    b = RecordBuilder("/x", "0" * 64, 10)
    b.on_field("schema", "wdfdbg.report/1")
    b.on_field("source", {"kind": "snapshot", "arch": "x64", "os_build": 19041, "origin": "synthetic"})
    b.on_field("drivers", [{"name": "A", "globals": "0x10", "objects": 2}, {"name": "B", "globals": "0x20"}])
    objs = [{"driver": "A", "globals": "0x10", "wdf_type": "WDFMEMORY", "memory": {"length": 5}, "lookaside": None,
             "mdls": [{}], "problems": []},
            {"driver": "A", "globals": "0x10", "wdf_type": "WDFOBJECT", "memory": None, "lookaside": None, "mdls": [],
             "problems": [{"code": "CHILD_LIST_CYCLE", "address": "0x1000"}]},
            {"driver": "B", "globals": "0x20", "wdf_type": "WDFLOOKASIDE", "memory": None, "lookaside": {}, "mdls": [],
             "problems": []},
            {"driver": None, "globals": "0x30", "wdf_type": "WDFOBJECT", "memory": None, "lookaside": None, "mdls": [],
             "problems": []}]
    for o in objs:
        b.on_object(o)
    b.on_field("problems", [{"code": "CHILD_LIST_CYCLE", "severity": "error", "address": "0x1000", "message": "m"},
                            {"code": "BUGCHECK", "severity": "info", "address": "0x20", "message": "m"},
                            {"code": "SCAN_FALLBACK", "severity": "info", "address": None, "message": "m"}])
    b.on_field("summary", {"objects": 4, "memory_objects": 1, "memory_bytes": 5, "lookasides": 1, "mdls": 1,
                           "problems": 3})
    b.add_info({"kmdf_drivers": [{"name": "a", "globals": "0x99", "version": "1.9"},
                                 {"name": "B", "globals": "0x20", "version": "1.21"}]})
    rec = b.finish("problems", 1)
    d = dict((x["name"], x) for x in rec["drivers"])
    assert [x["name"] for x in rec["drivers"]] == ["A", "B", None]
    assert (d["A"]["objects"], d["A"]["memory_objects"], d["A"]["memory_bytes"], d["A"]["mdls"]) == (2, 1, 5, 1)
    assert d["A"]["kmdf_version"] == "1.9" and d["B"]["kmdf_version"] == "1.21"  # by name when globals differ
    assert d["A"]["problem_counts"] == {"CHILD_LIST_CYCLE": 1} and d["B"]["problem_counts"] == {"BUGCHECK": 1}
    assert d["B"]["lookasides"] == 1 and d[None]["objects"] == 1
    assert rec["problem_counts"] == {"BUGCHECK": 1, "CHILD_LIST_CYCLE": 1, "SCAN_FALLBACK": 1}
    assert rec["problems"][0] == {"code": "CHILD_LIST_CYCLE", "severity": "error", "driver": "A", "address": "0x1000"}
    assert rec["signature"] == "NONE/CHILD_LIST_CYCLE/A/1.9/WDFOBJECT"


def test_record_takes_the_reports_per_driver_fields_when_it_has_them():
    from wdfdbg.batch.record import RecordBuilder
    b = RecordBuilder("/x", None, None)
    b.on_field("source", {"kind": "snapshot", "arch": "x64", "os_build": 19041, "origin": "synthetic"})
    b.on_field("drivers", [{"name": "A", "globals": "0x10", "kmdf_version": "1.33", "objects": 7, "memory_objects": 3,
                            "memory_bytes": 96, "lookasides": 1, "mdls": 2, "problems": 4}])
    b.on_object({"driver": "A", "globals": "0x10", "wdf_type": "WDFDRIVER", "memory": None, "lookaside": None,
                 "mdls": [], "problems": []})
    assert not b.needs_info()  # nothing left for info to tell about a snapshot
    d = b.finish("ok", 0)["drivers"][0]
    assert (d["kmdf_version"], d["objects"], d["memory_objects"], d["memory_bytes"], d["lookasides"], d["mdls"],
            d["problems"]) == ("1.33", 7, 3, 96, 1, 2, 4)


def test_record_lists_at_most_100_problems_errors_first():
    from wdfdbg.batch.record import MAX_PROBLEMS, RecordBuilder
    b = RecordBuilder("/x", None, None)
    probs = [{"code": "LIKELY_LEAK", "severity": "warning", "address": "0x%x" % i} for i in range(150)]
    probs.append({"code": "MDL_INCONSISTENT", "severity": "error", "address": "0x1"})
    b.on_field("problems", probs)
    rec = b.finish("problems", 1)
    assert len(rec["problems"]) == MAX_PROBLEMS and rec["problems_omitted"] == 51
    assert rec["problems"][0]["code"] == "MDL_INCONSISTENT"
    assert rec["problem_counts"] == {"LIKELY_LEAK": 150, "MDL_INCONSISTENT": 1}


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


# -- inputs, options, progress -------------------------------------------------------
def test_folders_are_walked_recursively_sorted_and_once(tmp_path):
    from wdfdbg.batch.inputs import expand
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.dmp").write_bytes(b"x")
    (tmp_path / "a.dmp").write_bytes(b"y")
    (tmp_path / "b" / "link").symlink_to(tmp_path / "missing")  # dangling: not a candidate
    got = expand([str(tmp_path), str(tmp_path / "a.dmp"), str(tmp_path / "b")])
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
