"""Text rendering: the object tree in the style of ``!wdfhandle H 0x10``,
tabulate summaries, and problem lists. Links go through a markup object
(plain or DML), never hand-built."""

from tabulate import tabulate

from wdfdbg.decoders import types as fxt
from wdfdbg.render.markup import PLAIN

INDENT = "    "


def hx(v):
    return "None" if v is None else "0x%x" % v


def size_str(n):
    if n is None:
        return "?"
    return "0x%x" % n


def source_line(session, m=PLAIN):
    t = session.target
    desc = session.layouts.describe()
    types = desc["types"]
    if desc.get("profile"):
        types += " (%s)" % desc["profile"]
    return m.text("source: %s (%s, %s, %s, build %s); types: %s" % (
        session.path or "live target", session.source_kind, session.origin or "-", t.arch,
        t.os_build if t.os_build is not None else "?", types))


def bugcheck_lines(bc, m=PLAIN):
    if not bc:
        return []
    name = bc.get("name") or ""
    head = "Bugcheck %s %s" % (bc["code"], name)
    lines = [m.text("%s (%s)" % (head.rstrip(), ", ".join(bc["parameters"])))]
    dec = bc.get("decoded") or {}
    for k in sorted(dec):
        v = dec[k]
        if isinstance(v, dict):
            v = ", ".join("%s %s" % (a, b) for a, b in sorted(v.items()))
        lines.append(m.text("    %s: %s" % (k, v)))
    return lines


def node_line(node, m=PLAIN):
    """One tree line: ``WDFTYPE handle  Class address  facts``."""
    h = node.header
    wdf = node.wdf_type or ("FX_TYPE 0x%x" % (h.fx_type or 0))
    cls = h.cls or "FxObject"
    if node.handle is not None:
        if wdf == "WDFMEMORY":
            head = m.memory_link("%s 0x%x" % (wdf, node.handle), node.handle)
        elif wdf == "WDFLOOKASIDE":
            head = m.lookaside_link("%s 0x%x" % (wdf, node.handle), node.handle)
        else:
            head = m.handle_link("%s 0x%x" % (wdf, node.handle), node.handle)
    else:
        head = m.text("WDF INTERNAL %s" % wdf)
    parts = [head, m.object_link("dt %s 0x%x" % (cls, h.address), h.cls, h.address)]
    facts = []
    if h.cls_source == "shape":
        facts.append("class by shape")
    if h.state not in (None, 1):
        facts.append("state %s" % fxt.state_name(h.state))
    mem = node.memory
    if mem:
        facts.append("buffer %s length %s %s" % (mem.get("buffer") or "?", size_str(mem.get("length")), mem.get("origin") or "?"))
        if mem.get("pool_tag"):
            facts.append("tag '%s'" % mem["pool_tag"])
        if mem.get("read_only"):
            facts.append("read-only")
    la = node.lookaside
    if la:
        lst = la.get("list") or {}
        facts.append("%s buffer %s tag '%s' depth %s/%s free %s" % (
            la.get("kind"), size_str(la.get("buffer_size")), la.get("pool_tag"), lst.get("depth"),
            lst.get("max_depth"), lst.get("free_entries")))
    line = INDENT * node.depth + "  ".join(parts)
    if facts:
        line += "  " + m.text("; ".join(facts))
    for c in node.contexts:
        if c.get("name"):
            # like !wdfhandle's "dt <ctx> NAME": the type lives in the client driver's image
            label = "context %s %s" % (c["name"], hx(c["context"]))
            if node.driver:
                label = m.link(label, "dt %s!%s 0x%x" % (node.driver, c["name"], c["context"]))
            else:
                label = m.text(label)
            line += "  " + label + m.text(" (size %s)" % size_str(c.get("size")))
    extra = []
    for rb in node.extras().get("request_buffers") or []:
        handle = int(rb["handle"], 16) if rb.get("handle") else None
        label = "%s WDFMEMORY %s" % (rb.get("kind") or "buffer", rb.get("handle") or "?")
        head = m.memory_link(label, handle) if handle is not None else m.text(label)
        bits = ["buffer %s" % (rb.get("buffer") or "None"), "length %s" % size_str(rb.get("length"))]
        if rb.get("mdl"):
            bits.append("MDL %s" % rb["mdl"])
        if rb.get("major_function"):
            bits.append(rb["major_function"] + (" " + rb["method"] if rb.get("method") else ""))
        if rb.get("read_only"):
            bits.append("read-only")
        extra.append(INDENT * (node.depth + 1) + head + m.text("  " + ", ".join(bits)))
    for md in node.mdls:
        addr = int(md["address"], 16)
        extra.append(INDENT * (node.depth + 1) + m.mdl_link("MDL %s" % md["address"], addr)
                     + m.text("  ByteCount %s flags %s" % (size_str(md.get("byte_count")), "|".join(md.get("flags") or []) or "0")))
    for p in node.problems:
        extra.append(INDENT * (node.depth + 1) + m.text("!! %s %s: %s" % (p.code, hx(p.address), p.message)))
    return "\n".join([line] + extra)


def driver_header(d, m=PLAIN):
    return m.text("Driver %s  tag '%s'  globals %s  FxDriver %s%s" % (
        d.label(), d.tag or "?", hx(d.globals), hx(d.driver),
        "  verifier on" if d.verifier_on else ""))


def driver_summary(nodes, m=PLAIN):
    counts = SummaryCounts()
    for n in nodes:
        counts.add(n)
    return counts.table(m)


class SummaryCounts(object):
    """A driver summary's figures, added up one node at a time: objects per
    WDF type, WDFMEMORY objects and bytes per origin."""

    __slots__ = ("by_type", "by_origin", "objects")

    def __init__(self):
        self.by_type = {}
        self.by_origin = {}
        self.objects = 0

    def add(self, n):
        self.objects += 1
        t = n.wdf_type or "FX_TYPE 0x%x" % (n.header.fx_type or 0)
        self.by_type[t] = self.by_type.get(t, 0) + 1
        if n.memory:
            o = n.memory.get("origin") or "?"
            cnt, total = self.by_origin.get(o, (0, 0))
            self.by_origin[o] = (cnt + 1, total + (n.memory.get("length") or 0))

    def merge(self, other):
        self.objects += other.objects
        for t, c in other.by_type.items():
            self.by_type[t] = self.by_type.get(t, 0) + c
        for o, (c, b) in other.by_origin.items():
            cnt, total = self.by_origin.get(o, (0, 0))
            self.by_origin[o] = (cnt + c, total + b)

    def table(self, m=PLAIN):
        out = [tabulate(sorted(self.by_type.items(), key=lambda kv: (-kv[1], kv[0])), headers=["type", "objects"])]
        if self.by_origin:
            rows = [(o, c, b) for o, (c, b) in sorted(self.by_origin.items())]
            rows.append(("total", sum(r[1] for r in rows), sum(r[2] for r in rows)))
            out.append(tabulate(rows, headers=["memory origin", "objects", "bytes"]))
        return m.text("\n\n".join(out))


def problems_table(problems, m=PLAIN):
    if not problems:
        return m.text("No problems found.")
    rows = [(p.severity, p.code, hx(p.address), p.message) for p in problems]
    return m.text("Problems:\n" + tabulate(rows, headers=["severity", "code", "address", "message"]))
