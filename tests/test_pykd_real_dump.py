"""Proof on real bytes: the Windows 10 triage dump cut with ``wdfdbg snapshot
--all`` and replayed through the strict pykd stand-in and the pykd-ext
runner gives the offline reader's objects and text, at a bounded number of
``loadBytes`` calls. Skips when ``../shared/dumps`` is absent."""

import io
import json
import os
import sys

import pytest

from wdfdbg import cli
from wdfdbg.testing import pykd_ext
from wdfdbg.testing.fake_pykd import fake_pykd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUMP = os.path.join(os.path.dirname(ROOT), "shared", "dumps", "triage_x64.dmp")

pytestmark = pytest.mark.skipif(not os.path.isfile(DUMP), reason="../shared/dumps/triage_x64.dmp is absent")


def cli_run(argv):
    saved = sys.stdout
    sys.stdout = buf = io.StringIO()
    try:
        cli.main(list(argv))
    finally:
        sys.stdout = saved
    return buf.getvalue()


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("triage") / "triage_all.wdfsnap.json.gz")
    saved = sys.stderr
    sys.stderr = io.StringIO()
    try:
        assert cli.main(["snapshot", DUMP, "-o", out, "--all"]) == 0
    finally:
        sys.stderr = saved
    return out


def distinct_pages(path, argv):
    """Pages the analysis touches (a snapshot target without read-ahead
    makes one backend read per distinct page)."""
    from wdfdbg.session import open_session
    from wdfdbg import memtree
    s = open_session(path)
    memtree.execute(s, memtree.parse_args([path] + argv), out=io.StringIO())
    return s.target.backend_reads


# the headline's "this source" lines say what kind of source it is (a
# triage dump read from its file, or a dump the debugger has open)
HEADLINE_SOURCE = ("  this source:", "    it holds:", "    it cannot show:")


def no_source(text):
    return [ln for ln in text.splitlines() if not ln.startswith(("source:",) + HEADLINE_SOURCE)]


@pytest.mark.parametrize("named", ["dump", "snapshot"])
def test_memtree_json_same_39_objects_at_bounded_loadbytes(converted, named):
    want = json.loads(cli_run(["memtree", DUMP, "--json"]))
    addrs = sorted(o["address"] for o in want["objects"])
    assert len(addrs) == 39
    pages = distinct_pages(converted, ["--json"])
    # '||' names the file the debugger opened: the real dump, or the converted snapshot
    with fake_pykd(converted, dump_path=DUMP if named == "dump" else converted) as pk:
        res = pykd_ext.run("-m wdfdbg.memtree --json")
        calls = pk.fake.calls.get("loadBytes", 0)
    assert res.text("error") == ""
    got = json.loads(res.text())
    assert sorted(o["address"] for o in got["objects"]) == addrs
    assert calls <= 4 * pages + 16, (calls, pages)
    print("loadBytes %d for %d distinct pages: %.2f per page" % (calls, pages, calls / float(pages)))


def test_memtree_scan_memory_text_same_as_offline(converted):
    want = json.loads(cli_run(["memtree", DUMP, "--json"]))
    handle = next(o["handle"] for o in want["objects"] if o.get("handle"))
    for argv in (["memtree", "--dml", "off"], ["scan"], ["memory", handle, "--dml", "off"]):
        offline = cli_run([argv[0], DUMP] + argv[1:])
        with fake_pykd(converted, dump_path=DUMP):
            res = pykd_ext.run(" ".join(["-m", "wdfdbg." + argv[0]] + argv[1:]))
        assert res.text("error") == "", argv
        assert res.dropped == 0 and res.longest_write() <= 8000, argv
        assert no_source(res.text()) == no_source(offline), argv


# info's first lines describe the source itself (its kind, description, and
# what a file reader counts); pykd knows neither, the rest must agree
SOURCE_LINES = ("source:", "kind:", "description:", "memory:") + HEADLINE_SOURCE


def test_info_same_as_offline_on_the_same_bytes(converted):
    offline = cli_run(["info", converted])
    with fake_pykd(converted, dump_path=DUMP):
        res = pykd_ext.run("-m wdfdbg.info --dml off")  # info speaks DML in WinDbg: compare the plain text
    assert res.text("error") == ""
    strip = lambda t: [ln for ln in t.splitlines() if not ln.startswith(SOURCE_LINES)]  # noqa: E731
    assert strip(res.text()) == strip(offline)
    assert "KMDF drivers: 27" in res.text()
