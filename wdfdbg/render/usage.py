"""The memusage text: one table per grouping (driver, pool tag, origin,
class) with a total row, the lookaside lists with what they hold, then the
problems (``analysis/usage.py`` makes the tables)."""

from wdfdbg.render import text as txt
from wdfdbg.render.cells import UNKNOWN, Link, count_text, hex_text, link_table, tag_text

NONE_LABEL = "unknown"
# a group key analysis/usage.py gives a value it did not have, per grouping
NO_KEY = {"by_driver": "driver unknown", "by_pool_tag": "no pool tag", "by_origin": "origin unknown",
          "by_class": "class unknown"}
TITLES = [("by_driver", "driver"), ("by_pool_tag", "pool tag"), ("by_origin", "origin"), ("by_class", "class")]


def render_text(session, usage, objects, problems, m):
    """``usage``: the tables; ``objects``: how many objects were walked."""
    out = [txt.source_line(session, m)]
    for n in session.notes:
        out.append(m.text("note: %s" % n))
    total = usage["total"]
    if not total["objects"]:
        out.append("")
        out.append(m.text("No WDFMEMORY objects found (%d object(s) walked)." % objects))
    for key, title in TITLES:
        rows = [(r["key"] if r["key"] not in (None, "-") else NO_KEY[key], r["objects"], r["bytes"], "0x%x" % r["bytes"])
                for r in usage[key]]
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
                         r["kind"] or UNKNOWN, tag_text(r["pool_tag"], UNKNOWN), hex_text(r["buffer_size"]),
                         r["allocated"], hex_text(r["allocated_bytes"]), count_text(r["free_entries"]),
                         UNKNOWN if r["hit_rate"] is None else "%d%%" % int(r["hit_rate"] * 100)))
        out.append("")
        out.append(link_table(m, rows, headers=["driver", "lookaside", "kind", "tag", "buffer size", "allocated",
                                                "bytes", "free", "hit rate"]))
    out.append("")
    out.append(txt.problems_table(list(problems), m))
    return "\n".join(out)
