"""Benchmark: what a rerun of ``wdfdbg batch`` costs when nothing changed.

Writes FILES inputs of MB MiB each (a dump signature, then zeros: each is
recorded ``unreadable`` at once, so the first run costs their hashing, not
an analysis), runs the batch once, then times reruns that have nothing to
do: as they are (resume trusts size, mtime, inode and device, as rsync
trusts size and mtime), and after ``touch`` (mtime changed, content not:
every input is hashed again). Prints one line per run.

    python benchmarks/bench_resume.py [--files 8] [--mb 256]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def batch(folder, out):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "wdfdbg.batch", folder, "-o", out], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
    return time.monotonic() - t0, proc.stderr.strip().splitlines()[-1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--mb", type=int, default=256)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wdfdbg-bench-resume-") as top:
        folder = os.path.join(top, "in")
        os.mkdir(folder)
        block = b"\0" * (1 << 20)
        for i in range(args.files):
            with open(os.path.join(folder, "%02d.dmp" % i), "wb") as f:
                f.write(b"PAGEDU64")
                for _ in range(args.mb):
                    f.write(block)
        out = os.path.join(top, "r.jsonl")
        print("%d inputs of %d MiB" % (args.files, args.mb))
        for label in ("first run", "rerun, nothing changed", "rerun, nothing changed"):
            seconds, summary = batch(folder, out)
            print("%-34s %6.2f s   %s" % (label, seconds, summary))
        for name in os.listdir(folder):
            os.utime(os.path.join(folder, name))
        seconds, summary = batch(folder, out)
        print("%-34s %6.2f s   %s" % ("rerun after touch (all hashed)", seconds, summary))


if __name__ == "__main__":
    main()
