"""Analyses of one thing the user names: a WDFMEMORY (``memory``), a
WDF_MEMORY_DESCRIPTOR (``descriptor``), an MDL chain or the framework's
verifier MDL list (``mdl``). Each returns one slotted record that the text
and JSON renderers read; none formats text. ``lookaside`` is in
:mod:`wdfdbg.analysis.lookaside_list`.

The driver list is read only for names (:func:`quiet_drivers`): its own
problems are not what these commands report.
"""

from wdfdbg.analysis.numbers import hexn
from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders import memory as mem
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders.annotate import annotate_memory
from wdfdbg.decoders.descriptor import decode_descriptor
from wdfdbg.decoders.mdl import driver_mdls, for_each_mdl
from wdfdbg.errors import LayoutError, ReadError, UsageError
from wdfdbg.problems import ProblemLog, problem_log_for

DESTROYED = 12  # FxObjectStateDestroyed (kmdf.md §2)


# -- shared by the one-object analyses -----------------------------------------
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


def owners(drivers, node):
    """The drivers a one-object report names: the object's own."""
    return [d for d in drivers if node is not None and d.globals == node.header.globals]


def driver_for(session, drivers, globals_address):
    """The driver whose FX_DRIVER_GLOBALS is ``globals_address``: from the
    listed ``drivers``, else read from the globals themselves; None when
    neither can tell."""
    d = driver_of(drivers, globals_address)
    if d is None and globals_address:
        try:
            d, _bad = drv.read_driver(session, globals_address)
        except (ReadError, LayoutError):
            d = None
    return d


def make_node(session, hdr, drivers, handle=None, depth=0):
    """An :class:`~wdfdbg.decoders.objects.ObjectNode` for one object read
    alone (its driver by ``m_Globals``, its handle from its address)."""
    d = driver_for(session, drivers, hdr.globals)
    if handle is None:
        handle = fxo.handle_of(hdr.address, session.target.pointer_size, hdr.object_size)
    return fxo.ObjectNode(hdr, hdr.parent or None, depth, d.name if d else None, handle)


def check_destroyed(hdr, value, problems):
    """A handle naming a destroyed object (m_ObjectState Destroyed, e.g. a
    lookaside entry back on its free list): BAD_HANDLE at the object."""
    if hdr.state != DESTROYED:
        return False
    problems.add("BAD_HANDLE", hdr.address, "%s names a destroyed object %s (m_ObjectState Destroyed, refcount %s): "
                 "it was freed and its memory may be reused" % (hexn(value), hexn(hdr.address), hdr.refcount))
    return True


# -- memory ----------------------------------------------------------------------
class MemoryFindings(object):
    """What ``memory H`` found: the object (``node``, None when H names
    nothing readable), its memory record (``record``: the decoded
    ``FxMemoryObject`` or request buffer; None when it is not a WDFMEMORY),
    the byte count ``--dump`` asked for (``dump``) and the ``db`` preview
    of the buffer (``preview``: ``(address, count, chunks)``; None when
    none was asked or the buffer is NULL), and the problems."""

    __slots__ = ("drivers", "node", "record", "problems", "dump", "preview")

    def __init__(self, drivers, problems, dump):
        self.drivers = drivers
        self.node = None
        self.record = None
        self.problems = problems
        self.dump = dump
        self.preview = None

    @property
    def nodes(self):
        return [self.node] if self.node is not None else []


def analyse_memory(session, value, dump=None):
    """Decode the WDFMEMORY that ``value`` (a handle, a request's offset
    handle or an object address) names; with ``dump`` read the first
    ``dump`` bytes of its buffer (capped by its length)."""
    found = MemoryFindings(quiet_drivers(session), problem_log_for(session), dump)
    _find_memory(session, value, found)
    rec = found.record
    if rec is not None and dump and rec.get("buffer"):
        found.preview = read_preview(session, int(rec["buffer"], 16), rec.get("length"), dump)
    return found


