"""Text for the memory views: ``memory`` (one WDFMEMORY or request buffer,
with a ``db``-style preview), ``descriptor`` (a WDF_MEMORY_DESCRIPTOR) and
``mdl`` (an MDL chain, the verifier's AllocatedMdls). They read the records
of :mod:`wdfdbg.analysis.single`; links go through the markup."""

from wdfdbg.analysis.numbers import refuse_negative_hex
from wdfdbg.render import text as txt
from wdfdbg.render.cells import (NOT_CAPTURED, UNKNOWN, Link, hex_text, hexn, kv_table, link_table, ptr_text,
                                 size_text, yes_no)
from wdfdbg.render.hexdump import hexdump_lines
from wdfdbg.render.report import assign_problems


def head_lines(session, m):
    """The source line and the session's notes."""
    out = [txt.source_line(session, m)]
    for note in session.notes:
        out.append(m.text("note: %s" % note))
    return out


def mdl_link(m, address_text):
    return Link(address_text, m.mdl_link(address_text, int(address_text, 16)))


def mdl_table(records, m):
    """A table of MDL records (with links)."""
    if not records:
        return ""
    rows = []
    for r in records:
        rows.append((mdl_link(m, r["address"]), r["next"] or "NULL", hex_text(r["size"]), "|".join(r["flags"]) or "0",
                     hexn(r["flags_value"] or 0), r["process"] or "NULL", r["mapped_system_va"] or "NULL",
                     r["start_va"] or "NULL", hex_text(r["byte_count"]), hex_text(r["byte_offset"]),
                     " ".join(r["pfns"] or []) if r.get("pfns") is not None else NOT_CAPTURED))
    return link_table(m, rows, headers=["MDL", "Next", "Size", "flags", "MdlFlags", "Process", "MappedSystemVa",
                                        "StartVa", "ByteCount", "ByteOffset", "PFNs"])


def memory_rows(rec, m):
    """Key/value rows for a memory record."""
    rows = []
    rows.append(("buffer", txt.buffer_text(rec)))
    if rec.get("alignment"):
        rows.append(("alignment", rec["alignment"]))
    rows.append(("length", size_text(rec.get("length"))))
    rows.append(("origin", rec.get("origin") or UNKNOWN))
    rows.append(("pool tag", pool_tag_text(rec)))
    if rec.get("lookaside"):
        lh = rec.get("lookaside_handle")
        label = "WDFLOOKASIDE %s (object %s%s)" % (lh or UNKNOWN, rec["lookaside"],
                                                    ", %s" % rec["lookaside_kind"] if rec.get("lookaside_kind") else "")
        rows.append(("lookaside", Link(label, m.lookaside_link(label, int(lh, 16))) if lh else label))
    if rec.get("mdl"):
        rows.append(("mdl", mdl_link(m, rec["mdl"])))
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


# where a pool tag came from (decoders/memory.py tag_source), in words
TAG_SOURCES = {"object-allocation": "the pool block holding the object",
               "pool-header": "the pool block holding the buffer", "lookaside": "its lookaside"}


def pool_tag_text(rec):
    """``'MemI' (from ...)``; ``not captured`` when the pool header that
    holds it was not in the dump; ``none`` when the buffer is in no pool
    block (a page-aligned big allocation, an image, a mapped buffer)."""
    tag = rec.get("pool_tag")
    source = rec.get("tag_source")
    if tag:
        return "'%s'%s" % (tag, " (from %s)" % TAG_SOURCES.get(source, source) if source else "")
    if source == NOT_CAPTURED:
        return "not captured (the pool header in front of it is not in the dump)"
    if rec.get("origin") in ("request", "preallocated"):
        return "none (the buffer is not the framework's allocation)"
    return "none (not in a pool block with a header: a page-aligned or image buffer)"


# -- memory ----------------------------------------------------------------------
def render_memory(session, found, m):
    """The text of ``memory`` for :class:`~wdfdbg.analysis.single.MemoryFindings`."""
    assign_problems(found.nodes, found.problems)
    out = head_lines(session, m)
    node, record = found.node, found.record
    if node is not None:
        out.append("")
        if record is not None and record.get("kind") in ("input", "output"):
            out.extend(request_buffer_lines(node, record, m))
        else:
            out.append(txt.node_line(node, m).split("\n")[0])
            if record is not None:
                h = node.header
                rows = [("class", class_text(h)), ("driver", node.driver or UNKNOWN),
                        ("parent", ptr_text(h.parent, NOT_CAPTURED)), ("m_ObjectSize", size_text(h.object_size))]
                rows.extend(memory_rows(record, m))
                out.append(kv_table(rows, m))
        if node.mdls:
            out.append("")
            out.append(m.text("MDLs:"))
            out.append(mdl_table(node.mdls, m))
    if record is not None and found.dump:
        out.append("")
        if found.preview is None:
            out.append(m.text("--dump: the buffer is NULL"))
        else:
            _address, n, chunks = found.preview
            out.append(m.text("db %s L%s" % (record["buffer"], hexn(n))))
            out.extend(m.text(line) for line in hexdump_lines(chunks, session.target.pointer_size))
    out.append("")
    out.append(txt.problems_table(list(found.problems), m))
    return refuse_negative_hex("\n".join(out), exempt=[session.path])


CLASS_SOURCES = {"vtable": "its vtable's symbol", "shape": "the object's shape", "type-code": "m_Type"}


