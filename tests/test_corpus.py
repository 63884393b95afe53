"""``wdfdbg corpus`` and the generated corpus (``wdfdbg.testing.corpus``).

On a generated corpus (snapshots of several drivers and sizes, leaks,
corrupt lists, 0x10D variants, garbage, truncated files, the real triage
dumps when present) every record has the status the generator expects,
and signatures neither lump (two bug families in one bucket) nor spray
(one family over two buckets). The corpus summary validates against
``corpus.schema.json`` and its numbers add up to the records'.
"""

import json
import os

import jsonschema
import pytest

from conftest import DUMPS
from wdfdbg import corpus as corpus_cmd
from wdfdbg.batch import main as batch_main


def corpus_schema():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(corpus_cmd.__file__))), "wdfdbg", "data",
                        "corpus.schema.json")
    with open(path) as f:
        return json.load(f)


def corpus_json(path, capsys=None):
    """``wdfdbg corpus PATH --json``, validated."""
    from wdfdbg.batch.aggregate import summarize
    doc = summarize(path).to_json()
    jsonschema.validate(doc, corpus_schema())
    return doc


def check_totals(doc, records):
    """Every number of the summary is the sum over the (last) records."""
    last = {}
    for r in records:
        last[r["path"]] = r
    recs = list(last.values())
    assert doc["records"] == len(records) and doc["superseded"] == len(records) - len(recs)
    assert doc["dumps"] == len(recs) == sum(doc["by_status"].values())
    for status in doc["by_status"]:
        assert doc["by_status"][status] == sum(1 for r in recs if r["status"] == status)
    for key in doc["totals"]:
        assert doc["totals"][key] == sum((r["summary"] or {}).get(key, 0) for r in recs), key
    drivers = dict((d["name"], d) for d in doc["drivers"])
    for key in ("objects", "memory_objects", "memory_bytes", "lookasides", "mdls", "problems"):
        assert sum(d[key] for d in doc["drivers"]) == sum(x[key] for r in recs for x in r["drivers"]), key
    for name, d in drivers.items():
        mine = [x for r in recs for x in r["drivers"] if x["name"] == name]
        assert d["dumps"] == len(mine)
        assert d["objects"] == sum(x["objects"] for x in mine)
        codes = {}
        for x in mine:
            for c, n in x["problem_counts"].items():
                codes[c] = codes.get(c, 0) + n
        assert d["problem_counts"] == codes
        assert d["kmdf_versions"] == sorted(set(x["kmdf_version"] for x in mine if x["kmdf_version"]),
                                            key=lambda v: [int(p) for p in v.split(".")])
        top = d["outliers"]["objects"]
        assert len(top) <= 5 and [t["objects"] for t in top] == sorted((x["objects"] for x in mine), reverse=True)[:5]
    sigs = dict((s["signature"], s["dumps"]) for s in doc["signatures"])
    assert sum(sigs.values()) == sum(1 for r in recs if r["signature"])
    for s, n in sigs.items():
        assert n == sum(1 for r in recs if r["signature"] == s)
    for p in doc["problems"]:
        assert p["dumps"] == sum(1 for r in recs if p["code"] in r["problem_counts"])
        assert p["occurrences"] == sum(r["problem_counts"].get(p["code"], 0) for r in recs)
    # the summary's records are a sum of the records' own: drivers hold every object
    for r in recs:
        if r["summary"]:
            assert sum(x["objects"] for x in r["drivers"]) == r["summary"]["objects"], r["path"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from test_batch import read_records
    from wdfdbg.testing.corpus import generate
    top = tmp_path_factory.mktemp("generated")
    folder = str(top / "corpus")
    entries = generate(folder, n=70, seed=7, big_objects=0, real_dumps=DUMPS if os.path.isdir(DUMPS) else "")
    out = str(top / "out.jsonl")
    code = batch_main([folder, "-o", out, "--jobs", "2", "--timeout", "60"])
    return {"entries": entries, "out": out, "code": code, "records": read_records(out)}


def test_every_generated_input_gets_its_expected_status(generated):
    expect = dict((e.path, e.expect) for e in generated["entries"] if e.expect != "skipped")
    got = dict((r["path"], r["status"]) for r in generated["records"])
    assert any(e.expect == "skipped" for e in generated["entries"])  # garbage without magic: left out
    assert len(generated["records"]) == len(expect)
    assert got == expect
    kinds = set(e.kind for e in generated["entries"])
    assert {"clean", "leak", "cycle", "blink", "garbage", "truncated", "10d-handle-memory", "10d-handle-request",
            "10d-object-error", "10d-request-fatal"} <= kinds
    assert generated["code"] == 1


def test_signatures_neither_lump_nor_spray(generated):
    family = dict((e.path, e.family) for e in generated["entries"])
    by_family, by_signature = {}, {}
    for r in generated["records"]:
        f = family[r["path"]]
        if f is None:
            assert r["signature"] is None  # no analysis, no bucket
            continue
        by_family.setdefault(f, set()).add(r["signature"])
        by_signature.setdefault(r["signature"], set()).add(f)
    sprayed = dict((f, s) for f, s in by_family.items() if len(s) > 1)
    lumped = dict((s, f) for s, f in by_signature.items() if len(f) > 1)
    assert not sprayed and not lumped, (sprayed, lumped)
    # the test means something: families with several (different) heaps, several families per driver
    members = {}
    for e in generated["entries"]:
        if e.family:
            members[e.family] = members.get(e.family, 0) + 1
    assert sum(1 for n in members.values() if n >= 2) >= 4, members
    assert len(by_family) >= 12
    sig = dict((r["path"], r["signature"]) for r in generated["records"])
    for e in generated["entries"]:
        if e.family and e.family.startswith("10d-handle-memory:"):
            assert sig[e.path] == "0x10D/INVALID_HANDLE/%s/%s/WDFMEMORY" % (
                e.family.split(":")[1], {"AmdPPM": "1.15", "Wdfsample": "1.31", "UsbHubX": "1.33", "NetAdptr": "1.27",
                                         "SerCxTwo": "1.19"}[e.family.split(":")[1]])
        if e.family == "clean":
            assert sig[e.path] == "NONE/-/-/-/-"


def test_generated_corpus_summary_adds_up(generated):
    doc = corpus_json(generated["out"])
    check_totals(doc, generated["records"])
    assert doc["by_status"]["unreadable"] == sum(1 for e in generated["entries"] if e.expect == "unreadable")


def test_corpus_text_and_json_commands(generated, capsys):
    assert corpus_cmd.main([generated["out"]]) == 0
    text = capsys.readouterr().out
    assert text.startswith("corpus: %s: %d dumps" % (generated["out"], len(generated["records"])))
    for head in ("driver", "signature", "problem", "most objects"):
        assert head in text
    assert "None" not in text and "'?'" not in text
    assert corpus_cmd.main([generated["out"], "--by", "signature"]) == 0
    text = capsys.readouterr().out
    assert "signature" in text and "most objects" not in text and "occurrences" not in text
    assert corpus_cmd.main([generated["out"], "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "wdfdbg.corpus/1" and doc == corpus_json(generated["out"])


def test_corpus_counts_a_redone_path_once_and_skips_bad_lines(tmp_path, generated):
    out = tmp_path / "twice.jsonl"
    lines = open(generated["out"]).read().splitlines()
    out.write_text("\n".join(lines + ["not json", '{"schema": "something else"}'] + lines[:3]) + "\n")
    from test_batch import read_records
    doc = corpus_json(str(out))
    assert doc["unparsed_lines"] == 2 and doc["superseded"] == 3 and doc["dumps"] == len(lines)
    recs = [json.loads(line) for line in lines] + [json.loads(line) for line in lines[:3]]
    check_totals(doc, recs)
    assert read_records(generated["out"])  # the original is untouched and valid


def test_corpus_of_an_unreadable_file_is_one_line(tmp_path, capsys):
    assert corpus_cmd.main([str(tmp_path / "absent.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open" in err


def test_generator_is_deterministic(tmp_path):
    from wdfdbg.testing.corpus import generate
    a = generate(str(tmp_path / "a"), n=12, seed=3, big_objects=0, real_dumps="")
    b = generate(str(tmp_path / "b"), n=12, seed=3, big_objects=0, real_dumps="")
    assert [(os.path.basename(e.path), e.kind, e.family) for e in a] == \
        [(os.path.basename(e.path), e.kind, e.family) for e in b]
    for x, y in zip(a, b):
        with open(x.path, "rb") as f, open(y.path, "rb") as g:
            assert f.read() == g.read()
