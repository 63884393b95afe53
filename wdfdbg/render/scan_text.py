"""``scan`` as text: the objects found by shape, grouped by driver, with
their header fields and decoded facts
(:class:`~wdfdbg.analysis.scanned.ScanFindings`)."""

from tabulate import tabulate

from wdfdbg.analysis.numbers import refuse_negative_hex
from wdfdbg.decoders import types as fxt
from wdfdbg.render.cells import hex_or, hexn
from wdfdbg.render.report import assign_problems

OBJECT_HEADERS = ["object", "handle", "type", "class", "m_Type", "size", "refs", "state", "globals", "parent", "facts"]


def hx(v):
    return hex_or(v, "-")


def render_scan(session, found, all_drivers=False):
    """The text of ``scan``; ``all_drivers`` lists every KMDF driver known,
    not only those with objects found."""
    nodes, drivers, problems = found.nodes, found.drivers, found.problems
    assign_problems(nodes, problems)
    t = session.target
    out = ["source: %s (%s, %s, build %s)" % (session.path or "live target", session.source_kind, t.arch,
                                               t.os_build if t.os_build is not None else "?")]
    out.extend(bugcheck_lines(found.bugcheck))
    s = found.stats.to_json()
    out.append("scanned %d bytes in %d ranges (%s, %d-byte aligned): %d candidates, %d objects, %d parent links"
               % (s["bytes_scanned"], s["ranges"], s["method"], s["alignment"], s["candidates"], s["objects"],
                  s["parents_linked"]))
    for note in session.notes:
        out.append("note: %s" % note)
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
        out.append("Driver %s  tag %s  globals %s  FxDriver %s  (%d object%s)" % (
            d.name or "<name not captured>", "'%s'" % d.tag if d.tag else "?", hexn(d.globals), hx(d.driver),
            len(group), "" if len(group) == 1 else "s"))
        out.append(tabulate(object_rows(group), headers=OBJECT_HEADERS))
    rest = [n for n in nodes if n.header.globals not in shown]
    if rest:
        out.append("")
        out.append("Objects of unknown drivers:")
        out.append(tabulate(object_rows(rest), headers=OBJECT_HEADERS))
    if not nodes:
        out.append("")
        out.append("No FxObjects found.")
    out.extend(driver_lines(drivers, nodes, all_drivers))
    out.append("")
    if problems:
        rows = [(p.severity, p.code, hx(p.address), p.message) for p in problems]
        out.append("Problems:\n" + tabulate(rows, headers=["severity", "code", "address", "message"]))
    else:
        out.append("No problems found.")
    return refuse_negative_hex("\n".join(out), exempt=[session.path])


def bugcheck_lines(bc):
    if not bc:
        return []
    lines = ["bugcheck: %s %s (%s)" % (bc["code"], bc.get("name") or "", ", ".join(bc["parameters"]))]
    dec = bc.get("decoded") or {}
    for k in sorted(dec):
        lines.append("    %s: %s" % (k, dec[k]))
    return lines


def driver_lines(drivers, nodes, all_drivers):
    if not drivers:
        return []
    counts = dict((d.globals, 0) for d in drivers)
    for n in nodes:
        if n.header.globals in counts:
            counts[n.header.globals] += 1
    listed = [d for d in drivers if counts.get(d.globals) or all_drivers]
    out = ["", "KMDF drivers: %d known, %d with objects found%s" % (
        len(drivers), sum(1 for d in drivers if counts.get(d.globals)),
        "" if all_drivers else " (--all-drivers lists them all)")]
    rows = [(d.name or "?", d.tag or "?", hexn(d.globals), hx(d.driver), counts.get(d.globals, 0),
             d.name_source or "-") for d in listed]
    if rows:
        out.append(tabulate(rows, headers=["driver", "tag", "globals", "FxDriver", "objects", "name from"]))
    return out


def object_rows(nodes):
    rows = []
    for n in nodes:
        h = n.header
        wdf = n.wdf_type or ("FX_TYPE %s" % hexn(h.fx_type or 0))
        cls = h.cls or "?"
        if h.cls_source in ("shape", "type"):
            cls += " (%s)" % h.cls_source
        rows.append(("  " * n.depth + hx(h.address), hx(n.handle), wdf, cls, hx(h.fx_type),
                     hx(h.object_size) if h.object_size is not None else "-",
                     "-" if h.refcount is None else h.refcount,
                     fxt.state_name(h.state) if h.state is not None else "-",
                     hx(h.globals), hx(n.parent), "; ".join(object_facts(n))))
    return rows


def object_facts(n):
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
    if scan.get("captured_bytes") is not None and scan["captured_bytes"] < 0x68:  # less than an FxObject header
        facts.append("%d bytes captured" % scan["captured_bytes"])
    if scan.get("parent_captured") is False:
        facts.append("parent not captured")
    return facts
