"""``wdfdbg batch``: one JSON record per dump or snapshot, for pipelines.

    wdfdbg batch INPUT... -o OUT.jsonl [--jobs N] [--timeout S] [--memory-cap SIZE]
                 [--engine local|dask] [--scheduler tcp://HOST:PORT] [--redo]
    python -m wdfdbg.batch ...            !py -m wdfdbg.batch ...

INPUT: files, folders (recursive) or @LIST. See docs/batch.md.
"""

import sys

from wdfdbg import command
from wdfdbg.batch.isolate import DEFAULT_MEMORY_CAP, DEFAULT_TIMEOUT
from wdfdbg.errors import UsageError

NAME = "batch"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text):
    """``2G``, ``512M``, ``1048576``; 0 turns the cap off."""
    s = str(text).strip().lower().rstrip("b").rstrip("i")
    unit = s[-1:] if s[-1:] in _UNITS and not s[-1:].isdigit() else ""
    try:
        value = float(s[:-1] if unit else s)
    except ValueError:
        raise UsageError("--memory-cap: %r is not a size (like 2G or 512M)" % text)
    if value < 0:
        raise UsageError("--memory-cap must not be negative")
    return int(value * _UNITS[unit])


def make_parser():
    p = command.parser(NAME, "analyse many dumps and snapshots: one JSON line each (wdfdbg.dumprecord/1)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder (recursive) or @LIST (one path a line)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.jsonl", help="records are appended here")
    p.add_argument("--jobs", type=int, default=None, help="inputs analysed at once (default: the CPU count)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="seconds one input may take before its worker is killed (default %(default)g; 0: none)")
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
    if args.timeout < 0:
        raise UsageError("--timeout must not be negative")
    if args.scheduler and args.engine != "dask":
        raise UsageError("--scheduler needs --engine dask")
    args.memory_cap = parse_size(args.memory_cap)
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
