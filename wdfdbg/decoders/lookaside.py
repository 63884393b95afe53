"""WDFLOOKASIDE: FxNPagedLookasideList, FxNPagedLookasideListFromPool and
FxPagedLookasideListFromPool (kmdf.md §6), with their embedded kernel
lookaside lists decoded the way ``!lookaside`` shows them (kmdf.md §7).

C types: ``Wdf01000!FxLookasideList`` and the three concrete classes;
``nt!_GENERAL_LOOKASIDE`` (the ``L`` of ``_NPAGED_LOOKASIDE_LIST`` /
``_PAGED_LOOKASIDE_LIST``); ``_SLIST_HEADER`` (x64 and ARM64: qword0 =
Depth:16 | Sequence:48, qword1 = Reserved:4 | NextEntry:60, first entry =
``qword1 & ~0xF``; x86: Next at 0, Depth at 4, Sequence at 6).

* :func:`decode_lookaside` decodes one lookaside object (one read of the
  whole class) and its kernel list(s).
* :func:`decode_kernel_lookaside` decodes one GENERAL_LOOKASIDE and walks
  its free SLIST with cycle detection and a bound.
* Statistics: hit rate = (TotalAllocates - AllocateMisses) / TotalAllocates,
  free hit rate = (TotalFrees - FreeMisses) / TotalFrees, as fractions
  (``!lookaside`` prints them as percentages); None when the total is 0.

Problem address conventions: LOOKASIDE_INCONSISTENT at the WDFLOOKASIDE
object (the FxLookasideList address) whatever part of it is inconsistent
(Depth above MaximumDepth, an SLIST whose walked count differs from its
header's depth or exceeds Depth, an SLIST cycle, impossible counters, a
memory object whose length differs from the list's buffer size);
LOOKASIDE_ALWAYS_MISSES (warning) at the object; UNREADABLE at the first
address that could not be read.
"""

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.common import read_record_partial, tag_string, validate_walk
from wdfdbg.errors import LayoutError, ReadError

KINDS = {
    "FxNPagedLookasideList": "npaged",
    "FxNPagedLookasideListFromPool": "npaged-from-pool",
    "FxPagedLookasideListFromPool": "paged-from-pool",
}
CONCRETE = ("FxNPagedLookasideList", "FxNPagedLookasideListFromPool", "FxPagedLookasideListFromPool")
GENERAL = "nt!_GENERAL_LOOKASIDE"
MAX_SLIST = 65536
# an always-missing list is only worth a warning once it had a chance to hit
ALWAYS_MISSES_MIN = 8

POOL_TYPES = {
    0: "NonPagedPool", 1: "PagedPool", 2: "NonPagedPoolMustSucceed", 3: "DontUseThisType",
    4: "NonPagedPoolCacheAligned", 5: "PagedPoolCacheAligned", 6: "NonPagedPoolCacheAlignedMustS",
    7: "MaxPoolType", 32: "NonPagedPoolSession", 33: "PagedPoolSession", 34: "NonPagedPoolMustSucceedSession",
    35: "DontUseThisTypeSession", 36: "NonPagedPoolCacheAlignedSession", 37: "PagedPoolCacheAlignedSession",
    38: "NonPagedPoolCacheAlignedMustSSession", 512: "NonPagedPoolNx", 516: "NonPagedPoolNxCacheAligned",
    544: "NonPagedPoolSessionNx",
}


def hx(v):
    return None if v is None else "0x%x" % v


def px(v):
    """A pointer as JSON: NULL (or unknown) is null."""
    return "0x%x" % v if v else None


def pool_type_name(value):
    """POOL_TYPE -> name; an unknown value stays an int (None stays None)."""
    if value is None:
        return None
    value &= 0xFFFFFFFF
    return POOL_TYPES.get(value, value)


def is_paged_pool(value):
    return value is not None and bool(value & 1) and value < 0x200


