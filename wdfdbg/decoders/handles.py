"""WDF handles <-> FxObject pointers (kmdf.md §1).

handle = object ^ FxHandleValueMask (~7). Decoding: ``flags = h & 7``,
``p = (h & ~7) ^ mask``; with FxHandleFlagIsOffset (1) the object is
``p - *(USHORT*)p`` (a request's embedded buffer); bits 2 and 4 are never set
by the framework.
"""

from wdfdbg.errors import ReadError

FLAG_IS_OFFSET = 1
FLAG_MASK = 7


def value_mask(pointer_size):
    return ((1 << (8 * pointer_size)) - 1) & ~FLAG_MASK


def handle_of(address, pointer_size, object_size=1):
    """The WDFOBJECT handle for an object, None when ``object_size`` is 0
    (internal objects have no handle)."""
    if not object_size:
        return None
    return address ^ value_mask(pointer_size)


class DecodedHandle(object):
    """``object`` (FxObject pointer), ``offset`` (0, or the WDFOBJECT_OFFSET
    for an offset handle), ``field`` (address the handle points at),
    ``problem`` (message when the handle is bad, else None)."""

    __slots__ = ("handle", "object", "offset", "field", "problem")

    def __init__(self, handle, obj, offset, field, problem=None):
        self.handle = handle
        self.object = obj
        self.offset = offset
        self.field = field
        self.problem = problem


def decode_handle(target, handle):
    """Decode a handle value; reads memory only for offset handles."""
    ptr = target.pointer_size
    mask = value_mask(ptr)
    flags = handle & FLAG_MASK
    p = (handle & ~FLAG_MASK & ((1 << (8 * ptr)) - 1)) ^ mask
    if handle == 0:
        return DecodedHandle(handle, None, 0, None, "NULL handle")
    if handle >> (8 * ptr):
        return DecodedHandle(handle, None, 0, None, "handle 0x%x is wider than a %d-byte pointer" % (handle, ptr))
    if flags & ~FLAG_IS_OFFSET:
        return DecodedHandle(handle, None, 0, p, "handle 0x%x has flag bits 0x%x the framework never sets" % (handle, flags & ~FLAG_IS_OFFSET))
    if not flags & FLAG_IS_OFFSET:
        return DecodedHandle(handle, p, 0, p)
    try:
        off = target.read_u16(p)
    except ReadError as e:
        return DecodedHandle(handle, None, 0, p, "offset handle 0x%x: its WDFOBJECT_OFFSET at 0x%x is unreadable" % (handle, e.address))
    if off == 0 or off & 7:
        return DecodedHandle(handle, None, off, p, "offset handle 0x%x: WDFOBJECT_OFFSET 0x%x at 0x%x is not a valid field offset" % (handle, off, p))
    return DecodedHandle(handle, p - off, off, p)


def looks_like_handle(value, pointer_size):
    """True when ``value`` looks like a handle rather than a kernel pointer:
    on x64 handles of kernel objects are small (high bits clear)."""
    if pointer_size == 8:
        return value < (1 << 63)
    return value < 0x80000000


def decode_handle_or_address(target, value):
    """What users type: a handle (decoded, offset handles included) or, when
    ``value`` looks like a kernel pointer, the object address itself (then
    ``handle`` on the result is None)."""
    if looks_like_handle(value, target.pointer_size):
        return decode_handle(target, value)
    return DecodedHandle(None, value, 0, value)
