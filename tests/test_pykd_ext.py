"""Every command as WinDbg's ``!py -m`` runs it (wdfdbg.testing.pykd_ext: 64K
per write, argv, recursion limit 500, SystemExit swallowed), against the
CLI: same bytes, no write longer than 8,000 characters, nothing dropped;
the interpreter notes; the runner's own rules."""

import glob
import io
import json
import os
import sys

import pytest

from minisnap import document
from wdfdbg import cli
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.testing import pykd_ext
from wdfdbg.testing.fake_pykd import fake_pykd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
FIXTURE_FILES = sorted(glob.glob(os.path.join(FIXTURES, "*.wdfsnap.json.gz")))
LEAK = os.path.join(FIXTURES, "leak.wdfsnap.json.gz")
LIMIT = 8000


def cli_run(argv):
    """The CLI in-process: (stdout text, exit code)."""
    saved = sys.stdout
    sys.stdout = buf = io.StringIO()
    try:
        code = cli.main(list(argv))
    finally:
        sys.stdout = saved
    return buf.getvalue(), code


_COMMANDS = {}


def command_lines(path):
    """One command line per command for a fixture (handles from its truth)."""
    if path in _COMMANDS:
        return _COMMANDS[path]
    with open(path.replace(".wdfsnap.json.gz", ".truth.json")) as f:
        truth = json.load(f)
    out = [["memtree"], ["memtree", "--json"], ["memtree", "--dml", "off"], ["memtree", "--dml", "on"],
           ["memusage"], ["memusage", "--json"], ["info"], ["scan"]]
    mem = [o for o in truth["objects"] if o.get("wdf_type") == "WDFMEMORY" and o.get("handle")]
    if mem:
        out.append(["memory", mem[0]["handle"], "--dump", "64"])
    la = [o for o in truth["objects"] if o.get("wdf_type") == "WDFLOOKASIDE" and o.get("handle")]
    if la:
        out.append(["lookaside", la[0]["handle"]])
    for key, cmd in (("mdls", "mdl"), ("descriptors", "descriptor")):
        items = truth.get(key) or []
        if items:
            first = items[0]
            out.append([cmd, first["address"] if isinstance(first, dict) else first])
    _COMMANDS[path] = out
    return out


def via_py(argv, path, **kw):
    """``!py -m wdfdbg.NAME SOURCE ARGS`` (a file source inside WinDbg)."""
    return pykd_ext.run(" ".join(["-m", "wdfdbg." + argv[0], path] + argv[1:]), **kw)


def test_every_command_through_py_equals_the_cli_on_leak():
    for argv in command_lines(LEAK):
        want, _ = cli_run([argv[0], LEAK] + argv[1:])
        res = via_py(argv, LEAK)
        assert res.text("error") == "", (argv, res.text("error")[-2000:])
        assert res.dropped == 0, argv
        assert res.text() == want, argv
        assert res.longest_write() <= LIMIT, argv
    # the big ones: memtree as text is one write of over a megabyte without the writer
    assert len(cli_run(["memtree", LEAK, "--dml", "off"])[0]) > 16 * pykd_ext.BUFFER


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=[os.path.basename(p) for p in FIXTURE_FILES])
def test_no_write_over_8000_characters_and_16k_engines_lose_nothing(path):
    for argv in command_lines(path):
        res = via_py(argv, path, cut=pykd_ext.CUT_16K)
        assert res.text("error") == "", (argv, res.text("error")[-2000:])
        assert res.longest_write() <= LIMIT, argv
        assert res.dropped == 0, argv


def test_memtree_text_through_the_stand_in_target_equals_the_cli():
    """Inside the debugger (no SOURCE: the pykd target over the leak fixture),
    text and JSON are the CLI's, source line aside."""
    want, _ = cli_run(["memtree", LEAK, "--dml", "off"])
    want_json = json.loads(cli_run(["memtree", LEAK, "--json"])[0])
    with fake_pykd(LEAK):
        res = pykd_ext.run("-m wdfdbg.memtree --dml off")
        js = pykd_ext.run("-m wdfdbg.memtree --json")
    assert res.dropped == 0 and res.longest_write() <= LIMIT
    from cmdhelpers import json_without_source, strip_source
    assert strip_source(res.text()) == strip_source(want)
    assert json_without_source(json.loads(js.text())) == json_without_source(want_json)


