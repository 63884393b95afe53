"""``descriptor``: decode a WDF_MEMORY_DESCRIPTOR: its type, then the
buffer and length, the MDL chain, or the WDFMEMORY with its
WDFMEMORY_OFFSET checked against the memory's length.

    wdfdbg descriptor SOURCE ADDR [--json]
    !py -m wdfdbg.descriptor ADDR                   (inside WinDbg)
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.decoders.descriptor import decode_descriptor
from wdfdbg.errors import UsageError
from wdfdbg.memory import Link, kv_table, make_node, mdl_table, memory_rows, quiet_drivers, size_text
from wdfdbg.memtree import fix_positionals
from wdfdbg.render import report as rep
from wdfdbg.render import text as txt

NAME = "descriptor"


def make_parser():
    p = command.parser(NAME, "decode a WDF_MEMORY_DESCRIPTOR")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="ADDR", help="address of the WDF_MEMORY_DESCRIPTOR")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    fix_positionals(args)
    if not args.root:
        raise UsageError("wdfdbg %s: a WDF_MEMORY_DESCRIPTOR address is required" % NAME)
    args.address = args.root
    return args


def collect(session, args):
    problems = ProblemLog()
    drivers = quiet_drivers(session)
    addr = command.parse_int(args.root, "ADDR")
    desc, hdr = decode_descriptor(session, addr, problems)
    node = None
    if hdr is not None:
        node = make_node(session, hdr, drivers, handle=int(desc["memory_handle"], 16) if desc.get("memory_handle") else None)
        node.memory = desc.get("memory")
        if node.memory and node.memory.get("mdl"):
            from wdfdbg.decoders.mdl import for_each_mdl
            node.mdls = [i.record for i in for_each_mdl(session, int(node.memory["mdl"], 16), problems)]
    return drivers, desc, node, problems


def render_text(session, desc, node, problems, m):
    out = [txt.source_line(session, m)]
    for n in session.notes:
        out.append(m.text("note: %s" % n))
    out.append("")
    t = desc.get("type") or ("invalid (%s)" % desc.get("type_value"))
    out.append(m.text("WDF_MEMORY_DESCRIPTOR %s  Type %s (%s)" % (desc["address"], desc.get("type_value"), t)))
    rows = []
    if desc.get("type_value") == 1:
        rows += [("Buffer", desc.get("buffer") or "NULL"), ("Length", size_text(desc.get("length")))]
    elif desc.get("type_value") == 2:
        rows += [("Mdl", Link(desc["mdl"], m.mdl_link(desc["mdl"], int(desc["mdl"], 16))) if desc.get("mdl") else "NULL"),
                 ("BufferLength", size_text(desc.get("length")))]
        if desc.get("chain_byte_count") is not None:
            rows.append(("MDL chain bytes", size_text(desc["chain_byte_count"])))
    elif desc.get("type_value") == 3:
        h = desc.get("memory_handle")
        rows.append(("Memory", Link("WDFMEMORY %s" % h, m.memory_link("WDFMEMORY %s" % h, int(h, 16))) if h else "NULL"))
        if desc.get("memory_object"):
            rows.append(("object", desc["memory_object"]))
        off = desc.get("offsets")
        if off:
            rows.append(("Offsets", "%s {BufferOffset %s, BufferLength %s}" % (
                off["address"], size_text(off.get("buffer_offset")), size_text(off.get("buffer_length")))))
        else:
            rows.append(("Offsets", "NULL (the whole buffer)"))
    if desc.get("effective_buffer") or desc.get("effective_length") is not None:
        rows.append(("describes", "%s, %s bytes" % (desc.get("effective_buffer") or "?", size_text(desc.get("effective_length")))))
    if rows:
        out.append(kv_table(rows, m))
    memrec = desc.get("memory")
    if memrec:
        out.append("")
        if node is not None:
            out.append(txt.node_line(node, m).split("\n")[0])
        out.append(kv_table(memory_rows(memrec, m), m))
    mdls = desc.get("mdls") or (node.mdls if node is not None else [])
    if mdls:
        out.append("")
        out.append(m.text("MDLs:"))
        out.append(mdl_table(mdls, m))
    out.append("")
    out.append(txt.problems_table(list(problems), m))
    return "\n".join(out)


def execute(session, args, markup=None):
    drivers, desc, node, problems = collect(session, args)
    nodes = [node] if node is not None else []
    rep.assign_problems(nodes, problems)
    if args.json:
        owner = [d for d in drivers if node is not None and d.globals == node.header.globals]
        doc = rep.build_report(session, owner, nodes, problems, extra={"descriptor": desc}, command=NAME,
                               extra_mdls=len(desc.get("mdls") or []))
        return command.exit_code(problems), rep.dumps(doc)
    m = markup or command.markup_for(args, session)
    return command.exit_code(problems), render_text(session, desc, node, problems, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
