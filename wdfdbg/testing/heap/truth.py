"""The ground truth ("truth", ``fixtures/<name>.truth.json``): what the
builder placed where, independent of any decoder, as a dict of JSON values.
Addresses are hex strings, sizes numbers.

No C type is laid out here. The records come from the builder's own
bookkeeping and from bounded walks over the bytes it wrote (child lists
forward and back, SLISTs, MDL Next chains), never from a decoder; the
offsets they add (FxRequest buffer fields, FxLibraryGlobals members,
_FX_DUMP_DRIVER_INFO_ENTRY) come from the same profile the builder used.
The compact file form (object runs) and reading it back are in
:mod:`~wdfdbg.testing.heap.truth_file`.

Address conventions (decoders should report problems at these addresses)
------------------------------------------------------------------------
* An *object address* is the FxObject pointer (what the handle encodes), never
  the pool block or the FX_POOL_HEADER.
* A *list entry* is ``object + offset(m_ChildEntry)`` (x64: +0x48); a *list
  head* is ``object + offset(m_ChildListHead)`` (x64: +0x20).
* ``CHILD_LIST_CYCLE``: at the list head whose forward (Flink) walk comes back
  to an entry it already visited.
* ``CHILD_LIST_CORRUPT``: at the entry whose ``Blink`` is not the entry the
  walk came from (the entry holding the bad link). Walkers that check
  ``X.Flink->Blink == X`` instead find it at the previous entry: truth lists
  that address as an alternative in the same group.
* ``PARENT_MISMATCH``: at the child object (in A's list, m_ParentObject = B).
* ``UNREADABLE``: at the first unreadable address the walk needed, i.e. the
  child's list entry (its object address is accepted in the same group).
* ``MDL_CHAIN_CYCLE`` / ``MDL_INCONSISTENT``: at the MDL address (for a cycle,
  the first MDL of the chain as referenced, whose Next walk comes back).
* ``LOOKASIDE_INCONSISTENT``: at the FxLookasideList object.
* ``MEMORY_OUT_OF_BOUNDS``: at the WDF_MEMORY_DESCRIPTOR.
* ``LIKELY_LEAK`` (warning): at the parent holding >= 1000 WDFMEMORY children.
* ``BAD_HANDLE`` for a 0x10D/0x5 P2 that decodes to a freed object: at the
  object it decodes to.

``expected_problems`` entries carry ``group``: a decoder satisfies the truth
when, for every group whose entries are ``required``, it reports at least one
``{code, address}`` of that group (reporting all is fine). ``found_by`` says
which analysis finds it: ``walk`` (driver list -> child lists -> memory,
lookaside and MDL facts of the walked objects, AllocatedMdls), ``triage``
(rules over the walked tree and the bugcheck), ``descriptor`` (decoding the
WDF_MEMORY_DESCRIPTOR at its address).

Other decisions
---------------
* ``in_tree``: reached from a driver's FxDriver by following child lists: the
  forward (Flink) walk, and when it breaks, the backward (Blink) walk from
  the list head (``reachable_by_flink`` tells them apart). Requests presented
  by a queue but not parented (m_ParentObject NULL, m_ChildEntry pointing at
  itself) are *not* in the tree: ``presented_by`` names the queue.
* ``parent`` is the stored m_ParentObject; ``list_parent`` the object whose
  child list holds the object in the walk (they differ for PARENT_MISMATCH).
* Freed lookaside entries are not objects: they are listed under their
  lookaside (``free_entries`` = SLIST entry addresses = the FX_POOL_HEADER
  address of each entry, whose first pointer is the SLIST link;
  ``free_objects`` = the stale FxObject images, state 12 Destroyed, vptr
  ``FxObject::`vftable'``).
* ``memory.pool_tag`` is the tag in the nt ``_POOL_HEADER`` of the pool block
  holding the buffer (the object's own block for inline buffers), ``null``
  when there is none (page-aligned big allocations, image or mapped
  buffers); ``requested_tag`` is the tag the creating call asked for.
* Pool tracking (FxPoolTrackingOn) is always off, so no FX_POOL_TRACKER.
* ``<drv>!WdfDriverGlobals`` is the address of the client's pointer variable;
  the variable holds the address of ``_FX_DRIVER_GLOBALS.Public``.
* User-mode buffers are not in the snapshot (unreadable); the system-VA
  mappings of MDLs (MappedSystemVa) are.
"""

