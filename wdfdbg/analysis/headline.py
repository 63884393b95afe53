"""The triage headline: the story of a crash first, as data.

:func:`build_triage` turns what one analysis found (the session, the KMDF
drivers, the problems, and a :class:`TriageFeed` fed every object of the
walk) into the report's ``triage`` dict: the bugcheck and what it means,
where it faulted (module+offset) and whether that module is a KMDF driver
(its name, KMDF version, FX_DRIVER_GLOBALS), the decoded exception, the
crashing thread and the locks it holds, the top problems, and what this
kind of source can and cannot show. ``render/headline.py`` prints it for
people; the JSON is the dict itself (schema fragment in the module
``TRIAGE_SCHEMA``).

:class:`TriageFeed` is the per-object half, for streaming walks: ``feed``
one ObjectNode at a time (it decodes locks and DMA alignment, counts piles,
and puts the JSON of what it found under the node's extras ``lock`` and
``dma_alignment``); ``finish`` adds the aggregate problems. It keeps only
the held locks and the pile counts, never the nodes.
"""

from wdfdbg.analysis.crash_stack import KnownObjects, crash_walk, stack_triage, stack_words
from wdfdbg.analysis.piling import PILING_SCHEMA, PilingAggregate
from wdfdbg.decoders import alignment as dma
from wdfdbg.decoders import locks as lk
from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.bugcheck import bugcheck_meaning, bugcheck_name
from wdfdbg.decoders.exception import decode_exception
from wdfdbg.decoders.facts import hex_json, module_offset, pointer_json
from wdfdbg.errors import LayoutError, ReadError
from wdfdbg.problems import ERROR, INFO, WARNING
from wdfdbg.sources.minidump import kmdf_driver_table

TOP_PROBLEMS = 5
_LOCK_TYPES = frozenset(lk.LOCK_TYPES)
_DMA_TYPES = frozenset((fxt.FX_TYPE_COMMON_BUFFER, fxt.FX_TYPE_DMA_TRANSACTION))
# Which problems a triage engineer wants first, within one severity.
FIRST = ("LOCK_HELD_BY_CRASHING_THREAD", "BUGCHECK", "BAD_HANDLE", "OBJECTS_PILING_UP", "LIKELY_LEAK",
         "BUFFER_MISALIGNED", "LOCK_HELD")
# Problems the headline says in its own words (the source section): the
# scan fallback, and the unreadable driver list it stands in for (its
# message ends with SCANNED_INSTEAD, analysis/tree.py)
NOT_HEADLINE = ("SCAN_FALLBACK",)
SCANNED_INSTEAD = " (not captured in this source; objects were found by scanning instead)"
_SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}


class TriageFeed(object):
    """Per-object triage for a walk; see the module docstring."""

    def __init__(self, session, problems):
        self.session = session
        self.problems = problems
        self.thread = lk.crash_thread(session)
        self.held_locks = []        # LockRecord, held only
        self.locks_seen = 0
        self.dma_checked = 0
        self.piling = PilingAggregate()
        # the crash's stack, walked once; objects a framework callback on it may be tied to
        self.walk = crash_walk(session)
        self.known = KnownObjects(stack_words(session.target, self.walk))

    def feed(self, node, parent_type=None, wdf_type=None):
        """One object of the walk (after its memory facts, before problem
        assignment: the lock and alignment problems are inside it);
        ``wdf_type``: the node's, when the caller has it."""
        code = node.header.fx_type
        if code in _LOCK_TYPES:
            self._lock(node)
        elif code in _DMA_TYPES:
            check = dma.check_node(self.session, node, self.problems)
            if check is not None:
                self.dma_checked += 1
                node.extra["dma_alignment"] = check.to_json()
        self.piling.feed_node(node, parent_type, wdf_type)
        self.known.feed(node)

    def _lock(self, node):
        rec = lk.decode_lock(self.session, node, self.thread)
        if rec is None:
            return
        self.locks_seen += 1
        lk.check_lock(rec, self.problems)
        node.extra["lock"] = rec.to_json()
        if rec.held:
            self.held_locks.append(rec)

    def finish(self):
        self.piling.finish(self.problems)


# -- the pieces ----------------------------------------------------------------
def _backend_attr(session, name):
    """An attribute of the first backend in the wrapper chain that has it
    (recording and ``--types`` wrappers keep the real one in ``inner``)."""
    b = getattr(session.target, "backend", None)
    for _ in range(8):
        if b is None:
            return None
        v = getattr(b, name, None)
        if v is not None:
            return v
        b = getattr(b, "inner", None)
    return None


