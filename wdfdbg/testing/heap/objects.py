"""Framework objects: what surrounds an FxObject and how objects link.

C types laid out here (kmdf.md §1-§4):

* ``FX_POOL_HEADER`` {Base = the block itself, FxDriverGlobals} right before
  the object or its debug extension: offsets from the profile [pdb][dump];
  big (page-sized) objects get none.
* ``FxObjectDebugExtension`` before the object when the driver has object
  debugging on (m_ObjectFlags 0x80): Signature 'FxOD' [src], offset from the
  profile.
* ``FxObject``: vfptr, m_Type, m_ObjectSize, m_Refcnt, m_Globals,
  m_ObjectFlags, m_ObjectState, m_ChildListHead, m_ParentObject,
  m_ChildEntry, m_DeviceBase [pdb][dump] (x86 computed). m_Type codes are
  [src] ``fxtypes.h``; m_ObjectFlags and sizeof of classes the profiles do
  not describe are the real dump's where it shows them [dump].
* Handles: ``object ^ FxHandleValueMask`` [src].
* Child lists: m_ChildListHead -> each child's m_ChildEntry, linked for
  real once everything is placed (:meth:`ObjectBuilder._link_child_lists`).
* ``FxContextHeader`` at ``object + m_ObjectSize`` [pdb] and the context
  bytes after it; ``_WDF_OBJECT_CONTEXT_TYPE_INFO`` in the client image
  [src] (public struct, offsets from the profile). An object without a
  context type has the header with ContextTypeInfo NULL and nothing after
  it: the next pool block starts at ``header + Context`` [dump].
* Locks, initialised as the constructors leave them (the profiles do not
  describe these classes; x64 offsets [pdb selene wait_lock_t,
  spin_lock_t][dump kmdf.md §12], x86 [computed] with the 8-byte x86
  MxLock): ``FxWaitLock`` {``m_Event`` KEVENT (Header.Type 1
  synchronization, Header.Size sizeof(KEVENT)/4, Header.SignalState 1 =
  free, an empty WaitListHead), the event's initialised flag,
  ``m_OwningThread``} and ``FxSpinLock`` {``m_SpinLock`` = {initialised
  flag, KSPIN_LOCK 0}, ``m_Irql``}; :meth:`ObjectBuilder.hold_lock` takes
  one as AcquireLock does (SignalState 0 and the owner; a non-zero
  KSPIN_LOCK).
* ``FxResourceCm`` (m_Type 0x1017, internal): one hardware resource, two
  CM_PARTIAL_RESOURCE_DESCRIPTORs at +0x68 and +0x7c (the raw and the
  translated one; wdm.h, packed 4) [dump: interrupt, level 8, vector 0x80,
  affinity 0xffff], and a vtable folded with FxWaitLock's (the same
  address, Wdf01000+0x967a0, in the real dump).
"""

import struct

from wdfdbg.decoders import types as fxt
from wdfdbg.testing.heap.space import PAGE, StructWriter, align, pattern, tag_value

# sizeof of classes the profiles do not describe (only FxObject fields are
# written for them). x64: the real dump's m_ObjectSize values (FxDriver 0x170,
# FxDevice 0x2c0, FxWaitLock 0x90, FxSpinLock 0x80, FxWorkItem 0xd0,
# FxUserObject 0x80) and selene's FxIoQueue (0x3a8). x86: guesses.
# FxIoTarget 0x160 and FxCmResList 0xa0 are the real dump's m_ObjectSize of
# m_Type 0x1200 and 0x1036; FxResourceCm (no handle: m_ObjectSize 0) spans
# its two descriptors (0x7c + 0x14, rounded up).
OTHER_SIZES = {
    "x64": {"FxDriver": 0x170, "FxDevice": 0x2c0, "FxIoQueue": 0x3a8, "FxWorkItem": 0xd0, "FxSpinLock": 0x80,
            "FxWaitLock": 0x90, "FxUserObject": 0x80, "FxSystemWorkItem": 0xa8, "FxIoTarget": 0x160,
            "FxCmResList": 0xa0, "FxResourceCm": 0x90},
    "x86": {"FxDriver": 0xd8, "FxDevice": 0x1a0, "FxIoQueue": 0x230, "FxWorkItem": 0x78, "FxSpinLock": 0x48,
            "FxWaitLock": 0x50, "FxUserObject": 0x40, "FxSystemWorkItem": 0x60, "FxIoTarget": 0xd0,
            "FxCmResList": 0x60, "FxResourceCm": 0x60},
}

