"""Benchmark: ``wdfdbg batch`` throughput and the cost of isolation.

Generates a corpus with :func:`wdfdbg.testing.corpus.generate` (500 inputs
by default: snapshots of 20 to 2,000 objects, leaks, corrupt lists, 0x10D
variants, garbage, truncated files, the real triage dumps when present),
then prints

* dumps per second for ``--jobs 1``, ``--jobs 2`` and ``--engine dask``
  (a LocalCluster, one worker process with 2 threads), each a fresh OUT,
  and whether the Dask records equal the local ones apart from timing;
* the isolation overhead per dump: the same inputs analysed in this
  process without isolation versus one isolated worker per input, for
  each start method (fork, forkserver, spawn) the OS has.

    python benchmarks/bench_batch.py [--inputs 500] [--overhead 60] [--big 0] [--no-dask]

``--big N`` adds the generator's one N-object snapshot (run with
``--timeout 5``, it costs every engine 5 s).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wdfdbg.batch.analyse import analyse_file  # noqa: E402
from wdfdbg.batch.inputs import file_digest  # noqa: E402
from wdfdbg.batch.isolate import Settings, run_many  # noqa: E402
from wdfdbg.batch.pipeline import run_batch  # noqa: E402
from wdfdbg.testing.corpus import generate  # noqa: E402


class Quiet(object):
    def write(self, s):
        self.last = s

    def flush(self):
        pass


def timed_batch(folder, out, **kw):
    t0 = time.perf_counter()
    run_batch([folder], out, progress_stream=Quiet(), bar=False, timeout=kw.pop("timeout", 5), **kw)
    dt = time.perf_counter() - t0
    with open(out) as f:
        recs = [json.loads(line) for line in f]
    return dt, recs


def without_timing(recs):
    out = {}
    for r in recs:
        r = dict(r)
        r.pop("elapsed_s")
        out[r["path"]] = r
    return out


def overhead(paths, methods):
    """Seconds per dump: in-process analysis, then isolated per method."""
    t0 = time.perf_counter()
    for p in paths:
        sha, size = file_digest(p)
        analyse_file(p, sha, size)
    base = (time.perf_counter() - t0) / len(paths)
    rows = []
    for m in methods:
        t0 = time.perf_counter()
        for _ in run_many(paths, Settings(timeout=60), jobs=1, method=m):
            pass
        rows.append((m, (time.perf_counter() - t0) / len(paths)))
    return base, rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=500)
    p.add_argument("--overhead", type=int, default=60, help="inputs used for the isolation overhead")
    p.add_argument("--big", type=int, default=0, help="add one snapshot of this many objects")
    p.add_argument("--no-dask", action="store_true")
    args = p.parse_args(argv)
    top = tempfile.mkdtemp(prefix="wdfdbg-bench-batch-")
    try:
        folder = os.path.join(top, "corpus")
        t0 = time.perf_counter()
        entries = generate(folder, n=args.inputs, big_objects=args.big)
        size = sum(os.path.getsize(e.path) for e in entries)
        print("corpus: %d inputs, %.1f MB, generated in %.1f s (cpu_count %s)"
              % (len(entries), size / 1e6, time.perf_counter() - t0, os.cpu_count()))
        runs = [("--jobs 1", {"jobs": 1}), ("--jobs 2", {"jobs": 2})]
        if not args.no_dask:
            runs.append(("--engine dask (LocalCluster, 2 threads)", {"engine": "dask", "jobs": 2}))
        results = {}
        for label, kw in runs:
            out = os.path.join(top, "%d.jsonl" % len(results))
            dt, recs = timed_batch(folder, out, **kw)
            results[label] = recs
            statuses = {}
            for r in recs:
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            print("%-42s %6.1f s  %6.1f dumps/s  %s" % (label, dt, len(recs) / dt,
                                                        ", ".join("%s %d" % kv for kv in sorted(statuses.items()))))
        if len(results) == 3:
            a, b = [without_timing(r) for r in list(results.values())[::2]]
            print("dask records equal the local ones apart from elapsed_s: %s" % ("yes" if a == b else "NO"))
        small = [e.path for e in entries if e.kind not in ("big", "real")][:args.overhead]
        import multiprocessing
        methods = [m for m in ("fork", "forkserver", "spawn") if m in multiprocessing.get_all_start_methods()]
        base, rows = overhead(small, methods)
        print("isolation overhead on %d inputs (in-process analysis %.1f ms/dump):" % (len(small), base * 1e3))
        for m, per in rows:
            print("  %-10s %6.1f ms/dump isolated, overhead %+.1f ms/dump" % (m, per * 1e3, (per - base) * 1e3))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
