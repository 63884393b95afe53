"""The streaming core (issue 9 items 1, 2, 5): records leave as they are
decoded, in the order a list-based report has them; memory does not grow
with the object count beyond compact aggregates; the per-driver counts add
up to the summary; --jsonl lines validate; the fast record encoder is the
reference one; the Session's one cache."""

import gc
import io
import json
import os
import random
import re
import tracemalloc

import pytest

from conftest import FIXTURES, ROOT, validate_report
from wdfdbg import memtree, memusage
from wdfdbg.analysis import tree
from wdfdbg.layouts import Layouts
from wdfdbg.render import report as rep
from wdfdbg.session import Session, open_session
from wdfdbg.sources.base import Target

NAMES = ["typical", "two_drivers", "leak", "corrupt"]


def snap(name):
    return os.path.join(FIXTURES, name + ".wdfsnap.json.gz")


def run(name, *argv, **kw):
    s = open_session(snap(name), use_symbols=kw.get("use_symbols", True))
    return memtree.execute(s, memtree.parse_args(list(argv)), **({"out": kw["out"]} if "out" in kw else {}))


def jsonl(name, *argv):
    code, text = run(name, "--jsonl", *argv)
    return code, [json.loads(line) for line in text.splitlines()]


class Recorder(object):
    """An output that remembers how much had been written when each object
    record was handed to the writer."""

    def __init__(self):
        self.parts = []
        self.chars = 0

    def write(self, s):
        self.parts.append(s)
        self.chars += len(s)

    def text(self):
        return "".join(self.parts)


@pytest.mark.parametrize("name", NAMES)
def test_streamed_document_equals_the_one_built_from_a_list(name):
    """The --json document written from the stream (records spooled, late
    facts patched) is byte for byte the document built after the walk from
    collect()'s list, and its records are in the list's order."""
    s = open_session(snap(name))
    analysis = tree.TreeAnalysis(s, tree.TreeOptions.from_args(memtree.parse_args([])))
    sink = tree.ListSink()
    analysis.run(sink)
    nodes = sink.nodes
    # (the keys only the whole walk knows come from the same analysis: schema 1.2)
    listed = rep.dumps(rep.build_report(s, analysis.drivers, nodes, analysis.problems, command="memtree",
                                        extra=rep.analysis_keys(analysis)))
    code, streamed = run(name, "--json")
    assert streamed == listed
    doc = json.loads(streamed)
    assert [o["address"] for o in doc["objects"]] == ["0x%x" % n.address for n in nodes]
    validate_report(doc)


@pytest.mark.parametrize("name", NAMES)
def test_jsonl_objects_in_the_same_order_and_the_same_records(name):
    code, lines = jsonl(name)
    _, doc = run(name, "--json")
    doc = json.loads(doc)
    kinds = [line["record"] for line in lines]
    assert kinds[0] == "report" and kinds[-2:] == ["summary", "triage"]
    # report, objects, allocated lines, problem lines, summary, triage: in that order
    order = {"report": 0, "object": 1, "allocated": 2, "problem": 3, "summary": 4, "triage": 5}
    assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
    objects = [dict((k, v) for k, v in line.items() if k != "record") for line in lines if line["record"] == "object"]
    assert [o["address"] for o in objects] == [o["address"] for o in doc["objects"]]
    # an object line is the document's record, less the facts found after it was written
    late = dict((p["object"], p) for p in (line for line in lines if line["record"] == "problem") if p["object"])
    for got, want in zip(objects, doc["objects"]):
        got_problems = got.pop("problems")
        want_problems = want.pop("problems")
        assert all(p in want_problems for p in got_problems)
        if got_problems != want_problems:
            assert want["address"] in late
        if want.get("lookaside") and got.get("lookaside"):
            got["lookaside"].pop("allocated")
            want["lookaside"].pop("allocated")
        assert got == want
    problems = [dict((k, v) for k, v in line.items() if k not in ("record", "object"))
                for line in lines if line["record"] == "problem"]
    assert problems == doc["problems"]
    fresh = dict((o["address"], o) for o in json.loads(run(name, "--json")[1])["objects"])
    for line in lines:
        if line["record"] == "problem" and line["object"] is not None:
            rec = fresh[line["object"]]
            assert dict((k, v) for k, v in line.items() if k not in ("record", "object")) in rec["problems"]
    tail = lines[-2]
    assert tail["summary"] == doc["summary"] and tail["drivers"] == doc["drivers"]
    # the whole walk's facts: the document's, in the last line
    assert lines[-1] == {"record": "triage", "triage": doc["triage"], "piling": doc["piling"]}


