"""Fill the memory, lookaside and MDL facts of walked object nodes.

An :class:`Annotator` annotates one node at a time, as a streaming walk
hands them over, and sets for each
:class:`~wdfdbg.decoders.objects.ObjectNode`:

* ``node.contexts`` (with ``contexts=True``): its contexts
  (``decoders.contexts.object_contexts``: only headers whose
  ContextTypeInfo is set, and chained headers not captured);
* ``node.memory`` for a WDFMEMORY (``decoders.memory.decode_memory``);
* ``node.lookaside`` for a WDFLOOKASIDE, with the memory objects seen so far
  whose ``m_pLookaside`` points at it (``allocated``; see below);
* ``node.mdls``: the MDLs the object holds (FxRequestMemory's ``m_Mdl`` chain;
  a request's IRP ``MdlAddress`` chain and its buffers' MDLs), each once;
* ``node.extra["request_buffers"]`` for a WDFREQUEST: its input/output
  buffers reached through offset handles;
* ``node.extra["tracked_mdls"]``: the MDLs the verifier's
  ``DebugExtension->AllocatedMdls`` records for the node as their owner
  (contract mdl records plus ``caller``/``caller_symbol``). A driver's list
  is read (not decoded) when the walk first meets one of its objects; each
  entry's chain is decoded and checked when its owner comes by, and at
  :meth:`Annotator.finish` the entries of owners the walk never met are
  decoded too when the driver's FxDriver was among the nodes (their
  problems count), as a whole-tree walk would.

The lookaside join: a WDFLOOKASIDE may come before or after the memory
objects allocated from it. The annotator keeps the membership (lookaside ->
addresses and lengths of its memory objects, compact arrays) and the buffer
size of every lookaside decoded; a memory object that comes after its
lookaside is checked against that size when it comes (the same
LOOKASIDE_INCONSISTENT problem, at the lookaside), and the lookaside is
marked in :attr:`Annotator.grown`: its record was written with part of the
list, and :meth:`Annotator.allocated` gives the whole of it for a later
record (the analysis's second pass over compact state).

Each object is decoded from the bytes its header read brought (one
``Target.read`` of its struct); problems go to ``problems`` (a ProblemLog)
and never stop the walk.
"""

from array import array

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders import lookaside as las
from wdfdbg.decoders import memory as mem
from wdfdbg.decoders.drivers import read_driver
from wdfdbg.decoders.mdl import decode_tracked_mdl, for_each_mdl, for_each_tracked_mdl
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


def annotate_memory(session, node, problems, probe_buffer=False, lean=False):
    """Set ``node.memory`` (and its MDLs) for a WDFMEMORY; False when the
    node is not one. ``probe_buffer``: see :func:`memory.decode_memory` (off
    in tree walks, on for the single-object commands); ``lean``: leave out
    the object's own facts, which its object record carries."""
    hdr = node.header
    if not mem.is_memory(session, hdr):
        return False
    if hdr.cls is None:
        cls, source = mem.memory_class(session, hdr)
        hdr.cls, hdr.cls_source = cls, source
    node.memory = mem.decode_memory(session, hdr, problems, handle=node.handle, probe_buffer=probe_buffer, lean=lean)
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


class _Members(object):
    """The memory objects allocated from one lookaside: two compact arrays
    (a length is a size_t: unsigned 64-bit; the rare length that does not
    fit, unreadable or negative in a types file that says signed, is kept
    aside by position and counts 0 bytes)."""

    __slots__ = ("addresses", "lengths", "odd")

    def __init__(self):
        self.addresses = array("Q")
        self.lengths = array("Q")
        self.odd = None

    def add(self, address, length):
        if length is None or not 0 <= length < 1 << 64:
            if self.odd is None:
                self.odd = {}
            self.odd[len(self.lengths)] = length
            length = 0
        self.addresses.append(address)
        self.lengths.append(length)

    def pairs(self):
        odd = self.odd or {}
        return [(a, odd.get(i, n)) for i, (a, n) in enumerate(zip(self.addresses, self.lengths))]


class _Tracked(object):
    """A driver's verifier MDL list, read when the walk meets the driver."""

    __slots__ = ("driver", "by_owner", "fxdriver_seen")

    def __init__(self, driver):
        self.driver = driver
        self.by_owner = {}      # owner address -> [entries not decoded yet]
        self.fxdriver_seen = False


