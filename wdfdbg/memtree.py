"""``memtree``: the WDF object tree of one or every KMDF driver, with
WDFMEMORY, WDFLOOKASIDE and MDL facts inline.

    wdfdbg memtree SOURCE [ROOT] [--driver NAME] [--handle H | --address A]
                   [--depth N] [--max-objects N] [--json | --jsonl]
    !py -m wdfdbg.memtree [ROOT] [options]          (inside WinDbg)

ROOT is a handle, an object address or a driver name. With no root it shows
every KMDF driver on ``Wdf01000!FxLibraryGlobals.FxDriverGlobalsList``; when
that list cannot be read it falls back to a scan of memory and says so.

The analysis streams (``wdfdbg/analysis/tree.py``): each object's record is
written as soon as it is decoded, in text, as the JSON report (``--json``)
or as JSON lines (``--jsonl``, ``docs/report.md``).
"""

import io
import os
import sys

from wdfdbg import command
from wdfdbg.analysis import tree
from wdfdbg.analysis.numbers import parse_int
from wdfdbg.decoders import objects as fxo
from wdfdbg.errors import UsageError
from wdfdbg.render.report import JsonLinesWriter, JsonReportWriter

NAME = "memtree"
STREAMS_JSON = True  # execute(..., out=stream) writes the report as it goes


def make_parser():
    p = command.parser(NAME, "WDF object tree with memory, lookasides and MDLs")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="ROOT", help="handle, object address or driver name")
    p.add_argument("--driver", help="only this driver (name, case-insensitive)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--handle", help="start at this WDF handle")
    g.add_argument("--address", help="start at this FxObject address")
    p.add_argument("--depth", type=int, default=None, help="show at most N levels below the root")
    p.add_argument("--max-objects", type=int, default=fxo.MAX_OBJECTS, help="stop after N objects (WALK_LIMIT)")
    p.add_argument("--no-contexts", action="store_true", help="skip context headers")
    p.add_argument("--jsonl", action="store_true", help="JSON lines: a record per object as it is found")
    p.add_argument("--format", choices=["text", "json", "dot", "svg"], default=None,
                   help="dot: a Graphviz graph; svg: laid out by Graphviz's dot (json: same as --json)")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    fix_positionals(args)
    if args.format == "json":
        args.json = True
    if args.max_objects is not None and args.max_objects < 1:
        raise UsageError("--max-objects must be at least 1")
    if args.depth is not None and args.depth < 0:
        raise UsageError("--depth must be 0 or more")
    if args.json and args.jsonl:
        raise UsageError("give --json or --jsonl, not both")
    return args


def fix_positionals(args):
    """Inside WinDbg there is no SOURCE: a lone positional that is not a file
    is the ROOT. With ``--sample`` the bundled snapshot is the SOURCE, so a
    lone positional is the ROOT (the handle), whatever it looks like."""
    if args.source and not args.root and getattr(args, "sample", False):
        args.root, args.source = args.source, None
        return
    if args.source and not args.root and not args.sample and not os.path.exists(args.source):
        try:
            parse_int(args.source)
            is_number = True
        except UsageError:
            is_number = False
        if is_number or not any(ch in args.source for ch in "/\\."):
            args.root, args.source = args.source, None


def collect(session, args):
    """The analysis as lists: ``(drivers, nodes, problems)``."""
    return tree.collect(session, tree.TreeOptions.from_args(args))


def annotate(session, nodes, problems, args=None):
    """Fill memory, lookaside, MDL and context facts on every node of a list."""
    from wdfdbg.decoders.annotate import annotate_nodes
    annotate_nodes(session, nodes, problems, contexts=not getattr(args, "no_contexts", False))


def writer_for(session, args, out, markup=None):
    """The renderer the arguments ask for, writing to ``out``."""
    if getattr(args, "jsonl", False):
        return JsonLinesWriter(session, out, command=NAME)
    if args.json:
        return JsonReportWriter(session, out, command=NAME)
    from wdfdbg.render.tree import TextTreeWriter  # (tabulate: 0.1 s to import, text only)
    return TextTreeWriter(session, out, markup or command.markup_for(args, session))


def execute(session, args, markup=None, out=None):
    """Run on an open session: (exit code, output text). With ``out`` (a
    text stream or an Output) the output is streamed there and the text is
    None."""
    if getattr(args, "format", None) in ("dot", "svg"):  # graphs are drawn from the JSON report
        from wdfdbg.render.dot import graph_command
        return graph_command(execute, session, args)
    buf = io.StringIO() if out is None else None
    analysis = tree.TreeAnalysis(session, tree.TreeOptions.from_args(args)).plan()
    analysis.run(writer_for(session, args, out if buf is None else buf, markup))
    code = command.exit_code(analysis.problems)
    return code, (None if buf is None else buf.getvalue().rstrip("\n"))


def main(argv=None):
    """Parse, open the source, stream the output (text, DML or JSON)."""
    def body(a):
        args = parse_args(a)
        session = command.open_from_args(args)
        m = command.markup_for(args, session)
        out = command.output_for(m)
        code, text = execute(session, args, m, out=out)
        if text is not None:  # a renderer that made its text whole
            out.write(text)
        out.close()
        return code
    return command.run(body, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