def ratio(total, misses):
    if not total:
        return None
    if misses is None:
        return None
    return (total - misses) / float(total)


def _wdf(name):
    return "Wdf01000!" + name


def _align(n, a):
    return (n + a - 1) & ~(a - 1)


def memory_alignment(session):
    return 16 if session.target.pointer_size == 8 else 8


def read_lookaside_base(session, address):
    """The FxLookasideList part of a lookaside object at ``address``:
    ``{type, buffer_size, memory_object_size, pool_tag}`` or None when it is
    unreadable or not a lookaside (m_Type != 0x1009). Read once per
    session (``session.derived`` table ``lookaside_base``)."""
    cache = session.derived.table("lookaside_base")
    if address in cache:
        return cache[address]
    out = None
    if address:
        try:
            lay = session.layouts.get(_wdf("FxLookasideList"))
            rec = lay.decode(session.target.read(address, lay.extent))
            if rec.get("m_Type") == fxt.FX_TYPE_LOOKASIDE:
                out = {"type": rec.get("m_Type"), "buffer_size": rec.get("m_BufferSize"),
                       "memory_object_size": rec.get("m_MemoryObjectSize"), "pool_tag": tag_string(rec.get("m_PoolTag")),
                       "object_size": rec.get("m_ObjectSize"), "globals": rec.get("m_Globals")}
        except (ReadError, LayoutError):
            out = None
    cache[address] = out
    return out


def is_lookaside_object(session, address):
    return read_lookaside_base(session, address) is not None


def lookaside_shape_class(session, hdr):
    """The concrete lookaside class of a 0x1009 object without vtable
    symbols: by ``m_ObjectSize`` (each class has its own aligned size), then
    by the pool type of the second kernel list."""
    maa = memory_alignment(session)
    cands = []
    for cls in CONCRETE:
        try:
            lay = session.layouts.get(_wdf(cls))
        except LayoutError:
            continue
        if hdr.object_size == _align(lay.size, maa):
            cands.append((cls, lay))
    if len(cands) == 1:
        return cands[0][0]
    if not cands:
        return None
    # same size: tell paged from non-paged by the pool lookaside's Type
    for cls, lay in cands:
        if not lay.has("m_PoolLookaside.L.Type"):
            continue
        try:
            t = session.target.read_u32(hdr.address + lay.offset("m_PoolLookaside.L.Type"))
        except ReadError:
            continue
        if is_paged_pool(t) == (cls == "FxPagedLookasideListFromPool"):
            return cls
    return cands[0][0]


def _field(rec, *names):
    for n in names:
        if n in rec:
            return rec[n]
    return None


def read_slist(session, head_address, raw):
    """``(first entry, header depth, sequence)`` of the SLIST_HEADER whose
    bytes are ``raw`` (x64/ARM64 16 bytes, x86 8 bytes)."""
    if session.target.pointer_size == 8:
        q0 = int.from_bytes(raw[0:8], "little")
        q1 = int.from_bytes(raw[8:16], "little")
        return q1 & ~0xF, q0 & 0xFFFF, q0 >> 16
    nxt = int.from_bytes(raw[0:4], "little")
    depth = int.from_bytes(raw[4:6], "little")
    seq = int.from_bytes(raw[6:8], "little")
    return nxt, depth, seq


def for_each_slist_entry(session, first, problems, owner=None, what="SLIST", limit=MAX_SLIST):
    """Yield the address of each entry of a free SLIST (``SLIST_ENTRY``,
    ``Next`` at offset 0) from ``first``, checking as it goes: a cycle
    (LOOKASIDE_INCONSISTENT), an unreadable entry (UNREADABLE), more than
    ``limit`` entries (WALK_LIMIT); each ends the walk. ``owner`` is the
    address problems are recorded at (default: ``first``)."""
    target = session.target
    owner = first if owner is None else owner
    seen = set()
    entry = first
    while entry:
        if entry in seen:
            problems.add("LOOKASIDE_INCONSISTENT", owner, "%s: free SLIST comes back to entry 0x%x after %d entries (a cycle)" % (what, entry, len(seen)))
            return
        if len(seen) >= limit:
            problems.add("WALK_LIMIT", owner, "%s: free SLIST walk stopped after %d entries" % (what, limit))
            return
        target.check_interrupt()
        seen.add(entry)
        yield entry
        try:
            entry = target.read_pointer(entry)
        except ReadError as e:
            problems.add("UNREADABLE", e.address, "%s: free SLIST entry 0x%x is unreadable" % (what, entry))
            return


