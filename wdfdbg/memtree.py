"""``memtree``: the WDF object tree of one or every KMDF driver, with
WDFMEMORY, WDFLOOKASIDE and MDL facts inline.

    wdfdbg memtree SOURCE [ROOT] [--driver NAME] [--handle H | --address A]
                   [--depth N] [--max-objects N] [--json]
    !py -m wdfdbg.memtree [ROOT] [options]          (inside WinDbg)

ROOT is a handle, an object address or a driver name. With no root it shows
every KMDF driver on ``Wdf01000!FxLibraryGlobals.FxDriverGlobalsList``; when
that list cannot be read it falls back to a scan of memory and says so.
"""

import os
import sys

from wdfdbg import command
from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders.handles import decode_handle, decode_handle_or_address
from wdfdbg.errors import UsageError
from wdfdbg.render import report as rep
from wdfdbg.render import text as txt

NAME = "memtree"
STREAMS_JSON = True  # execute(..., out=stream) writes the JSON report as it goes


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
    return args


def fix_positionals(args):
    """Inside WinDbg there is no SOURCE: a lone positional that is not a file
    is the ROOT."""
    if args.source and not args.root and not args.sample and not os.path.exists(args.source):
        try:
            command.parse_int(args.source)
            is_number = True
        except UsageError:
            is_number = False
        if is_number or not any(ch in args.source for ch in "/\\."):
            args.root, args.source = args.source, None


def resolve_root(session, args, drivers, problems):
    """(root address or None, driver filter or None)."""
    target = session.target
    if args.handle:
        h = command.parse_int(args.handle, "--handle")
        dh = decode_handle(target, h)
        if dh.problem:
            problems.add("BAD_HANDLE", dh.field, dh.problem)
            return None, None
        return dh.object, None
    if args.address:
        return command.parse_int(args.address, "--address"), None
    if args.root:
        for d in drivers:
            if d.name and d.name.lower() == args.root.lower():
                return None, d.name
        try:
            v = command.parse_int(args.root, "ROOT")
        except UsageError:
            raise UsageError("ROOT %r is neither a KMDF driver name (drivers: %s) nor a handle or address"
                             % (args.root, ", ".join(d.label() for d in drivers) or "none found"))
        dh = decode_handle_or_address(target, v)
        if dh.problem:
            problems.add("BAD_HANDLE", dh.field, dh.problem)
            return None, None
        return dh.object, None
    return None, args.driver


def annotate(session, nodes, problems, args=None):
    """Fill memory, lookaside, MDL and context facts on every node."""
    if not getattr(args, "no_contexts", False):
        for n in nodes:
            n.contexts = fxo.read_contexts(session, n.header)
    try:
        from wdfdbg.decoders.annotate import annotate_nodes
    except ImportError:
        return
    annotate_nodes(session, nodes, problems)


def collect(session, args):
    """The analysis: (drivers, nodes, problems)."""
    problems = ProblemLog()
    drivers = list(drv.for_each_driver(session, problems))
    root, only = resolve_root(session, args, drivers, problems)
    names = drv.driver_names(drivers)
    nodes = []
    limit = args.max_objects
    if root is not None:
        nodes = fxo.walk_tree(session, root, problems, names, max_objects=limit, show_depth=args.depth)
    elif not drivers and not (args.handle or args.address or args.root):
        scan = _scan_fallback(session, problems)
        if scan is not None:
            drivers, nodes = scan
    else:
        for d in drivers:
            if only and (d.name or "").lower() != only.lower():
                continue
            if not d.driver:
                problems.add("UNREADABLE", d.globals, "driver %s: FX_DRIVER_GLOBALS.Driver is not readable" % d.label())
                continue
            nodes.extend(fxo.walk_tree(session, d.driver, problems, names, max_objects=max(1, limit - len(nodes)),
                                       show_depth=args.depth))
            if len(nodes) >= limit:
                break
        if only and not any((d.name or "").lower() == only.lower() for d in drivers):
            raise UsageError("no KMDF driver named %r (drivers: %s)" % (only, ", ".join(d.label() for d in drivers) or "none"))
    if args.depth is not None and nodes:  # (a scan's nodes are not walked with show_depth)
        nodes = [n for n in nodes if n.depth <= args.depth]
    annotate(session, nodes, problems, args)
    try:
        from wdfdbg.analysis.triage import triage
        triage(session, drivers, nodes, problems)
    except ImportError:
        pass
    rep.assign_problems(nodes, problems)
    return drivers, nodes, problems


def _scan_fallback(session, problems):
    try:
        from wdfdbg.decoders.scan import scan_objects
    except ImportError:
        return None
    # A driver list that a dump did not capture is missing data, not a broken
    # structure: with the scan standing in, it is a warning.
    from wdfdbg.analysis.problems import WARNING
    for p in problems:
        if p.code == "UNREADABLE":
            p.severity = WARNING
            p.message += " (not captured in this source; objects were found by scanning instead)"
    problems.add("SCAN_FALLBACK", None, "the driver list could not be read: objects were found by scanning memory")
    session.notes.append("objects found by scanning memory (no driver list)")
    return scan_objects(session, problems)


def render_text(session, drivers, nodes, problems, m):
    out = [txt.source_line(session, m)]
    out.extend(txt.bugcheck_lines(rep.bugcheck_json(session), m))
    for note in session.notes:
        out.append(m.text("note: %s" % note))
    by_globals = {}
    for n in nodes:
        by_globals.setdefault(n.header.globals, []).append(n)
    shown = set()
    for d in drivers:
        group = by_globals.get(d.globals)
        if not group:
            continue
        shown.add(d.globals)
        out.append("")
        out.append(txt.driver_header(d, m))
        out.extend(txt.node_line(n, m) for n in _tree_order(nodes, group))
        out.append("")
        out.append(txt.driver_summary(group, m))
    rest = [n for n in nodes if n.header.globals not in shown]
    if rest:
        out.append("")
        out.extend(txt.node_line(n, m) for n in rest)
        out.append("")
        out.append(txt.driver_summary(rest, m))
    if not nodes:
        out.append(m.text("No objects found."))
    out.append("")
    out.append(txt.problems_table(list(problems), m))
    return "\n".join(out)


def _tree_order(all_nodes, group):
    # nodes are already in pre-order; keep group members in that order
    ids = set(id(n) for n in group)
    return [n for n in all_nodes if id(n) in ids]


def execute(session, args, markup=None, out=None):
    """Run on an open session: (exit code, output text). With ``out`` (a
    text stream) a JSON report is streamed there and the text is None."""
    if getattr(args, "format", None) in ("dot", "svg"):  # graphs are drawn from the JSON report
        from wdfdbg.render.dot import graph_command
        return graph_command(execute, session, args)
    drivers, nodes, problems = collect(session, args)
    if args.json:
        if out is not None:
            rep.write_streaming(session, drivers, nodes, problems, out, command=NAME)
            return command.exit_code(problems), None
        doc = rep.build_report(session, drivers, nodes, problems, command=NAME)
        return command.exit_code(problems), rep.dumps(doc)
    m = markup or command.markup_for(args, session)
    return command.exit_code(problems), render_text(session, drivers, nodes, problems, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
