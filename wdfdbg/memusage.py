"""``memusage``: how much memory the KMDF drivers hold through WDFMEMORY,
tabulated by driver, pool tag, origin and class (objects and bytes, with
totals), plus the lookaside lists and what they hold.

    wdfdbg memusage SOURCE [--driver NAME] [--json]
    !py -m wdfdbg.memusage [--driver NAME]          (inside WinDbg)

The walk is memtree's (every driver on the library's list, or a scan of
memory when that list cannot be read); bytes are the WDFMEMORY lengths
(``m_BufferSize``), not pool block sizes.
"""

import argparse
import sys

from wdfdbg import command
from wdfdbg import memtree
from wdfdbg.decoders import objects as fxo
from wdfdbg.errors import UsageError
from wdfdbg.memory import Link, link_table
from wdfdbg.render import report as rep
from wdfdbg.render import text as txt

NAME = "memusage"
NONE_LABEL = "-"


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


def _key(v):
    return NONE_LABEL if v is None else str(v)


def tabulate_usage(nodes):
    """The usage tables as JSON-ready data: ``{by_driver, by_pool_tag,
    by_origin, by_class, total, lookasides}``; each row ``{key, objects,
    bytes}`` sorted by bytes (descending) then key."""
    groups = {"by_driver": {}, "by_pool_tag": {}, "by_origin": {}, "by_class": {}}
    total = {"objects": 0, "bytes": 0}
    for n in nodes:
        r = n.memory
        if r is None:
            continue
        length = r.get("length") or 0
        keys = {"by_driver": n.driver, "by_pool_tag": r.get("pool_tag"), "by_origin": r.get("origin"),
                "by_class": n.header.cls or r.get("class")}
        for g, k in keys.items():
            row = groups[g].setdefault(_key(k), {"key": _key(k), "objects": 0, "bytes": 0})
            row["objects"] += 1
            row["bytes"] += length
        total["objects"] += 1
        total["bytes"] += length
    out = {}
    for g, rows in groups.items():
        out[g] = sorted(rows.values(), key=lambda r: (-r["bytes"], r["key"]))
    out["total"] = total
    las = []
    for n in nodes:
        la = n.lookaside
        if la is None:
            continue
        lst = la.get("list") or {}
        held = sum((m.memory.get("length") or 0) for m in nodes
                   if m.memory is not None and m.memory.get("lookaside") == "0x%x" % n.address)
        las.append({"driver": n.driver, "address": "0x%x" % n.address,
                    "handle": None if n.handle is None else "0x%x" % n.handle, "kind": la.get("kind"),
                    "pool_tag": la.get("pool_tag"), "buffer_size": la.get("buffer_size"),
                    "allocated": len(la.get("allocated") or []), "allocated_bytes": held,
                    "free_entries": lst.get("free_entries"), "hit_rate": lst.get("hit_rate")})
    out["lookasides"] = sorted(las, key=lambda r: (_key(r["driver"]), r["address"]))
    return out


def render_text(session, drivers, nodes, problems, usage, m):
    out = [txt.source_line(session, m)]
    for n in session.notes:
        out.append(m.text("note: %s" % n))
    titles = [("by_driver", "driver"), ("by_pool_tag", "pool tag"), ("by_origin", "origin"), ("by_class", "class")]
    total = usage["total"]
    if not total["objects"]:
        out.append("")
        out.append(m.text("No WDFMEMORY objects found (%d object(s) walked)." % len(nodes)))
    for key, title in titles:
        rows = [(r["key"], r["objects"], r["bytes"], "0x%x" % r["bytes"]) for r in usage[key]]
        if not rows:
            continue
        rows.append(("total", total["objects"], total["bytes"], "0x%x" % total["bytes"]))
        out.append("")
        out.append(link_table(m, rows, headers=[title, "objects", "bytes", "hex"]))
    if usage["lookasides"]:
        rows = []
        for r in usage["lookasides"]:
            h = r["handle"]
            label = "WDFLOOKASIDE %s" % (h or r["address"])
            rows.append((r["driver"] or NONE_LABEL, Link(label, m.lookaside_link(label, int(h, 16))) if h else label,
                         r["kind"] or "?", r["pool_tag"] or "?", txt.size_str(r["buffer_size"]), r["allocated"],
                         r["allocated_bytes"], r["free_entries"] if r["free_entries"] is not None else "?",
                         "?" if r["hit_rate"] is None else "%d%%" % int(r["hit_rate"] * 100)))
        out.append("")
        out.append(link_table(m, rows, headers=["driver", "lookaside", "kind", "tag", "buffer size", "allocated",
                                                "bytes", "free", "hit rate"]))
    out.append("")
    out.append(txt.problems_table(list(problems), m))
    return "\n".join(out)


def execute(session, args, markup=None):
    drivers, nodes, problems = memtree.collect(session, walk_args(args))
    usage = tabulate_usage(nodes)
    if args.json:
        keep = [n for n in nodes if n.memory is not None or n.lookaside is not None]
        if args.driver:
            drivers = [d for d in drivers if (d.name or "").lower() == args.driver.lower()]
        doc = rep.build_report(session, drivers, keep, problems, extra={"memusage": usage}, command=NAME)
        return command.exit_code(problems), rep.dumps(doc)
    m = markup or command.markup_for(args, session)
    return command.exit_code(problems), render_text(session, drivers, nodes, problems, usage, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
