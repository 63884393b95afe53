"""WDFMEMORY: every memory class of kmdf.md §5 and the request buffers
reached through offset handles.

C types: ``Wdf01000!FxMemoryObject`` and its classes (FxMemoryBuffer,
FxMemoryBufferFromPool, FxMemoryPagedBufferFromPool,
FxMemoryBufferFromLookaside, FxMemoryBufferFromPoolLookaside,
FxMemoryPagedBufferFromPoolLookaside, FxMemoryBufferPreallocated,
FxRequestMemory), ``FxRequest`` with its embedded ``FxRequestSystemBuffer``
/ ``FxRequestOutputBuffer``, ``nt!_IRP``, ``nt!_IO_STACK_LOCATION``,
``nt!_POOL_HEADER`` and ``FX_POOL_HEADER``.

* The class comes from the vtable symbol (``objects.classify``); without
  symbols :func:`shape_classifier` decides from the object's shape and the
  record says so (``class_source`` ``shape``).
* :func:`decode_memory` gives the contract's memory record (buffer, length,
  origin, pool_tag, lookaside, mdl, read_only) plus extensions.
* :func:`decode_request_buffer` decodes a request's input or output buffer
  from the IRP's current stack location (kmdf.md §5 request buffers; the
  read-only rules of the source notes §4.6).
* :func:`resolve_memory` turns a handle (plain or offset) or an address into
  what it names.

Shape rules (x64 offsets from the layouts; MAA = 16, x86 8): the inline
buffer of FxMemoryBuffer/FxMemoryBufferFromLookaside starts at
``ALIGN(sizeof(class), MAA)`` and ``m_ObjectSize`` is that plus
``ALIGN(m_BufferSize, MAA)``; the fixed-size classes have ``m_ObjectSize =
ALIGN(sizeof(class), MAA)``; a lookaside class is told by ``m_pLookaside``
pointing at an ``m_Type == 0x1009`` object (and that list's own class);
FxRequestMemory by ``m_Request`` pointing at an ``m_Type == 0x1008`` object
that is also its parent; FromPool from Preallocated by the nt pool header
right in front of the buffer (an exact-size allocation), a page-aligned
buffer of a page or more, or paged-pool object flags.

Problem address conventions: MEMORY_OUT_OF_BOUNDS at the memory object (for
a request buffer: at the FxRequest); UNREADABLE at the first unreadable
address.
"""

import struct

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.alignment import alignment_of
from wdfdbg.decoders.common import read_record_partial, tag_string
from wdfdbg.decoders.handles import decode_handle_or_address, handle_of
from wdfdbg.decoders.memory_classes import (INLINE, MEMORY_TYPES, ORIGINS, PAGED, PASSIVE_FLAGS, _align, _wdf,
                                            class_layout, fixed_object_size, ifx_memory_offset, inline_offset,
                                            learned_shapes)
from wdfdbg.decoders.lookaside import (lookaside_shape_class, read_lookaside_base, KINDS as LOOKASIDE_KINDS,
                                       memory_alignment)
from wdfdbg.decoders.facts import NOT_CAPTURED, NOT_CAPTURED_TEXT
from wdfdbg.decoders.objects import object_bytes
from wdfdbg.errors import LayoutError, ReadError
from wdfdbg.problems import INFO, is_partial_dump

MAX_SANE_LENGTH = 0x7FFFFFFF
IFX_MEMORY_FLAG_READ_ONLY = 1

IRP_MJ_READ = 0x03
IRP_MJ_WRITE = 0x04
IRP_MJ_DEVICE_CONTROL = 0x0E
IRP_MJ_INTERNAL_DEVICE_CONTROL = 0x0F
MAJOR_NAMES = {0x00: "IRP_MJ_CREATE", 0x02: "IRP_MJ_CLOSE", 0x03: "IRP_MJ_READ", 0x04: "IRP_MJ_WRITE",
               0x0E: "IRP_MJ_DEVICE_CONTROL", 0x0F: "IRP_MJ_INTERNAL_DEVICE_CONTROL", 0x12: "IRP_MJ_CLEANUP",
               0x16: "IRP_MJ_POWER", 0x17: "IRP_MJ_SYSTEM_CONTROL", 0x1B: "IRP_MJ_PNP"}
METHOD_NAMES = {0: "METHOD_BUFFERED", 1: "METHOD_IN_DIRECT", 2: "METHOD_OUT_DIRECT", 3: "METHOD_NEITHER"}


def hx(v):
    return None if v is None else "0x%x" % v


def px(v):
    """A pointer as JSON: NULL (or unknown) is null."""
    return "0x%x" % v if v else None


def _field(rec, *names):
    for n in names:
        if n in rec and rec[n] is not None:
            return rec[n]
    return None


# -- shape classification ----------------------------------------------------
def _read_largest(session, address, shapes=None):
    """Bytes of the largest memory class at ``address`` (shorter when the
    tail is unreadable); None when even the FxMemoryObject part is not."""
    target = session.target
    if shapes is None:
        shapes = learned_shapes(session)
    big, small = shapes.big, shapes.small
    try:
        return target.read(address, big)
    except ReadError:
        pass
    try:
        return target.read(address, small)
    except ReadError:
        return None


def _object_type_at(session, address):
    """m_Type of the object at ``address`` or None."""
    if not address:
        return None
    try:
        lay = session.layouts.get(_wdf("FxObject"))
        return session.target.read_u16(address + lay.offset("m_Type"))
    except (ReadError, LayoutError):
        return None