from wdfdbg.decoders import types as fxt
from wdfdbg.problems import CODES
from wdfdbg.testing.heap.drivers import FOLDED_VTABLES, MDLS_PER_BLOCK
from wdfdbg.testing.heap.lookaside import POOL_TYPES
from wdfdbg.testing.heap.mdl import mdl_flag_names, spanned_pages
from wdfdbg.testing.heap.space import PAGE, tag_text

TRUTH_FORMAT = "wdfdbg-truth"
TRUTH_VERSION = 1
LEAK_CHILDREN = 1000
SLIST_LIMIT = 4096        # entries followed on one SLIST
MDL_CHAIN_LIMIT = 257     # MDLs followed on one Next chain


def hx(v):
    return None if v is None else "0x%x" % v


def module_records(b):
    """The loaded modules by base, as both the snapshot and the truth list them."""
    return [{"name": m.name, "base": hx(m.base), "size": m.size} for m in sorted(b.modules, key=lambda m: m.base)]


def bugcheck_record(b):
    """{code, parameters} in hex (snapshot and truth), or None."""
    if b.bugcheck is None:
        return None
    return {"code": hx(b.bugcheck[0]), "parameters": [hx(p) for p in b.bugcheck[1]]}


CONVENTIONS = {
    "addresses": "hex strings; sizes, counts and offsets are numbers; unknown or absent values are null",
    "object": "the FxObject pointer (what a handle encodes), never the pool block",
    "list_entry": "object + offset(FxObject.m_ChildEntry); list head: object + offset(m_ChildListHead)",
    "in_tree": "reached from a driver's FxDriver by child lists: forward (Flink) walk, and when it breaks the "
               "backward (Blink) walk from the list head; reachable_by_flink tells them apart",
    "parent": "the stored m_ParentObject; list_parent is the object whose child list holds it in the walk",
    "vtable_class": "the class whose vtable symbol the object's vfptr names (not its own when the linker folded "
                    "two identical vtables: FxResourceCm uses FxWaitLock's)",
    "lock": "FxWaitLock/FxSpinLock as laid out: state held or free, owner the KTHREAD that holds it (null: none "
            "recorded; a spin lock records none), owner_is_crashing_thread against crash_thread",
    "CHILD_LIST_CYCLE": "at the list head whose forward walk comes back to an entry it saw",
    "CHILD_LIST_CORRUPT": "at the entry whose Blink is not the entry the walk came from (alternative in the "
                          "same group: the previous entry, whose Flink->Blink is not itself)",
    "PARENT_MISMATCH": "at the child object",
    "UNREADABLE": "at the first unreadable address the walk needs (the child's list entry; its object address "
                  "is an alternative in the same group)",
    "MDL_CHAIN_CYCLE": "at the first MDL of the chain as referenced",
    "MDL_INCONSISTENT": "at the MDL",
    "LOOKASIDE_INCONSISTENT": "at the FxLookasideList object",
    "MEMORY_OUT_OF_BOUNDS": "at the WDF_MEMORY_DESCRIPTOR",
    "LIKELY_LEAK": "at the parent holding >= %d WDFMEMORY children (warning)" % LEAK_CHILDREN,
    "BAD_HANDLE": "for a 0x10D/0x5 P2 decoding to a freed object: at the object it decodes to",
    "groups": "a decoder satisfies expected_problems when, for every group with required entries, it reports at "
              "least one {code, address} of the group",
    "found_by": "walk: driver list -> child lists -> memory/lookaside/MDL facts of walked objects and "
                "AllocatedMdls; triage: rules over the walked tree and the bugcheck; descriptor: decoding the "
                "WDF_MEMORY_DESCRIPTOR at its address",
    "free_entries": "SLIST entry addresses (an entry's first pointer is the SLIST link); for object lists the "
                    "entry is the FX_POOL_HEADER and free_objects are the stale FxObject images (state 12)",
    "pool_tag": "tag of the nt _POOL_HEADER of the block holding the buffer; null without one (big page-aligned "
                "allocations, image or mapped buffers); requested_tag is what the creating call asked for",
    "object_runs": "in a compact truth file, objects[i] may be {\"run\": {count, addresses, template}}: expand with "
                   "wdfdbg.testing.load_truth (template values {\"$rel\": d} are address + d, {\"$handle\": 1} "
                   "is address ^ handle mask)",
}


