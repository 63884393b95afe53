"""``info``: what a dump or snapshot is: kind, OS build, architecture,
processors, bugcheck (0x10D decoded per kmdf.md §10), Wdf01000's base and
version, the loaded drivers and the KMDF drivers present.

    wdfdbg info SOURCE [--json]
    python -m wdfdbg.info ../shared/dumps/triage_x64.dmp

KMDF drivers come from the driver list (``FxLibraryGlobals``) when it can be
walked, else from KMDF's driver table saved in a triage dump's secondary
data, else from a scan of memory; the output says which. On a crash the
text opens with the triage headline (``render/headline.py``; JSON: the
``triage`` key).
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.info import gather_info, info_triage
from wdfdbg.render.info_text import render_info
from wdfdbg.render.json_reports import info_report
from wdfdbg.render.markup import PLAIN

NAME = "info"


def make_parser():
    p = command.parser(NAME, "dump or snapshot summary: OS, arch, bugcheck, Wdf01000, KMDF drivers")
    command.add_source_args(p)
    p.add_argument("--no-scan", action="store_true",
                   help="never scan memory (for KMDF drivers, or for the headline's locks)")
    return p


def parse_args(argv):
    return make_parser().parse_args(argv)


def execute(session, args, markup=None):
    si, problems = gather_info(session, allow_scan=not args.no_scan)
    tri = info_triage(session, si, problems, walk=not args.no_scan)
    if args.json:
        return command.exit_code(problems), info_report(session, si, problems, NAME, triage=tri)
    return command.exit_code(problems), render_info(session, si, problems, triage=tri, m=markup or PLAIN)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