def _same_module(session, a, b):
    target = session.target
    if not target.modules():
        return True
    ma = target.module_of(a)
    return ma is None or ma.contains(b)


def looks_like_memory(session, hdr, data=None):
    """A 0x1000 object carrying an IFxMemory vtable pointer (in the same
    image as its FxObject vtable when modules are known)."""
    if hdr.fx_type not in MEMORY_TYPES:
        return False
    if data is None:
        data = _read_largest(session, hdr.address)
    if data is None:
        return False
    off = ifx_memory_offset(session)
    ptr = session.target.pointer_size
    if len(data) < off + ptr:
        return False
    ifx = int.from_bytes(data[off:off + ptr], "little")
    if not ifx or not hdr.vfptr:
        return False
    if ifx & (ptr - 1):
        return False
    return _same_module(session, hdr.vfptr, ifx)


def lookaside_class_of(session, address):
    """The class of the lookaside object at ``address`` (vtable, else
    shape), found once per lookaside (``session.derived`` table
    ``lookaside_class``): every memory object allocated from it asks."""
    cache = session.derived.table("lookaside_class")
    try:
        return cache[address]
    except KeyError:
        pass
    cls = None
    if read_lookaside_base(session, address):
        from wdfdbg.decoders.objects import read_object
        try:
            hdr = read_object(session, address)
            cls = hdr.cls if hdr.cls in LOOKASIDE_KINDS else lookaside_shape_class(session, hdr)
        except ReadError:
            cls = None
    cache[address] = cls
    return cls


def memory_shape_class(session, hdr, data=None):
    """The memory class of ``hdr`` from its shape, or None when it is not a
    memory object. ``FxMemoryObject`` when it is one of unknown class.

    Once per vtable pointer the long way (:func:`classify_by_shape`), then
    the class that vtable was learned to have when the object's facts fit it
    (:class:`LearnedShapes`)."""
    shapes = learned_shapes(session)
    learned = shapes.known(hdr.vfptr) if hdr.vfptr else None
    if data is None:
        window, base = hdr.data, hdr.data_base
        if window is not None and len(window) >= base + shapes.big:
            data = window[base:base + shapes.big]   # the walk's read window holds the object
        else:
            data = _read_largest(session, hdr.address, shapes)
    if data is None:
        return None
    if learned and shapes.consistent(learned, hdr, data):
        return learned[0]
    cls = classify_by_shape(session, hdr, data)
    if learned is None:
        shapes.learn(hdr, data, cls)
    return cls


def classify_by_shape(session, hdr, data):
    """The memory class of ``hdr`` from its shape (the module's shape
    rules), the long way: None when it is not a memory object,
    ``FxMemoryObject`` when it is one of unknown class."""
    if not looks_like_memory(session, hdr, data):
        return None
    os_ = hdr.object_size or 0
    maa = memory_alignment(session)
    base = class_layout(session, "FxMemoryObject").decode(data)
    bs = base.get("m_BufferSize")
    # FxRequestMemory: m_Request -> a WDFREQUEST that is also the parent
    rm = class_layout(session, "FxRequestMemory")
    rmr = rm.decode(data)
    req = rmr.get("m_Request")
    if os_ == fixed_object_size(session, "FxRequestMemory") and req and hdr.parent in (req, 0, None) \
            and _object_type_at(session, req) == fxt.FX_TYPE_REQUEST:
        return "FxRequestMemory"
    # lookaside classes: m_pLookaside -> an m_Type 0x1009 object
    fl = class_layout(session, "FxMemoryBufferFromLookaside").decode(data)
    la = fl.get("m_pLookaside")
    if la and read_lookaside_base(session, la):
        la_cls = lookaside_class_of(session, la)
        if la_cls == "FxNPagedLookasideList":
            return "FxMemoryBufferFromLookaside"
        if la_cls == "FxNPagedLookasideListFromPool":
            return "FxMemoryBufferFromPoolLookaside"
        if la_cls == "FxPagedLookasideListFromPool":
            # the paged class when the list's memory attributes have a device
            # ancestor (m_MemoryDeviceBase), which is also the object's
            dev = _pointer_field(session, la, "FxPagedLookasideListFromPool", "m_MemoryDeviceBase")
            if dev or (dev is None and hdr.device_base):
                return "FxMemoryPagedBufferFromPoolLookaside"
            return "FxMemoryBufferFromPoolLookaside"
        if bs is not None and os_ == inline_offset(session, "FxMemoryBufferFromLookaside") + _align(bs, maa):
            return "FxMemoryBufferFromLookaside"
        if os_ == fixed_object_size(session, "FxMemoryBufferFromPoolLookaside"):
            return "FxMemoryBufferFromPoolLookaside"
        return "FxMemoryBufferFromLookaside"
    inline = inline_offset(session, "FxMemoryBuffer")
    fixed = fixed_object_size(session, "FxMemoryBufferFromPool")
    fixed_sizes = set(fixed_object_size(session, c) for c in ORIGINS if c not in INLINE)
    if os_ == fixed:
        if bs and os_ == inline + _align(bs, maa):
            # x86: a buffer of MAA bytes or less inline makes FxMemoryBuffer
            # as big as the fixed-size classes: their pointer must be one
            ptr = class_layout(session, "FxMemoryBufferFromPool").decode(data).get("m_Pool")
            if not ptr or not session.target.is_readable(ptr, 1):
                return "FxMemoryBuffer"
        return _pool_or_preallocated(session, hdr, data, bs)
    if os_ > inline and os_ not in fixed_sizes:
        # inline buffer (a length that does not fit m_ObjectSize is reported
        # by decode_memory)
        return "FxMemoryBuffer"
    if bs and os_ == inline + _align(bs, maa):
        return "FxMemoryBuffer"
    return "FxMemoryObject"