def _walk(b):
    """Walk every driver's tree over the built bytes (holes unreadable).
    Returns (order, info) where info[addr] = (depth, list_parent, by_flink)."""
    heap = b.heap
    ptr = b.ptr
    he, en = b.off_head, b.off_entry

    def rp(a):
        if not heap.readable(a, ptr):
            return None
        return heap.uint(a, ptr)

    def children(obj):
        head = obj + he
        entry = rp(head)
        if entry is None:
            return []
        seen = set()
        out = []
        broken = False
        while entry != head:
            if not entry or entry in seen or not heap.readable(entry, 2 * ptr):
                broken = True
                break
            seen.add(entry)
            out.append((entry - en, True))
            entry = rp(entry)
            if entry is None:
                broken = True
                break
        if broken:
            back = []
            e = rp(head + ptr)
            while e and e != head and e not in seen and heap.readable(e, 2 * ptr):
                seen.add(e)
                back.append((e - en, False))
                e = rp(e + ptr)
            out.extend(reversed(back))
        return out

    info = {}
    order = []
    for d in b.drivers:
        stack = [(d.fxdriver.addr, 0, None, True)]
        while stack:
            a, depth, lp, byf = stack.pop()
            if a in info:
                continue
            info[a] = (depth, lp, byf)
            order.append(a)
            kids = children(a)
            for c, cb in reversed(kids):
                if c not in info:
                    stack.append((c, depth + 1, a, cb))
    return order, info


def _follow(b, first, size, limit):
    """Follow a chain whose first pointer links the next (SLIST entries,
    MDL Next), bounded and cycle-safe: (addresses, why it stopped: None at
    NULL, "cycle", "limit" or "unreadable")."""
    out = []
    seen = set()
    e = first
    while e:
        if e in seen:
            return out, "cycle"
        if len(out) >= limit:
            return out, "limit"
        if not b.heap.readable(e, size):
            return out, "unreadable"
        seen.add(e)
        out.append(e)
        e = b.heap.uint(e, b.ptr)
    return out, None


def _tag(value):
    return None if value is None else tag_text(value)


def _first_bytes(b, addr, length):
    if not addr or not length:
        return None
    n = min(16, length)
    if not b.heap.readable(addr, n):
        return None
    return b.heap.read(addr, n).hex()


def _gl_record(b, gl, object_list, dbg):
    depth, seq, first = b.read_slist_header(gl.addr)
    entries, stop = _follow(b, first, b.ptr, SLIST_LIMIT)
    corrupt = stop is not None
    ta = gl.total_allocates
    rec = {"address": hx(gl.addr), "depth": gl.depth, "max_depth": gl.max_depth, "slist_depth": depth,
           "sequence": seq, "total_allocates": ta, "allocate_misses": gl.allocate_misses,
           "total_frees": gl.total_frees, "free_misses": gl.free_misses,
           "hit_rate": round((ta - gl.allocate_misses) / float(ta), 4) if ta else None,
           "type": gl.type, "type_name": POOL_TYPES.get(gl.type), "tag": tag_text(gl.tag), "size": gl.size,
           "first_entry": hx(first or None), "free_entries": [hx(e) for e in entries],
           "free_entry_count": len(entries), "slist_corrupt": corrupt or depth != len(entries),
           "freed_to_pool": [hx(e) for e in gl.freed_to_pool]}
    if object_list:
        rec["free_objects"] = [hx(e + b.FXHDR + dbg) for e in entries]
    return rec


def _ctx_record(b, o):
    if not o.ctx:
        return None
    hdr, ct, cleanup = o.ctx
    return {"header": hx(hdr), "object": hx(o.addr), "next_header": None, "cleanup": hx(cleanup or None),
            "destroy": None, "type_info": hx(ct.address) if ct else None, "name": ct.name if ct else None,
            "name_address": hx(ct.name_address) if ct else None, "context_size": ct.size if ct else None,
            "context": hx(hdr + b.CTXHDR) if ct else None}


