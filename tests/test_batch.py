"""``wdfdbg batch`` end to end (issue 12's acceptance list).

The acceptance corpus: the real triage dumps (when ``../shared/dumps`` is
there), the committed fixtures, a truncated dump, a file of random bytes
and a 150,000-object snapshot, run with ``--timeout 4``; then the same on
``--engine dask`` (a real LocalCluster on the loopback interface), then
``wdfdbg corpus`` over the records. Isolation (a killed, hung or
memory-hungry worker) uses the test-only fault hook ``WDFDBG_BATCH_FAULT``.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from conftest import DUMPS, FIXTURES, ROOT
from wdfdbg.batch import main as batch_main
from wdfdbg.batch.isolate import FAULT_ENV

BIG_OBJECTS = 150000
FIXTURE_STATUS = {"typical": "ok", "two_drivers": "ok", "leak": "ok", "corrupt": "problems"}


def record_validator():
    import fastjsonschema
    from wdfdbg.batch.record import schema_path
    with open(schema_path()) as f:
        schema = json.load(f)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"  # same keywords; fastjsonschema's dialect
    return fastjsonschema.compile(schema)


_VALIDATE = []


def read_records(path):
    """Every line of OUT, each validated against dumprecord.schema.json."""
    import jsonschema
    from wdfdbg.batch.record import schema_path
    if not _VALIDATE:
        with open(schema_path()) as f:
            _VALIDATE.append((record_validator(), jsonschema.Draft202012Validator(json.load(f))))
    fast, reference = _VALIDATE[0]
    out = []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            fast(rec)
            reference.validate(rec)
            out.append(rec)
    return out


def env(**extra):
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("WDFDBG_DEBUG", None)  # the CLI's own contract, as a pipeline sees it
    e.update(extra)
    return e


def run_cli(args, timeout=240, **extra):
    """``python -m wdfdbg.batch ARGS`` as a pipeline runs it."""
    return subprocess.run([sys.executable, "-m", "wdfdbg.batch"] + list(args), env=env(**extra), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)


def by_name(records):
    return dict((os.path.basename(r["path"]), r) for r in records)


@pytest.fixture(scope="session")
def acceptance(tmp_path_factory):
    """The acceptance inputs and the local engine's records of them."""
    from wdfdbg.testing import build
    from wdfdbg.testing.corpus import snapshot_bytes
    top = tmp_path_factory.mktemp("acceptance")
    inputs = top / "inputs"
    inputs.mkdir()
    expect = {}
    for name, status in FIXTURE_STATUS.items():
        shutil.copy(os.path.join(FIXTURES, name + ".wdfsnap.json.gz"), str(inputs))
        expect[name + ".wdfsnap.json.gz"] = status
    real = sorted(n for n in os.listdir(DUMPS) if n.endswith(".dmp")) if os.path.isdir(DUMPS) else []
    for name in real:
        shutil.copy(os.path.join(DUMPS, name), str(inputs))
        expect[name] = "ok"
    if real:
        with open(os.path.join(DUMPS, real[-1]), "rb") as f:
            (inputs / "truncated.dmp").write_bytes(f.read(64 << 10))
    else:  # no real dump here: a truncated synthetic snapshot stands in
        with open(os.path.join(FIXTURES, "typical.wdfsnap.json.gz"), "rb") as f:
            (inputs / "truncated.dmp").write_bytes(f.read()[:3000])
    expect["truncated.dmp"] = "unreadable"
    (inputs / "random.bin").write_bytes(b"\0" + os.urandom(50000))  # in a folder, no dump magic: skipped
    (inputs / "big.wdfsnap.json.gz").write_bytes(snapshot_bytes(build("bulk", n_objects=BIG_OBJECTS)))
    expect["big.wdfsnap.json.gz"] = "timeout"
    out = top / "local.jsonl"
    proc = run_cli([str(inputs), "-o", str(out), "--timeout", "4", "--jobs", "1"])
    return {"top": top, "inputs": inputs, "expect": expect, "out": out, "proc": proc, "real": real}


