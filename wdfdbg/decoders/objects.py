"""The FxObject header and the WDF object tree (kmdf.md §2-§4).

C types: ``FxObject`` (Wdf01000), ``FxContextHeader``,
``WDF_OBJECT_CONTEXT_TYPE_INFO``.

* :func:`read_object` decodes one FxObject header in one read, through the
  session's :class:`HeaderCodec` (one precompiled struct per layout). With
  ``window=True`` the same read also takes the bytes around the header that
  the decoders of a tree walk want next (the pool headers in front of it,
  the tail of the largest memory class after it), clipped to the pages the
  header itself is on: one ``Target.read`` per object, and never a page the
  header alone would not have touched.
* :func:`for_each_child` walks ``m_ChildListHead`` iteratively, checking as it
  goes (cycle, Flink/Blink mismatch, parent mismatch, unreadable memory,
  bounds) and recording each as a problem without stopping the walk; when
  the forward walk breaks it walks back from the head's Blink to recover the
  rest of the list. :func:`validate_child_list` raises on the first problem.
* :func:`for_each_object` yields the tree below a root in pre-order, one
  node at a time (a stack of child-list walks, no recursion): a caller that
  drops each node keeps only the stack and the compact set of addresses
  seen. :func:`walk_tree` is the same as a list.

Problem address conventions: CHILD_LIST_CYCLE at the list head whose walk
comes back to an entry it saw; CHILD_LIST_CORRUPT at the entry whose Blink
is not the previous entry; PARENT_MISMATCH at the child object;
UNREADABLE at the first address that could not be read.
"""

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.common import validate_walk
from wdfdbg.decoders.handles import handle_of
from wdfdbg.errors import ReadError

FXOBJECT = "Wdf01000!FxObject"
MAX_CHILDREN = 1 << 20
MAX_OBJECTS = 1 << 22
MAX_DEPTH = 64

# ObjectHeader's fields, in its constructor's order, by their C++ member names.
HEADER_FIELDS = ("__vfptr", "m_Type", "m_ObjectSize", "m_Refcnt", "m_Globals", "m_ObjectFlags", "m_ObjectState",
                 "m_ChildListHead.Flink", "m_ChildListHead.Blink", "m_ParentObject", "m_ChildEntry.Flink",
                 "m_ChildEntry.Blink", "m_DeviceBase")


class ObjectHeader(object):
    """A decoded FxObject header (field names follow the C++ members).

    ``ObjectHeader(address, rec)`` takes a ``Layout.decode`` dict; the tree
    walk builds headers from a :class:`HeaderCodec` tuple instead
    (:meth:`from_values`). ``data``/``data_base``: the bytes read with the
    header and where the object starts in them (None when only a dict was
    given); decoders read the object's other members from them
    (:func:`object_bytes`)."""

    __slots__ = ("address", "vfptr", "fx_type", "object_size", "refcount", "globals", "flags", "state",
                 "child_flink", "child_blink", "parent", "entry_flink", "entry_blink", "device_base",
                 "cls", "cls_source", "data", "data_base")

    def __init__(self, address, rec):
        self.address = address
        (self.vfptr, self.fx_type, self.object_size, self.refcount, self.globals, self.flags, self.state,
         self.child_flink, self.child_blink, self.parent, self.entry_flink, self.entry_blink,
         self.device_base) = [rec.get(name) for name in HEADER_FIELDS]
        self.cls = None
        self.cls_source = None
        self.data = None
        self.data_base = 0

    @classmethod
    def from_values(cls, address, values, data, data_base):
        hdr = cls.__new__(cls)
        hdr.address = address
        (hdr.vfptr, hdr.fx_type, hdr.object_size, hdr.refcount, hdr.globals, hdr.flags, hdr.state,
         hdr.child_flink, hdr.child_blink, hdr.parent, hdr.entry_flink, hdr.entry_blink, hdr.device_base) = values
        hdr.cls = None
        hdr.cls_source = None
        hdr.data = data
        hdr.data_base = data_base
        return hdr


