"""Text for people, not for Python (issue 11 item 5): every command's text,
plain and DML, on every fixture and both real dumps passes
``tests/readable.py`` (no ``None``, no ``'?'`` for a value, no Python
reprs, no bare decimal sizes), and the words the issue named are gone.

Acceptance: "No text output of any command on any fixture or real dump
contains None or the tag '?'." The real-dump cases skip when
``../shared/dumps`` is absent."""

import io
import os
import subprocess
import sys

import pytest

from cmdhelpers import ROOT, fixture
from conftest import DUMPS
from readable import assert_readable, unreadable
from wdfdbg import command
from wdfdbg.testing import load_truth

FIXTURES = ["typical", "two_drivers", "corrupt", "leak"]
REAL = {"x64": os.path.join(DUMPS, "triage_x64.dmp"), "arm64": os.path.join(DUMPS, "triage_arm64.dmp")}
REAL_MEMORY_HANDLE = "0x3f741baa3f98"   # the FxMemoryBuffer 0xffffc08be455c060 of AmdPPM (kmdf.md §12)


def _fixture_cases(name):
    src = os.path.join(ROOT, "fixtures", "%s.wdfsnap.json.gz" % name)
    truth = load_truth(os.path.join(ROOT, "fixtures", "%s.truth.json" % name))
    objs = truth["objects"]
    yield "memtree", [src]
    yield "memusage", [src]
    yield "info", [src]
    yield "scan", [src]
    for o in [o for o in objs if o.get("memory") and o.get("handle")][:3]:
        yield "memory", [src, o["handle"]]
    by_addr = dict((o["address"], o) for o in objs)
    for la in truth["lookasides"][:2]:
        yield "lookaside", [src, by_addr[la]["handle"]]
    for m in truth["mdls"][:2]:
        yield "mdl", [src, m["address"]]
    for d in truth["descriptors"][:3]:
        yield "descriptor", [src, d["address"]]


def cases():
    out = []
    for name in FIXTURES:
        for cmd, argv in _fixture_cases(name):
            out.append(pytest.param(cmd, argv, id="%s-%s-%s" % (cmd, name, argv[1] if len(argv) > 1 else "")))
    for arch, path in sorted(REAL.items()):
        skip = pytest.mark.skipif(not os.path.exists(path), reason="real dump %s is absent" % path)
        for cmd in ("memtree", "memusage", "info", "scan"):
            out.append(pytest.param(cmd, [path], id="%s-real-%s" % (cmd, arch), marks=skip))
    skip = pytest.mark.skipif(not os.path.exists(REAL["x64"]), reason="the real x64 dump is absent")
    out.append(pytest.param("memory", [REAL["x64"], REAL_MEMORY_HANDLE], id="memory-real-x64", marks=skip))
    return out


def run_text(cmd, argv):
    import importlib
    mod = importlib.import_module("wdfdbg." + cmd)
    args = mod.parse_args(argv)
    session = command.open_from_args(args)
    code, text = mod.execute(session, args)
    assert code in (0, 1) and text, (cmd, argv, code)
    return text


@pytest.mark.parametrize("dml", [False, True], ids=["text", "dml"])
@pytest.mark.parametrize("cmd,argv", cases())
def test_command_text_is_readable(cmd, argv, dml):
    text = run_text(cmd, list(argv) + (["--dml", "on"] if dml else []))
    assert_readable(text, "%s %s" % (cmd, " ".join(argv)))


