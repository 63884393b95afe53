"""The summary across a corpus (``wdfdbg.corpus/1``) from a batch's JSONL.

The file is streamed twice and never held: the first pass finds each
path's last record (a path re-analysed with ``--redo`` or after a change
counts once, by its newest record; only an 8-byte digest per path is
kept), the second adds those records up. What stays in memory is the
aggregates (per driver, signature and problem code) and, per driver,
bounded heaps of the dumps with the most objects and bytes. Every number
is a sum over the counted records, so totals add up exactly.
"""

import hashlib
import heapq
import json

from wdfdbg import __version__
from wdfdbg.batch.record import COUNTS, SCHEMA_ID, STATUSES
from wdfdbg.errors import InputError

CORPUS_SCHEMA = "wdfdbg.corpus/1"
OUTLIERS = 5  # dumps kept per driver and measure


def _digest(path):
    return hashlib.blake2b(path.encode("utf-8", "surrogateescape"), digest_size=8).digest()


def _records(path):
    """(line number, record) for every dump record line; counts the rest."""
    try:
        f = open(path, "r", encoding="utf-8", errors="replace")
    except OSError as e:
        raise InputError("%s: cannot read: %s" % (path, e.strerror or e))
    with f:
        for n, line in enumerate(f):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                yield n, None
                continue
            if isinstance(rec, dict) and rec.get("schema") == SCHEMA_ID and isinstance(rec.get("path"), str):
                yield n, rec
            else:
                yield n, None


class DriverSum(object):
    __slots__ = ("name", "dumps", "counts", "problems", "problem_counts", "versions", "top")

    def __init__(self, name):
        self.name = name
        self.dumps = 0
        self.counts = dict((k, 0) for k in COUNTS)
        self.problems = 0
        self.problem_counts = {}
        self.versions = set()
        self.top = {"objects": [], "memory_bytes": []}  # min-heaps of (value, -line, path)

    def add(self, d, line, path):
        self.dumps += 1
        for k in COUNTS:
            self.counts[k] += _n(d.get(k))
        self.problems += _n(d.get("problems"))
        for code, n in (d.get("problem_counts") or {}).items():
            self.problem_counts[code] = self.problem_counts.get(code, 0) + _n(n)
        if d.get("kmdf_version"):
            self.versions.add(str(d["kmdf_version"]))
        for key, heap in self.top.items():
            item = (_n(d.get(key)), -line, path)
            if len(heap) < OUTLIERS:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)

    def to_json(self):
        out = {"name": self.name, "dumps": self.dumps}
        out.update(self.counts)
        out["problems"] = self.problems
        out["problem_counts"] = dict(sorted(self.problem_counts.items()))
        out["kmdf_versions"] = sorted(self.versions, key=_version_key)
        out["outliers"] = dict((key, [{"path": p, key: v} for v, _, p in sorted(heap, reverse=True)])
                               for key, heap in self.top.items())
        return out


def _n(v):
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def _version_key(v):
    return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))


class Corpus(object):
    """Aggregates of the records added with :meth:`add`."""

    def __init__(self, source=None):
        self.source = source
        self.lines = 0          # record lines read
        self.unparsed = 0       # lines that are no dump record
        self.superseded = 0     # older records of a path that has a newer one
        self.dumps = 0
        self.by_status = dict((s, 0) for s in STATUSES)
        self.totals = dict((k, 0) for k in COUNTS + ("problems",))
        self.drivers = {}
        self.signatures = {}    # signature -> [dumps, first path, last path]
        self.problem_dumps = {}  # code -> [dumps, occurrences]

    def add(self, rec, line=0):
        self.dumps += 1
        status = rec.get("status")
        self.by_status[status] = self.by_status.get(status, 0) + 1
        summary = rec.get("summary") or {}
        for k in self.totals:
            self.totals[k] += _n(summary.get(k))
        for d in rec.get("drivers") or ():
            name = d.get("name")
            ds = self.drivers.get(name)
            if ds is None:
                ds = self.drivers[name] = DriverSum(name)
            ds.add(d, line, rec["path"])
        sig = rec.get("signature")
        if sig:
            s = self.signatures.get(sig)
            if s is None:
                self.signatures[sig] = [1, rec["path"], rec["path"]]
            else:
                s[0] += 1
                s[2] = rec["path"]
        for code, n in (rec.get("problem_counts") or {}).items():
            p = self.problem_dumps.setdefault(code, [0, 0])
            p[0] += 1
            p[1] += _n(n)

    def to_json(self):
        drivers = sorted(self.drivers.values(), key=lambda d: (-d.dumps, (d.name or "").lower(), d.name or ""))
        return {
            "schema": CORPUS_SCHEMA,
            "tool": {"name": "wdfdbg", "version": __version__},
            "source": self.source,
            "records": self.lines,
            "superseded": self.superseded,
            "unparsed_lines": self.unparsed,
            "dumps": self.dumps,
            "by_status": self.by_status,
            "totals": self.totals,
            "drivers": [d.to_json() for d in drivers],
            "signatures": [{"signature": s, "dumps": v[0], "first_path": v[1], "last_path": v[2]}
                           for s, v in sorted(self.signatures.items(), key=lambda kv: (-kv[1][0], kv[0]))],
            "problems": [{"code": c, "dumps": v[0], "occurrences": v[1]}
                         for c, v in sorted(self.problem_dumps.items(), key=lambda kv: (-kv[1][0], kv[0]))],
        }


def summarize(path):
    """The :class:`Corpus` of the JSONL file at ``path``."""
    last = {}
    for n, rec in _records(path):
        if rec is not None:
            last[_digest(rec["path"])] = n
    corpus = Corpus(source=path)
    for n, rec in _records(path):
        if rec is None:
            corpus.unparsed += 1
            continue
        corpus.lines += 1
        if last.get(_digest(rec["path"])) != n:
            corpus.superseded += 1
            continue
        corpus.add(rec, n)
    return corpus
