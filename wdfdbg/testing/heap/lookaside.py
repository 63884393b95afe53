"""WDFLOOKASIDE and the kernel lookaside lists under it.

C types laid out here:

* ``FxNPagedLookasideList``, ``FxNPagedLookasideListFromPool``,
  ``FxPagedLookasideListFromPool`` with their FxLookasideList members
  (m_MemoryAttributes, m_BufferSize, m_MemoryObjectSize, m_PoolTag) and
  m_RawBufferSize / m_MemoryDeviceBase (kmdf.md §6, x64 [pdb]; offsets from
  the profile).
* ``WDF_OBJECT_ATTRIBUTES`` inside m_MemoryAttributes: the profiles give it
  as a byte array, so its members are placed by hand from the public
  ``wdfobject.h`` order [src] (Size; EvtCleanupCallback, EvtDestroyCallback;
  ExecutionLevel, SynchronizationScope; ParentObject; ContextSizeOverride;
  ContextTypeInfo).
* The memory objects a lookaside hands out: ``FxMemoryBufferFromLookaside``
  (inline buffer) and ``FxMemoryBufferFromPoolLookaside`` / its paged
  variant (m_pLookaside, m_Pool; kmdf.md §5 [pdb]); a freed one keeps its
  stale FxObject image (state 12) behind the SLIST link [src].
* nt ``_GENERAL_LOOKASIDE`` (counters, Depth, Type, Tag, Size, ListEntry)
  and ``_SLIST_HEADER`` (packed by hand: x64 Depth:16 | Sequence:48 then
  NextEntry, x86 Next, Depth, Sequence), kmdf.md §7 (public ntkrnlmp
  types); ``nt!ExNPagedLookasideListHead`` / ``ExPagedLookasideListHead``
  link every kernel lookaside through ListEntry.

The lookasides are simulated on the side (:class:`GeneralLookaside`) and
their counters and SLIST headers written at finalize.
"""

import struct

from wdfdbg.testing.heap.objects import (CLASS_TYPE, F_COMMITTED, F_PASSIVE, STATE_DESTROYED, Obj, adopt,
                                         device_ancestor)
from wdfdbg.testing.heap.space import PAGE, align, tag_value

LOOKASIDE_KINDS = {"npaged": "FxNPagedLookasideList", "npaged-from-pool": "FxNPagedLookasideListFromPool",
                   "paged-from-pool": "FxPagedLookasideListFromPool"}
POOL_TYPES = {0: "NonPagedPool", 1: "PagedPool", 512: "NonPagedPoolNx"}
NONPAGED_NX = 512
PAGED_POOL = 1
KERNEL_LIST_HEAD = {False: "ExNPagedLookasideListHead", True: "ExPagedLookasideListHead"}   # by paged
EXECUTION_LEVEL_INHERIT = SYNCHRONIZATION_SCOPE_INHERIT = 1   # WDF_EXECUTION_LEVEL / WDF_SYNCHRONIZATION_SCOPE


class GeneralLookaside(object):
    """A kernel _GENERAL_LOOKASIDE simulated on the side."""

    __slots__ = ("addr", "type", "tag", "size", "depth", "max_depth", "slist", "total_allocates",
                 "allocate_misses", "total_frees", "free_misses", "sequence", "freed_to_pool", "paged")

    def __init__(self, addr, pool_type, tag, size, depth, max_depth, paged=False):
        self.addr = addr
        self.type = pool_type
        self.tag = tag
        self.size = size
        self.depth = depth
        self.max_depth = max_depth
        self.slist = []          # stack of entry addresses, top last
        self.total_allocates = 0
        self.allocate_misses = 0
        self.total_frees = 0
        self.free_misses = 0
        self.sequence = 0
        self.freed_to_pool = []
        self.paged = paged


