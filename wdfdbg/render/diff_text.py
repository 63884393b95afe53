"""``wdfdbg diff`` as text: per driver, the (parent type, child type, pool
tag) groups that changed, biggest growth first, then the new and vanished
objects by address (the first few per group; ``--json`` lists them all)."""

from tabulate import tabulate

NEW_SHOWN = 10


def signed(n):
    return "{:+,}".format(n) if n else "0"


def hex_bytes(n):
    return "0x%x" % n


def signed_hex(n):
    if not n:
        return "0"
    return ("+0x%x" if n > 0 else "-0x%x") % abs(n)


def _name(v, unknown):
    return v if v else unknown


def source_label(side):
    src = side.get("source") or {}
    where = src.get("path") or ("the dump open in the debugger" if src.get("origin") == "dump" else "the live target")
    kind = src.get("kind") or "unknown kind"
    return "%s: %s (%s, %s objects)" % (side.get("label"), where, kind, "{:,}".format(side.get("objects") or 0))


def render(doc, shown=NEW_SHOWN):
    """The diff document as lines of text."""
    out = [source_label(doc["before"]), source_label(doc["after"])]
    for note in doc.get("notes") or ():
        out.append("note: %s" % note)
    s = doc["summary"]
    out.append("")
    out.append("total: objects %s -> %s (%s), bytes %s -> %s (%s); %s new, %s vanished" % (
        "{:,}".format(s["objects"]["before"]), "{:,}".format(s["objects"]["after"]), signed(s["objects"]["change"]),
        hex_bytes(s["bytes"]["before"]), hex_bytes(s["bytes"]["after"]), signed_hex(s["bytes"]["change"]),
        "{:,}".format(s["new"]), "{:,}".format(s["vanished"])))
    for d in doc["drivers"]:
        changed = [g for g in d["groups"] if g["objects"]["change"] or g["bytes"]["change"] or g["new"] or g["vanished"]]
        out.append("")
        out.append("Driver %s: objects %s -> %s (%s), bytes %s -> %s (%s)" % (
            _name(d["name"], "(driver unknown)"), "{:,}".format(d["objects"]["before"]),
            "{:,}".format(d["objects"]["after"]), signed(d["objects"]["change"]), hex_bytes(d["bytes"]["before"]),
            hex_bytes(d["bytes"]["after"]), signed_hex(d["bytes"]["change"])))
        if not changed:
            out.append("    no change (%d groups)" % len(d["groups"]))
            continue
        rows = [[_name(g["parent_type"], "(root)"), _name(g["child_type"], "unknown type"),
                 _name(g["pool_tag"], "no pool tag"),
                 "{:,}".format(g["objects"]["before"]), "{:,}".format(g["objects"]["after"]), signed(g["objects"]["change"]),
                 hex_bytes(g["bytes"]["before"]), hex_bytes(g["bytes"]["after"]), signed_hex(g["bytes"]["change"])]
                for g in changed]
        table = tabulate(rows, headers=["parent type", "child type", "pool tag", "objects before", "after", "change",
                                        "bytes before", "after", "change"],
                         colalign=("left", "left", "left", "right", "right", "right", "right", "right", "right"))
        out.extend("    " + line for line in table.splitlines())
        if len(changed) < len(d["groups"]):
            out.append("    (%d groups unchanged)" % (len(d["groups"]) - len(changed)))
        for g in changed:
            for what in ("new", "vanished"):
                addrs = g[what]
                if not addrs:
                    continue
                more = "" if len(addrs) <= shown else " and {:,} more (--json lists all)".format(len(addrs) - shown)
                out.append("    %s %s under %s: %s%s" % ("{:,}".format(len(addrs)) + " " + what,
                                                       _name(g["child_type"], "unknown type"),
                                                       _name(g["parent_type"], "(root)"), " ".join(addrs[:shown]), more))
    if not doc["drivers"]:
        out.append("")
        out.append("No objects on either side.")
    return "\n".join(out)
