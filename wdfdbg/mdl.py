"""``mdl``: decode an MDL chain (through ``Next``): flags by name, Process,
MappedSystemVa, StartVa, ByteCount, ByteOffset and the PFN array, with
consistency checks; or, with ``--allocated``, the MDLs the framework
tracks for drivers with the verifier on (``DebugExtension->AllocatedMdls``).

    wdfdbg mdl SOURCE ADDR [--json]
    wdfdbg mdl SOURCE --allocated [--driver NAME] [--json]
    !py -m wdfdbg.mdl ADDR                          (inside WinDbg)
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.numbers import parse_address, parse_int
from wdfdbg.analysis.single import analyse_mdls
from wdfdbg.render.json_reports import mdl_report
from wdfdbg.render.memory_text import render_mdls

NAME = "mdl"


def make_parser():
    p = command.parser(NAME, "decode an MDL chain, or the framework's verifier MDL list")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="ADDR", help="address of the first MDL")
    p.add_argument("--allocated", action="store_true",
                   help="the MDLs on DebugExtension->AllocatedMdls of drivers with the verifier on")
    p.add_argument("--driver", help="with --allocated: only this driver")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    command.fix_positionals(args)
    if not args.root and not args.allocated:
        raise command.usage_error(NAME, "an MDL address (or --allocated) is required")
    if args.driver and not args.allocated:
        raise command.usage_error(NAME, "--driver goes with --allocated")
    if args.root:
        parse_int(args.root, "ADDR")  # a bad number fails before the source is opened
    args.address = args.root
    return args


def execute(session, args, markup=None):
    address = parse_address(session, args.root, "ADDR") if args.root else None
    found = analyse_mdls(session, address, allocated=args.allocated, driver=args.driver)
    if args.json:
        return command.exit_code(found.problems), mdl_report(session, found, args.allocated, NAME)
    m = markup or command.markup_for(args, session)
    return command.exit_code(found.problems), render_mdls(session, found, args.root, args.allocated, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
