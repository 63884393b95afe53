"""One dump record, ``wdfdbg.dumprecord/1`` (``docs/batch.md``,
``wdfdbg/data/dumprecord.schema.json``), built from the single-dump
contract: memtree's JSON report, read member by member and object record
by object record (:class:`RecordBuilder`), plus ``info``'s facts the
report lacks (KMDF versions, the dump type).

Per-driver counts come from the report's ``drivers`` entries when it has
them (``kmdf_version``, ``objects``, ``memory_objects``, ``memory_bytes``,
``lookasides``, ``mdls``, ``problems``), else they are counted here from
the object records. Only aggregates are kept while the objects stream by,
plus, for the objects that carry problems, which driver and type they are.
"""

import os

from wdfdbg import __version__
from wdfdbg.batch.signature import Focus, signature

SCHEMA_ID = "wdfdbg.dumprecord/1"
REPORT_SCHEMA = "wdfdbg.report/1"
STATUSES = ("ok", "problems", "unreadable", "timeout", "crashed")
MAX_PROBLEMS = 100  # problems listed per record; problem_counts has them all
COUNTS = ("objects", "memory_objects", "memory_bytes", "lookasides", "mdls")
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def tool():
    return {"name": "wdfdbg", "version": __version__}


def schema_path():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                        "dumprecord.schema.json")


def empty_record(path, sha256, size, status, exit_code=None, error=None):
    """A record without analysis (unreadable input, timeout, crash)."""
    return {"schema": SCHEMA_ID, "tool": tool(), "path": path, "sha256": sha256, "size": size, "status": status,
            "exit_code": exit_code, "error": error, "source": None, "bugcheck": None, "drivers": [],
            "problems": [], "problems_omitted": 0, "problem_counts": {}, "summary": None, "signature": None,
            "elapsed_s": None}


