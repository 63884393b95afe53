"""``wdfdbg diff``: two snapshots built at test time with the public builder
API (the ``leak`` scenario at two sizes: the second holds 500 more WDFMEMORY
children of the driver), the diff document checked against its schema, the
text naming the driver and the +500, new/vanished objects by address, and
bad input as one line."""

import json
import os
import subprocess
import sys

import pytest

from wdfdbg import diff as diffcmd
from wdfdbg.analysis.diff import Side, compare, schema_path
from wdfdbg.render.reportreader import ReportReader
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.testing import build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def leak_pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    paths = []
    for n in (1000, 1500):
        path = str(d / ("leak-%d.wdfsnap.json.gz" % n))
        snapfmt.save(build("leak", n=n).document(), path)
        paths.append(path)
    return paths


def validate(doc):
    import jsonschema
    with open(schema_path()) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema)
    return doc


def run(argv):
    args = diffcmd.parse_args(argv)
    return diffcmd.execute(None, args)


def test_diff_names_the_driver_and_the_500(leak_pair):
    code, text = run(leak_pair)
    assert code == 0
    lines = text.splitlines()
    head = [l for l in lines if l.startswith("Driver ")]
    assert head and head[0].startswith("Driver LeakDrv: objects 1,003 -> 1,503 (+500)")
    row = [l for l in lines if "WDFMEMORY" in l and "Leak" in l and "+500" in l]
    assert row, text
    assert row[0].split()[:3] == ["WDFDRIVER", "WDFMEMORY", "Leak"]
    assert "500 new WDFMEMORY under WDFDRIVER" in text
    assert "None" not in text and "'?'" not in text


def test_diff_json_counts_and_addresses(leak_pair):
    code, out = run(leak_pair + ["--json"])
    doc = validate(json.loads(out))
    assert doc["schema"] == "wdfdbg.diff/1"
    top = doc["drivers"][0]
    assert top["name"] == "LeakDrv"
    g = top["groups"][0]  # biggest growth first
    assert (g["parent_type"], g["child_type"], g["pool_tag"]) == ("WDFDRIVER", "WDFMEMORY", "Leak")
    assert g["objects"] == {"before": 1000, "after": 1500, "change": 500}
    assert g["bytes"]["change"] > 0 and g["bytes"]["after"] - g["bytes"]["before"] == g["bytes"]["change"]
    assert len(g["new"]) == 500 and g["vanished"] == []
    assert doc["summary"]["new"] == 500 and doc["summary"]["objects"]["change"] == 500
    # the 500 new addresses are exactly the records only the second report has
    reports = []
    for path in leak_pair:
        from wdfdbg import memtree
        from cmdhelpers import run as run_cmd
        _, text = run_cmd(memtree, [path, "--json"])
        reports.append(set(o["address"] for o in json.loads(text)["objects"]))
    assert set(g["new"]) == reports[1] - reports[0]
    # every other group is unchanged
    assert all(x["objects"]["change"] == 0 for x in top["groups"][1:])


def test_diff_reversed_shows_vanished(leak_pair):
    _, out = run([leak_pair[1], leak_pair[0], "--json"])
    doc = validate(json.loads(out))
    g = [g for g in doc["drivers"][0]["groups"] if g["child_type"] == "WDFMEMORY"][0]
    assert g["objects"]["change"] == -500 and len(g["vanished"]) == 500 and g["new"] == []


def test_diff_of_a_report_json_and_a_snapshot(leak_pair, tmp_path):
    """A saved ``memtree --json`` report is a side too (pipelines keep those)."""
    from wdfdbg import memtree
    from cmdhelpers import run as run_cmd
    _, text = run_cmd(memtree, [leak_pair[0], "--json"])
    saved = tmp_path / "before.json"
    saved.write_text(text)
    _, out = run([str(saved), leak_pair[1], "--json"])
    doc = validate(json.loads(out))
    assert doc["drivers"][0]["groups"][0]["objects"]["change"] == 500


