"""``diff``: what grew between two moments of one machine.

    wdfdbg diff BEFORE AFTER [--driver NAME] [--json] [--shown N]
    !py -m wdfdbg.diff BEFORE [--driver NAME]      (inside WinDbg: AFTER is the live target)

BEFORE and AFTER are snapshots, kernel dumps or saved reports
(``memtree --json`` or ``--jsonl``, gzip or not). Per driver and per (parent type, child type, pool tag): objects and
bytes before, after and the change, and the objects new or vanished by
address, biggest growth first. A leak in a live session: ``record`` a
snapshot, wait, ``record`` again (or diff against the live target), diff.
``--json`` writes ``wdfdbg.diff/1`` (schema: ``wdfdbg/data/diff.schema.json``).
"""

import sys

from wdfdbg import command
from wdfdbg.errors import UsageError

NAME = "diff"


def make_parser():
    from wdfdbg.report import add_memtree_source_args
    p = command.parser(NAME, "objects and bytes per driver and type: before, after, change")
    p.add_argument("before", metavar="BEFORE", help="snapshot, dump, or saved memtree --json/--jsonl")
    p.add_argument("after", nargs="?", metavar="AFTER", help="the same; omit inside WinDbg for the live target")
    add_memtree_source_args(p, source=False)
    p.add_argument("--driver", help="only this driver (name, case-insensitive)")
    p.add_argument("--max-objects", type=int, default=None, help="stop each walk after N objects")
    p.add_argument("--json", action="store_true", help="write the diff as JSON (wdfdbg.diff/1)")
    p.add_argument("--shown", type=int, default=None, metavar="N",
                   help="new and vanished addresses shown per group in text (default 10)")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    if args.max_objects is not None and args.max_objects < 1:
        raise UsageError("--max-objects must be at least 1")
    if args.shown is not None and args.shown < 0:
        raise UsageError("--shown must be 0 or more")
    return args


def collect(args, session=None):
    """Both sides streamed into :class:`~wdfdbg.analysis.diff.Side` s;
    the diff document. ``session``: the open target AFTER stands for when
    it is not named (the live debugger, or the target ``record`` wraps)."""
    from wdfdbg.analysis.diff import Side, compare
    from wdfdbg.report import feed_source, memtree_argv
    sides = []
    for label, source in (("before", args.before), ("after", args.after)):
        side = Side(label, only_driver=args.driver)
        argv = memtree_argv(args, source)
        if args.driver:  # walk every driver: parent types and identities need the whole picture
            i = argv.index("--driver")
            del argv[i:i + 2]
        feed_source(argv, side.on_key, side.on_object, what="%s (%s)" % (label, source or "live target"),
                    session=session if label == "after" and source is None else None)
        side.finish()
        sides.append(side)
    return compare(sides[0], sides[1])


def execute(session, args):
    """(exit code, text or JSON), plain text (no links). Named sources are
    opened here; ``session`` (or the live debugger) is AFTER when it is not named."""
    from wdfdbg.render import report as rep
    from wdfdbg.render.diff_text import NEW_SHOWN, render
    doc = collect(args, session)
    if args.json:
        return command.EXIT_OK, rep.dumps(doc)
    return command.EXIT_OK, render(doc, shown=NEW_SHOWN if args.shown is None else args.shown)


def main(argv=None):
    return command.own_source_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