def test_one_record_per_input_with_the_right_status(acceptance):
    proc = acceptance["proc"]
    assert proc.returncode == 1, proc.stderr  # corrupt has error problems; some inputs could not be analysed
    recs = read_records(str(acceptance["out"]))
    got = by_name(recs)
    assert len(recs) == len(acceptance["expect"]) == len(got)
    assert dict((n, r["status"]) for n, r in got.items()) == acceptance["expect"]
    for r in recs:
        assert r["path"].startswith(str(acceptance["inputs"]))
        assert r["sha256"] and r["size"] == os.path.getsize(r["path"])
        assert r["tool"]["name"] == "wdfdbg" and r["elapsed_s"] is not None
    assert got["big.wdfsnap.json.gz"]["error"].startswith("no result within 4 s")
    assert "random.bin" not in got
    assert got["corrupt.wdfsnap.json.gz"]["exit_code"] == 1
    # no tty: exactly one summary line, with the counts
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("wdfdbg batch: %d done" % len(recs)), proc.stderr
    assert "1 timeout" in lines[0] and "dumps/s" in lines[0]
    assert "1 skipped (not a dump or snapshot)" in lines[0]


def test_the_x64_triage_dump_drivers_hold_its_39_objects(acceptance):
    if "triage_x64.dmp" not in acceptance["real"]:
        pytest.skip("../shared/dumps/triage_x64.dmp is absent")
    rec = by_name(read_records(str(acceptance["out"])))["triage_x64.dmp"]
    assert rec["summary"]["objects"] == 39
    assert sum(d["objects"] for d in rec["drivers"]) == 39
    counts = dict((d["name"], d["objects"]) for d in rec["drivers"] if d["objects"])
    assert counts["AmdPPM"] == 21 and counts["USBXHCI"] == 8
    amd = [d for d in rec["drivers"] if d["name"] == "AmdPPM"][0]
    assert amd["kmdf_version"] == "1.15"  # from the dump's KMDF driver table
    assert rec["source"] == {"kind": "minidump", "arch": "x64", "os_build": 19041, "dump_type": "triage", "origin": "dump"}
    assert rec["bugcheck"]["code"] == "0x1000007e"
    # the focus problem: the wait lock of AmdPPM the crashing thread holds (issue 11)
    assert rec["signature"] == "0x7E/ACCESS_VIOLATION/AmdPPM/1.15/WDFWAITLOCK/amdppm+0x334c"


def test_a_second_run_after_adding_one_input_appends_exactly_one_record(acceptance, tmp_path):
    out = tmp_path / "resume.jsonl"
    shutil.copy(str(acceptance["out"]), str(out))
    before = out.read_text().splitlines()
    extra = acceptance["inputs"] / "added.wdfsnap.json.gz"
    shutil.copy(os.path.join(FIXTURES, "two_drivers.wdfsnap.json.gz"), str(extra))
    try:
        proc = run_cli([str(acceptance["inputs"]), "-o", str(out), "--timeout", "4"])
    finally:
        extra.unlink()
    after = out.read_text().splitlines()
    assert after[:len(before)] == before  # appended, nothing rewritten
    assert len(after) == len(before) + 2  # the added input, and the timeout tried again
    new = by_name([json.loads(line) for line in after[len(before):]])
    assert new["added.wdfsnap.json.gz"]["status"] == "ok" and new["big.wdfsnap.json.gz"]["status"] == "timeout"
    assert "%d already recorded" % (len(before) - 1) in proc.stderr
    assert proc.returncode == 1  # the recorded statuses still count


