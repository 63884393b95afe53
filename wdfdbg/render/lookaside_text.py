"""``lookaside`` as text: the WDFLOOKASIDE's own facts, its kernel
lookaside list(s) as ``!lookaside`` shows them, and the memory objects
allocated from it (:class:`~wdfdbg.analysis.lookaside_list.LookasideFindings`)."""

from wdfdbg.analysis.numbers import refuse_negative_hex
from wdfdbg.render import text as txt
from wdfdbg.render.cells import NOT_CAPTURED, UNKNOWN, Link, count_text, hex_text, hexn, kv_table, link_table, size_text
from wdfdbg.render.cells import tag_text
from wdfdbg.render.memory_text import CLASS_SOURCES, head_lines
from wdfdbg.render.report import assign_problems


def pct(v):
    return UNKNOWN if v is None else "%d%%" % int(v * 100)


def render_lookaside(session, found, m):
    assign_problems(found.nodes, found.problems)
    out = head_lines(session, m)
    node = found.node
    if node is not None:
        out.append("")
        out.append(txt.node_line(node, m).split("\n")[0])
        la = node.lookaside
        if la:
            out.append(kv_table(lookaside_rows(node, la), m))
            out.append("")
            out.extend(kernel_list_lines("m_ObjectLookaside", la.get("list"), m))
            if la.get("pool_list"):
                out.append("")
                out.extend(kernel_list_lines("m_PoolLookaside", la.get("pool_list"), m))
        out.append("")
        if found.allocated:
            out.append(m.text("Allocated memory objects (%d):" % len(found.allocated)))
            out.append(allocated_table(found.allocated, m))
        elif node.lookaside:
            out.append(m.text("No memory objects allocated from it were found."))
        if found.note:
            out.append(m.text("note: %s" % found.note))
    out.append("")
    out.append(txt.problems_table(list(found.problems), m))
    return refuse_negative_hex("\n".join(out), exempt=[session.path])


def lookaside_rows(node, la):
    cls = la.get("class")
    rows = [("class", "%s (from %s)" % (cls, CLASS_SOURCES.get(la.get("class_source"), la.get("class_source") or
                                                               UNKNOWN)) if cls else UNKNOWN),
            ("driver", node.driver or UNKNOWN), ("kind", la.get("kind") or UNKNOWN),
            ("buffer size", size_text(la.get("buffer_size"))),
            ("memory object size", size_text(la.get("memory_object_size"))),
            ("pool tag", tag_text(la.get("pool_tag"), UNKNOWN)),
            ("pool type", la.get("pool_type") if la.get("pool_type") is not None else UNKNOWN),
            ("refcount", count_text(node.header.refcount))]
    if la.get("raw_buffer_size") is not None:
        rows.append(("raw buffer size", size_text(la["raw_buffer_size"])))
    if la.get("memory_device_base"):
        rows.append(("memory device base", la["memory_device_base"]))
    if la.get("outstanding") is not None:
        rows.append(("outstanding (allocates - frees)", la["outstanding"]))
    return rows


def kernel_list_lines(title, lst, m):
    """A kernel lookaside as ``!lookaside`` prints it."""
    if not lst:
        return [m.text("%s: not decoded" % title)]
    addr = int(lst["address"], 16)
    out = [m.text("%s " % title) + m.kernel_lookaside_link("!lookaside %s" % lst["address"], addr)]
    t = lst.get("type")
    c = count_text
    rows = [
        ("Type", t if t is not None else UNKNOWN, "Tag", tag_text(lst.get("tag"), UNKNOWN)),
        ("Current Depth", c(lst.get("depth")), "Max Depth", c(lst.get("max_depth"))),
        ("Size", hex_text(lst.get("size")), "Free SLIST", "%s entries (header depth %s)" % (
            c(lst.get("free_entries")), c(lst.get("slist_depth")))),
        ("AllocateMisses", c(lst.get("allocate_misses")), "FreeMisses", c(lst.get("free_misses"))),
        ("TotalAllocates", c(lst.get("total_allocates")), "TotalFrees", c(lst.get("total_frees"))),
        ("Hit Rate", pct(lst.get("hit_rate")), "Hit Rate", pct(lst.get("free_hit_rate"))),
    ]
    out.append(link_table(m, rows, tablefmt="plain"))
    if lst.get("free_list"):
        out.append(m.text("free entries: %s%s" % (" ".join(lst["free_list"]),
                                                   "" if lst.get("free_list_complete") else " (walk stopped)")))
    return out


def allocated_table(allocated, m):
    rows = []
    for n in allocated:
        r = n.memory
        hl = "WDFMEMORY %s" % hexn(n.handle) if n.handle is not None else None
        ol = hexn(n.address)
        rows.append((Link(hl, m.memory_link(hl, n.handle)) if hl else "none",
                     Link(ol, m.object_link(ol, n.header.cls, n.address)), n.header.cls or UNKNOWN,
                     r.get("buffer") or "NULL", hex_text(r.get("length")),
                     hexn(n.header.parent) if n.header.parent else ("NULL" if n.header.parent == 0 else NOT_CAPTURED)))
    return link_table(m, rows, headers=["handle", "object", "class", "buffer", "length", "parent"])
