"""The triage headline: data (analysis/headline.py) and text
(render/headline.py). On the real dump it names amdppm+0x334c, AmdPPM as
a KMDF 1.15 driver, the write to 0xffffffffffffffff and the held wait
lock; the dict validates against its schema fragment; the text passes the
readable check (tests/readable.py) on the real dump and every fixture."""

import copy
import json

import jsonschema
import pytest

from conftest import fixture_path
from readable import assert_readable, unreadable
from test_triage_heap import BASE, DRV, Heap, REAL_X64, need_real
from wdfdbg.analysis.headline import TRIAGE_SCHEMA, TriageFeed, build_triage, rank_problems
from wdfdbg.problems import ProblemLog
from wdfdbg.render.dml import DmlMarkup, unescape
from wdfdbg.render.headline import headline_lines, render_headline
from wdfdbg.render.report import build_report, load_schema
from wdfdbg.session import open_session
from wdfdbg.sources.base import Bugcheck

FIXTURES = ["typical", "two_drivers", "corrupt", "leak"]


def schema():
    """The fragment inside the shipped report schema's $defs (for $ref)."""
    full = load_schema()
    doc = copy.deepcopy(TRIAGE_SCHEMA)
    doc["$schema"] = full.get("$schema")
    doc["$defs"] = full["$defs"]
    return doc


def analyse(path_or_session):
    from wdfdbg import memtree
    s = open_session(path_or_session) if isinstance(path_or_session, str) else path_or_session
    drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
    feed = TriageFeed(s, problems)
    for n in nodes:
        feed.feed(n)
    feed.finish()
    return s, drivers, nodes, problems, build_triage(s, drivers, problems, feed)


# -- the readable check itself --------------------------------------------------
def test_readable_check_catches_what_issue_11_lists():
    bad = ["FxDriver None", "tag '?'", "class ?", "scan: length 20", "buffer of 64 bytes", "flag True",
           "<wdfdbg.decoders.objects.ObjectNode object at 0x7f00deadbeef>", "name NOT_CAPTURED", "{'a': 1}"]
    for line in bad:
        assert unreadable(line), line
    good = ["length 0x14", "0x40 bytes", "1831 saved blocks of 0x119b52 bytes in all (about 1.1 MB)",
            "parent 0xffffc08be4f7a310 not captured", "why?", "!py -m wdfdbg.memtree --handle 0x3f741af8f1c8",
            "UNKNOWN_TYPE warning", "size not captured", "NULL", "holds 10000 WDFMEMORY children"]
    for line in good:
        assert not unreadable(line), (line, unreadable(line))
    with pytest.raises(AssertionError):
        assert_readable("a\nFxDriver None\n")


# -- the real dump --------------------------------------------------------------
@need_real
def test_real_dump_headline_acceptance():
    s, drivers, nodes, problems, tri = analyse(REAL_X64)
    jsonschema.validate(tri, schema())
    assert tri["bugcheck"]["code"] == "0x1000007e"
    assert tri["bugcheck"]["name"] == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"
    assert tri["fault"]["where"] == "amdppm+0x334c"
    assert tri["fault"]["kmdf_driver"] == {"name": "AmdPPM", "kmdf_version": "1.15", "globals": "0xffffc08be52e6690",
                                           "matched_by": "FX_DRIVER_GLOBALS.ImageAddress"}
    exc = tri["exception"]
    assert (exc["access"], exc["target"], exc["code"]) == ("write", "0xffffffffffffffff", "0xc0000005")
    assert tri["crash_thread"] == "0xffffc08bde9e1640"
    (lock,) = tri["locks_held_by_crashing_thread"]
    assert (lock["kind"], lock["object"], lock["handle"], lock["driver"]) == (
        "WDFWAITLOCK", "0xffffc08be5070e30", "0x3f741af8f1c8", "AmdPPM")
    assert tri["locks_held"] == []
    assert tri["top_problems"][0]["code"] == "LOCK_HELD_BY_CRASHING_THREAD"
    assert tri["source"]["kind"] == "minidump"
    assert any("1831 saved blocks of 0x119b52 bytes" in c for c in tri["source"]["can_show"])
    assert any("scan" in c for c in tri["source"]["cannot_show"])
    text = render_headline(tri)
    lines = text.splitlines()
    assert lines[0].startswith("Crash: SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (0x1000007E)")
    assert "at amdppm+0x334c, in AmdPPM, a KMDF 1.15 driver (FX_DRIVER_GLOBALS 0xffffc08be52e6690)" in text
    assert "write to 0xffffffffffffffff" in text
    assert ("the crashing thread 0xffffc08bde9e1640 holds WDFWAITLOCK 0x3f741af8f1c8 (object 0xffffc08be5070e30) "
            "of AmdPPM") in text
    assert_readable(text, "the real dump's headline")
    # the object records carry the lock (the extras memtree's JSON copies)
    node = next(n for n in nodes if n.address == 0xffffc08be5070e30)
    assert node.extras()["lock"]["owner"] == "0xffffc08bde9e1640"
    assert node.extras()["lock"]["owner_is_crashing_thread"] is True


@need_real
def test_real_dump_headline_dml_escapes_and_links():
    s, drivers, nodes, problems, tri = analyse(REAL_X64)
    dml = render_headline(tri, DmlMarkup())
    from wdfdbg.render.markup import PY
    assert '<link cmd="%swdfdbg.memtree --handle 0x3f741af8f1c8">WDFWAITLOCK 0x3f741af8f1c8</link>' % PY in dml
    assert '<link cmd="dt Wdf01000!FxWaitLock 0xffffc08be5070e30">' in dml
    plain = render_headline(tri)
    stripped = unescape(dml.replace("<b>", "").replace("</b>", ""))
    import re
    assert re.sub(r"<link cmd=\"[^\"]*\">|</link>", "", stripped) == plain