def test_jsonl_late_facts_come_in_later_lines():
    """The leak is counted at the driver after its 10,000 children: its
    object line cannot have it, its problem line names the driver's record."""
    code, lines = jsonl("leak")
    leak = [line for line in lines if line["record"] == "problem" and line["code"] == "LIKELY_LEAK"]
    driver = [line for line in lines if line["record"] == "object"][0]
    assert len(leak) == 1 and leak[0]["object"] == driver["address"] == leak[0]["address"]
    assert not driver["problems"]


def _jsonl_validator():
    import fastjsonschema
    schema = rep.load_schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    line = dict(schema)
    line.update(schema["$defs"]["jsonl_line"])
    for k in ("if", "then"):
        line.pop(k, None)
    line.pop("required", None)
    line.pop("properties", None)
    return fastjsonschema.compile(line)


@pytest.mark.parametrize("name", NAMES)
def test_jsonl_lines_validate(name):
    import jsonschema
    check = _jsonl_validator()
    schema = rep.load_schema()
    code, lines = jsonl(name)
    for i, line in enumerate(lines):
        check(line)
        if i < 200 or line["record"] != "object":
            jsonschema.validate(line, dict(schema["$defs"]["jsonl_line"], **{"$defs": schema["$defs"]}))
    with pytest.raises(Exception):
        check({"record": "object", "address": 12})
    with pytest.raises(Exception):
        check({"record": "nonsense"})


def test_jsonl_shape_is_documented():
    with open(os.path.join(ROOT, "docs", "report.md")) as f:
        text = f.read()
    for record in ("report", "object", "allocated", "problem", "summary", "triage"):
        assert '"record": "%s"' % record in text


def test_text_tree_opens_with_the_headline_and_equals_the_returned_text():
    """The text opens with the triage headline, which says what only the
    whole walk knows (the locks the crashing thread holds, the top
    problems), so the tree's lines are spooled (render/spool.py: bounded
    memory) and written after it, once the walk is done; what goes out is
    what execute() returns."""
    code, whole = run("leak")
    s = open_session(snap("leak"))
    out = Recorder()
    seen = []
    orig = tree.TreeAnalysis._emit

    def spy(self, node, sink, parent_type):
        seen.append(out.chars)
        return orig(self, node, sink, parent_type)

    tree.TreeAnalysis._emit = spy
    try:
        memtree.execute(s, memtree.parse_args([]), out=out)
    finally:
        tree.TreeAnalysis._emit = orig
    assert out.text() == whole
    assert len(seen) == 10003 and seen[-1] == 0
    assert whole.startswith("No bugcheck in this source.\n")
    assert whole.index("LIKELY_LEAK") < whole.index("source: ")


def test_jsonl_streams():
    s = open_session(snap("leak"))
    out = Recorder()
    seen = []
    orig = tree.TreeAnalysis._emit

    def spy(self, node, sink, parent_type):
        seen.append(out.chars)
        return orig(self, node, sink, parent_type)

    tree.TreeAnalysis._emit = spy
    try:
        memtree.execute(s, memtree.parse_args(["--jsonl"]), out=out)
    finally:
        tree.TreeAnalysis._emit = orig
    # each object line is out before the next object is read
    assert all(b > a for a, b in zip(seen[1:], seen[2:]))


