"""OBJECTS_PILING_UP: leaks a dump shows without the verifier.

The classic KMDF leak: an object made for one request (a WDFMEMORY, a
request's buffer, a WDFWORKITEM or WDFTIMER per request, a driver-created
WDFREQUEST) is parented to something that lives as long as the device
(WDFDEVICE, WDFDRIVER, a WDFQUEUE, an I/O target). KMDF frees a child only
when its parent is deleted (``FxObject::DeleteObject`` disposes the child
list), so every request leaves one more child behind and the count grows
with uptime. Field dumps have no verifier leak tracking; the pile itself is
the evidence.

:class:`PilingAggregate` is a streaming aggregate: feed it one object at a
time (:meth:`~PilingAggregate.feed_node`, or :meth:`~PilingAggregate.feed`
with the facts), in any order; it keeps

* counts and bytes per (driver, parent type, child type, pool tag), and
* per long-lived parent, counts and bytes per child type,

so memory grows with the number of distinct keys and long-lived parents,
not with the number of objects. :meth:`~PilingAggregate.finish` adds the
problems and :meth:`~PilingAggregate.to_json` gives the count table (kept
in the JSON so that a corpus of dumps can compare drivers).

Threshold: ``PILING_CHILDREN = 100`` children of one short-lived type under
one long-lived parent. Why 100: what a driver creates under a device or
driver at setup is bounded by its design, not its uptime (a few queues,
timers and work items, a preallocated pool of buffers: tens, as in the KMDF
samples); a per-request object that is never deleted adds one per request,
and a device that has served a few hundred requests already passes 100.
Below it a deliberate pool is the likelier reading, and the table still
shows the counts. (LIKELY_LEAK, ``analysis/triage.py``, stays the stricter
1000-WDFMEMORY rule.)

Bytes: a WDFMEMORY counts its buffer length (``memory.length``) plus its
object size; any other object its ``m_ObjectSize`` (the object itself, not
what it points at).
"""

LONG_LIVED = frozenset(("WDFDRIVER", "WDFDEVICE", "WDFQUEUE", "WDFIOTARGET", "WDFUSBDEVICE", "WDFUSBINTERFACE",
                        "WDFUSBPIPE", "WDFDMAENABLER", "WDFCHILDLIST"))
SHORT_LIVED = frozenset(("WDFMEMORY", "WDFREQUEST", "WDFWORKITEM", "WDFTIMER", "WDFDPC", "WDFSTRING", "WDFKEY",
                         "WDFOBJECT", "WDFCOLLECTION", "WDFDMATRANSACTION", "WDFWAITLOCK", "WDFSPINLOCK"))
PILING_CHILDREN = 100
UNKNOWN_TAG = "unknown"
# a parent whose type the aggregate did not keep: not a long-lived object,
# or one it was not fed (a parent not captured); callers that know the type
# pass it to feed_node
OTHER_PARENT = "other"
NO_PARENT = "none"


_COUNT = {"type": "integer", "minimum": 0}
_HEX = {"type": "string", "pattern": "^0x[0-9a-f]+$"}
_NAME = {"type": ["string", "null"]}
_PILE = {"type": "object", "required": ["parent", "driver", "parent_type", "child_type", "count", "bytes"],
         "properties": {"parent": _HEX, "driver": _NAME, "parent_type": {"type": "string"},
                        "child_type": {"type": "string"}, "count": _COUNT, "bytes": _COUNT}}
# The JSON Schema of the report's ``piling`` key (:meth:`PilingAggregate.to_json`;
# report schema 1.2, report.schema.json $defs/piling holds the same)
PILING_SCHEMA = {
    "type": "object",
    "required": ["threshold", "objects", "groups", "long_lived_parents", "piling_up"],
    "properties": {
        "threshold": _COUNT, "objects": _COUNT,
        "groups": {"type": "array", "items": {
            "type": "object", "required": ["driver", "parent_type", "child_type", "pool_tag", "count", "bytes"],
            "properties": {"driver": _NAME, "parent_type": {"type": "string"}, "child_type": _NAME,
                           "pool_tag": {"type": "string"}, "count": _COUNT, "bytes": _COUNT}}},
        "long_lived_parents": {"type": "array", "items": {
            "type": "object", "required": ["address", "driver", "type", "children"],
            "properties": {"address": _HEX, "driver": _NAME, "type": {"type": "string"},
                           "children": {"type": "object", "additionalProperties": {
                               "type": "object", "required": ["count", "bytes"],
                               "properties": {"count": _COUNT, "bytes": _COUNT}}}}}},
        "piling_up": {"type": "array", "items": _PILE},
    },
}


