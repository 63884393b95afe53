"""The JSON report, version 1 (``shared/spec/report-json.md``; what this
version adds to it: ``docs/report.md``).

* :func:`build_report` turns decoded drivers, nodes and problems into the
  contract's document; :func:`object_record` makes one object record.
* :class:`JsonReportWriter` writes the same document from a stream of
  nodes (a sink of ``analysis.tree``): each record is encoded when its node
  comes and spooled (``render/spool.py``), because the document's
  ``drivers``, with their counts, come before its ``objects``; at the end
  it writes the head, copies the spooled records (patching the few that got
  late facts: problems found after them, a lookaside's whole ``allocated``
  list) and the tail.
* :class:`JsonLinesWriter` (``--jsonl``) writes one line per record as it
  comes: a ``report`` line, ``object`` lines, then ``allocated``, ``problem``,
  a ``summary`` line and a final ``triage`` line.
* Both end with what only the whole walk knows (:func:`analysis_keys`:
  ``triage``, ``piling``; schema 1.2).

Output is deterministic. The JSON Schema ships as
``wdfdbg/data/report.schema.json``.
"""

import bisect
import json
import os
from array import array

from wdfdbg import __version__
from wdfdbg.analysis.tree import Sink
from wdfdbg.decoders import types as fxt
from wdfdbg.errors import LayoutError, ReadError
from wdfdbg.render.spool import Spool

SCHEMA_ID = "wdfdbg.report/1"
SCHEMA_VERSION = "1.2"
# The object's own facts, which its record carries at the top level: the
# record's ``memory`` leaves them out (schema 1.1).
MEMORY_OBJECT_KEYS = ("class", "class_source", "object", "handle", "object_size")


def hx(v):
    return None if v is None else "0x%x" % v


def schema_path():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "report.schema.json")


def load_schema():
    with open(schema_path(), "r") as f:
        return json.load(f)


def assign_problems(nodes, problems, span=None):
    """Attach each problem to the node whose header holds its address
    (``[address, address + span)``, span defaults to the object's size or
    its FxObject header size)."""
    if not nodes:
        return
    order = sorted(range(len(nodes)), key=lambda i: nodes[i].address)
    addrs = [nodes[i].address for i in order]
    for p in problems:
        if p.address is None:
            continue
        j = bisect.bisect_right(addrs, p.address) - 1
        if j < 0:
            continue
        node = nodes[order[j]]
        size = span or max(node.header.object_size or 0, 0x68)
        if p.address < node.address + size and p not in node.problems:
            node.problems = list(node.problems) + [p]


def lean_memory(memory):
    """An object record's ``memory``: the memory record without the
    object's own facts (records made for the single-object commands carry
    them)."""
    if memory is None or "object" not in memory:
        return memory
    return dict((k, v) for k, v in memory.items() if k not in MEMORY_OBJECT_KEYS)


def object_record(session, node):
    h = node.header
    rec = {
        "address": hx(h.address),
        "handle": hx(node.handle),
        "wdf_type": node.wdf_type,
        "fx_type": hx(h.fx_type),
        "class": h.cls,
        "driver": node.driver,
        "parent": hx(node.parent),
        "depth": node.depth,
        "refcount": h.refcount,
        "state": fxt.state_name(h.state) if h.state is not None else None,
        "flags": fxt.flag_names(h.flags or 0),
        "memory": lean_memory(node.memory),
        "lookaside": node.lookaside,
        "mdls": list(node.mdls),
        "problems": [p.to_json() for p in node.problems],
        # extensions (the contract is only ever extended)
        "class_source": h.cls_source,
        "object_size": h.object_size,
        "globals": hx(h.globals),
        "contexts": [c.to_json() for c in node.contexts],
    }
    extra = node._extra
    if extra:
        for k, v in sorted(extra.items()):
            rec.setdefault(k, v)
    return rec