@pytest.mark.parametrize("name", NAMES)
def test_per_driver_counts_add_up_to_the_summary(name):
    for argv in (["--json"], ["--json", "--no-symbols"]):
        _, text = run(name, *argv)
        doc = json.loads(text)
        sums = dict((k, sum(d[k] for d in doc["drivers"])) for k in
                    ("objects", "memory_objects", "memory_bytes", "lookasides", "mdls", "problems"))
        for k in ("objects", "memory_objects", "memory_bytes", "lookasides", "mdls"):
            assert sums[k] == doc["summary"][k], (name, k)
        assert sums["problems"] <= doc["summary"]["problems"]
        # and each driver's counts are its records'
        for d in doc["drivers"]:
            mine = [o for o in doc["objects"] if o["globals"] == d["globals"]]
            assert d["objects"] == len(mine)
            assert d["memory_objects"] == sum(1 for o in mine if o["memory"])
            assert d["memory_bytes"] == sum(o["memory"]["length"] or 0 for o in mine if o["memory"])
            assert d["lookasides"] == sum(1 for o in mine if o["lookaside"])
            assert d["mdls"] == sum(len(o["mdls"]) for o in mine)
            assert d["problems"] == sum(len(o["problems"]) for o in mine)
            assert d["kmdf_version"] is None or re.match(r"^\d+\.\d+$", d["kmdf_version"])


def test_kmdf_versions_come_from_the_driver_info_table():
    from wdfdbg.testing.builder import load_truth
    t = load_truth(os.path.join(FIXTURES, "two_drivers.truth.json"))
    _, text = run("two_drivers", "--json")
    got = dict((d["name"], d["kmdf_version"]) for d in json.loads(text)["drivers"])
    want = dict((d["name"], "%d.%d" % tuple(d["version"][:2])) for d in t["drivers"])
    assert got == want


def test_memusage_counts_what_it_reports():
    s = open_session(snap("two_drivers"))
    code, text = memusage.execute(s, memusage.parse_args(["--json"]))
    doc = validate_report(json.loads(text))
    assert all(o["memory"] or o["lookaside"] for o in doc["objects"])
    assert sum(d["objects"] for d in doc["drivers"]) == doc["summary"]["objects"] == len(doc["objects"])
    assert sum(d["memory_bytes"] for d in doc["drivers"]) == doc["memusage"]["total"]["bytes"]


def test_memusage_consumes_the_stream(monkeypatch):
    """memusage aggregates the stream: it never asks for memtree's lists."""
    def no(*a, **k):
        raise AssertionError("memusage asked for the whole list")
    monkeypatch.setattr(memtree, "collect", no)
    monkeypatch.setattr(tree, "collect", no)
    s = open_session(snap("leak"))
    code, text = memusage.execute(s, memusage.parse_args([]))
    assert "Leak" in text


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("use_symbols", [True, False])
def test_fast_record_encoder_is_the_reference(name, use_symbols):
    s = open_session(snap(name), use_symbols=use_symbols)
    _, nodes, _ = memtree.collect(s, memtree.parse_args([]))
    for n in nodes:
        assert rep.encode_object(s, n) == rep.dumps(rep.object_record(s, n))


def test_record_memory_is_lean_and_the_memory_command_keeps_everything():
    from wdfdbg import memory as memcmd
    code, text = run("typical", "--json")
    doc = json.loads(text)
    mem = [o for o in doc["objects"] if o["memory"]]
    assert mem
    for o in mem:
        assert not set(o["memory"]) & set(rep.MEMORY_OBJECT_KEYS)
    o = mem[0]
    s = open_session(snap("typical"))
    _, one = memcmd.execute(s, memcmd.parse_args([snap("typical"), o["handle"], "--json"]))
    one = json.loads(one)
    assert one["memory"]["object"] == o["address"] and one["memory"]["handle"] == o["handle"]
    assert one["memory"]["class"] == o["class"] and one["memory"]["object_size"] == o["object_size"]
    assert not set(one["objects"][0]["memory"]) & set(rep.MEMORY_OBJECT_KEYS)
    assert doc["schema"] == "wdfdbg.report/1" and doc["schema_version"] == rep.SCHEMA_VERSION == "1.2"


def test_spooled_to_a_file_the_document_is_the_same(monkeypatch):
    """A spool small enough to go to its temporary file gives the same bytes."""
    _, whole = run("leak", "--json")
    from wdfdbg.render import spool
    monkeypatch.setattr(spool, "MAX_MEMORY", 4096)
    monkeypatch.setattr(spool, "BLOCK", 1000)
    monkeypatch.setattr(spool, "CHUNK", 777)
    s = open_session(snap("leak"))
    out = io.StringIO()
    w = rep.JsonReportWriter(s, out, command="memtree", max_memory=4096)
    tree.TreeAnalysis(s, tree.TreeOptions()).run(w)
    assert out.getvalue().rstrip("\n") == whole
    s = open_session(snap("corrupt"))
    out = io.StringIO()
    w = rep.JsonReportWriter(s, out, command="memtree", max_memory=2000)
    tree.TreeAnalysis(s, tree.TreeOptions()).run(w)
    assert out.getvalue().rstrip("\n") == run("corrupt", "--json")[1]


