"""The analysis behind ``lookaside H``: one WDFLOOKASIDE (``FxLookasideList``
and its kernel lookaside lists, decoded by
:func:`wdfdbg.decoders.lookaside.decode_lookaside`) and the memory objects
currently allocated from it, found across its driver's tree through
``FxMemoryBufferFromLookaside.m_pLookaside``.
"""

from wdfdbg.analysis.numbers import hexn
from wdfdbg.analysis.single import check_destroyed, driver_for, make_node, quiet_drivers
from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders import lookaside as las
from wdfdbg.decoders import memory as mem
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.annotate import annotate_memory
from wdfdbg.decoders.handles import decode_handle_or_address
from wdfdbg.errors import LayoutError, ReadError
from wdfdbg.problems import ProblemLog


class LookasideFindings(object):
    """What ``lookaside H`` found: the object (``node``, its ``lookaside``
    record filled when it is one), the memory objects allocated from it
    (``allocated``: ObjectNodes with memory decoded), a ``note`` when that
    search was incomplete, and the problems."""

    __slots__ = ("drivers", "node", "allocated", "problems", "note")

    def __init__(self, drivers, problems):
        self.drivers = drivers
        self.node = None
        self.allocated = []
        self.problems = problems
        self.note = None

    @property
    def nodes(self):
        return ([self.node] if self.node is not None else []) + list(self.allocated)


def analyse_lookaside(session, value, max_objects=fxo.MAX_OBJECTS):
    """Decode the WDFLOOKASIDE that ``value`` (a handle or an
    ``FxLookasideList`` address) names."""
    found = LookasideFindings(quiet_drivers(session), ProblemLog())
    problems = found.problems
    dh = decode_handle_or_address(session.target, value)
    if dh.problem:
        problems.add("BAD_HANDLE", dh.field, dh.problem)
        return found
    addr, handle = dh.object, dh.handle
    try:
        hdr = fxo.read_object(session, addr)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "object %s is unreadable" % hexn(addr))
        return found
    node = found.node = make_node(session, hdr, found.drivers, handle=handle)
    check_destroyed(hdr, value, problems)
    if hdr.fx_type != fxt.FX_TYPE_LOOKASIDE and hdr.cls not in fxt.LOOKASIDE_CLASSES:
        problems.add("BAD_HANDLE", addr, "%s names a %s (%s, type %s), not a WDFLOOKASIDE" % (
            hexn(value), node.wdf_type or "?", hdr.cls or "FxObject", hexn(hdr.fx_type or 0)))
        return found
    found.allocated, found.note = find_allocated(session, addr, hdr, found.drivers, problems, max_objects)
    if hdr.cls is None:
        cls = las.lookaside_shape_class(session, hdr)
        if cls:
            hdr.cls, hdr.cls_source = cls, "shape"
    node.lookaside = las.decode_lookaside(session, hdr, problems,
                                          allocated=[(n.address, n.memory.get("length")) for n in found.allocated])
    node.lookaside["handle"] = None if node.handle is None else hexn(node.handle)
    return found


def find_allocated(session, lookaside, hdr, drivers, problems, max_objects=fxo.MAX_OBJECTS):
    """Memory objects allocated from ``lookaside``: walk its driver's tree
    (the driver of ``m_Globals``; every driver when that is unknown) and keep
    the WDFMEMORY whose ``m_pLookaside`` is the list. Returns ObjectNodes
    (memory decoded) and a note when the walk was incomplete."""
    roots = []
    d = driver_for(session, drivers, hdr.globals)
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
            if annotate_memory(session, node, problems) and node.memory.get("lookaside") == hexn(lookaside):
                found.append(node)
    note = None
    if not roots:
        note = "the driver tree could not be found: allocated memory objects are not listed"
    elif len(walk_log):
        note = "the tree walk that looks for its memory objects met %d problem(s); the list may be incomplete" % len(walk_log)
    return found, note