# -- the same record as text, without building its dict ------------------------
_encode_string = json.encoder.encode_basestring_ascii  # what JSONEncoder(ensure_ascii=True) uses
_BASE_KEYS = frozenset(("address", "handle", "wdf_type", "fx_type", "class", "driver", "parent", "depth", "refcount",
                        "state", "flags", "memory", "lookaside", "mdls", "problems", "class_source", "object_size",
                        "globals", "contexts"))
_RECORD = ('{"address": %s, "handle": %s, "wdf_type": %s, "fx_type": %s, "class": %s, "driver": %s, "parent": %s, '
           '"depth": %s, "refcount": %s, "state": %s, "flags": %s, "memory": %s, "lookaside": %s, "mdls": %s, '
           '"problems": %s, "class_source": %s, "object_size": %s, "globals": %s, "contexts": %s%s}')
_strings = {None: "null"}   # the few names a tree repeats (classes, drivers, states) -> their JSON
_flags = {}     # m_ObjectFlags value -> its JSON list of names
_states = {}    # m_ObjectState value -> its JSON name


def _js(v):
    r = _strings.get(v)
    if r is None:
        r = _encode_string(v)
        if len(_strings) < 4096:
            _strings[v] = r
    return r


def _jx(v):
    return "null" if v is None else '"0x%x"' % v


def _jn(v):
    return "null" if v is None else _ENC.encode(v)


def encode_object(session, node):
    """``dumps(object_record(session, node))``, made as text directly (the
    report's hot path: most of a record is scalars whose JSON is one
    format). Equal byte for byte; the tests compare the two on every
    fixture."""
    h = node.header
    flags = h.flags or 0
    fj = _flags.get(flags)
    if fj is None:
        fj = _flags[flags] = _ENC.encode(fxt.flag_names(flags))
    state = h.state
    if state is None:
        sj = "null"
    else:
        sj = _states.get(state)
        if sj is None:
            sj = _states[state] = _encode_string(fxt.state_name(state))
    mem = node.memory
    mem = "null" if mem is None else _ENC.encode(lean_memory(mem) if "object" in mem else mem)
    contexts = node.contexts
    # (few objects have a context: the plain encoder for them)
    contexts = _ENC.encode([c.to_json() for c in contexts]) if contexts else "[]"
    rest = ""
    extra = node._extra
    if extra:
        rest = "".join(", %s: %s" % (_encode_string(k), _ENC.encode(v)) for k, v in sorted(extra.items())
                       if k not in _BASE_KEYS)
    handle, parent, globals_ = node.handle, node.parent, h.globals
    strings = _strings
    wdf, cls, driver, source = node.wdf_type, h.cls, node.driver, h.cls_source
    refcount, size = h.refcount, h.object_size
    return _RECORD % (
        '"0x%x"' % h.address, "null" if handle is None else '"0x%x"' % handle, strings.get(wdf) or _js(wdf),
        "null" if h.fx_type is None else '"0x%x"' % h.fx_type, strings.get(cls) or _js(cls),
        strings.get(driver) or _js(driver), "null" if parent is None else '"0x%x"' % parent, "%d" % node.depth,
        "null" if refcount is None else "%d" % refcount, sj, fj, mem,
        "null" if node.lookaside is None else _ENC.encode(node.lookaside),
        _ENC.encode(list(node.mdls)) if node.mdls else "[]",
        _ENC.encode([p.to_json() for p in node.problems]) if node.problems else "[]",
        strings.get(source) or _js(source), "null" if size is None else "%d" % size,
        "null" if globals_ is None else '"0x%x"' % globals_, contexts, rest)


def bugcheck_json(session):
    bc = session.target.bugcheck()
    if bc is None:
        return None
    try:
        from wdfdbg.decoders.bugcheck import describe_bugcheck
        return describe_bugcheck(session, bc)
    except ImportError:
        return {"code": hx(bc.code), "name": None, "parameters": [hx(p) for p in bc.parameters]}


