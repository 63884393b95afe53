"""The summary across a corpus (``wdfdbg.corpus/1``) from a batch's JSONL.

The file (a regular file: a pipe cannot be read twice) is streamed twice,
up to the size it had when it was opened, and never held: the first pass
finds each path's last record (a path re-analysed with ``--redo`` or after a change
counts once, by its newest record; only an 8-byte digest per path is
kept), the second adds those records up. What stays in memory is the
aggregates (per driver, signature and problem code) and, per driver,
bounded heaps of the dumps with the most objects and bytes. Every number
is a sum over the counted records, so totals add up exactly.
"""

import hashlib
import heapq

from wdfdbg import __version__
from wdfdbg.batch import jsonl
from wdfdbg.batch.record import COUNTS, SCHEMA_ID, STATUSES
from wdfdbg.errors import InputError

CORPUS_SCHEMA = "wdfdbg.corpus/1"
OUTLIERS = 5  # dumps kept per driver and measure


def _digest(rec):
    raw = rec.get("path_b64") if isinstance(rec.get("path_b64"), str) else rec["path"]
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_counts(v):
    return isinstance(v, dict) and all(isinstance(k, str) and _is_count(n) for k, n in v.items())


def _is_driver(d):
    return (isinstance(d, dict) and (d.get("name") is None or isinstance(d.get("name"), str))
            and (d.get("problem_counts") is None or _is_counts(d.get("problem_counts")))
            and (d.get("kmdf_version") is None or isinstance(d.get("kmdf_version"), (str, int, float)))
            and all(d.get(k) is None or _is_count(d.get(k)) for k in COUNTS + ("problems",)))


def well_formed(rec):
    """Is ``rec`` (a JSON object) a dump record the summary can add up? A
    record of another shape (a hand-edited line, another tool's) is counted
    as unparsed, never an error."""
    if rec.get("schema") != SCHEMA_ID or not isinstance(rec.get("path"), str):
        return False
    if rec.get("path_b64") is not None and not isinstance(rec.get("path_b64"), str):
        return False
    drivers = rec.get("drivers")
    summary = rec.get("summary")
    counts = rec.get("problem_counts")
    signature = rec.get("signature")
    return (rec.get("status") in STATUSES
            and (drivers is None or (isinstance(drivers, list) and all(_is_driver(d) for d in drivers)))
            and (summary is None or isinstance(summary, dict))
            and (counts is None or _is_counts(counts))
            and (signature is None or isinstance(signature, str)))


class RecordFile(object):
    """A record file opened once, read up to the size it had when opened
    (records a running batch appends meanwhile are left for the next
    summary). Only a regular file: a pipe, FIFO or device cannot be read
    twice and may never end (``<(cat r.jsonl)``, ``/dev/zero``)."""

    def __init__(self, path):
        from wdfdbg.sources.inputfile import open_input
        self.path = path
        self.f, self.size = open_input(path)

    def records(self):
        """(line number, record or None) for every non-blank line."""
        self.f.seek(0)
        for n, line in jsonl.lines(self.f, end=self.size):
            if line is not None and not line.strip():
                continue
            rec = jsonl.parse(line)
            yield n, rec if rec is not None and well_formed(rec) else None

    def head(self):
        self.f.seek(0)
        return self.f.read(16)

    def close(self):
        self.f.close()


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
    """The :class:`Corpus` of the JSONL file at ``path``. A file that holds
    no record at all but is not empty (gzip, a dump, other text) is an
    :class:`InputError`: "0 dumps" would be a wrong answer."""
    source = RecordFile(path)
    try:
        last = {}
        for n, rec in source.records():
            if rec is not None:
                last[_digest(rec)] = n
        corpus = Corpus(source=path)
        for n, rec in source.records():
            if rec is None:
                corpus.unparsed += 1
                continue
            corpus.lines += 1
            if last.get(_digest(rec)) != n:
                corpus.superseded += 1
                continue
            corpus.add(rec, n)
        if not last and corpus.unparsed:
            raise InputError("%s: not a batch's records: no %s line in it (%s)"
                             % (path, SCHEMA_ID, _what(source.head())))
        return corpus
    finally:
        source.close()


def _what(head):
    if head.startswith(b"\x1f\x8b"):
        return "gzip data: decompress it first"
    if head.startswith((b"PAGEDU64", b"PAGEDUMP", b"MDMP")):
        return "a dump: run wdfdbg batch on it"
    return "no line is a dump record"