def test_diff_of_saved_jsonl_streams_equals_the_diff_of_the_snapshots(leak_pair, tmp_path):
    """A saved ``memtree --jsonl`` stream is a side too, gzip or not."""
    import gzip
    from wdfdbg import memtree
    from cmdhelpers import run as run_cmd
    _, text = run_cmd(memtree, [leak_pair[0], "--jsonl"])
    plain = tmp_path / "before.jsonl"
    plain.write_text(text + "\n")
    _, text = run_cmd(memtree, [leak_pair[1], "--jsonl"])
    packed = tmp_path / "after.jsonl.gz"
    packed.write_bytes(gzip.compress((text + "\n").encode()))
    _, want = run(leak_pair + ["--json"])
    _, got = run([str(plain), str(packed), "--json"])
    a, b = json.loads(want), validate(json.loads(got))
    for doc in (a, b):
        for side in ("before", "after"):
            doc[side].pop("source")  # the paths differ
    assert a == b


def test_diff_driver_filter_and_mixed_growth():
    """Sides aggregated straight from report records: the bulk scenario at
    two sizes grows in three groups; --driver keeps only that driver."""
    from wdfdbg import memtree
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    sides = []
    for label, n in (("before", 400), ("after", 700)):
        target = Target(build("bulk", n_objects=n, group_size=0).backend())
        session = Session(target, Layouts(target), "snapshot", None, "synthetic")
        side = Side(label)
        reader = ReportReader(side.on_key, side.on_object)
        memtree.execute(session, memtree.parse_args(["--json"]), out=reader)
        reader.close()
        side.finish()
        sides.append(side)
    doc = validate(compare(*sides))
    d = doc["drivers"][0]
    assert d["name"] == "BulkDrv" and d["objects"]["change"] == 300
    grown = [g for g in d["groups"] if g["objects"]["change"] > 0]
    assert sum(g["objects"]["change"] for g in grown) == 300
    assert [g["bytes"]["change"] for g in d["groups"]] == sorted((g["bytes"]["change"] for g in d["groups"]),
                                                                  reverse=True)
    assert set((g["child_type"], g["pool_tag"]) for g in grown) == {("WDFMEMORY", "BlkM"), ("WDFOBJECT", None),
                                                                    ("WDFMEMORY", "BlkP")}


def test_diff_two_drivers_filter(tmp_path):
    path = os.path.join(ROOT, "fixtures", "two_drivers.wdfsnap.json.gz")
    if not os.path.exists(path):
        pytest.skip("fixture two_drivers is missing")
    code, out = run([path, path, "--json", "--driver", "wdfsample"])
    doc = validate(json.loads(out))
    assert [d["name"] for d in doc["drivers"]] == ["Wdfsample"]
    assert doc["summary"]["objects"]["change"] == 0 and doc["summary"]["new"] == 0
    code, text = run([path, path])
    assert "no change" in text


def test_diff_cli_bad_input_is_one_line(tmp_path, leak_pair):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "wdfdbg.report/1", "objects": [1, 2')
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("WDFDBG_DEBUG", None)
    for argv in ([str(bad), leak_pair[0]], [str(tmp_path / "absent"), leak_pair[0]], [leak_pair[0]]):
        p = subprocess.run([sys.executable, "-m", "wdfdbg.cli", "diff"] + argv, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        err = p.stderr.decode()
        assert p.returncode == 2, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "internal error" not in err, err


def test_diff_command_module_is_thin():
    for name in ("diff.py", "report.py"):
        with open(os.path.join(ROOT, "wdfdbg", name)) as f:
            assert len(f.read().splitlines()) <= 150, name


def test_live_target_is_after_inside_windbg(leak_pair):
    """``!py -m wdfdbg.diff SNAPSHOT``: AFTER is the debugger's target (here
    the snapshot-backed pykd stand-in, wdfdbg.testing.fake_pykd)."""
    from wdfdbg.testing.fake_pykd import fake_pykd
    with fake_pykd(leak_pair[1]):
        code, out = run([leak_pair[0], "--json"])
    doc = validate(json.loads(out))
    assert doc["after"]["source"]["kind"] == "pykd"
    g = doc["drivers"][0]["groups"][0]
    assert g["child_type"] == "WDFMEMORY" and g["objects"]["change"] == 500