def fault_address(session, bc, exc):
    """Where the crash happened: the exception address, else the faulting
    address a bugcheck names (0xA/0xD1 P4, 0x50 P3), else None."""
    if exc is not None and isinstance(exc.address, int) and exc.address:
        return exc.address
    if bc is None:
        return None
    base = bc.code & ~0x10000000
    p = bc.parameters
    if base in (0x0A, 0xD1):
        return p[3] or None
    if base == 0x50:
        return p[2] or None
    return None


def kmdf_driver_of(session, drivers, module):
    """``{name, kmdf_version, globals, source}`` when ``module`` (a
    sources.base.Module) is a KMDF client driver, else None. Matched by the
    driver globals' ImageAddress inside the module, else by name against
    KMDF's driver table in the dump and the drivers found."""
    if module is None:
        return None
    table = kmdf_driver_table(getattr(session.target, "backend", None))
    by_globals = dict((e.globals, e) for e in table if e.globals)
    low = module.name.lower()
    hit = None
    for d in drivers or ():
        if d.image_address and module.contains(d.image_address):
            hit = (d.name, d.globals, "FX_DRIVER_GLOBALS.ImageAddress")
            break
    if hit is None:
        for e in table:
            if e.globals and e.name.lower() == low:
                hit = (e.name, e.globals, "KMDF driver table")
                break
    if hit is None:
        for d in drivers or ():
            if d.name and d.name.lower() == low:
                hit = (d.name, d.globals, "driver globals")
                break
    if hit is None:
        return None
    name, globals_addr, source = hit
    entry = by_globals.get(globals_addr)
    version = entry.version_string() if entry is not None else _listed_version(drivers, globals_addr)
    return {"name": name, "kmdf_version": version, "globals": hex_json(globals_addr), "matched_by": source}


def kmdf_driver_by_globals(session, drivers, globals_addr):
    """The KMDF driver whose FX_DRIVER_GLOBALS is ``globals_addr`` (as
    :func:`kmdf_driver_of` gives it), or None."""
    table = kmdf_driver_table(getattr(session.target, "backend", None))
    entry = next((e for e in table if e.globals == globals_addr), None)
    name = entry.name if entry is not None else None
    if name is None:
        name = next((d.name for d in drivers or () if d.globals == globals_addr and d.name), None)
    if name is None:
        return None
    return {"name": name, "kmdf_version": entry.version_string() if entry is not None else
            _listed_version(drivers, globals_addr),
            "globals": hex_json(globals_addr), "matched_by": "bugcheck 0x10D parameter 4"}


def _listed_version(drivers, globals_addr):
    """The KMDF version a driver found by the analysis carries
    (``drivers.fill_versions``: FxLibraryGlobals.BugCheckDriverInfo)."""
    return next((d.kmdf_version for d in drivers or () if d.globals == globals_addr
                 and getattr(d, "kmdf_version", None)), None)


def rank_problems(problems, limit=TOP_PROBLEMS):
    """The problems a headline shows first: by severity, then FIRST, then
    order of discovery."""
    items = [p for p in problems if p.code not in NOT_HEADLINE and not p.message.endswith(SCANNED_INSTEAD)]
    order = dict((c, i) for i, c in enumerate(FIRST))
    indexed = sorted(enumerate(items), key=lambda ip: (_SEVERITY_RANK.get(ip[1].severity, 3),
                                                      order.get(ip[1].code, len(order)), ip[0]))
    return [p for _, p in indexed[:limit]]


def coverage(session, scanned):
    """``{kind, can_show, cannot_show}``: what this source holds."""
    kind = session.source_kind
    origin = session.origin
    can, cannot = [], []
    if kind == "minidump":
        dump = _backend_attr(session, "dump")
        segments = getattr(dump, "segments", None) or []
        # the saved data blocks alone (the call-stack and debugger-data
        # copies are separate segments: minidump.TriageDump._parse_memory)
        blocks = [size for _va, _off, size, prio in segments if prio == 0]
        desc = "a triage dump (Windows' small memory dump)"
        held = "only the memory near the crash"
        if blocks:
            total = sum(blocks)
            held += ": %d saved blocks of 0x%x bytes in all (about %s)" % (len(blocks), total, _about(total))
        can = ["the bugcheck and its parameters", "the crashing processor's current thread",
               "the exception record when it was saved", "KMDF's driver table (names, versions, globals)",
               held]
        cannot = ["the KMDF driver list (FxDriverGlobalsList is not saved), so objects come from a scan of the "
                  "saved blocks and whole trees are missing" if scanned else
                  "memory outside the saved blocks",
                  "objects, buffers, pool headers and contexts outside the saved blocks",
                  "other threads' stacks and most pool contents"]
    elif kind in ("kdmp", "kernel-dump"):
        desc = "a kernel memory dump"
        can = ["all kernel memory that was resident", "the bugcheck and its parameters"]
        cannot = ["user-mode memory (unless a complete dump)", "pages that were paged out"]
    elif kind == "snapshot":
        desc = {"converted": "a snapshot cut from a dump", "recorded": "a snapshot recorded from a live target",
                "synthetic": "a synthetic snapshot (built by a program, not from a real machine)"}.get(
                    origin, "a snapshot")
        can = ["the memory an analysis read when it was made (the same answers, offline)"]
        cannot = ["anything that analysis did not read"]
    elif kind == "pykd" and origin == "dump":
        desc = "a dump open in the debugger"
        can = ["the memory the dump saved, as the debugger reads it"]
        cannot = ["memory the dump did not save"]
    elif kind == "pykd":
        desc = "a live debugger session"
        can = ["all memory the debugger can read"]
        cannot = ["a consistent picture while the target runs (values change between reads)"]
    else:
        desc = "a %s source" % kind
    if scanned and kind != "minidump":
        cannot.append("the driver list could not be read: objects come from a scan")
    return {"kind": kind, "description": desc, "can_show": can, "cannot_show": cannot}