class ObjectNode(object):
    """One object in a walked tree, with what decoders add to it."""

    __slots__ = ("header", "parent", "depth", "driver", "handle", "problems", "memory", "lookaside", "mdls",
                 "contexts", "_extra")

    def __init__(self, header, parent, depth, driver, handle):
        self.header = header
        self.parent = parent
        self.depth = depth
        self.driver = driver
        self.handle = handle
        # Shared empty tuples until a decoder assigns a list: most objects
        # have no problems, MDLs or contexts, and a million objects should
        # not pay for three empty lists each.
        self.problems = ()
        self.memory = None
        self.lookaside = None
        self.mdls = ()
        self.contexts = ()
        self._extra = None

    @property
    def extra(self):
        """Further decoded facts by name (created on first use)."""
        if self._extra is None:
            self._extra = {}
        return self._extra

    @extra.setter
    def extra(self, value):
        self._extra = value

    def extras(self):
        """The extra facts for reading, without creating a dict."""
        return self._extra or {}

    @property
    def address(self):
        return self.header.address

    @property
    def wdf_type(self):
        return fxt.ddi_name(self.header.fx_type, self.header.cls)


# Bytes a tree walk's window takes in front of an object: the FX_POOL_HEADER
# (Base, FxDriverGlobals) and the nt _POOL_HEADER before it, where an object
# without a debug extension or pool tracker finds its pool tag (kmdf.md §5).
WINDOW_BEFORE = {8: 0x20, 4: 0x10}
# ... and after it: the largest memory class (FxRequestMemory, x64 0x98),
WINDOW_CLASSES = ("FxRequestMemory", "FxMemoryBufferFromPoolLookaside", "FxMemoryBufferFromPool")
# and the inline FxContextHeader (Object .. ContextTypeInfo, at object +
# m_ObjectSize) of objects up to 0xd8 bytes: locks (0x80, 0x90), user
# objects (0x80), work items (0xd0), memory objects with a small inline
# buffer (0x90-0xc0) [dump m_ObjectSize values]; the context decoder then
# needs no read of its own (decoders/contexts.object_contexts).
WINDOW_CONTEXT = {8: 0x100, 4: 0x80}


class HeaderCodec(object):
    """The FxObject facts a walk needs from the session's layouts, once per
    session (``session.derived``): the precompiled header struct, the list
    offsets, and the read window of :func:`read_object`."""

    def __init__(self, session):
        lay = session.layouts.get(FXOBJECT)
        from wdfdbg.decoders.codec import FieldCodec
        self.layout = lay
        self.size = lay.size
        self.child_head = lay.offset("m_ChildListHead")
        self.child_entry = lay.offset("m_ChildEntry")
        self.ptr = session.target.pointer_size
        self.fields = FieldCodec(lay, HEADER_FIELDS)
        self.whole = self.fields.end <= lay.size
        self.page_mask = session.target.page_size - 1
        self.before = WINDOW_BEFORE.get(self.ptr, 0)
        after = lay.size
        for cls in WINDOW_CLASSES:
            other = session.layouts.find("Wdf01000!" + cls)
            if other is not None:
                after = max(after, other.size)
        self.after = max(after, WINDOW_CONTEXT.get(self.ptr, 0))


def offsets(session):
    """The session's :class:`HeaderCodec` (named for what most callers use
    it for: the FxObject offsets)."""
    return session.derived.get(("fxobject", "codec"), lambda: HeaderCodec(session))


Offsets = HeaderCodec


def read_object(session, address, window=False):
    """Decode the FxObject header at ``address`` (one read; ReadError).

    ``window``: read the bytes around the header too (see the module
    docstring); a window that is not all readable falls back to the header
    alone, so the result and any ReadError are those of the plain read."""
    return header_reader(session, window)(address)


