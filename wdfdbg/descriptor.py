"""``descriptor``: decode a WDF_MEMORY_DESCRIPTOR: its type, then the
buffer and length, the MDL chain, or the WDFMEMORY with its
WDFMEMORY_OFFSET checked against the memory's length.

    wdfdbg descriptor SOURCE ADDR [--json]
    !py -m wdfdbg.descriptor ADDR                   (inside WinDbg)
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.numbers import parse_address, parse_int
from wdfdbg.analysis.single import analyse_descriptor
from wdfdbg.render.json_reports import descriptor_report
from wdfdbg.render.memory_text import render_descriptor

NAME = "descriptor"


def make_parser():
    p = command.parser(NAME, "decode a WDF_MEMORY_DESCRIPTOR")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="ADDR", help="address of the WDF_MEMORY_DESCRIPTOR")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    command.fix_positionals(args)
    if not args.root:
        raise command.usage_error(NAME, "a WDF_MEMORY_DESCRIPTOR address is required")
    parse_int(args.root, "ADDR")  # a bad number fails before the source is opened
    args.address = args.root
    return args


def execute(session, args, markup=None):
    found = analyse_descriptor(session, parse_address(session, args.root, "ADDR"))
    if args.json:
        return command.exit_code(found.problems), descriptor_report(session, found, NAME)
    m = markup or command.markup_for(args, session)
    return command.exit_code(found.problems), render_descriptor(session, found, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
