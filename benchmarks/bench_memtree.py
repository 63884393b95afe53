"""Benchmark: ``memtree --json`` on synthetic snapshots of 10^4, 10^5 and
10^6 framework objects (the scenario builder's ``bulk`` scenario), each
size in its own process, and side by side with volatility3's object model
on one driver with 30,000 WDFMEMORY children.

    python benchmarks/bench_memtree.py [--sizes 10000,100000,1000000] [--children 200000]
        [--vol3-python /tmp/vol3/bin/python] [--vol3-children 30000] [--keep DIR]

``--children``: the same on the ``leak`` scenario (one driver holding N
WDFMEMORY children). For each size the parent builds the snapshot file once,
then runs a child
process that opens it and streams ``memtree --json`` to a null sink. The
child reports: the analysis's objects per second (wall and CPU), round trips
and pages per object (``Target.backend_reads``; pages from
``Target.pages_fetched`` where the target counts them, else the same),
``Target.read`` calls per object, and memory, all from the child's own
``/proc/self/status``: the whole process's peak RSS (:func:`process_peak`:
loading the snapshot included), the RSS once the snapshot is loaded (the
source), and the peak RSS during the analysis alone (``VmHWM`` after
resetting it through ``/proc/self/clear_refs``, source included); and a
calibration (CPU seconds for 10^7 empty loop iterations: the machine is
shared, and its speed moves with its load). Then how time and memory grow
from the smallest size to the largest.

With ``--vol3-python`` (a Python with volatility3 installed, e.g. ``python3
-m venv /tmp/vol3 && /tmp/vol3/bin/pip install volatility3``; volatility3 is
not a dependency of wdfdbg) it also runs ``benchmarks/bench_vol3.py`` on
the same snapshot and prints the ratio: whole process (wall and CPU) and
walk alone.
"""

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


class NullSink(io.TextIOBase):
    def __init__(self):
        self.chars = 0

    def write(self, s):
        self.chars += len(s)
        return len(s)


