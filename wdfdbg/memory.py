"""``memory``: decode one WDFMEMORY: its class, buffer, length, origin, pool
tag, lookaside, MDL and read-only flag; with ``--dump N`` the first N bytes
of its buffer as WinDbg's ``db`` shows them.

    wdfdbg memory SOURCE H [--dump N] [--json]
    !py -m wdfdbg.memory H [--dump N]               (inside WinDbg)

H is a WDFMEMORY handle, an offset handle of a request's input/output
buffer (``WdfRequestRetrieveInputMemory``), or an FxObject address.
"""

import sys

from tabulate import tabulate

from wdfdbg import command
from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders import memory as mem
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders.annotate import annotate_memory
from wdfdbg.decoders.mdl import for_each_mdl
from wdfdbg.errors import LayoutError, ReadError, UsageError
from wdfdbg.memtree import fix_positionals
from wdfdbg.render import report as rep
from wdfdbg.render import text as txt
from wdfdbg.render.hexdump import hexdump_lines

NAME = "memory"
MAX_DUMP = 1 << 20
DESTROYED = 12  # FxObjectStateDestroyed


def make_parser():
    p = command.parser(NAME, "decode one WDFMEMORY (handle, request-buffer offset handle or object address)")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="H", help="WDFMEMORY handle or object address")
    p.add_argument("--dump", type=int, default=None, metavar="N", help="hex dump of the first N bytes of the buffer")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    fix_positionals(args)
    if not args.root:
        raise UsageError("wdfdbg %s: a WDFMEMORY handle or address is required" % NAME)
    args.handle = args.root
    if args.dump is not None and (args.dump < 0 or args.dump > MAX_DUMP):
        raise UsageError("--dump must be between 0 and %d" % MAX_DUMP)
    return args


# -- shared with the other memory commands ------------------------------------
def quiet_drivers(session):
    """The driver list for names, without reporting its own problems (the
    subject of these commands is one object, not the driver list)."""
    try:
        return list(drv.for_each_driver(session, ProblemLog()))
    except (ReadError, LayoutError):
        return []


def driver_of(drivers, globals_addr):
    for d in drivers:
        if d.globals == globals_addr:
            return d
    return None


def make_node(session, hdr, drivers, handle=None, depth=0):
    d = driver_of(drivers, hdr.globals)
    if d is None and hdr.globals:
        try:
            d, _bad = drv.read_driver(session, hdr.globals)
        except (ReadError, LayoutError):
            d = None
    if handle is None:
        handle = fxo.handle_of(hdr.address, session.target.pointer_size, hdr.object_size)
    return fxo.ObjectNode(hdr, hdr.parent or None, depth, d.name if d else None, handle)


def size_text(n):
    if n is None:
        return "?"
    return "0x%x (%d)" % (n, n)


def yes_no(v):
    if v is None:
        return "?"
    return "yes" if v else "no"


class Link(object):
    """A table cell that is a link: the table is laid out on ``label``
    (what the reader sees) and the cell is then replaced by ``rendered``
    (the markup's link: DML tags must not count in column widths)."""

    __slots__ = ("label", "rendered")

    def __init__(self, label, rendered):
        self.label = label
        self.rendered = rendered


def _placeholder(i, n):
    cp = 0xE000 + i if i < 0x1900 else 0xF0000 + (i - 0x1900)
    return chr(cp) * max(1, n)


def link_table(m, rows, headers=None, tablefmt="simple"):
    """tabulate with :class:`Link` cells, escaped for the markup."""
    subst = []
    prepared = []
    for row in rows:
        cells = []
        for c in row:
            if isinstance(c, Link):
                ph = _placeholder(len(subst), len(c.label))
                subst.append((ph, c.rendered))
                cells.append(ph)
            else:
                cells.append(c)
        prepared.append(cells)
    if headers:
        text = tabulate(prepared, headers=list(headers), tablefmt=tablefmt)
    else:
        text = tabulate(prepared, tablefmt=tablefmt)
    text = m.text(text)
    for ph, rendered in subst:
        text = text.replace(ph, rendered)
    return text


def kv_table(rows, m=None):
    from wdfdbg.render.markup import PLAIN
    return link_table(m or PLAIN, [(k, v) for k, v in rows], tablefmt="plain")


