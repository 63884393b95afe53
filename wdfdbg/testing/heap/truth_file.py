"""The truth file's compact form: runs of object records that differ only
by address-relative values, folded into one template each.

No C type here: this is the JSON form of :mod:`~wdfdbg.testing.heap.truth`
(``fixtures/<name>.truth.json``) and how tests read it back.
"""

import json

from wdfdbg.testing.heap.truth import hx

REL_WINDOW = 0x10000
MIN_RUN = 8
# keys whose values are stored relative to the object's address in a run
# template (never parent, list_parent, lookaside, ...: those are shared)
REL_KEYS = frozenset(["address", "fx_pool_header", "debug_extension", "header", "object", "context", "buffer",
                      "handle"])


def _templ(value, addr, mask, key=None):
    if isinstance(value, dict):
        return dict((k, _templ(v, addr, mask, k)) for k, v in value.items())
    if isinstance(value, list):
        return [_templ(v, addr, mask) for v in value]
    if key in REL_KEYS and isinstance(value, str) and value.startswith("0x"):
        v = int(value, 16)
        if key == "handle" and v == addr ^ mask:
            return {"$handle": 1}
        if abs(v - addr) < REL_WINDOW:
            return {"$rel": v - addr}
    return value


def _untempl(value, addr, mask):
    if isinstance(value, dict):
        if len(value) == 1 and "$rel" in value:
            return hx(addr + value["$rel"])
        if len(value) == 1 and "$handle" in value:
            return hx(addr ^ mask)
        return dict((k, _untempl(v, addr, mask)) for k, v in value.items())
    if isinstance(value, list):
        return [_untempl(v, addr, mask) for v in value]
    return value


def compact_objects(records, mask):
    """Fold runs (>= MIN_RUN) of consecutive records that differ only by
    address-relative values into ``{"run": {count, addresses, template}}``."""
    out = []
    i = 0
    n = len(records)
    keys = []
    for r in records:
        addr = int(r["address"], 16)
        keys.append(json.dumps(_templ(r, addr, mask), sort_keys=True))
    while i < n:
        j = i + 1
        while j < n and keys[j] == keys[i]:
            j += 1
        if j - i >= MIN_RUN:
            out.append({"run": {"count": j - i, "addresses": [records[k]["address"] for k in range(i, j)],
                                "template": json.loads(keys[i])}})
        else:
            out.extend(records[i:j])
        i = j
    return out


def expand_objects(objects, mask):
    """Inverse of :func:`compact_objects`."""
    out = []
    for r in objects:
        run = r.get("run") if isinstance(r, dict) and len(r) == 1 else None
        if run is None:
            out.append(r)
            continue
        for a in run["addresses"]:
            out.append(_untempl(run["template"], int(a, 16), mask))
    return out


def load_truth(path_or_dict):
    """Read a truth file (or dict) and expand object runs."""
    if isinstance(path_or_dict, dict):
        t = dict(path_or_dict)
    else:
        with open(path_or_dict, "r") as f:
            t = json.load(f)
    if t.get("objects") is not None:
        t["objects"] = expand_objects(t["objects"], int(t["handle_mask"], 16))
    return t
