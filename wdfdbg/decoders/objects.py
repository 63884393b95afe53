"""The FxObject header and the WDF object tree (kmdf.md §2-§4).

C types: ``FxObject`` (Wdf01000), ``FxContextHeader``,
``WDF_OBJECT_CONTEXT_TYPE_INFO``.

* :func:`read_object` decodes one FxObject header in one read.
* :func:`for_each_child` walks ``m_ChildListHead`` iteratively, checking as it
  goes (cycle, Flink/Blink mismatch, parent mismatch, unreadable memory,
  bounds) and recording each as a problem without stopping the walk; when
  the forward walk breaks it walks back from the head's Blink to recover the
  rest of the list. :func:`validate_child_list` raises on the first problem.
* :func:`walk_tree` builds the pre-order tree below a root, without
  recursion.

Problem address conventions: CHILD_LIST_CYCLE at the list head whose walk
comes back to an entry it saw; CHILD_LIST_CORRUPT at the entry whose Blink
is not the previous entry; PARENT_MISMATCH at the child object;
UNREADABLE at the first address that could not be read.
"""

from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.handles import handle_of
from wdfdbg.errors import CorruptionError, ReadError

FXOBJECT = "Wdf01000!FxObject"
MAX_CHILDREN = 1 << 20
MAX_OBJECTS = 1 << 22
MAX_DEPTH = 64
MAX_CONTEXTS = 16


class ObjectHeader(object):
    """A decoded FxObject header (field names follow the C++ members)."""

    __slots__ = ("address", "vfptr", "fx_type", "object_size", "refcount", "globals", "flags", "state",
                 "child_flink", "child_blink", "parent", "entry_flink", "entry_blink", "device_base",
                 "cls", "cls_source")

    def __init__(self, address, rec):
        self.address = address
        self.vfptr = rec.get("__vfptr")
        self.fx_type = rec.get("m_Type")
        self.object_size = rec.get("m_ObjectSize")
        self.refcount = rec.get("m_Refcnt")
        self.globals = rec.get("m_Globals")
        self.flags = rec.get("m_ObjectFlags")
        self.state = rec.get("m_ObjectState")
        self.child_flink = rec.get("m_ChildListHead.Flink")
        self.child_blink = rec.get("m_ChildListHead.Blink")
        self.parent = rec.get("m_ParentObject")
        self.entry_flink = rec.get("m_ChildEntry.Flink")
        self.entry_blink = rec.get("m_ChildEntry.Blink")
        self.device_base = rec.get("m_DeviceBase")
        self.cls = None
        self.cls_source = None


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


class ContextInfo(object):
    """One FxContextHeader of an object: ``header`` (its address), ``name``
    and ``size`` (from WDF_OBJECT_CONTEXT_TYPE_INFO), ``context`` (the
    driver's context address), ``type_info``. Readable as a mapping too
    (``c["name"]``, ``c.get("size")``); slotted because every object of a
    large tree carries one."""

    __slots__ = ("header", "name", "size", "context", "type_info")

    def __init__(self, header, context, type_info, name=None, size=None):
        self.header = header
        self.context = context
        self.type_info = type_info
        self.name = name
        self.size = size

    def __getitem__(self, key):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key)

    def get(self, key, default=None):
        return getattr(self, key, default)


class Offsets(object):
    """FxObject offsets a walk needs, from the session's layouts."""

    def __init__(self, session):
        lay = session.layouts.get(FXOBJECT)
        self.layout = lay
        self.size = lay.size
        self.child_head = lay.offset("m_ChildListHead")
        self.child_entry = lay.offset("m_ChildEntry")
        self.ptr = session.target.pointer_size


def offsets(session):
    off = getattr(session, "_fx_offsets", None)
    if off is None:
        off = Offsets(session)
        session._fx_offsets = off
    return off


def read_object(session, address):
    """Decode the FxObject header at ``address`` (one read; ReadError)."""
    off = offsets(session)
    rec = off.layout.decode(session.target.read(address, off.size))
    hdr = ObjectHeader(address, rec)
    classify(session, hdr)
    return hdr


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
    """The concrete class for a vtable pointer, from an exact symbol."""
    if not vfptr:
        return None
    cache = getattr(session, "_vtable_classes", None)
    if cache is None:
        cache = session._vtable_classes = {}
    if vfptr in cache:
        return cache[vfptr]
    sym = session.target.symbol_at(vfptr)
    cls = class_from_symbol(sym[0]) if sym is not None and sym[1] == 0 else None
    cache[vfptr] = cls
    return cls


def classify(session, hdr):
    """Set ``hdr.cls`` and ``hdr.cls_source`` ("vtable", "shape" or None)."""
    cls = class_of_vtable(session, hdr.vfptr)
    if cls is not None:
        hdr.cls = cls
        hdr.cls_source = "vtable"
        return
    shape = getattr(session, "shape_classifier", None)
    if shape is not None:
        cls = shape(session, hdr)
        if cls is not None:
            hdr.cls = cls
            hdr.cls_source = "shape"


