"""One dump record, ``wdfdbg.dumprecord/1`` (``docs/batch.md``,
``wdfdbg/data/dumprecord.schema.json``), built from the single-dump
contract: ``memtree --jsonl``, one line at a time (:class:`RecordBuilder`).

The lines (``docs/report.md``): a ``report`` line (source, bugcheck), an
``object`` line per object, ``allocated`` lines, a ``problem`` line per
problem (with the address of the object record it belongs to), a
``summary`` line (the 1.1 per-driver entries: ``kmdf_version``,
``objects``, ``memory_objects``, ``memory_bytes``, ``lookasides``, ``mdls``,
``problems``; the summary), and, from a memtree that has it, a ``triage``
line whose ``fault`` names the faulting module and KMDF driver.

Per-driver numbers come from the summary line's driver entries; objects of
no listed driver (and reports without counts) are counted from the object
lines. While the objects stream by, what is kept is three numbers an object
(address, driver slot, type id: 16 bytes in arrays), so that each problem
can be given the driver and type of the object it belongs to when the
problem lines come, after every object line.
"""

import os
from array import array

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


def empty_record(path, sha256, size, status, exit_code=None, error=None, file=None):
    """A record without analysis (unreadable input, timeout, crash).
    ``path`` is the name as the OS gave it (a ``str`` that may hold
    surrogate escapes); the writer makes it valid JSON (``path_b64``)."""
    return {"schema": SCHEMA_ID, "tool": tool(), "path": path, "path_b64": None, "sha256": sha256, "size": size,
            "file": file, "status": status, "exit_code": exit_code, "error": error, "source": None, "bugcheck": None,
            "fault": None, "drivers": [], "problems": [], "problems_omitted": 0, "problem_counts": {},
            "summary": None, "signature": None, "elapsed_s": None}


