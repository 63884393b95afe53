"""WDFMEMORY usage as aggregates of the memtree stream: objects and bytes by
driver, pool tag, origin and class, with totals, and the lookaside lists
with what they hold.

:class:`UsageTables` is a sink of ``analysis.tree``: it adds each WDFMEMORY
to four small tables as the node goes by (keyed by driver, tag, origin,
class: their size does not grow with the object count) and keeps one row
per WDFLOOKASIDE; at the end it takes each lookaside's allocated count and
bytes from the analysis's lookaside join. Bytes are the WDFMEMORY lengths
(``m_BufferSize``), not pool block sizes.
"""

from wdfdbg.analysis.tree import Sink

NONE_LABEL = "-"
GROUPS = ("by_driver", "by_pool_tag", "by_origin", "by_class")


def _key(v):
    return NONE_LABEL if v is None else str(v)


class UsageTables(Sink):
    """The memusage tables, filled one node at a time."""

    def __init__(self):
        self.groups = dict((g, {}) for g in GROUPS)
        self.total = {"objects": 0, "bytes": 0}
        self.objects = 0            # every object walked
        self._lookasides = []       # [row, lookaside address]
        self._members = None

    # -- sink ------------------------------------------------------------
    def node(self, node, seq=None):
        self.objects += 1
        r = node.memory
        if r is not None:
            length = r.get("length") or 0
            keys = (node.driver, r.get("pool_tag"), r.get("origin"), node.header.cls or r.get("class"))
            for g, k in zip(GROUPS, keys):
                table = self.groups[g]
                k = _key(k)
                row = table.get(k)
                if row is None:
                    row = table[k] = {"key": k, "objects": 0, "bytes": 0}
                row["objects"] += 1
                row["bytes"] += length
            self.total["objects"] += 1
            self.total["bytes"] += length
        la = node.lookaside
        if la is not None:
            lst = la.get("list") or {}
            row = {"driver": node.driver, "address": "0x%x" % node.address,
                   "handle": None if node.handle is None else "0x%x" % node.handle, "kind": la.get("kind"),
                   "pool_tag": la.get("pool_tag"), "buffer_size": la.get("buffer_size"), "allocated": 0,
                   "allocated_bytes": 0, "free_entries": lst.get("free_entries"), "hit_rate": lst.get("hit_rate")}
            self._lookasides.append((row, node.address))

    def end(self, analysis):
        self.held(analysis.annotator.members)

    def held(self, members):
        """Fill each lookaside row from the join (lookaside -> members)."""
        for row, address in self._lookasides:
            m = members.get(address)
            if m is not None:
                row["allocated"] = len(m.addresses)
                row["allocated_bytes"] = sum(m.lengths)  # (an unreadable length counts 0)

    def tables(self):
        """``{by_driver, by_pool_tag, by_origin, by_class, total,
        lookasides}``; each row ``{key, objects, bytes}`` sorted by bytes
        (descending) then key; lookasides by driver then address."""
        out = {}
        for g in GROUPS:
            out[g] = sorted(self.groups[g].values(), key=lambda r: (-r["bytes"], r["key"]))
        out["total"] = dict(self.total)
        out["lookasides"] = sorted((row for row, _ in self._lookasides),
                                   key=lambda r: (_key(r["driver"]), r["address"]))
        return out


class Tee(object):
    """Hand a stream to several sinks, in order."""

    def __init__(self, *sinks):
        self.sinks = sinks

    def begin(self, analysis):
        for s in self.sinks:
            s.begin(analysis)

    def walk(self, driver, grouped):
        for s in self.sinks:
            s.walk(driver, grouped)

    def node(self, node, seq):
        for s in self.sinks:
            s.node(node, seq)

    def walk_end(self):
        for s in self.sinks:
            s.walk_end()

    def end(self, analysis):
        for s in self.sinks:
            s.end(analysis)
