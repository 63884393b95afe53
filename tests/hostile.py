"""Hostile-input harness (issue 10): run wdfdbg in a child process under an
address-space cap and a timeout, measure its wall clock, CPU and peak RSS,
and build hostile inputs (decompression bombs, huge range lists) at test time.

    res = run(["info", path], cap=AS_2G)
    res.assert_refused("not a regular file")      # exit 2, one stderr line
    res.assert_bounded()                          # <= 12 s CPU, <= 400 MB RSS
    res.assert_acceptance()                       # also <= 12 s wall clock

The command is ``prlimit --as=CAP python -m wdfdbg ARGS`` (``python -m
wdfdbg`` is the ``wdfdbg`` console script; without ``prlimit`` the cap is
set with ``resource.setrlimit`` before the exec). ``WDFDBG_DEBUG`` is
removed so the CLI's one-line contract is what is tested, and
``PYTHONPATH`` puts this tree first.

**Whose RSS is measured.** ``ru_maxrss`` is a high-water mark kept per
process (Linux: ``signal_struct.maxrss``) that an ``exec`` does not reset:
``exec_mmap`` (fs/exec.c) folds the old address space's high-water mark
into it. A child forked, vforked or ``posix_spawn``-ed from pytest starts
with pytest's address space, so its ``ru_maxrss`` is at least pytest's RSS
whatever it execs (a parent holding 500 MB sees 513 MB for ``/bin/true``
spawned either way). So the command is not started from pytest: pytest
starts a small exec wrapper (``python -S``, about 10 MB, :data:`WRAPPER`)
in a new session; the wrapper forks, and its child, a fresh process with
the wrapper's small address space, execs the command. The wrapper times
the command (``time.monotonic`` around fork and ``wait4``), takes its
rusage from ``wait4`` and sends both to pytest through a pipe. The peak
measured is the command's own (never below the wrapper's ~10 MB, which
any Python command exceeds). A timeout kills the wrapper's whole process
group.
"""

import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AS_2G = 2 << 30
AS_4G = 4 << 30
MAX_SECONDS = 12.0
WALL_SLACK = 3
MAX_RSS = 400 * 1000 * 1000


def child_env(extra=None):
    env = dict(os.environ)
    env.pop("WDFDBG_DEBUG", None)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else ROOT
    env.update(extra or {})
    return env


class Result(object):
    """What a child did: ``rc``, ``out``, ``err`` (text), ``seconds``
    (wall clock), ``cpu`` (user + system seconds), ``rss`` (peak bytes),
    ``timed_out``."""

    __slots__ = ("argv", "rc", "out", "err", "seconds", "cpu", "rss", "timed_out")

    def __init__(self, argv, rc, out, err, seconds, cpu, rss, timed_out):
        self.argv = argv
        self.rc = rc
        self.out = out
        self.err = err
        self.seconds = seconds
        self.cpu = cpu
        self.rss = rss
        self.timed_out = timed_out

    def lines(self):
        return self.err.splitlines()

    def figures(self):
        return "%.2f s wall, %.2f s CPU, %.0f MB peak RSS" % (self.seconds, self.cpu, self.rss / 1e6)

    def describe(self):
        return "wdfdbg %s -> exit %s in %s\nstdout: %s\nstderr: %s" % (
            " ".join(self.argv), self.rc, self.figures(), self.out[:500], self.err[:2000])

    def assert_bounded(self, seconds=MAX_SECONDS, rss=MAX_RSS):
        """At most ``seconds`` of CPU (user + system: the wall clock of a
        shared runner also measures its neighbours; it is bounded by the
        timeout, WALL_SLACK times longer) and ``rss`` bytes of peak RSS."""
        assert not self.timed_out, self.describe()
        assert self.cpu <= seconds, self.describe()
        assert self.seconds <= seconds * WALL_SLACK, self.describe()
        assert self.rss <= rss, self.describe()

    def assert_acceptance(self, seconds=MAX_SECONDS, rss=MAX_RSS):
        """Issue 10's acceptance: within ``seconds`` of wall clock (and of
        CPU) and ``rss`` bytes of peak RSS, and no traceback or "internal
        error" anywhere in what the command wrote."""
        self.assert_bounded(seconds, rss)
        assert self.seconds <= seconds, self.describe()
        for text in (self.out, self.err):
            assert "Traceback" not in text and "internal error" not in text, self.describe()

    def assert_refused(self, *words):
        """Exit 2, nothing on stdout, exactly one stderr line naming the
        problem (each of ``words`` in it), no traceback or internal error."""
        assert self.rc == 2, self.describe()
        assert self.out == "", self.describe()
        lines = self.lines()
        assert len(lines) == 1, self.describe()
        assert lines[0].startswith("wdfdbg: error: "), self.describe()
        assert "internal error" not in lines[0] and "Traceback" not in self.err, self.describe()
        for w in words:
            assert w in lines[0], "%r not in: %s" % (w, self.describe())

    def assert_report(self):
        """A report (exit 0 or 1) with nothing on stderr."""
        assert self.rc in (0, 1), self.describe()
        assert self.out and not self.err, self.describe()


