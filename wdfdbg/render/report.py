"""The JSON report, version 1 (``shared/spec/report-json.md``).

:func:`build_report` turns decoded drivers, nodes and problems into the
contract's document; :func:`object_record` makes one object record. Output is
deterministic. The JSON Schema ships as ``wdfdbg/data/report.schema.json``.
"""

import bisect
import json
import os

from wdfdbg import __version__
from wdfdbg.decoders import types as fxt

SCHEMA_ID = "wdfdbg.report/1"


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
        "memory": node.memory,
        "lookaside": node.lookaside,
        "mdls": list(node.mdls),
        "problems": [p.to_json() for p in node.problems],
        # extensions (the contract is only ever extended)
        "class_source": h.cls_source,
        "object_size": h.object_size,
        "globals": hx(h.globals),
        "contexts": [{"header": hx(c["header"]), "name": c["name"], "size": c["size"], "context": hx(c["context"])}
                     for c in node.contexts],
    }
    for k, v in sorted(node.extras().items()):
        rec.setdefault(k, v)
    return rec


def bugcheck_json(session):
    bc = session.target.bugcheck()
    if bc is None:
        return None
    try:
        from wdfdbg.decoders.bugcheck import describe_bugcheck
        return describe_bugcheck(session, bc)
    except ImportError:
        return {"code": hx(bc.code), "name": None, "parameters": [hx(p) for p in bc.parameters]}


def summary(nodes, problems, extra_mdls=0):
    mem = [n for n in nodes if n.memory is not None]
    return {
        "objects": len(nodes),
        "memory_objects": len(mem),
        "memory_bytes": sum((n.memory.get("length") or 0) for n in mem),
        "lookasides": sum(1 for n in nodes if n.lookaside is not None),
        "mdls": sum(len(n.mdls) for n in nodes) + extra_mdls,
        "problems": len(problems),
    }


def driver_json(d, nodes):
    count = sum(1 for n in nodes if n.header.globals == d.globals)
    return {"name": d.name, "globals": hx(d.globals), "driver": hx(d.driver), "tag": d.tag, "objects": count,
            "verifier": d.verifier_on}


def build_report(session, drivers, nodes, problems, extra=None, command=None, extra_mdls=0):
    """The whole report document. ``extra``: keys to add at the top level;
    ``extra_mdls``: MDLs reported outside object records (counted in the
    summary)."""
    problems = list(problems)
    doc = {
        "schema": SCHEMA_ID,
        "tool": {"name": "wdfdbg", "version": __version__},
        "source": session.source_json(),
        "bugcheck": bugcheck_json(session),
        "drivers": [driver_json(d, nodes) for d in drivers],
        "objects": [object_record(session, n) for n in nodes],
        "problems": [p.to_json() for p in problems],
        "summary": summary(nodes, problems, extra_mdls=extra_mdls),
    }
    if command:
        doc["command"] = command
    if session.notes:
        doc["notes"] = list(session.notes)
    if extra:
        for k, v in extra.items():
            doc.setdefault(k, v)
    return doc


_ENC = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": "))


def dumps(doc):
    """One line of JSON (the C encoder: fast and deterministic)."""
    return _ENC.encode(doc)


def write_streaming(session, drivers, nodes, problems, out, command=None):
    """Write the same document as ``dumps(build_report(...))`` to ``out``
    one object record at a time, so memory does not grow with the report's
    text."""
    doc = build_report(session, drivers, [], problems, command=command)
    doc["drivers"] = [driver_json(d, nodes) for d in drivers]
    doc["summary"] = summary(nodes, list(problems))
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
