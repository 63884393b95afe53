"""WDF_MEMORY_DESCRIPTOR (kmdf.md §8) at an address.

C types: ``Wdf01000!_WDF_MEMORY_DESCRIPTOR`` (Type, then a union: Buffer
{Buffer, Length}, Mdl {Mdl, BufferLength}, Handle {Memory, Offsets}; the
profile flattens the union as BufferBuffer/BufferLength/MdlMdl/
MdlBufferLength/HandleMemory/HandleOffsets, symbols as
``u.BufferType.Buffer``...) and ``_WDFMEMORY_OFFSET {BufferOffset,
BufferLength}``.

:func:`decode_descriptor` returns the type and then the buffer and length,
the MDL chain (decoded), or the WDFMEMORY (decoded) with its offsets checked
the way ``IFxMemory::ValidateMemoryOffsets`` does: ``BufferOffset +
BufferLength`` must not overflow nor pass the memory's length.

Problem address conventions: MEMORY_OUT_OF_BOUNDS at the descriptor
(offsets past the memory's end, a NULL buffer with a length, a length past
what the MDL chain describes); DESCRIPTOR_INVALID at the descriptor for a
type that is not 1, 2 or 3; BAD_HANDLE at the handle's address for a
Memory handle that does not decode to a WDFMEMORY.
"""

from wdfdbg.decoders import memory as mem
from wdfdbg.decoders.handles import looks_like_handle
from wdfdbg.decoders.mdl import chain_byte_count, mdl_chain
from wdfdbg.decoders.objects import looks_like_object, read_object
from wdfdbg.errors import ReadError

DESCRIPTOR = "Wdf01000!_WDF_MEMORY_DESCRIPTOR"
OFFSET = "Wdf01000!_WDFMEMORY_OFFSET"
TYPES = {0: "Invalid", 1: "Buffer", 2: "Mdl", 3: "Handle"}
MAX_SIZE_T = {8: (1 << 64) - 1, 4: (1 << 32) - 1}

_NAMES = {
    "buffer": ("BufferBuffer", "u.BufferType.Buffer", "u.Buffer.Buffer"),
    "length": ("BufferLength", "u.BufferType.Length", "u.Buffer.Length"),
    "mdl": ("MdlMdl", "u.MdlType.Mdl", "u.Mdl.Mdl"),
    "mdl_length": ("MdlBufferLength", "u.MdlType.BufferLength", "u.Mdl.BufferLength"),
    "memory": ("HandleMemory", "u.HandleType.Memory", "u.Handle.Memory"),
    "offsets": ("HandleOffsets", "u.HandleType.Offsets", "u.Handle.Offsets"),
}


def hx(v):
    return None if v is None else "0x%x" % v


def px(v):
    """A pointer as JSON: NULL (or unknown) is null."""
    return "0x%x" % v if v else None


def _get(rec, key):
    for n in _NAMES[key]:
        if n in rec:
            return rec[n]
    return None


def _raw_union(session, rec_bytes, what):
    """Fallback when a layout names the union members differently: the
    pointer at +ptr and the second member at +2*ptr."""
    ptr = session.target.pointer_size
    first = int.from_bytes(rec_bytes[ptr:2 * ptr], "little")
    second = int.from_bytes(rec_bytes[2 * ptr:3 * ptr], "little")
    return first, second