def _pointer_field(session, address, cls, field):
    try:
        return session.target.read_pointer(address + class_layout(session, cls).offset(field))
    except (ReadError, LayoutError):
        return None


def _pool_or_preallocated(session, hdr, data, bs):
    lay = class_layout(session, "FxMemoryBufferFromPool")
    buf = lay.decode(data).get("m_Pool")
    target = session.target
    paged = (hdr.flags or 0) & PASSIVE_FLAGS == PASSIVE_FLAGS
    if paged:
        return "FxMemoryPagedBufferFromPool" if hdr.device_base else "FxMemoryBufferFromPool"
    if not buf:
        return "FxMemoryBufferFromPool"
    if target.module_of(buf) is not None:
        return "FxMemoryBufferPreallocated"
    ps = target.page_size
    if buf % ps == 0 and bs and bs >= ps:
        return "FxMemoryBufferFromPool"
    ph = pool_header(session, buf - pool_header_size(session))
    if ph is not None and bs and ph["capacity"] == _align(bs, ph["unit"]):
        return "FxMemoryBufferFromPool"
    return "FxMemoryBufferPreallocated"


def shape_classifier(session, hdr):
    """``Session.shape_classifier``: the class of an object whose vtable has
    no symbol (memory and lookaside objects), or None."""
    try:
        if hdr.fx_type == fxt.FX_TYPE_LOOKASIDE:
            return lookaside_shape_class(session, hdr)
        if hdr.fx_type in MEMORY_TYPES:
            return memory_shape_class(session, hdr)
    except (LayoutError, ReadError):
        return None
    return None


def memory_class(session, hdr):
    """(class, source) of a memory object: the header's class when it is a
    memory class, else by shape."""
    if hdr.cls in ORIGINS:
        return hdr.cls, hdr.cls_source
    if hdr.cls is not None and hdr.cls_source == "vtable":
        return None, None
    cls = memory_shape_class(session, hdr)
    return cls, ("shape" if cls else None)


def is_memory(session, hdr):
    if hdr.cls in ORIGINS:
        return True
    if hdr.cls is not None and hdr.cls_source == "vtable":
        return False
    return hdr.fx_type in MEMORY_TYPES and memory_shape_class(session, hdr) is not None


# -- per-session constants ----------------------------------------------------
class MemoryConsts(object):
    """What decoding memory objects needs from the layouts, looked up once
    per session (``session.derived`` key ``("memory", "consts")``): the
    memory alignment, FX_POOL_HEADER's and FxObjectDebugExtension's sizes
    up to ``AllocationStart``, nt ``_POOL_HEADER``'s size, the pool tracker
    size, and a cache of pool tag values already turned into text."""

    def __init__(self, session):
        target = session.target
        self.ptr = target.pointer_size
        self.page_size = target.page_size
        self.maa = memory_alignment(session)
        try:
            self.fph_size = session.layouts.get(_wdf("FX_POOL_HEADER")).offset("AllocationStart")
        except LayoutError:
            self.fph_size = 2 * self.ptr
        try:
            self.debug_size = session.layouts.get(_wdf("FxObjectDebugExtension")).offset("AllocationStart")
        except LayoutError:  # every profile has it; 0x30 is 2004 and later's x64 (0x20 on 1607)
            self.debug_size = 0x30 if self.ptr == 8 else 0x20
        try:
            self.pool_header_size = session.layouts.get("nt!_POOL_HEADER").size
        except LayoutError:
            self.pool_header_size = 16 if self.ptr == 8 else 8
        self.tracker = 0x40 if self.ptr == 8 else 0x20
        self.tags = {}  # raw ULONG tag -> tag text, or None when it does not look like a tag
        self.codecs = {}  # memory class -> its MemoryCodec (memory_codec)


def memory_consts(session):
    return session.derived.get(("memory", "consts"), lambda: MemoryConsts(session))


# The members of the memory classes a record needs, in MemoryCodec order.
TAIL_FIELDS = ("m_BufferSize", "m_Pool", "m_pBuffer", "m_pLookaside", "m_Request", "m_Mdl", "m_Flags")


class MemoryCodec(object):
    """One memory class's layout facts, once per (session, class): its
    ``layout``, ``size``, the precompiled struct of :data:`TAIL_FIELDS`,
    ``inline`` (where an inline buffer starts: ALIGN(sizeof, MAA)) and
    ``fixed`` (the m_ObjectSize of a fixed-size class, the same value)."""

    def __init__(self, session, cls):
        from wdfdbg.decoders.codec import FieldCodec
        self.cls = cls
        self.qualified = _wdf(cls)
        self.layout = class_layout(session, cls)
        self.size = self.layout.size
        self.fields = FieldCodec(self.layout, TAIL_FIELDS)
        self.inline = _align(self.size, memory_alignment(session))
        self.origin = ORIGINS.get(cls)


def memory_codec(session, cls):
    """The session's :class:`MemoryCodec` for ``cls`` (kept with its
    :class:`MemoryConsts`)."""
    codecs = memory_consts(session).codecs
    codec = codecs.get(cls)
    if codec is None:
        codec = codecs[cls] = MemoryCodec(session, cls)
    return codec


# -- pool headers ----------------------------------------------------------
def pool_header_size(session):
    return memory_consts(session).pool_header_size