# -- fixtures and hand-laid cases -----------------------------------------------
@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_headlines_are_valid_and_readable(name):
    s, drivers, nodes, problems, tri = analyse(fixture_path("%s.wdfsnap.json.gz" % name))
    jsonschema.validate(tri, schema())
    assert tri["source"]["description"].startswith("a synthetic snapshot")
    text = render_headline(tri)
    assert_readable(text, "%s headline" % name)
    # the report with the feed's extras still validates against the shipped schema
    from conftest import validate_report
    doc = build_report(s, drivers, nodes, problems, command="memtree")
    doc["triage"] = tri
    validate_report(json.loads(json.dumps(doc)))
    if name == "leak":
        assert [p["count"] for p in tri["piling_up"]] == [10000]
        assert any(p["code"] == "OBJECTS_PILING_UP" for p in tri["top_problems"])


def test_no_bugcheck_and_faults_outside_kmdf():
    heap = Heap()
    s = heap.session()
    tri = build_triage(s, [], [])
    jsonschema.validate(tri, schema())
    assert tri["bugcheck"] is None and tri["fault"] is None and tri["crash_thread"] is None
    assert headline_lines(tri)[0] == "No bugcheck in this source."
    heap.bugcheck = Bugcheck(0xD1, [0x10, 2, 1, DRV + 0x44])       # P4: the faulting address
    tri = build_triage(heap.session(), [], [])
    jsonschema.validate(tri, schema())
    assert tri["fault"]["where"] == "TriDrv+0x44" and tri["fault"]["kmdf_driver"] is None
    assert "in TriDrv (not a KMDF driver this source knows)" in render_headline(tri)
    heap.bugcheck = Bugcheck(0xD1, [0x10, 2, 1, BASE + 0x44])      # in no module
    tri = build_triage(heap.session(), [], [])
    assert tri["fault"]["module"] is None and "(in no loaded module)" in render_headline(tri)
    assert_readable(render_headline(tri))


def test_kmdf_driver_by_name_and_held_locks_of_others():
    from wdfdbg.decoders.drivers import DriverInfo
    heap = Heap()
    heap.bugcheck = Bugcheck(0x1E, [0xC0000005, DRV + 0x10, 0, 0x20])
    heap.extra["crash_thread"] = "0xffffc08b99990080"
    lock = BASE + 0x1000
    heap.obj(lock, 0x1023, 0x90)
    heap.w(lock + 0x68, "BBBBi", 1, 0, 6, 0, 0)
    heap.w(lock + 0x70, "QQ", lock + 0x70, lock + 0x70)
    heap.w(lock + 0x88, "Q", 0xffffc08b77770080)
    s = heap.session()
    d = DriverInfo(0xffffc08b20000100)
    d.name = "tridrv"
    problems = ProblemLog()
    feed = TriageFeed(s, problems)
    from test_triage_heap import node_of
    feed.feed(node_of(s, lock))
    feed.finish()
    tri = build_triage(s, [d], problems, feed)
    jsonschema.validate(tri, schema())
    assert tri["fault"]["kmdf_driver"]["name"] == "tridrv" and tri["fault"]["kmdf_driver"]["kmdf_version"] is None
    assert tri["exception"]["access"] == "read" and tri["exception"]["source"] == "bugcheck parameters"
    (held,) = tri["locks_held"]
    assert held["owner"] == "0xffffc08b77770080" and tri["locks_held_by_crashing_thread"] == []
    text = render_headline(tri)
    assert "is held by thread 0xffffc08b77770080" in text and "holds no WDF lock" in text
    assert "a KMDF driver (FX_DRIVER_GLOBALS" in text
    assert_readable(text)


def test_rank_problems_by_severity_then_triage_order():
    log = ProblemLog()
    log.add("SCAN_FALLBACK", None, "scan")
    log.add("LOCK_HELD", 1, "a", "warning")
    log.add("UNREADABLE", 2, "b", "warning")
    log.add("CHILD_LIST_CYCLE", 3, "c")
    log.add("LOCK_HELD_BY_CRASHING_THREAD", 4, "d")
    log.add("BUGCHECK", 5, "e", "info")
    assert [p.code for p in rank_problems(log)] == ["CHILD_LIST_CYCLE", "LOCK_HELD_BY_CRASHING_THREAD", "LOCK_HELD",
                                                    "UNREADABLE", "BUGCHECK"]
    assert len(rank_problems(log, limit=2)) == 2


def test_report_schema_carries_the_code_fragments():
    """The shipped schema's $defs are the fragments the decoders keep
    beside their to_json (one source of truth, checked here)."""
    from wdfdbg.analysis.headline import TRIAGE_SCHEMA
    from wdfdbg.analysis.piling import PILING_SCHEMA
    from wdfdbg.decoders.alignment import ALIGNMENT_SCHEMA
    from wdfdbg.decoders.contexts import CONTEXT_SCHEMA
    from wdfdbg.decoders.locks import LOCK_SCHEMA
    from wdfdbg.render.report import SCHEMA_VERSION, load_schema
    d = load_schema()["$defs"]
    assert (d["triage"], d["piling"], d["context"], d["lock"], d["dma_alignment"]) == (
        TRIAGE_SCHEMA, PILING_SCHEMA, CONTEXT_SCHEMA, LOCK_SCHEMA, ALIGNMENT_SCHEMA)
    assert SCHEMA_VERSION == "1.2"
    obj = d["object"]["properties"]
    assert obj["contexts"]["items"] == {"$ref": "#/$defs/context"} and obj["lock"] == {"$ref": "#/$defs/lock"}
    assert {"$ref": "#/$defs/jsonl_triage"} in d["jsonl_line"]["oneOf"]