# The exec wrapper (see the module docstring): argv[1] the fd to report on,
# argv[2] "closed" to start the command with stdout closed, argv[3] the
# address-space cap or "-", argv[4:] the command. It reports
# "status utime stime maxrss_kb wall" (or "exec-failed errno").
WRAPPER = r"""
import os, sys, time
fd, stdout, cap, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.close(fd)
        if stdout == "closed":
            os.close(1)
        if cap != "-":
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (int(cap), int(cap)))
        os.execv(cmd[0], cmd)
    except OSError as e:
        os.write(2, ("exec-failed %s\n" % e).encode())
    os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
os.write(fd, ("%d %r %r %d %r" % (status, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, wall)).encode())
"""

CLOSED = "closed"


def command(argv, cap=AS_4G):
    """The argv that runs ``wdfdbg ARGV`` under the address-space ``cap``
    (the setrlimit fallback is the wrapper's), and the cap the wrapper sets."""
    cmd = [sys.executable, "-m", "wdfdbg"] + list(argv)
    prlimit = shutil.which("prlimit")
    if prlimit:
        return [prlimit, "--as=%d" % cap] + cmd, "-"
    return cmd, str(cap)


def _exit_code(status):
    if hasattr(os, "waitstatus_to_exitcode"):
        return os.waitstatus_to_exitcode(status)
    return -(status & 0x7f) if status & 0x7f else status >> 8


def run(argv, cap=AS_4G, timeout=MAX_SECONDS * WALL_SLACK, env=None, stdin=None, stdout=None, cwd=None):
    """Run ``wdfdbg ARGV`` through :data:`WRAPPER` under the address-space
    ``cap``; killed after ``timeout`` seconds. ``stdout``: None to capture
    it, :data:`CLOSED` to start the command with no stdout, or an open file
    (``/dev/full``). Returns a :class:`Result` whose time and RSS are the
    command's own."""
    cmd, wrapper_cap = command(argv, cap)
    rfd, wfd = os.pipe()
    timed_out = False
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            sink = out if stdout is None or stdout == CLOSED else stdout
            start = time.time()
            p = subprocess.Popen([sys.executable, "-S", "-c", WRAPPER, str(wfd), CLOSED if stdout == CLOSED else "-", wrapper_cap] + cmd,
                                 cwd=cwd or ROOT, env=child_env(env), pass_fds=(wfd,), start_new_session=True,
                                 stdin=stdin if stdin is not None else subprocess.DEVNULL, stdout=sink, stderr=err)
            os.close(wfd)
            wfd = None
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            seconds = time.time() - start
            report = b""
            while True:
                piece = os.read(rfd, 4096)
                if not piece:
                    break
                report += piece
            out.seek(0)
            err.seek(0)
            text_out = out.read().decode("utf-8", "replace")
            text_err = err.read().decode("utf-8", "replace")
    finally:
        os.close(rfd)
        if wfd is not None:
            os.close(wfd)
    rc, cpu, rss = None, seconds, 0
    if report:
        status, utime, stime, maxrss, wall = report.decode("ascii").split()
        rc = _exit_code(int(status))
        cpu = float(utime) + float(stime)
        rss = int(maxrss) * (1 if sys.platform == "darwin" else 1024)
        seconds = float(wall)
    elif not timed_out:
        raise AssertionError("the exec wrapper reported nothing (exit %s): %s" % (p.returncode, text_err[-2000:]))
    return Result(list(argv), rc, text_out, text_err, seconds, cpu, rss, timed_out)