def _about(n):
    for unit, size in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return "%.1f %s" % (n / float(size), unit)
    return "0x%x bytes" % n


def _lock_brief(rec):
    return {"kind": rec.kind, "handle": hex_json(rec.handle), "object": hex_json(rec.address), "driver": rec.driver,
            "owner": pointer_json(rec.owner),
            "state": rec.text()}


def build_triage(session, drivers=(), problems=(), feed=None, exc=None):
    """The ``triage`` dict (see ``TRIAGE_SCHEMA``). ``exc`` is the decoded
    exception when the caller has it (else it is decoded here)."""
    problems = list(problems)
    target = session.target
    bc = target.bugcheck()
    drivers = list(drivers or ())
    try:
        from wdfdbg.decoders.drivers import fill_versions
        fill_versions(session, [d for d in drivers if hasattr(d, "kmdf_version")])
    except (ReadError, LayoutError):  # a version is an optional fact
        pass
    if exc is None and bc is not None:
        exc = decode_exception(session, bc)
    out = {"bugcheck": None, "fault": None, "exception": exc.to_json() if exc is not None else None}
    if bc is not None:
        out["bugcheck"] = {"code": "0x%x" % bc.code, "name": bugcheck_name(bc.code),
                           "meaning": bugcheck_meaning(bc.code)}
    addr = fault_address(session, bc, exc)
    if addr:
        mod = target.module_of(addr)
        out["fault"] = {"address": hex_json(addr), "where": module_offset(target, addr),
                        "module": mod.name if mod is not None else None,
                        "kmdf_driver": kmdf_driver_of(session, drivers, mod)}
    elif bc is not None and bc.code & ~0x10000000 == 0x10D and bc.parameters[3]:
        # WDF_VIOLATION: parameter 4 is the offending driver's globals (kmdf.md §10)
        drv = kmdf_driver_by_globals(session, drivers, bc.parameters[3])
        if drv is not None:
            out["fault"] = {"address": None, "where": None, "module": None, "kmdf_driver": drv}
    thread = feed.thread if feed is not None else lk.crash_thread(session)
    out["crash_thread"] = hex_json(thread)
    held = feed.held_locks if feed is not None else []
    out["locks_held_by_crashing_thread"] = [_lock_brief(r) for r in held if r.crashing_thread]
    out["locks_held"] = [_lock_brief(r) for r in held if not r.crashing_thread]
    out["top_problems"] = [p.to_json() for p in rank_problems(problems)]
    scanned = any(p.code == "SCAN_FALLBACK" for p in problems)
    out["source"] = coverage(session, scanned)
    if feed is not None:
        out["piling_up"] = feed.piling.to_json()["piling_up"]
    names = [e.name for e in kmdf_driver_table(getattr(target, "backend", None))]
    out.update(stack_triage(session, names, feed.known if feed is not None else None, drivers,
                            feed.walk if feed is not None else None))
    return out


_HEX = {"type": "string", "pattern": "^0x[0-9a-f]+$"}
_HEX_OR_NULL = {"anyOf": [_HEX, {"type": "null"}]}
_STR_OR_NULL = {"type": ["string", "null"]}
_LOCK = {"type": "object", "required": ["kind", "handle", "object", "driver", "owner", "state"],
         "properties": {"kind": {"enum": ["WDFWAITLOCK", "WDFSPINLOCK"]}, "handle": _HEX_OR_NULL, "object": _HEX,
                        "driver": _STR_OR_NULL,
                        "owner": {"anyOf": [_HEX, {"type": "null"}, {"enum": ["not captured", "unknown"]}]},
                        "state": {"type": "string"}}}

_FRAME = {"type": "object", "required": ["index", "address", "where", "module", "trust", "sp"],
          "properties": {"index": {"type": "integer"}, "address": _HEX, "where": _STR_OR_NULL,
                         "module": _STR_OR_NULL, "trust": {"enum": ["context", "cfi", "frame-pointer", "scan"]},
                         "sp": _HEX_OR_NULL, "slot": _HEX, "note": {"type": "string"}}}

