"""``lookaside``: decode one WDFLOOKASIDE: its kind, buffer size, tag and
pool type, the embedded kernel lookaside list(s) as ``!lookaside`` shows
them (depth, totals, misses, hit rates, the free SLIST walked), and the
memory objects currently allocated from it (found across its driver's tree
through ``m_pLookaside``).

    wdfdbg lookaside SOURCE H [--json]
    !py -m wdfdbg.lookaside H                       (inside WinDbg)

H is a WDFLOOKASIDE handle or an FxLookasideList address.
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.lookaside_list import analyse_lookaside
from wdfdbg.analysis.numbers import parse_address, parse_int
from wdfdbg.decoders.objects import MAX_OBJECTS
from wdfdbg.render.json_reports import lookaside_report
from wdfdbg.render.lookaside_text import render_lookaside

NAME = "lookaside"


def make_parser():
    p = command.parser(NAME, "decode one WDFLOOKASIDE (handle or FxLookasideList address)")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="H", help="WDFLOOKASIDE handle or FxLookasideList address")
    p.add_argument("--max-objects", type=int, default=MAX_OBJECTS,
                   help="bound on the tree walk that finds the allocated memory objects")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    command.fix_positionals(args)
    if not args.root:
        raise command.usage_error(NAME, "a WDFLOOKASIDE handle or address is required")
    if args.max_objects < 1:
        raise command.usage_error(NAME, "--max-objects must be at least 1")
    parse_int(args.root, "H")  # a bad number fails before the source is opened
    args.handle = args.root
    return args


def execute(session, args, markup=None):
    found = analyse_lookaside(session, parse_address(session, args.root, "H"), max_objects=args.max_objects)
    if args.json:
        return command.exit_code(found.problems), lookaside_report(session, found, NAME)
    m = markup or command.markup_for(args, session)
    return command.exit_code(found.problems), render_lookaside(session, found, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