# Lock members by pointer size: (offset, size) [see the module docstring]
WAIT_LOCK = {8: {"Type": (0x68, 1), "Size": (0x6A, 1), "SignalState": (0x6C, 4), "WaitListHead": (0x70, 8),
                 "Initialized": (0x80, 1), "m_OwningThread": (0x88, 8)},
             4: {"Type": (0x38, 1), "Size": (0x3A, 1), "SignalState": (0x3C, 4), "WaitListHead": (0x40, 4),
                 "Initialized": (0x48, 1), "m_OwningThread": (0x4C, 4)}}
KEVENT_SIZE = {8: 0x18, 4: 0x10}
SPIN_LOCK = {8: {"Initialized": (0x68, 1), "m_Lock": (0x70, 8), "m_Irql": (0x78, 1)},
             4: {"Initialized": (0x38, 1), "m_Lock": (0x3C, 4), "m_Irql": (0x40, 1)}}
SYNCHRONIZATION_EVENT = 1
# FxResourceCm's two CM_PARTIAL_RESOURCE_DESCRIPTORs (x64 [dump]): Type
# CmResourceTypeInterrupt 2, Flags CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE 0,
# u.Interrupt {Level, Vector, Affinity}
CM_DESCRIPTORS = {8: (0x68, 0x7c), 4: (0x38, 0x4c)}
CM_INTERRUPT = (2, 1, 0, 8, 0x80, 0xffff)   # Type, ShareDisposition, Flags, Level, Vector, Affinity

CLASS_TYPE = {
    "FxDriver": 0x1001, "FxDevice": 0x1002, "FxIoQueue": 0x1003, "FxRequest": 0x1008, "FxWorkItem": 0x1025,
    "FxSpinLock": 0x1024, "FxWaitLock": 0x1023, "FxUserObject": 0x100C, "FxSystemWorkItem": 0x1031,
    "FxIoTarget": 0x1200, "FxCmResList": 0x1036, "FxResourceCm": 0x1017,
    "FxNPagedLookasideList": 0x1009, "FxNPagedLookasideListFromPool": 0x1009, "FxPagedLookasideListFromPool": 0x1009,
}
for _c in fxt.MEMORY_CLASSES:
    CLASS_TYPE[_c] = 0x1000  # kmdf.md §5: m_Type is 0x1000 for every memory class

# m_ObjectFlags per class (real values where the triage dump shows them)
CLASS_FLAGS = {
    "FxDriver": 0x81b, "FxDevice": 0x81a, "FxIoQueue": 0x818, "FxRequest": 0x8, "FxWorkItem": 0x819,
    "FxSpinLock": 0x8, "FxWaitLock": 0x8, "FxUserObject": 0x19, "FxSystemWorkItem": 0x811,
    "FxIoTarget": 0x818, "FxCmResList": 0x8, "FxResourceCm": 0x8,
}
F_PASSIVE = 0x11     # PASSIVE_CALLBACKS | PASSIVE_DISPOSE (paged memory)
F_COMMITTED = 0x8
F_HAS_DEBUG = 0x80
F_HAS_CLEANUP = 0x400
DEBUG_SIGNATURE = 0x444F7846   # 'FxOD', FxObjectDebugExtension.Signature [src]
STATE_CREATED = 1
STATE_DESTROYED = 12


class CtxType(object):
    """A WDF_OBJECT_CONTEXT_TYPE_INFO in a client image."""

    __slots__ = ("address", "name", "size", "name_address", "_fill")

    def __init__(self, address, name, size, name_address):
        self.address = address
        self.name = name
        self.size = size
        self.name_address = name_address
        self._fill = None

    def fill(self):
        """The recognisable bytes of a context of this type."""
        if self._fill is None:
            self._fill = pattern(self.name[:12] + "#", self.size)
        return self._fill


