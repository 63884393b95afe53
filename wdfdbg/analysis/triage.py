"""Triage rules over a walked tree: what looks wrong beyond broken links.

* LIKELY_LEAK (warning): one parent holds many WDFMEMORY children (the
  classic "allocate per request, parent to the driver, never delete").
* NOT_AN_OBJECT (warning here): a live-tree object in a deleted/destroyed
  state or with a zero or negative reference count.
* BUGCHECK (info): a 0x10D WDF_VIOLATION whose P4 names a driver in the
  report, and for INVALID_HANDLE whether P2 decodes to an object; a P2 that
  does not is BAD_HANDLE as a warning (the driver's bug the bugcheck
  recorded, not a broken structure in the dump).
"""

from wdfdbg.analysis.problems import WARNING
from wdfdbg.decoders.handles import decode_handle
from wdfdbg.errors import ReadError

LEAK_CHILDREN = 1000
DEAD_STATES = (2, 9, 10, 11, 12)  # Disposed, DeletedDisposing, DeletedAndDisposed, DeferedDestroy, Destroyed


def triage(session, drivers, nodes, problems):
    _leaks(nodes, problems)
    _dead_objects(nodes, problems)
    _bugcheck(session, drivers, nodes, problems)


def _leaks(nodes, problems):
    counts = {}
    for n in nodes:
        if n.parent is not None and n.wdf_type == "WDFMEMORY":
            c = counts.setdefault(n.parent, [0, 0])
            c[0] += 1
            c[1] += (n.memory or {}).get("length") or 0
    by_addr = dict((n.address, n) for n in nodes)
    for parent, (count, total) in sorted(counts.items()):
        if count >= LEAK_CHILDREN:
            owner = by_addr.get(parent)
            what = owner.wdf_type if owner is not None else "object"
            problems.add("LIKELY_LEAK", parent, "%s 0x%x holds %d WDFMEMORY children (0x%x bytes): memory parented here is "
                         "freed only when the parent is deleted" % (what, parent, count, total), WARNING)


def _dead_objects(nodes, problems):
    for n in nodes:
        h = n.header
        if h.state in DEAD_STATES:
            problems.add("NOT_AN_OBJECT", h.address, "object 0x%x is still linked in the tree but its state is %d "
                         "(deleted or destroyed)" % (h.address, h.state), WARNING)
        elif h.refcount is not None and h.refcount <= 0:
            problems.add("NOT_AN_OBJECT", h.address, "object 0x%x is linked in the tree with reference count %d" % (h.address, h.refcount), WARNING)


def _bugcheck(session, drivers, nodes, problems):
    bc = session.target.bugcheck()
    if bc is None or bc.code != 0x10D:
        return
    p1, p2, p3, p4 = bc.parameters
    names = dict((d.globals, d.label()) for d in drivers)
    who = names.get(p4)
    if who:
        problems.add("BUGCHECK", p4, "bugcheck 0x10D (WDF_VIOLATION, subcode 0x%x) names driver %s through P4" % (p1, who))
    if p1 == 0x5:
        dh = decode_handle(session.target, p2)
        if dh.problem:
            problems.add("BAD_HANDLE", dh.field, "bugcheck 0x10D/0x5 INVALID_HANDLE: %s" % dh.problem, WARNING)
            return
        known = dict((n.address, n) for n in nodes)
        if dh.object in known:
            n = known[dh.object]
            problems.add("BUGCHECK", dh.object, "bugcheck 0x10D/0x5: handle 0x%x is %s 0x%x (type 0x%x); the DDI asked for type 0x%x"
                         % (p2, n.wdf_type, dh.object, n.header.fx_type or 0, p3))
        else:
            try:
                t = session.target.read_u16(dh.object + session.layouts.get("Wdf01000!FxObject").offset("m_Type"))
                msg = "handle 0x%x decodes to 0x%x (m_Type 0x%x), which is not in the driver's tree" % (p2, dh.object, t)
            except ReadError:
                msg = "handle 0x%x decodes to 0x%x, which is unreadable" % (p2, dh.object)
            problems.add("BAD_HANDLE", dh.object, "bugcheck 0x10D/0x5 INVALID_HANDLE: " + msg, WARNING)