def header_reader(session, window=True):
    """``read(address) -> ObjectHeader`` (ReadError) with the session's
    codec, target and vtable cache bound once: the walk's hot path, one
    ``Target.read`` and one struct unpack per object."""
    off = session.derived.get(("fxobject", "codec"), lambda: HeaderCodec(session))
    read = session.target.read
    size = off.size
    mask = off.page_mask
    before = off.before if window else 0
    after = off.after if window else size
    unpack = off.fields.unpack
    layout = off.layout
    whole = off.whole
    decided = session.derived.table("object_classes")
    new = ObjectHeader.from_values

    def read_header(address):
        lo = address - before
        if lo < address & ~mask:
            lo = address & ~mask
        hi = address + after
        last = ((address + size - 1) | mask) + 1
        if hi > last:
            hi = last if last > address + size else address + size
        if lo == address and hi == address + size:
            data = read(address, size)
            base = 0
        else:
            try:
                data = read(lo, hi - lo)
                base = address - lo
            except ReadError:
                data = read(address, size)
                base = 0
        if whole:
            hdr = new(address, unpack(data, base), data, base)
        else:
            hdr = ObjectHeader(address, layout.decode(data, base))
            hdr.data, hdr.data_base = data, base
        hit = decided.get(((hdr.vfptr or 0) << 16) | (hdr.fx_type or 0))
        if hit:
            hdr.cls, hdr.cls_source = hit
        else:
            classify(session, hdr, decided)
        return hdr
    return read_header


def object_bytes(session, hdr, offset, size):
    """``size`` bytes at ``hdr.address + offset`` (negative: in front of the
    object): from the bytes read with the header when they cover them,
    else one read (ReadError)."""
    data = hdr.data
    if data is not None:
        start = hdr.data_base + offset
        if start >= 0 and start + size <= len(data):
            return data[start:start + size]
    return session.target.read(hdr.address + offset, size)


_VTABLE_SUFFIX = "::`vftable'"


def class_from_symbol(name):
    """``Wdf01000!FxMemoryBuffer::`vftable'`` (optionally followed by
    ``{for `FxObject'}``) -> ``FxMemoryBuffer``; None for anything else."""
    if not name:
        return None
    if "!" in name:
        name = name.split("!", 1)[1]
    i = name.find(_VTABLE_SUFFIX)
    if i <= 0:
        return None
    return name[:i]


def class_of_vtable(session, vfptr):
    """The concrete class for a vtable pointer, from an exact symbol
    (looked up once per vtable: ``session.derived`` table
    ``vtable_classes``)."""
    if not vfptr:
        return None
    cache = session.derived.table("vtable_classes")
    try:
        return cache[vfptr]
    except KeyError:
        pass
    sym = session.target.symbol_at(vfptr)
    cls = class_from_symbol(sym[0]) if sym is not None and sym[1] == 0 else None
    cache[vfptr] = cls
    return cls


def _static_class(session, vfptr, code):
    """``(class, source)`` when the vtable symbol or m_Type alone decides
    (:func:`wdfdbg.decoders.types.choose_class` steps 1 and 2), else None:
    the same for every object with this (vtable, m_Type) pair."""
    vt = class_of_vtable(session, vfptr)
    if (vt and fxt.vtable_class_fits(code, vt)) or code in fxt.CLASS_BY_TYPE:
        return fxt.choose_class(code, None, vt, None, session.target.pointer_size)
    return None   # (0x1008: m_ObjectSize tells FxSyncRequest apart, per object)


def classify(session, hdr, decided=None):
    """Set ``hdr.cls`` and ``hdr.cls_source`` by
    :func:`wdfdbg.decoders.types.choose_class`: a vtable symbol whose class
    can carry the object's m_Type ("vtable"), m_Type where one class
    constructs with it ("type-code": 0x1017 FxResourceCm even when its
    folded vtable is FxWaitLock's), the object's shape (memory and
    lookaside objects: "shape"), m_Type with m_ObjectSize or the common
    base class (0x1200 FxIoTarget: "type-code"); None when nothing names it.

    ``decided``: a table ``(vfptr << 16 | m_Type) -> (class, source)`` or
    False (the shape decides) shared by a walk, so that the decision a
    (vtable, m_Type) pair makes alone is taken once per pair."""
    code = hdr.fx_type or 0
    vfptr = hdr.vfptr or 0
    hit = None
    if decided is not None:
        key = (vfptr << 16) | code
        hit = decided.get(key)
        if hit is None:
            hit = decided[key] = _static_class(session, vfptr, code) or False
    else:
        hit = _static_class(session, vfptr, code) or False
    if hit:
        hdr.cls, hdr.cls_source = hit
        return
    shape = session.shape_classifier if code != fxt.FX_TYPE_REQUEST else None
    shape_cls = shape(session, hdr) if shape is not None else None
    hdr.cls, hdr.cls_source = fxt.choose_class(code, hdr.object_size, None, shape_cls, session.target.pointer_size)