# -- building hostile inputs -------------------------------------------------------
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


def blanks_gzip(mib, fill=b" "):
    """A valid one-member gzip of ``mib`` MiB of ``fill`` bytes, built in
    well under a second for GiBs: the deflate stream of one MiB after a full
    flush is the same every time, so it is repeated (the CRC is computed
    over the real content, so a reader sees a correct file)."""
    blk = fill * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    c.compress(blk)
    c.flush(zlib.Z_FULL_FLUSH)
    piece = c.compress(blk) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(blk, crc)
    return _GZIP_HEADER + piece * mib + tail + struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)


def gzip_members(count, mib_each, fill=b" "):
    """``count`` concatenated gzip members of ``mib_each`` MiB each."""
    return blanks_gzip(mib_each, fill) * count


def snapshot_head(page_size=None):
    """The start of a minimal valid snapshot document, up to ``"memory": [``."""
    target = '{"arch": "x64", "pointer_size": 8%s}' % (", \"page_size\": %d" % page_size if page_size else "")
    return ('{"format": "wdfdbg-snapshot", "version": 1, "origin": "synthetic", '
            '"description": "synthetic: hostile input", "target": %s, "types": {}, "memory": [' % target)


def write_ranges(path, count, base=0xffffc08b00000000, stride=2, data="AQ==", page_size=None, compress=True):
    """A snapshot of ``count`` one-byte memory ranges written in a stream
    (gzip level 1 when ``compress``); returns the file size."""
    c = zlib.compressobj(1, zlib.DEFLATED, 31) if compress else None
    with open(path, "wb") as f:
        def put(text):
            raw = text.encode("ascii")
            f.write(c.compress(raw) if c else raw)
        put(snapshot_head(page_size))
        step = 65536
        for start in range(0, count, step):
            n = min(step, count - start)
            put(("," if start else "") + ",".join('{"address": "0x%x", "data": "%s"}' % (base + stride * i, data)
                                                  for i in range(start, start + n)))
        put("]}")
        if c:
            f.write(c.flush())
    return os.path.getsize(path)


def fifo(path):
    """A named pipe nobody writes to (reading it would block forever)."""
    os.mkfifo(path)
    return path


# -- what the fuzz campaign ran, for the end-of-session summary (conftest.py) ----
FUZZ_SEED = int(os.environ.get("WDFDBG_FUZZ_SEED", "20261201"))
FUZZ_SCALE = float(os.environ.get("WDFDBG_FUZZ_SCALE", "1"))
SUMMARY = []


def note_summary(line):
    SUMMARY.append(line)


def summary_lines():
    if not SUMMARY:
        return []
    head = ("fuzz campaign under a 2 GiB cap: seed %d (WDFDBG_FUZZ_SEED, also the seed of the hypothesis tests in "
            "test_dump_fuzz.py and test_snapshot_format.py), budget x%g (WDFDBG_FUZZ_SCALE):" % (FUZZ_SEED, FUZZ_SCALE))
    return [head] + ["  " + line for line in SUMMARY]
