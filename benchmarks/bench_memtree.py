"""Benchmark: ``memtree --json`` over in-memory synthetic heaps of 10^4, 10^5
and 10^6 framework objects (the scenario builder's ``bulk`` scenario).

Prints, per size: objects per second (analysis + JSON, streamed to a null
sink), backend reads per object (round trips to the backend: one per
distinct page on a snapshot, which does no read-ahead), pages fetched per
object, Target.read calls per object, and the analysis's peak memory
(tracemalloc, in a second pass started after the heap is built), then how
each figure grows from one size to the next.

    python benchmarks/bench_memtree.py [--sizes 10000,100000,1000000] [--no-memory]
"""

import argparse
import gc
import io
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wdfdbg import memtree  # noqa: E402
from wdfdbg.layouts import Layouts  # noqa: E402
from wdfdbg.session import Session  # noqa: E402
from wdfdbg.sources.base import Target  # noqa: E402
from wdfdbg.testing import build  # noqa: E402


class NullSink(io.TextIOBase):
    def __init__(self):
        self.chars = 0

    def write(self, s):
        self.chars += len(s)
        return len(s)


def run_once(backend, trace=False):
    target = Target(backend)
    session = Session(target, Layouts(target), "snapshot", None, "synthetic")
    args = memtree.parse_args(["--json", "--max-objects", str(10 ** 7)])
    sink = NullSink()
    gc.collect()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    code, _ = memtree.execute(session, args, out=sink)
    dt = time.perf_counter() - t0
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"seconds": dt, "backend_reads": target.backend_reads, "pages": target.pages_fetched, "reads": target.reads,
            "peak": peak, "json_chars": sink.chars, "exit": code}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    rows = []
    print("%10s %9s %12s %14s %12s %14s %12s %12s" % ("objects", "build s", "objects/s", "backend rd/obj",
                                                        "pages/obj", "reads/obj", "peak MB", "peak B/obj"))
    for n in sizes:
        t0 = time.perf_counter()
        built = build("bulk", n_objects=n)
        backend = built.backend()
        build_s = time.perf_counter() - t0
        r = run_once(backend)
        objects = n
        if not a.no_memory:
            r["peak"] = run_once(backend, trace=True)["peak"]
        row = {"n": objects, "build": build_s, "ops": objects / r["seconds"], "brpo": r["backend_reads"] / objects,
               "ppo": r["pages"] / objects, "rpo": r["reads"] / objects, "peak": r["peak"]}
        rows.append(row)
        print("%10d %9.1f %12.0f %14.4f %12.4f %14.2f %12s %12s" % (
            objects, build_s, row["ops"], row["brpo"], row["ppo"], row["rpo"],
            "-" if r["peak"] is None else "%.1f" % (r["peak"] / 1e6),
            "-" if r["peak"] is None else "%.0f" % (r["peak"] / objects)))
        sys.stdout.flush()
        del built, backend
        gc.collect()
    print()
    for prev, cur in zip(rows, rows[1:]):
        f = cur["n"] / prev["n"]
        line = "x%g objects: time x%.2f, backend reads x%.2f" % (
            f, (cur["n"] / cur["ops"]) / (prev["n"] / prev["ops"]), (cur["brpo"] * cur["n"]) / (prev["brpo"] * prev["n"]))
        if cur["peak"] and prev["peak"]:
            line += ", peak memory x%.2f" % (cur["peak"] / prev["peak"])
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