def looks_like_object(session, hdr):
    """Cheap plausibility: a known type code and a sane refcount."""
    if not fxt.is_known_type(hdr.fx_type or 0):
        return False
    if hdr.refcount is None or hdr.refcount < 0 or hdr.refcount > 0x1000000:
        return False
    return True


def for_each_child(session, obj, problems, limit=MAX_CHILDREN, headers=False, read_header=None):
    """Yield the child object addresses on ``obj``'s child list (an
    ObjectHeader), checking as it goes and recording problems in
    ``problems`` (a ProblemLog). Never raises for bad memory.

    With ``headers=True`` yields ``(address, ObjectHeader or ReadError)``:
    each child's header is decoded in the same single read that follows its
    links (with the read window of :func:`read_object`; ``read_header``: a
    :func:`header_reader` to use). The entries seen are kept in a compact
    :class:`~wdfdbg.decoders.codec.AddressSet`: a list of a million children
    costs about 10 bytes an entry."""
    from wdfdbg.decoders.codec import AddressSet
    off = offsets(session)
    target = session.target
    head = obj.address + off.child_head
    entry_off = off.child_entry
    check = target.check_interrupt if target.interrupt_check is not None else None
    if read_header is None:
        read_header = header_reader(session, headers)
    seen = AddressSet()
    seen_add = seen.add
    prev = head
    entry = obj.child_flink
    count = 0
    broken = False
    while True:
        if entry == head:
            break
        if entry is None or entry == 0:
            problems.add("CHILD_LIST_CORRUPT", prev, "child list of 0x%x: NULL Flink at 0x%x" % (obj.address, prev))
            broken = True
            break
        if entry in seen:
            problems.add("CHILD_LIST_CYCLE", head, "child list of 0x%x comes back to entry 0x%x without reaching the head" % (obj.address, entry))
            broken = True
            break
        if count >= limit:
            problems.add("WALK_LIMIT", head, "child list of 0x%x: stopped after %d entries" % (obj.address, limit))
            return
        if check is not None:
            check()
        seen_add(entry)
        child = entry - entry_off
        try:
            hdr = read_header(child)
            flink, blink = hdr.entry_flink, hdr.entry_blink
        except ReadError as e:
            hdr = e
            try:
                flink = target.read_pointer(entry)
                blink = target.read_pointer(entry + off.ptr)
            except ReadError as e2:
                problems.add("UNREADABLE", e2.address, "child list of 0x%x: entry 0x%x is unreadable" % (obj.address, entry))
                broken = True
                break
        if blink != prev:
            problems.add("CHILD_LIST_CORRUPT", entry, "child list of 0x%x: entry 0x%x has Blink 0x%x, expected 0x%x" % (obj.address, entry, blink, prev))
        count += 1
        yield (child, hdr) if headers else child
        prev = entry
        entry = flink
    if not broken:
        return
    # Walk back from the head to recover the entries after the break.
    back = []
    entry = obj.child_blink
    steps = 0
    while entry and entry != head and entry not in seen and steps < limit:
        steps += 1
        seen.add(entry)
        try:
            blink = target.read_pointer(entry + off.ptr)
        except ReadError as e:
            problems.add("UNREADABLE", e.address, "child list of 0x%x (walking back): entry 0x%x is unreadable" % (obj.address, entry))
            break
        back.append(entry - off.child_entry)
        entry = blink
    for child in reversed(back):
        if headers:
            try:
                yield child, read_header(child)
            except ReadError as e:
                yield child, e
        else:
            yield child


def validate_child_list(session, obj):
    """Like :func:`for_each_child` but raise CorruptionError on the first
    problem (drgn-style ``validate_*``)."""
    return validate_walk(lambda log: for_each_child(session, obj, log))


def read_contexts(session, hdr, problems=None):
    """The contexts an object record lists
    (:func:`wdfdbg.decoders.contexts.object_contexts`: only headers whose
    ContextTypeInfo is set, and chained headers not captured), as
    :class:`~wdfdbg.decoders.contexts.Context` records; ``()`` for none."""
    from wdfdbg.decoders.contexts import object_contexts
    return object_contexts(session, hdr, problems)


