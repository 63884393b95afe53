"""Text rendering: the object tree in the style of ``!wdfhandle H 0x10``,
tabulate summaries, and problem lists. Links go through a markup object
(plain or DML), never hand-built."""

from tabulate import tabulate

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.bugcheck import code_text
from wdfdbg.decoders.contexts import context_text
from wdfdbg.render.cells import NOT_CAPTURED, UNKNOWN, hex_text, ptr_text, tag_text
from wdfdbg.render.markup import PLAIN

INDENT = "    "

# Where a source comes from, in words (session.source_kind, session.origin)
SOURCE_KINDS = {
    "minidump": "a triage dump",
    "kernel-dump": "a kernel memory dump",
}
SNAPSHOT_ORIGINS = {
    "synthetic": "a synthetic snapshot",
    "converted": "a snapshot cut from a dump",
    "recorded": "a snapshot recorded from a debugger session",
}
TYPES_TEXT = {"symbols": "types from symbols", "profile": "types from the built-in profile %s",
              "mixed": "types from symbols and the built-in profile %s"}


def hx(v):
    """A pointer or handle: ``0x...``, ``NULL`` for 0, ``unknown`` for None."""
    return ptr_text(v)


def size_str(n):
    return hex_text(n)


def source_what(session):
    """What kind of source this is, in words."""
    kind, origin = session.source_kind, session.origin
    if kind == "pykd":
        return "a dump open in the debugger" if origin == "dump" else "a live debugger session"
    if kind == "snapshot":
        return SNAPSHOT_ORIGINS.get(origin, "a snapshot")
    return SOURCE_KINDS.get(kind, "a %s source" % kind)


def source_where(session):
    """The source's path, or what the debugger holds when there is none."""
    if session.path:
        return session.path
    return "the dump open in the debugger" if session.origin == "dump" else "the live target"


def source_line(session, m=PLAIN):
    t = session.target
    desc = session.layouts.describe()
    types = TYPES_TEXT.get(desc["types"], "types: %s" % desc["types"])
    if "%s" in types:
        types %= desc.get("profile") or "unknown"
    if desc.get("profile_note"):
        types += " (%s)" % desc["profile_note"]
    build = "build %d" % t.os_build if t.os_build is not None else "build unknown"
    return m.text("source: %s: %s, %s, %s; %s" % (source_where(session), source_what(session), t.arch, build, types))


def bugcheck_lines(bc, m=PLAIN):
    if not bc:
        return []
    name = bc.get("name") or ""
    head = "Bugcheck %s %s" % (code_text(bc["code"]), name)
    lines = [m.text("%s (%s)" % (head.rstrip(), ", ".join(bc["parameters"])))]
    dec = bc.get("decoded") or {}
    for k in sorted(dec):
        v = dec[k]
        if isinstance(v, dict):
            v = ", ".join("%s %s" % (a, b) for a, b in sorted(v.items()))
        lines.append(m.text("    %s: %s" % (k, v if v is not None else UNKNOWN)))
    return lines


def lock_text(lock):
    """A lock record's JSON (``decoders/locks.LockRecord.to_json``) as one
    phrase: ``held by thread 0x... (the crashing thread)``, ``free``."""
    state = lock.get("state")
    if state in (NOT_CAPTURED, UNKNOWN):
        return "lock state %s" % state
    if state != "held":
        return "free"
    owner = lock.get("owner")
    if owner == UNKNOWN:
        return "held (a spin lock does not record its owner)"
    if owner == NOT_CAPTURED:
        return "held, owner not captured"
    if not owner:
        return "held, no owner recorded"
    who = "held by thread %s" % owner
    if lock.get("owner_is_crashing_thread"):
        who += " (the crashing thread)"
    return who


def dma_text(check):
    """A DMA alignment check's JSON (``decoders/alignment.AlignmentCheck``)."""
    buf = check.get("buffer")
    if buf == NOT_CAPTURED:
        return "DMA buffer not captured"
    text = "DMA buffer %s aligned %s" % (ptr_text(buf), hex_text(check.get("alignment")))
    if check.get("required"):
        text += ", the device requires %s: %s" % (check["required"], {True: "met", False: "MISALIGNED"}.get(
            check.get("ok"), "not compared"))
    return text


def parent_note(node):
    """``(parent 0x... not captured)`` for an object found by a scan whose
    parent the dump did not hold (an orphan), else None."""
    scan = node.extras().get("scan")
    if not scan or scan.get("parent_captured") is not False:
        return None
    if node.parent:
        return "(parent 0x%x not captured)" % node.parent
    return "(m_ParentObject not captured)"


