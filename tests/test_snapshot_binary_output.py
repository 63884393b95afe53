"""``wdfdbg snapshot`` and ``wdfdbg record`` write the binary snapshot
container when OUT ends in ``.bin`` (docs/snapshot-binary.md): a dump or
snapshot cut as a container gives the same ``memtree --json`` as the same
cut as a JSON snapshot; a JSON snapshot converts to a container and back;
the write is atomic, never over an input, and a compressed container name
is refused before any work."""

import os
import shutil
import subprocess
import sys

import pytest

from cmdhelpers import ROOT, fixture, run_json
from conftest import DUMPS
from wdfdbg import memtree, record, snapshot
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources import snapshot_binary as sb

TYPICAL = fixture("typical", "wdfsnap.json.gz")
REAL_X64 = os.path.join(DUMPS, "triage_x64.dmp")
need_real = pytest.mark.skipif(not os.path.isfile(REAL_X64), reason="../shared/dumps/triage_x64.dmp is absent")
needs_prlimit = pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) is not installed")


def memtree_json(path):
    """memtree --json on ``path`` (schema-checked), without the path itself."""
    code, doc = run_json(memtree, [path])
    assert doc["source"].pop("path") == path
    return code, doc


def is_container(path):
    with open(path, "rb") as f:
        return sb.looks_like_container(f.read(8))


def cut_both(tmp_path, source, *extra):
    """The same ``snapshot`` cut as a JSON snapshot and as a container."""
    js, cont = str(tmp_path / "cut.wdfsnap.json.gz"), str(tmp_path / "cut.wdfsnap.bin")
    assert snapshot.main([source, "-o", js] + list(extra)) == 0
    assert snapshot.main([source, "-o", cont] + list(extra)) == 0
    assert is_container(cont) and not is_container(js)
    return js, cont


def load_any(path):
    return sb.load(path) if is_container(path) else snapfmt.load(path)


def same_memory(a, b):
    """Do the snapshots at ``a`` and ``b`` hold the same ranges, byte for byte?"""
    return [(x, bytes(d)) for x, d in load_any(a).memory] == [(x, bytes(d)) for x, d in load_any(b).memory]


@need_real
def test_a_real_dump_cut_as_a_container_reports_as_its_json_cut(tmp_path):
    js, cont = cut_both(tmp_path, REAL_X64)
    want = memtree_json(js)
    assert want[1]["summary"]["objects"] > 0
    assert memtree_json(cont) == want
    assert same_memory(js, cont)


def test_a_fixture_cut_as_a_container_reports_as_its_json_cut(tmp_path):
    js, cont = cut_both(tmp_path, TYPICAL)
    want = memtree_json(js)
    assert want[1]["summary"]["memory_objects"] > 0
    assert memtree_json(cont) == want
    assert same_memory(js, cont)


def test_a_json_snapshot_converts_to_a_container_and_back(tmp_path):
    cont, back = str(tmp_path / "t.wdfsnap.bin"), str(tmp_path / "back.wdfsnap.json.gz")
    assert snapshot.main([TYPICAL, "--all", "-o", cont]) == 0
    assert snapshot.main([cont, "--all", "-o", back]) == 0
    assert is_container(cont)
    want = memtree_json(TYPICAL)
    assert memtree_json(cont) == want and memtree_json(back) == want
    assert same_memory(TYPICAL, cont) and same_memory(TYPICAL, back)


def test_record_writes_a_container(tmp_path, capsys):
    js, cont = str(tmp_path / "r.wdfsnap.json"), str(tmp_path / "r.wdfsnap.bin")
    assert record.main([js, "--", "memtree", TYPICAL, "--json"]) == 0
    assert record.main([cont, "--", "memtree", TYPICAL, "--json"]) == 0
    capsys.readouterr()
    assert is_container(cont) and not is_container(js)
    want = memtree_json(js)
    assert memtree_json(cont) == want
    assert same_memory(js, cont)


def test_an_empty_cut_is_a_valid_container(tmp_path):
    out = str(tmp_path / "empty.wdfsnap.bin")
    assert snapshot.main([TYPICAL, "--no-analysis", "-o", out]) == 0
    snap = sb.load(out)
    modules = [(m.name, m.base, m.size) for m in snap.modules]
    assert snap.memory == [] and modules
    assert modules == [(m.name, m.base, m.size) for m in snapfmt.load(TYPICAL).modules]


def test_a_compressed_container_name_is_refused_before_the_work(tmp_path, monkeypatch, capsys):
    def no_work(args):
        raise AssertionError("the analysis ran before the output name was checked")
    monkeypatch.setattr(snapshot, "build", no_work)
    out = str(tmp_path / "x.wdfsnap.bin.gz")
    assert snapshot.main([TYPICAL, "-o", out]) == 2
    assert record.main([out, "--", "info", TYPICAL]) == 2
    out_text, err = capsys.readouterr()
    assert out_text == "" and err.count("a binary snapshot container is not compressed") == 2
    assert not os.path.exists(out)


def test_a_container_is_never_written_over_its_input(tmp_path, capsys):
    cont = str(tmp_path / "in.wdfsnap.bin")
    assert snapshot.main([TYPICAL, "-o", cont]) == 0
    before = open(cont, "rb").read()
    link = str(tmp_path / "link.wdfsnap.bin")
    os.symlink(cont, link)
    capsys.readouterr()
    assert snapshot.main([cont, "-o", cont, "--force"]) == 2
    assert snapshot.main([cont, "-o", link, "--force"]) == 2
    assert record.main([link, "--force", "--", "info", cont]) == 2
    err = capsys.readouterr()[1]
    assert err.count("refusing to overwrite an input") == 3, err
    assert open(cont, "rb").read() == before


@needs_prlimit
def test_a_failed_container_write_leaves_out_as_it_was(tmp_path):
    """A file-size limit stops the container part way (its ranges start
    4 KiB apart, so 6,000 bytes is inside it): exit 2, one line, OUT as it
    was, no temporary file left."""
    out = tmp_path / "out.wdfsnap.bin"
    out.write_bytes(b"old\n")
    before = sorted(os.listdir(str(tmp_path)))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for argv in (["snapshot", TYPICAL, "-o", str(out), "--force"],
                 ["record", str(out), "--force", "--", "memtree", TYPICAL]):
        p = subprocess.run(["prlimit", "--fsize=6000", sys.executable, "-m", "wdfdbg"] + argv, cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 2 and "cannot write %s: File too large" % out in err, err
        assert "Traceback" not in err and err.count("\n") == 1, err
        assert out.read_bytes() == b"old\n" and sorted(os.listdir(str(tmp_path))) == before