class Annotator(object):
    """Annotate nodes one at a time (see the module docstring).

    ``contexts``: read context headers; ``lean``: memory records without
    the object's own facts (object records carry them); ``keep_lookasides``:
    remember the lookaside nodes so that :meth:`finish` can complete their
    ``allocated`` lists in place (for callers that keep every node)."""

    def __init__(self, session, problems, contexts=False, lean=False, keep_lookasides=False):
        self.session = session
        self.problems = problems
        self.contexts = contexts
        self.lean = lean
        self.members = {}        # lookaside address -> _Members
        self.sizes = {}          # lookaside address -> its m_BufferSize, once decoded
        self.grown = set()       # lookasides whose list grew after their record was made
        self._tracked = {}       # globals -> _Tracked or None
        self._live = []          # the _Tracked that are not None
        self._kept = [] if keep_lookasides else None
        from wdfdbg.decoders.contexts import object_contexts
        self._read_contexts = object_contexts

    def node(self, node):
        """Annotate ``node`` (never raises for bad memory)."""
        session = self.session
        hdr = node.header
        if self.contexts:
            node.contexts = self._read_contexts(session, hdr)
        if hdr.globals and hdr.globals not in self._tracked:
            t = self._tracked[hdr.globals] = self._read_tracked(hdr.globals)
            if t is not None:
                self._live.append(t)
        try:
            if hdr.cls in mem.ORIGINS and hdr.fx_type != fxt.FX_TYPE_LOOKASIDE:
                # a memory class already known (the vtable said so): annotate_memory's work, without its checks
                m = node.memory = mem.decode_memory(session, hdr, self.problems, handle=node.handle,
                                                    probe_buffer=False, lean=self.lean)
                if m["mdl"]:
                    node.mdls = _mdl_records(session, int(m["mdl"], 16), self.problems, set())
                if m["lookaside"]:
                    self._member(int(m["lookaside"], 16), node.address, m["length"])
            elif hdr.fx_type == fxt.FX_TYPE_LOOKASIDE or hdr.cls in fxt.LOOKASIDE_CLASSES:
                self._lookaside(node)
            elif annotate_memory(session, node, self.problems, lean=self.lean):
                la = node.memory.get("lookaside")
                if la:
                    self._member(int(la, 16), node.address, node.memory.get("length"))
            else:
                annotate_request(session, node, self.problems)
        except LayoutError as e:
            self.problems.add("UNREADABLE", hdr.address, "object 0x%x cannot be decoded: %s" % (hdr.address, e))
        if self._live:
            self._owner(node)

    def _member(self, lookaside, address, length):
        m = self.members.get(lookaside)
        if m is None:
            m = self.members[lookaside] = _Members()
        m.add(address, length)
        if lookaside in self.sizes:
            self.grown.add(lookaside)
            bs = self.sizes[lookaside]
            las.check_allocated(self.problems, lookaside, bs, address, length)

    def _lookaside(self, node):
        session = self.session
        hdr = node.header
        try:
            if hdr.cls is None:
                cls = las.lookaside_shape_class(session, hdr)
                if cls:
                    hdr.cls, hdr.cls_source = cls, "shape"
            m = self.members.get(hdr.address)
            rec = las.decode_lookaside(session, hdr, self.problems, allocated=m.pairs() if m else [])
            rec["handle"] = None if node.handle is None else "0x%x" % node.handle
            node.lookaside = rec
            if rec.get("list") is not None:  # decoded as far as the allocated check
                self.sizes[hdr.address] = rec.get("buffer_size")
            if self._kept is not None:
                self._kept.append(node)
        except LayoutError as e:
            self.problems.add("UNREADABLE", hdr.address, "WDFLOOKASIDE 0x%x cannot be decoded: %s" % (hdr.address, e))

    def allocated(self, lookaside):
        """The whole ``allocated`` list of a lookaside (sorted hex addresses)."""
        m = self.members.get(lookaside)
        return ["0x%x" % a for a in sorted(m.addresses)] if m else []

    # -- verifier MDL lists ------------------------------------------------
    def _read_tracked(self, globals_addr):
        try:
            d, _bad = read_driver(self.session, globals_addr)
        except (ReadError, LayoutError):
            return None
        if not d.verifier_on or not d.debug_extension:
            return None
        t = _Tracked(d)
        try:
            for e in for_each_tracked_mdl(self.session, d, self.problems):
                owner = int(e["owner"], 16) if e["owner"] else 0
                t.by_owner.setdefault(owner, []).append(e)
        except LayoutError:
            return None
        return t

    def _owner(self, node):
        address = node.address
        for t in self._live:
            if t.driver.driver == address:
                t.fxdriver_seen = True
            entries = t.by_owner.pop(address, None)
            if not entries:
                continue
            tracked = node.extra.setdefault("tracked_mdls", [])
            for e in entries:
                decode_tracked_mdl(self.session, e, self.problems)
                if e.get("record") is None or any(x["address"] == e["mdl"] for x in tracked):
                    continue
                rec = dict(e["record"])
                rec["caller"] = e.get("caller")
                rec["caller_symbol"] = e.get("caller_symbol")
                tracked.append(rec)
            if not tracked:
                del node.extra["tracked_mdls"]

    def finish(self):
        """After the last node: decode the tracked MDLs of owners the walk
        did not meet, for drivers whose FxDriver it met (their problems),
        and complete the kept lookaside nodes' ``allocated`` lists."""
        for t in self._tracked.values():
            if t is None or not t.fxdriver_seen:
                continue
            for owner in list(t.by_owner):
                for e in t.by_owner.pop(owner):
                    decode_tracked_mdl(self.session, e, self.problems)
        if self._kept:
            for node in self._kept:
                if node.address in self.grown:
                    node.lookaside["allocated"] = self.allocated(node.address)


def annotate_nodes(session, nodes, problems, contexts=False):
    """Annotate every node in ``nodes`` (a list kept by the caller; see the
    module docstring): each lookaside ends with its whole ``allocated``
    list."""
    ann = Annotator(session, problems, contexts=contexts, keep_lookasides=True)
    for node in nodes:
        session.target.check_interrupt()
        ann.node(node)
    ann.finish()
    return ann
