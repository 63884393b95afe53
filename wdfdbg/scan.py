"""``scan``: find FxObjects in all readable memory by their shape.

    wdfdbg scan SOURCE [--json] [--max-objects N] [--all-drivers]
    python -m wdfdbg.scan ../shared/dumps/triage_x64.dmp

For sources without a driver list to walk (triage "small memory" dumps keep
only scattered blocks of kernel memory), or to cross-check one. Each object
found is shown with its type, size, refcount, driver globals and parent;
WDFMEMORY and WDFLOOKASIDE objects are decoded. The JSON report
(``wdfdbg.report/1``) adds a ``scan`` key with the scan's statistics.
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.scanned import analyse_scan
from wdfdbg.decoders.scan import MAX_OBJECTS
from wdfdbg.render.json_reports import scan_report
from wdfdbg.render.scan_text import render_scan

NAME = "scan"


def make_parser():
    p = command.parser(NAME, "find FxObjects in all readable memory by their shape")
    command.add_source_args(p)
    p.add_argument("--max-objects", type=int, default=MAX_OBJECTS, help="stop after N objects")
    p.add_argument("--all-drivers", action="store_true",
                   help="text output: list every KMDF driver known, not only those with objects found")
    p.add_argument("--no-contexts", action="store_true", help="skip context headers")
    p.add_argument("--include-destroyed", action="store_true",
                   help="also list objects in state Destroyed (stale images in freed memory)")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    if args.max_objects < 1:
        raise command.usage_error(NAME, "--max-objects must be at least 1")
    return args


def execute(session, args, markup=None):
    found = analyse_scan(session, max_objects=args.max_objects, include_destroyed=args.include_destroyed,
                         contexts=not args.no_contexts)
    if args.json:
        return command.exit_code(found.problems), scan_report(session, found, NAME)
    text = render_scan(session, found, all_drivers=args.all_drivers)
    # no links in it: under DML the whole text is text (names from the dump may hold '<' and '&')
    return command.exit_code(found.problems), markup.text(text) if markup is not None else text


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