def _object_record(b, o, walk, mdl_index):
    depth, lp, byf = walk.get(o.addr, (None, None, None))
    parent = o.parent_value if o.parent_value is not None else (o.parent.addr if o.parent is not None else None)
    rec = {
        "address": hx(o.addr), "handle": hx(o.addr ^ b.mask) if o.osize else None, "fx_type": hx(o.fx_type),
        "wdf_type": fxt.ddi_name(o.fx_type, o.cls), "class": o.cls, "vtable_class": FOLDED_VTABLES.get(o.cls, o.cls),
        "parent": hx(parent), "list_parent": hx(lp),
        "driver": o.driver.name, "depth": depth, "in_tree": o.addr in walk, "reachable_by_flink": bool(byf),
        "readable": b.heap.readable(o.addr, b.t("FxObject").size), "refcount": o.refcnt, "state": o.state,
        "state_name": fxt.state_name(o.state), "flags": o.flags, "flag_names": fxt.flag_names(o.flags),
        "object_size": o.osize, "has_debug": o.dbg is not None, "debug_extension": hx(o.dbg),
        "fx_pool_header": hx(o.fxhdr), "device_base": hx(o.device_base), "label": o.label,
        "pool_header": None if o.poolhdr is None else {"address": hx(o.poolhdr), "tag": tag_text(o.pool_tag),
                                                       "pool": o.pool_kind},
        "context": _ctx_record(b, o), "memory": None, "lookaside": None, "request": None, "presented_by": None,
        "lock": None, "mdls": [], "tracked_mdls": [hx(m) for m in mdl_index.get(o.addr, [])],
    }
    info = o.info or {}
    kind = info.get("kind")
    if kind == "lock":
        owner = info["owner"]
        rec["lock"] = {"kind": info["lock"], "state": "held" if info["held"] else "free",
                       "owner": hx(owner) if owner else None,
                       "owner_is_crashing_thread": bool(owner and owner == b.crash_thread) if owner else None}
    elif kind == "memory":
        rec["memory"] = {"buffer": hx(info["buffer"]), "length": info["length"], "origin": info["origin"],
                         "pool_tag": _tag(info["pool_tag"]), "requested_tag": _tag(info["requested_tag"]),
                         "lookaside": hx(info["lookaside"]), "mdl": hx(info["mdl"]), "read_only": info["read_only"],
                         "first_bytes": _first_bytes(b, info["buffer"], info["length"])}
        if info.get("mdl"):
            rec["mdls"].append(hx(info["mdl"]))
    elif kind == "lookaside":
        la = info["la"]
        dbg = b.DBG if o.driver.object_debug else 0
        rec["lookaside"] = {
            "kind": la["kind"], "buffer_size": la["buffer_size"], "memory_object_size": la["memory_object_size"],
            "pool_tag": tag_text(la["pool_tag"]), "pool_type": la["pool_type"],
            "pool_type_name": POOL_TYPES.get(la["pool_type"]), "memory_class": la["memory_class"],
            "memory_parent": hx(la["memory_parent"].addr), "attributes": hx(la["attributes"]),
            "attributes_parent_handle": hx(la["attributes_parent"]),
            "raw_buffer_size": la.get("raw_buffer_size"), "memory_device_base": hx(la.get("memory_device_base")),
            "live_memory": [hx(m.addr) for m in la["live"]],
            "list": _gl_record(b, la["object_list"], True, dbg),
            "pool_list": _gl_record(b, la["pool_list"], False, 0) if la["pool_list"] is not None else None}
    elif kind == "request":
        rq = "FxRequest"
        R = o.addr

        def buf(off_field, emb_field, data):
            field = R + b.off(rq, off_field)
            d = {"handle": hx(((field ^ b.mask) | 1)), "offset_field": hx(field), "offset_value": b.off(rq, off_field),
                 "resolves_to": hx(R), "embedded": hx(R + b.off(rq, emb_field))}
            if data is None:
                d.update(buffer=None, mdl=None, length=None, used=False)
            else:
                d.update(buffer=hx(data["buffer"]), mdl=hx(data["mdl"]), length=data["length"], used=True,
                         first_bytes=_first_bytes(b, data["buffer"], data["length"]))
            return d

        rec["request"] = {"kind": info["request_kind"], "irp": hx(info["irp"]), "stack_location": hx(info["stack"]),
                          "major_function": info["major"], "io_control_code": hx(info.get("ioctl")),
                          "queue": hx(info["queue"]), "parented": info["parented"],
                          "irp_reference_count": info["irp_refs"], "system_buffer": hx(info["system_buffer"]),
                          "user_buffer": hx(info["user_buffer"]), "mdl_address": hx(info["mdl"]),
                          "input": buf("m_SystemBufferOffset", "m_SystemBuffer", info["input"]),
                          "output": buf("m_OutputBufferOffset", "m_OutputBuffer", info["output"])}
        rec["presented_by"] = hx(info["queue"])
        if info["mdl"]:
            rec["mdls"].append(hx(info["mdl"]))
    return rec


