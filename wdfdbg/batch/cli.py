"""``wdfdbg batch``: one JSON record per dump or snapshot, for pipelines.

    wdfdbg batch INPUT... -o OUT.jsonl [--jobs N] [--timeout S] [--memory-cap SIZE]
                 [--engine local|dask] [--scheduler tcp://HOST:PORT] [--redo]
    python -m wdfdbg.batch ...            !py -m wdfdbg.batch ...

INPUT: files, folders (recursive) or @LIST. See docs/batch.md.
"""

import math
import sys

from wdfdbg import command
from wdfdbg.batch.isolate import DEFAULT_MEMORY_CAP, DEFAULT_TIMEOUT
from wdfdbg.errors import UsageError

NAME = "batch"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MAX_MEMORY_CAP = 1 << 50  # 1 PiB: above any machine's address space, below what setrlimit takes
MAX_TIMEOUT = 7 * 24 * 3600.0  # a week: a longer wait is a typo (and beyond what wait() and alarm() take)


def parse_size(text):
    """``2G``, ``512M``, ``1.5G``, ``1048576``; 0 turns the cap off. A
    value that is not a finite size from 0 to 1 PiB is a usage error."""
    s = str(text).strip().lower().rstrip("b").rstrip("i")
    unit = s[-1:] if s[-1:] in _UNITS and not s[-1:].isdigit() else ""
    try:
        value = float(s[:-1] if unit else s)
    except ValueError:
        raise UsageError("--memory-cap: %s is not a size (like 2G or 512M)" % text)
    if not math.isfinite(value):
        raise UsageError("--memory-cap: %s is not a size (like 2G or 512M)" % text)
    if value < 0:
        raise UsageError("--memory-cap must not be negative")
    n = int(value * _UNITS[unit])
    if n > MAX_MEMORY_CAP:
        raise UsageError("--memory-cap: %s is more than 1 PiB (use 0 for no cap)" % text)
    return n


def parse_timeout(text):
    """Seconds, finite, from 0 (none) to a week."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError("--timeout: %s is not a number of seconds" % text)
    if not math.isfinite(value):
        raise UsageError("--timeout: %s is not a number of seconds (use 0 for none)" % text)
    if value < 0:
        raise UsageError("--timeout must not be negative")
    if value > MAX_TIMEOUT:
        raise UsageError("--timeout: %s s is more than a week (use 0 for none)" % text)
    return value


def check_limits():
    """Every ``WDFDBG_MAX_...`` setting read once, before any work: a typo is
    one usage error here, not a worker's ``unreadable`` on every input."""
    from wdfdbg.sources import limits
    for limit in limits.ALL:
        limit.value()


def make_parser():
    p = command.parser(NAME, "analyse many dumps and snapshots: one JSON line each (wdfdbg.dumprecord/1)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder (recursive) or @LIST (one path a line)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.jsonl", help="records are appended here")
    p.add_argument("--jobs", type=int, default=None, help="inputs analysed at once (default: the CPU count)")
    p.add_argument("--timeout", default="%g" % DEFAULT_TIMEOUT,
                   help="seconds one input may take before its worker is killed (default %(default)s; 0: none)")
    p.add_argument("--memory-cap", default=str(DEFAULT_MEMORY_CAP), metavar="SIZE",
                   help="address-space cap of a worker, like 2G (default 2G; 0: none)")
    p.add_argument("--engine", choices=["local", "dask"], default="local", help="where workers run")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler (tcp://HOST:PORT); default: a LocalCluster")
    p.add_argument("--redo", action="store_true", help="analyse inputs already recorded in OUT again")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    args.timeout = parse_timeout(args.timeout)
    if args.scheduler and args.engine != "dask":
        raise UsageError("--scheduler needs --engine dask")
    args.memory_cap = parse_size(args.memory_cap)
    check_limits()
    return args


def main(argv=None):
    def body(a):
        from wdfdbg.batch.pipeline import run_batch
        args = parse_args(a)
        return run_batch(args.inputs, args.output, jobs=args.jobs, timeout=args.timeout, memory_cap=args.memory_cap,
                         engine=args.engine, scheduler=args.scheduler, redo=args.redo)
    return command.run(body, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
