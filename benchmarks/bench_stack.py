"""Benchmark: the crash stack walk (``decoders/stack.py``) and the triage's
stack facts (``analysis/crash_stack.py``) on the real triage dumps.

For each dump in ``../shared/dumps`` (or the folder given), prints the
frames found by trust, why the walk ended, and the milliseconds of the
walk alone and of :func:`stack_triage` (walk, process, KMDF context),
each the best of ``--repeat`` runs on an opened session (the page cache
warm after the first).

    python benchmarks/bench_stack.py [FOLDER] [--repeat 5]
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from wdfdbg.analysis.crash_stack import crash_walk, stack_triage  # noqa: E402
from wdfdbg.session import open_session  # noqa: E402


def best_ms(fn, repeat):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        dt = (time.perf_counter() - t0) * 1000.0
        best = dt if best is None or dt < best else best
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", default=os.path.join(os.path.dirname(ROOT), "shared", "dumps"))
    ap.add_argument("--repeat", type=int, default=5)
    opts = ap.parse_args(argv)
    if not os.path.isdir(opts.folder):
        print("no dumps at %s" % opts.folder)
        return 2
    print("%-42s %7s %9s %9s  %s" % ("dump", "frames", "walk ms", "facts ms", "trust (count) / end"))
    for name in sorted(os.listdir(opts.folder)):
        if not name.endswith(".dmp"):
            continue
        s = open_session(os.path.join(opts.folder, name))
        walk = crash_walk(s)
        counts = {}
        for f in walk.frames:
            counts[f.trust] = counts.get(f.trust, 0) + 1
        walk_ms = best_ms(lambda: crash_walk(s), opts.repeat)
        facts_ms = best_ms(lambda: stack_triage(s), opts.repeat)
        trust = ", ".join("%s %d" % kv for kv in sorted(counts.items()))
        print("%-42s %7d %9.1f %9.1f  %s / %s" % (name, len(walk.frames), walk_ms, facts_ms, trust, walk.end))
    return 0


if __name__ == "__main__":
    sys.exit(main())