def _status(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak():
    """Reset VmHWM (Linux >= 4.0); False when it cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def calibrate():
    """CPU seconds for 10^7 iterations of an empty Python loop: how fast this
    machine runs Python right now (a shared machine's figure moves with its
    load; compare runs through it)."""
    c0 = time.process_time()
    for _ in range(10 ** 7):
        pass
    return time.process_time() - c0


def target_counts(target):
    """(round trips, pages, Target.read calls): what the target counts today
    (``backend_reads`` is one round trip; a target with read-ahead counts the
    pages those trips brought in as ``pages_fetched``)."""
    trips = target.backend_reads
    pages = getattr(target, "pages_fetched", trips)
    return trips, pages, target.reads


def run_one(path, argv):
    """The child: open ``path``, run memtree, print one JSON line."""
    t0 = time.perf_counter()
    from wdfdbg import memtree
    from wdfdbg.session import open_session
    session = open_session(path)
    load_s = time.perf_counter() - t0
    rss_source = _status("VmRSS")
    load_peak = _status("VmHWM")
    reset = _reset_peak()
    from wdfdbg import command
    from wdfdbg.analysis import tree
    args = memtree.parse_args(list(argv) + ["--max-objects", str(10 ** 7)])
    sink = NullSink()
    c0 = time.process_time()
    w0 = time.perf_counter()
    # what memtree.execute(session, args, out=sink) does, keeping the analysis for its count
    analysis = tree.TreeAnalysis(session, tree.TreeOptions.from_args(args)).plan()
    analysis.run(memtree.writer_for(session, args, sink))
    code = command.exit_code(analysis.problems)
    wall = time.perf_counter() - w0
    cpu = time.process_time() - c0
    trips, pages, reads = target_counts(session.target)
    end_peak = _status("VmHWM")   # the analysis's peak after the reset, else the lifetime peak
    out = {"objects": analysis.count, "load_seconds": load_s, "seconds": wall, "cpu_seconds": cpu, "exit": code, "json_chars": sink.chars,
           "round_trips": trips, "pages": pages, "reads": reads, "rss_source": rss_source, "load_peak": load_peak,
           "analysis_peak": end_peak if reset else None, "end_peak": end_peak, "calibration": calibrate()}
    print(json.dumps(out))
    return 0


def process_peak(figures):
    """The whole process's peak RSS in bytes from a child's figures
    (:func:`run_one`), or None where ``/proc`` gives no ``VmHWM``: the
    larger of its peak while loading and its peak at the end (the
    analysis's, VmHWM reset in between; the lifetime peak when it could not
    be reset). VmHWM belongs to the child's own address space, made at
    exec. Not ``ru_maxrss``: Linux carries the parent's peak into the
    child's over fork and exec (and resetting VmHWM does not reset it), so
    a parent that built a 10^6-object heap would show as the child's
    peak."""
    peaks = [v for v in (figures.get("load_peak"), figures.get("end_peak"), figures.get("analysis_peak")) if v]
    return max(peaks) if peaks else None


# A 10^6-object snapshot is about 0.5 GB of JSON text: past the default limits
# against decompression bombs (docs/limits.md), raised here as the doc says.
BIG_SNAPSHOTS = {"WDFDBG_MAX_JSON_BYTES": "2G", "WDFDBG_MAX_JSON_MEMORY": "8G"}


def child(argv, timeout=3600):
    """Run a command; (its last stdout line that is JSON, wall seconds).
    A command that fails, or prints no such line, ends the benchmark with
    its stderr."""
    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(BIG_SNAPSHOTS)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)
    out, err = p.communicate(timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        sys.stderr.write(err)
        raise SystemExit("%s failed (%d)" % (" ".join(argv[:3]), p.returncode))
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        sys.stderr.write(err)
        raise SystemExit("%s printed no figures (exit %d)" % (" ".join(argv[:3]), p.returncode))
    return json.loads(lines[-1]), wall


class ChildClock(object):
    """CPU time of children: RUSAGE_CHILDREN is cumulative, so take deltas."""

    def __init__(self):
        self.last = self._now()

    @staticmethod
    def _now():
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    def lap(self):
        now = self._now()
        d, self.last = now - self.last, now
        return d


def make_snapshot(directory, scenario, **params):
    from wdfdbg.sources import snapshot as snapfmt
    from wdfdbg.testing import build
    name = "%s-%s.wdfsnap.json.gz" % (scenario, "-".join("%s%d" % kv for kv in sorted(params.items())))
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        t0 = time.perf_counter()
        snapfmt.save(build(scenario, **params).document(types=True), path)
        sys.stderr.write("built %s in %.0f s\n" % (name, time.perf_counter() - t0))
    return path


def mb(v):
    return "-" if v is None else "%.0f" % (v / 1e6)


def sizes_table(directory, sizes, scenario="bulk"):
    me = os.path.abspath(__file__)
    if scenario == "bulk":
        print("memtree --json, bulk scenario (groups of 1,000 under one driver), one process per size")
    else:
        print("memtree --json, leak scenario (N WDFMEMORY children of one driver), one process per size")
    print("%9s %7s %8s %8s %7s %7s %7s %7s %6s %7s %9s %8s %6s" % (
        "objects", "load s", "walk s", "cpu s", "obj/s", "obj/s", "trips", "pages", "reads", "source", "analysis",
        "process", "calib"))
    print("%9s %7s %8s %8s %7s %7s %7s %7s %6s %7s %9s %8s %6s" % (
        "", "", "(wall)", "", "(wall)", "(cpu)", "/obj", "/obj", "/obj", "MB", "peak MB", "peak MB", "s"))
    rows = []
    for n in sizes:
        if scenario == "bulk":
            path = make_snapshot(directory, "bulk", n_objects=n)
        else:
            path = make_snapshot(directory, "leak", n=n)
        r, _wall = child([sys.executable, me, "--one", path])
        r["n"] = n = r["objects"]
        rows.append(r)
        print("%9d %7.2f %8.2f %8.2f %7.0f %7.0f %7.4f %7.4f %6.2f %7s %9s %8s %6.2f" % (
            n, r["load_seconds"], r["seconds"], r["cpu_seconds"], n / r["seconds"], n / r["cpu_seconds"],
            r["round_trips"] / n, r["pages"] / n, r["reads"] / n, mb(r["rss_source"]), mb(r["analysis_peak"]),
            mb(process_peak(r)), r["calibration"]))
        sys.stdout.flush()
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        f = b["n"] / a["n"]
        print()
        print("growth x%g objects (%d -> %d): analysis time x%.1f (CPU x%.1f); analysis peak RSS x%.2f "
              "(%s -> %s MB, source included); source x%.1f; analysis peak minus source %s -> %s MB" % (
                  f, a["n"], b["n"], b["seconds"] / a["seconds"], b["cpu_seconds"] / a["cpu_seconds"],
                  (b["analysis_peak"] or 0) / float(a["analysis_peak"] or 1), mb(a["analysis_peak"]),
                  mb(b["analysis_peak"]), (b["rss_source"] or 0) / float(a["rss_source"] or 1),
                  mb((a["analysis_peak"] or 0) - (a["rss_source"] or 0)),
                  mb((b["analysis_peak"] or 0) - (b["rss_source"] or 0))))
    return rows


def vol3_table(directory, python, children):
    me = os.path.abspath(__file__)
    path = make_snapshot(directory, "leak", n=children)
    vol3 = os.path.join(HERE, "bench_vol3.py")
    clock = ChildClock()
    runs = []
    # wdfdbg before and after volatility3 (the machine is shared: the better
    # of the two is wdfdbg's figure), each a whole process
    for i in range(2):
        r, wall = child([sys.executable, me, "--one", path])
        runs.append((wall, clock.lap(), r))
        if i == 0:
            v, vwall = child([python, vol3, path], timeout=7200)
            vcpu = clock.lap()
    wall, cpu, r = min(runs, key=lambda t: t[0])
    print()
    print("side by side, one driver with %d WDFMEMORY children (%s), volatility3 %s" % (
        children, os.path.basename(path), v.get("volatility3")))
    print("%-28s %12s %12s %12s" % ("", "wdfdbg", "volatility3", "ratio"))
    print("%-28s %12.2f %12.2f %11.1fx" % ("whole process, wall s", wall, vwall, vwall / wall))
    print("%-28s %12.2f %12.2f %11.1fx" % ("whole process, CPU s", cpu, vcpu, vcpu / cpu))
    print("%-28s %12.2f %12.2f %11.1fx" % ("walk alone, wall s", r["seconds"], v["walk_seconds"],
                                             v["walk_seconds"] / r["seconds"]))
    print("%-28s %12d %12d" % ("objects", r["objects"], v["objects"]))
    print("wdfdbg's two runs, wall s: %s; calibration (10^7 empty loops) %.2f s" % (
        ", ".join("%.2f" % w for w, _c, _r in runs), r["calibration"]))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--one"]:
        rest = argv[2:]
        return run_one(argv[1], rest if "--jsonl" in rest else ["--json"] + rest)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--children", default="200000", help="leak scenario sizes (children of one driver); '' for none")
    p.add_argument("--vol3-python", help="a Python with volatility3 installed: also run bench_vol3.py")
    p.add_argument("--vol3-children", type=int, default=30000)
    p.add_argument("--keep", help="keep the snapshots in this directory (reused by later runs)")
    a = p.parse_args(argv)
    directory = a.keep or tempfile.mkdtemp(prefix="wdfdbg-bench-")
    if a.keep:
        os.makedirs(directory, exist_ok=True)
    try:
        sizes = [int(s) for s in a.sizes.split(",") if s]
        if sizes:
            sizes_table(directory, sizes)
        children = [int(c) for c in a.children.split(",") if c]
        if children:
            print()
            sizes_table(directory, children, "leak")
        if a.vol3_python:
            vol3_table(directory, a.vol3_python, a.vol3_children)
    finally:
        if not a.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