def pool_header(session, address, hdr=None):
    """Decode the nt ``_POOL_HEADER`` at ``address`` when it looks like one:
    ``{address, tag, block_size, capacity, unit, pool_type}`` (capacity =
    bytes after the header), else None. ``hdr``: an object header whose
    read window may already hold those bytes."""
    c = memory_consts(session)
    raw = _pool_header_bytes(session, c, address, hdr)
    if raw is None:
        return None
    ulong1, tag = _TWO_ULONGS.unpack_from(raw)
    text = _tag_text(c, tag)
    if text is None:
        return None
    if c.ptr == 8:
        unit = 16
        block = (ulong1 >> 16) & 0xFF
        ptype = (ulong1 >> 24) & 0xFF
    else:
        unit = 8
        block = (ulong1 >> 16) & 0x1FF
        ptype = (ulong1 >> 25) & 0x7F
    return {"address": address, "tag": text, "block_size": block,
            "capacity": block * unit - c.pool_header_size if block else None, "unit": unit, "pool_type": ptype}


def _pool_header_bytes(session, c, address, hdr):
    if address is None or address < 0:
        return None
    try:
        if hdr is not None:
            return object_bytes(session, hdr, address - hdr.address, c.pool_header_size)
        return session.target.read(address, c.pool_header_size)
    except ReadError:
        return None


def _tag_text(c, tag):
    """A pool header's tag as text, or None when it does not look like a
    tag (printable, the top bit aside); cached per value."""
    try:
        return c.tags[tag]
    except KeyError:
        chars = tag.to_bytes(4, "little")
        printable = all(32 <= (ch & 0x7F) < 127 for ch in chars) and all(32 <= ch < 127 for ch in chars[:3])
        text = c.tags[tag] = tag_string(tag & 0x7FFFFFFF) if printable else None
        return text


_TWO_ULONGS = struct.Struct("<II")


def object_allocation_tag(session, hdr):
    """The pool tag of the allocation holding an object: FX_POOL_HEADER in
    front of the object (after any FxObjectDebugExtension), its Base, and
    the nt pool header in front of that. None for page-aligned (big pool)
    allocations or when unreadable. Reads through the object's read window
    when it holds those bytes (a tree walk's objects)."""
    c = memory_consts(session)
    alloc = _allocation_start(session, c, hdr)
    if alloc is None or alloc is NOT_CAPTURED:
        return None, None
    ph = pool_header(session, alloc - c.pool_header_size, hdr)
    if ph is None:
        return None, None
    return ph["tag"], ph


def _allocation_start(session, c, hdr):
    """Where the pool allocation holding ``hdr``'s object starts (its
    FX_POOL_HEADER.Base, when that is right in front of it, with or without
    a pool tracker), None when there is none (a page-aligned object, a Base
    that is not the block), NOT_CAPTURED when the FX_POOL_HEADER was not
    readable."""
    base = hdr.address
    if (hdr.flags or 0) & fxt.FLAG_HAS_DEBUG:
        base -= c.debug_size
    if base % c.page_size == 0:
        return None
    header = base - c.fph_size
    try:
        raw = object_bytes(session, hdr, header - hdr.address, c.ptr)
    except ReadError:
        return NOT_CAPTURED
    alloc = int.from_bytes(raw, "little")
    if alloc != header and alloc != header - c.tracker:
        return None
    return alloc


def _allocation_tag(session, c, hdr):
    """:func:`object_allocation_tag`'s tag alone (the tree walk's path: no
    pool header dict, and straight from the object's read window when it
    holds the FX_POOL_HEADER and the pool header in front of the object);
    NOT_CAPTURED when the headers in front of the object were not
    readable."""
    data = hdr.data
    if data is not None and not (hdr.flags or 0) & fxt.FLAG_HAS_DEBUG and hdr.address % c.page_size:
        # header = address - fph_size; Base must be header (or header - tracker)
        at = hdr.data_base - c.fph_size
        if at >= 0 and at + c.ptr <= len(data):
            alloc = int.from_bytes(data[at:at + c.ptr], "little")
            header = hdr.address - c.fph_size
            if alloc == header:
                ph = at - c.pool_header_size
                if ph >= 0:
                    return _tag_text(c, _TWO_ULONGS.unpack_from(data, ph)[1])
            elif alloc != header - c.tracker:
                return None
    alloc = _allocation_start(session, c, hdr)
    if alloc is None or alloc is NOT_CAPTURED:
        return alloc
    raw = _pool_header_bytes(session, c, alloc - c.pool_header_size, hdr)
    if raw is None:
        return NOT_CAPTURED
    return _tag_text(c, _TWO_ULONGS.unpack_from(raw)[1])


def buffer_pool_tag(session, buf):
    """``(tag, pool header dict)`` of the pool block holding a separately
    allocated buffer: the nt pool header in front of an FX_POOL_HEADER whose
    Base is itself right before the buffer, or the nt pool header right
    before the buffer. (None, None) for page-aligned (big) allocations,
    buffers inside an image, or when nothing plausible is there;
    (NOT_CAPTURED, None) when neither header was readable."""
    c = memory_consts(session)
    target = session.target
    if not buf or buf % c.page_size == 0 or target.module_of(buf) is not None:
        return None, None
    fx = buf - c.fph_size
    try:
        base = target.read_pointer(fx)
    except ReadError:
        base = None
    if base is not None and (base == fx or base == fx - c.tracker):
        ph = pool_header(session, base - c.pool_header_size)
        if ph is not None and ph["block_size"]:
            return ph["tag"], ph
    ph = pool_header(session, buf - c.pool_header_size)
    if ph is not None and ph["block_size"]:
        return ph["tag"], ph
    if base is None and not target.is_readable(buf - c.pool_header_size, c.pool_header_size):
        return NOT_CAPTURED, None
    return None, None