def test_dask_engine_gives_the_same_records_apart_from_timing(acceptance, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "dask.jsonl"
    marker = uuid.uuid4().hex
    proc = run_cli([str(acceptance["inputs"]), "-o", str(out), "--timeout", "4", "--engine", "dask", "--jobs", "1"],
                   WDFDBG_TEST_MARKER=marker)
    assert proc.returncode == 1, proc.stderr
    local = by_name(read_records(str(acceptance["out"])))
    dask = by_name(read_records(str(out)))
    assert sorted(dask) == sorted(local)
    for name in local:
        a, b = dict(local[name]), dict(dask[name])
        a.pop("elapsed_s")
        b.pop("elapsed_s")
        assert a == b, name
    assert _processes_with(marker) == []  # the LocalCluster and every worker are gone
    if os.path.isdir("/proc/self"):  # and the check would have seen one
        probe = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=env(WDFDBG_TEST_MARKER=marker))
        try:
            assert _processes_with(marker) == [probe.pid]
        finally:
            probe.kill()
            probe.wait()


def _processes_with(marker):
    """Live processes whose environment holds ``marker`` (Linux /proc)."""
    if not os.path.isdir("/proc/self"):
        return []
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_corpus_totals_equal_the_sums_over_the_records(acceptance):
    from test_corpus import corpus_json, check_totals
    recs = read_records(str(acceptance["out"]))
    doc = corpus_json(str(acceptance["out"]))
    check_totals(doc, recs)
    assert doc["by_status"]["timeout"] == 1


# -- isolation ---------------------------------------------------------------
@pytest.fixture
def three_inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("typical", "two_drivers", "corrupt"):
        shutil.copy(os.path.join(FIXTURES, name + ".wdfsnap.json.gz"), str(folder))
    return folder


def run_inprocess(args, capsys):
    code = batch_main([str(a) for a in args])
    return code, capsys.readouterr()


@pytest.mark.parametrize("fault,status,error", [
    ("kill", "crashed", "killed by SIGKILL"),
    ("hang", "timeout", "no result within 2 s"),
    ("oom", "crashed", "out of memory"),
])
def test_a_failing_worker_is_recorded_and_the_batch_goes_on(three_inputs, tmp_path, capsys, monkeypatch, fault, status,
                                                            error):
    if fault == "oom":
        pytest.importorskip("resource")
    monkeypatch.setenv(FAULT_ENV, "%s:two_drivers" % fault)
    out = tmp_path / "out.jsonl"
    code, cap = run_inprocess([three_inputs, "-o", out, "--timeout", "2", "--memory-cap", "512M", "--jobs", "2"],
                              capsys)
    assert code == 1
    got = by_name(read_records(str(out)))
    assert sorted(got) == ["corrupt.wdfsnap.json.gz", "two_drivers.wdfsnap.json.gz", "typical.wdfsnap.json.gz"]
    bad = got["two_drivers.wdfsnap.json.gz"]
    assert bad["status"] == status and error in bad["error"], bad["error"]
    assert bad["sha256"] and bad["size"] == os.path.getsize(bad["path"])  # sent before the worker failed
    assert got["typical.wdfsnap.json.gz"]["status"] == "ok"
    assert got["corrupt.wdfsnap.json.gz"]["status"] == "problems"
    assert "1 %s" % status in cap.err


