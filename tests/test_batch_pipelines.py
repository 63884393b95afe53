"""Pipelines that cannot be silently wrong: what ``wdfdbg batch`` and
``wdfdbg corpus`` do with hostile settings, outputs, names, record files,
changing inputs and a killed parent (docs/batch.md "What is promised")."""

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES, ROOT
from test_batch import by_name, env, read_records, run_cli, run_inprocess
from wdfdbg import corpus as corpus_cmd
from wdfdbg.batch.isolate import FAULT_ENV

TYPICAL = os.path.join(FIXTURES, "typical.wdfsnap.json.gz")
TWO = os.path.join(FIXTURES, "two_drivers.wdfsnap.json.gz")


@pytest.fixture
def two_inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(TYPICAL, str(folder / "a.wdfsnap.json.gz"))
    shutil.copy(TWO, str(folder / "b.wdfsnap.json.gz"))
    return folder


def one_line_error(code, err):
    return code == 2 and err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err


# -- settings (items 2, 12) ---------------------------------------------------
@pytest.mark.parametrize("bad", [["--timeout", "inf"], ["--timeout", "1e308"], ["--timeout", "nan"],
                                 ["--timeout", "-1"], ["--memory-cap", "nan"], ["--memory-cap", "inf"],
                                 ["--memory-cap", "1e30"], ["--memory-cap", "-1G"], ["--memory-cap", "1.5Q"]])
def test_bad_settings_are_one_usage_line_before_any_work(two_inputs, tmp_path, capsys, bad):
    out = tmp_path / "r.jsonl"
    code, cap = run_inprocess([two_inputs, "-o", out] + bad, capsys)
    assert one_line_error(code, cap.err), (bad, cap.err)
    assert not out.exists()


