"""Object contexts: the ``FxContextHeader`` chain after an FxObject.

C types (kmdf.md §4; ``fxhandle.h`` [src]; x64 offsets [pdb], checked on
the real dump [dump]):

* ``FxContextHeader { FxObject* Object 0x0; FxContextHeader* NextHeader 0x8;
  EvtCleanupCallback 0x10; EvtDestroyCallback 0x18;
  PCWDF_OBJECT_CONTEXT_TYPE_INFO ContextTypeInfo 0x20; Context 0x30 }``.
  The first header sits at ``object + m_ObjectSize`` for every object with
  a handle; further headers are separate allocations chained through
  ``NextHeader`` (``FxObject::AddContext``, fxobject.cpp, appends to the end
  of the chain whatever the first header holds).
* ``WDF_OBJECT_CONTEXT_TYPE_INFO { ULONG Size 0x0; LPCSTR ContextName 0x8;
  size_t ContextSize 0x10; UniqueType 0x18; EvtDriverGetUniqueContextType
  0x20 }`` in the client driver's image.

A header whose ``ContextTypeInfo`` is NULL has **no context**: no context
memory was allocated and ``header + 0x30`` is already the next pool
allocation (the real dump: after FxSpinLock 0xffffc08be3ff9590 it is a
``CcBc`` pool header). Only headers with a type info yield a context.

Offsets come from the session's layouts (symbols first, then the built-in
profile). Only the header up to ``Context`` is read: a header without a
context is followed by someone else's memory, which a dump may not hold.

:func:`for_each_context` walks the chain bounded (``MAX_CONTEXTS``) and
cycle-safe, yielding :class:`Context` records and recording corruption in a
ProblemLog; a header or type info the dump did not capture is a fact about
the dump, kept in the record (:data:`~wdfdbg.decoders.facts.NOT_CAPTURED`),
not a problem. :func:`validate_context_chain` raises CorruptionError on the
first corruption.

Problem (CONTEXT_CHAIN_CORRUPT, at the header): a chained header whose
``Object`` does not point back at the object, or a ``NextHeader`` chain that
comes back to a header it passed.
"""

from wdfdbg.decoders.codec import FieldCodec
from wdfdbg.decoders.common import validate_walk
from wdfdbg.decoders.facts import (NOT_CAPTURED, SCHEMA_HEX, SCHEMA_POINTER, hex_json, module_offset, plain_json,
                                   pointer_json, read_fields, schema_value)
from wdfdbg.errors import LayoutError, ReadError

HEADER_TYPE = "Wdf01000!FxContextHeader"
TYPE_INFO_TYPE = "Wdf01000!_WDF_OBJECT_CONTEXT_TYPE_INFO"
MAX_CONTEXTS = 16      # a driver adds a handful of context types per object
MAX_NAME = 128

HEADER_FIELDS = ("Object", "NextHeader", "EvtCleanupCallback", "EvtDestroyCallback", "ContextTypeInfo")
# What this module keeps in ``session.derived`` (derived once per session):
LAYOUT_KEY = ("contexts", "layout")     # the ContextLayout, or None when no layout knows FxContextHeader
TYPE_TABLE = "context_types"            # type info address -> (name, size, where): every object of a
                                        # context type points at the same type info, so it is read once


class Context(object):
    """One typed context of an object.

    ``header`` (FxContextHeader address), ``context`` (the driver's context
    memory, header + Context), ``type_info`` (its WDF_OBJECT_CONTEXT_TYPE_INFO),
    ``name`` / ``size`` (ContextName / ContextSize, or NOT_CAPTURED when the
    type info or the name string was not in the dump), ``type_info_where``
    (``module+0x...`` of the type info, which lives in the driver's image),
    ``cleanup`` / ``destroy`` (EvtCleanupCallback / EvtDestroyCallback, 0 for
    NULL), ``next_header``, ``index`` (0 for the inline header), and
    ``captured`` (False when the dump did not hold the header, or held it
    without its ContextTypeInfo field, so whether a context is there is not
    known: then only ``header`` is known and every other field is
    NOT_CAPTURED)."""

    __slots__ = ("header", "context", "type_info", "name", "size", "type_info_where", "cleanup",
                 "destroy", "next_header", "index", "captured")

    def __init__(self, header, index):
        self.header = header
        self.index = index
        self.context = NOT_CAPTURED
        self.type_info = NOT_CAPTURED
        self.name = NOT_CAPTURED
        self.size = NOT_CAPTURED
        self.type_info_where = None
        self.cleanup = NOT_CAPTURED
        self.destroy = NOT_CAPTURED
        self.next_header = NOT_CAPTURED
        self.captured = False

    def to_json(self):
        return {
            "header": hex_json(self.header), "captured": self.captured,
            "name": plain_json(self.name), "size": plain_json(self.size),
            "context": pointer_json(self.context), "type_info": pointer_json(self.type_info),
            "type_info_where": self.type_info_where,
            "cleanup": pointer_json(self.cleanup), "destroy": pointer_json(self.destroy),
            "next_header": pointer_json(self.next_header),
        }


