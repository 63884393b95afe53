"""Hostile-input harness (issue 10): run wdfdbg in a child process under an
address-space cap and a timeout, measure its time and peak RSS, and build
hostile inputs (decompression bombs, huge range lists) at test time.

    res = run(["info", path], cap=AS_2G)
    res.assert_refused("not a regular file")      # exit 2, one stderr line
    res.assert_bounded()                          # <= 12 s, <= 400 MB RSS

The child is ``prlimit --as=CAP python -m wdfdbg.cli ARGS`` (``prlimit``
execs the command, so ``os.wait4`` on its pid reports the Python process's
own ``ru_maxrss``); without ``prlimit`` the cap is set with
``resource.setrlimit`` in the child. ``WDFDBG_DEBUG`` is removed so the CLI's
one-line contract is what is tested, and ``PYTHONPATH`` puts this tree first.
"""

import os
import resource
import shutil
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


def _cap(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run(argv, cap=AS_4G, timeout=MAX_SECONDS * WALL_SLACK, env=None, stdin=None):
    """Run ``wdfdbg ARGV`` in a child under the address-space ``cap``;
    killed after ``timeout`` seconds. Returns a :class:`Result`."""
    cmd = [sys.executable, "-m", "wdfdbg.cli"] + list(argv)
    preexec = None
    prlimit = shutil.which("prlimit")
    if prlimit:
        cmd = [prlimit, "--as=%d" % cap] + cmd
    else:
        preexec = _cap(cap)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.time()
        p = subprocess.Popen(cmd, cwd=ROOT, env=child_env(env),
                             stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             stdout=out, stderr=err, preexec_fn=preexec)
        timed_out = False
        status = ru = None
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() - start > timeout:
                timed_out = True
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.time() - start
        p.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else \
            (-(status & 0x7f) if status & 0x7f else status >> 8)
        out.seek(0)
        err.seek(0)
        text_out = out.read().decode("utf-8", "replace")
        text_err = err.read().decode("utf-8", "replace")
    rss = ru.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return Result(list(argv), p.returncode, text_out, text_err, seconds, ru.ru_utime + ru.ru_stime, rss, timed_out)


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
