"""``memory``: decode one WDFMEMORY: its class, buffer, length, origin, pool
tag, lookaside, MDL and read-only flag; with ``--dump N`` the first N bytes
of its buffer as WinDbg's ``db`` shows them.

    wdfdbg memory SOURCE H [--dump N] [--json]
    !py -m wdfdbg.memory H [--dump N]               (inside WinDbg)

H is a WDFMEMORY handle, an offset handle of a request's input/output
buffer (``WdfRequestRetrieveInputMemory``), or an FxObject address.
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.numbers import parse_address, parse_int
from wdfdbg.analysis.single import analyse_memory
from wdfdbg.render.json_reports import memory_report
from wdfdbg.render.memory_text import render_memory

NAME = "memory"
MAX_DUMP = 1 << 20


def make_parser():
    p = command.parser(NAME, "decode one WDFMEMORY (handle, request-buffer offset handle or object address)")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="H", help="WDFMEMORY handle or object address")
    p.add_argument("--dump", type=int, default=None, metavar="N", help="hex dump of the first N bytes of the buffer")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    command.fix_positionals(args)
    if not args.root:
        raise command.usage_error(NAME, "a WDFMEMORY handle or address is required")
    parse_int(args.root, "H")  # a bad number fails before the source is opened
    args.handle = args.root
    if args.dump is not None and (args.dump < 0 or args.dump > MAX_DUMP):
        raise command.usage_error(NAME, "--dump must be between 0 and %d" % MAX_DUMP)
    return args


def execute(session, args, markup=None):
    found = analyse_memory(session, parse_address(session, args.root, "H"), dump=args.dump)
    if args.json:
        return command.exit_code(found.problems), memory_report(session, found, NAME)
    m = markup or command.markup_for(args, session)
    return command.exit_code(found.problems), render_memory(session, found, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
