"""Triage rules over a walked tree: what looks wrong beyond broken links.

* LIKELY_LEAK (warning): one parent holds many WDFMEMORY children (the
  classic "allocate per request, parent to the driver, never delete").
* NOT_AN_OBJECT (warning here): a live-tree object in a deleted/destroyed
  state or with a zero or negative reference count.
* BUGCHECK (info): a 0x10D WDF_VIOLATION whose P4 names a driver in the
  report, and for INVALID_HANDLE whether P2 decodes to an object; a P2 that
  does not is BAD_HANDLE as a warning (the driver's bug the bugcheck
  recorded, not a broken structure in the dump).

:class:`Triage` applies them to a stream of nodes: the per-object rule when
each object comes by, the others at :meth:`Triage.finish` from what it
kept: per parent, the count and bytes of its WDFMEMORY children and the
parent's type (a dict keyed by parent address: one entry per parent of
memory, not per object), and the facts of the one object a bugcheck's P2
names. :func:`triage` runs them over a list.
"""

from wdfdbg.decoders.handles import decode_handle
from wdfdbg.errors import ReadError
from wdfdbg.problems import WARNING

LEAK_CHILDREN = 1000
DEAD_STATES = (2, 9, 10, 11, 12)  # Disposed, DeletedDisposing, DeletedAndDisposed, DeferedDestroy, Destroyed


class Triage(object):
    """The triage rules over nodes handed over one at a time."""

    def __init__(self, session, drivers, problems):
        self.session = session
        self.drivers = drivers
        self.problems = problems
        self.counts = {}        # parent address -> [WDFMEMORY children, their bytes, parent's type]
        self.bugcheck = session.target.bugcheck()
        self._named = None      # the object P2 of a 0x10D/0x5 decodes to
        self.named = None       # its (wdf_type, fx_type) once seen
        if self.bugcheck is not None and self.bugcheck.code == 0x10D and self.bugcheck.parameters[0] == 0x5:
            dh = decode_handle(session.target, self.bugcheck.parameters[1])
            self._handle = dh
            self._named = None if dh.problem else dh.object
        else:
            self._handle = None

    def node(self, node, parent_type=None, wdf_type=None):
        """Apply the per-object rule and count ``node`` for the others;
        ``parent_type``: the WDF type of its parent (for the leak message);
        ``wdf_type``: the node's, when the caller has it."""
        h = node.header
        if h.state in DEAD_STATES:
            self.problems.add("NOT_AN_OBJECT", h.address, "object 0x%x is still linked in the tree but its state is %d "
                              "(deleted or destroyed)" % (h.address, h.state), WARNING)
        elif h.refcount is not None and h.refcount <= 0:
            self.problems.add("NOT_AN_OBJECT", h.address, "object 0x%x is linked in the tree with reference count %d" % (h.address, h.refcount), WARNING)
        if wdf_type is None:
            wdf_type = node.wdf_type
        if node.parent is not None and wdf_type == "WDFMEMORY":
            c = self.counts.get(node.parent)
            if c is None:
                c = self.counts[node.parent] = [0, 0, parent_type]
            c[0] += 1
            c[1] += (node.memory or {}).get("length") or 0
        if self._named is not None and h.address == self._named and self.named is None:
            self.named = (wdf_type, h.fx_type)

    def finish(self):
        """The rules that need the whole walk (leaks, the bugcheck)."""
        for parent, (count, total, what) in sorted(self.counts.items()):
            if count >= LEAK_CHILDREN:
                self.problems.add("LIKELY_LEAK", parent, "%s 0x%x holds %d WDFMEMORY children (0x%x bytes of buffers): memory parented here is "
                                  "freed only when the parent is deleted" % (what or "object", parent, count, total), WARNING)
        self._bugcheck()

    def _bugcheck(self):
        bc = self.bugcheck
        if bc is None or bc.code != 0x10D:
            return
        session, problems = self.session, self.problems
        p1, p2, p3, p4 = bc.parameters
        names = dict((d.globals, d.label()) for d in self.drivers)
        who = names.get(p4)
        if who:
            problems.add("BUGCHECK", p4, "bugcheck 0x10D (WDF_VIOLATION, subcode 0x%x) names driver %s through P4" % (p1, who))
        if p1 != 0x5:
            return
        dh = self._handle
        if dh.problem:
            problems.add("BAD_HANDLE", dh.field, "bugcheck 0x10D/0x5 INVALID_HANDLE: %s" % dh.problem, WARNING)
            return
        if self.named is not None:
            wdf_type, fx_type = self.named
            problems.add("BUGCHECK", dh.object, "bugcheck 0x10D/0x5: handle 0x%x is %s 0x%x (type 0x%x); the DDI asked for type 0x%x"
                         % (p2, wdf_type, dh.object, fx_type or 0, p3))
        else:
            try:
                t = session.target.read_u16(dh.object + session.layouts.get("Wdf01000!FxObject").offset("m_Type"))
                msg = "handle 0x%x decodes to 0x%x (m_Type 0x%x), which is not in the driver's tree" % (p2, dh.object, t)
            except ReadError:
                msg = "handle 0x%x decodes to 0x%x, which is unreadable" % (p2, dh.object)
            problems.add("BAD_HANDLE", dh.object, "bugcheck 0x10D/0x5 INVALID_HANDLE: " + msg, WARNING)


def triage(session, drivers, nodes, problems):
    """The rules over a list of nodes."""
    t = Triage(session, drivers, problems)
    types = dict((n.address, n.wdf_type) for n in nodes)
    for n in nodes:
        t.node(n, types.get(n.parent))
    t.finish()