# -- decoding ----------------------------------------------------------------
def empty_record():
    return {"buffer": None, "length": None, "origin": None, "pool_tag": None, "lookaside": None, "mdl": None,
            "read_only": None}


# ``tag_source`` when the pool header that would hold the tag was not in the
# dump (``pool_tag`` is then null: not "no tag", but not known)
TAG_NOT_CAPTURED = NOT_CAPTURED_TEXT

# What an object record's ``memory`` leaves out (report schema 1.1): the
# object's own address, handle, class and size are the record's own keys.
OBJECT_KEYS = ("class", "class_source", "object", "handle", "object_size")
POOL_CLASSES = ("FxMemoryBufferFromPool", "FxMemoryPagedBufferFromPool", "FxMemoryBufferFromPoolLookaside",
                "FxMemoryPagedBufferFromPoolLookaside")
LOOKASIDE_CLASSES = ("FxMemoryBufferFromLookaside", "FxMemoryBufferFromPoolLookaside",
                     "FxMemoryPagedBufferFromPoolLookaside")


def _tail(session, hdr, codec):
    """(values of TAIL_FIELDS, first unreadable address or None, whether
    m_BufferSize was readable): the class's members from the header's read
    window or one read of the class, else as much as a partial read gives."""
    try:
        data = object_bytes(session, hdr, 0, codec.size)
        return codec.fields.unpack(data), None, codec.fields.present[0]
    except ReadError:
        pass
    rec, bad = read_record_partial(session, codec.qualified, hdr.address)  # ReadError: nothing readable
    return tuple(rec.get(n) for n in TAIL_FIELDS), bad, "m_BufferSize" in rec