def _count(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class DriverTally(object):
    """What one record says about one KMDF driver (``FX_DRIVER_GLOBALS``)."""

    __slots__ = ("name", "globals", "kmdf_version", "counted", "reported", "problems", "problem_counts")

    def __init__(self, name, globals_):
        self.name = name
        self.globals = globals_
        self.kmdf_version = None
        self.counted = dict((k, 0) for k in COUNTS)  # from object records
        self.reported = {}                            # from the report's drivers entry
        self.problems = 0
        self.problem_counts = {}

    def to_json(self):
        def pick(key):
            v = _count(self.reported.get(key))
            return v if v is not None else self.counted[key]
        out = {"name": self.name, "globals": self.globals, "kmdf_version": self.kmdf_version}
        for key in COUNTS:
            out[key] = pick(key)
        reported = _count(self.reported.get("problems"))
        out["problems"] = reported if reported is not None else self.problems
        out["problem_counts"] = dict(sorted(self.problem_counts.items()))
        return out


class RecordBuilder(object):
    """Feed it the report (``on_field`` per top-level member, ``on_object``
    per object record), then :meth:`add_info` and :meth:`finish`."""

    def __init__(self, path, sha256, size):
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.fields = {}
        self.drivers = []       # DriverTally, report order, then objects' unknown drivers
        self._by_key = {}
        self._at = {}           # (code, address) -> (driver key, wdf_type), from objects' problem lists
        self.objects = 0

    # -- the report ------------------------------------------------------
    def on_field(self, key, value):
        if key == "objects":
            return  # streamed through on_object
        self.fields[key] = value
        if key == "drivers" and isinstance(value, list):
            for d in value:
                if isinstance(d, dict):
                    self._driver_entry(d)

    def _key(self, name, globals_):
        return ("g", globals_) if globals_ else ("n", name)

    def _tally(self, name, globals_):
        k = self._key(name, globals_)
        t = self._by_key.get(k)
        if t is None:
            t = DriverTally(name, globals_)
            self._by_key[k] = t
            self.drivers.append(t)
        return k, t

    def _driver_entry(self, d):
        _, t = self._tally(d.get("name"), d.get("globals"))
        for key in COUNTS + ("problems",):
            if key in d:
                t.reported[key] = d[key]
        if d.get("kmdf_version"):
            t.kmdf_version = str(d["kmdf_version"])

    def on_object(self, obj):
        if not isinstance(obj, dict):
            return
        self.objects += 1
        k, t = self._tally(obj.get("driver"), obj.get("globals"))
        c = t.counted
        c["objects"] += 1
        mem = obj.get("memory")
        if isinstance(mem, dict):
            c["memory_objects"] += 1
            c["memory_bytes"] += _count(mem.get("length")) or 0
        if obj.get("lookaside") is not None:
            c["lookasides"] += 1
        c["mdls"] += len(obj.get("mdls") or ())
        for p in obj.get("problems") or ():
            if isinstance(p, dict):
                self._at.setdefault((p.get("code"), p.get("address")), (k, obj.get("wdf_type")))

    # -- info's facts ------------------------------------------------------
    def needs_info(self):
        src = self.fields.get("source") or {}
        kind = src.get("kind")
        return (kind != "snapshot" and "dump_type" not in src) or any(t.kmdf_version is None for t in self.drivers)

    def add_info(self, info):
        """``info --json``'s ``info`` member: KMDF versions and the dump type."""
        if not isinstance(info, dict):
            return
        src = self.fields.get("source")
        if isinstance(src, dict) and "dump_type" not in src and info.get("dump_type") is not None:
            src["dump_type"] = info["dump_type"]
        by_globals, by_name = {}, {}
        for d in info.get("kmdf_drivers") or ():
            if isinstance(d, dict) and d.get("version"):
                if d.get("globals"):
                    by_globals[d["globals"]] = d["version"]
                if d.get("name"):
                    by_name.setdefault(d["name"].lower(), d["version"])
        for t in self.drivers:
            if t.kmdf_version is None:
                v = by_globals.get(t.globals) or by_name.get((t.name or "").lower())
                t.kmdf_version = str(v) if v else None

    # -- the record --------------------------------------------------------
    def _problems(self):
        """(listed problems, omitted count, counts by code, Focus items)."""
        globals_keys = dict((t.globals, self._key(t.name, t.globals)) for t in self.drivers if t.globals)
        listed, counts, focus = [], {}, []
        for p in self.fields.get("problems") or ():
            if not isinstance(p, dict):
                continue
            code, addr = p.get("code"), p.get("address")
            k, wdf_type = self._at.get((code, addr), (globals_keys.get(addr), None))
            t = self._by_key.get(k) if k is not None else None
            if t is not None:
                t.problems += 1
                t.problem_counts[code] = t.problem_counts.get(code, 0) + 1
            counts[code] = counts.get(code, 0) + 1
            name = t.name if t is not None else None
            listed.append({"code": code, "severity": p.get("severity"), "driver": name, "address": addr})
            focus.append(Focus(code, p.get("severity"), name, wdf_type))
        order = sorted(range(len(listed)), key=lambda i: (_SEVERITY_ORDER.get(listed[i]["severity"], 3), i))
        kept = [listed[i] for i in order[:MAX_PROBLEMS]]
        return kept, len(listed) - len(kept), dict(sorted(counts.items())), focus

    def finish(self, status, exit_code, error=None):
        rec = empty_record(self.path, self.sha256, self.size, status, exit_code, error)
        src = self.fields.get("source") or {}
        rec["source"] = {"kind": src.get("kind"), "arch": src.get("arch"), "os_build": src.get("os_build"),
                         "dump_type": src.get("dump_type"), "origin": src.get("origin")}
        bc = self.fields.get("bugcheck")
        rec["bugcheck"] = bc if isinstance(bc, dict) else None
        problems, omitted, counts, focus = self._problems()
        drivers = [t.to_json() for t in self.drivers]
        rec["drivers"] = drivers
        rec["problems"] = problems
        rec["problems_omitted"] = omitted
        rec["problem_counts"] = counts
        summary = self.fields.get("summary")
        rec["summary"] = dict(summary) if isinstance(summary, dict) else None  # as memtree's
        rec["signature"] = signature(rec["bugcheck"], drivers, focus)
        return rec