class Counts(object):
    """What a report's records add up to, per driver (by FX_DRIVER_GLOBALS)
    and in all: objects, memory objects and their bytes, lookasides, MDLs,
    problems at the objects. Fed one node at a time."""

    FIELDS = ("objects", "memory_objects", "memory_bytes", "lookasides", "mdls", "problems")

    def __init__(self):
        self.by_globals = {}
        self._late = 0

    @property
    def total(self):
        t = [0] * 6
        for row in self.by_globals.values():
            for i in range(6):
                t[i] += row[i]
        return t

    def add(self, node):
        g = node.header.globals
        row = self.by_globals.get(g)
        if row is None:
            row = self.by_globals[g] = [0] * 6
        row[0] += 1
        mem = node.memory
        if mem is not None:
            row[1] += 1
            row[2] += mem.get("length") or 0
        if node.lookaside is not None:
            row[3] += 1
        if node.mdls:
            row[4] += len(node.mdls)
        if node.problems:
            row[5] += len(node.problems)

    def add_problems(self, globals_addr, n):
        """``n`` problems that joined a record of that driver later."""
        row = self.by_globals.get(globals_addr)
        if row is None:
            row = self.by_globals[globals_addr] = [0] * 6
        row[5] += n

    def driver_json(self, d):
        row = self.by_globals.get(d.globals) or [0] * 6
        out = {"name": d.name, "globals": hx(d.globals), "driver": hx(d.driver), "tag": d.tag, "objects": row[0],
               "verifier": d.verifier_on, "kmdf_version": getattr(d, "kmdf_version", None)}
        for k, v in zip(self.FIELDS[1:], row[1:]):
            out[k] = v
        return out

    def summary(self, problems, extra_mdls=0):
        t = self.total
        return {"objects": t[0], "memory_objects": t[1], "memory_bytes": t[2], "lookasides": t[3],
                "mdls": t[4] + extra_mdls, "problems": len(problems)}


def summary(nodes, problems, extra_mdls=0):
    c = Counts()
    for n in nodes:
        c.add(n)
    return c.summary(list(problems), extra_mdls)


def driver_json(d, nodes):
    c = Counts()
    for n in nodes:
        if n.header.globals == d.globals:
            c.add(n)
    return c.driver_json(d)


def _document(session, drivers_json, problems, summary_json, extra=None, command=None):
    """The document with an empty ``objects`` list, keys in contract order."""
    doc = {
        "schema": SCHEMA_ID,
        "tool": {"name": "wdfdbg", "version": __version__},
        "source": session.source_json(),
        "bugcheck": bugcheck_json(session),
        "drivers": drivers_json,
        "objects": [],
        "problems": [p.to_json() for p in problems],
        "summary": summary_json,
        "schema_version": SCHEMA_VERSION,
    }
    if command:
        doc["command"] = command
    if session.notes:
        doc["notes"] = list(session.notes)
    if extra:
        for k, v in extra.items():
            doc.setdefault(k, v)
    return doc


def _fill_versions(session, drivers):
    """The drivers' KMDF versions (:func:`fill_versions`). A version is an
    optional fact: memory that cannot be read or a type no source has
    leaves it null and says why in the report's notes; types that are
    wrong (InputError) stop the command as everywhere else."""
    from wdfdbg.decoders.drivers import fill_versions
    try:
        fill_versions(session, [d for d in drivers if hasattr(d, "kmdf_version")])
    except (ReadError, LayoutError) as e:
        note = "the drivers' KMDF versions are unknown: %s" % e
        if note not in session.notes:
            session.notes.append(note)


def build_report(session, drivers, nodes, problems, extra=None, command=None, extra_mdls=0):
    """The whole report document. ``extra``: keys to add at the top level;
    ``extra_mdls``: MDLs reported outside object records (counted in the
    summary)."""
    problems = list(problems)
    counts = Counts()
    for n in nodes:
        counts.add(n)
    _fill_versions(session, drivers)
    doc = _document(session, [counts.driver_json(d) for d in drivers], problems,
                    counts.summary(problems, extra_mdls), extra, command)
    doc["objects"] = [object_record(session, n) for n in nodes]
    return doc


_ENC = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": "))


def dumps(doc):
    """One line of JSON (the C encoder: fast and deterministic)."""
    return _ENC.encode(doc)


