"""``memusage``: how much memory the KMDF drivers hold through WDFMEMORY,
tabulated by driver, pool tag, origin and class (objects and bytes, with
totals), plus the lookaside lists and what they hold.

    wdfdbg memusage SOURCE [--driver NAME] [--json]
    !py -m wdfdbg.memusage [--driver NAME]          (inside WinDbg)

The walk is memtree's stream (every driver on the library's list, or a scan
of memory when that list cannot be read), aggregated as it goes
(``analysis/usage.py``); bytes are the WDFMEMORY lengths (``m_BufferSize``),
not pool block sizes. ``--json`` writes the report with the WDFMEMORY and
WDFLOOKASIDE records and the tables under ``memusage``.
"""

import argparse
import io
import sys

from wdfdbg import command
from wdfdbg.analysis import tree
from wdfdbg.analysis.usage import Tee, UsageTables
from wdfdbg.decoders import objects as fxo
from wdfdbg.errors import UsageError
from wdfdbg.render.report import JsonReportWriter

NAME = "memusage"
STREAMS_JSON = True  # execute(..., out=stream) writes the JSON report as it goes


def make_parser():
    p = command.parser(NAME, "WDFMEMORY usage by driver, pool tag, origin and class")
    command.add_source_args(p)
    p.add_argument("--driver", help="only this driver (name, case-insensitive)")
    p.add_argument("--max-objects", type=int, default=fxo.MAX_OBJECTS, help="stop after N objects (WALK_LIMIT)")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    if args.max_objects < 1:
        raise UsageError("--max-objects must be at least 1")
    return args


def walk_args(args):
    """The memtree arguments for the same walk."""
    return argparse.Namespace(source=args.source, root=None, driver=args.driver, handle=None, address=None,
                              depth=None, max_objects=args.max_objects, no_contexts=True, json=args.json)


def _kept(node):
    return node.memory is not None or node.lookaside is not None


def execute(session, args, markup=None, out=None):
    """(exit code, output text); with ``out`` the JSON report is streamed
    there and the text is None."""
    usage = UsageTables()
    analysis = tree.TreeAnalysis(session, tree.TreeOptions.from_args(walk_args(args))).plan()
    if args.json:
        only = (args.driver or "").lower()
        doc = JsonReportWriter(session, out if out is not None else io.StringIO(), command=NAME, keep=_kept,
                               extra=lambda: {"memusage": usage.tables()},
                               drivers=(lambda ds: [d for d in ds if (d.name or "").lower() == only]) if only else None)
        analysis.run(Tee(usage, doc))
        text = None if out is not None else doc.out.getvalue().rstrip("\n")
        return command.exit_code(analysis.problems), text
    analysis.run(usage)
    from wdfdbg.render.usage import render_text  # (tabulate: 0.1 s to import, text only)
    m = markup or command.markup_for(args, session)
    text = render_text(session, usage.tables(), usage.objects, analysis.problems, m)
    if out is not None:
        out.write(text)
        return command.exit_code(analysis.problems), None
    return command.exit_code(analysis.problems), text


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