def decode_memory(session, hdr, problems, handle=None, probe_buffer=True, lean=False):
    """The memory record of the WDFMEMORY whose header is ``hdr``: the
    contract keys (buffer, length, origin, pool_tag, lookaside, mdl,
    read_only) plus ``paged``, ``tag_source``, ``buffer_capacity``,
    ``lookaside_kind``, ``lookaside_handle``, ``request``, ``flags``, and,
    unless ``lean``, the object's own facts (:data:`OBJECT_KEYS`: ``class``,
    ``class_source``, ``object``, ``handle``, ``object_size``), which an
    object record already carries. Problems go to ``problems``.

    The class's members come from one precompiled struct over the header's
    read window (:class:`MemoryCodec`). ``probe_buffer`` checks that the
    buffer's first and last bytes are readable (UNREADABLE if not). That
    touches the buffer's pages, a debugger round trip each, so a whole-tree
    walk leaves it off and the single-object commands keep it on."""
    target = session.target
    cls = hdr.cls
    if cls in ORIGINS:
        source = hdr.cls_source
    else:
        cls, source = memory_class(session, hdr)
    address = hdr.address
    if lean:
        out = {"buffer": None, "length": None, "origin": None, "pool_tag": None, "lookaside": None, "mdl": None,
               "read_only": None, "paged": None, "tag_source": None, "buffer_capacity": None,
               "lookaside_kind": None, "lookaside_handle": None, "request": None, "flags": None,
               "alignment": None}
    else:
        out = {"buffer": None, "length": None, "origin": None, "pool_tag": None, "lookaside": None, "mdl": None,
               "read_only": None, "class": cls, "class_source": source, "object": hx(address),
               "handle": hx(handle if handle is not None else handle_of(address, target.pointer_size, hdr.object_size)),
               "object_size": hdr.object_size, "paged": None, "tag_source": None, "buffer_capacity": None,
               "lookaside_kind": None, "lookaside_handle": None, "request": None, "flags": None, "alignment": None}
    if cls is None:
        return out
    c = session.derived.get(("memory", "consts"), lambda: MemoryConsts(session))
    codec = c.codecs.get(cls) or memory_codec(session, cls)
    out["origin"] = codec.origin
    data = hdr.data
    start = hdr.data_base
    try:
        if data is not None and start + codec.size <= len(data):  # the header's read brought the class
            (bs, pool, pbuffer, la, request, mdl, flags), bad, has_length = (
                codec.fields.unpack(data, start), None, codec.fields.present[0])
        else:
            (bs, pool, pbuffer, la, request, mdl, flags), bad, has_length = _tail(session, hdr, codec)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "%s is unreadable" % _what(address, cls))
        return out
    if bad is not None:
        problems.add("UNREADABLE", bad, "%s: part of the object is unreadable" % _what(address, cls))
    out["length"] = bs
    out["read_only"] = False
    buf = None
    if cls in INLINE:
        inline = codec.inline
        buf = address + inline
        if bs is not None and hdr.object_size is not None:
            want = inline + _align(bs, c.maa)
            if hdr.object_size != want:
                problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: an inline buffer of 0x%x bytes at +0x%x needs m_ObjectSize 0x%x, the object says 0x%x" % (
                    _what(address, cls), bs, inline, want, hdr.object_size))
            out["buffer_capacity"] = max(0, hdr.object_size - inline)
    elif cls in POOL_CLASSES:
        buf = pool
    elif cls in ("FxMemoryBufferPreallocated", "FxRequestMemory"):
        buf = pbuffer
    out["buffer"] = px(buf)
    if buf:
        # WDF's "Aligning Buffers": the largest power of two dividing the address, at most a page
        out["alignment"] = "0x%x" % alignment_of(buf, c.page_size)
    out["paged"] = cls in PAGED or bool((hdr.flags or 0) & PASSIVE_FLAGS == PASSIVE_FLAGS and cls in ORIGINS and
                                         ORIGINS[cls] in ("pool", "pool-lookaside"))
    if cls in LOOKASIDE_CLASSES:
        out["lookaside"] = px(la)
        lb = read_lookaside_base(session, la) if la else None
        if lb is None:
            if not la:
                problems.add("LOOKASIDE_INCONSISTENT", address, "%s: m_pLookaside is NULL" % _what(address, cls))
            elif not target.is_readable(la, 1):
                problems.add("UNREADABLE", la, "%s: its lookaside 0x%x is unreadable" % (_what(address, cls), la))
            else:
                problems.add("LOOKASIDE_INCONSISTENT", address, "%s: m_pLookaside 0x%x is not a WDFLOOKASIDE" % (_what(address, cls), la))
        else:
            out["pool_tag"] = lb["pool_tag"]
            out["tag_source"] = "lookaside"
            la_cls = lookaside_class_of(session, la)
            out["lookaside_kind"] = LOOKASIDE_KINDS.get(la_cls)
            out["lookaside_handle"] = hx(handle_of(la, target.pointer_size, lb.get("object_size")))
            if la_cls == "FxPagedLookasideListFromPool":
                out["paged"] = True
    if cls == "FxRequestMemory":
        out["mdl"] = px(mdl)
        out["request"] = px(request)
        out["flags"] = flags
        out["read_only"] = bool((flags or 0) & IFX_MEMORY_FLAG_READ_ONLY)
    # pool tag: the nt pool block holding the buffer (the object's own block
    # for inline buffers); none for big (page-aligned), image or mapped buffers
    if cls in INLINE:
        tag = _allocation_tag(session, c, hdr)
        if tag:
            out["pool_tag"], out["tag_source"] = tag, "object-allocation"
        elif cls == "FxMemoryBuffer":
            out["pool_tag"], out["tag_source"] = None, (TAG_NOT_CAPTURED if tag is NOT_CAPTURED else None)
        # FxMemoryBufferFromLookaside without a readable header keeps the list's tag
    elif cls != "FxRequestMemory":
        out["pool_tag"], out["tag_source"] = None, None
        tag, ph = buffer_pool_tag(session, buf)
        if tag is NOT_CAPTURED:
            out["tag_source"] = TAG_NOT_CAPTURED
        elif tag:
            out["pool_tag"], out["tag_source"] = tag, "pool-header"
            out["buffer_capacity"] = ph["capacity"]
            if codec.origin == "pool" and bs and ph["capacity"] is not None and ph["capacity"] < bs:
                problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: length 0x%x is past the end of its pool block at 0x%x ('%s', 0x%x usable bytes)" % (
                    _what(address, cls), bs, ph["address"], ph["tag"], ph["capacity"]))
    else:
        out["pool_tag"], out["tag_source"] = None, None
    # sanity of buffer and length
    if bs == 0:
        problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: length 0 (WdfMemoryCreate rejects a 0-byte buffer)" % _what(address, cls))
    elif bs is not None and bs > MAX_SANE_LENGTH:
        problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: length 0x%x cannot be right" % (_what(address, cls), bs))
    if cls not in INLINE and codec.origin is not None and not buf and has_length:
        problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: its buffer pointer is NULL (length 0x%x)" % (_what(address, cls), bs or 0))
    elif probe_buffer and buf and bs and bs <= MAX_SANE_LENGTH:
        for probe in (buf, buf + bs - 1):
            if not target.is_readable(probe, 1):
                problems.add("UNREADABLE", probe, "%s: its buffer 0x%x (0x%x bytes) is unreadable at 0x%x" % (_what(address, cls), buf, bs, probe))
                break
    return out


def _what(address, cls):
    return "WDFMEMORY 0x%x (%s)" % (address, cls)


# -- request buffers (offset handles) ---------------------------------------
def request_layout_offsets(session):
    lay = session.layouts.get(_wdf("FxRequest"))
    out = {"input_offset": lay.offset("m_SystemBufferOffset"), "output_offset": lay.offset("m_OutputBufferOffset"),
           "input": lay.offset("m_SystemBuffer"), "output": lay.offset("m_OutputBuffer")}
    return out


def request_buffer_handle(session, request, kind):
    """The offset handle of a request's input or output WDFMEMORY."""
    offs = request_layout_offsets(session)
    field = request + offs["input_offset" if kind == "input" else "output_offset"]
    return handle_of(field, session.target.pointer_size) | 1


# An IRP is a separate allocation that a triage dump saves only when it is
# near the crash: not saving it is what that kind of dump is, not a problem
# of the driver (headline: "objects, buffers ... outside the saved blocks").
GAP_NOTE = " (not saved in this triage dump)"


def _gap(session):
    """The severity of an unsaved IRP: information on a triage dump, else
    the code's own."""
    return INFO if is_partial_dump(session) else None