def write_streaming(session, drivers, nodes, problems, out, command=None):
    """Write ``dumps(build_report(...))`` and a newline to ``out`` one
    object record at a time (for callers holding a list of nodes)."""
    counts = Counts()
    for n in nodes:
        counts.add(n)
    problems = list(problems)
    _fill_versions(session, drivers)
    doc = _document(session, [counts.driver_json(d) for d in drivers], problems, counts.summary(problems),
                    command=command)
    head, tail = _ENC.encode(doc).split('"objects": []', 1)
    out.write(head)
    out.write('"objects": [')
    first = True
    for n in nodes:
        if not first:
            out.write(", ")
        first = False
        out.write(_ENC.encode(object_record(session, n)))
    out.write("]")
    out.write(tail)
    out.write("\n")


class _RecordSink(Sink):
    """What the two streaming writers share: which records they write
    (``keep(node)``, default all), their counts, and the late facts that
    belong to those records."""

    def __init__(self, session, out, command=None, keep=None, extra=None, drivers=None):
        self.session = session
        self.out = out
        self.command = command
        self.keep = keep
        self.extra = extra              # callable -> dict of top-level keys, called at the end
        self.drivers_filter = drivers   # callable(drivers) -> the drivers to list
        self.counts = Counts()
        self._seqs = array("Q") if keep is not None else None  # analysis seq of each written record

    def _wanted(self, node, seq):
        if self.keep is not None:
            if not self.keep(node):
                return False
            self._seqs.append(seq)
        self.counts.add(node)
        return True

    def _line_of(self, seq):
        """The line a record was written on, or None when it was not written."""
        if self._seqs is None:
            return seq
        i = bisect.bisect_left(self._seqs, seq)
        return i if i < len(self._seqs) and self._seqs[i] == seq else None

    def _late(self, analysis):
        """{line: (problems to add, whole allocated list or None)} for the
        written records with late facts; their problems are counted."""
        out = {}
        for seq, (slot, problems, _address) in analysis.late.items():
            line = self._line_of(seq)
            if line is None:
                continue
            out[line] = (problems, None)
            self.counts.add_problems(analysis.globals_table[slot], len(problems))
        for seq, (_address, allocated) in analysis.grown.items():
            line = self._line_of(seq)
            if line is not None:
                out[line] = (out.get(line, ((), None))[0], allocated)
        return out

    def _drivers_json(self, analysis):
        drivers = analysis.drivers
        if self.drivers_filter is not None:
            drivers = self.drivers_filter(drivers)
        _fill_versions(self.session, drivers)
        return [self.counts.driver_json(d) for d in drivers]


def _patch(text, problems, allocated, order):
    rec = json.loads(text)
    if problems:
        merged = list(rec["problems"]) + [p.to_json() for p in problems]
        # the record's problems in log order, as a report built after the walk has them
        merged.sort(key=lambda pj: order.get((pj["code"], pj["address"], pj["message"]), 0))
        rec["problems"] = merged
    if allocated is not None and rec.get("lookaside") is not None:
        rec["lookaside"]["allocated"] = allocated
    return _ENC.encode(rec)


def _log_order(problems):
    return dict(((p.code, hx(p.address), p.message), i) for i, p in enumerate(problems))


def triage_json(analysis):
    """The report's ``triage`` key for a finished analysis: the headline's
    facts (``analysis/headline.build_triage``) and, under ``headline``, its
    lines as text (what ``render/headline.py`` prints first; the HTML page
    shows them)."""
    facts = analysis.triage_facts
    if facts is None:
        return None
    from wdfdbg.render.headline import headline_lines
    out = dict(facts)
    out["headline"] = headline_lines(facts)
    return out


def analysis_keys(analysis):
    """The keys a memtree-like document adds at its end (schema 1.2):
    ``triage`` and ``piling`` (the OBJECTS_PILING_UP count table). Both
    depend on the whole walk (held locks, problems, piles), so they come
    after the objects."""
    if getattr(analysis, "feed", None) is None:
        return {}
    return {"triage": triage_json(analysis), "piling": analysis.piling_json()}


