"""Bulk objects: up to millions of framework objects, consecutive in one
parent's child list, written without a Python object each.

Lays out the same C types as :mod:`~wdfdbg.testing.heap.objects` (nt
``_POOL_HEADER``, ``FX_POOL_HEADER``, ``FxObjectDebugExtension``,
``FxObject``, ``FxContextHeader`` and context bytes) and the memory tails of
:mod:`~wdfdbg.testing.heap.memory` (``FxMemoryObject`` IFxMemory vfptr and
m_BufferSize, ``FxMemoryBufferFromPool.m_Pool``) for three classes only:
FxMemoryBuffer, FxUserObject and FxMemoryBufferFromPool. Offsets come from
the profile like everywhere else (kmdf.md §2, §4, §5). The child-list links
inside a segment are written as objects are added; only its two ends are
joined to the parent's list at finalize. :meth:`BulkBuilder.segment_object`
rebuilds one object's :class:`~wdfdbg.testing.heap.objects.Obj` for the
ground truth on demand.
"""

import array

from wdfdbg.decoders import types as fxt
from wdfdbg.testing.heap.memory import memory_info
from wdfdbg.testing.heap.objects import (CLASS_FLAGS, CLASS_TYPE, F_COMMITTED, F_HAS_DEBUG, F_PASSIVE, STATE_CREATED,
                                         Obj, adopt)
from wdfdbg.testing.heap.space import align, pattern, tag_value


class Segment(object):
    """Many bulk objects, consecutive in one parent's child list, written
    without a Python object each (kinds: indices into ``specs``)."""

    __slots__ = ("parent", "driver", "specs", "addrs", "kinds", "lens", "aux", "prev_entry")

    def __init__(self, parent, driver, specs):
        self.parent = parent
        self.driver = driver
        self.specs = specs
        self.addrs = array.array("Q")
        self.kinds = bytearray()
        self.lens = array.array("L")
        self.aux = array.array("Q")      # FxMemoryBufferFromPool: the buffer's address
        self.prev_entry = None

    def __len__(self):
        return len(self.addrs)


class BulkBuilder(object):
    """Part of :class:`~wdfdbg.testing.heap.HeapBuilder`: bulk segments.
    Relies on the object part (header and context writers) and the driver
    part (``vtable``)."""

    def _init_bulk(self):
        self.segments = []

    def segment(self, parent, specs):
        """Start a bulk segment under ``parent``. ``specs``: list of dicts
        {cls: "FxMemoryBuffer"|"FxUserObject"|"FxMemoryBufferFromPool",
        tag, ctx (CtxType or None), text, paged}."""
        drv = parent.driver
        prepared = []
        for sp in specs:
            sp = dict(sp)
            cls = sp["cls"]
            sp["fx_type"] = CLASS_TYPE[cls]
            sp["tagv"] = tag_value(sp.get("tag") or drv.tag)
            sp["vptr"] = self.vtable(cls)
            if cls in fxt.MEMORY_CLASSES:
                sp["ifx"] = self.vtable(cls, iface=True)
            flags = CLASS_FLAGS.get(cls, F_COMMITTED)
            if cls == "FxMemoryBufferFromPool" and sp.get("paged"):
                flags |= F_PASSIVE
            if drv.object_debug:
                flags |= F_HAS_DEBUG
            sp["flags"] = flags
            sp["body"] = align(self.class_size(cls), self.maa)
            if cls == "FxMemoryBufferFromPool":
                sp["m_pool"] = self.off(cls, "m_Pool")
            prepared.append(sp)
        seg = Segment(parent, drv, prepared)
        self.segments.append(seg)
        adopt(parent, seg)
        return seg

    def segment_add(self, seg, kind, length=0):
        """Append one bulk object of ``seg.specs[kind]`` (fast path: sizes
        precomputed per spec, one pass of writes)."""
        sp = seg.specs[kind]
        drv = seg.driver
        cls = sp["cls"]
        inline = length if cls == "FxMemoryBuffer" else 0
        osize = sp["body"] + align(inline, self.maa)
        dbg = self.DBG if drv.object_debug else 0
        ctx = sp.get("ctx")
        size = dbg + osize + self.CTXHDR + (align(ctx.size, self.ptr) if ctx is not None else 0)
        data, hdr = self.pool(size + self.FXHDR, sp["tagv"] if cls == "FxMemoryBuffer" else drv.tagv)
        heap = self.heap
        self.write_fx_pool_header(data, drv)
        addr = data + self.FXHDR + dbg
        if dbg:
            self._write_debug_ext(addr - dbg)
        entry = addr + self.off_entry
        parent = seg.parent
        prev = seg.prev_entry if seg.prev_entry is not None else parent.addr + self.off_head
        self._pack_header(addr, sp["vptr"], sp["fx_type"], osize, 1, drv.globals, sp["flags"], STATE_CREATED,
                          parent.addr, entry, prev, parent.device_base or 0)
        if seg.prev_entry is not None:
            heap.pack(seg.prev_entry, self._ptrw, entry)
        seg.prev_entry = entry
        self._pack_ctx(addr, addr + osize, ctx, 0)
        aux = 0
        if cls == "FxMemoryBuffer":
            buf = addr + sp["body"]
            if length:
                heap.write(buf, pattern(sp.get("text") or "BULK ", length))
            self._memw.pack(heap, addr, sp["ifx"], length)
        elif cls == "FxMemoryBufferFromPool":
            buf, _ = self.pool(length, sp["tagv"], paged=bool(sp.get("paged")))
            if length:
                heap.write(buf, pattern(sp.get("text") or "BULKPOOL ", length))
            self._memw.pack(heap, addr, sp["ifx"], length)
            heap.pack(addr + sp["m_pool"], self._ptrw, buf)
            aux = buf
        seg.addrs.append(addr)
        seg.kinds.append(kind)
        seg.lens.append(length)
        seg.aux.append(aux)
        return addr

    def segment_object(self, seg, i):
        """Materialise bulk object ``i`` as an Obj (for truth)."""
        sp = seg.specs[seg.kinds[i]]
        drv = seg.driver
        cls = sp["cls"]
        length = seg.lens[i]
        o = Obj(cls, drv, sp["fx_type"], sp["body"] + (align(length, self.maa) if cls == "FxMemoryBuffer" else 0),
                sp["flags"], seg.parent)
        o.addr = seg.addrs[i]
        dbg = self.DBG if drv.object_debug else 0
        o.dbg = o.addr - dbg if dbg else None
        o.fxhdr = o.addr - dbg - self.FXHDR
        o.poolhdr = o.fxhdr - self.POOL_HDR
        o.pool_tag = sp["tagv"] if cls == "FxMemoryBuffer" else drv.tagv
        o.pool_kind = "nonpaged"
        o.device_base = seg.parent.device_base
        o.ctx = (o.addr + o.osize, sp.get("ctx"), 0)
        if cls == "FxMemoryBuffer":
            o.info = memory_info(o.addr + sp["body"], length, "inline", sp["tagv"], sp["tagv"])
        elif cls == "FxMemoryBufferFromPool":
            o.info = memory_info(seg.aux[i], length, "pool", sp["tagv"], sp["tagv"])
        return o