def decode_descriptor(session, address, problems):
    """The descriptor at ``address``: a dict ``{address, type, type_value,
    buffer, length, mdl, mdls, memory_handle, memory_object, memory,
    offsets, effective_buffer, effective_length}`` (unused parts None/[]);
    ``memory`` is the decoded memory record, ``mdls`` the decoded chain.
    Also returns the memory object's header (or None) as a second value."""
    target = session.target
    out = {"address": hx(address), "type": None, "type_value": None, "buffer": None, "length": None, "mdl": None,
           "mdls": [], "memory_handle": None, "memory_object": None, "memory": None, "offsets": None,
           "effective_buffer": None, "effective_length": None}
    lay = session.layouts.get(DESCRIPTOR)
    try:
        raw = target.read(address, lay.extent)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "WDF_MEMORY_DESCRIPTOR 0x%x is unreadable" % address)
        return out, None
    rec = lay.decode(raw)
    t = rec.get("Type")
    if t is None:
        t = int.from_bytes(raw[0:4], "little")
    out["type_value"] = t
    out["type"] = TYPES.get(t)
    first, second = _raw_union(session, raw, "descriptor")
    what = "WDF_MEMORY_DESCRIPTOR 0x%x" % address
    hdr = None
    if t == 1:
        buf = _get(rec, "buffer")
        length = _get(rec, "length")
        buf = first if buf is None else buf
        length = (second & 0xFFFFFFFF) if length is None else length
        out["buffer"], out["length"] = px(buf), length
        out["effective_buffer"], out["effective_length"] = px(buf), length
        if not buf and length:
            problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: Buffer is NULL with Length 0x%x" % (what, length))
        elif buf and length:
            for probe in (buf, buf + length - 1):
                if not target.is_readable(probe, 1):
                    problems.add("UNREADABLE", probe, "%s: its buffer 0x%x (0x%x bytes) is unreadable at 0x%x" % (what, buf, length, probe))
                    break
    elif t == 2:
        mdl = _get(rec, "mdl")
        length = _get(rec, "mdl_length")
        mdl = first if mdl is None else mdl
        length = (second & 0xFFFFFFFF) if length is None else length
        out["mdl"], out["length"] = px(mdl), length
        out["effective_length"] = length
        if not mdl:
            if length:
                problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: Mdl is NULL with BufferLength 0x%x" % (what, length))
        else:
            chain = mdl_chain(session, mdl, problems)
            out["mdls"] = chain
            total = chain_byte_count(chain)
            out["chain_byte_count"] = total
            if chain and length is not None and length > total:
                problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: BufferLength 0x%x is more than its MDL chain describes (0x%x bytes)" % (
                    what, length, total))
            if chain:
                out["effective_buffer"] = chain[0].get("system_address")
    elif t == 3:
        handle = _get(rec, "memory")
        offsets = _get(rec, "offsets")
        handle = first if handle is None else handle
        offsets = second if offsets is None else offsets
        out["memory_handle"] = px(handle)
        hdr, memrec = _decode_memory_handle(session, handle, address, problems, what)
        out["memory"] = memrec
        if hdr is not None:
            out["memory_object"] = hx(hdr.address)
        mlen = memrec.get("length") if memrec else None
        mbuf = memrec.get("buffer") if memrec else None
        out["effective_buffer"], out["effective_length"] = mbuf, mlen
        if offsets:
            out["offsets"] = {"address": hx(offsets), "buffer_offset": None, "buffer_length": None}
            try:
                orec = session.layouts.read(OFFSET, offsets)
            except ReadError as e:
                problems.add("UNREADABLE", e.address, "%s: its WDFMEMORY_OFFSET 0x%x is unreadable" % (what, offsets))
                orec = None
            if orec is not None:
                boff = orec.get("BufferOffset")
                blen = orec.get("BufferLength")
                out["offsets"].update({"buffer_offset": boff, "buffer_length": blen})
                _check_offsets(session, out, address, what, boff, blen, mlen, mbuf, problems)
    else:
        problems.add("DESCRIPTOR_INVALID", address, "%s: Type %d is not Buffer (1), Mdl (2) nor Handle (3)" % (what, t))
    return out, hdr


def _check_offsets(session, out, address, what, boff, blen, mlen, mbuf, problems):
    ptr = session.target.pointer_size
    if boff is None or blen is None:
        return
    total = boff + blen
    if total > MAX_SIZE_T[ptr]:
        problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: BufferOffset 0x%x + BufferLength 0x%x overflows" % (what, boff, blen))
        return
    if mlen is None:
        return
    if total > mlen:
        problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: BufferOffset 0x%x + BufferLength 0x%x = 0x%x is past the end of its WDFMEMORY (0x%x bytes)" % (
            what, boff, blen, total, mlen))
        return
    if boff >= mlen and mlen:
        problems.add("MEMORY_OUT_OF_BOUNDS", address, "%s: BufferOffset 0x%x is at or past the end of its WDFMEMORY (0x%x bytes)" % (what, boff, mlen))
        return
    out["effective_length"] = blen if blen else mlen - boff
    if mbuf:
        out["effective_buffer"] = hx(int(mbuf, 16) + boff)


def _decode_memory_handle(session, handle, address, problems, what):
    """(header or None, memory record or None) for the WDFMEMORY handle."""
    if not handle:
        problems.add("BAD_HANDLE", address, "%s: its Memory handle is NULL" % what)
        return None, None
    if not looks_like_handle(handle, session.target.pointer_size):
        problems.add("BAD_HANDLE", address, "%s: Memory 0x%x is a pointer, not a WDFMEMORY handle" % (what, handle))
        return None, None
    res = mem.resolve_memory(session, handle)
    if res.problem:
        problems.add("BAD_HANDLE", res.field if res.field is not None else address, "%s: %s" % (what, res.problem))
        return None, None
    if res.kind == "request-buffer":
        rb = mem.decode_request_buffer(session, res.object, res.buffer_kind, problems)
        rb = dict(rb)
        rb.setdefault("pool_tag", None)
        rb.setdefault("lookaside", None)
        return None, rb
    try:
        hdr = read_object(session, res.object)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "%s: WDFMEMORY 0x%x (object 0x%x) is unreadable" % (what, handle, res.object))
        return None, None
    if not looks_like_object(session, hdr) or not mem.is_memory(session, hdr):
        problems.add("BAD_HANDLE", address, "%s: handle 0x%x names object 0x%x, which is not a WDFMEMORY (type 0x%x)" % (
            what, handle, res.object, hdr.fx_type or 0))
        return None, None
    if hdr.cls is None or hdr.cls not in mem.ORIGINS:
        cls, src = mem.memory_class(session, hdr)
        hdr.cls, hdr.cls_source = cls, src
    return hdr, mem.decode_memory(session, hdr, problems, handle=handle)