# The JSON Schema of one entry of an object record's ``contexts`` (report
# schema 1.2; wdfdbg/data/report.schema.json $defs/context holds the same)
CONTEXT_SCHEMA = {
    "type": "object",
    "required": ["header", "captured", "name", "size", "context", "type_info", "type_info_where", "cleanup",
                 "destroy", "next_header"],
    "properties": {
        "header": SCHEMA_HEX, "captured": {"type": "boolean"},
        "name": schema_value("string", "null"), "size": schema_value("integer", "null"),
        "context": SCHEMA_POINTER, "type_info": SCHEMA_POINTER, "type_info_where": {"type": ["string", "null"]},
        "cleanup": SCHEMA_POINTER, "destroy": SCHEMA_POINTER, "next_header": SCHEMA_POINTER,
    },
}


class ContextLayout(object):
    """FxContextHeader / type-info offsets from the session's layouts, once
    per session (``session.derived`` key :data:`LAYOUT_KEY`): the header's
    fields as ``read_fields`` wants them and as one precompiled struct
    (``codec``, for a header inside the bytes read with its object)."""

    def __init__(self, session):
        h = session.layouts.get(HEADER_TYPE)
        t = session.layouts.get(TYPE_INFO_TYPE)
        ptr = session.target.pointer_size
        self.context = h.offset("Context")
        self.header_fields = [(name, h.offset(name), ptr) for name in HEADER_FIELDS]
        self.type_fields = [("Size", t.offset("Size"), 4), ("ContextName", t.offset("ContextName"), ptr),
                            ("ContextSize", t.offset("ContextSize"), ptr)]
        self.type_info_size = t.size
        codec = FieldCodec(h, HEADER_FIELDS)
        # the struct path only when it decodes every field from offset 0 on
        self.codec = codec if all(codec.present) and h.offset("Object") == 0 else None
        self.span = codec.end


def _layout_or_none(session):
    try:
        return ContextLayout(session)
    except LayoutError:
        return None


def context_layout(session):
    """The session's :class:`ContextLayout`, or None when no layout knows
    FxContextHeader (then objects have no contexts to show)."""
    return session.derived.get(LAYOUT_KEY, lambda: _layout_or_none(session))


def _inline_values(off, hdr):
    """The inline header's fields from the bytes read with the object (its
    read window, ``objects.header_reader``), or None when they do not cover
    it: a tuple in HEADER_FIELDS order."""
    data = hdr.data
    if data is None or off.codec is None:
        return None
    start = hdr.data_base + hdr.object_size
    if start + off.span > len(data):
        return None
    return off.codec.unpack(data, start)


def for_each_context(session, hdr, problems, limit=MAX_CONTEXTS):
    """Yield the typed contexts of the object whose header is ``hdr`` (an
    ObjectHeader) as :class:`Context` records, in chain order; corruption
    goes to ``problems`` (a ProblemLog, or None to ignore it). Yields nothing
    for objects without a handle (``m_ObjectSize == 0``: no header) or when
    no layout knows FxContextHeader."""
    if not hdr.object_size:
        return
    off = context_layout(session)
    if off is None:
        return
    target = session.target
    obj = hdr.address
    addr = obj + hdr.object_size
    seen = set()
    index = 0
    while addr:
        if addr in seen:
            _problem(problems, addr, "context headers of 0x%x: NextHeader comes back to header 0x%x" % (obj, addr))
            return
        if index >= limit:
            _problem(problems, addr, "context headers of 0x%x: stopped after %d headers" % (obj, limit), "WALK_LIMIT")
            return
        seen.add(addr)
        values = _inline_values(off, hdr) if index == 0 else None
        if values is None:
            target.check_interrupt()
            rec = read_fields(target, addr, off.header_fields)
            values = tuple(rec[name] for name in HEADER_FIELDS)
        back, nxt, cleanup, destroy, ti = values
        if back is NOT_CAPTURED:
            if index > 0:
                # a chained header is its own allocation: say it exists
                yield Context(addr, index)
            # (the inline slot not captured: the object's own memory ends
            # there in the dump, and nothing says a header follows)
            return
        if back != obj:
            if index > 0:
                _problem(problems, addr, "context header 0x%x on the chain of 0x%x points back at 0x%x"
                         % (addr, obj, back))
            # the inline slot of an object without a header (or a wrong
            # m_ObjectSize): nothing to read here
            return
        if ti is NOT_CAPTURED:
            # whether this header carries a context is not in the dump
            yield Context(addr, index)
            return
        if ti:
            ctx = Context(addr, index)
            ctx.captured = True
            ctx.context = addr + off.context
            ctx.type_info = ti
            ctx.cleanup = cleanup
            ctx.destroy = destroy
            ctx.next_header = nxt
            _fill_type(session, off, ctx)
            yield ctx
        if nxt is NOT_CAPTURED:
            return
        addr = nxt
        index += 1