def test_unbounded_writes_would_be_cut():
    """What the runner guards against: one write of the whole report loses
    everything past 64K (16K on some engines), silently."""
    text = "x" * 70000 + "\n"
    with pykd_ext.debugger_output() as res:
        sys.stdout.write(text)
    assert res.text() == text[:pykd_ext.BUFFER] and res.dropped == len(text) - pykd_ext.BUFFER
    with pykd_ext.debugger_output(cut=pykd_ext.CUT_16K) as res:
        sys.stdout.write("\U0001f600" * 9000)   # a non-BMP character is two UTF-16 units
    assert len(res.text()) == pykd_ext.CUT_16K // 2
    with pykd_ext.debugger_output() as res:
        sys.stdout.write("ab\0cd")
    assert res.text() == "ab"   # %ws stops at a NUL


def test_argv_recursion_limit_and_systemexit(tmp_path, monkeypatch):
    mod = tmp_path / "wdfdbg_probe_mod.py"
    mod.write_text("import sys\nprint(repr(sys.argv[1:]), sys.getrecursionlimit())\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = sys.getrecursionlimit()
    res = pykd_ext.run('-m wdfdbg_probe_mod  a  "b c" ""')
    assert res.argv == ["", "a", "b c"]
    assert res.text() == "['a', 'b c'] 500\n"
    assert res.text("error") == ""          # SystemExit is swallowed
    assert sys.getrecursionlimit() == before   # restored after the run
    opts, rest = pykd_ext.parse("-3.9 -g -m wdfdbg.memtree --json")
    assert opts["version"] == "3.9" and opts["global"] and opts["module"] and rest == ["wdfdbg.memtree", "--json"]
    opts, rest = pykd_ext.parse("-m -g wdfdbg.memtree")   # options after -m are the module's
    assert rest == ["-g", "wdfdbg.memtree"]


def test_ctrl_break_arrives_on_38_only(tmp_path):
    mini = str(tmp_path / "mini.wdfsnap.json")
    snapfmt.save(document(), mini)
    with fake_pykd(mini):
        res = pykd_ext.run("-m wdfdbg.memtree --dml off", python=(3, 8), ctrl_break_after=0)
        assert res.interrupted and not res.hung and res.text("error") == ""
        res = pykd_ext.run("-m wdfdbg.memtree --dml off", python=(3, 9), ctrl_break_after=0)
        assert not res.interrupted and res.hung   # posted to the main interpreter: never delivered


def test_sub_interpreter_note_once_and_no_pykd_message(tmp_path, monkeypatch):
    from wdfdbg.sources import pykd_target
    mini = str(tmp_path / "mini.wdfsnap.json")
    snapfmt.save(document(), mini)
    monkeypatch.delenv(pykd_target.NOTED, raising=False)
    with fake_pykd(mini):
        first = pykd_ext.run("-m wdfdbg.info")
        second = pykd_ext.run("-m wdfdbg.info")
    notes = [ln for ln in first.text("err").splitlines() if "Ctrl+Break" in ln]
    if sys.version_info >= (3, 9):
        assert len(notes) == 1 and "Python 3.8" in notes[0] and "!py -3.8 -m" in notes[0]
    else:
        assert notes == []
    assert "Ctrl+Break" not in second.text("err")       # once per debugger process
    monkeypatch.setitem(sys.modules, "pykd", None)      # pykd not importable in this Python
    res = pykd_ext.run("-m wdfdbg.memtree")
    err = res.text("err").strip().splitlines()
    assert len(err) == 1, err
    assert "%d.%d" % sys.version_info[:2] in err[0] and "3.8 and 3.9" in err[0] and "!py -3.9 -m wdfdbg.memtree" in err[0]
    assert res.text() == ""