def class_text(h):
    """``FxMemoryBuffer (from its vtable's symbol)``; ``unknown``."""
    if not h.cls:
        return UNKNOWN
    return "%s (from %s)" % (h.cls, CLASS_SOURCES.get(h.cls_source, h.cls_source or UNKNOWN))


def request_buffer_lines(node, record, m):
    """A request's input or output buffer (``FxRequestSystemBuffer`` /
    ``FxRequestOutputBuffer`` embedded in the FxRequest)."""
    h = node.header
    out = [m.text("WDFMEMORY %s: the %s buffer of " % (record["handle"], record["kind"]))
           + m.handle_link("WDFREQUEST %s" % hexn(node.handle), node.handle) + m.text("  ")
           + m.object_link("dt FxRequest %s" % hexn(h.address), "FxRequest", h.address)]
    embedded = "FxRequestSystemBuffer" if record["kind"] == "input" else "FxRequestOutputBuffer"
    rows = [("buffer", txt.buffer_text(record)), ("length", size_text(record.get("length"))),
            ("origin", "request (%s, embedded at %s)" % (embedded, record["address"])),
            ("major function", record.get("major_function") or UNKNOWN)]
    if record.get("io_control_code"):
        rows.append(("IoControlCode", "%s (%s)" % (record["io_control_code"], record.get("method") or UNKNOWN)))
    if record.get("io_type"):
        rows.append(("I/O type", record["io_type"]))
    if record.get("mdl"):
        mdl = mdl_link(m, record["mdl"])
    else:   # without the IRP a NULL buffer pointer does not say whether there is an MDL
        mdl = "NULL" if record.get("major_function") else (NOT_CAPTURED if record.get("not_captured") else UNKNOWN)
    rows.append(("mdl", mdl))
    rows.append(("read-only", yes_no(record.get("read_only"))))
    rows.append(("IRP", record.get("irp") or "NULL"))
    if not record.get("valid", True):
        rows.append(("note", "a %s has no %s buffer" % (record.get("major_function") or "request", record["kind"])))
    out.append(kv_table(rows, m))
    return out


# -- descriptor ------------------------------------------------------------------
def render_descriptor(session, found, m):
    """The text of ``descriptor`` for :class:`~wdfdbg.analysis.single.DescriptorFindings`."""
    assign_problems(found.nodes, found.problems)
    desc, node = found.descriptor, found.node
    out = head_lines(session, m)
    out.append("")
    t = desc.get("type") or ("invalid (%s)" % desc.get("type_value"))
    out.append(m.text("WDF_MEMORY_DESCRIPTOR %s  Type %s (%s)" % (desc["address"], desc.get("type_value"), t)))
    rows = descriptor_rows(desc, m)
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
    out.append(txt.problems_table(list(found.problems), m))
    return refuse_negative_hex("\n".join(out), exempt=[session.path])


def descriptor_rows(desc, m):
    rows = []
    kind = desc.get("type_value")
    if kind == 1:  # WdfMemoryDescriptorTypeBuffer
        rows += [("Buffer", desc.get("buffer") or "NULL"), ("Length", size_text(desc.get("length")))]
    elif kind == 2:  # WdfMemoryDescriptorTypeMdl
        rows += [("Mdl", mdl_link(m, desc["mdl"]) if desc.get("mdl") else "NULL"),
                 ("BufferLength", size_text(desc.get("length")))]
        if desc.get("chain_byte_count") is not None:
            rows.append(("MDL chain bytes", size_text(desc["chain_byte_count"])))
    elif kind == 3:  # WdfMemoryDescriptorTypeHandle
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
        rows.append(("describes", "%s, %s bytes" % (desc.get("effective_buffer") or UNKNOWN,
                                                     size_text(desc.get("effective_length")))))
    return rows


# -- mdl -------------------------------------------------------------------------
def render_mdls(session, found, address_text, allocated, m):
    """The text of ``mdl``: the chain at ``address_text`` (as the user
    typed it; None: no chain asked) and, with ``allocated``, the
    framework's AllocatedMdls."""
    out = head_lines(session, m)
    chain = found.chain
    if address_text:
        out.append("")
        out.append(m.text("MDL chain at %s: %d MDL(s), %s bytes" % (
            address_text, len(chain), hexn(sum((r.get("byte_count") or 0) for r in chain)))))
        if chain:
            out.append(mdl_table(chain, m))
            for r in chain:
                if r.get("pages") is not None and r.get("size") != r.get("expected_size"):
                    out.append(m.text("%s: Size %s, %s page(s) spanned need Size %s" % (
                        r["address"], hex_text(r["size"]), r["pages"], hex_text(r.get("expected_size")))))
    if allocated:
        out.append("")
        drivers = found.drivers
        verifier = [d for d in drivers if d.verifier_on]
        out.append(m.text("Framework-allocated MDLs (verifier on for %d of %d driver(s)):" % (len(verifier), len(drivers))))
        if found.allocated:
            rows = []
            for e in found.allocated:
                r = e.get("record") or {}
                rows.append((e.get("driver") or UNKNOWN, mdl_link(m, e["mdl"]), e.get("owner") or "NULL",
                             e.get("caller_symbol") or e.get("caller") or UNKNOWN, hex_text(r.get("byte_count")),
                             "|".join(r.get("flags") or []) or "0"))
            out.append(link_table(m, rows, headers=["driver", "MDL", "owner", "caller", "ByteCount", "flags"]))
        else:
            out.append(m.text("none"))
    out.append("")
    out.append(txt.problems_table(list(found.problems), m))
    return refuse_negative_hex("\n".join(out), exempt=[session.path])
