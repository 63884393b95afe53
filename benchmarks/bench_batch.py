"""Benchmark: ``wdfdbg batch`` throughput and the cost of isolation.

Generates a corpus with :func:`wdfdbg.testing.corpus.generate` (500 inputs
by default: snapshots of 20 to 2,000 objects, leaks, corrupt lists, 0x10D
variants, garbage, truncated files, the real triage dumps when present),
then prints

* dumps per second of ``python -m wdfdbg.batch`` (as a pipeline runs it,
  interpreter start included) for ``--jobs 1``, ``--jobs 2`` and
  ``--engine dask`` (a LocalCluster: one worker process, 2 threads; its
  start and stop are included, and measured alone on an empty folder), and
  whether the Dask records equal the local ones apart from timing;
* the isolation overhead per dump: the same inputs analysed in one process
  without isolation versus one isolated worker per input, for each start
  method the OS has (fork, forkserver, spawn). It runs in a ``python -c``
  process: multiprocessing re-runs a main *script* in every forkserver or
  spawn child, which would be measured instead.

* with ``--rss N``: the peak resident memory of one worker (forked from the
  warmed parent, as the local engine starts it) analysing an N-object
  snapshot, next to ``memtree --jsonl`` alone on the same file.

* how throughput and memory grow with the corpus: ``--jobs 2`` over the
  first 125, 250 and 500 inputs (``--growth``), dumps per second and the
  peak RSS of the largest process of the batch.

    python benchmarks/bench_batch.py [--inputs 500] [--overhead 60] [--big 0] [--no-dask] [--rss 150000]
                                     [--growth 125,250,500]

``--big N`` adds the generator's one N-object snapshot (run with
``--timeout 5``, it costs every engine 5 s).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from wdfdbg.testing.corpus import generate  # noqa: E402


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    return e


def timed_batch(folder, out, args):
    """Wall seconds of ``python -m wdfdbg.batch FOLDER -o OUT ARGS`` and its records."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wdfdbg.batch", folder, "-o", out, "--timeout", "5"] + args, env=env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    dt = time.perf_counter() - t0
    recs = []
    if os.path.exists(out):
        with open(out) as f:
            recs = [json.loads(line) for line in f]
    return dt, recs


def growth(entries, top, sizes):
    """``--jobs 2`` over the first N inputs of the corpus (an ``@LIST``) for
    each N: seconds, dumps per second, and the peak RSS of the largest
    process of the batch (``wait4``: the batch and the workers it waited
    for), so that what grows with the corpus shows."""
    paths = [e.path for e in entries if e.kind not in ("big",)]
    print("growth, --jobs 2 over the first N inputs:")
    print("%8s %8s %9s %13s" % ("inputs", "wall s", "dumps/s", "peak RSS MB"))
    for n in sizes:
        n = min(n, len(paths))
        listing = os.path.join(top, "first-%d.txt" % n)
        with open(listing, "w") as f:
            f.write("\n".join(paths[:n]) + "\n")
        out = os.path.join(top, "growth-%d.jsonl" % n)
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "wdfdbg.batch", "@" + listing, "-o", out, "--timeout", "5",
                                 "--jobs", "2"], env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        dt = time.perf_counter() - t0
        with open(out) as f:
            done = sum(1 for _ in f)
        print("%8d %8.1f %9.1f %13.1f" % (done, dt, done / dt, usage.ru_maxrss / 1024.0))
        sys.stdout.flush()


def without_timing(recs):
    out = {}
    for r in recs:
        r = dict(r)
        r.pop("elapsed_s")
        out[r["path"]] = r
    return out


def overhead(paths, methods):
    """Seconds per dump: in-process analysis, then isolated per method
    (call it from a process whose main is not a script)."""
    from wdfdbg.batch.analyse import analyse_file
    from wdfdbg.batch.inputs import file_digest
    from wdfdbg.batch.isolate import Settings, run_many
    import wdfdbg.batch.warm  # noqa: F401  (as the local engine does)
    t0 = time.perf_counter()
    for p in paths:
        sha, size = file_digest(p)
        analyse_file(p, sha, size)
    base = (time.perf_counter() - t0) / len(paths)
    rows = []
    for m in methods:
        list(run_many(paths[:1], Settings(timeout=60), jobs=1, method=m))  # starts a forkserver once
        t0 = time.perf_counter()
        for _ in run_many(paths, Settings(timeout=60), jobs=1, method=m):
            pass
        rows.append((m, (time.perf_counter() - t0) / len(paths)))
    return base, rows


def print_overhead(list_file):
    import multiprocessing
    with open(list_file) as f:
        paths = f.read().splitlines()
    methods = [m for m in ("fork", "forkserver", "spawn") if m in multiprocessing.get_all_start_methods()]
    base, rows = overhead(paths, methods)
    print("isolation overhead on %d inputs (in-process analysis %.1f ms/dump):" % (len(paths), base * 1e3))
    for m, per in rows:
        print("  %-10s %6.1f ms/dump isolated, overhead %+.1f ms/dump" % (m, per * 1e3, (per - base) * 1e3))
    sys.stdout.flush()