def test_dask_engine_isolates_too(three_inputs, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "out.jsonl"
    proc = run_cli([str(three_inputs), "-o", str(out), "--engine", "dask", "--jobs", "1"],
                   **{FAULT_ENV: "kill:typical"})
    assert proc.returncode == 1, proc.stderr
    got = by_name(read_records(str(out)))
    assert got["typical.wdfsnap.json.gz"]["status"] == "crashed"
    assert got["two_drivers.wdfsnap.json.gz"]["status"] == "ok"


# -- OUT, resume, redo --------------------------------------------------------
def test_out_is_checked_before_any_work(three_inputs, tmp_path, capsys):
    code, cap = run_inprocess([three_inputs, "-o", tmp_path / "missing" / "out.jsonl"], capsys)
    assert code == 2 and cap.err.count("\n") == 1 and "does not exist" in cap.err
    code, cap = run_inprocess([three_inputs, "-o", tmp_path], capsys)
    assert code == 2 and "not a regular file" in cap.err
    explicit = three_inputs / "typical.wdfsnap.json.gz"
    data = explicit.read_bytes()
    code, cap = run_inprocess([explicit, "-o", explicit], capsys)
    assert code == 2 and "also an input" in cap.err and cap.err.count("\n") == 1
    assert explicit.read_bytes() == data  # an input is never written


def test_out_inside_an_input_folder_is_not_analysed(three_inputs, capsys):
    out = three_inputs / "records.jsonl"
    code, _ = run_inprocess([three_inputs, "-o", out], capsys)
    code, _ = run_inprocess([three_inputs, "-o", out, "--redo"], capsys)
    paths = [r["path"] for r in read_records(str(out))]
    assert len(paths) == 6 and str(out) not in paths


def test_resume_skips_same_content_and_redoes_changed_or_forced(three_inputs, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    run_inprocess([three_inputs, "-o", out], capsys)
    assert len(read_records(str(out))) == 3
    _, cap = run_inprocess([three_inputs, "-o", out], capsys)
    assert len(read_records(str(out))) == 3 and "3 already recorded" in cap.err
    # same path, new content: analysed again
    shutil.copy(os.path.join(FIXTURES, "leak.wdfsnap.json.gz"), str(three_inputs / "typical.wdfsnap.json.gz"))
    run_inprocess([three_inputs, "-o", out], capsys)
    recs = read_records(str(out))
    assert len(recs) == 4 and recs[-1]["path"].endswith("typical.wdfsnap.json.gz")
    assert recs[-1]["summary"]["objects"] == 10003
    run_inprocess([three_inputs, "-o", out, "--redo"], capsys)
    assert len(read_records(str(out))) == 7


def test_a_line_cut_by_a_killed_batch_stays_one_unreadable_line(three_inputs, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    out.write_text('{"schema": "wdfdbg.dumprecord/1", "path": "/x", "sta')
    code, _ = run_inprocess([three_inputs, "-o", out], capsys)
    lines = out.read_text().splitlines()
    assert lines[0] == '{"schema": "wdfdbg.dumprecord/1", "path": "/x", "sta'
    assert len(lines) == 4 and all(json.loads(line)["status"] for line in lines[1:])


def test_missing_and_special_inputs_get_records(tmp_path, capsys):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    out = tmp_path / "out.jsonl"
    code, _ = run_inprocess([tmp_path / "nope.dmp", fifo, "-o", out, "--timeout", "10"], capsys)
    got = by_name(read_records(str(out)))
    assert code == 1
    assert got["nope.dmp"]["status"] == "unreadable" and "cannot read" in got["nope.dmp"]["error"]
    assert got["fifo"]["status"] == "unreadable" and "not a regular file" in got["fifo"]["error"]


def test_list_inputs_and_bad_usage(three_inputs, tmp_path, capsys):
    lst = tmp_path / "list.txt"
    lst.write_text("# inputs\n%s\n\n%s\n" % (three_inputs / "typical.wdfsnap.json.gz", three_inputs / "typical.wdfsnap.json.gz"))
    out = tmp_path / "out.jsonl"
    code, _ = run_inprocess(["@%s" % lst, three_inputs / "corrupt.wdfsnap.json.gz", "-o", out], capsys)
    assert sorted(os.path.basename(r["path"]) for r in read_records(str(out))) == ["corrupt.wdfsnap.json.gz",
                                                                                   "typical.wdfsnap.json.gz"]
    assert code == 1
    for bad in (["--jobs", "0"], ["--timeout", "-1"], ["--scheduler", "tcp://127.0.0.1:1"], ["--memory-cap", "lots"]):
        code, cap = run_inprocess([three_inputs, "-o", out] + bad, capsys)
        assert code == 2 and cap.err.count("\n") == 1 and "Traceback" not in cap.err, bad


def test_every_entry_point_runs_the_same_command(capsys):
    from wdfdbg import cli
    assert cli.main(["batch", "--help"]) == 0
    assert "wdfdbg batch" in capsys.readouterr().out
    assert "batch" in dict(cli.COMMANDS) and "corpus" in dict(cli.COMMANDS)
    proc = subprocess.run([sys.executable, "-m", "wdfdbg.batch", "--help"], env=env(), stdout=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert proc.returncode == 0 and "--engine" in proc.stdout
