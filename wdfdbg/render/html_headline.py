"""The report's ``triage`` key as the HTML page shows it.

The key's shape is ``TRIAGE_SCHEMA`` in ``wdfdbg/analysis/headline.py``
(bugcheck, fault, exception, crash thread and locks, top problems, what the
source can and cannot show, objects piling up); ``render/headline.py`` is
its text twin, and the page says the same things in the same words:
``Crash: NAME (CODE): meaning``, ``at amdppm+0x334c, in AmdPPM, a KMDF 1.15
driver``, ``exception: access violation (0xc0000005
STATUS_ACCESS_VIOLATION): write to 0xffffffffffffffff``, the locks the
crashing thread holds, the top problems.

:func:`headline_view` reads the key defensively (the page may be made from
a saved report someone edited: a value of the wrong type is left out, never
shown as Python) and joins it to the page: each lock, problem and piled-up
parent gets the index of its object's element (``#o-N``) when the report
has that object, the KMDF driver the anchor of its per-driver table.
"""

from wdfdbg.analysis.headline import TRIAGE_SCHEMA
from wdfdbg.decoders.bugcheck import code_text

MAX_MESSAGE = 300
_PREPOSITION = {"read": "from", "write": "to", "execute": "at"}


def _dict(v):
    return v if isinstance(v, dict) else {}


def _str(v):
    return v if isinstance(v, str) and v else None


def _list(v):
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _strings(v):
    return [x for x in v if isinstance(x, str) and x] if isinstance(v, list) else []


def _short(msg):
    return msg if len(msg) <= MAX_MESSAGE else msg[:MAX_MESSAGE - 3].rstrip() + "..."


class Links(object):
    """Where the headline's things are on the page: ``object_at(address)``
    -> element index or None, ``problem_at(problem)`` -> element index or
    None, ``driver_anchor(name)`` -> an element id or None."""

    def __init__(self, object_at, problem_at, driver_anchor):
        self.object_at = object_at
        self.problem_at = problem_at
        self.driver_anchor = driver_anchor


def _crash(bc):
    if not bc or not _str(bc.get("code")):
        return None
    return {"name": _str(bc.get("name")) or "bugcheck", "code": code_text(bc["code"]), "meaning": _str(bc.get("meaning"))}


def _fault(fault, links):
    if not fault:
        return None
    drv = _dict(fault.get("kmdf_driver"))
    name = _str(drv.get("name"))
    return {"where": _str(fault.get("where")) or _str(fault.get("address")), "module": _str(fault.get("module")),
            "driver": name, "kmdf_version": _str(drv.get("kmdf_version")), "globals": _str(drv.get("globals")),
            "matched_by": _str(drv.get("matched_by")), "anchor": links.driver_anchor(name) if name else None}


def _exception(exc):
    if not exc:
        return None
    code = _str(exc.get("code"))
    if code is None or code == "not captured":
        return {"captured": False}
    access = exc.get("access") if exc.get("access") in _PREPOSITION else None
    out = {"captured": True, "meaning": _str(exc.get("meaning")) or "exception",
           "label": code + (" " + exc["name"] if _str(exc.get("name")) else ""), "access": access,
           "preposition": _PREPOSITION.get(access), "target": _str(exc.get("target")) or "an address not captured",
           "record_missing": None, "source": _str(exc.get("source"))}
    if exc.get("record_captured") is False and _str(exc.get("record")):
        out["record_missing"] = exc["record"]
    return out


def _lock(lock, links):
    kind = _str(lock.get("kind")) or "lock"
    obj = _str(lock.get("object"))
    return {"kind": kind, "handle": _str(lock.get("handle")), "object": obj,
            "object_i": links.object_at(obj) if obj else None, "driver": _str(lock.get("driver")),
            "state": _str(lock.get("state"))}


def _problem(p, links):
    code = _str(p.get("code"))
    if code is None:
        return None
    return {"severity": _str(p.get("severity")) or "info", "code": code,
            "message": _short(_str(p.get("message")) or ""), "address": _str(p.get("address")),
            "object_i": links.problem_at(p)}