def test_spool_full_disk_is_one_clear_error(monkeypatch):
    import tempfile
    from wdfdbg.errors import InputError
    from wdfdbg.render.spool import Spool

    class Full(object):
        def write(self, s):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", lambda **k: Full())
    sp = Spool(max_memory=10)
    with pytest.raises(InputError) as e:
        for i in range(10):
            sp.write_line("x" * 10)
    assert "No space left" in str(e.value)


# -- memory does not grow with the object count ------------------------------------------
def _peak(n):
    """tracemalloc peak of a streamed memtree --jsonl over a leak heap of n
    children (the heap is built before tracing starts: the source is not
    counted, only what the analysis keeps)."""
    from wdfdbg.decoders.memory import shape_classifier
    from wdfdbg.testing import build
    backend = build("leak", n=n).backend()
    target = Target(backend)
    s = Session(target, Layouts(target), "snapshot", None, "synthetic", shape_classifier=shape_classifier)
    args = memtree.parse_args(["--jsonl"])

    class Null(object):
        def write(self, x):
            pass

    s.layouts.get("Wdf01000!FxObject")
    gc.collect()  # the build's garbage is not the analysis's
    tracemalloc.start()
    try:
        memtree.execute(s, args, out=Null())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_independent_of_the_object_count():
    """Doubling the objects (4,000 -> 8,000 children of one driver) grows the
    analysis's peak by the compact aggregates only (the walk's bitmaps, the
    problem index, the page cache's views: about 65 bytes an object here),
    under 128 bytes per added object; a list of decoded nodes costs about
    1.5 KB an object."""
    _peak(200)  # imports and one-time layout work out of the way
    a = _peak(4000)
    b = _peak(8000)
    assert 0 < b - a < 4000 * 128, (a, b, (b - a) / 4000.0)


# -- the Session's cache -------------------------------------------------------------------
def test_nothing_outside_session_py_sets_private_session_attributes():
    """Caches live on the Session in the open (Session.derived), not as
    attributes hung on it from outside."""
    bad = []
    pattern = re.compile(r"\bsession\._[A-Za-z]\w*\s*=[^=]")
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "wdfdbg")):
        for f in files:
            if f.endswith(".py") and not (f == "session.py" and folder.endswith("wdfdbg")):
                path = os.path.join(folder, f)
                with open(path) as fh:
                    for i, line in enumerate(fh, 1):
                        if pattern.search(line) and "def _context_type" not in line:
                            bad.append("%s:%d" % (os.path.relpath(path, ROOT), i))
    # decoders/objects.py _context_type (context decoding, being replaced by
    # decoders/contexts.py, which caches per session by weak reference) is
    # the one left
    assert [b for b in bad if not b.startswith("wdfdbg/decoders/objects.py")] == []
    assert len(bad) <= 1


def test_derived_facts_compute_once_and_retry_after_a_failure():
    from wdfdbg.session import DerivedFacts
    d = DerivedFacts()
    calls = []

    def compute():
        calls.append(1)
        return len(calls)
    assert d.get(("k",), compute) == 1 and d.get(("k",), compute) == 1 and len(calls) == 1

    def fails():
        raise ValueError("no layout")
    with pytest.raises(ValueError):
        d.get("x", fails)
    assert d.get("x", lambda: 7) == 7
    t = d.table("vtable_classes")
    t[1] = "FxObject"
    assert d.table("vtable_classes") is t
    d.clear()
    assert d.table("vtable_classes") == {}


def test_address_set_is_a_set():
    from wdfdbg.decoders.codec import AddressSet
    rnd = random.Random(9)
    ref = set()
    s = AddressSet()
    for _ in range(5000):
        a = rnd.choice([0xffffc08b00000000 + rnd.randrange(0, 1 << 20) * 8, rnd.randrange(0, 1 << 64),
                        0xffffc08b00001000 + rnd.randrange(0, 64)])
        assert (a in s) == (a in ref)
        s.add(a)
        ref.add(a)
        assert a in s and len(s) == len(ref)
