"""``memtree --format dot|svg``: every fixture's graph is laid out by
Graphviz's real ``dot -Tsvg`` (Debian's graphviz package; skipped with the
reason when it is not installed), one node per object, problems in red, one
cluster per driver, collapsing beyond ``--depth`` and wide fan-outs into
count nodes whose counts add up."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from cmdhelpers import fixture, run
from wdfdbg import memtree
from wdfdbg.render.dot import DotGraph, quote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
FIXTURES = ["typical", "two_drivers", "leak", "corrupt"]
REAL_X64 = os.path.join(os.path.dirname(ROOT), "shared", "dumps", "triage_x64.dmp")


def graph(argv):
    code, text = run(memtree, list(argv) + ["--format", "dot"])
    assert text.startswith("digraph wdfdbg {") and text.rstrip().endswith("}")
    return code, text


def layout(dot_text):
    p = subprocess.run([DOT, "-Tsvg"], input=dot_text.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    assert p.returncode == 0, p.stderr.decode()[:500]
    assert not p.stderr.strip(), p.stderr.decode()[:500]  # no syntax warnings either
    return p.stdout.decode()


def report(argv):
    _, text = run(memtree, list(argv) + ["--json"])
    return json.loads(text)


def nodes_in(svg):
    return re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]+)</title>', svg)


@needs_dot
@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_lays_out(name):
    path = fixture(name, "wdfsnap.json.gz")
    _, text = graph([path])
    svg = layout(text)
    objects = report([path])["objects"]
    shown = [t for t in nodes_in(svg) if t.startswith("o")]
    more = re.findall(r"\+([\d,]+) objects", text)
    # every object is a node or counted in a count node
    assert len(shown) + sum(int(m.replace(",", "")) for m in more) == len(objects)
    if len(objects) <= 50:
        assert len(shown) == len(objects)


@needs_dot
def test_typical_one_node_per_object_with_type_class_handle():
    path = fixture("typical", "wdfsnap.json.gz")
    _, text = graph([path])
    svg = layout(text)
    objects = report([path])["objects"]
    assert len(nodes_in(svg)) >= len(objects)
    for o in objects:
        label_key = o["handle"] or "object %s" % o["address"]
        assert "%s\\n%s\\n%s" % (o["wdf_type"], o["class"], label_key) in text
    # parent -> child edges: one per non-root object
    assert len(re.findall(r"^  o\d+ -> o\d+;$", text, re.M)) == sum(1 for o in objects if o["parent"])
    assert text.count("subgraph cluster_") == 1 and "driver AmdPPM (tag 'AmdP')" in text


def test_problems_are_red_and_clusters_per_driver():
    _, text = graph([fixture("corrupt", "wdfsnap.json.gz")])
    red = re.findall(r'^    o\d+ \[label="([^"]*)".*color="#c00000"', text, re.M)
    assert len(red) >= 3 and all("! " in label for label in red)
    assert "CHILD_LIST_CYCLE" in text and "PARENT_MISMATCH" in text
    _, text = graph([fixture("two_drivers", "wdfsnap.json.gz")])
    labels = re.findall(r"subgraph cluster_\d+ \{\n    label=\"([^\"]+)\"", text)
    assert sorted(labels) == ["driver AmdPPM (tag 'AmdP')", "driver Wdfsample (tag 'Wsmp')"]


def test_depth_collapses_into_count_nodes():
    path = fixture("typical", "wdfsnap.json.gz")
    objects = report([path])["objects"]
    _, text = graph([path, "--depth", "1"])
    shown = re.findall(r"^    o\d+ \[", text, re.M)
    assert len(shown) == sum(1 for o in objects if o["depth"] <= 1)
    hidden = sum(int(m.replace(",", "")) for m in re.findall(r"\+([\d,]+) objects", text))
    assert hidden == sum(1 for o in objects if o["depth"] > 1)
    assert re.search(r"^  o\d+ -> more\d+ \[style=dotted\];$", text, re.M)


def test_wide_fan_out_is_collapsed_but_problems_stay():
    out = []
    g = DotGraph(out.append, max_children=3)
    g.on_object({"address": "0x1000", "depth": 0, "wdf_type": "WDFDRIVER", "driver": "D", "problems": []})
    for k in range(10):
        problems = [{"code": "MDL_INCONSISTENT", "severity": "error", "address": "0x1", "message": "m"}] if k == 7 else []
        g.on_object({"address": "0x%x" % (0x2000 + k * 0x100), "parent": "0x1000", "depth": 1, "wdf_type": "WDFMEMORY",
                     "driver": "D", "handle": "0x%x" % (0x9000 + k), "problems": problems})
    g.close()
    text = "".join(out)
    assert len(re.findall(r"^    o\d+ \[", text, re.M)) == 1 + 3 + 1  # driver, first 3 children, the problem one
    assert "+6 objects\\n6 WDFMEMORY" in text
    assert "o8 [" in text and "MDL_INCONSISTENT" in text


def test_labels_are_quoted():
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    out = []
    g = DotGraph(out.append)
    g.on_object({"address": "0x10", "depth": 0, "wdf_type": "WDF\"X", "class": "C\\l", "driver": 'q"}', "problems": []})
    g.close()
    if DOT:
        layout("".join(out))


@needs_dot
def test_format_svg_and_json():
    path = fixture("typical", "wdfsnap.json.gz")
    code, svg = run(memtree, [path, "--format", "svg"])
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and len(nodes_in(svg)) >= 26
    _, a = run(memtree, [path, "--format", "json"])
    _, b = run(memtree, [path, "--json"])
    assert a == b


def test_svg_without_dot_is_one_clear_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, PATH=str(tmp_path))
    env.pop("WDFDBG_DEBUG", None)
    p = subprocess.run([sys.executable, "-m", "wdfdbg.cli", "memtree", fixture("typical", "wdfsnap.json.gz"),
                        "--format", "svg"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    err = p.stderr.decode().strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1, err
    assert "Graphviz" in err and "dot" in err and not p.stdout.strip()


@needs_dot
def test_real_triage_dump_lays_out():
    if not os.path.exists(REAL_X64):
        pytest.skip("../shared/dumps/triage_x64.dmp is absent")
    _, text = graph([REAL_X64])
    svg = layout(text)
    assert len([t for t in nodes_in(svg) if t.startswith("o")]) == len(report([REAL_X64])["objects"])


def test_scan_parents_found_by_address_never_make_a_cycle():
    """Scan records (depth 0) name parents by address, later in the stream or
    not at all; two objects naming each other (lying memory) stay roots."""
    from wdfdbg.analysis.objtree import TreeIndex
    recs = [{"address": "0x100", "parent": "0x300", "depth": 0},   # parent comes later
            {"address": "0x200", "parent": "0x999", "depth": 0},   # parent not captured
            {"address": "0x300", "parent": None, "depth": 0},
            {"address": "0x400", "parent": "0x500", "depth": 0},   # 0x400 <-> 0x500
            {"address": "0x500", "parent": "0x400", "depth": 0},
            {"address": "0x600", "parent": "0x600", "depth": 0}]   # its own parent
    t = TreeIndex()
    for r in recs:
        t.add(r)
    t.finish()
    parents = list(t.parents)
    assert parents[0] == 2 and parents[1] == -1 and parents[2] == -1 and parents[5] == -1
    assert sorted([parents[3], parents[4]]) in ([-1, 3], [-1, 4])  # one link kept, the cycle-closing one refused
    out = []
    g = DotGraph(out.append)
    for r in recs:
        g.on_object(dict(r, wdf_type="WDFOBJECT", driver="D", problems=[]))
    g.close()
    text = "".join(out)
    assert "o2 -> o0 [style=dashed]" in text
    if DOT:
        layout(text)
