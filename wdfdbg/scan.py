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

from tabulate import tabulate

from wdfdbg import command
from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.decoders import scan as fxscan
from wdfdbg.decoders import types as fxt
from wdfdbg.errors import UsageError
from wdfdbg.render import report as rep

NAME = "scan"


def make_parser():
    p = command.parser(NAME, "find FxObjects in all readable memory by their shape")
    command.add_source_args(p)
    p.add_argument("--max-objects", type=int, default=fxscan.MAX_OBJECTS, help="stop after N objects")
    p.add_argument("--all-drivers", action="store_true",
                   help="text output: list every KMDF driver known, not only those with objects found")
    p.add_argument("--no-contexts", action="store_true", help="skip context headers")
    p.add_argument("--include-destroyed", action="store_true",
                   help="also list objects in state Destroyed (stale images in freed memory)")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    if args.max_objects < 1:
        raise UsageError("--max-objects must be at least 1")
    return args


def annotate(session, nodes, problems, args):
    """Memory, lookaside, MDL and context facts: the same annotation memtree
    gives a walked tree."""
    try:
        from wdfdbg.memtree import annotate as tree_annotate
    except ImportError:
        return
    tree_annotate(session, nodes, problems, args)


def collect(session, args):
    """(drivers, nodes, problems, stats)."""
    problems = ProblemLog()
    res = fxscan.scan(session, problems, max_objects=args.max_objects,
                      include_destroyed=getattr(args, "include_destroyed", False))
    annotate(session, res.nodes, problems, args)
    rep.assign_problems(res.nodes, problems)
    return res.drivers, res.nodes, problems, res.stats


def hx(v):
    return "-" if v is None else "0x%x" % v


def bugcheck_text(bc):
    if not bc:
        return []
    lines = ["bugcheck: %s %s (%s)" % (bc["code"], bc.get("name") or "", ", ".join(bc["parameters"]))]
    dec = bc.get("decoded") or {}
    for k in sorted(dec):
        lines.append("    %s: %s" % (k, dec[k]))
    return lines


def object_rows(nodes):
    rows = []
    for n in nodes:
        h = n.header
        wdf = n.wdf_type or ("FX_TYPE 0x%x" % (h.fx_type or 0))
        facts = []
        if n.memory:
            facts.append("buffer %s length %s %s" % (n.memory.get("buffer") or "?", n.memory.get("length"),
                                                     n.memory.get("origin") or "?"))
        if n.lookaside:
            facts.append("lookaside %s buffer %s" % (n.lookaside.get("kind"), n.lookaside.get("buffer_size")))
        for c in n.contexts:
            if c.get("name"):
                facts.append("context %s" % c["name"])
        scan = n.extra.get("scan") or {}
        if scan.get("captured_bytes") is not None and scan["captured_bytes"] < 0x68:
            facts.append("%d bytes captured" % scan["captured_bytes"])
        if scan.get("parent_captured") is False:
            facts.append("parent not captured")
        cls = h.cls or "?"
        if h.cls_source in ("shape", "type"):
            cls += " (%s)" % h.cls_source
        rows.append(("  " * n.depth + hx(h.address), hx(n.handle), wdf, cls, hx(h.fx_type),
                     hx(h.object_size) if h.object_size is not None else "-",
                     "-" if h.refcount is None else h.refcount,
                     fxt.state_name(h.state) if h.state is not None else "-",
                     hx(h.globals), hx(n.parent), "; ".join(facts)))
    return rows


def render_text(session, drivers, nodes, problems, stats, args):
    t = session.target
    out = ["source: %s (%s, %s, build %s)" % (session.path or "live target", session.source_kind, t.arch,
                                               t.os_build if t.os_build is not None else "?")]
    out.extend(bugcheck_text(rep.bugcheck_json(session)))
    s = stats.to_json()
    out.append("scanned %d bytes in %d ranges (%s, %d-byte aligned): %d candidates, %d objects, %d parent links"
               % (s["bytes_scanned"], s["ranges"], s["method"], s["alignment"], s["candidates"], s["objects"],
                  s["parents_linked"]))
    for note in session.notes:
        out.append("note: %s" % note)
    by_globals = {}
    for n in nodes:
        by_globals.setdefault(n.header.globals, []).append(n)
    headers = ["object", "handle", "type", "class", "m_Type", "size", "refs", "state", "globals", "parent", "facts"]
    shown = set()
    for d in drivers:
        group = by_globals.get(d.globals)
        if not group:
            continue
        shown.add(d.globals)
        out.append("")
        out.append("Driver %s  tag %s  globals 0x%x  FxDriver %s  (%d object%s)" % (
            d.name or "<name not captured>", "'%s'" % d.tag if d.tag else "?", d.globals, hx(d.driver),
            len(group), "" if len(group) == 1 else "s"))
        out.append(tabulate(object_rows(group), headers=headers))
    rest = [n for n in nodes if n.header.globals not in shown]
    if rest:
        out.append("")
        out.append("Objects of unknown drivers:")
        out.append(tabulate(object_rows(rest), headers=headers))
    if not nodes:
        out.append("")
        out.append("No FxObjects found.")
    counts = dict((d.globals, 0) for d in drivers)
    for n in nodes:
        if n.header.globals in counts:
            counts[n.header.globals] += 1
    listed = [d for d in drivers if counts.get(d.globals) or args.all_drivers]
    if drivers:
        out.append("")
        out.append("KMDF drivers: %d known, %d with objects found%s" % (
            len(drivers), sum(1 for d in drivers if counts.get(d.globals)),
            "" if args.all_drivers else " (--all-drivers lists them all)"))
        rows = [(d.name or "?", d.tag or "?", "0x%x" % d.globals, hx(d.driver), counts.get(d.globals, 0),
                 d.name_source or "-") for d in listed]
        if rows:
            out.append(tabulate(rows, headers=["driver", "tag", "globals", "FxDriver", "objects", "name from"]))
    out.append("")
    if problems:
        rows = [(p.severity, p.code, hx(p.address), p.message) for p in problems]
        out.append("Problems:\n" + tabulate(rows, headers=["severity", "code", "address", "message"]))
    else:
        out.append("No problems found.")
    return "\n".join(out)


def execute(session, args, markup=None):
    drivers, nodes, problems, stats = collect(session, args)
    if args.json:
        doc = rep.build_report(session, drivers, nodes, problems, extra={"scan": stats.to_json()}, command=NAME)
        return command.exit_code(problems), rep.dumps(doc)
    return command.exit_code(problems), render_text(session, drivers, nodes, problems, stats, args)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
