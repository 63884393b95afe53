"""Find FxObjects in all readable memory by their shape.

Used when there is no driver list to walk (triage dumps keep only scattered
blocks of kernel memory) and by ``wdfdbg scan``. A candidate is an aligned
address (16 bytes on 64-bit, 8 on 32-bit) whose FxObject header has

* a vtable pointer inside Wdf01000's image (when the module is known),
* a known type code (:mod:`wdfdbg.decoders.types`),
* a plausible ``m_ObjectSize`` (0, or at least an FxObject, 8-aligned),
  refcount, object flags (no unknown bits) and state (Created..Destroyed),
* not in state Destroyed (a stale image in freed memory), unless asked for,
* ``m_Globals`` pointing at an FX_DRIVER_GLOBALS whose ``WdfHandleMask`` is
  ~7 when that is readable (a readable mask that is not ~7 rejects it; an
  unreadable one is accepted and marked unverified).

A header whose saved bytes stop after ``m_Globals`` (a triage dump often
keeps only 0x18 bytes of an object) is proven by what is in front of it
(:meth:`Scanner.prove_by_pool_header`): the FX_POOL_HEADER pointing at
itself and naming the same driver globals, the globals in KMDF's driver
table, and the nt ``_POOL_HEADER``'s tag being the driver's tag when that
tag is known. Such an object's flags and state are reported not captured.

The search runs over the captured bytes with ``bytes.find`` for the upper
half of Wdf01000's addresses (the vtable pointer's high dword), then
``struct`` on each hit; it never reads memory address by address.

Found objects are grouped by driver (names from the globals' ``Public``
block, KMDF's driver table in the dump, or the module of ``ImageAddress``)
and linked to their parents through ``m_ParentObject`` and the captured
child-list entries. :func:`scan_objects` returns ``(drivers, nodes)`` in the
shape :func:`wdfdbg.decoders.objects.walk_tree` gives (pre-order, parents
and depth set).
"""

import struct
from array import array
from bisect import bisect_left

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.common import tag_string
from wdfdbg.decoders.drivers import DriverInfo, read_driver
from wdfdbg.decoders.handles import handle_of
from wdfdbg.decoders.objects import FXOBJECT, ObjectHeader, ObjectNode, classify
from wdfdbg.errors import LayoutError, ReadError

HEADER_MEMBERS = ("m_ParentObject", "m_ChildListHead.Flink", "m_ChildListHead.Blink", "m_ChildEntry.Flink",
                  "m_ChildEntry.Blink", "m_DeviceBase")
CHUNK = 1 << 20
MAX_OBJECTS = 1 << 20
MAX_REFCOUNT = 0x100000
KNOWN_FLAGS = sum(bit for bit, _ in fxt.OBJECT_FLAGS)
MAX_STATE = len(fxt.OBJECT_STATES) - 1
DESTROYED = fxt.OBJECT_STATES.index("Destroyed")
MIN_HEADER = 0x1C   # vfptr .. m_ObjectState must be captured (x64); scaled for x86 below

class ScanStats(object):
    """What a scan looked at and what it kept (the report's ``scan`` key)."""

    def __init__(self):
        self.ranges = 0
        self.bytes = 0
        self.unreadable_bytes = 0
        self.candidates = 0
        self.objects = 0
        self.rejected = {}
        self.globals_verified = 0
        self.globals_unverified = 0
        self.alignment = None
        self.method = None
        self.vtable_module = None
        self.parents_linked = 0
        self.limit_hit = False

    def reject(self, reason):
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def to_json(self):
        return {
            "method": self.method, "alignment": self.alignment, "vtable_module": self.vtable_module,
            "ranges": self.ranges, "bytes_scanned": self.bytes, "unreadable_bytes": self.unreadable_bytes,
            "candidates": self.candidates, "objects": self.objects,
            "rejected": dict(sorted(self.rejected.items())),
            "globals_verified": self.globals_verified, "globals_unverified": self.globals_unverified,
            "parents_linked": self.parents_linked, "limit_hit": self.limit_hit,
        }