def mdl_table(records, m):
    """A table of MDL records (with links)."""
    if not records:
        return ""
    rows = []
    for r in records:
        addr = int(r["address"], 16)
        rows.append((Link(r["address"], m.mdl_link(r["address"], addr)), r["next"] or "NULL", r["size"], "|".join(r["flags"]) or "0",
                     "0x%x" % (r["flags_value"] or 0), r["process"] or "NULL", r["mapped_system_va"] or "NULL",
                     r["start_va"] or "NULL", txt.size_str(r["byte_count"]), txt.size_str(r["byte_offset"]),
                     " ".join(r["pfns"] or []) if r.get("pfns") is not None else "?"))
    return link_table(m, rows, headers=["MDL", "Next", "Size", "flags", "MdlFlags", "Process", "MappedSystemVa",
                                        "StartVa", "ByteCount", "ByteOffset", "PFNs"])


def memory_rows(rec, m):
    """Key/value rows for a memory record."""
    rows = []
    rows.append(("buffer", rec.get("buffer") or "NULL"))
    rows.append(("length", size_text(rec.get("length"))))
    rows.append(("origin", rec.get("origin") or "?"))
    tag = rec.get("pool_tag")
    rows.append(("pool tag", ("'%s'" % tag) if tag else "none"))
    if rec.get("tag_source"):
        rows[-1] = (rows[-1][0], "%s (from %s)" % (rows[-1][1], rec["tag_source"]))
    if rec.get("lookaside"):
        lh = rec.get("lookaside_handle")
        label = "WDFLOOKASIDE %s (object %s%s)" % (lh or "?", rec["lookaside"],
                                                    ", %s" % rec["lookaside_kind"] if rec.get("lookaside_kind") else "")
        rows.append(("lookaside", Link(label, m.lookaside_link(label, int(lh, 16))) if lh else label))
    if rec.get("mdl"):
        rows.append(("mdl", Link(rec["mdl"], m.mdl_link(rec["mdl"], int(rec["mdl"], 16)))))
    elif rec.get("origin") == "request":
        rows.append(("mdl", "NULL"))
    rows.append(("read-only", yes_no(rec.get("read_only"))))
    if rec.get("paged"):
        rows.append(("paged", "yes"))
    if rec.get("request"):
        rows.append(("request", rec["request"]))
    if rec.get("buffer_capacity") is not None:
        rows.append(("capacity", size_text(rec["buffer_capacity"])))
    return rows


def dump_lines(session, address, length, requested):
    """``db``-style lines for ``--dump``; the count is capped by the length."""
    n = requested if length is None or length > mem.MAX_SANE_LENGTH else min(requested, length)
    chunks = mem.read_preview(session, address, n)
    return n, chunks, hexdump_lines(chunks, session.target.pointer_size)


def dump_json(address, n, chunks):
    data = []
    readable = True
    for _a, size, b in chunks:
        if b is None:
            readable = False
            data.extend([None] * size)
        else:
            data.extend(bytearray(b))
    hexes = "".join("%02x" % b if b is not None else "??" for b in data)
    return {"address": "0x%x" % address, "length": n, "hex": hexes, "readable": readable}


def render_problems(problems, m):
    return txt.problems_table(list(problems), m)


# -- the command -------------------------------------------------------------
def collect(session, args):
    """(drivers, node or None, record or None, problems, extra)."""
    problems = ProblemLog()
    drivers = quiet_drivers(session)
    value = command.parse_int(args.root, "H")
    res = mem.resolve_memory(session, value)
    extra = {}
    if res.problem:
        problems.add("BAD_HANDLE", res.field, res.problem)
        return drivers, None, None, problems, extra
    try:
        hdr = fxo.read_object(session, res.object)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "object 0x%x (from 0x%x) is unreadable" % (res.object, value))
        return drivers, None, None, problems, extra
    if not fxo.looks_like_object(session, hdr):
        problems.add("NOT_AN_OBJECT", res.object, "0x%x does not look like an FxObject (type 0x%x, refcount %s)" % (
            res.object, hdr.fx_type or 0, hdr.refcount))
        return drivers, None, None, problems, extra
    if res.kind == "request-buffer":
        node = make_node(session, hdr, drivers)
        record = mem.decode_request_buffer(session, hdr.address, res.buffer_kind, problems)
        record = dict(record)
        record.update({"pool_tag": None, "lookaside": None})
        node.extra["request_buffers"] = mem.request_buffers(session, hdr.address, ProblemLog())
        if record.get("mdl"):
            node.mdls = [i.record for i in for_each_mdl(session, int(record["mdl"], 16), problems)]
        return drivers, node, record, problems, extra
    node = make_node(session, hdr, drivers, handle=value if res.handle else None)
    destroyed = check_destroyed(hdr, value, problems)
    if not annotate_memory(session, node, problems, probe_buffer=True):
        stale = mem.memory_shape_class(session, hdr) if destroyed else None
        if stale is not None:
            # a freed object keeps its image (the vptr goes back to a base
            # class): show what is left of it, by shape
            hdr.cls, hdr.cls_source = stale, "shape"
            annotate_memory(session, node, problems, probe_buffer=True)
            return drivers, node, node.memory, problems, extra
        problems.add("BAD_HANDLE", res.object, "0x%x names a %s (%s), not a WDFMEMORY" % (
            value, node.wdf_type or "type 0x%x" % (hdr.fx_type or 0), hdr.cls or "FxObject"))
        return drivers, node, None, problems, extra
    return drivers, node, node.memory, problems, extra