def _mdl_record(b, m):
    chain, stop = _follow(b, m.addr, b.MDL_HDR, MDL_CHAIN_LIMIT)
    cycle = stop == "cycle"
    pages = spanned_pages(m.start_va + m.byte_offset, m.byte_count)
    return {"address": hx(m.addr), "next": hx(m.next or None), "size": m.size, "flags": m.flags,
            "flag_names": mdl_flag_names(m.flags), "byte_count": m.byte_count, "byte_offset": m.byte_offset,
            "start_va": hx(m.start_va), "mapped_system_va": hx(m.mapped or None), "process": hx(m.process or None),
            "pfns": [hx(p) for p in m.pfns], "pages_spanned": pages, "expected_size": b.MDL_HDR + b.ptr * pages,
            "owner": hx(m.owner), "tracked": m.tracked, "label": m.label, "pool_tag": m.pool_tag,
            "referenced_by": [{"by": k, "address": hx(v)} for k, v in m.referenced_by],
            "chain": [hx(x) for x in chain], "chain_cycle": cycle, "problems": list(m.problems)}


def _driver_record(b, d, counts):
    """One driver; ``counts``: [objects, memory objects, memory bytes] in its tree."""
    am = []
    for bi, (base, count) in enumerate(d.mdl_blocks):
        for i in range(count):
            mdl, owner, caller = d.allocated_mdls[MDLS_PER_BLOCK * bi + i]
            am.append({"block": hx(base), "index": i, "mdl": hx(mdl.addr),
                       "owner": hx(owner.addr if owner is not None else None), "caller": hx(caller)})
    return {
        "name": d.name, "tag": d.tag, "globals": hx(d.globals), "public": hx(d.public),
        "wdf_driver_globals_symbol": "%s!WdfDriverGlobals" % d.name, "wdf_driver_globals_variable": hx(d.var),
        "driver": hx(d.fxdriver.addr), "driver_handle": hx(d.fxdriver.addr ^ b.mask),
        "image_base": hx(d.image_base), "image_size": d.image_size, "verifier_on": d.verifier,
        "object_debug": d.object_debug, "pool_tracking": False, "debug_extension": hx(d.debug_ext),
        "version": list(d.version), "allocated_mdls": am,
        "allocated_mdls_blocks": [{"address": hx(x), "count": c} for x, c in d.mdl_blocks],
        "objects": counts[0], "memory_objects": counts[1], "memory_bytes": counts[2]}


def _library_record(b):
    """FxLibraryGlobals: the driver list and the bugcheck driver-info table."""
    lg = b.t("FxLibraryGlobalsType")
    table, names, cap = b.bugcheck_info_table
    ent = b.t("_FX_DUMP_DRIVER_INFO_ENTRY")
    return {"address": hx(b.lib_globals), "symbol": "Wdf01000!FxLibraryGlobals",
            "driver_globals_list": hx(b.lib_globals + lg.offset("FxDriverGlobalsList")),
            "driver_globals": [hx(d.globals) for d in b.drivers],
            "bugcheck_driver_info": hx(table), "bugcheck_driver_info_index": len(names),
            "bugcheck_driver_info_capacity": cap,
            "bugcheck_driver_info_entries": [{"index": i, "address": hx(table + i * ent.size),
                                              "globals": hx(g or None), "name": n, "version": list(v)}
                                             for i, (n, g, v) in enumerate(names)]}


def _expected_problems(b, leak_counts):
    """The scenario's expected problems plus the leak warnings the walk
    implies (``leak_counts``: list parent -> WDFMEMORY children), sorted."""
    expected = [dict(e) for e in b.expected]
    for parent, n in sorted(leak_counts.items(), key=lambda kv: int(kv[0], 16)):
        if n >= LEAK_CHILDREN:
            expected.append({"code": "LIKELY_LEAK", "address": int(parent, 16), "group": "leak:%s" % parent,
                             "found_by": "triage", "note": "%d WDFMEMORY children" % n, "required": False,
                             "severity": "warning"})
    exp = []
    for e in expected:
        e = dict(e)
        e["address"] = hx(e["address"])
        if not e.get("severity"):
            e["severity"] = CODES.get(e["code"], "error")
        exp.append(e)
    exp.sort(key=lambda e: (e["group"], e["code"], e["address"] or ""))
    return exp