def read_irp_context(session, request, problems, req_rec=None):
    """``{irp, major, minor, read_write_length, input_length, output_length,
    io_control_code, method, mdl_address, system_buffer, user_buffer}``
    from a request's IRP and its current stack location (None values where
    unreadable)."""
    ctx = {"irp": None, "major": None, "stack": None, "read_write_length": None, "input_length": None,
           "output_length": None, "io_control_code": None, "method": None, "mdl_address": None,
           "system_buffer": None, "user_buffer": None}
    if req_rec is None:
        try:
            req_rec, _bad = read_record_partial(session, _wdf("FxRequest"), request)
        except ReadError as e:
            problems.add("UNREADABLE", e.address, "WDFREQUEST 0x%x is unreadable" % request)
            return ctx
    irp = _field(req_rec, "m_Irp.m_Irp", "m_Irp")
    ctx["irp"] = irp
    if not irp:
        return ctx
    try:
        irp_rec, _bad = read_record_partial(session, "nt!_IRP", irp)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "WDFREQUEST 0x%x: its IRP 0x%x is unreadable%s" % (
            request, irp, GAP_NOTE if is_partial_dump(session) else ""), severity=_gap(session))
        return ctx
    ctx["mdl_address"] = _field(irp_rec, "MdlAddress")
    ctx["system_buffer"] = _field(irp_rec, "AssociatedIrp.SystemBuffer", "AssociatedIrp")
    ctx["user_buffer"] = _field(irp_rec, "UserBuffer")
    stack = _field(irp_rec, "Tail.Overlay.CurrentStackLocation", "CurrentStackLocation")
    ctx["stack"] = stack
    if not stack:
        return ctx
    try:
        st, _bad = read_record_partial(session, "nt!_IO_STACK_LOCATION", stack)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "WDFREQUEST 0x%x: IRP 0x%x's current stack location 0x%x is unreadable%s" % (
            request, irp, stack, GAP_NOTE if is_partial_dump(session) else ""), severity=_gap(session))
        return ctx
    major = st.get("MajorFunction")
    ctx["major"] = major
    if major == IRP_MJ_READ:
        ctx["read_write_length"] = _field(st, "Parameters.Read.Length", "ReadWriteLength")
    elif major == IRP_MJ_WRITE:
        ctx["read_write_length"] = _field(st, "Parameters.Write.Length", "ReadWriteLength")
    elif major in (IRP_MJ_DEVICE_CONTROL, IRP_MJ_INTERNAL_DEVICE_CONTROL):
        ctx["output_length"] = _field(st, "Parameters.DeviceIoControl.OutputBufferLength", "OutputBufferLength")
        ctx["input_length"] = _field(st, "Parameters.DeviceIoControl.InputBufferLength", "InputBufferLength")
        code = _field(st, "Parameters.DeviceIoControl.IoControlCode", "IoControlCode")
        ctx["io_control_code"] = code
        ctx["method"] = None if code is None else code & 3
    return ctx


def _embedded_value(session, req_rec, request, kind):
    name = "m_SystemBuffer" if kind == "input" else "m_OutputBuffer"
    v = _field(req_rec, name + ".m_Buffer", name + ".m_Mdl")
    if v is None:
        try:
            lay = session.layouts.get(_wdf("FxRequest"))
            v = session.target.read_pointer(request + lay.offset(name) + session.target.pointer_size)
        except (ReadError, LayoutError):
            v = None
    return v


def decode_request_buffer(session, request, kind, problems, req_rec=None, ctx=None):
    """A request's input (``kind="input"``, FxRequestSystemBuffer) or output
    (``"output"``, FxRequestOutputBuffer) buffer: ``{handle, kind, buffer,
    length, mdl, read_only}`` plus ``origin`` ("request"), ``request``,
    ``address`` (the embedded IFxMemory), ``major_function``, ``method``,
    ``io_control_code``, ``irp``, ``valid`` (False when this kind of buffer
    does not exist for the request's major function), ``alignment`` (as a
    memory record's)."""
    out = _request_buffer(session, request, kind, problems, req_rec, ctx)
    buf = out["buffer"]
    out["alignment"] = "0x%x" % alignment_of(int(buf, 16), session.target.page_size) if buf else None
    return out