def _pile(x, links):
    parent = _str(x.get("parent"))
    count, nbytes = x.get("count"), x.get("bytes")
    return {"parent": parent, "parent_i": links.object_at(parent) if parent else None,
            "driver": _str(x.get("driver")), "parent_type": _str(x.get("parent_type")) or "object",
            "child_type": _str(x.get("child_type")) or "object",
            "count": count if isinstance(count, int) and not isinstance(count, bool) else None,
            "bytes": nbytes if isinstance(nbytes, int) and not isinstance(nbytes, bool) else None}


TOP_FRAMES = 12
_TRUSTS = ("context", "cfi", "frame-pointer", "scan")


def _frames(frames, links, kmdf):
    """The top frames: ``{index, where, trust, anchor}``; a frame in a KMDF
    driver links to that driver's table (``anchor``)."""
    out = []
    for f in _list(frames)[:TOP_FRAMES]:
        module = _str(f.get("module"))
        driver = kmdf.get(module.lower()) if module else None
        idx = f.get("index")
        out.append({"index": idx if isinstance(idx, int) and not isinstance(idx, bool) else None,
                    "where": _str(f.get("where")) or _str(f.get("address")) or "unknown",
                    "trust": f.get("trust") if f.get("trust") in _TRUSTS else "unknown",
                    "anchor": links.driver_anchor(driver) if driver else None})
    return out


def _stack_view(triage, links):
    proc = _dict(triage.get("process"))
    caller = _dict(triage.get("bugcheck_caller"))
    callbacks = []
    kmdf = {}
    for c in _list(triage.get("kmdf_context")):
        name = _str(c.get("driver"))
        if name:
            kmdf.setdefault(name.lower(), name)
        objs = [{"type": _str(o.get("type")) or "object", "handle": _str(o.get("handle")),
                 "object": _str(o.get("object")), "object_i": links.object_at(o["object"]) if _str(o.get("object"))
                 else None, "found_in": _str(o.get("found_in"))} for o in _list(c.get("objects"))]
        callbacks.append({"driver": name, "callback": _str(c.get("callback")), "missing": _str(c.get("missing")),
                          "objects": objs})
    fault_drv = _str(_dict(_dict(triage.get("fault")).get("kmdf_driver")).get("name"))
    fault_mod = _str(_dict(triage.get("fault")).get("module"))
    if fault_drv and fault_mod:
        kmdf.setdefault(fault_mod.lower(), fault_drv)
    return {"process": {"name": _str(proc.get("name")), "address": _str(proc.get("address")),
                        "reason": _str(proc.get("reason"))} if _str(proc.get("name")) else None,
            "bugcheck_caller": _str(caller.get("where")),
            "frames": _frames(triage.get("stack"), links, kmdf), "stack_end": _str(triage.get("stack_end")),
            "callbacks": callbacks[:3]}


def headline_view(triage, links):
    """The headline's parts for the template, or None without a triage
    dict of ``TRIAGE_SCHEMA``'s shape (its required keys). Keys: ``crash``
    (or None: no bugcheck), ``fault``, ``exception``, ``thread``,
    ``my_locks`` (held by the crashing thread), ``other_locks``,
    ``problems`` (the top problems, as the JSON triage ranks them),
    ``piling``, ``source`` ({description, can_show, cannot_show} or None)."""
    if not isinstance(triage, dict) or not all(k in triage for k in TRIAGE_SCHEMA["required"]):
        return None  # another shape: the page shows its facts as they are, and the document's bugcheck
    mine = [_lock(x, links) for x in _list(triage.get("locks_held_by_crashing_thread"))]
    others = [_lock(x, links) for x in _list(triage.get("locks_held"))]
    # every top problem, the lock ones too: the page's "Top problems" must
    # agree with the JSON triage and the problems card
    problems = [_problem(p, links) for p in _list(triage.get("top_problems"))]
    src = _dict(triage.get("source"))
    source = None
    if src:
        source = {"description": _str(src.get("description")) or _str(src.get("kind")) or "a source",
                  "can_show": _strings(src.get("can_show")), "cannot_show": _strings(src.get("cannot_show"))}
    return {"crash": _crash(_dict(triage.get("bugcheck"))), "fault": _fault(_dict(triage.get("fault")), links),
            "exception": _exception(_dict(triage.get("exception"))), "thread": _str(triage.get("crash_thread")),
            "my_locks": mine, "other_locks": others, "problems": [p for p in problems if p is not None],
            "piling": [_pile(x, links) for x in _list(triage.get("piling_up"))], "source": source,
            "stack": _stack_view(triage, links)}