def _count(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _address(text):
    try:
        return int(text, 16) if isinstance(text, str) else None
    except ValueError:
        return None


class DriverTally(object):
    """What one record says about one KMDF driver (``FX_DRIVER_GLOBALS``)."""

    __slots__ = ("name", "globals", "kmdf_version", "counted", "reported", "problems", "problem_counts")

    def __init__(self, name, globals_):
        self.name = name
        self.globals = globals_
        self.kmdf_version = None
        self.counted = dict((k, 0) for k in COUNTS)  # from object lines
        self.reported = {}                            # from the summary line's driver entry
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


def fault_facts(triage):
    """The record's ``fault`` from a report's ``triage`` (its ``fault``:
    ``analysis/headline.py`` TRIAGE_SCHEMA), or None."""
    fault = triage.get("fault") if isinstance(triage, dict) else None
    if not isinstance(fault, dict):
        return None
    kd = fault.get("kmdf_driver") if isinstance(fault.get("kmdf_driver"), dict) else {}

    def text(v):
        return v if isinstance(v, str) and v else None
    return {"address": text(fault.get("address")), "where": text(fault.get("where")),
            "module": text(fault.get("module")), "driver": text(kd.get("name")),
            "kmdf_version": text(kd.get("kmdf_version"))}


STACK_FRAMES = 8   # frames a record keeps from the report's triage


def stack_facts(triage):
    """The record's ``stack`` from a report's ``triage``: its top frames as
    ``{where, module, trust, note}``, or None when the triage has no
    frames (older reports, sources without a saved context)."""
    frames = triage.get("stack") if isinstance(triage, dict) else None
    if not isinstance(frames, list) or not frames:
        return None   # no saved context: the signature keeps its five fields
    out = []
    for f in frames[:STACK_FRAMES]:
        if not isinstance(f, dict):
            continue

        def text(v):
            return v if isinstance(v, str) and v else None
        out.append({"where": text(f.get("where")), "module": text(f.get("module")), "trust": text(f.get("trust")),
                    "note": text(f.get("note"))})
    return out


class RecordBuilder(object):
    """Feed it the lines (:meth:`on_line`), then :meth:`finish`."""

    def __init__(self, path, sha256, size, file=None):
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.file = file
        self.head = None        # the report line
        self.tail = None        # the summary line
        self.triage = None
        self.tallies = []       # DriverTally, in order of first sight (objects, then the summary's drivers)
        self._by_key = {}       # driver key -> slot in tallies
        self._types = []        # type id -> WDF type name
        self._type_ids = {}
        self._addrs = array("Q")   # per object: address,
        self._slots = array("I")   # its driver's slot,
        self._type_of = array("I")  # its type id
        self.problem_lines = []    # (code, severity, address, owner address)
        self.objects = 0

    # -- the lines -------------------------------------------------------------
    def on_line(self, rec):
        kind = rec.get("record")
        if kind == "object":
            self._object(rec)
        elif kind == "problem":
            self.problem_lines.append((rec.get("code"), rec.get("severity"), rec.get("address"), rec.get("object")))
        elif kind == "report" and self.head is None:
            self.head = rec
        elif kind == "summary" and self.tail is None:
            self.tail = rec
            for d in rec.get("drivers") or ():
                if isinstance(d, dict):
                    self._driver_entry(d)
        elif kind == "triage":
            t = rec.get("triage")
            self.triage = t if isinstance(t, dict) else dict((k, v) for k, v in rec.items() if k != "record")
        # "allocated" lines (a lookaside's whole list) and kinds a newer memtree adds say nothing a record keeps

    def _slot(self, name, globals_):
        key = ("g", globals_) if globals_ else ("n", name)
        slot = self._by_key.get(key)
        if slot is None:
            slot = self._by_key[key] = len(self.tallies)
            self.tallies.append(DriverTally(name, globals_))
        return slot

    def _driver_entry(self, d):
        t = self.tallies[self._slot(d.get("name"), d.get("globals"))]
        for key in COUNTS + ("problems",):
            if key in d:
                t.reported[key] = d[key]
        if d.get("kmdf_version"):
            t.kmdf_version = str(d["kmdf_version"])

    def _object(self, obj):
        self.objects += 1
        slot = self._slot(obj.get("driver"), obj.get("globals"))
        c = self.tallies[slot].counted
        c["objects"] += 1
        mem = obj.get("memory")
        if isinstance(mem, dict):
            c["memory_objects"] += 1
            c["memory_bytes"] += _count(mem.get("length")) or 0
        if obj.get("lookaside") is not None:
            c["lookasides"] += 1
        c["mdls"] += len(obj.get("mdls") or ())
        wdf_type = obj.get("wdf_type")
        tid = self._type_ids.get(wdf_type)
        if tid is None:
            tid = self._type_ids[wdf_type] = len(self._types)
            self._types.append(wdf_type)
        self._addrs.append(_address(obj.get("address")) or 0)
        self._slots.append(slot)
        self._type_of.append(tid)

    def complete(self):
        """None when the lines make a whole report, else why not."""
        if self.head is None or self.head.get("schema") != REPORT_SCHEMA:
            return "the output is not a %s JSONL stream" % REPORT_SCHEMA
        if self.tail is None:
            return "the report ends early: no summary line after %d object lines" % self.objects
        return None

    # -- the record --------------------------------------------------------------
    def _owners(self):
        """{owner address: (slot, type name)} for the objects problems belong to
        (one pass over the objects' arrays)."""
        wanted = set(_address(owner) for _c, _s, _a, owner in self.problem_lines if owner)
        wanted.discard(None)
        found = {}
        if wanted:
            addrs, slots, types = self._addrs, self._slots, self._type_of
            for i in range(len(addrs)):
                a = addrs[i]
                if a in wanted and a not in found:
                    found[a] = (slots[i], self._types[types[i]])
        return found

    def _problems(self):
        """(listed problems, omitted count, counts by code, Focus items)."""
        owners = self._owners()
        at_globals = dict((_address(t.globals), slot) for slot, t in enumerate(self.tallies) if t.globals)
        listed, counts, focus = [], {}, []
        for code, severity, addr, owner in self.problem_lines:
            slot, wdf_type = owners.get(_address(owner), (None, None)) if owner else (None, None)
            if slot is None:
                slot = at_globals.get(_address(addr))  # the 0x10D P4 note is at the driver's globals
            t = self.tallies[slot] if slot is not None else None
            if t is not None:
                t.problems += 1
                t.problem_counts[code] = t.problem_counts.get(code, 0) + 1
            counts[code] = counts.get(code, 0) + 1
            name = t.name if t is not None else None
            listed.append({"code": code, "severity": severity, "driver": name, "address": addr})
            focus.append(Focus(code, severity, name, wdf_type))
        order = sorted(range(len(listed)), key=lambda i: (_SEVERITY_ORDER.get(listed[i]["severity"], 3), i))
        kept = [listed[i] for i in order[:MAX_PROBLEMS]]
        return kept, len(listed) - len(kept), dict(sorted(counts.items())), focus

    def _drivers_order(self):
        """Tally slots: the report's drivers in its order, then the drivers
        only objects named, in order of first sight."""
        listed = []
        for d in (self.tail or {}).get("drivers") or ():
            if isinstance(d, dict):
                key = ("g", d.get("globals")) if d.get("globals") else ("n", d.get("name"))
                slot = self._by_key.get(key)
                if slot is not None and slot not in listed:
                    listed.append(slot)
        seen = set(listed)
        return listed + [s for s in range(len(self.tallies)) if s not in seen]

    def finish(self, status, exit_code, error=None):
        rec = empty_record(self.path, self.sha256, self.size, status, exit_code, error, self.file)
        head = self.head or {}
        src = head.get("source") if isinstance(head.get("source"), dict) else {}
        rec["source"] = {"kind": src.get("kind"), "arch": src.get("arch"), "os_build": src.get("os_build"),
                         "dump_type": src.get("dump_type"), "origin": src.get("origin")}
        bc = head.get("bugcheck")
        rec["bugcheck"] = bc if isinstance(bc, dict) else None
        rec["fault"] = fault_facts(self.triage)
        order = self._drivers_order()
        problems, omitted, counts, focus = self._problems()
        drivers = [self.tallies[s].to_json() for s in order]
        rec["drivers"] = drivers
        rec["problems"] = problems
        rec["problems_omitted"] = omitted
        rec["problem_counts"] = counts
        summary = (self.tail or {}).get("summary")
        rec["summary"] = dict(summary) if isinstance(summary, dict) else None  # as memtree's
        stack = stack_facts(self.triage)
        if stack is not None:
            rec["stack"] = stack
        rec["signature"] = signature(rec["bugcheck"], drivers, focus, rec["fault"], stack)
        return rec