def validate_slist(session, first, limit=MAX_SLIST):
    """Like :func:`for_each_slist_entry` but raise CorruptionError on the
    first problem; returns the entries."""
    return validate_walk(lambda log: for_each_slist_entry(session, first, log, limit=limit))


def walk_slist(session, first, problems, owner, what, limit=MAX_SLIST):
    """Walk an SLIST from ``first``: ``(entries, complete, cycle)``.
    ``owner`` is the address problems are recorded at."""
    ending = _Codes(problems)
    entries = list(for_each_slist_entry(session, first, ending, owner, what, limit))
    return entries, not ending.codes, "LOOKASIDE_INCONSISTENT" in ending.codes


class _Codes(object):
    """A problem log's ``add`` that also notes the codes added through it
    (the log itself may drop a problem it already holds)."""

    def __init__(self, problems):
        self.problems = problems
        self.codes = []

    def add(self, code, address, message, severity=None):
        self.codes.append(code)
        return self.problems.add(code, address, message, severity)


def decode_kernel_lookaside(session, address, problems, owner=None, what=None, slist_limit=MAX_SLIST):
    """Decode the GENERAL_LOOKASIDE at ``address`` (the ``L`` of an
    NPAGED/PAGED_LOOKASIDE_LIST) as ``!lookaside`` shows it: the contract's
    ``list`` dict plus extensions. Problems are recorded at ``owner``
    (default: ``address``)."""
    owner = address if owner is None else owner
    what = what or ("lookaside 0x%x" % address)
    out = {"address": hx(address), "depth": None, "max_depth": None, "total_allocates": None, "allocate_misses": None,
           "total_frees": None, "free_misses": None, "hit_rate": None, "free_entries": None,
           # extensions
           "free_hit_rate": None, "type": None, "type_value": None, "tag": None, "size": None, "slist_depth": None,
           "slist_sequence": None, "free_list": [], "free_list_complete": None}
    try:
        rec, bad = read_record_partial(session, GENERAL, address)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "%s: the kernel lookaside at 0x%x is unreadable" % (what, address))
        return out
    except LayoutError as e:
        problems.add("UNREADABLE", address, "%s: cannot decode the kernel lookaside: %s" % (what, e))
        return out
    if bad is not None:
        problems.add("UNREADABLE", bad, "%s: part of the kernel lookaside at 0x%x is unreadable" % (what, address))
    depth = _field(rec, "Depth")
    maxd = _field(rec, "MaximumDepth")
    ta = _field(rec, "TotalAllocates")
    am = _field(rec, "AllocateMisses", "AllocateHits")
    tf = _field(rec, "TotalFrees")
    fm = _field(rec, "FreeMisses", "FreeHits")
    ptype = _field(rec, "Type")
    out.update({"depth": depth, "max_depth": maxd, "total_allocates": ta, "allocate_misses": am, "total_frees": tf,
                "free_misses": fm, "hit_rate": ratio(ta, am), "free_hit_rate": ratio(tf, fm),
                "type": pool_type_name(ptype), "type_value": ptype, "tag": tag_string(_field(rec, "Tag")), "size": _field(rec, "Size")})
    if depth is not None and maxd is not None and depth > maxd:
        problems.add("LOOKASIDE_INCONSISTENT", owner, "%s: Depth %d is above MaximumDepth %d" % (what, depth, maxd))
    if ta is not None and am is not None and am > ta:
        problems.add("LOOKASIDE_INCONSISTENT", owner, "%s: AllocateMisses %d exceed TotalAllocates %d" % (what, am, ta))
    if tf is not None and fm is not None and fm > tf:
        problems.add("LOOKASIDE_INCONSISTENT", owner, "%s: FreeMisses %d exceed TotalFrees %d" % (what, fm, tf))
    # the free SLIST
    hsize = 16 if session.target.pointer_size == 8 else 8
    try:
        raw = session.target.read(address, hsize)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "%s: its SLIST header at 0x%x is unreadable" % (what, address))
        return out
    first, hdepth, seq = read_slist(session, address, raw)
    out["slist_depth"] = hdepth
    out["slist_sequence"] = seq
    limit = min(slist_limit, max(hdepth or 0, maxd or 0, depth or 0) + 64)
    entries, complete, cycle = walk_slist(session, first, problems, owner, what, limit=limit)
    out["free_list"] = [hx(e) for e in entries]
    out["free_list_complete"] = complete
    # distinct entries reached (a cycle or an unreadable entry stops the walk:
    # free_list_complete says so)
    out["free_entries"] = len(entries)
    if complete:
        if len(entries) != hdepth:
            problems.add("LOOKASIDE_INCONSISTENT", owner, "%s: the free SLIST holds %d entries but its header says %d" % (what, len(entries), hdepth))
        if depth is not None and len(entries) > depth:
            problems.add("LOOKASIDE_INCONSISTENT", owner, "%s: the free SLIST holds %d entries, more than Depth %d" % (what, len(entries), depth))
    if ta is not None and am is not None and ta >= ALWAYS_MISSES_MIN and am == ta:
        problems.add("LOOKASIDE_ALWAYS_MISSES", owner, "%s: all %d allocations missed the list (hit rate 0%%): Depth %s, MaximumDepth %s" % (
            what, ta, depth, maxd))
    return out