class ScanResult(object):
    def __init__(self, drivers, nodes, stats):
        self.drivers = drivers
        self.nodes = nodes
        self.stats = stats


class _Offsets(object):
    def __init__(self, session):
        lay = session.layouts.get(FXOBJECT)
        self.layout = lay
        self.size = lay.size
        o = lay.offset
        self.type = o("m_Type")
        self.osize = o("m_ObjectSize")
        self.refcnt = o("m_Refcnt")
        self.globals = o("m_Globals")
        self.flags = o("m_ObjectFlags")
        self.state = o("m_ObjectState")
        self.child_head = o("m_ChildListHead")
        self.child_entry = o("m_ChildEntry")
        self.parent = o("m_ParentObject")
        self.ptr = session.target.pointer_size
        self.min_header = self.state + 2
        # (name, offset, size) of the header members a report shows
        self.header_fields = [(name, lay.flat[name].offset, lay.flat[name].size) for name in HEADER_MEMBERS
                              if name in lay.flat]
        # members a scan otherwise requires, missing only from a header proven by its pool header
        self.short_fields = [(name, lay.flat[name].offset, lay.flat[name].size)
                             for name in ("m_ObjectFlags", "m_ObjectState") if name in lay.flat]
        g = session.layouts.get("Wdf01000!_FX_DRIVER_GLOBALS")
        self.mask_off = g.offset("WdfHandleMask")
        self.tag_off = g.offset("Tag") if "Tag" in g.flat else None
        # what a header short of m_ObjectFlags needs: vfptr .. m_Globals
        self.min_proven = max(self.type + 2, self.osize + 2, self.refcnt + 4, self.globals + self.ptr)
        # FX_POOL_HEADER {Base, FxDriverGlobals, AllocationStart = the object}
        # and the nt _POOL_HEADER in front of it (kmdf.md §3 [pdb][dump])
        self.fph_size = _offset_or(session, "Wdf01000!FX_POOL_HEADER", "AllocationStart", 2 * self.ptr)
        self.fph_globals = _offset_or(session, "Wdf01000!FX_POOL_HEADER", "FxDriverGlobals", self.ptr)
        self.pool_header_size = _size_or(session, "nt!_POOL_HEADER", 0x10 if self.ptr == 8 else 8)
        self.pool_tag_off = _offset_or(session, "nt!_POOL_HEADER", "PoolTag", 4)
        self.full_mask = ((1 << (8 * self.ptr)) - 1) & ~7


def _offset_or(session, type_name, member, default):
    try:
        return session.layouts.get(type_name).offset(member)
    except (LayoutError, KeyError):
        return default


def _size_or(session, type_name, default):
    try:
        return session.layouts.get(type_name).size
    except LayoutError:
        return default


def default_pool_tag(name):
    """KMDF's default pool tag for a driver that set none: the first four
    characters of its service name, the four after a leading "WDF", or
    "FxDr" when fewer are left (WdfLookasideListCreate and WDF_DRIVER_CONFIG
    DriverPoolTag documentation)."""
    if not name:
        return None
    if name.upper().startswith("WDF"):
        name = name[3:]
    return name[:4] if len(name) >= 4 else "FxDr"


def _chunks(target, ranges, stats, overlap):
    """Yield (address, bytes) of readable memory: each range in chunks of
    at most CHUNK bytes that overlap by ``overlap`` bytes; a range that
    cannot be read whole is read page by page, skipping unreadable pages."""
    ps = target.page_size
    for start, size in ranges:
        if size <= 0:
            continue
        stats.ranges += 1
        pos = start
        end = start + size
        carry = b""
        carry_at = None
        while pos < end:
            n = min(CHUNK, end - pos)
            try:
                data = target.read(pos, n)
            except ReadError:
                data = None
            if data is None:
                # page by page
                buf = bytearray()
                buf_at = pos
                a = pos
                stop = pos + n
                while a < stop:
                    m = min(ps - (a % ps), stop - a)
                    try:
                        piece = target.read(a, m)
                        if not buf:
                            buf_at = a
                        buf += piece
                        stats.bytes += m
                    except ReadError:
                        stats.unreadable_bytes += m
                        if buf:
                            yield buf_at, bytes(buf)
                        buf = bytearray()
                    a += m
                if buf:
                    yield buf_at, bytes(buf)
                carry = b""
                carry_at = None
                pos += n
                continue
            stats.bytes += n
            if carry and carry_at + len(carry) == pos:
                yield carry_at, carry + data
            else:
                yield pos, data
            carry = data[-overlap:] if overlap and len(data) > overlap else b""
            carry_at = pos + n - len(carry)
            pos += n