def test_a_limit_typo_stops_the_batch_before_any_record(two_inputs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.jsonl"
    monkeypatch.setenv("WDFDBG_MAX_JSON_BYTES", "1.5G")
    code, cap = run_inprocess([two_inputs, "-o", out], capsys)
    assert one_line_error(code, cap.err) and "WDFDBG_MAX_JSON_BYTES" in cap.err
    assert not out.exists()
    monkeypatch.delenv("WDFDBG_MAX_JSON_BYTES")
    code, cap = run_inprocess([two_inputs, "-o", out], capsys)
    assert code == 0 and [r["status"] for r in read_records(str(out))] == ["ok", "ok"]


def test_a_fractional_memory_cap_is_a_size():
    from wdfdbg.batch.cli import parse_size
    assert parse_size("1.5G") == 3 << 29


# -- out of memory is the analyser's failure (item 3) ----------------------------
def test_out_of_memory_inside_the_command_is_crashed_not_unreadable(monkeypatch):
    from wdfdbg import command, memtree
    from wdfdbg.batch.analyse import analyse_file
    from wdfdbg.batch.inputs import open_hashed

    def body(argv):
        raise MemoryError()  # what a capped worker meets inside memtree: the CLI says "out of memory", exit 2
    monkeypatch.setattr(memtree, "main", lambda argv: command.run(body, argv))
    opened = open_hashed(TYPICAL)
    try:
        rec = analyse_file(TYPICAL, opened)
    finally:
        opened.close()
    assert rec["status"] == "crashed" and rec["exit_code"] == 2 and rec["error"].startswith("out of memory")


# -- OUT (items 4, 5; the lock, -o -) ----------------------------------------------
def test_out_that_is_not_a_record_file_is_refused(two_inputs, tmp_path, capsys):
    link = tmp_path / "rec.jsonl"
    link.symlink_to(two_inputs / "a.wdfsnap.json.gz")
    before = (two_inputs / "a.wdfsnap.json.gz").read_bytes()
    code, cap = run_inprocess([two_inputs, "-o", link], capsys)
    assert one_line_error(code, cap.err) and "holds something other than" in cap.err
    snap = tmp_path / "x.wdfsnap.json.gz"
    shutil.copy(TYPICAL, str(snap))
    code, cap = run_inprocess([two_inputs, "-o", snap], capsys)
    assert one_line_error(code, cap.err)
    assert (two_inputs / "a.wdfsnap.json.gz").read_bytes() == before and snap.read_bytes() == before


def test_out_through_dev_stdout_into_a_pipe_is_refused(two_inputs):
    proc = subprocess.Popen([sys.executable, "-m", "wdfdbg.batch", str(two_inputs), "-o", "/dev/stdout"], env=env(),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # the bug: it reads its own output for ever
            proc.kill()
            proc.communicate()
    assert one_line_error(proc.returncode, err) and "not a regular file" in err and out == ""


def test_out_dash_is_refused(two_inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, cap = run_inprocess([two_inputs, "-o", "-"], capsys)
    assert one_line_error(code, cap.err) and not (tmp_path / "-").exists()


def test_a_second_batch_on_the_same_out_stops_at_its_lock(two_inputs, tmp_path, capsys):
    from wdfdbg.batch.writer import close_out, open_out
    out = str(tmp_path / "r.jsonl")
    fd = open_out(out)
    try:
        code, cap = run_inprocess([two_inputs, "-o", out], capsys)
    finally:
        close_out(fd)
    assert one_line_error(code, cap.err) and "another batch" in cap.err
    assert os.path.getsize(out) == 0


# -- workers die with their parent (item 6) ----------------------------------------
def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


def _default_signal(sig):
    """The batch parent's disposition of ``sig`` as a shell gives it: a test
    run under ``nohup`` (or a CI runner that ignores SIGHUP) passes SIGHUP
    on ignored, and a process that ignores it does not die of it."""
    def reset():
        signal.signal(getattr(signal, sig), signal.SIG_DFL)
    return None if sig == "SIGKILL" else reset


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGHUP"])
def test_a_killed_batch_leaves_no_worker_and_closes_its_output(two_inputs, tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-m", "wdfdbg.batch", str(two_inputs / "a.wdfsnap.json.gz"),
                             "-o", str(tmp_path / "r.jsonl"), "--timeout", "600"],
                            env=env(**{FAULT_ENV: "hang:a.wdfsnap"}), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_default_signal(sig))
    try:
        workers = []
        end = time.monotonic() + 60
        while not workers and time.monotonic() < end:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert workers, "no worker started"
        time.sleep(1.0)  # the worker is in its hang
        os.kill(proc.pid, getattr(signal, sig))
        proc.wait(30)
        end = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < end:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), sig
        # EOF once no process holds the pipe: `batch | tee` ends
        assert select.select([proc.stdout], [], [], 10)[0] and proc.stdout.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
        proc.stdout.close()
        proc.stderr.close()


_ORPHAN = r"""
import os, sys, time
if %r:
    sys.platform = "other"  # no prctl: the portable watchdog
from wdfdbg.batch import isolate
isolate.GRACE_S = 0.3
pid = os.fork()
if pid == 0:
    isolate.guard_worker(isolate.Settings(timeout=%s, memory_cap=0))
    time.sleep(60)
    os._exit(0)
print(pid, flush=True)
%s
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("portable", [True, False])
def test_a_worker_dies_with_its_parent(portable):
    proc = subprocess.run([sys.executable, "-c", _ORPHAN % (portable, "0", "os._exit(0)")], env=env(), cwd=ROOT,
                          stdout=subprocess.PIPE, universal_newlines=True, timeout=30)
    child = int(proc.stdout.split()[0])
    end = time.monotonic() + 10
    while _alive(child) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _alive(child)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("portable", [True, False])
def test_a_worker_ends_itself_past_its_deadline(portable):
    from wdfdbg.batch.isolate import DEADLINE_EXIT
    wait = "_, status = os.waitpid(pid, 0); print(os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status))"
    proc = subprocess.run([sys.executable, "-c", _ORPHAN % (portable, "0.5", wait)], env=env(), cwd=ROOT,
                          stdout=subprocess.PIPE, universal_newlines=True, timeout=30)
    assert int(proc.stdout.split()[1]) == (DEADLINE_EXIT if portable else -signal.SIGALRM)


# -- text from dump memory (item 7) ------------------------------------------------
HOSTILE = "Ev\x1b]0;pwn\x07\x1b[2J\nok 0 dumps"


def test_output_escapes_control_characters_but_its_own_newlines():
    from wdfdbg.render.output import Capture, Output
    cap = Capture()
    out = Output(cap)
    out.line("driver %s" % HOSTILE)
    out.close()
    text = cap.text()
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;pwn\\x07" in text
    assert text.endswith("ok 0 dumps\n")


def test_memtree_text_of_a_hostile_driver_name_reaches_no_terminal(tmp_path):
    from wdfdbg.testing import HeapBuilder
    from wdfdbg.testing.corpus import snapshot_bytes
    b = HeapBuilder("hostile-names", seed=1, description="synthetic: a driver name with terminal controls")
    d = b.add_driver("Ev\x1b]0;pwn\x07\x1b[2J\x9b", "Evil")
    b.device(d)
    b.memory_create(d.fxdriver, 0x100, "Mpol")
    path = tmp_path / "hostile.wdfsnap.json.gz"
    path.write_bytes(snapshot_bytes(b.built()))
    for cmd in (["memtree"], ["info"], ["memusage"]):
        proc = subprocess.run([sys.executable, "-m", "wdfdbg"] + cmd + [str(path)], env=env(), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert proc.returncode in (0, 1), proc.stderr
        assert not any(c in proc.stdout for c in (b"\x1b", b"\x07", b"\xc2\x9b")), cmd
        assert b"Ev\\x1b]0;pwn\\x07" in proc.stdout, cmd


def test_corpus_text_keeps_a_hostile_name_on_its_line(tmp_path, capsys):
    from wdfdbg.batch.record import empty_record
    rec = empty_record("/x\x1b[2J\nok 0 dumps", "0" * 64, 1, "ok", 0)
    rec["drivers"] = [{"name": HOSTILE, "globals": None, "kmdf_version": "1.15", "objects": 3, "memory_objects": 0,
                       "memory_bytes": 0, "lookasides": 0, "mdls": 0, "problems": 0, "problem_counts": {}}]
    rec["summary"] = {"objects": 3}
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps(rec) + "\n")
    assert corpus_cmd.main([str(records)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and not any(line.startswith("ok 0 dumps") for line in out.splitlines())
    assert "\\nok 0 dumps" in out


# -- names that are not UTF-8 (item 8) ----------------------------------------------
NOT_UTF8 = os.fsdecode(b"bad\xff.wdfsnap.json.gz")


def test_report_and_svg_of_a_non_utf8_name(tmp_path):
    src = tmp_path / NOT_UTF8
    shutil.copy(TYPICAL, str(src))
    page = tmp_path / "r.html"
    proc = subprocess.run([sys.executable, "-m", "wdfdbg", "report", str(src), "-o", str(page)], env=env(), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    assert "bad\ufffd.wdfsnap" in page.read_text(encoding="utf-8")
    if shutil.which("dot"):
        proc = subprocess.run([sys.executable, "-m", "wdfdbg", "memtree", str(src), "--format", "svg"], env=env(),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        assert proc.returncode in (0, 1) and proc.stdout.startswith(b"<?xml"), proc.stderr


def test_records_of_non_utf8_names_are_valid_json_and_lossless(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(TYPICAL, str(folder / NOT_UTF8))
    out = tmp_path / "r.jsonl"
    code, _ = run_inprocess([folder, "-o", out], capsys)
    raw = out.read_bytes()
    assert code == 0 and b"\\ud" not in raw  # no lone surrogate escape: strict readers take it
    rec, = read_records(str(out))
    assert rec["path"].endswith("bad\ufffd.wdfsnap.json.gz")
    assert base64.b64decode(rec["path_b64"]) == os.fsencode(str(folder / NOT_UTF8))
    code, cap = run_inprocess([folder, "-o", out], capsys)  # resume finds it by its bytes
    assert code == 0 and "1 already recorded" in cap.err and out.read_bytes() == raw
    doc = json.loads(_corpus(out, capsys))
    assert doc["dumps"] == 1


def _corpus(path, capsys, *extra):
    assert corpus_cmd.main([str(path), "--json"] + list(extra)) == 0
    return capsys.readouterr().out


# -- corpus input (items 1, 9; smaller) ---------------------------------------------
def _capped():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # a reader of /dev/zero must not take the machine


@pytest.mark.parametrize("name", ["/dev/stdin", "/dev/zero"])
def test_corpus_refuses_streams_it_would_read_twice(records, name):
    proc = subprocess.Popen([sys.executable, "-m", "wdfdbg", "corpus", name], env=env(), cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, preexec_fn=_capped)
    try:
        out, err = proc.communicate(records.read_text(), timeout=30)  # `cat r.jsonl | corpus /dev/stdin`
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert one_line_error(proc.returncode, err) and "not a regular file" in err, (out, err)


@pytest.fixture
def records(two_inputs, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    run_inprocess([two_inputs, "-o", out], capsys)
    return out


MALFORMED = [{"drivers": "AmdPPM"}, {"drivers": [None]}, {"drivers": [{"name": 7}]}, {"summary": []},
             {"problem_counts": []}, {"problem_counts": "x"}, {"signature": 5}, {"signature": {}},
             {"status": "exploded"}, {"path_b64": 3}]


def test_corpus_counts_malformed_records_as_unparsed(records, tmp_path, capsys):
    good = records.read_text().splitlines()
    lines = list(good)
    for i, change in enumerate(MALFORMED):
        rec = json.loads(good[0])
        rec.update(change)
        rec["path"] = "/elsewhere/%d" % i
        lines.append(json.dumps(rec))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    doc = json.loads(_corpus(bad, capsys))
    assert doc["dumps"] == 2 and doc["unparsed_lines"] == len(MALFORMED)
    assert corpus_cmd.main([str(bad)]) == 0


def test_corpus_of_something_else_is_exit_2(records, tmp_path, capsys):
    gz = tmp_path / "r.jsonl.gz"
    import gzip
    gz.write_bytes(gzip.compress(records.read_bytes()))
    dump = tmp_path / "triage.dmp"
    dump.write_bytes(b"PAGEDU64" + b"\0" * 4096)
    for path in (gz, dump):
        code = corpus_cmd.main([str(path)])
        assert one_line_error(code, capsys.readouterr().err), path
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert json.loads(_corpus(empty, capsys))["dumps"] == 0  # an empty batch is 0 dumps


def test_corpus_bounds_a_line_without_newlines(records, tmp_path, capsys):
    import tracemalloc
    from wdfdbg.batch.aggregate import summarize
    big = tmp_path / "big.jsonl"
    with open(str(big), "wb") as f:
        f.write(records.read_bytes())
        block = b"x" * (1 << 20)
        for _ in range(40):
            f.write(block)
    tracemalloc.start()
    try:
        doc = summarize(str(big)).to_json()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert doc["dumps"] == 2 and doc["unparsed_lines"] == 1
    assert peak < 24 << 20, peak  # the 40 MiB line is never held (MAX_LINE is 16 MiB)


def test_corpus_reads_only_what_the_file_held_when_it_started(records):
    from wdfdbg.batch.aggregate import RecordFile
    source = RecordFile(str(records))
    try:
        with open(str(records), "a") as f:  # a running batch appends meanwhile
            f.write(records.read_text())
        assert sum(1 for _ in source.records()) == 2
    finally:
        source.close()


# -- hash what is analysed (item 10) -------------------------------------------------
def test_the_record_analyses_the_bytes_it_hashed(tmp_path):
    from wdfdbg.batch.analyse import analyse_file
    from wdfdbg.batch.inputs import file_digest, open_hashed
    path = tmp_path / "in.wdfsnap.json.gz"
    shutil.copy(TYPICAL, str(path))
    other = tmp_path / "other"
    shutil.copy(TWO, str(other))
    opened = open_hashed(str(path))
    os.replace(str(other), str(path))  # the name now holds another file
    try:
        rec = analyse_file(str(path), opened)
    finally:
        opened.close()
    alone = open_hashed(TYPICAL)
    try:
        typical = analyse_file(TYPICAL, alone)
    finally:
        alone.close()
    if rec["status"] == "crashed":  # no /proc/self/fd here: the swap is detected instead
        assert "changed while it was analysed" in rec["error"]
    else:
        assert rec["sha256"] == file_digest(TYPICAL)[0] and rec["summary"] == typical["summary"]


def test_a_file_written_during_its_analysis_is_not_recorded_as_analysed(tmp_path):
    from wdfdbg.batch.analyse import analyse_file
    from wdfdbg.batch.inputs import open_hashed
    path = tmp_path / "in.wdfsnap.json.gz"
    shutil.copy(TYPICAL, str(path))
    opened = open_hashed(str(path))
    with open(str(path), "ab") as f:
        f.write(b"\0")
    try:
        rec = analyse_file(str(path), opened)
    finally:
        opened.close()
    assert rec["status"] == "crashed" and "changed while it was analysed" in rec["error"]


# -- resume: retries, trust, renames (item 11; smaller) ------------------------------
def test_timeouts_are_retried_on_a_rerun_three_records_at_most(two_inputs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.jsonl"
    a = two_inputs / "a.wdfsnap.json.gz"
    monkeypatch.setenv(FAULT_ENV, "hang:a.wdfsnap")
    for _ in range(3):
        run_inprocess([a, "-o", out, "--timeout", "0.3"], capsys)
    assert [r["status"] for r in read_records(str(out))] == ["timeout"] * 3
    monkeypatch.delenv(FAULT_ENV)
    code, cap = run_inprocess([a, "-o", out], capsys)
    assert "1 already recorded" in cap.err and len(read_records(str(out))) == 3  # bounded: no fourth try
    out2 = tmp_path / "r2.jsonl"
    out2.write_text(out.read_text().splitlines(True)[0])
    code, _ = run_inprocess([a, "-o", out2], capsys)
    assert code == 0 and [r["status"] for r in read_records(str(out2))] == ["timeout", "ok"]


def test_resume_trusts_size_and_mtime_and_hashes_only_changed_files(two_inputs, tmp_path, capsys, monkeypatch):
    from wdfdbg.batch import inputs
    out = tmp_path / "r.jsonl"
    run_inprocess([two_inputs, "-o", out], capsys)
    real = inputs.file_digest
    hashed = []
    monkeypatch.setattr(inputs, "file_digest", lambda p: hashed.append(p) or real(p))
    code, cap = run_inprocess([two_inputs, "-o", out], capsys)
    assert code == 0 and "2 already recorded" in cap.err and hashed == []
    a = two_inputs / "a.wdfsnap.json.gz"
    os.utime(str(a), ns=(0, 10 ** 9))  # touched, same content
    code, cap = run_inprocess([two_inputs, "-o", out], capsys)
    assert "2 already recorded" in cap.err and hashed == [str(a)]


def test_a_renamed_input_or_one_reached_through_a_link_counts_once(two_inputs, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    (tmp_path / "link").symlink_to(two_inputs)
    run_inprocess([two_inputs, tmp_path / "link", "-o", out], capsys)
    assert len(read_records(str(out))) == 2
    os.rename(str(two_inputs / "a.wdfsnap.json.gz"), str(two_inputs / "renamed.wdfsnap.json.gz"))
    code, cap = run_inprocess([two_inputs, "-o", out], capsys)
    assert code == 0 and "2 already recorded" in cap.err and len(read_records(str(out))) == 2
    assert json.loads(_corpus(out, capsys))["dumps"] == 2


# -- inputs (issue 17; smaller) -------------------------------------------------------
def test_folder_files_without_dump_or_snapshot_magic_are_skipped_named_ones_analysed(two_inputs, tmp_path, capsys):
    (two_inputs / "README.md").write_text("# dumps\n")
    (two_inputs / "SHA256SUMS").write_text("00 a\n")
    out = tmp_path / "r.jsonl"
    code, cap = run_inprocess([two_inputs, "-o", out], capsys)
    assert code == 0 and "2 skipped (not a dump or snapshot)" in cap.err
    assert sorted(by_name(read_records(str(out)))) == ["a.wdfsnap.json.gz", "b.wdfsnap.json.gz"]
    code, cap = run_inprocess([two_inputs, "-o", out], capsys)  # a rerun that does nothing
    assert code == 0 and "0 done" in cap.err
    code, _ = run_inprocess([two_inputs / "README.md", "-o", out], capsys)
    assert code == 1 and read_records(str(out))[-1]["status"] == "unreadable"


def test_an_unreadable_subfolder_is_reported_and_the_walk_goes_on(two_inputs, tmp_path, capsys, monkeypatch):
    from wdfdbg.batch import inputs
    (two_inputs / "sub").mkdir()
    shutil.copy(TYPICAL, str(two_inputs / "sub" / "c.wdfsnap.json.gz"))
    (two_inputs / "locked").mkdir()
    real = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)
    monkeypatch.setattr(inputs.os, "scandir", scandir)
    out = tmp_path / "r.jsonl"
    code, cap = run_inprocess([two_inputs, "-o", out], capsys)
    assert code == 1 and "locked: cannot list the folder: Permission denied" in cap.err
    assert len(read_records(str(out))) == 3


def test_folder_links_are_followed_once_even_in_a_loop(two_inputs):
    from wdfdbg.batch.inputs import expand
    (two_inputs / "sub").mkdir()
    shutil.copy(TYPICAL, str(two_inputs / "sub" / "c.wdfsnap.json.gz"))
    other = two_inputs.parent / "other"
    other.mkdir()
    shutil.copy(TWO, str(other / "d.wdfsnap.json.gz"))
    (two_inputs / "to-other").symlink_to(other)
    (two_inputs / "sub" / "loop").symlink_to(two_inputs)
    names = sorted(os.path.basename(i.path) for i in expand([str(two_inputs)]).inputs)
    assert names == ["a.wdfsnap.json.gz", "b.wdfsnap.json.gz", "c.wdfsnap.json.gz", "d.wdfsnap.json.gz"]


def test_list_names_are_taken_as_written(tmp_path, monkeypatch):
    from wdfdbg.batch.inputs import expand
    monkeypatch.chdir(tmp_path)
    for name in (" lead.dmp", "trail.dmp ", "#hash.dmp"):
        shutil.copy(TYPICAL, str(tmp_path / name))
    lst = tmp_path / "list.txt"
    lst.write_text(" lead.dmp\ntrail.dmp \r\n#hash.dmp\n# a comment\n\n   \n")
    names = [os.path.basename(i.path) for i in expand(["@" + str(lst)]).inputs]
    assert names == [" lead.dmp", "trail.dmp ", "#hash.dmp"]


# -- output files (smaller) -----------------------------------------------------------
def test_report_output_names_modes_and_links(tmp_path):
    def report(out):
        return subprocess.run([sys.executable, "-m", "wdfdbg", "report", TYPICAL, "-o", str(out)], env=env(),
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=120)
    long_name = tmp_path / ("r" * 245 + ".html")  # 250 bytes: valid
    proc = report(long_name)
    assert proc.returncode in (0, 1) and long_name.exists(), proc.stderr
    page = tmp_path / "p.html"
    page.write_text("old")
    os.chmod(str(page), 0o600)
    other = tmp_path / "hard.html"
    os.link(str(page), str(other))
    proc = report(page)
    assert proc.returncode in (0, 1), proc.stderr
    assert oct(os.stat(str(page)).st_mode & 0o777) == oct(0o600)
    assert os.path.samefile(str(page), str(other)) and other.read_text().startswith("<!DOCTYPE html>")


def test_a_lost_dask_task_gets_a_whole_record():
    from test_batch import record_validator
    from wdfdbg.batch.dask_engine import _Lost
    from wdfdbg.batch.isolate import finish
    rec = finish(_Lost("/lost.dmp", time.monotonic()), time.monotonic(), died="dask: KilledWorker: gone")
    record_validator()(rec)
    assert rec["status"] == "crashed" and rec["file"] is None and rec["path_b64"] is None


def test_dml_of_a_hostile_driver_name_is_text_not_markup(tmp_path):
    from wdfdbg.testing import HeapBuilder
    from wdfdbg.testing.corpus import snapshot_bytes
    b = HeapBuilder("hostile-dml", seed=1, description="synthetic: a driver name holding a DML link")
    d = b.add_driver('Ev<link cmd=".shell">x</link>', "Evil")
    b.device(d)
    b.memory_create(d.fxdriver, 0x100, "Mpol")
    path = tmp_path / "hostile.wdfsnap.json.gz"
    path.write_bytes(snapshot_bytes(b.built()))
    for cmd in ("memtree", "info", "memusage", "scan"):
        proc = subprocess.run([sys.executable, "-m", "wdfdbg", cmd, str(path), "--dml", "on"], env=env(), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        assert proc.returncode in (0, 1), proc.stderr
        assert '<link cmd=".shell">' not in proc.stdout and "Ev&lt;link" in proc.stdout, cmd


def test_the_guard_is_armed_in_workers_only(tmp_path, monkeypatch):
    from wdfdbg.batch import isolate
    armed = []
    monkeypatch.setattr(isolate, "guard_worker", lambda settings: armed.append(settings))
    isolate.child_work(str(tmp_path / "nope"), isolate.Settings(memory_cap=0), lambda msg: None)
    assert armed == []  # called in this process: no alarm, no parent-death signal for it
    assert signal.alarm(0) == 0