def empty_record():
    return {"kind": None, "buffer_size": None, "memory_object_size": None, "pool_tag": None, "pool_type": None,
            "list": None}


def decode_lookaside(session, hdr, problems, allocated=None):
    """Decode the WDFLOOKASIDE whose FxObject header is ``hdr``.

    ``allocated``: the memory objects currently allocated from it, as
    ``[(address, length)]`` (found by the caller through ``m_pLookaside``);
    each length is checked against the list's buffer size. Returns the
    contract's lookaside dict with extensions (``class``, ``class_source``,
    ``address``, ``handle``, ``pool_type_value``, ``pool_list``,
    ``allocated``, ``free_list``, ``raw_buffer_size``,
    ``memory_device_base``, ``outstanding``)."""
    address = hdr.address
    cls = hdr.cls if hdr.cls in KINDS else None
    if cls is None and hdr.cls not in (None, "FxLookasideList") and hdr.cls not in fxt.LOOKASIDE_CLASSES:
        cls = None
    if cls is None:
        cls = lookaside_shape_class(session, hdr)
        source = "shape" if cls else None
    else:
        source = hdr.cls_source
    out = empty_record()
    out.update({"class": cls, "class_source": source, "address": hx(address), "handle": None, "pool_type_value": None,
                "pool_list": None, "allocated": [], "free_list": [], "outstanding": None, "raw_buffer_size": None,
                "memory_device_base": None})
    out["kind"] = KINDS.get(cls)
    lay_name = _wdf(cls or "FxLookasideList")
    try:
        rec, bad = read_record_partial(session, lay_name, address)
        lay = session.layouts.get(lay_name)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "WDFLOOKASIDE 0x%x is unreadable" % address)
        return out
    except LayoutError as e:
        problems.add("UNREADABLE", address, "WDFLOOKASIDE 0x%x cannot be decoded: %s" % (address, e))
        return out
    if bad is not None:
        problems.add("UNREADABLE", bad, "WDFLOOKASIDE 0x%x: part of the object is unreadable" % address)
    what = "WDFLOOKASIDE 0x%x" % address
    out["buffer_size"] = rec.get("m_BufferSize")
    out["memory_object_size"] = rec.get("m_MemoryObjectSize")
    out["pool_tag"] = tag_string(rec.get("m_PoolTag")) if "m_PoolTag" in rec else None
    if cls == "FxPagedLookasideListFromPool":
        out["raw_buffer_size"] = rec.get("m_RawBufferSize")
        out["memory_device_base"] = px(rec.get("m_MemoryDeviceBase"))
    if cls is None:
        problems.add("UNKNOWN_TYPE", address, "%s: its lookaside class cannot be told (no vtable symbol, m_ObjectSize 0x%x fits no class)" % (
            what, hdr.object_size or 0))
        return out
    obj_off = lay.offset("m_ObjectLookaside")
    obj_list = decode_kernel_lookaside(session, address + obj_off, problems, owner=address, what=what + " m_ObjectLookaside")
    out["list"] = obj_list
    out["free_list"] = list(obj_list.get("free_list") or [])
    if lay.has("m_PoolLookaside"):
        pl = decode_kernel_lookaside(session, address + lay.offset("m_PoolLookaside"), problems, owner=address,
                                     what=what + " m_PoolLookaside")
        out["pool_list"] = pl
        src = pl if pl.get("type") is not None else obj_list
    else:
        src = obj_list
    out["pool_type"] = src.get("type")
    out["pool_type_value"] = src.get("type_value")
    ta, tf = obj_list.get("total_allocates"), obj_list.get("total_frees")
    if ta is not None and tf is not None:
        out["outstanding"] = ta - tf if ta >= tf else None
    bs = out["buffer_size"]
    if bs is not None and (bs == 0 or bs > 0x7FFFFFFF):
        problems.add("LOOKASIDE_INCONSISTENT", address, "%s: m_BufferSize 0x%x cannot be right" % (what, bs))
    if cls == "FxNPagedLookasideList" and bs is not None and bs >= session.target.page_size:
        problems.add("LOOKASIDE_INCONSISTENT", address, "%s: an FxNPagedLookasideList holds buffers under a page, m_BufferSize is 0x%x" % (what, bs))
    if cls == "FxNPagedLookasideListFromPool" and bs is not None and 0 < bs < session.target.page_size:
        problems.add("LOOKASIDE_INCONSISTENT", address, "%s: an FxNPagedLookasideListFromPool holds buffers of a page or more, m_BufferSize is 0x%x" % (what, bs))
    kernel_tag = obj_list.get("tag")
    if out["pool_tag"] and kernel_tag and kernel_tag != out["pool_tag"]:
        problems.add("LOOKASIDE_INCONSISTENT", address, "%s: m_PoolTag '%s' but its kernel lookaside is tagged '%s'" % (what, out["pool_tag"], kernel_tag))
    for mem_addr, length in sorted(allocated or []):
        out["allocated"].append(hx(mem_addr))
        check_allocated(problems, address, bs, mem_addr, length)
    return out


def check_allocated(problems, address, buffer_size, mem_addr, length):
    """LOOKASIDE_INCONSISTENT (at the WDFLOOKASIDE ``address``) when a memory
    object allocated from it has a length other than its buffer size."""
    if buffer_size is not None and length is not None and length != buffer_size:
        problems.add("LOOKASIDE_INCONSISTENT", address, "WDFLOOKASIDE 0x%x: memory object 0x%x from it has length 0x%x, the list's buffer size is 0x%x" % (
            address, mem_addr, length, buffer_size))


def kernel_list_address(record):
    lst = (record or {}).get("list") or {}
    a = lst.get("address")
    return int(a, 16) if a else None