# The JSON Schema fragment of the report's "triage" key (draft 2020-12).
TRIAGE_SCHEMA = {
    "type": "object",
    "required": ["bugcheck", "fault", "exception", "crash_thread", "locks_held_by_crashing_thread", "locks_held",
                 "top_problems", "source"],
    "properties": {
        "bugcheck": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["code", "name", "meaning"],
            "properties": {"code": _HEX, "name": _STR_OR_NULL, "meaning": _STR_OR_NULL}}]},
        "fault": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["address", "where", "module", "kmdf_driver"],
            "properties": {"address": _HEX_OR_NULL, "where": _STR_OR_NULL, "module": _STR_OR_NULL,
                           "kmdf_driver": {"anyOf": [{"type": "null"}, {
                               "type": "object", "required": ["name", "kmdf_version", "globals", "matched_by"],
                               "properties": {"name": {"type": "string"}, "kmdf_version": _STR_OR_NULL,
                                              "globals": _HEX_OR_NULL, "matched_by": {"type": "string"}}}]}}}]},
        "exception": {"anyOf": [{"type": "null"}, {
            "type": "object",
            "required": ["code", "name", "meaning", "address", "where", "access", "target", "parameters", "record",
                         "record_captured", "source"],
            "properties": {
                "code": {"anyOf": [_HEX, {"const": "not captured"}]}, "name": _STR_OR_NULL, "meaning": _STR_OR_NULL,
                "address": {"anyOf": [_HEX, {"const": "not captured"}]}, "where": _STR_OR_NULL,
                "module": _STR_OR_NULL, "module_offset": _HEX_OR_NULL,
                "access": {"enum": ["read", "write", "execute", None]},
                "target": {"anyOf": [_HEX, {"type": "null"}, {"const": "not captured"}]},
                "parameters": {"anyOf": [{"type": "array", "items": {"anyOf": [_HEX, {"const": "not captured"}]}},
                                         {"const": "not captured"}]},
                "flags": {"anyOf": [_HEX, {"const": "not captured"}]},
                "record": _HEX_OR_NULL, "record_captured": {"type": "boolean"},
                "nested_record": {"anyOf": [_HEX, {"type": "null"}, {"const": "not captured"}]},
                "source": {"enum": ["exception record", "bugcheck parameters"]},
                "notes": {"type": "array", "items": {"type": "string"}}}}]},
        "crash_thread": _HEX_OR_NULL,
        "locks_held_by_crashing_thread": {"type": "array", "items": _LOCK},
        "locks_held": {"type": "array", "items": _LOCK},
        "top_problems": {"type": "array", "maxItems": TOP_PROBLEMS, "items": {"$ref": "#/$defs/problem"}},
        "source": {"type": "object", "required": ["kind", "description", "can_show", "cannot_show"],
                   "properties": {"kind": {"type": "string"}, "description": {"type": "string"},
                                  "can_show": {"type": "array", "items": {"type": "string"}},
                                  "cannot_show": {"type": "array", "items": {"type": "string"}}}},
        "piling_up": PILING_SCHEMA["properties"]["piling_up"],
        "stack": {"type": "array", "items": _FRAME},
        "stack_end": _STR_OR_NULL,
        "bugcheck_caller": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["address", "where", "module", "how"],
            "properties": {"address": _HEX, "where": _STR_OR_NULL, "module": _STR_OR_NULL,
                           "how": {"type": "string"}}}]},
        "process": {"anyOf": [{"type": "null"}, {
            "type": "object", "required": ["name", "address", "source"],
            "properties": {"name": {"type": "string"}, "address": _HEX_OR_NULL, "source": _STR_OR_NULL,
                           "reason": {"type": "string"}}}]},
        "kmdf_context": {"type": "array", "items": {
            "type": "object",
            "required": ["driver_frame", "framework_frame", "driver", "callback", "missing", "objects"],
            "properties": {"driver_frame": {"type": "integer"}, "framework_frame": {"type": "integer"},
                           "driver": {"type": "string"}, "callback": _STR_OR_NULL, "missing": _STR_OR_NULL,
                           "objects": {"type": "array", "items": {
                               "type": "object", "required": ["type", "object", "handle", "driver", "found_in", "as"],
                               "properties": {"type": {"type": "string"}, "object": _HEX, "handle": _HEX_OR_NULL,
                                              "driver": _STR_OR_NULL, "found_in": {"type": "string"},
                                              "as": {"enum": ["handle", "object"]}}}}}}},
        "headline": {"type": "array", "items": {"type": "string"},
                     "description": "the headline as text lines, as memtree and info print it first"},
    },
}
