"""``wdfdbg corpus`` as text: the status line, then the table ``--by``
asks for (driver, signature or problem), or all three. Byte counts are hex
(sizes, as everywhere in wdfdbg's text); counts of things are decimal."""

from tabulate import tabulate

from wdfdbg.batch.record import STATUSES
from wdfdbg.render.streams import printable

SIGNATURE_ROWS = 50  # the JSON has them all


def _name(v):
    return printable(v) if v else "unknown"  # names come from dump memory: one line, no terminal controls


def _path_cell(p, width=60):
    p = printable(p)
    return p if len(p) <= width else "..." + p[-(width - 3):]


def render(doc, by=None):
    lines = ["corpus: %s: %d dumps (%d records, %d superseded, %d unreadable lines)"
             % (printable(doc["source"]), doc["dumps"], doc["records"], doc["superseded"], doc["unparsed_lines"]),
             "status: " + ", ".join("%s %d" % (s, doc["by_status"].get(s, 0)) for s in STATUSES)]
    t = doc["totals"]
    lines.append("totals: %d objects, %d WDFMEMORY (0x%x bytes), %d lookasides, %d MDLs, %d problems"
                 % (t["objects"], t["memory_objects"], t["memory_bytes"], t["lookasides"], t["mdls"], t["problems"]))
    if by in (None, "driver"):
        lines += ["", drivers_table(doc["drivers"]), "", outliers_table(doc["drivers"])]
    if by in (None, "signature"):
        lines += ["", signatures_table(doc["signatures"])]
    if by in (None, "problem"):
        lines += ["", problems_table(doc["problems"])]
    return "\n".join(lines)


def drivers_table(drivers):
    if not drivers:
        return "No drivers."
    rows = []
    idle = [d for d in drivers if not d["objects"] and not d["problems"]]
    for d in drivers:
        if not d["objects"] and not d["problems"]:
            continue
        codes = ", ".join("%s %d" % (printable(k), n)
                          for k, n in sorted(d["problem_counts"].items(), key=lambda kv: (-kv[1], kv[0])))
        rows.append((_name(d["name"]), d["dumps"], d["objects"], d["memory_objects"], "0x%x" % d["memory_bytes"],
                     d["lookasides"], d["mdls"], codes or "none",
                     printable(", ".join(d["kmdf_versions"])) or "unknown"))
    text = tabulate(rows, headers=["driver", "dumps", "objects", "WDFMEMORY", "bytes", "lookasides", "MDLs",
                                   "problems", "KMDF"], colalign=("left",) + ("right",) * 6 + ("left", "left")) \
        if rows else "No driver with objects."
    if idle:
        text += "\n(%d more KMDF drivers listed without objects or problems; --json has them)" % len(idle)
    return text


def outliers_table(drivers):
    rows = []
    for d in drivers:
        top_o = (d["outliers"]["objects"] or [None])[0]
        top_b = (d["outliers"]["memory_bytes"] or [None])[0]
        if not top_o or not top_o["objects"]:
            continue
        has_bytes = bool(top_b and top_b["memory_bytes"])
        rows.append((_name(d["name"]), top_o["objects"], _path_cell(top_o["path"]),
                     "0x%x" % (top_b["memory_bytes"] if has_bytes else 0),
                     _path_cell(top_b["path"]) if has_bytes else "no WDFMEMORY"))
    if not rows:
        return "No objects."
    return tabulate(rows, headers=["driver", "most objects", "in", "most bytes", "in"],
                    colalign=("left", "right", "left", "right", "left"))


def signatures_table(signatures):
    if not signatures:
        return "No signatures."
    rows = [(printable(s["signature"]), s["dumps"], _path_cell(s["first_path"], 48), _path_cell(s["last_path"], 48))
            for s in signatures[:SIGNATURE_ROWS]]
    text = tabulate(rows, headers=["signature", "dumps", "first", "last"])
    if len(signatures) > SIGNATURE_ROWS:
        text += "\n(%d more signatures in --json)" % (len(signatures) - SIGNATURE_ROWS)
    return text


def problems_table(problems):
    if not problems:
        return "No problems."
    return tabulate([(printable(str(p["code"])), p["dumps"], p["occurrences"]) for p in problems],
                    headers=["problem", "dumps", "occurrences"])