def looks_like_object(session, hdr):
    """Cheap plausibility: a known type code and a sane refcount."""
    if not fxt.is_known_type(hdr.fx_type or 0):
        return False
    if hdr.refcount is None or hdr.refcount < 0 or hdr.refcount > 0x1000000:
        return False
    return True


def for_each_child(session, obj, problems, limit=MAX_CHILDREN, headers=False):
    """Yield the child object addresses on ``obj``'s child list (an
    ObjectHeader), checking as it goes and recording problems in
    ``problems`` (a ProblemLog). Never raises for bad memory.

    With ``headers=True`` yields ``(address, ObjectHeader or ReadError)``:
    each child's header is decoded in the same single read that follows its
    links."""
    off = offsets(session)
    target = session.target
    head = obj.address + off.child_head
    seen = set()
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
        target.check_interrupt()
        seen.add(entry)
        child = entry - off.child_entry
        try:
            hdr = read_object(session, child)
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
                yield child, read_object(session, child)
            except ReadError as e:
                yield child, e
        else:
            yield child


def validate_child_list(session, obj):
    """Like :func:`for_each_child` but raise CorruptionError on the first
    problem (drgn-style ``validate_*``)."""
    log = ProblemLog()
    out = []
    for child in for_each_child(session, obj, log):
        if len(log):
            break
        out.append(child)
    if len(log):
        raise CorruptionError(log.items[0])
    return out


def read_contexts(session, hdr, problems=None):
    """The typed contexts of an object as :class:`ContextInfo` records
    (empty when it has none), from :func:`wdfdbg.decoders.contexts.for_each_context`:
    only headers whose ContextTypeInfo is set have a context; a name or
    size the dump did not capture is None here (the Context records of
    ``decoders/contexts.py`` say "not captured"); a chained header that was
    not captured is left out."""
    from wdfdbg.decoders import contexts as ctxs
    from wdfdbg.decoders.facts import known
    out = []
    for c in ctxs.for_each_context(session, hdr, problems):
        if not c.captured:
            continue
        out.append(ContextInfo(c.header, c.context, c.type_info, c.name if known(c.name) else None,
                               c.size if known(c.size) else None))
    return out or ()


def walk_tree(session, root, problems, driver_names=None, max_objects=MAX_OBJECTS, max_depth=MAX_DEPTH,
              on_node=None, show_depth=None):
    """Pre-order list of :class:`ObjectNode` below ``root`` (an address).

    ``driver_names`` maps FX_DRIVER_GLOBALS address -> driver name.
    ``on_node(node)`` is called for each node as it is added. Iterative;
    bounded by ``max_objects`` and ``max_depth`` (WALK_LIMIT).
    ``show_depth``: the caller wants only this many levels: deeper objects
    are not read at all, and that is not a problem."""
    driver_names = driver_names or {}
    nodes = []
    visited = set()
    try:
        hdr = read_object(session, root)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "object 0x%x is unreadable" % root)
        return nodes
    if not looks_like_object(session, hdr):
        problems.add("NOT_AN_OBJECT", root, "0x%x does not look like an FxObject (type 0x%x, refcount %s)" % (root, hdr.fx_type or 0, hdr.refcount))
        return nodes
    ptr = session.target.pointer_size
    # stack of (header, parent address, depth)
    stack = [(hdr, None, 0)]
    visited.add(root)
    limit_hit = False
    while stack:
        hdr, parent, depth = stack.pop()
        node = ObjectNode(hdr, parent, depth, driver_names.get(hdr.globals), handle_of(hdr.address, ptr, hdr.object_size))
        if parent is not None and hdr.parent != parent:
            problems.add("PARENT_MISMATCH", hdr.address, "object 0x%x is on the child list of 0x%x but its m_ParentObject is 0x%x" % (hdr.address, parent, hdr.parent or 0))
        nodes.append(node)
        if on_node is not None:
            on_node(node)
        if show_depth is not None and depth >= show_depth:
            continue
        if depth >= max_depth:
            if hdr.child_flink and hdr.child_flink != hdr.address + offsets(session).child_head:
                problems.add("WALK_LIMIT", hdr.address, "depth limit %d reached at 0x%x" % (max_depth, hdr.address))
            continue
        children = []
        for child, ch in for_each_child(session, hdr, problems, headers=True):
            if child in visited:
                problems.add("CHILD_LIST_CYCLE", child, "object 0x%x appears twice in the tree (again under 0x%x)" % (child, hdr.address))
                continue
            visited.add(child)
            if len(nodes) + len(stack) + len(children) >= max_objects:
                limit_hit = True
                break
            if isinstance(ch, ReadError):
                problems.add("UNREADABLE", ch.address, "child object 0x%x of 0x%x is unreadable" % (child, hdr.address))
                continue
            if not looks_like_object(session, ch):
                problems.add("NOT_AN_OBJECT", child, "child 0x%x of 0x%x does not look like an FxObject (type 0x%x)" % (child, hdr.address, ch.fx_type or 0))
                continue
            children.append(ch)
        for ch in reversed(children):
            stack.append((ch, hdr.address, depth + 1))
        if limit_hit:
            problems.add("WALK_LIMIT", hdr.address, "object limit %d reached" % max_objects)
            break
    return nodes
