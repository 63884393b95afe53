"""``scan`` as text: the objects found by shape, grouped by driver, with
their header fields and decoded facts
(:class:`~wdfdbg.analysis.scanned.ScanFindings`).

Words (``render/cells.py``): ``NULL`` for a field that holds 0, ``not
captured`` for one the dump did not hold, ``unknown`` for what could not be
told; sizes in hex; a handle column says ``none`` for an object without a
handle (``m_ObjectSize`` 0: the framework gives it none)."""

from tabulate import tabulate

from wdfdbg.analysis.numbers import refuse_negative_hex
from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.bugcheck import code_text
from wdfdbg.decoders.contexts import context_text
from wdfdbg.render import text as txt
from wdfdbg.render.cells import NOT_CAPTURED, UNKNOWN, count_text, hex_text, hexn, ptr_text, tag_text
from wdfdbg.render.report import assign_problems

OBJECT_HEADERS = ["object", "handle", "type", "class", "m_Type", "size", "refs", "state", "globals", "parent", "facts"]
# how the scan looked (ScanStats.method), in words
METHODS = {"vtable-pattern": "looking for pointers into Wdf01000's image",
           "exhaustive": "trying every aligned address"}
# where a driver's name came from (DriverInfo.name_source), in words
NAME_SOURCES = {"globals": "FX_DRIVER_GLOBALS", "kmdf-driver-table": "KMDF's driver table in the dump",
                "bugcheck-driver-info": "FxLibraryGlobals.BugCheckDriverInfo", "module": "the module of its image"}
CLASS_SOURCES = {"shape": "by shape", "type-code": "from m_Type"}


def render_scan(session, found, all_drivers=False):
    """The text of ``scan``; ``all_drivers`` lists every KMDF driver known,
    not only those with objects found."""
    nodes, drivers, problems = found.nodes, found.drivers, found.problems
    assign_problems(nodes, problems)
    out = [txt.source_line(session)]
    out.extend(bugcheck_lines(found.bugcheck))
    s = found.stats.to_json()
    out.append("scanned %s bytes in %d ranges (%s, %d-byte aligned): %d places looked like an FxObject header, "
               "%d are objects, %d linked to a parent found" % (
                   hexn(s["bytes_scanned"]), s["ranges"], METHODS.get(s["method"], s["method"] or UNKNOWN),
                   s["alignment"], s["candidates"], s["objects"], s["parents_linked"]))
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
            d.name or "(name not captured)", tag_text(d.tag), hexn(d.globals), ptr_text(d.driver, NOT_CAPTURED),
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
        rows = [(p.severity, p.code, ptr_text(p.address, "none"), p.message) for p in problems]
        out.append("Problems:\n" + tabulate(rows, headers=["severity", "code", "address", "message"]))
    else:
        out.append("No problems found.")
    return refuse_negative_hex("\n".join(out), exempt=[session.path])


def bugcheck_lines(bc):
    if not bc:
        return []
    lines = ["bugcheck: %s %s (%s)" % (code_text(bc["code"]), bc.get("name") or "", ", ".join(bc["parameters"]))]
    dec = bc.get("decoded") or {}
    for k in sorted(dec):
        lines.append("    %s: %s" % (k, dec[k] if dec[k] is not None else UNKNOWN))
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
    rows = [(d.name or "(name not captured)", tag_text(d.tag), hexn(d.globals), ptr_text(d.driver, NOT_CAPTURED),
             counts.get(d.globals, 0), NAME_SOURCES.get(d.name_source, d.name_source or UNKNOWN)) for d in listed]
    if rows:
        out.append(tabulate(rows, headers=["driver", "tag", "globals", "FxDriver", "objects", "name from"]))
    return out


def parent_text(n):
    """NULL, the parent's address, or ``not captured`` when the dump did not
    hold m_ParentObject."""
    scan = n.extras().get("scan") or {}
    if n.parent:
        return hexn(n.parent)
    if "m_ParentObject" in (scan.get("not_captured") or ()):
        return NOT_CAPTURED
    return "NULL"


def object_rows(nodes):
    rows = []
    for n in nodes:
        h = n.header
        wdf = n.wdf_type or ("FX_TYPE %s" % hexn(h.fx_type or 0))
        cls = h.cls or UNKNOWN
        if h.cls and h.cls_source in CLASS_SOURCES:
            cls += " (%s)" % CLASS_SOURCES[h.cls_source]
        rows.append(("  " * n.depth + hexn(h.address), hexn(n.handle) if n.handle is not None else "none", wdf, cls,
                     hex_text(h.fx_type), hex_text(h.object_size), count_text(h.refcount),
                     state_text(n),
                     ptr_text(h.globals, NOT_CAPTURED), parent_text(n), "; ".join(object_facts(n))))
    return rows


def state_text(n):
    """The object's state, or ``not captured`` when the dump stopped before
    m_ObjectState."""
    if n.header.state is not None:
        return fxt.state_name(n.header.state)
    scan = n.extras().get("scan") or {}
    return NOT_CAPTURED if "m_ObjectState" in (scan.get("not_captured") or ()) else UNKNOWN


def object_facts(n):
    facts = []
    proof = txt.pool_proof_note(n)
    if proof:
        facts.append(proof)
    if n.memory:
        facts.extend(txt.memory_facts(n.memory))
    if n.lookaside:
        facts.append("lookaside %s buffer %s" % (n.lookaside.get("kind") or "kind unknown",
                                                 hex_text(n.lookaside.get("buffer_size"))))
    for c in n.contexts:
        facts.append(context_text(c))
    scan = n.extras().get("scan") or {}
    if scan.get("captured_bytes") is not None and scan["captured_bytes"] < 0x68:  # less than an FxObject header
        facts.append("only %s bytes captured" % hexn(scan["captured_bytes"]))
    if scan.get("parent_captured") is False and n.parent:
        facts.append("parent not captured")   # (the parent column has its address)
    return facts
