"""``lookaside``: decode one WDFLOOKASIDE: its kind, buffer size, tag and
pool type, the embedded kernel lookaside list(s) as ``!lookaside`` shows
them (depth, totals, misses, hit rates, the free SLIST walked), and the
memory objects currently allocated from it (found across its driver's tree
through ``m_pLookaside``).

    wdfdbg lookaside SOURCE H [--json]
    !py -m wdfdbg.lookaside H                       (inside WinDbg)

H is a WDFLOOKASIDE handle or an FxLookasideList address.
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders import lookaside as las
from wdfdbg.decoders import memory as mem
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.annotate import annotate_memory
from wdfdbg.decoders.handles import decode_handle_or_address
from wdfdbg.errors import LayoutError, ReadError, UsageError
from wdfdbg.memory import Link, check_destroyed, driver_of, kv_table, link_table, make_node, quiet_drivers, size_text
from wdfdbg.memtree import fix_positionals
from wdfdbg.render import report as rep
from wdfdbg.render import text as txt

NAME = "lookaside"


def make_parser():
    p = command.parser(NAME, "decode one WDFLOOKASIDE (handle or FxLookasideList address)")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="H", help="WDFLOOKASIDE handle or FxLookasideList address")
    p.add_argument("--max-objects", type=int, default=fxo.MAX_OBJECTS,
                   help="bound on the tree walk that finds the allocated memory objects")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    fix_positionals(args)
    if not args.root:
        raise UsageError("wdfdbg %s: a WDFLOOKASIDE handle or address is required" % NAME)
    if args.max_objects < 1:
        raise UsageError("--max-objects must be at least 1")
    args.handle = args.root
    return args


def pct(v):
    return "?" if v is None else "%d%%" % int(v * 100)


def find_allocated(session, lookaside, hdr, drivers, problems, max_objects=fxo.MAX_OBJECTS):
    """Memory objects allocated from ``lookaside``: walk its driver's tree
    (the driver of ``m_Globals``; every driver when that is unknown) and keep
    the WDFMEMORY whose ``m_pLookaside`` is the list. Returns ObjectNodes
    (memory decoded) and a note when the walk was incomplete."""
    roots = []
    d = driver_of(drivers, hdr.globals)
    if d is None and hdr.globals:
        try:
            d, _bad = drv.read_driver(session, hdr.globals)
        except (ReadError, LayoutError):
            d = None
    if d is not None and d.driver:
        roots.append(d.driver)
    else:
        roots.extend(x.driver for x in drivers if x.driver)
    walk_log = ProblemLog()
    try:
        la_off = mem.class_layout(session, "FxMemoryBufferFromLookaside").offset("m_pLookaside")
    except LayoutError:
        return [], "no layout for FxMemoryBufferFromLookaside"
    names = drv.driver_names(drivers)
    found = []
    seen = set()
    for root in roots:
        for node in fxo.walk_tree(session, root, walk_log, names, max_objects=max_objects):
            h = node.header
            if h.address in seen or h.fx_type not in mem.MEMORY_TYPES:
                continue
            seen.add(h.address)
            try:
                ptr = session.target.read_pointer(h.address + la_off)
            except ReadError:
                continue
            if ptr != lookaside:
                continue
            if annotate_memory(session, node, problems) and node.memory.get("lookaside") == "0x%x" % lookaside:
                found.append(node)
    note = None
    if not roots:
        note = "the driver tree could not be found: allocated memory objects are not listed"
    elif len(walk_log):
        note = "the tree walk that looks for its memory objects met %d problem(s); the list may be incomplete" % len(walk_log)
    return found, note


def collect(session, args):
    problems = ProblemLog()
    drivers = quiet_drivers(session)
    value = command.parse_int(args.root, "H")
    target = session.target
    dh = decode_handle_or_address(target, value)
    if dh.problem:
        problems.add("BAD_HANDLE", dh.field, dh.problem)
        return drivers, None, [], problems, None
    addr, handle = dh.object, dh.handle
    try:
        hdr = fxo.read_object(session, addr)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "object 0x%x is unreadable" % addr)
        return drivers, None, [], problems, None
    node = make_node(session, hdr, drivers, handle=handle)
    check_destroyed(hdr, value, problems)
    if hdr.fx_type != fxt.FX_TYPE_LOOKASIDE and hdr.cls not in fxt.LOOKASIDE_CLASSES:
        problems.add("BAD_HANDLE", addr, "0x%x names a %s (%s, type 0x%x), not a WDFLOOKASIDE" % (
            value, node.wdf_type or "?", hdr.cls or "FxObject", hdr.fx_type or 0))
        return drivers, node, [], problems, None
    allocated, note = find_allocated(session, addr, hdr, drivers, problems, args.max_objects)
    if hdr.cls is None:
        cls = las.lookaside_shape_class(session, hdr)
        if cls:
            hdr.cls, hdr.cls_source = cls, "shape"
    node.lookaside = las.decode_lookaside(session, hdr, problems,
                                          allocated=[(n.address, n.memory.get("length")) for n in allocated])
    node.lookaside["handle"] = None if node.handle is None else "0x%x" % node.handle
    return drivers, node, allocated, problems, note


def kernel_list_lines(title, lst, m):
    """A kernel lookaside as ``!lookaside`` prints it."""
    if not lst:
        return [m.text("%s: not decoded" % title)]
    addr = int(lst["address"], 16)
    out = [m.text("%s " % title) + m.kernel_lookaside_link("!lookaside %s" % lst["address"], addr)]
    t = lst.get("type")
    rows = [
        ("Type", t if t is not None else "?", "Tag", "'%s'" % lst["tag"] if lst.get("tag") else "?"),
        ("Current Depth", lst.get("depth"), "Max Depth", lst.get("max_depth")),
        ("Size", lst.get("size"), "Free SLIST", "%s entries (header depth %s)" % (
            lst.get("free_entries") if lst.get("free_entries") is not None else "?", lst.get("slist_depth"))),
        ("AllocateMisses", lst.get("allocate_misses"), "FreeMisses", lst.get("free_misses")),
        ("TotalAllocates", lst.get("total_allocates"), "TotalFrees", lst.get("total_frees")),
        ("Hit Rate", pct(lst.get("hit_rate")), "Hit Rate", pct(lst.get("free_hit_rate"))),
    ]
    out.append(link_table(m, rows, tablefmt="plain"))
    if lst.get("free_list"):
        out.append(m.text("free entries: %s%s" % (" ".join(lst["free_list"]),
                                                   "" if lst.get("free_list_complete") else " (walk stopped)")))
    return out


def render_text(session, node, allocated, problems, note, m):
    out = [txt.source_line(session, m)]
    for n in session.notes:
        out.append(m.text("note: %s" % n))
    if node is not None:
        out.append("")
        out.append(txt.node_line(node, m).split("\n")[0])
        la = node.lookaside
        if la:
            h = node.header
            rows = [("class", "%s (from %s)" % (la.get("class") or "?", la.get("class_source") or "?")),
                    ("driver", node.driver or "?"), ("kind", la.get("kind") or "?"),
                    ("buffer size", size_text(la.get("buffer_size"))),
                    ("memory object size", size_text(la.get("memory_object_size"))),
                    ("pool tag", "'%s'" % la["pool_tag"] if la.get("pool_tag") else "?"),
                    ("pool type", la.get("pool_type") if la.get("pool_type") is not None else "?"),
                    ("refcount", h.refcount)]
            if la.get("raw_buffer_size") is not None:
                rows.append(("raw buffer size", size_text(la["raw_buffer_size"])))
            if la.get("memory_device_base"):
                rows.append(("memory device base", la["memory_device_base"]))
            if la.get("outstanding") is not None:
                rows.append(("outstanding (allocates - frees)", la["outstanding"]))
            out.append(kv_table(rows, m))
            out.append("")
            out.extend(kernel_list_lines("m_ObjectLookaside", la.get("list"), m))
            if la.get("pool_list"):
                out.append("")
                out.extend(kernel_list_lines("m_PoolLookaside", la.get("pool_list"), m))
        out.append("")
        if allocated:
            out.append(m.text("Allocated memory objects (%d):" % len(allocated)))
            rows = []
            for n in allocated:
                r = n.memory
                hl = "WDFMEMORY 0x%x" % n.handle if n.handle is not None else None
                ol = "0x%x" % n.address
                rows.append((Link(hl, m.memory_link(hl, n.handle)) if hl else "-",
                             Link(ol, m.object_link(ol, n.header.cls, n.address)), n.header.cls or "?",
                             r.get("buffer") or "NULL", txt.size_str(r.get("length")),
                             "0x%x" % n.header.parent if n.header.parent else "NULL"))
            out.append(link_table(m, rows, headers=["handle", "object", "class", "buffer", "length", "parent"]))
        elif node.lookaside:
            out.append(m.text("No memory objects allocated from it were found."))
        if note:
            out.append(m.text("note: %s" % note))
    out.append("")
    out.append(txt.problems_table(list(problems), m))
    return "\n".join(out)


def execute(session, args, markup=None):
    drivers, node, allocated, problems, note = collect(session, args)
    nodes = ([node] if node is not None else []) + list(allocated)
    rep.assign_problems(nodes, problems)
    if args.json:
        extra = {}
        if note:
            extra["lookaside_note"] = note
        owner = [d for d in drivers if node is not None and d.globals == node.header.globals]
        doc = rep.build_report(session, owner, nodes, problems, extra=extra or None, command=NAME)
        return command.exit_code(problems), rep.dumps(doc)
    m = markup or command.markup_for(args, session)
    return command.exit_code(problems), render_text(session, node, allocated, problems, note, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