class LookasideBuilder(object):
    """Part of :class:`~wdfdbg.testing.heap.HeapBuilder`: lookasides and
    the memory they hand out. Relies on the object and memory parts."""

    def _init_lookasides(self):
        self.lookaside_heads = {}
        for name in KERNEL_LIST_HEAD.values():
            a = self.nt_data.take(align(self.nt_data.cursor, 16), 2 * self.ptr)
            self.symbols["nt!" + name] = a
            self.lookaside_heads[name] = [a, []]
        self.lookasides = []   # Obj of lookaside classes

    def lookaside(self, parent, kind, buffer_size, tag, mem_parent=None, mem_ctx=None, depth=4, max_depth=256,
                  label=None):
        """WdfLookasideListCreate: one of the three kinds (kmdf.md §6)."""
        cls = LOOKASIDE_KINDS[kind]
        drv = parent.driver
        o = self.new_object(cls, parent, label=label)
        tagv = tag_value(tag)
        mem_parent = mem_parent or drv.fxdriver
        explicit_parent = mem_parent is not drv.fxdriver
        dev = device_ancestor(mem_parent)
        # entry sizes (FxCalculateObjectTotalSize + FX_POOL_HEADER)
        if kind == "npaged":
            mcls = "FxMemoryBufferFromLookaside"
            extra = buffer_size
        else:
            mcls = "FxMemoryBufferFromPoolLookaside"
            if kind == "paged-from-pool" and dev is not None:
                mcls = "FxMemoryPagedBufferFromPoolLookaside"
            extra = 0
        osize, dbg, span = self._object_span(mcls, drv, extra, mem_ctx, False)
        mos = span + self.FXHDR
        la = {"kind": kind, "buffer_size": buffer_size, "memory_object_size": mos, "pool_tag": tagv,
              "memory_class": mcls, "memory_parent": mem_parent, "memory_ctx": mem_ctx, "live": [],
              "pool_type": PAGED_POOL if kind == "paged-from-pool" else NONPAGED_NX}
        lay = self.t(cls)
        vals = {"m_BufferSize": buffer_size, "m_MemoryObjectSize": mos, "m_PoolTag": tagv}
        la["object_list"] = GeneralLookaside(o.addr + lay.offset("m_ObjectLookaside"), NONPAGED_NX, tagv, mos, depth,
                                             max_depth)
        pool = None   # (POOL_TYPE, entry size, paged) of the buffer lookaside
        if kind == "npaged-from-pool":
            pool = (NONPAGED_NX, buffer_size, False)
        elif kind == "paged-from-pool":
            raw = buffer_size if buffer_size >= PAGE else buffer_size + self.FXHDR
            vals["m_RawBufferSize"] = raw
            vals["m_MemoryDeviceBase"] = dev.addr if dev is not None else 0
            pool = (PAGED_POOL, raw, True)
            la["raw_buffer_size"] = raw
            la["memory_device_base"] = dev.addr if dev is not None else None
        la["pool_list"] = None if pool is None else GeneralLookaside(
            o.addr + lay.offset("m_PoolLookaside"), pool[0], tagv, pool[1], depth, max_depth, paged=pool[2])
        self.put(o.addr, cls, vals)
        p = self.ptr
        attrs = o.addr + lay.offset("m_MemoryAttributes")
        parent_handle = self.handle(mem_parent.addr) if explicit_parent else None
        self.heap.put(attrs, 4, lay.field("m_MemoryAttributes").size)             # Size
        self.heap.put(attrs + 3 * p, 4, EXECUTION_LEVEL_INHERIT)                  # ExecutionLevel
        self.heap.put(attrs + 3 * p + 4, 4, SYNCHRONIZATION_SCOPE_INHERIT)        # SynchronizationScope
        self.heap.put(attrs + 3 * p + 8, p, parent_handle or 0)                   # ParentObject
        self.heap.put(attrs + 5 * p + 8, p, mem_ctx.address if mem_ctx is not None else 0)   # ContextTypeInfo
        la["attributes"] = attrs
        la["attributes_parent"] = parent_handle
        o.info = {"kind": "lookaside", "la": la}
        self.lookasides.append(o)
        for gl in (la["object_list"], la["pool_list"]):
            if gl is not None:
                self.lookaside_heads[KERNEL_LIST_HEAD[gl.paged]][1].append(gl.addr)
        return o

    def _gl_allocate(self, gl, fresh):
        """Pop an entry or miss: returns (entry, reused)."""
        gl.total_allocates += 1
        if gl.slist:
            return gl.slist.pop(), True
        gl.allocate_misses += 1
        return fresh(), False

    def _gl_free(self, gl, entry):
        gl.total_frees += 1
        if len(gl.slist) < gl.depth:
            nxt = gl.slist[-1] if gl.slist else 0
            self.wptr(entry, nxt)
            gl.slist.append(entry)
            gl.sequence += 1
            return True
        gl.free_misses += 1
        gl.freed_to_pool.append(entry)
        return False

    def lookaside_allocate(self, lo, label=None, text=None):
        """WdfMemoryCreateFromLookaside."""
        la = lo.info["la"]
        drv = lo.driver
        mcls = la["memory_class"]
        parent = la["memory_parent"]
        tagv = la["pool_tag"]
        mos = la["memory_object_size"]
        entry, reused = self._gl_allocate(la["object_list"], lambda: self.pool(mos, tagv)[0])
        self.heap.write(entry, bytes(mos))  # InitObjectAlloc zeroes the entry
        ctx = la["memory_ctx"]
        extra = la["buffer_size"] if la["kind"] == "npaged" else 0
        osize, dbg, _ = self._object_span(mcls, drv, extra, ctx, False)
        flags = F_COMMITTED | (F_PASSIVE if la["kind"] == "paged-from-pool" else 0)
        o = Obj(mcls, drv, CLASS_TYPE[mcls], osize, flags, parent, label=label)
        self._in_pool_block(o, entry, entry - self.POOL_HDR, tagv, dbg)
        if mcls == "FxMemoryPagedBufferFromPoolLookaside":
            o.device_base = la.get("memory_device_base")
        else:
            o.device_base = parent.device_base
        self._lay_object(o, dbg, ctx, None)
        self.wptr(o.addr + self.off(mcls, "m_pLookaside"), lo.addr)
        length = la["buffer_size"]
        if la["kind"] == "npaged":
            buf = o.addr + align(self.class_size(mcls), self.maa)
            self._fill(buf, length, text or ("%s lookaside " % (label or "LA")))
            self._set_memory(o, buf, length, "lookaside", tagv, tagv, lookaside=lo.addr)
        else:
            pl = la["pool_list"]
            if la["kind"] == "npaged-from-pool":
                pentry, _ = self._gl_allocate(pl, lambda: self.pool_big(length))
                buf = pentry
                ptag = None
            else:
                pentry, _ = self._gl_allocate(pl, lambda: self.pool(pl.size, tagv, paged=True)[0])
                self.write_fx_pool_header(pentry, drv)
                buf = pentry + self.FXHDR
                ptag = tagv
            self._fill(buf, length, text or ("%s pool-lookaside " % (label or "LA")))
            self.wptr(o.addr + self.off(mcls, "m_Pool"), buf)
            self._set_memory(o, buf, length, "pool-lookaside", ptag, tagv, lookaside=lo.addr)
            o.info["pool_entry"] = pentry
        o.info["entry"] = entry
        o.info["reused"] = reused
        self.objects.append(o)
        adopt(parent, o)
        la["live"].append(o)
        return o

    def lookaside_free(self, lo, o):
        """WdfObjectDelete on memory from a lookaside: destroy and reclaim."""
        la = lo.info["la"]
        la["live"].remove(o)
        o.parent.children.remove(o)
        o.alive = False
        o.state = STATE_DESTROYED
        o.refcnt = 0
        # the stale image: destructors ran (vptr at the base class), state
        # Destroyed, m_ChildEntry left pointing at the parent's list head
        head = o.parent.addr + self.off_head
        self._write_header(o, vptr=self.vtable("FxObject"), entry_links=(head, head))
        if la["pool_list"] is not None:
            self._gl_free(la["pool_list"], o.info["pool_entry"])
        self._gl_free(la["object_list"], o.info["entry"])

    def _finalize_lookasides(self):
        """Finalize step: lookaside refcounts (one per live entry), the
        _GENERAL_LOOKASIDE counters and SLIST headers, and the kernel
        lookaside lists."""
        for lo in self.lookasides:
            la = lo.info["la"]
            lo.refcnt = 1 + len(la["live"])
            self.put(lo.addr, "FxObject", {"m_Refcnt": lo.refcnt})
            for gl in (la["object_list"], la["pool_list"]):
                if gl is not None:
                    self._write_gl(gl)
        entry = self.off("_GENERAL_LOOKASIDE", "ListEntry")
        for name in sorted(self.lookaside_heads):
            head, items = self.lookaside_heads[name]
            self.link_list(head, [a + entry for a in items])

    def _write_gl(self, gl):
        self.write_slist_header(gl.addr, len(gl.slist), gl.sequence, gl.slist[-1] if gl.slist else 0)
        self.put(gl.addr, "_GENERAL_LOOKASIDE", {
            "Depth": gl.depth, "MaximumDepth": gl.max_depth, "TotalAllocates": gl.total_allocates,
            "AllocateMisses": gl.allocate_misses, "TotalFrees": gl.total_frees, "FreeMisses": gl.free_misses,
            "Type": gl.type, "Tag": gl.tag, "Size": gl.size, "LastTotalAllocates": gl.total_allocates,
            "LastAllocateMisses": gl.allocate_misses})

    def write_slist_header(self, addr, depth, sequence, first):
        if self.ptr == 8:
            self.heap.write(addr, struct.pack("<QQ", (depth & 0xffff) | ((sequence & ((1 << 48) - 1)) << 16),
                                              first & ~0xF))
        else:
            self.heap.write(addr, struct.pack("<IHH", first, depth & 0xffff, sequence & 0xffff))

    def read_slist_header(self, addr):
        """(Depth, Sequence, first entry) of the SLIST_HEADER at ``addr``."""
        if self.ptr == 8:
            q0, q1 = struct.unpack("<QQ", self.heap.read(addr, 16))
            return q0 & 0xffff, q0 >> 16, q1 & ~0xF
        nxt, depth, seq = struct.unpack("<IHH", self.heap.read(addr, 8))
        return depth, seq, nxt