def test_the_words_the_issue_named_are_gone():
    """Issue 11's list: internal source names, '?' builds, the unmarked
    orphans, the decimal length in scan, the pool tag 'none' of a header
    that was not captured, the over-counted data blocks, FxDriver None."""
    typical = fixture("typical", "wdfsnap.json.gz")
    texts = [run_text(c, a) for c, a in _fixture_cases("typical")]
    if os.path.exists(REAL["x64"]):
        texts += [run_text(c, [REAL["x64"]]) for c in ("memtree", "info", "scan", "memusage")]
        texts.append(run_text("memory", [REAL["x64"], REAL_MEMORY_HANDLE]))
    whole = "\n".join(texts)
    for word in ("(origin ", "kmdf-driver-table", "candidates", "build ?", "FxDriver None", "tag '?'", "tag ?",
                 "pool tag      none\n", "source: live target", "SCAN_FALLBACK  None", " (type)"):
        assert word not in whole, word
    assert typical in whole
    if not os.path.exists(REAL["x64"]):
        return
    memtree, info, scan, _usage, memory = texts[-5:]
    # orphans are marked, and m_ParentObject not captured is not "NULL"
    assert "WDFWORKITEM 0x3f7423160748  dt FxWorkItem 0xffffc08bdce9f8b0  (parent 0xffffc08bde1dfc40 not captured)" \
        in memtree
    assert "dt FxCommonBuffer 0xffffc08be51f9bd0  (m_ParentObject not captured)" in memtree
    assert "dt FxSystemWorkItem 0xffffc08be4fbb720\n" in memtree   # its m_ParentObject is NULL: no mark
    row = next(ln for ln in scan.splitlines() if ln.startswith("0xffffc08be51f9bd0"))
    assert " not captured " in row and " NULL " not in row
    # the same length in hex in scan as in memtree
    assert "buffer 0xffffc08be455c0e0 length 0x14 inline" in scan and "length 0x14" in memtree
    # the pool header in front of the real WDFMEMORY is not in the dump
    assert "pool tag      not captured" in memory
    # data blocks: the blocks' own bytes (kmdf.md §12: 1,153,874 = 0x119b52), not the stack copies with them
    assert "1831 saved data blocks holding 0x119b52 bytes" in info
    assert "Driver acpiex  tag not captured  globals 0xffffc08bde1cfd80  FxDriver not captured" in memtree


def test_checker_catches_what_it_should():
    """The checker itself (so that a green run means something)."""
    assert unreadable("FxDriver None")
    assert unreadable("tag '?'") and unreadable("class ?")
    assert unreadable("length 20") and unreadable("64 bytes")
    assert unreadable("<wdfdbg.decoders.objects.ObjectNode object at 0x7f00>")
    assert not unreadable("length 0x14; 1831 saved data blocks; why?")


def test_diff_text_is_readable():
    from wdfdbg import diff
    pairs = [("typical", "two_drivers"), ("leak", "typical"), ("corrupt", "corrupt")]
    if os.path.exists(REAL["x64"]):
        pairs.append((REAL["x64"], "typical"))
    for a, b in pairs:
        pa = a if os.path.sep in a else fixture(a, "wdfsnap.json.gz")
        pb = fixture(b, "wdfsnap.json.gz")
        code, text = diff.execute(None, diff.parse_args([pa, pb]))
        assert_readable(text, "diff %s %s" % (a, b))


def _cli(argv, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-m", "wdfdbg"] + argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def test_batch_corpus_report_and_snapshot_lines_are_readable(tmp_path):
    inputs = [fixture(n, "wdfsnap.json.gz") for n in ("typical", "corrupt")]
    inputs += [p for p in REAL.values() if os.path.exists(p)]
    out = str(tmp_path / "records.jsonl")
    code, so, se = _cli(["batch"] + inputs + ["-o", out, "--jobs", "1"])
    assert code in (0, 1), se
    assert_readable(so + se, "batch summary")
    for by in ([], ["--by", "driver"], ["--by", "signature"], ["--by", "problem"]):
        code, so, se = _cli(["corpus", out] + by)
        assert code == 0, se
        assert_readable(so, "corpus %s" % " ".join(by))
    code, so, se = _cli(["report", inputs[0], "-o", str(tmp_path / "r.html")])
    assert code == 0, se
    assert_readable(so + se, "report")
    code, so, se = _cli(["snapshot", inputs[-1], "-o", str(tmp_path / "s.wdfsnap.json.gz")])
    assert code == 0, se
    assert_readable(so + se, "snapshot")


def test_stream_text_equals_the_returned_text():
    """The text a command streams (memtree writes through ``out``) is the
    text it returns, so the check above covers what WinDbg shows too."""
    from wdfdbg import memtree
    from wdfdbg.session import open_session
    path = fixture("typical", "wdfsnap.json.gz")
    _, whole = memtree.execute(open_session(path), memtree.parse_args([path]))
    buf = io.StringIO()
    memtree.execute(open_session(path), memtree.parse_args([path]), out=buf)
    assert buf.getvalue() == whole
