"""The memory classes of kmdf.md §5 (FxMemoryObject and the classes
derived from it), their layout facts, and what each FxObject vtable pointer
was learned to be when the memory objects are classified by shape
(:class:`LearnedShapes`; the shape rules themselves are
:func:`wdfdbg.decoders.memory.classify_by_shape`)."""

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.lookaside import memory_alignment
from wdfdbg.errors import LayoutError

ORIGINS = {
    "FxMemoryBuffer": "inline",
    "FxMemoryBufferFromPool": "pool",
    "FxMemoryPagedBufferFromPool": "pool",
    "FxMemoryBufferFromLookaside": "lookaside",
    "FxMemoryBufferFromPoolLookaside": "pool-lookaside",
    "FxMemoryPagedBufferFromPoolLookaside": "pool-lookaside",
    "FxMemoryBufferPreallocated": "preallocated",
    "FxRequestMemory": "request",
    "FxMemoryObject": None,
}
INLINE = ("FxMemoryBuffer", "FxMemoryBufferFromLookaside")
PAGED = ("FxMemoryPagedBufferFromPool", "FxMemoryPagedBufferFromPoolLookaside")
MEMORY_TYPES = (fxt.FX_TYPE_OBJECT, fxt.FX_TYPE_MEMORY_PREALLOCATED, fxt.FX_TYPE_REQUEST_MEMORY)
PASSIVE_FLAGS = 0x11  # PASSIVE_CALLBACKS | PASSIVE_DISPOSE: set on paged-pool memory


def _wdf(name):
    return "Wdf01000!" + name


def _align(n, a):
    return (n + a - 1) & ~(a - 1)


def class_layout(session, cls):
    return session.layouts.get(_wdf(cls))


def inline_offset(session, cls):
    """Where an inline-buffer class keeps its buffer: ALIGN(sizeof, MAA)."""
    return _align(class_layout(session, cls).size, memory_alignment(session))


def fixed_object_size(session, cls):
    return _align(class_layout(session, cls).size, memory_alignment(session))


def ifx_memory_offset(session):
    lay = class_layout(session, "FxMemoryObject")
    if lay.has("__vfptr_IFxMemory"):
        return lay.offset("__vfptr_IFxMemory")
    return session.layouts.get(_wdf("FxObject")).size


class LearnedShapes(object):
    """The memory class each FxObject vtable pointer turned out to have,
    learned from the objects' shapes (``session.derived`` key ``("memory",
    "shapes")``). Every object with the same vtable pointer is an object of
    the same C++ class, so once two objects with a vtable have been
    classified the long way (:func:`wdfdbg.decoders.memory.classify_by_shape`)
    as the same class,
    the next ones only pass :meth:`consistent`: a few integers of the bytes
    already read. One that fails it (a lying vtable: a pointer copied over
    an object of another shape) is classified the long way on its own. Two
    long-way decisions that disagree mark the vtable as undecidable: every
    object with it is classified the long way.

    Also the layout facts the check needs, looked up once: ``ifx`` (where
    the IFxMemory vtable pointer is), ``big``/``small`` (how much to read),
    ``fixed`` (ALIGN(sizeof(class), MAA) per class: an inline class's
    buffer starts there), ``fixed_sizes`` (those of the fixed-size classes) and the
    member offsets ``buffer_size``, ``lookaside``, ``request``."""

    LEARN_AFTER = 2      # objects agreeing the long way before a vtable's class is taken as known
    UNDECIDABLE = ""

    def __init__(self, session):
        self.ptr = session.target.pointer_size
        self.maa = memory_alignment(session)
        self.ifx = ifx_memory_offset(session)
        self.big = max(class_layout(session, c).size for c in ORIGINS)
        self.small = class_layout(session, "FxMemoryObject").size
        self.fixed = dict((c, fixed_object_size(session, c)) for c in ORIGINS)
        self.fixed_sizes = frozenset(self.fixed[c] for c in ORIGINS if c not in INLINE)
        self.buffer_size = _member(session, "FxMemoryObject", "m_BufferSize")
        self.lookaside = _member(session, "FxMemoryBufferFromLookaside", "m_pLookaside")
        self.request = _member(session, "FxRequestMemory", "m_Request")
        self.classes = {}    # vtable pointer -> (class, m_Type, IFxMemory vtable pointer)
        self.pending = {}    # vtable pointer -> ((class, m_Type, IFxMemory vtable pointer), addresses that agreed)

    def _int(self, data, member):
        end = member.offset + member.size
        if len(data) < end:
            return None
        return int.from_bytes(data[member.offset:end], "little")

    def ifx_pointer(self, data):
        end = self.ifx + self.ptr
        return int.from_bytes(data[self.ifx:end], "little") if len(data) >= end else None

    def known(self, vfptr):
        """(class, m_Type, IFxMemory pointer) learned for ``vfptr``, None
        while not learned, :data:`UNDECIDABLE` for a vtable whose objects
        disagreed."""
        return self.classes.get(vfptr)

    def learn(self, hdr, data, cls):
        """Count a long-way decision ``cls`` for the object's vtable."""
        vt = hdr.vfptr
        if not vt or cls in (None, "FxMemoryObject") or vt in self.classes:
            return
        fact = (cls, hdr.fx_type, self.ifx_pointer(data))
        seen = self.pending.get(vt)
        if seen is None:
            self.pending[vt] = (fact, set([hdr.address]))
        elif seen[0] != fact:
            del self.pending[vt]
            self.classes[vt] = self.UNDECIDABLE
        else:
            seen[1].add(hdr.address)   # the same object asked twice is one decision
            if len(seen[1]) >= self.LEARN_AFTER:
                del self.pending[vt]
                self.classes[vt] = fact

    def consistent(self, learned, hdr, data):
        """Whether the object's own facts fit the class its vtable names: the
        same m_Type and IFxMemory vtable pointer as the objects that taught
        it, and the m_ObjectSize, buffer length and pointers the class has
        (the rules of :func:`classify_by_shape`)."""
        cls, fx_type, ifx = learned
        if hdr.fx_type != fx_type or not ifx or self.ifx_pointer(data) != ifx:
            return False
        os_ = hdr.object_size or 0
        if cls in INLINE:
            bs = self._int(data, self.buffer_size)
            inline = self.fixed[cls]
            if not (bs is not None and os_ == inline + _align(bs, self.maa)
                    or os_ > inline and os_ not in self.fixed_sizes):
                return False
        elif os_ != self.fixed[cls]:
            return False
        if ORIGINS[cls] in ("lookaside", "pool-lookaside"):
            return bool(self._int(data, self.lookaside))
        if cls == "FxRequestMemory":
            req = self._int(data, self.request)
            return bool(req) and hdr.parent in (req, 0, None)
        passive = (hdr.flags or 0) & PASSIVE_FLAGS == PASSIVE_FLAGS
        if cls == "FxMemoryPagedBufferFromPool":
            return passive and bool(hdr.device_base)
        if cls == "FxMemoryBufferFromPool":
            return not (passive and hdr.device_base)
        return True


def _member(session, cls, name):
    f = class_layout(session, cls).flat.get(name)
    if f is None:
        raise LayoutError("%s has no member %s" % (_wdf(cls), name))
    return f


def learned_shapes(session):
    return session.derived.get(("memory", "shapes"), lambda: LearnedShapes(session))