def print_rss(path, objects):
    """Peak RSS of one forked worker on ``path``, and of ``memtree --jsonl``
    alone (call it from a ``python -c`` process: RUSAGE_CHILDREN then holds
    only the processes measured)."""
    import resource
    from wdfdbg.batch.isolate import Settings, run_many
    import wdfdbg.batch.warm  # noqa: F401  (the local engine's parent is warmed before it forks)
    rec = next(run_many([path], Settings(timeout=600, memory_cap=0), jobs=1, method="fork"))
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    t0 = time.perf_counter()
    with open(os.devnull, "w") as null:
        proc = subprocess.Popen([sys.executable, "-m", "wdfdbg", "memtree", path, "--jsonl"], env=env(), stdout=null,
                                stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)  # this child's own figures
        proc.returncode = 0
    alone_s = time.perf_counter() - t0
    print("worker on a %s-object snapshot: status %s, %s objects recorded, %.1f s, peak RSS %.1f MB "
          "(memtree --jsonl alone, a fresh interpreter: %.1f s, peak RSS %.1f MB)"
          % ("{:,}".format(objects), rec["status"], "{:,}".format((rec["summary"] or {}).get("objects") or 0),
             rec["elapsed_s"], worker, alone_s, usage.ru_maxrss / 1024.0))
    sys.stdout.flush()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=500)
    p.add_argument("--overhead", type=int, default=60, help="inputs used for the isolation overhead")
    p.add_argument("--big", type=int, default=0, help="add one snapshot of this many objects")
    p.add_argument("--no-dask", action="store_true")
    p.add_argument("--rss", type=int, default=0, metavar="N", help="peak RSS of a worker on an N-object snapshot")
    p.add_argument("--growth", default="125,250,500", help="corpus sizes for the growth table ('' for none)")
    args = p.parse_args(argv)
    top = tempfile.mkdtemp(prefix="wdfdbg-bench-batch-")
    try:
        if args.rss:
            from wdfdbg.testing import build
            from wdfdbg.testing.corpus import snapshot_bytes
            big = os.path.join(top, "rss.wdfsnap.json.gz")
            with open(big, "wb") as f:
                f.write(snapshot_bytes(build("bulk", n_objects=args.rss)))
            code = "import sys; sys.path.insert(0, %r); import bench_batch; bench_batch.print_rss(%r, %d)" % (
                HERE, big, args.rss)
            subprocess.run([sys.executable, "-c", code], env=env(), check=False)
        folder = os.path.join(top, "corpus")
        t0 = time.perf_counter()
        sizes = [int(x) for x in args.growth.split(",") if x.strip()]
        entries = generate(folder, n=max([args.inputs] + sizes), big_objects=args.big)
        size = sum(os.path.getsize(e.path) for e in entries)
        print("corpus: %d inputs, %.1f MB, generated in %.1f s (cpu_count %s)"
              % (len(entries), size / 1e6, time.perf_counter() - t0, os.cpu_count()))
        sys.stdout.flush()
        runs = [("--jobs 1", ["--jobs", "1"]), ("--jobs 2", ["--jobs", "2"])]
        if not args.no_dask:
            empty = os.path.join(top, "empty")
            os.mkdir(empty)
            with open(os.path.join(empty, "one.bin"), "wb") as f:
                f.write(b"not a dump")
            dt, _ = timed_batch(empty, os.path.join(top, "empty.jsonl"), ["--engine", "dask", "--jobs", "2"])
            print("--engine dask on one input (interpreter, LocalCluster start and stop): %.1f s" % dt)
            runs.append(("--engine dask (LocalCluster, 2 threads)", ["--engine", "dask", "--jobs", "2"]))
        results = []
        for label, extra in runs:
            out = os.path.join(top, "%d.jsonl" % len(results))
            dt, recs = timed_batch(folder, out, extra)
            results.append(recs)
            statuses = {}
            for r in recs:
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            print("%-42s %6.1f s  %6.1f dumps/s  %s" % (label, dt, len(recs) / dt,
                                                        ", ".join("%s %d" % kv for kv in sorted(statuses.items()))))
            sys.stdout.flush()
        if len(results) == 3:
            same = without_timing(results[0]) == without_timing(results[2])
            print("dask records equal the local ones apart from elapsed_s: %s" % ("yes" if same else "NO"))
        if sizes:
            growth(entries, top, sizes)
        small = [e.path for e in entries if e.kind not in ("big", "real")][:args.overhead]
        list_file = os.path.join(top, "overhead.txt")
        with open(list_file, "w") as f:
            f.write("\n".join(small) + "\n")
        sys.stdout.flush()
        code = "import sys; sys.path.insert(0, %r); import bench_batch; bench_batch.print_overhead(%r)" % (HERE, list_file)
        subprocess.run([sys.executable, "-c", code], env=env(), check=False)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