class PilingAggregate(object):
    """Counts of objects by (driver, parent type, child type, pool tag) and
    per long-lived parent; see the module docstring."""

    def __init__(self, threshold=PILING_CHILDREN):
        self.threshold = threshold
        self.groups = {}        # (driver, parent_type, child_type, tag) -> [count, bytes]
        self.parents = {}       # long-lived parent address -> (driver, type)
        self.children = {}      # long-lived parent address -> {child_type: [count, bytes]}
        self.objects = 0

    def feed(self, driver, parent, parent_type, child_type, pool_tag, nbytes):
        """One object: its driver name, its parent's address (or None) and
        type, its own DDI type, pool tag (or None) and bytes."""
        self.objects += 1
        key = (driver or "", parent_type or (NO_PARENT if parent is None else OTHER_PARENT), child_type or "",
               pool_tag or UNKNOWN_TAG)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = [0, 0]
        g[0] += 1
        g[1] += nbytes or 0
        if parent is not None and parent in self.parents and child_type in SHORT_LIVED:
            per = self.children.setdefault(parent, {})
            c = per.get(child_type)
            if c is None:
                c = per[child_type] = [0, 0]
            c[0] += 1
            c[1] += nbytes or 0

    def note_parent(self, address, driver, wdf_type):
        """Remember a long-lived object so that children fed later find it."""
        if wdf_type in LONG_LIVED:
            self.parents[address] = (driver or "", wdf_type)

    def feed_node(self, node, parent_type=None, wdf_type=None):
        """Feed an ObjectNode (what :meth:`feed` does, without its calls:
        once per object of a walk). ``parent_type`` is the parent's DDI
        type when the caller knows it (a walk has the parent at hand);
        otherwise it is found among the long-lived objects fed before
        (pre-order puts a parent before its children). ``wdf_type``: the
        node's, when the caller has it."""
        t = wdf_type if wdf_type is not None else node.wdf_type
        hdr = node.header
        driver = node.driver or ""
        if t in LONG_LIVED:
            self.parents[hdr.address] = (driver, t)
        parent = node.parent
        if parent_type is None and parent is not None:
            known = self.parents.get(parent)
            parent_type = known[1] if known else None
        nbytes = hdr.object_size or 0
        tag = None
        mem = node.memory
        if mem is not None:
            if t == "WDFMEMORY":
                length = mem.get("length")
                if isinstance(length, int):
                    nbytes += length
            tag = mem.get("pool_tag")
            if not isinstance(tag, str):
                tag = None
        self.objects += 1
        key = (driver, parent_type or (NO_PARENT if parent is None else OTHER_PARENT), t or "", tag or UNKNOWN_TAG)
        g = self.groups.get(key)
        if g is None:
            self.groups[key] = [1, nbytes]
        else:
            g[0] += 1
            g[1] += nbytes
        if parent is not None and t in SHORT_LIVED and parent in self.parents:
            per = self.children.setdefault(parent, {})
            c = per.get(t)
            if c is None:
                per[t] = [1, nbytes]
            else:
                c[0] += 1
                c[1] += nbytes

    def piles(self):
        """``(parent, driver, parent_type, child_type, count, bytes)`` for
        every long-lived parent holding at least ``threshold`` children of
        one short-lived type, largest first."""
        out = []
        for parent, per in self.children.items():
            driver, ptype = self.parents[parent]
            for ctype, (count, nbytes) in per.items():
                if count >= self.threshold:
                    out.append((parent, driver, ptype, ctype, count, nbytes))
        out.sort(key=lambda p: (-p[4], p[0], p[3]))
        return out

    def finish(self, problems):
        """Add OBJECTS_PILING_UP problems (at the parent) to ``problems``."""
        for parent, driver, ptype, ctype, count, nbytes in self.piles():
            problems.add("OBJECTS_PILING_UP", parent,
                         "%s 0x%x%s holds %d %s children (0x%x bytes, objects and buffers): objects parented to a "
                         "long-lived %s are "
                         "freed only when it is deleted, so one made per request and never deleted piles up here"
                         % (ptype, parent, " of %s" % driver if driver else "", count, ctype, nbytes, ptype))

    def to_json(self):
        """The count table: deterministic order, JSON types only."""
        groups = [{"driver": d or None, "parent_type": pt, "child_type": ct or None, "pool_tag": tag,
                   "count": c, "bytes": b}
                  for (d, pt, ct, tag), (c, b) in sorted(self.groups.items())]
        parents = []
        for parent in sorted(self.children):
            driver, ptype = self.parents[parent]
            per = self.children[parent]
            parents.append({"address": "0x%x" % parent, "driver": driver or None, "type": ptype,
                            "children": dict((ct, {"count": c, "bytes": b}) for ct, (c, b) in sorted(per.items()))})
        return {"threshold": self.threshold, "objects": self.objects, "groups": groups,
                "long_lived_parents": parents,
                "piling_up": [{"parent": "0x%x" % p, "driver": d or None, "parent_type": pt, "child_type": ct,
                               "count": c, "bytes": b} for p, d, pt, ct, c, b in self.piles()]}