def pool_proof_note(node):
    """How an object saved only up to m_Globals was proven, and what of its
    header the dump did not hold; None for other objects."""
    scan = node.extras().get("scan") or {}
    proof = scan.get("proven_by_pool_header")
    if not proof:
        return None
    check = proof.get("driver_tag") or ""
    tag = "pool tag '%s'%s" % (proof.get("pool_tag"), (" = " + check) if not check.startswith("not captured") else
                                 ", the driver's tag not captured")
    short = [m for m in ("m_ObjectFlags", "m_ObjectState") if m in (scan.get("not_captured") or ())]
    text = "proven by its FX_POOL_HEADER at %s (%s)" % (proof.get("fx_pool_header"), tag)
    if short:
        text += "; flags and state not captured" if len(short) == 2 else "; %s not captured" % short[0]
    return text


def buffer_text(rec):
    """A memory or request-buffer record's buffer: ``0x...``, ``NULL``, or
    ``not captured`` when the pointer's bytes were not saved."""
    if rec.get("buffer") is None and "buffer" in (rec.get("not_captured") or ()):
        return NOT_CAPTURED
    return ptr_text(rec.get("buffer"), "NULL")


def memory_facts(mem):
    """A memory record in a few words: buffer, length, origin, pool tag."""
    out = ["buffer %s length %s %s" % (buffer_text(mem), hex_text(mem.get("length")),
                                       mem.get("origin") or "origin unknown")]
    if mem.get("pool_tag"):
        out.append("tag '%s'" % mem["pool_tag"])
    elif mem.get("tag_source") == NOT_CAPTURED:
        out.append("pool tag not captured")
    if mem.get("read_only"):
        out.append("read-only")
    return out


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
    orphan = parent_note(node)
    if orphan:
        facts.append(orphan)
    if h.cls_source == "shape":
        facts.append("class by shape")
    if h.state not in (None, 1):
        facts.append("state %s" % fxt.state_name(h.state))
    proof = pool_proof_note(node)
    if proof:
        facts.append(proof)
    mem = node.memory
    if mem:
        facts.extend(memory_facts(mem))
    la = node.lookaside
    if la:
        lst = la.get("list") or {}
        facts.append("%s buffer %s tag %s depth %s/%s free %s" % (
            la.get("kind") or "kind unknown", hex_text(la.get("buffer_size")), tag_text(la.get("pool_tag"), UNKNOWN),
            _count(lst.get("depth")), _count(lst.get("max_depth")), _count(lst.get("free_entries"))))
    extras = node.extras()
    lock = extras.get("lock")
    if lock:
        facts.append(lock_text(lock))
    dma = extras.get("dma_alignment")
    if dma:
        facts.append(dma_text(dma))
    line = INDENT * node.depth + "  ".join(parts)
    if facts:
        line += "  " + m.text("; ".join(facts))
    for c in node.contexts:
        text = context_text(c)
        if c.captured and isinstance(c.name, str) and isinstance(c.context, int) and node.driver:
            # like !wdfhandle's "dt <ctx> NAME": the type lives in the client driver's image
            label = "context %s 0x%x" % (c.name, c.context)
            line += "  " + m.link(label, "dt %s!%s 0x%x" % (node.driver, c.name, c.context)) + m.text(
                text[len(label):])
        else:
            line += "  " + m.text(text)
    extra = []
    for rb in extras.get("request_buffers") or []:
        handle = int(rb["handle"], 16) if rb.get("handle") else None
        label = "%s WDFMEMORY %s" % (rb.get("kind") or "buffer", rb.get("handle") or UNKNOWN)
        head = m.memory_link(label, handle) if handle is not None else m.text(label)
        bits = ["buffer %s" % buffer_text(rb), "length %s" % hex_text(rb.get("length"))]
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
                     + m.text("  ByteCount %s flags %s" % (hex_text(md.get("byte_count")),
                                                           "|".join(md.get("flags") or []) or "0")))
    for p in node.problems:
        at = " 0x%x" % p.address if p.address is not None else ""
        extra.append(INDENT * (node.depth + 1) + m.text("!! %s%s: %s" % (p.code, at, p.message)))
    return "\n".join([line] + extra)


def _count(n):
    return UNKNOWN if n is None else "%d" % n


def driver_header(d, m=PLAIN):
    """``Driver NAME  tag 'TAG'  globals 0x...  FxDriver 0x...``; a field of
    FX_DRIVER_GLOBALS that was not read says ``not captured``."""
    return m.text("Driver %s  tag %s  globals %s  FxDriver %s%s" % (
        d.label(), tag_text(d.tag), hx(d.globals), ptr_text(d.driver, NOT_CAPTURED),
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
            o = n.memory.get("origin") or UNKNOWN
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
            # sizes in hex, as on the tree lines
            rows = [(o, c, "0x%x" % b) for o, c, b in rows]
            out.append(tabulate(rows, headers=["memory origin", "objects", "bytes"], colalign=("left", "right", "right")))
        return m.text("\n\n".join(out))


def problems_table(problems, m=PLAIN):
    if not problems:
        return m.text("No problems found.")
    # a problem about no one address (a driver list that cannot be read): "none"
    rows = [(p.severity, p.code, "0x%x" % p.address if p.address is not None else "none", p.message) for p in problems]
    return m.text("Problems:\n" + tabulate(rows, headers=["severity", "code", "address", "message"]))