def _fill_type(session, off, ctx):
    """Name and size from the type info, cached per type (every object of
    a type points at the same one)."""
    cache = session.derived.table(TYPE_TABLE)
    hit = cache.get(ctx.type_info)
    if hit is None:
        target = session.target
        rec = read_fields(target, ctx.type_info, off.type_fields)
        size = rec["ContextSize"]
        name = NOT_CAPTURED
        if rec["ContextName"] is not NOT_CAPTURED:
            if rec["ContextName"] == 0:
                name = None          # a type info without a name: WDF_DECLARE_CONTEXT_TYPE always sets one
            else:
                try:
                    name = target.read_cstring(rec["ContextName"], MAX_NAME) or None
                except ReadError:
                    name = NOT_CAPTURED
        hit = cache[ctx.type_info] = (name, size, module_offset(target, ctx.type_info))
    ctx.name, ctx.size, ctx.type_info_where = hit


def _problem(problems, address, message, code="CONTEXT_CHAIN_CORRUPT"):
    if problems is not None:
        problems.add(code, address, message)


def validate_context_chain(session, hdr):
    """Like :func:`for_each_context` but raise CorruptionError on the first
    problem; returns the list of contexts."""
    return validate_walk(lambda log: for_each_context(session, hdr, log))


def read_object_contexts(session, hdr, problems=None):
    """All typed contexts of an object as a list (empty when none)."""
    return list(for_each_context(session, hdr, problems))


def typed_contexts(contexts):
    """What an object record lists as its contexts: those whose header was
    read (with their ContextTypeInfo set), and chained headers the dump did
    not hold (``NextHeader`` says they exist: FxObject::AddContext chains a
    header only for a context). Left out: an inline header whose
    ContextTypeInfo was not captured (whether it has a context at all is
    not in the dump)."""
    return [c for c in contexts if c.captured or c.index > 0]


def object_contexts(session, hdr, problems=None):
    """:func:`typed_contexts` of the object whose header is ``hdr``, as a
    list, or ``()`` for none: the walk's per-object call. An object whose
    inline header, read with the object (``objects.header_reader``'s
    window), has neither a type info nor a next header (most objects) costs
    one struct unpack and no read."""
    if not hdr.object_size:
        return ()
    off = context_layout(session)
    if off is None:
        return ()
    v = _inline_values(off, hdr)
    if v is not None and (v[0] != hdr.address or (not v[4] and not v[1])):
        return ()   # no header here, or a header without a context and without a chain
    return typed_contexts(for_each_context(session, hdr, problems)) or ()


def contexts_json(contexts):
    return [c.to_json() for c in contexts]


def context_text(ctx):
    """One short phrase for people: ``context DEVICE_CONTEXT 0x... (size
    0x40)``; a type info or chained header the dump did not hold says so."""
    if not ctx.captured:
        return "context header 0x%x not captured" % ctx.header
    if ctx.name is NOT_CAPTURED:
        where = " at %s" % ctx.type_info_where if ctx.type_info_where else ""
        head = "context 0x%x (type info 0x%x%s not captured)" % (ctx.context, ctx.type_info, where) \
            if ctx.type_info is not NOT_CAPTURED else "context 0x%x (type info not captured)" % ctx.context
        return head
    name = ctx.name or "unnamed"
    size = "size 0x%x" % ctx.size if isinstance(ctx.size, int) else "size not captured"
    return "context %s 0x%x (%s)" % (name, ctx.context, size)