class Obj(object):
    """One framework object as placed (``info`` holds class specifics)."""

    __slots__ = ("addr", "cls", "fx_type", "osize", "refcnt", "flags", "state", "parent", "children", "driver",
                 "dbg", "fxhdr", "poolhdr", "pool_tag", "pool_kind", "ctx", "info", "device_base", "label",
                 "alive", "parent_value")

    def __init__(self, cls, driver, fx_type, osize, flags, parent, refcnt=1, state=STATE_CREATED, label=None):
        self.cls = cls
        self.driver = driver
        self.fx_type = fx_type
        self.osize = osize
        self.flags = flags
        self.parent = parent
        self.refcnt = refcnt
        self.state = state
        self.label = label
        self.addr = None
        self.dbg = None          # FxObjectDebugExtension address
        self.fxhdr = None        # FX_POOL_HEADER address
        self.poolhdr = None      # nt _POOL_HEADER address
        self.pool_tag = None
        self.pool_kind = None
        self.ctx = None          # (FxContextHeader address, CtxType or None, cleanup callback)
        self.device_base = None
        self.children = None     # Obj and bulk Segment items, in child-list order
        self.info = None
        self.alive = True
        self.parent_value = None  # a lying m_ParentObject (PARENT_MISMATCH), written at finalize


def device_ancestor(o):
    while o is not None:
        if o.cls == "FxDevice":
            return o
        o = o.parent
    return None


def adopt(parent, child):
    """Append ``child`` (an Obj or a bulk Segment) to ``parent``'s child list."""
    if parent.children is None:
        parent.children = []
    parent.children.append(child)