def for_each_object(session, root, problems, driver_names=None, max_objects=MAX_OBJECTS, max_depth=MAX_DEPTH,
                    show_depth=None):
    """Yield :class:`ObjectNode` for ``root`` (an address) and every object
    below it, in pre-order, one at a time.

    ``driver_names`` maps FX_DRIVER_GLOBALS address -> driver name.
    Iterative (a stack of :func:`for_each_child` walks, one per level) and
    bounded by ``max_objects`` and ``max_depth`` (WALK_LIMIT). A child is
    read when the walk reaches it, so what stays in memory is the stack and
    the compact set of the objects seen (the cycle check), not the tree.
    ``show_depth``: the caller wants only this many levels: deeper objects
    are not read at all, and that is not a problem."""
    from wdfdbg.decoders.codec import AddressSet
    driver_names = driver_names or {}
    read_header = header_reader(session, True)
    try:
        hdr = read_header(root)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "object 0x%x is unreadable" % root)
        return
    if not looks_like_object(session, hdr):
        problems.add("NOT_AN_OBJECT", root, "0x%x does not look like an FxObject (type 0x%x, refcount %s)" % (root, hdr.fx_type or 0, hdr.refcount))
        return
    ptr = session.target.pointer_size
    vmask = handle_of(0, ptr)  # handle = address ^ mask (decoders/handles.py)
    child_head = offsets(session).child_head
    visited = AddressSet()
    visited.add(root)
    seen, mark = visited.__contains__, visited.add
    names = driver_names.get
    plausible = looks_like_object
    yield ObjectNode(hdr, None, 0, names(hdr.globals), handle_of(root, ptr, hdr.object_size))
    count = 1
    # one entry per level being walked: (child-list walk, parent header, children's depth)
    stack = []

    def descend(h, depth):
        if show_depth is not None and depth >= show_depth:
            return
        if depth >= max_depth:
            if h.child_flink and h.child_flink != h.address + child_head:
                problems.add("WALK_LIMIT", h.address, "depth limit %d reached at 0x%x" % (max_depth, h.address))
            return
        if h.child_flink == h.address + child_head:
            return  # an empty list: nothing to walk
        stack.append((for_each_child(session, h, problems, headers=True, read_header=read_header), h, depth + 1))

    descend(hdr, 0)
    while stack:
        children, parent, depth = stack[-1]
        paddr = parent.address
        for child, ch in children:
            if seen(child):
                problems.add("CHILD_LIST_CYCLE", child, "object 0x%x appears twice in the tree (again under 0x%x)" % (child, paddr))
                continue
            mark(child)
            if count >= max_objects:
                problems.add("WALK_LIMIT", paddr, "object limit %d reached" % max_objects)
                return
            if isinstance(ch, ReadError):
                problems.add("UNREADABLE", ch.address, "child object 0x%x of 0x%x is unreadable" % (child, paddr))
                continue
            if not plausible(session, ch):
                problems.add("NOT_AN_OBJECT", child, "child 0x%x of 0x%x does not look like an FxObject (type 0x%x)" % (child, paddr, ch.fx_type or 0))
                continue
            if ch.parent != paddr:
                problems.add("PARENT_MISMATCH", child, "object 0x%x is on the child list of 0x%x but its m_ParentObject is 0x%x" % (child, paddr, ch.parent or 0))
            yield ObjectNode(ch, paddr, depth, names(ch.globals), child ^ vmask if ch.object_size else None)
            count += 1
            if depth < max_depth and (show_depth is None or depth < show_depth) and ch.child_flink == child + child_head:
                continue  # no children (most objects): no list walk to start
            descend(ch, depth)
            break
        else:
            stack.pop()


def walk_tree(session, root, problems, driver_names=None, max_objects=MAX_OBJECTS, max_depth=MAX_DEPTH,
              on_node=None, show_depth=None):
    """Pre-order list of :class:`ObjectNode` below ``root`` (an address):
    :func:`for_each_object` as a list. ``on_node(node)`` is called for each
    node as it is added."""
    nodes = []
    for node in for_each_object(session, root, problems, driver_names, max_objects=max_objects, max_depth=max_depth,
                                show_depth=show_depth):
        nodes.append(node)
        if on_node is not None:
            on_node(node)
    return nodes