def _find_memory(session, value, found):
    problems = found.problems
    res = mem.resolve_memory(session, value)
    if res.problem:
        problems.add("BAD_HANDLE", res.field, res.problem)
        return
    try:
        hdr = fxo.read_object(session, res.object)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "object %s (from %s) is unreadable" % (hexn(res.object), hexn(value)))
        return
    if not fxo.looks_like_object(session, hdr):
        problems.add("NOT_AN_OBJECT", res.object, "%s does not look like an FxObject (type %s, refcount %s)" % (
            hexn(res.object), hexn(hdr.fx_type or 0), hdr.refcount))
        return
    if res.kind == "request-buffer":
        node = found.node = make_node(session, hdr, found.drivers)
        record = dict(mem.decode_request_buffer(session, hdr.address, res.buffer_kind, problems))
        record.update({"pool_tag": None, "lookaside": None})
        found.record = record
        node.extra["request_buffers"] = mem.request_buffers(session, hdr.address, ProblemLog())
        if record.get("mdl"):
            node.mdls = [i.record for i in for_each_mdl(session, int(record["mdl"], 16), problems)]
        return
    node = found.node = make_node(session, hdr, found.drivers, handle=value if res.handle else None)
    destroyed = check_destroyed(hdr, value, problems)
    if annotate_memory(session, node, problems, probe_buffer=True):
        found.record = node.memory
        return
    stale = mem.memory_shape_class(session, hdr) if destroyed else None
    if stale is not None:
        # a freed object keeps its image (the vptr goes back to a base
        # class): show what is left of it, by shape
        hdr.cls, hdr.cls_source = stale, "shape"
        annotate_memory(session, node, problems, probe_buffer=True)
        found.record = node.memory
        return
    problems.add("BAD_HANDLE", res.object, "%s names a %s (%s), not a WDFMEMORY" % (
        hexn(value), node.wdf_type or "type %s" % hexn(hdr.fx_type or 0), hdr.cls or "FxObject"))


def read_preview(session, address, length, requested):
    """``(address, count, chunks)`` for ``--dump``: the count is capped by
    the buffer's length (when the length is sane)."""
    n = requested if length is None or length > mem.MAX_SANE_LENGTH else min(requested, length)
    return address, n, mem.read_preview(session, address, n)


# -- descriptor ----------------------------------------------------------------
class DescriptorFindings(object):
    """What ``descriptor ADDR`` found: the decoded descriptor record, the
    WDFMEMORY it names (``node``, with its MDL chain) and the problems."""

    __slots__ = ("drivers", "descriptor", "node", "problems")

    def __init__(self, drivers, descriptor, node, problems):
        self.drivers = drivers
        self.descriptor = descriptor
        self.node = node
        self.problems = problems

    @property
    def nodes(self):
        return [self.node] if self.node is not None else []


def analyse_descriptor(session, address):
    problems = problem_log_for(session)
    drivers = quiet_drivers(session)
    desc, hdr = decode_descriptor(session, address, problems)
    node = None
    if hdr is not None:
        node = make_node(session, hdr, drivers, handle=int(desc["memory_handle"], 16) if desc.get("memory_handle") else None)
        node.memory = desc.get("memory")
        if node.memory and node.memory.get("mdl"):
            node.mdls = [i.record for i in for_each_mdl(session, int(node.memory["mdl"], 16), problems)]
    return DescriptorFindings(drivers, desc, node, problems)


# -- mdl -------------------------------------------------------------------------
class MdlFindings(object):
    """What ``mdl`` found: the chain at an address (MDL records), the
    verifier's AllocatedMdls entries (each with its ``driver``), the
    drivers looked at and the problems."""

    __slots__ = ("drivers", "chain", "allocated", "problems")

    def __init__(self):
        self.drivers = []
        self.chain = []
        self.allocated = []
        self.problems = ProblemLog()


def analyse_mdls(session, address=None, allocated=False, driver=None):
    """The MDL chain at ``address`` (when given) and, with ``allocated``,
    the MDLs on ``DebugExtension->AllocatedMdls`` of every driver (or of the
    one named ``driver``)."""
    found = MdlFindings()
    if address is not None:
        found.chain = [i.record for i in for_each_mdl(session, address, found.problems)]
    if allocated:
        drivers = quiet_drivers(session)
        if driver:
            drivers = [d for d in drivers if (d.name or "").lower() == driver.lower()]
            if not drivers:
                raise UsageError("no KMDF driver named '%s'" % driver)
        found.drivers = drivers
        for d in drivers:
            for e in driver_mdls(session, d, found.problems):
                e = dict(e)
                e["driver"] = d.name
                found.allocated.append(e)
    return found