def _request_buffer(session, request, kind, problems, req_rec, ctx):
    target = session.target
    offs = request_layout_offsets(session)
    if req_rec is None:
        try:
            req_rec, _bad = read_record_partial(session, _wdf("FxRequest"), request)
        except ReadError as e:
            problems.add("UNREADABLE", e.address, "WDFREQUEST 0x%x is unreadable" % request)
            req_rec = {}
    if ctx is None:
        ctx = read_irp_context(session, request, problems, req_rec) if req_rec else read_irp_context(session, request, problems, {})
    handle = request_buffer_handle(session, request, kind)
    value = _embedded_value(session, req_rec, request, kind)
    major = ctx.get("major")
    method = ctx.get("method")
    out = {"handle": hx(handle), "kind": kind, "buffer": None, "length": None, "mdl": None, "read_only": None,
           "origin": "request", "request": hx(request), "address": hx(request + offs[kind]), "value": px(value),
           "irp": px(ctx.get("irp")), "major_function": MAJOR_NAMES.get(major, hx(major)) if major is not None else None,
           "method": METHOD_NAMES.get(method) if method is not None else None,
           "io_control_code": hx(ctx.get("io_control_code")), "valid": True, "io_type": None}
    if value is None:
        out["not_captured"] = ["buffer"]   # the embedded m_Buffer/m_Mdl was not saved: not NULL
    what = "WDFREQUEST 0x%x %s buffer" % (request, kind)
    direct = False
    if major in (IRP_MJ_READ, IRP_MJ_WRITE):
        if kind == "output":
            out["valid"] = False
            return out
        out["length"] = ctx.get("read_write_length")
        out["read_only"] = major == IRP_MJ_WRITE
        mdl_addr = ctx.get("mdl_address")
        if value and mdl_addr and value == mdl_addr:
            direct = True
            out["io_type"] = "direct"
        else:
            out["io_type"] = "buffered" if value and value == ctx.get("system_buffer") else (
                "neither" if value and value == ctx.get("user_buffer") else None)
    elif major in (IRP_MJ_DEVICE_CONTROL, IRP_MJ_INTERNAL_DEVICE_CONTROL):
        if kind == "input":
            out["length"] = ctx.get("input_length")
            out["read_only"] = method in (1, 2)
        else:
            out["length"] = ctx.get("output_length")
            out["read_only"] = method == 1
            direct = method in (1, 2)
    elif major is None:
        return out
    else:
        out["valid"] = False
        return out
    if direct:
        out["mdl"] = px(value)
        if value:
            from wdfdbg.decoders.mdl import decode_mdl, mdl_system_address
            try:
                info = decode_mdl(session, value, problems)
                sva = mdl_system_address(info.record)
                out["buffer"] = px(sva)
                length = out["length"]
                if length is not None and info.byte_count is not None and length > info.byte_count and not info.next:
                    problems.add("MEMORY_OUT_OF_BOUNDS", request, "%s: length 0x%x is more than its MDL 0x%x describes (0x%x bytes)" % (
                        what, length, value, info.byte_count))
            except ReadError as e:
                problems.add("UNREADABLE", e.address, "%s: its MDL 0x%x is unreadable" % (what, value))
        elif out["length"]:
            problems.add("MEMORY_OUT_OF_BOUNDS", request, "%s: length 0x%x but no MDL" % (what, out["length"]))
    else:
        out["buffer"] = px(value)
        length = out["length"]
        neither = method == 3 and major in (IRP_MJ_DEVICE_CONTROL, IRP_MJ_INTERNAL_DEVICE_CONTROL)
        if neither:
            out["io_type"] = "neither"
        if neither and not value:
            pass  # METHOD_NEITHER: the framework keeps no buffer (unsafe user buffers only)
        elif not value and length:
            problems.add("MEMORY_OUT_OF_BOUNDS", request, "%s: length 0x%x but the buffer is NULL" % (what, length))
        elif value and length and length <= MAX_SANE_LENGTH:
            for probe in (value, value + length - 1):
                if not target.is_readable(probe, 1):
                    problems.add("UNREADABLE", probe, "%s: its buffer 0x%x (0x%x bytes) is unreadable at 0x%x" % (what, value, length, probe))
                    break
    return out


def request_buffers(session, request, problems):
    """Both embedded buffers of the FxRequest at ``request`` (those that
    exist for its major function)."""
    try:
        req_rec, _bad = read_record_partial(session, _wdf("FxRequest"), request)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "WDFREQUEST 0x%x is unreadable" % request)
        return []
    ctx = read_irp_context(session, request, problems, req_rec)
    out = []
    for kind in ("input", "output"):
        rb = decode_request_buffer(session, request, kind, problems, req_rec=req_rec, ctx=ctx)
        if rb.get("valid"):
            out.append(rb)
    return out


# -- handles -----------------------------------------------------------------
class Resolved(object):
    """What a handle/address names: ``object`` (FxObject address), ``kind``
    ("object" or "request-buffer"), ``buffer_kind`` ("input"/"output") for an
    offset handle, ``handle``, ``problem`` (message) when it cannot be
    decoded, ``field`` (the address an offset handle points at)."""

    __slots__ = ("object", "kind", "buffer_kind", "handle", "problem", "field")

    def __init__(self, obj=None, kind="object", buffer_kind=None, handle=None, problem=None, field=None):
        self.object = obj
        self.kind = kind
        self.buffer_kind = buffer_kind
        self.handle = handle
        self.problem = problem
        self.field = field


def resolve_memory(session, value):
    """A WDFMEMORY handle (plain or offset), or an object address."""
    dh = decode_handle_or_address(session.target, value)
    if dh.handle is None:
        return Resolved(value, handle=None)
    if dh.problem:
        return Resolved(None, handle=value, problem=dh.problem, field=dh.field)
    if dh.offset:
        try:
            offs = request_layout_offsets(session)
        except LayoutError:
            offs = {}
        kind = None
        if dh.offset == offs.get("input_offset"):
            kind = "input"
        elif dh.offset == offs.get("output_offset"):
            kind = "output"
        if kind is None:
            return Resolved(dh.object, kind="offset", handle=value, field=dh.field,
                            problem="offset handle 0x%x: offset 0x%x is neither a request's input (0x%x) nor output (0x%x) buffer" % (
                                value, dh.offset, offs.get("input_offset", 0), offs.get("output_offset", 0)))
        return Resolved(dh.object, kind="request-buffer", buffer_kind=kind, handle=value, field=dh.field)
    return Resolved(dh.object, handle=value)


def read_preview(session, address, length):
    """``length`` bytes at ``address`` for a hex dump: a list of
    ``(address, size, bytes or None)`` chunks of at most 16 bytes, aligned
    to 16 (None = unreadable)."""
    target = session.target
    out = []
    pos = address
    end = address + max(0, length)
    while pos < end:
        n = min(16 - (pos % 16), end - pos)
        try:
            out.append((pos, n, target.read(pos, n)))
        except ReadError:
            out.append((pos, n, None))
        pos += n
    return out