def make_truth(b, objects=True):
    """The ground-truth dict for a finished builder. ``objects=False``
    leaves out the per-object records (``objects`` is null) but computes
    everything else in one streaming pass (bounded memory at 10^6 objects)."""
    order, walk = _walk(b)
    mdl_owner = {}
    for m in b.mdls:
        if m.owner is not None and m.tracked:
            mdl_owner.setdefault(m.owner, []).append(m.addr)
    by_addr = {}
    for o in b.objects:
        if o.alive:
            by_addr[o.addr] = o
    seg_of = {}
    for seg in b.segments:
        for i, a in enumerate(seg.addrs):
            seg_of[a] = (seg, i)

    def obj_at(a):
        o = by_addr.get(a)
        if o is None and a in seg_of:
            seg, i = seg_of[a]
            o = b.segment_object(seg, i)
        return o

    def all_records():
        placed = set()
        for a in order:
            o = obj_at(a)
            if o is None:
                continue
            placed.add(a)
            yield _object_record(b, o, walk, mdl_owner)
        for a in sorted(set(by_addr) | set(seg_of)):
            if a not in placed:
                yield _object_record(b, obj_at(a), walk, mdl_owner)

    records = [] if objects else None
    per_driver = dict((d.name, [0, 0, 0]) for d in b.drivers)
    leak_counts = {}
    n_records = n_tree = n_mem = mem_bytes = n_la = 0
    for r in all_records():
        n_records += 1
        if records is not None:
            records.append(r)
        if not r["in_tree"]:
            continue
        n_tree += 1
        pd = per_driver[r["driver"]]
        pd[0] += 1
        if r["lookaside"] is not None:
            n_la += 1
        if r["memory"] is not None:
            n_mem += 1
            mem_bytes += r["memory"]["length"]
            pd[1] += 1
            pd[2] += r["memory"]["length"]
            if r["list_parent"]:
                leak_counts[r["list_parent"]] = leak_counts.get(r["list_parent"], 0) + 1
    drivers = [_driver_record(b, d, per_driver[d.name]) for d in b.drivers]
    exp = _expected_problems(b, leak_counts)
    bugcheck = bugcheck_record(b)
    if bugcheck is not None:
        bugcheck.update(b.bugcheck_info or {})
    return {
        "format": TRUTH_FORMAT, "version": TRUTH_VERSION, "scenario": b.scenario,
        "params": dict((k, v) for k, v in sorted(b.params.items())), "description": b.description,
        "arch": b.arch, "pointer_size": b.ptr, "page_size": PAGE, "profile": b.profile.name, "os_build": b.os_build,
        "kmdf_version": b.kmdf_version, "handle_mask": hx(b.mask), "conventions": CONVENTIONS,
        "layout": {"pool_header": b.POOL_HDR, "fx_pool_header": b.FXHDR, "debug_extension": b.DBG,
                   "context_header": b.CTXHDR, "child_list_head": b.off_head, "child_entry": b.off_entry},
        "modules": module_records(b),
        "library_globals": _library_record(b), "drivers": drivers, "objects": records,
        "mdls": [_mdl_record(b, m) for m in b.mdls],
        "descriptors": [dict((k, hx(v) if k in ("address", "buffer", "mdl", "memory", "memory_object", "offsets")
                              else v) for k, v in d.items()) for d in b.descriptors],
        "requests": [hx(r.addr) for r in b.requests],
        "lookasides": [hx(lo.addr) for lo in b.lookasides],
        "bugcheck": bugcheck,
        "crash_thread": hx(b.crash_thread),
        "holes": [{"address": hx(a), "size": n} for a, n in sorted(b.heap.holes)],
        "notes": list(b.notes),
        "expected_problems": exp,
        "counts": {"objects": n_records, "in_tree": n_tree, "memory_objects": n_mem, "memory_bytes": mem_bytes,
                   "lookasides": n_la,
                   "requests": len(b.requests), "mdls": len(b.mdls), "descriptors": len(b.descriptors),
                   "drivers": len(b.drivers),
                   "required_problem_groups": len(set(e["group"] for e in exp if e["required"]))},
    }