class Scanner(object):
    """One scan over a session's readable memory."""

    def __init__(self, session, problems=None, max_objects=MAX_OBJECTS, include_destroyed=False):
        self.session = session
        self.include_destroyed = include_destroyed
        self.target = session.target
        self.problems = problems
        self.max_objects = max_objects
        self.off = _Offsets(session)
        self.stats = ScanStats()
        self.align = 16 if self.off.ptr == 8 else 8
        self.stats.alignment = self.align
        self.wdf = self.target.module("Wdf01000")
        self.known_globals = {}     # address -> name from KMDF's table in the dump
        from wdfdbg.sources.minidump import kmdf_driver_table
        self._kmdf_table = kmdf_driver_table(getattr(self.target, "backend", None))
        for e in self._kmdf_table:
            if e.globals:
                self.known_globals[e.globals] = e.name
        self._globals_state = {}
        self.found = FoundObjects(self.off)
        self.pool_proofs = {}       # address -> what proved a header saved short (prove_by_pool_header)

    # -- globals ------------------------------------------------------------
    def globals_state(self, g):
        """"known" (KMDF's table), "verified" (mask ~7 readable), "bad"
        (readable and not ~7), "unreadable"."""
        st = self._globals_state.get(g)
        if st is None:
            try:
                mask = self.target.read_pointer(g + self.off.mask_off)
                if mask == self.off.full_mask:
                    st = "verified"
                else:
                    st = "bad"
            except ReadError:
                st = "known" if g in self.known_globals else "unreadable"
            if st == "verified" and g in self.known_globals:
                st = "known"
            self._globals_state[g] = st
        return st

    def prove_by_pool_header(self, addr, g):
        """Prove a header saved only up to ``m_Globals`` at ``addr`` by the
        allocation in front of it: FX_POOL_HEADER.Base is the FX_POOL_HEADER
        itself, its FxDriverGlobals is ``g``, ``g`` is in KMDF's driver table,
        and the nt _POOL_HEADER's tag is the driver's (FX_DRIVER_GLOBALS.Tag
        when saved, else KMDF's default tag from the driver's name, else
        printable and said to be unchecked). Returns the proof for the
        report, or None."""
        o = self.off
        name = self.known_globals.get(g)
        if name is None:
            return None
        fph = addr - o.fph_size
        block = fph - o.pool_header_size
        try:
            base = self.target.read_pointer(fph)
            fph_globals = self.target.read_pointer(fph + o.fph_globals)
            raw_tag = self.target.read_u32(block + o.pool_tag_off)
        except ReadError:
            return None
        if base != fph or fph_globals != g:
            return None
        tag = tag_string(raw_tag)
        if "." in tag:
            return None
        driver_tag, tag_from = None, None
        if o.tag_off is not None:
            try:
                driver_tag, tag_from = tag_string(self.target.read_u32(g + o.tag_off)), "FX_DRIVER_GLOBALS.Tag"
            except ReadError:
                pass
        if driver_tag is None and default_pool_tag(name) == tag:
            driver_tag, tag_from = tag, "KMDF's default tag from the driver's name"
        if driver_tag is not None and driver_tag != tag:
            return None
        return {"fx_pool_header": "0x%x" % fph, "pool_tag": tag,
                "driver_tag": tag_from or "not captured (the tag is not checked against it)"}

    # -- candidates -----------------------------------------------------------
    def _vtable_ok(self, vt):
        if not vt or vt % self.off.ptr:
            return False
        if self.wdf is None:
            return vt >= (1 << (8 * self.off.ptr - 1))   # a kernel address
        # past the image headers, inside the image
        return self.wdf.base + 0x1000 <= vt < self.wdf.base + self.wdf.size

    def check(self, addr, data, i):
        """Validate the header at ``data[i:]`` (address ``addr``); return the
        record or None (the reason is counted)."""
        o = self.off
        avail = len(data) - i
        short = avail < o.min_header
        if short and avail < o.min_proven:
            self.stats.reject("too_little_captured")
            return None
        ptr_fmt = "<Q" if o.ptr == 8 else "<I"
        vt = struct.unpack_from(ptr_fmt, data, i)[0]
        if not self._vtable_ok(vt):
            self.stats.reject("vtable")
            return None
        typ = struct.unpack_from("<H", data, i + o.type)[0]
        if not fxt.is_known_type(typ):
            self.stats.reject("type")
            return None
        osize = struct.unpack_from("<H", data, i + o.osize)[0]
        if osize and (osize < o.size or osize % 8):
            self.stats.reject("object_size")
            return None
        ref = struct.unpack_from("<i", data, i + o.refcnt)[0]
        if ref < 0 or ref > MAX_REFCOUNT:
            self.stats.reject("refcount")
            return None
        if short:
            g = struct.unpack_from(ptr_fmt, data, i + o.globals)[0]
            proof = self.prove_by_pool_header(addr, g)
            if proof is None:
                self.stats.reject("too_little_captured")
                return None
            self.pool_proofs[addr] = proof
            return o.layout.decode(data[i:i + avail]), avail, "known"
        flags = struct.unpack_from("<H", data, i + o.flags)[0]
        state = struct.unpack_from("<H", data, i + o.state)[0]
        if flags & ~KNOWN_FLAGS & 0xFFFF:
            self.stats.reject("flags")
            return None
        if state < 1 or state > MAX_STATE:
            self.stats.reject("state")
            return None
        if state == DESTROYED and not self.include_destroyed:
            self.stats.reject("destroyed")     # a stale image in freed memory
            return None
        g = struct.unpack_from(ptr_fmt, data, i + o.globals)[0]
        if not g or g % 8 or g < (1 << (8 * o.ptr - 1)):
            self.stats.reject("globals")
            return None
        gs = self.globals_state(g)
        if gs == "bad":
            self.stats.reject("globals_mask")
            return None
        rec = o.layout.decode(data[i:i + o.size])
        return rec, min(avail, o.size), gs

    def run(self):
        target = self.target
        ranges = target.ranges()
        if ranges is None:
            ranges = []
            self.session.notes.append("this source cannot list its readable memory: nothing to scan")
        o = self.off
        hi_patterns = []
        if self.wdf is not None and self.wdf.size:
            shift = 32 if o.ptr == 8 else 16
            width = 4 if o.ptr == 8 else 2
            lo_hi = self.wdf.base >> shift
            hi_hi = (self.wdf.base + self.wdf.size - 1) >> shift
            if hi_hi - lo_hi < 4:
                for h in range(lo_hi, hi_hi + 1):
                    hi_patterns.append((struct.pack("<I" if width == 4 else "<H", h), o.ptr - width))
            self.stats.method = "vtable-pattern"
            self.stats.vtable_module = "Wdf01000"
        if not hi_patterns:
            self.stats.method = "exhaustive"
        align = self.align
        for base, data in _chunks(target, sorted(ranges), self.stats, o.size):
            target.check_interrupt()
            if len(self.found) >= self.max_objects:
                self.stats.limit_hit = True
                break
            if hi_patterns:
                hits = set()
                for pat, at in hi_patterns:
                    j = data.find(pat)
                    while j >= 0:
                        i = j - at
                        if i >= 0 and (base + i) % align == 0:
                            hits.add(i)
                        j = data.find(pat, j + 1)
                positions = sorted(hits)
            else:
                first = (-base) % align
                positions = range(first, len(data) - o.min_header + 1, align)
            for i in positions:
                addr = base + i
                if addr in self.found:
                    continue
                self.stats.candidates += 1
                res = self.check(addr, data, i)
                if res is None:
                    continue
                self.found.keep(addr, res)
                if len(self.found) >= self.max_objects:
                    self.stats.limit_hit = True
                    break
        return self.build()

    # -- results --------------------------------------------------------------
    def build(self):
        """The scan's :class:`ScanResult` once every candidate is checked: the
        drivers now, the nodes as a stream (:meth:`nodes`)."""
        found = self.found
        found.seal()
        self.stats.objects = len(found)
        self.stats.globals_verified, self.stats.globals_unverified = found.globals_counts()
        parents = self._link_parents(found)
        drivers = self._drivers(found)
        names = dict((d.globals, d.name) for d in drivers)
        if self.stats.limit_hit and self.problems is not None:
            self.problems.add("WALK_LIMIT", None, "scan stopped after %d objects" % self.max_objects)
        return ScanResult(drivers, self.nodes(found, parents, names, drivers), self.stats)

    def _link_parents(self, found):
        """Child index -> parent index among the found objects (an array,
        -1 for none)."""
        o = self.off
        n = len(found)
        parents = array("q", [-1]) * n
        order = []    # the children linked, in the order their links were made (cycles break in it)
        head_of = found.index_of_member(o.child_head)
        entry_of = found.index_of_member(o.child_entry)
        index_of = found.index_of
        col = found.col
        for i in range(n):
            addr = col.addr[i]
            p = col.parent[i]
            j = index_of(p) if p and p != addr else -1
            if j < 0:
                # m_ChildEntry links point at the parent's list head or at siblings
                for link in (col.entry_flink[i], col.entry_blink[i]):
                    j = head_of(link)
                    if j >= 0 and j != i:
                        break
                    j = -1
            if j >= 0:
                parents[i] = j
                order.append(i)
        # a parent's captured child list names children whose own
        # m_ParentObject was not captured
        if found.partial:
            for i in range(n):
                for link in (col.child_flink[i], col.child_blink[i]):
                    c = entry_of(link)
                    if c >= 0 and c != i and parents[c] < 0 and found.parent_missing(c):
                        parents[c] = i
                        order.append(c)
        # break cycles (corrupt or stale links); a chain once seen to end at
        # a root needs no second look
        rooted = bytearray(n)
        linked = 0
        for i in order:
            seen = set([i])
            p = parents[i]
            while p >= 0 and not rooted[p]:
                if p in seen:
                    parents[i] = -1
                    break
                seen.add(p)
                p = parents[p]
            else:
                for k in seen:
                    rooted[k] = 1
            if parents[i] >= 0:
                linked += 1
        self.stats.parents_linked = linked
        return parents

    def _drivers(self, found):
        session = self.session
        o = self.off
        col = found.col
        order = []
        seen = set()
        for e in self._kmdf_table:
            if e.globals and e.globals not in seen:
                seen.add(e.globals)
                order.append(e.globals)
        extra = set()
        fxdriver_by_globals = {}
        for i in range(len(found)):
            g = col.globals[i]
            if g and g not in seen:
                extra.add(g)
            if col.fx_type[i] == fxt.FX_TYPE_DRIVER and g not in fxdriver_by_globals:
                fxdriver_by_globals[g] = col.addr[i]
        order.extend(sorted(extra))
        drivers = []
        for g in order:
            try:
                d, _bad = read_driver(session, g)
            except (ReadError, LayoutError):
                d = DriverInfo(g)
            table_name = self.known_globals.get(g)
            if table_name and (not d.name or d.name_source == "module"):
                d.name, d.name_source = table_name, "kmdf-driver-table"
            if d.handle_mask is not None and d.handle_mask != o.full_mask and g not in self.known_globals:
                continue
            if not d.driver and g in fxdriver_by_globals:
                d.driver = fxdriver_by_globals[g]
            drivers.append(d)
        return drivers

    def _preorder(self, found, parents, drivers):
        """(index, depth) of every found object in pre-order: roots by
        driver (the order of ``drivers``), the FxDriver first, then by
        address; children by address. Sibling links in two arrays, no list
        per parent."""
        n = len(found)
        col = found.col
        first_child = array("q", [-1]) * n
        next_sibling = array("q", [-1]) * n
        roots = []
        for i in range(n - 1, -1, -1):    # descending, so that each list comes out ascending
            p = parents[i]
            if p < 0:
                roots.append(i)
            else:
                next_sibling[i] = first_child[p]
                first_child[p] = i
        rank = dict((d.globals, k) for k, d in enumerate(drivers))
        last = len(rank)

        def root_key(i):
            g = col.globals[i]
            return (rank.get(g, last), g, 0 if col.fx_type[i] == fxt.FX_TYPE_DRIVER else 1, col.addr[i])

        roots.sort(key=root_key)
        stack = []
        for i in roots:
            # the next object to visit at each depth: its siblings follow
            stack.append(i)
            while stack:
                i = stack[-1]
                if i < 0:
                    stack.pop()
                    continue
                yield i, len(stack) - 1
                stack[-1] = next_sibling[i]
                if first_child[i] >= 0:
                    stack.append(first_child[i])

    def nodes(self, found, parents, names, drivers):
        """Yield the found objects as ObjectNodes in pre-order (parents and
        depth set), each header read again through the page cache with the
        walk's read window when it was captured whole."""
        session = self.session
        ptr = self.off.ptr
        header_fields = self.off.header_fields + self.off.short_fields
        header = found.header_reader(session)
        addr_col = found.col.addr
        gs_names = {"known": "kmdf-driver-table", "verified": "mask", "unreadable": "unverified"}
        for i, depth in self._preorder(found, parents, drivers):
            addr = addr_col[i]
            hdr, captured, gs = header(i)
            parent = addr_col[parents[i]] if parents[i] >= 0 else None
            node = ObjectNode(hdr, parent if parent is not None else (hdr.parent or None), depth,
                              names.get(hdr.globals), handle_of(addr, ptr, hdr.object_size))
            missing = [name for name, off, size in header_fields if off + size > captured]
            node.extra["scan"] = {
                "captured_bytes": captured,
                "globals": gs_names.get(gs, gs),
                # True: the parent was found; False: m_ParentObject names an
                # object the dump did not hold, or was itself not captured;
                # None: m_ParentObject is NULL (a root)
                "parent_captured": (parent is not None) if hdr.parent else (
                    False if "m_ParentObject" in missing else None),
                # the FxObject members whose bytes the dump did not hold
                "not_captured": missing,
            }
            if addr in self.pool_proofs:
                node.extra["scan"]["proven_by_pool_header"] = self.pool_proofs[addr]
            yield node