class ObjectBuilder(object):
    """Part of :class:`~wdfdbg.testing.heap.HeapBuilder`: FxObjects in
    their pool blocks, contexts and child lists. Relies on
    :class:`~wdfdbg.testing.heap.core.HeapCore` (pool, layouts) and the
    driver part (``vtable``, ``image_alloc``)."""

    def _init_objects(self):
        L = self.t
        self.FXHDR = L("FX_POOL_HEADER").offset("AllocationStart")
        self.DBG = L("FxObjectDebugExtension").offset("AllocationStart")
        self.CTXHDR = L("FxContextHeader").offset("Context")
        obj = L("FxObject")
        self.off_head = obj.offset("m_ChildListHead")
        self.off_entry = obj.offset("m_ChildEntry")
        self.off_parent = obj.offset("m_ParentObject")
        self._objw = StructWriter(obj, ["__vfptr", "m_Type", "m_ObjectSize", "m_Refcnt", "m_Globals", "m_ObjectFlags",
                                        "m_ObjectState", "m_ChildListHead.Flink", "m_ChildListHead.Blink",
                                        "m_ParentObject", "m_ChildEntry.Flink", "m_ChildEntry.Blink",
                                        "m_DeviceBase"])
        self._fxhw = struct.Struct("<" + self.pfmt * 2)    # FX_POOL_HEADER {Base, FxDriverGlobals}
        self._ctxw = StructWriter(L("FxContextHeader"), ["Object", "NextHeader", "EvtCleanupCallback",
                                                         "EvtDestroyCallback", "ContextTypeInfo"])
        self.objects = []      # every Obj ever created (dead ones keep alive=False)

    def handle(self, addr):
        return addr ^ self.mask

    def class_size(self, cls):
        try:
            return self.t(cls).size
        except KeyError:
            return OTHER_SIZES[self.arch][cls]

    def _object_span(self, cls, drv, extra, ctx, internal):
        """(m_ObjectSize, debug extension size, bytes from the debug
        extension to the end of the context) for one object."""
        body = align(self.class_size(cls), self.maa)
        osize = 0 if internal else body + align(extra, self.maa)
        span = osize if osize else body
        dbg = self.DBG if drv.object_debug else 0
        ctxb = 0
        ctxh = 0
        if osize:
            ctxh = self.CTXHDR
            if ctx is not None:
                ctxb = align(ctx.size, self.ptr)
        return osize, dbg, dbg + span + ctxh + ctxb

    def new_object(self, cls, parent, driver=None, extra=0, ctx=None, flags=None, refcnt=1, internal=False,
                   tag=None, fx_type=None, label=None, cleanup=None, state=STATE_CREATED, link=True):
        """Allocate and lay out one framework object; append it to
        ``parent``'s child list (``link=False``: parented but not listed is
        not allowed; pass parent=None for unparented objects)."""
        drv = driver or parent.driver
        osize, dbg, size = self._object_span(cls, drv, extra, ctx, internal)
        f = CLASS_FLAGS.get(cls, F_COMMITTED) if flags is None else flags
        if cleanup:
            f |= F_HAS_CLEANUP
        o = Obj(cls, drv, fx_type if fx_type is not None else CLASS_TYPE[cls], osize, f, parent, refcnt, state,
                label)
        if size + self.FXHDR >= PAGE:
            o.addr = self.pool_big(size) + dbg     # a big allocation: no FX_POOL_HEADER, no nt header
        else:
            tagv = tag_value(tag) if tag else drv.tagv
            data, hdr = self.pool(size + self.FXHDR, tagv)
            self._in_pool_block(o, data, hdr, tagv, dbg)
        if cls == "FxDevice":
            o.device_base = o.addr
        elif parent is not None:
            o.device_base = parent.device_base
        self._lay_object(o, dbg, ctx, cleanup)
        if cls in ("FxWaitLock", "FxSpinLock"):
            self._write_lock(o)
        elif cls == "FxResourceCm":
            self._write_cm_resource(o)
        self.objects.append(o)
        if parent is not None and link:
            adopt(parent, o)
        return o

    def write_fx_pool_header(self, addr, drv):
        """FX_POOL_HEADER {Base = addr, FxDriverGlobals} at ``addr``."""
        self.heap.pack(addr, self._fxhw, addr, drv.globals)

    def _in_pool_block(self, o, fxhdr, poolhdr, tagv, dbg):
        """Place ``o`` in the nonpaged block whose FX_POOL_HEADER is at ``fxhdr``."""
        o.fxhdr = fxhdr
        o.poolhdr = poolhdr
        o.pool_tag = tagv
        o.pool_kind = "nonpaged"
        o.addr = fxhdr + self.FXHDR + dbg
        self.write_fx_pool_header(fxhdr, o.driver)

    def _lay_object(self, o, dbg, ctx, cleanup):
        """Debug extension, FxObject header and (with a size) context header."""
        if dbg:
            o.dbg = o.addr - dbg
            o.flags |= F_HAS_DEBUG
            self._write_debug_ext(o.dbg)
        self._write_header(o)
        if o.osize:
            self._write_ctx(o, ctx, cleanup)

    def _write_debug_ext(self, addr):
        lay = self.t("FxObjectDebugExtension")
        self.heap.put(addr + lay.offset("Signature"), 4, DEBUG_SIGNATURE)

    def _pack_header(self, addr, vptr, fx_type, osize, refcnt, globals_, flags, state, parent, flink, blink,
                     device_base):
        """The FxObject fields, with an empty child list and m_ChildEntry {flink, blink}."""
        head = addr + self.off_head
        self._objw.pack(self.heap, addr, vptr, fx_type, osize, refcnt, globals_, flags, state, head, head, parent,
                        flink, blink, device_base)

    def _write_header(self, o, vptr=None, entry_links=None):
        """``o``'s FxObject fields; m_ChildEntry points at itself unless
        ``entry_links`` gives (Flink, Blink)."""
        entry = o.addr + self.off_entry
        flink, blink = entry_links or (entry, entry)
        self._pack_header(o.addr, self.vtable(o.cls) if vptr is None else vptr, o.fx_type, o.osize, o.refcnt,
                          o.driver.globals, o.flags, o.state, o.parent.addr if o.parent is not None else 0, flink,
                          blink, o.device_base or 0)

    def _pack_ctx(self, obj, hdr, ctx, cleanup):
        """FxContextHeader at ``hdr`` for the object at ``obj``, and the context bytes."""
        self._ctxw.pack(self.heap, hdr, obj, 0, cleanup, 0, ctx.address if ctx is not None else 0)
        if ctx is not None:
            self.heap.write(hdr + self.CTXHDR, ctx.fill())

    def _write_ctx(self, o, ctx, cleanup):
        hdr = o.addr + o.osize
        self._pack_ctx(o.addr, hdr, ctx, cleanup or 0)
        o.ctx = (hdr, ctx, cleanup or 0)

    def ctx_type(self, drv, name, size):
        """The driver's WDF_OBJECT_CONTEXT_TYPE_INFO for ``name`` (one per name)."""
        ct = drv.ctx_types.get(name)
        if ct is None:
            info = self.t("_WDF_OBJECT_CONTEXT_TYPE_INFO")
            addr = self.image_alloc(drv, info.size, self.ptr)
            name_addr = self.image_alloc(drv, len(name) + 1, 8)
            self.heap.write(name_addr, name.encode("ascii") + b"\0")
            self.put(addr, "_WDF_OBJECT_CONTEXT_TYPE_INFO", {"Size": info.size, "ContextName": name_addr,
                                                              "ContextSize": size, "UniqueType": addr,
                                                              "EvtDriverGetUniqueContextType": 0})
            ct = CtxType(addr, name, size, name_addr)
            drv.ctx_types[name] = ct
        return ct

    # -- locks and resources ---------------------------------------------------
    def _put_fields(self, addr, table, values):
        for name, value in values.items():
            off, size = table[name]
            self.heap.put(addr + off, size, value)

    def _write_lock(self, o):
        """A free, initialised lock (as its constructor and Initialize leave it)."""
        if o.cls == "FxWaitLock":
            table = WAIT_LOCK[self.ptr]
            head = o.addr + table["WaitListHead"][0]
            self._put_fields(o.addr, table, {"Type": SYNCHRONIZATION_EVENT, "Size": KEVENT_SIZE[self.ptr] // 4,
                                             "SignalState": 1, "Initialized": 1, "m_OwningThread": 0})
            self.heap.pack(head, self._linkw, head, head)   # no waiters
            o.info = {"kind": "lock", "lock": "WDFWAITLOCK", "held": False, "owner": 0}
        else:
            self._put_fields(o.addr, SPIN_LOCK[self.ptr], {"Initialized": 1, "m_Lock": 0, "m_Irql": 0})
            o.info = {"kind": "lock", "lock": "WDFSPINLOCK", "held": False, "owner": 0}

    def hold_lock(self, o, thread):
        """Take the lock ``o`` as the thread ``thread`` (a KTHREAD address):
        FxWaitLockInternal::AcquireLock leaves the event reset and the owner
        recorded; a taken KSPIN_LOCK is non-zero and names no owner."""
        if o.cls == "FxWaitLock":
            self._put_fields(o.addr, WAIT_LOCK[self.ptr], {"SignalState": 0, "m_OwningThread": thread})
            o.info.update(held=True, owner=thread)
        else:
            self._put_fields(o.addr, SPIN_LOCK[self.ptr], {"m_Lock": 1})
            o.info.update(held=True, owner=None)

    def _write_cm_resource(self, o):
        kind, share, flags, level, vector, affinity = CM_INTERRUPT
        for at in CM_DESCRIPTORS[self.ptr]:
            self.heap.pack(o.addr + at, struct.Struct("<BBHII" + self.pfmt), kind, share, flags, level, vector,
                           affinity)

    # convenience constructors
    def device(self, drv, ctx=None):
        return self.new_object("FxDevice", drv.fxdriver, ctx=ctx)

    def queue(self, device, ctx=None):
        return self.new_object("FxIoQueue", device, ctx=ctx)

    def user_object(self, parent, ctx=None, cleanup=None, label=None, refcnt=1):
        return self.new_object("FxUserObject", parent, ctx=ctx, cleanup=cleanup, label=label, refcnt=refcnt)

    def _link_child_lists(self):
        """Finalize step: link every live object's children (Obj or bulk
        Segment items) behind its m_ChildListHead and store each child's
        m_ParentObject (a lying one where the scenario set parent_value)."""
        heap = self.heap
        lw = self._linkw
        pw = self._ptrw
        en = self.off_entry
        for o in self.objects:
            if not o.alive or not o.children:
                continue
            head = o.addr + self.off_head
            items = o.children
            firsts = []
            lasts = []
            for it in items:
                if isinstance(it, Obj):
                    firsts.append(it.addr + en)
                    lasts.append(it.addr + en)
                elif len(it) == 0:
                    firsts.append(None)
                    lasts.append(None)
                else:
                    # a bulk segment is linked inside already: only its ends join the list
                    firsts.append(it.addrs[0] + en)
                    lasts.append(it.addrs[-1] + en)
            idx = [i for i in range(len(items)) if firsts[i] is not None]
            if not idx:
                continue
            heap.pack(head, lw, firsts[idx[0]], lasts[idx[-1]])
            for k, i in enumerate(idx):
                prev = lasts[idx[k - 1]] if k > 0 else head
                nxt = firsts[idx[k + 1]] if k + 1 < len(idx) else head
                it = items[i]
                if isinstance(it, Obj):
                    heap.pack(it.addr + en, lw, nxt, prev)
                    pv = it.parent_value if it.parent_value is not None else o.addr
                    heap.pack(it.addr + self.off_parent, pw, pv)
                else:
                    heap.pack(firsts[i] + self.ptr, pw, prev)
                    heap.pack(lasts[i], pw, nxt)
