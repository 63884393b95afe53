"""The command-line contract (issue 10, items 6, 8, 9 and 10), each case
built from the issue's reproduction:

- numbers are unsigned and fit the pointer size; a bad one is a usage
  error (exit 2, one line); no report prints a negative hex number;
- output files are checked before any work and written whole or not at
  all; write errors on a file or on stdout are one line, exit 2;
- OUT is never one of the inputs, with or without ``--force``;
- exit 2 always comes with exactly one line on stderr (control characters
  escaped), help goes to stdout with exit 0, and running out of memory is
  ``wdfdbg: error: out of memory`` even when no memory is left.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from cmdhelpers import ROOT, fixture, load_doc
from test_minidump import build_triage_dump

from wdfdbg import cli, command
from wdfdbg.analysis.numbers import parse_int
from wdfdbg.errors import LayoutError, OutputError, UsageError
from wdfdbg.render import files
from wdfdbg.sources import snapshot as snapfmt

POSIX = os.name == "posix"
needs_posix = pytest.mark.skipif(not POSIX, reason="POSIX file descriptors and special files")
needs_prlimit = pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) is not installed")
OOM = "wdfdbg: error: out of memory"


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("WDFDBG_DEBUG", None)
    return e


def wdfdbg(*argv, **kw):
    """``python -m wdfdbg ARGV`` as a user runs it: (rc, stdout, stderr)."""
    prefix = kw.pop("prefix", [])
    kw.setdefault("stdout", subprocess.PIPE)
    p = subprocess.run(prefix + [sys.executable, "-m", "wdfdbg"] + list(argv), cwd=kw.pop("cwd", ROOT), env=env(),
                       stderr=subprocess.PIPE, timeout=kw.pop("timeout", 120), **kw)
    out = p.stdout.decode("utf-8", "replace") if p.stdout is not None else ""
    return p.returncode, out, p.stderr.decode("utf-8", "replace")


def one_line(err, internal=False):
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert err.endswith("\n") and "Traceback" not in err, err
    assert internal or "internal error" not in err, err
    return lines[0]


def usage_error(rc, out, err):
    assert rc == 2, (rc, out, err)
    assert out == "", out
    return one_line(err)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def typical():
    return fixture("typical", "wdfsnap.json.gz")


@pytest.fixture
def triage(tmp_path):
    p = tmp_path / "copy.dmp"
    p.write_bytes(build_triage_dump())
    return str(p)


# -- item 6: numbers --------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("0x10", 16), ("10", 16), ("0n16", 16), ("0X1f", 31), (" 0x10 ", 16),
                                        ("ffffc08b`0de9d087", 0xffffc08b0de9d087), ("0xffffffffffffffff", (1 << 64) - 1)])
def test_parse_int_takes_what_windbg_users_type(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize("text,words", [("-1", "negative"), ("0x-1", "negative"), ("0n-5", "negative"),
                                        ("+5", "sign"), ("0x+5", "sign"), ("0x1 0", "not a number"),
                                        ("1_0", "not a number"), ("0x", "not a number"), ("", "not a number"),
                                        ("0n1f", "not a number"), ("`10", "not a number"),
                                        ("0x" + "f" * 18, "64 bits"), ("0n" + str(1 << 64), "64 bits")])
def test_parse_int_refuses_signs_spaces_and_wide_values(text, words):
    with pytest.raises(UsageError) as e:
        parse_int(text, "H")
    assert words in str(e.value) and str(e.value).startswith("H: ")


def test_mdl_negative_address_is_a_usage_error(typical):
    # the issue: exit 1 with "address": "0x-1", which fails the report's own schema
    line = usage_error(*wdfdbg("mdl", typical, "0x-1", "--json"))
    assert line.startswith("wdfdbg: error: ADDR: '0x-1' is negative")


@pytest.mark.parametrize("argv", [["memory", "{F}", "0n-5"], ["memory", "{F}", "--", "-1"],
                                  ["lookaside", "{F}", "0x1" + "0" * 18], ["descriptor", "{F}", "0x10 0"],
                                  ["snapshot", "{F}", "-o", "{T}/x.json", "--around", "0x-1000"]])
def test_bad_numbers_are_usage_errors(typical, tmp_path, argv):
    argv = [a.replace("{F}", typical).replace("{T}", str(tmp_path)) for a in argv]
    usage_error(*wdfdbg(*argv))
    assert not os.path.exists(str(tmp_path / "x.json"))


def test_an_address_wider_than_the_targets_pointers(tmp_path, capsys):
    from wdfdbg.testing import scenarios
    path = str(tmp_path / "x86.wdfsnap.json.gz")
    snapfmt.save(scenarios.typical(arch="x86").document(), path)
    for name in ("memory", "lookaside", "mdl", "descriptor"):
        assert cli.main([name, path, "0x100000000"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and one_line(err).endswith("'0x100000000' does not fit the target's 32-bit pointers")
    assert cli.main(["mdl", path, "0xffffffff"]) in (0, 1)  # the widest 32-bit address is one
    capsys.readouterr()


def test_hex_formatting_refuses_negatives():
    from wdfdbg.analysis.numbers import hexn, refuse_negative_hex
    assert hexn(0) == "0x0" and hexn(0x58) == "0x58"
    with pytest.raises(LayoutError):
        hexn(-0x58)
    with pytest.raises(LayoutError):
        refuse_negative_hex("parent 0x-58")
    with pytest.raises(LayoutError):
        refuse_negative_hex('{"parent": "0x-58"}', json=True)
    # a path that looks like one is not a number
    for text in ("source: /tmp/0x-1.dmp", "driver my0x-1", "file 0x-1.dmp here"):
        assert refuse_negative_hex(text) == text
    for text in ("parent 0x-58.", "(0x-58)", "x=0x-58, y", "0x-58"):
        with pytest.raises(LayoutError):
            refuse_negative_hex(text)
    assert refuse_negative_hex('{"path": "/x/0x-1"}', json=True)
    assert refuse_negative_hex("source: 0x-1 (x)", exempt=["0x-1"])


def test_signed_types_never_print_negative_hex(typical, tmp_path):
    """ISF types that declare FxObject.m_ParentObject a signed long long
    and m_Type a short: the parent of every object reads negative. Whether
    the types are refused when loaded or the report refuses to print it,
    the answer is exit 2 with one line, never ``0x-...`` in a report."""
    doc = load_doc(typical)
    fields = doc["types"]["Wdf01000"]["user_types"]["FxObject"]["fields"]
    fields["m_ParentObject"]["type"] = {"kind": "base", "name": "long long"}
    fields["m_Type"]["type"] = {"kind": "base", "name": "short"}
    path = str(tmp_path / "signed.wdfsnap.json.gz")
    snapfmt.save(doc, path)
    handle = "0x3f74ffffd838"  # a WDFMEMORY of the typical scenario
    for argv in (["memory", path, handle], ["memory", path, handle, "--json"],
                 ["lookaside", path, "0xffffc08b00009250"], ["scan", path], ["scan", path, "--json"]):
        rc, out, err = wdfdbg(*argv)
        assert "0x-" not in out, argv
        if rc == 2:
            assert "negative" in one_line(err) or "signed" in err, err


# -- item 8: output files and stdout --------------------------------------------
def test_snapshot_into_a_missing_folder_fails_before_the_work(triage, monkeypatch, capsys):
    from wdfdbg import snapshot

    def no_work(args):
        raise AssertionError("the analysis ran before the output was checked")
    monkeypatch.setattr(snapshot, "build", no_work)
    assert snapshot.main([triage, "-o", "/no/such/dir/x.gz"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "the folder /no/such/dir does not exist" in one_line(err)


@needs_posix
@pytest.mark.parametrize("special", ["/dev/full", "/dev/null", "FIFO", "DIR"])
def test_snapshot_refuses_special_outputs(triage, tmp_path, special):
    if special == "FIFO":
        special = str(tmp_path / "fifo")
        os.mkfifo(special)  # a FIFO would block the write forever
    elif special == "DIR":
        special = str(tmp_path)
    for force in ([], ["--force"]):
        line = usage_error(*wdfdbg("snapshot", triage, "-o", special, *force, timeout=60))
        assert "the output must be a regular file" in line


def test_snapshot_into_an_unwritable_folder(triage, tmp_path):
    if POSIX and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(str(d), 0o555)
    try:
        assert "is not writable" in usage_error(*wdfdbg("snapshot", triage, "-o", str(d / "x.json")))
    finally:
        os.chmod(str(d), 0o755)


@needs_posix
def test_report_to_a_full_disk(typical):
    # the issue: > /dev/full gave internal error: OSError ENOSPC
    for argv in (["info", typical], ["memtree", typical, "--json"], ["--help"], ["memtree", "--help"]):
        with open("/dev/full", "w") as full:
            rc, out, err = wdfdbg(*argv, stdout=full)
        assert rc == 2, (argv, err)
        assert one_line(err) == "wdfdbg: error: cannot write to standard output: No space left on device"


@needs_posix
def test_report_to_a_closed_or_read_only_stdout(typical):
    # the issue: a closed stdout gave AttributeError
    rc, out, err = wdfdbg("info", typical, stdout=None, prefix=["bash", "-c", 'exec "$@" >&-', "-"])
    assert rc == 2 and one_line(err) == "wdfdbg: error: standard output is closed: there is nowhere to write the report"
    rc, out, err = wdfdbg("info", typical, stdout=None, prefix=["bash", "-c", 'exec "$@" 1</dev/null', "-"])
    assert rc == 2 and "standard output is open for reading only" in one_line(err)


@needs_posix
def test_a_reader_that_goes_away_ends_the_command_quietly():
    leak = fixture("leak", "wdfsnap.json.gz")
    p = subprocess.Popen([sys.executable, "-m", "wdfdbg", "scan", leak], cwd=ROOT, env=env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()  # like | head -1
    err = p.stderr.read()
    p.stderr.close()
    assert p.wait(timeout=120) == 0
    assert first.startswith(b"source: ") and err == b"", err


@needs_posix
@needs_prlimit
def test_a_failed_write_leaves_out_as_it_was(triage, typical, tmp_path):
    """A file-size limit makes the write fail part way (EFBIG, as a full
    disk gives ENOSPC): one line, exit 2, OUT untouched, no temporary
    file left in its folder."""
    out = tmp_path / "out.wdfsnap.json"
    out.write_text("old\n")
    before = sorted(os.listdir(str(tmp_path)))
    rc, _, err = wdfdbg("snapshot", triage, "-o", str(out), "--force", prefix=["prlimit", "--fsize=1000"])
    assert rc == 2 and one_line(err) == "wdfdbg: error: cannot write %s: File too large" % out
    assert out.read_text() == "old\n" and sorted(os.listdir(str(tmp_path))) == before
    rec = tmp_path / "rec.wdfsnap.json.gz"
    rc, _, err = wdfdbg("record", str(rec), "--", "info", typical, stdout=subprocess.DEVNULL,
                        prefix=["prlimit", "--fsize=2000"])
    assert rc == 2 and "cannot write %s: File too large" % rec in one_line(err)
    assert sorted(os.listdir(str(tmp_path))) == before


def test_atomic_output(tmp_path):
    doc = load_doc(fixture("typical", "wdfsnap.json.gz"))
    gz = str(tmp_path / "a.wdfsnap.json.gz")
    with files.atomic_output(gz) as f:
        f.write(snapfmt.dumps(doc))
    with open(gz, "rb") as f:
        assert f.read() == snapfmt.dumps(doc, compress=True)  # gzip by name, byte for byte
    if POSIX:
        mask = os.umask(0)
        os.umask(mask)
        assert os.stat(gz).st_mode & 0o777 == 0o666 & ~mask
    plain = tmp_path / "b.json"
    plain.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_output(str(plain), "w") as f:
            f.write("half")
            raise KeyboardInterrupt()
    assert plain.read_text() == "old" and sorted(os.listdir(str(tmp_path))) == ["a.wdfsnap.json.gz", "b.json"]
    with files.atomic_output(str(plain), "w") as f:
        f.write("new")
    assert plain.read_text() == "new"


def test_check_output_path(tmp_path):
    src = tmp_path / "in.dmp"
    src.write_bytes(b"x")
    new = str(tmp_path / "new.json")
    assert files.check_output_path(new, [str(src)]) == os.path.realpath(new)
    with pytest.raises(UsageError, match="exists"):
        files.check_output_path(str(src), [])
    assert files.check_output_path(str(src), [], force=True)
    with pytest.raises(UsageError, match="output file name is empty"):
        files.check_output_path("", [])


# -- item 9: OUT is never an input ----------------------------------------------
def test_snapshot_never_overwrites_its_dump(triage):
    # the issue: snapshot copy.dmp -o copy.dmp --force replaced the dump with JSON
    before = sha(triage)
    for force in ([], ["--force"]):
        line = usage_error(*wdfdbg("snapshot", triage, "-o", triage, *force))
        assert "is the input" in line
    assert sha(triage) == before


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "--source", "--types"])
def test_record_never_overwrites_an_input(typical, tmp_path, how):
    # the issue: record copy.gz --force -- memtree copy.gz replaced a fixture
    copy = str(tmp_path / "copy.gz")
    shutil.copy(typical, copy)
    out, argv = copy, ["memtree", copy]
    if how == "symlink":
        if not hasattr(os, "symlink") or not POSIX:
            pytest.skip("no symlinks")
        out = str(tmp_path / "link.gz")
        os.symlink(copy, out)
    elif how == "hardlink":
        out = str(tmp_path / "hard.gz")
        os.link(copy, out)
    elif how == "--source":
        argv = ["--source", copy, "--", "memtree"]
    elif how == "--types":
        types = tmp_path / "Wdf01000.json"
        types.write_text(json.dumps(load_doc(typical)["types"]["Wdf01000"]))
        out, argv = str(types), ["memtree", copy, "--types", "Wdf01000=%s" % types]
    before = sha(copy), sha(out)
    if argv[0] != "--source":
        argv = ["--"] + argv
    line = usage_error(*wdfdbg("record", out, "--force", *argv))
    assert "is the input" in line and "refusing to overwrite an input" in line
    assert (sha(copy), sha(out)) == before


def test_snapshot_never_overwrites_its_types_file(typical, tmp_path):
    types = tmp_path / "Wdf01000.json"
    types.write_text(json.dumps(load_doc(typical)["types"]["Wdf01000"]))
    before = sha(str(types))
    usage_error(*wdfdbg("snapshot", typical, "-o", str(types), "--force", "--types", str(types)))
    assert sha(str(types)) == before


# -- item 10: one line, help on stdout --------------------------------------------
def test_no_command_is_one_line():
    # the issue: usage on stdout, nothing on stderr, exit 2
    line = usage_error(*wdfdbg())
    assert line.startswith("wdfdbg: error: ") and "wdfdbg --help" in line


def test_unknown_command_is_one_line():
    # the issue: 14 lines on stderr
    assert "unknown command 'nosuch'" in usage_error(*wdfdbg("nosuch"))
    assert "did you mean memtree?" in usage_error(*wdfdbg("memtre"))


def test_help_goes_to_stdout(capsys):
    for argv in (["--help"], ["-h"], ["help"]):
        assert cli.main(argv) == 0
        out, err = capsys.readouterr()
        assert out.startswith("usage: wdfdbg COMMAND") and err == ""
    for name, _ in cli.COMMANDS:
        for argv in ([name, "--help"], ["help", name]):
            assert cli.main(argv) == 0, argv
            out, err = capsys.readouterr()
            assert out.startswith("usage: wdfdbg %s" % name) and err == "", argv
    rc, out, err = wdfdbg("memtree", "--help")
    assert rc == 0 and out.startswith("usage: wdfdbg memtree") and err == ""


@pytest.mark.parametrize("argv", [["memtree", "--bogus"], ["memtree", "--depth", "x"], ["memory"], ["lookaside"],
                                  ["mdl"], ["descriptor"], ["mdl", "--driver", "x", "0x10"], ["memusage", "--bogus"],
                                  ["info", "a", "b"], ["scan", "--max-objects", "0"], ["snapshot"],
                                  ["snapshot", "x.dmp"], ["record"], ["record", "x.json"],
                                  ["record", "x.json", "--", "snapshot"], ["memory", "--dump", "-1", "x", "0x1"],
                                  ["memory", "/no/such.dmp", "0x10"], ["info", "/no/such.dmp"]])
def test_every_usage_error_is_one_line(argv, capsys):
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    line = one_line(err)
    assert out == "" and line.startswith("wdfdbg")


def test_argparse_errors_read_like_argparse(capsys):
    assert cli.main(["memtree", "--bogus"]) == 2
    assert capsys.readouterr().err == "wdfdbg memtree: error: unrecognized arguments: --bogus\n"
    assert cli.main(["memory"]) == 2
    assert capsys.readouterr().err == "wdfdbg memory: error: a WDFMEMORY handle or address is required\n"


@needs_posix
@pytest.mark.parametrize("name", ["new\nline", "esc\x1b[31mred", "tab\there", "bell\x07", "cr\rret"])
def test_a_hostile_path_stays_one_line(tmp_path, name):
    # the issue: a path with a newline gave a two-line error
    path = str(tmp_path / name)
    line = usage_error(*wdfdbg("info", path))
    assert "\x1b" not in line and "\r" not in line and "\x07" not in line
    assert repr(name)[1:-1] in line  # shown escaped, as \n, \x1b, \t, \x07, \r


@needs_posix
def test_a_non_utf8_path_is_shown_by_its_bytes(tmp_path):
    path = os.path.join(os.fsencode(str(tmp_path)), b"bad\xffname.dmp")
    p = subprocess.run([sys.executable, "-m", "wdfdbg", "info", path], cwd=ROOT, env=env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 2
    assert one_line(p.stderr.decode("ascii")) .endswith("bad\\xffname.dmp: cannot open: No such file or directory")


def test_printable():
    from wdfdbg.render.streams import printable
    assert printable("plain /x.dmp") == "plain /x.dmp"
    assert printable("a\nb\tc\x1b\x7f\u2028\udcff") == "a\\nb\\tc\\x1b\\x7f\\u2028\\xff"


# -- the last-resort handler ------------------------------------------------------
def test_memory_error_is_one_line_even_when_debugging(capsys, monkeypatch):
    monkeypatch.setattr(command, "DEBUG", True)

    def body(argv):
        raise MemoryError()
    assert command.run(body, []) == 2
    out, err = capsys.readouterr()
    assert err.startswith(OOM) and one_line(err)


def test_the_handler_does_not_read_the_environment(capsys, monkeypatch):
    """The issue saw ``KeyError: b'WDFDBG_DEBUG'`` raised inside
    ``os.environ.get`` by the handler itself: it reads the flag once, at
    import, and nothing it does can fail the one line."""
    monkeypatch.setattr(command, "DEBUG", False)

    class Hostile(dict):
        def get(self, *a):
            raise KeyError(b"WDFDBG_DEBUG")
        __getitem__ = get

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")
    monkeypatch.setattr(os, "environ", Hostile())
    for exc in (ValueError("x\ny"), Unprintable()):
        def body(argv):
            raise exc
        assert command.run(body, []) == 2
        out, err = capsys.readouterr()
        assert one_line(err, internal=True).startswith("wdfdbg: internal error: ")


@needs_posix
@needs_prlimit
def test_out_of_memory_with_no_memory_left(tmp_path):
    """A body that takes every byte the address-space cap allows and keeps
    it: the handler still writes its line (from a constant) and exits 2."""
    hog = tmp_path / "hog.py"
    hog.write_text("\n".join([
        "import sys",
        "from wdfdbg import command",
        "HOG = []",
        "def body(argv):",
        "    size = 1 << 20",
        "    while True:",
        "        try:",
        "            HOG.append(bytearray(size))",
        "        except MemoryError:",
        "            if size <= 64:",
        "                raise",
        "            size //= 2",
        "sys.exit(command.run(body, []))", ""]))
    for mb in (64, 256):
        p = subprocess.run(["prlimit", "--as=%d" % (mb << 20), sys.executable, str(hog)], cwd=ROOT, env=env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 2 and one_line(err).startswith(OOM), (mb, err)


def _import_floor():
    """The smallest address-space cap (MB) under which Python imports the
    commands, plus a margin."""
    code = "import wdfdbg.cli, wdfdbg.memtree, wdfdbg.info, wdfdbg.render.report"
    for mb in range(16, 160, 4):
        p = subprocess.run(["prlimit", "--as=%d" % (mb << 20), sys.executable, "-c", code], cwd=ROOT, env=env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode == 0:
            # (no margin: memtree imports its triage decoders up front, so the
            # floor is most of what the leak fixture's report needs)
            return mb
    pytest.skip("Python does not start under 160 MB here")


@needs_posix
@needs_prlimit
def test_out_of_memory_anywhere_is_one_line(tmp_path):
    """Commands run under address-space caps from just above what Python
    needs to start up to what the work needs: each run is the whole report
    or the out-of-memory line, never an internal error or a traceback."""
    leak = fixture("leak", "wdfsnap.json.gz")
    argv = ["memtree", leak, "--json"]
    rc0, ref, err0 = wdfdbg(*argv)
    assert rc0 in (0, 1), err0
    mb = _import_floor()
    ok = oom = 0
    while mb < 400 and ok < 2:
        p = subprocess.run(["prlimit", "--as=%d" % (mb << 20), sys.executable, "-m", "wdfdbg"] + argv, cwd=ROOT,
                           env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode == 2:
            assert one_line(err).startswith(OOM), (mb, err)
            oom += 1
        else:
            assert p.returncode == rc0 and err == "", (mb, err)
            assert p.stdout.decode("utf-8") == ref, mb  # the whole report, the same facts
            ok += 1
        mb += 2
    assert oom, "no cap made the command run out of memory"


def test_gzip_output_equals_the_snapshot_writer(tmp_path):
    """record and snapshot write through atomic_output: the bytes are what
    ``snapshot.save`` would have written."""
    doc = load_doc(fixture("typical", "wdfsnap.json.gz"))
    a, b = str(tmp_path / "a.gz"), str(tmp_path / "b.gz")
    snapfmt.save(doc, a)
    with files.atomic_output(b) as f:
        f.write(snapfmt.dumps(doc))
    assert sha(a) == sha(b) and json.loads(gzip.decompress(open(b, "rb").read()))["format"] == "wdfdbg-snapshot"


def test_stdout_write_errors():
    from wdfdbg.render.streams import StdoutClosed, checked_sink

    def failing(exc):
        def sink(piece):
            raise exc
        return checked_sink(sink)
    with pytest.raises(StdoutClosed):  # | head, a pager quit
        failing(BrokenPipeError(32, "Broken pipe"))("x")
    with pytest.raises(OutputError, match="cannot write to standard output: Bad file descriptor"):
        failing(OSError(9, "Bad file descriptor"))("x")
    with pytest.raises(OutputError, match="No space left on device"):
        failing(OSError(28, "No space left on device"))("x")


def test_output_errors_are_output_errors():
    """A write error inside atomic_output is an OutputError naming OUT."""
    class Full(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            raise OSError(28, "No space left on device")
    checked = files._Checked(Full(), "OUT")
    with pytest.raises(OutputError, match="cannot write OUT: No space left on device"):
        checked.write(b"x")
