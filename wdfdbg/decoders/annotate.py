"""Fill the memory, lookaside and MDL facts of walked object nodes.

:func:`annotate_nodes` sets, for each :class:`~wdfdbg.decoders.objects.ObjectNode`:

* ``node.memory`` for a WDFMEMORY (``decoders.memory.decode_memory``);
* ``node.lookaside`` for a WDFLOOKASIDE, with the memory objects found in
  ``nodes`` whose ``m_pLookaside`` points at it (``allocated``);
* ``node.mdls``: the MDLs the object holds (FxRequestMemory's ``m_Mdl`` chain;
  a request's IRP ``MdlAddress`` chain and its buffers' MDLs), each once;
* ``node.extra["request_buffers"]`` for a WDFREQUEST: its input/output
  buffers reached through offset handles;
* ``node.extra["tracked_mdls"]``: the MDLs the verifier's
  ``DebugExtension->AllocatedMdls`` records for the node as their owner
  (contract mdl records plus ``caller``/``caller_symbol``). Each tracked
  chain is decoded and checked (all of a driver's tracked MDLs when its
  FxDriver is among the nodes, else those whose owner is).

Each object is decoded with one read of its whole struct; problems go to
``problems`` (a ProblemLog) and never stop the walk.
"""

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders import lookaside as las
from wdfdbg.decoders import memory as mem
from wdfdbg.decoders.drivers import read_driver
from wdfdbg.decoders.mdl import driver_mdls, for_each_mdl
from wdfdbg.errors import LayoutError, ReadError


def _mdl_records(session, address, problems, seen):
    out = []
    if not address:
        return out
    for info in for_each_mdl(session, address, problems):
        if info.address in seen:
            break
        seen.add(info.address)
        out.append(info.record)
    return out


def annotate_memory(session, node, problems, probe_buffer=False):
    """Set ``node.memory`` (and its MDLs) for a WDFMEMORY; False when the
    node is not one. ``probe_buffer``: see :func:`memory.decode_memory` (off
    in tree walks, on for the single-object commands)."""
    hdr = node.header
    if not mem.is_memory(session, hdr):
        return False
    if hdr.cls is None:
        cls, source = mem.memory_class(session, hdr)
        hdr.cls, hdr.cls_source = cls, source
    node.memory = mem.decode_memory(session, hdr, problems, handle=node.handle, probe_buffer=probe_buffer)
    if node.memory.get("mdl"):
        node.mdls = _mdl_records(session, int(node.memory["mdl"], 16), problems, set())
    return True


def annotate_request(session, node, problems):
    hdr = node.header
    if hdr.fx_type != fxt.FX_TYPE_REQUEST:
        return
    try:
        bufs = mem.request_buffers(session, hdr.address, problems)
    except LayoutError:
        return
    node.extra["request_buffers"] = bufs
    seen = set(int(m["address"], 16) for m in node.mdls)
    irp_mdl = None
    try:
        ctx = mem.read_irp_context(session, hdr.address, _Quiet())
        irp_mdl = ctx.get("mdl_address")
    except (LayoutError, ReadError):
        irp_mdl = None
    mdls = list(node.mdls)
    if irp_mdl:
        mdls.extend(_mdl_records(session, irp_mdl, problems, seen))
    for b in bufs:
        if b.get("mdl"):
            mdls.extend(_mdl_records(session, int(b["mdl"], 16), problems, seen))
    node.mdls = mdls


class _Quiet(object):
    """A problem sink for a second read of what was already reported."""

    def add(self, *a, **k):
        return None


def annotate_nodes(session, nodes, problems):
    """Annotate every node in ``nodes`` (see the module docstring)."""
    lookaside_nodes = []
    by_lookaside = {}
    for node in nodes:
        session.target.check_interrupt()
        hdr = node.header
        try:
            if hdr.fx_type == fxt.FX_TYPE_LOOKASIDE or hdr.cls in fxt.LOOKASIDE_CLASSES:
                lookaside_nodes.append(node)
                continue
            if annotate_memory(session, node, problems):
                la = node.memory.get("lookaside")
                if la:
                    by_lookaside.setdefault(int(la, 16), []).append((node.address, node.memory.get("length")))
                continue
            annotate_request(session, node, problems)
        except LayoutError as e:
            problems.add("UNREADABLE", hdr.address, "object 0x%x cannot be decoded: %s" % (hdr.address, e))
    annotate_allocated_mdls(session, nodes, problems)
    for node in lookaside_nodes:
        hdr = node.header
        try:
            if hdr.cls is None:
                cls = las.lookaside_shape_class(session, hdr)
                if cls:
                    hdr.cls, hdr.cls_source = cls, "shape"
            rec = las.decode_lookaside(session, hdr, problems, allocated=by_lookaside.get(hdr.address, []))
            rec["handle"] = None if node.handle is None else "0x%x" % node.handle
            node.lookaside = rec
        except LayoutError as e:
            problems.add("UNREADABLE", hdr.address, "WDFLOOKASIDE 0x%x cannot be decoded: %s" % (hdr.address, e))


def annotate_allocated_mdls(session, nodes, problems):
    """Decode the verifier's AllocatedMdls of the nodes' drivers (problems
    recorded) and list each tracked MDL at its owner node."""
    by_addr = dict((n.address, n) for n in nodes)
    globals_seen = []
    for n in nodes:
        g = n.header.globals
        if g and g not in globals_seen:
            globals_seen.append(g)
    for g in globals_seen:
        try:
            d, _bad = read_driver(session, g)
        except (ReadError, LayoutError):
            continue
        if not d.verifier_on or not d.debug_extension:
            continue
        owners = None if (d.driver and d.driver in by_addr) else set(by_addr)
        try:
            entries = driver_mdls(session, d, problems, owners=owners)
        except LayoutError:
            continue
        for e in entries:
            owner = by_addr.get(int(e["owner"], 16)) if e.get("owner") else None
            if owner is None or e.get("record") is None:
                continue
            tracked = owner.extra.setdefault("tracked_mdls", [])
            if any(t["address"] == e["mdl"] for t in tracked):
                continue
            rec = dict(e["record"])
            rec["caller"] = e.get("caller")
            rec["caller_symbol"] = e.get("caller_symbol")
            tracked.append(rec)