class _Columns(object):
    """The found objects' facts the linking needs, one array each."""

    __slots__ = ("addr", "parent", "entry_flink", "entry_blink", "child_flink", "child_blink", "globals",
                 "fx_type", "captured", "gs")

    def __init__(self):
        for name in self.__slots__[:7]:
            setattr(self, name, array("Q"))
        self.fx_type = array("H")
        self.captured = array("H")
        self.gs = array("B")

    def reorder(self, perm):
        for name in self.__slots__:
            col = getattr(self, name)
            setattr(self, name, array(col.typecode, [col[k] for k in perm]))


GLOBALS_STATES = ("known", "verified", "unreadable", "bad")


class FoundObjects(object):
    """What a scan keeps of each object it accepted: the addresses and link
    fields in arrays (about 70 bytes an object), sorted by address once the
    scan ends; the decoded record only for the objects whose header was not
    captured whole (``partial``). The nodes are made again from memory
    when they are emitted (:meth:`header_reader`)."""

    def __init__(self, offsets):
        from wdfdbg.decoders.codec import AddressSet
        self.off = offsets
        self.col = _Columns()
        self.seen = AddressSet()
        self.partial = {}     # address -> (record, captured bytes) of the headers not captured whole
        self._index = None

    def __len__(self):
        return len(self.col.addr)

    def __contains__(self, addr):
        return addr in self.seen

    def keep(self, addr, res):
        """Keep what :meth:`Scanner.check` returned for ``addr``: ``(record,
        captured bytes, globals state)``."""
        rec, captured, gs = res
        c = self.col
        self.seen.add(addr)
        c.addr.append(addr)
        # a pointer that types declare signed may decode negative: it names
        # no found object, as a NULL does not
        for col, name in ((c.parent, "m_ParentObject"), (c.entry_flink, "m_ChildEntry.Flink"),
                          (c.entry_blink, "m_ChildEntry.Blink"), (c.child_flink, "m_ChildListHead.Flink"),
                          (c.child_blink, "m_ChildListHead.Blink"), (c.globals, "m_Globals")):
            v = rec.get(name)
            col.append(v if v and v > 0 else 0)
        c.fx_type.append(rec.get("m_Type") or 0)
        c.captured.append(captured)
        c.gs.append(GLOBALS_STATES.index(gs))
        if captured < self.off.size:
            self.partial[addr] = (rec, captured)

    def seal(self):
        """Sort by address (a scan of overlapping ranges may find out of order)."""
        a = self.col.addr
        if any(a[k] > a[k + 1] for k in range(len(a) - 1)):
            self.col.reorder(sorted(range(len(a)), key=a.__getitem__))

    def index_of(self, addr):
        """The index of the object at ``addr``, -1 when none was found there."""
        a = self.col.addr
        k = bisect_left(a, addr)
        return k if k < len(a) and a[k] == addr else -1

    def index_of_member(self, offset):
        """``f(address) -> index`` of the object whose member at ``offset``
        is at ``address`` (-1 when none)."""
        index_of = self.index_of
        return lambda address: index_of(address - offset) if address else -1

    def parent_missing(self, i):
        """Whether object ``i``'s m_ParentObject was not captured."""
        p = self.partial.get(self.col.addr[i])
        return p is not None and ObjectHeader(self.col.addr[i], p[0]).parent is None

    def globals_counts(self):
        """(objects whose globals were verified or known, the others)."""
        good = sum(1 for g in self.col.gs if g < 2)
        return good, len(self.col.gs) - good

    def header_reader(self, session):
        """``header(index) -> (ObjectHeader classified, captured bytes,
        globals state)``."""
        from wdfdbg.decoders.objects import header_reader
        read = header_reader(session, True)
        decided = session.derived.table("object_classes")
        col = self.col

        def header(i):
            addr = col.addr[i]
            captured = col.captured[i]
            part = self.partial.get(addr)
            hdr = None
            if part is None:
                try:
                    hdr = read(addr)
                except (ReadError, LayoutError):
                    part = (self.off.layout.decode(session.target.read(addr, captured)), captured)
            if hdr is None:
                hdr = ObjectHeader(addr, part[0])
                try:
                    classify(session, hdr, decided)
                except (ReadError, LayoutError):
                    # the shape could not be read: what m_Type alone says
                    hdr.cls, hdr.cls_source = fxt.choose_class(hdr.fx_type or 0, hdr.object_size, None, None,
                                                               session.target.pointer_size)
            return hdr, captured, GLOBALS_STATES[col.gs[i]]
        return header


def scan(session, problems=None, max_objects=MAX_OBJECTS, include_destroyed=False):
    """Run a scan: a :class:`ScanResult` (drivers, nodes, stats) with the
    nodes in a list. Objects in state Destroyed (stale images in freed
    memory, e.g. freed lookaside entries) are left out unless
    ``include_destroyed``."""
    res = scan_stream(session, problems, max_objects=max_objects, include_destroyed=include_destroyed)
    res.nodes = list(res.nodes)
    return res


def scan_stream(session, problems=None, max_objects=MAX_OBJECTS, include_destroyed=False):
    """:func:`scan` with ``nodes`` an iterator: each node is made when it is
    asked for and kept by no one here (what a scan keeps per object is
    :class:`FoundObjects`)."""
    return Scanner(session, problems, max_objects=max_objects, include_destroyed=include_destroyed).run()


def scan_objects(session, problems):
    """For ``memtree``'s fallback: ``(drivers, nodes)`` with parents set,
    depth computed, nodes in pre-order, one at a time."""
    res = scan_stream(session, problems)
    return res.drivers, res.nodes
