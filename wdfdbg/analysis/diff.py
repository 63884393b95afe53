"""What grew between two moments: ``wdfdbg diff BEFORE AFTER``.

Each side is one report document (``wdfdbg.report/1``), consumed as it
streams (:class:`Side` takes :class:`~wdfdbg.render.reportreader.ReportReader`
callbacks). A side keeps, per object, a few small integers (type, pool tag,
driver, bytes; :mod:`wdfdbg.analysis.footprint` says how bytes are counted)
and an address index, never the records, so ten million objects stay in a
few hundred megabytes.

:func:`compare` groups both sides per driver and per (parent type, child
type, pool tag): objects and bytes before, after and the change, and the
objects that are new or vanished, matched by address (an address whose
driver or type changed is one object vanished and another new). Groups and
drivers come biggest growth first (bytes, then objects). The result is the
``wdfdbg.diff/1`` document (schema: ``wdfdbg/data/diff.schema.json``).
"""

import os
from array import array

from wdfdbg import __version__
from wdfdbg.analysis.footprint import owned_bytes, pool_tag
from wdfdbg.analysis.objtree import TreeIndex

SCHEMA_ID = "wdfdbg.diff/1"


def schema_path():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "diff.schema.json")


class _Names(object):
    """Strings interned as small ints (the per-object arrays hold ids)."""

    def __init__(self):
        self.ids = {}
        self.names = []

    def id(self, name):
        i = self.ids.get(name)
        if i is None:
            i = self.ids[name] = len(self.names)
            self.names.append(name)
        return i


class Side(object):
    """One report's aggregates, filled by ``on_key``/``on_object``.
    ``only_driver``: count only that driver's objects (case-insensitive)."""

    def __init__(self, label, only_driver=None):
        self.label = label
        self.only = only_driver.lower() if only_driver else None
        self.head = {}
        self.tree = TreeIndex()
        self.names = _Names()
        self.type_id = array("I")
        self.tag_id = array("I")
        self.driver_id = array("I")
        self.nbytes = array("Q")
        self.counted = bytearray()  # 0 for objects outside --driver (kept for parent types)

    def on_key(self, key, value):
        self.head[key] = value

    def on_object(self, rec):
        self.tree.add(rec)
        driver = rec.get("driver") if isinstance(rec.get("driver"), str) else None
        self.type_id.append(self.names.id(rec.get("wdf_type") if isinstance(rec.get("wdf_type"), str) else None))
        self.tag_id.append(self.names.id(pool_tag(rec)))
        self.driver_id.append(self.names.id(driver))
        self.nbytes.append(owned_bytes(rec))
        self.counted.append(0 if self.only and (driver or "").lower() != self.only else 1)

    def finish(self):
        self.tree.finish()

    def __len__(self):
        return len(self.type_id)

    def key(self, i):
        """(driver, parent type, child type, pool tag) of object ``i``."""
        names = self.names.names
        p = self.tree.parents[i]
        parent_type = names[self.type_id[p]] if p >= 0 else None
        return (names[self.driver_id[i]], parent_type, names[self.type_id[i]], names[self.tag_id[i]])

    def identity(self, i):
        return (self.driver_id[i], self.type_id[i])

    def source(self):
        return self.head.get("source")


def _change(before, after):
    return {"before": before, "after": after, "change": after - before}


def _growth(entry):
    return (-entry["bytes"]["change"], -entry["objects"]["change"])


def compare(before, after):
    """The ``wdfdbg.diff/1`` document of two finished :class:`Side` s."""
    groups = {}  # key -> [objects before, bytes before, objects after, bytes after, new, vanished]

    def group(key):
        g = groups.get(key)
        if g is None:
            g = groups[key] = [0, 0, 0, 0, [], []]
        return g

    for side, col in ((before, 0), (after, 2)):
        for i in range(len(side)):
            if side.counted[i]:
                g = group(side.key(i))
                g[col] += 1
                g[col + 1] += side.nbytes[i]
    for side, other, col in ((after, before, 4), (before, after, 5)):
        for address, i in side.tree.addresses():
            if not side.counted[i]:
                continue
            j = other.tree.index_of(address)
            same = j is not None and other.names.names[other.driver_id[j]] == side.names.names[side.driver_id[i]] \
                and other.names.names[other.type_id[j]] == side.names.names[side.type_id[i]]
            if not same:
                group(side.key(i))[col].append(address)
    drivers = {}
    for key, g in groups.items():
        entry = {"parent_type": key[1], "child_type": key[2], "pool_tag": key[3],
                 "objects": _change(g[0], g[2]), "bytes": _change(g[1], g[3]),
                 "new": ["0x%x" % a for a in sorted(g[4])], "vanished": ["0x%x" % a for a in sorted(g[5])]}
        drivers.setdefault(key[0], []).append(entry)
    out = []
    for name, entries in drivers.items():
        entries.sort(key=lambda e: _growth(e) + (e["parent_type"] or "", e["child_type"] or "", e["pool_tag"] or ""))
        d = {"name": name,
             "objects": _change(sum(e["objects"]["before"] for e in entries), sum(e["objects"]["after"] for e in entries)),
             "bytes": _change(sum(e["bytes"]["before"] for e in entries), sum(e["bytes"]["after"] for e in entries)),
             "new": sum(len(e["new"]) for e in entries), "vanished": sum(len(e["vanished"]) for e in entries),
             "groups": entries}
        out.append(d)
    out.sort(key=lambda d: _growth(d) + (d["name"] or "",))
    doc = {
        "schema": SCHEMA_ID,
        "tool": {"name": "wdfdbg", "version": __version__},
        "before": _side_json(before),
        "after": _side_json(after),
        "notes": _notes(before, after),
        "drivers": out,
        "summary": {
            "objects": _change(sum(d["objects"]["before"] for d in out), sum(d["objects"]["after"] for d in out)),
            "bytes": _change(sum(d["bytes"]["before"] for d in out), sum(d["bytes"]["after"] for d in out)),
            "new": sum(d["new"] for d in out), "vanished": sum(d["vanished"] for d in out),
            "drivers_grown": sum(1 for d in out if d["bytes"]["change"] > 0 or d["objects"]["change"] > 0),
        },
    }
    return doc


def _side_json(side):
    problems = side.head.get("problems")
    return {"label": side.label, "source": side.source(), "objects": sum(side.counted),
            "problems": len(problems) if isinstance(problems, list) else None,
            "bugcheck": side.head.get("bugcheck")}


def _notes(before, after):
    """What a reader must know before trusting the numbers."""
    notes = []
    a, b = before.source() or {}, after.source() or {}
    for k, what in (("arch", "architecture"), ("os_build", "OS build")):
        if a.get(k) is not None and b.get(k) is not None and a.get(k) != b.get(k):
            notes.append("the two sides differ in %s (%s, %s): they are not the same machine, so addresses do not "
                         "match" % (what, a.get(k), b.get(k)))
    for side in (before, after):
        for n in side.head.get("notes") or ():
            notes.append("%s: %s" % (side.label, n))
        for p in side.head.get("problems") or ():
            if isinstance(p, dict) and p.get("code") == "WALK_LIMIT":
                notes.append("%s: the walk stopped early (%s); counts are lower bounds" % (side.label, p.get("message")))
                break
    return notes