def check_destroyed(hdr, value, problems):
    """A handle naming a destroyed object (m_ObjectState Destroyed, e.g. a
    lookaside entry back on its free list): BAD_HANDLE at the object."""
    if hdr.state != DESTROYED:
        return False
    problems.add("BAD_HANDLE", hdr.address, "0x%x names a destroyed object 0x%x (m_ObjectState Destroyed, refcount %s): "
                 "it was freed and its memory may be reused" % (value, hdr.address, hdr.refcount))
    return True


def render_text(session, args, drivers, node, record, problems, m):
    out = [txt.source_line(session, m)]
    for note in session.notes:
        out.append(m.text("note: %s" % note))
    if node is not None:
        h = node.header
        out.append("")
        if record is not None and record.get("kind") in ("input", "output"):
            out.append(m.text("WDFMEMORY %s: the %s buffer of " % (record["handle"], record["kind"]))
                       + m.handle_link("WDFREQUEST 0x%x" % node.handle, node.handle) + m.text("  ")
                       + m.object_link("dt FxRequest 0x%x" % h.address, "FxRequest", h.address))
            rows = [("buffer", record.get("buffer") or "NULL"), ("length", size_text(record.get("length"))),
                    ("origin", "request (%s, embedded at %s)" % ("FxRequestSystemBuffer" if record["kind"] == "input" else "FxRequestOutputBuffer", record["address"])),
                    ("major function", record.get("major_function") or "?")]
            if record.get("io_control_code"):
                rows.append(("IoControlCode", "%s (%s)" % (record["io_control_code"], record.get("method") or "?")))
            if record.get("io_type"):
                rows.append(("I/O type", record["io_type"]))
            rows.append(("mdl", Link(record["mdl"], m.mdl_link(record["mdl"], int(record["mdl"], 16))) if record.get("mdl") else "NULL"))
            rows.append(("read-only", yes_no(record.get("read_only"))))
            rows.append(("IRP", record.get("irp") or "NULL"))
            if not record.get("valid", True):
                rows.append(("note", "a %s has no %s buffer" % (record.get("major_function") or "request", record["kind"])))
            out.append(kv_table(rows, m))
        else:
            out.append(txt.node_line(node, m).split("\n")[0])
            if record is not None:
                rows = [("class", "%s (from %s)" % (h.cls or "?", h.cls_source or "?")),
                        ("driver", node.driver or "?"), ("parent", "0x%x" % h.parent if h.parent else "NULL"),
                        ("m_ObjectSize", size_text(h.object_size))]
                rows.extend(memory_rows(record, m))
                out.append(kv_table(rows, m))
        if node.mdls:
            out.append("")
            out.append(m.text("MDLs:"))
            out.append(mdl_table(node.mdls, m))
    if record is not None and args.dump:
        buf = record.get("buffer")
        out.append("")
        if not buf:
            out.append(m.text("--dump: the buffer is NULL"))
        else:
            n, _chunks, lines = dump_lines(session, int(buf, 16), record.get("length"), args.dump)
            out.append(m.text("db %s L0x%x" % (buf, n)))
            out.extend(m.text(line) for line in lines)
    out.append("")
    out.append(render_problems(problems, m))
    return "\n".join(out)


def execute(session, args, markup=None):
    drivers, node, record, problems, extra = collect(session, args)
    nodes = [node] if node is not None else []
    rep.assign_problems(nodes, problems)
    if args.json:
        extra = dict(extra)
        extra["memory"] = record
        if record is not None and args.dump and record.get("buffer"):
            n, chunks, _lines = dump_lines(session, int(record["buffer"], 16), record.get("length"), args.dump)
            extra["dump"] = dump_json(int(record["buffer"], 16), n, chunks)
        owner = [d for d in drivers if node is not None and d.globals == node.header.globals]
        doc = rep.build_report(session, owner, nodes, problems, extra=extra, command=NAME)
        return command.exit_code(problems), rep.dumps(doc)
    m = markup or command.markup_for(args, session)
    return command.exit_code(problems), render_text(session, args, drivers, node, record, problems, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