class JsonReportWriter(_RecordSink):
    """The report document from a stream of nodes (see the module
    docstring), written to ``out`` (anything with ``write``) at the end."""

    def __init__(self, session, out, command=None, keep=None, extra=None, drivers=None, max_memory=None):
        _RecordSink.__init__(self, session, out, command, keep, extra, drivers)
        self.spool = Spool() if max_memory is None else Spool(max_memory)

    def node(self, node, seq):
        if self.keep is None:
            self.counts.add(node)
        elif not self._wanted(node, seq):
            return
        self.spool.write_line(encode_object(self.session, node))

    def end(self, analysis):
        late = self._late(analysis)
        problems = list(analysis.problems)
        extra = self.extra() if self.extra is not None else None
        extra = dict(extra or {}, **analysis_keys(analysis))
        doc = _document(self.session, self._drivers_json(analysis), problems, self.counts.summary(problems),
                        extra, self.command)
        head, tail = _ENC.encode(doc).split('"objects": []', 1)
        out = self.out
        out.write(head)
        out.write('"objects": [')
        if late:
            order = _log_order(problems)
            for i, text in enumerate(self.spool):
                if i:
                    out.write(", ")
                hit = late.get(i)
                out.write(text if hit is None else _patch(text, hit[0], hit[1], order))
        else:
            for piece in self.spool.joined(", "):
                out.write(piece)
        self.spool.close()
        out.write("]")
        out.write(tail)
        out.write("\n")


class JsonLinesWriter(_RecordSink):
    """``--jsonl``: one JSON document per line, written as the records come
    (shape: ``docs/report.md``; schema: ``$defs/jsonl_line``)."""

    def __init__(self, session, out, command=None, keep=None, extra=None, drivers=None):
        _RecordSink.__init__(self, session, out, command, keep, extra, drivers)
        self._owner = {}  # id(problem) -> the address of the record it is in

    def begin(self, analysis):
        head = {"record": "report", "schema": SCHEMA_ID, "schema_version": SCHEMA_VERSION,
                "tool": {"name": "wdfdbg", "version": __version__}, "source": self.session.source_json(),
                "bugcheck": bugcheck_json(self.session)}
        if self.command:
            head["command"] = self.command
        self.out.write(_ENC.encode(head))
        self.out.write("\n")

    def node(self, node, seq):
        if self._wanted(node, seq):
            text = encode_object(self.session, node)
            self.out.write('{"record": "object", ')
            self.out.write(text[1:])
            self.out.write("\n")
            if node.problems:
                a = hx(node.address)
                for p in node.problems:
                    self._owner[id(p)] = a

    def end(self, analysis):
        out = self.out
        self._late(analysis)  # counts the late problems of written records
        for seq, (address, allocated) in sorted(analysis.grown.items()):
            if self._line_of(seq) is not None:
                out.write(_ENC.encode({"record": "allocated", "address": hx(address), "allocated": allocated}))
                out.write("\n")
        owner = self._owner
        for seq, (_slot, problems, address) in analysis.late.items():
            if self._line_of(seq) is not None:
                for p in problems:
                    owner[id(p)] = hx(address)
        for p in analysis.problems:
            rec = {"record": "problem"}
            rec.update(p.to_json())
            rec["object"] = owner.get(id(p))
            out.write(_ENC.encode(rec))
            out.write("\n")
        problems = list(analysis.problems)
        tail = {"record": "summary", "drivers": self._drivers_json(analysis),
                "summary": self.counts.summary(problems), "notes": list(self.session.notes)}
        extra = self.extra() if self.extra is not None else None
        if extra:
            for k, v in extra.items():
                tail.setdefault(k, v)
        out.write(_ENC.encode(tail))
        out.write("\n")
        keys = analysis_keys(analysis)
        if keys:
            # the last line: what the whole walk says (docs/report.md)
            line = {"record": "triage"}
            line.update(keys)
            out.write(_ENC.encode(line))
            out.write("\n")
