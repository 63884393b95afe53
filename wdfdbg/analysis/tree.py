"""The memtree analysis as a stream: walk -> decode -> annotate -> emit -> drop.

:class:`TreeAnalysis` plans the walk (driver selection, root resolution,
the scan fallback when the driver list cannot be read), then walks each
tree below its root one object at a time (``objects.for_each_object``),
annotates the object (memory, lookaside, MDLs, contexts), applies the
per-object triage rule, attaches the problems found inside it so far, and
hands it to a *sink* (a renderer) which writes its record out; nothing
keeps the node after that. What stays, per object, is compact:

* the walk's cycle check: a bitmap per page of the objects seen (about 10
  bytes an object, ``decoders.codec.AddressSet``), for the walk in progress;
* the problem index (``analysis.assign``): 16 bytes an object;
* the lookaside join (``decoders.annotate``): address and length of each
  memory object allocated from a lookaside (16 bytes each, those only);
* the leak counters (``analysis.triage``): one entry per parent of WDFMEMORY;
* the per-object triage (``analysis.headline.TriageFeed``, fed every
  object after its annotation and before problem assignment, so that the
  problems it finds inside the object join its record): it decodes locks
  and DMA alignment into the node's extras (``lock``, ``dma_alignment``)
  and keeps only the held locks and the piling counts
  (``analysis.piling``: keyed by driver, parent type, child type and pool
  tag, and by long-lived parent, never per object);
* the sinks' aggregates: per-driver and per-type counts and bytes.

After the walk: the annotator's, the leak rules' and the feed's finish
(LIKELY_LEAK, OBJECTS_PILING_UP, the bugcheck), the late matching, then the
report's ``triage`` facts (:attr:`TreeAnalysis.triage_facts`,
``analysis.headline.build_triage``), which the sinks write at the end.

Facts known only after an object's record left, and how they reach the
output (the second pass over compact state): problems found later inside an
emitted object (``analysis.late``: emission number -> (driver slot,
problems, object address), from :class:`~wdfdbg.analysis.assign.ProblemAssigner`),
and the ``allocated`` list of a lookaside whose memory objects came after it
(``analysis.grown``: emission number -> (lookaside address, the whole list)). A JSON document patches those records
when it copies its spooled records out; a JSONL stream writes them as later
lines; the text tree lists late problems in its problem table.

A sink (:class:`Sink`) has ``begin(analysis)``, ``walk(driver, grouped)`` (a tree starts;
``grouped``: its nodes come from a scan, not in one driver's tree),
``node(node, seq)`` (``seq``: the emission number, 0-based),
``walk_end()`` and ``end(analysis)`` (after triage, the late matching and
:attr:`TreeAnalysis.triage_facts`).
:func:`collect` is the same analysis into a list (the non-streamed form,
for callers that want every node).
"""

from wdfdbg.analysis.assign import ProblemAssigner
from wdfdbg.analysis.headline import SCANNED_INSTEAD, TriageFeed, build_triage
from wdfdbg.analysis.numbers import parse_int
from wdfdbg.analysis.triage import Triage
from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders.annotate import Annotator
from wdfdbg.decoders.handles import decode_handle, decode_handle_or_address
from wdfdbg.errors import UsageError
from wdfdbg.problems import WARNING, is_partial_dump, problem_log_for


class TreeOptions(object):
    """What to walk: ``root`` (handle, address or driver name), ``driver``
    (name filter), ``handle``, ``address``, ``depth``, ``max_objects``,
    ``contexts`` (read context headers)."""

    __slots__ = ("root", "driver", "handle", "address", "depth", "max_objects", "contexts")

    def __init__(self, root=None, driver=None, handle=None, address=None, depth=None, max_objects=fxo.MAX_OBJECTS,
                 contexts=True):
        self.root = root
        self.driver = driver
        self.handle = handle
        self.address = address
        self.depth = depth
        self.max_objects = max_objects
        self.contexts = contexts

    @classmethod
    def from_args(cls, args):
        return cls(getattr(args, "root", None), getattr(args, "driver", None), getattr(args, "handle", None),
                   getattr(args, "address", None), getattr(args, "depth", None),
                   getattr(args, "max_objects", None) or fxo.MAX_OBJECTS, not getattr(args, "no_contexts", False))


class TreeAnalysis(object):
    """One memtree analysis of a session (see the module docstring)."""

    def __init__(self, session, options, lean=True):
        self.session = session
        self.options = options
        self.problems = problem_log_for(session)
        self.drivers = []
        self.walks = []          # (root address, DriverInfo or None)
        self.scanned = None      # the scan's kept nodes (a generator) when it stood in for the driver list
        # what --depth hides: the shown objects whose children are not shown,
        # and how many objects that is when known (a scan's; a walk does not read them)
        self.hidden_parents = set()
        self.hidden_objects = 0
        self.all_drivers = []    # every driver known, whatever --driver selects (the headline's)
        self.count = 0
        self.late = {}
        self.grown = {}
        self.globals_table = []  # driver slot -> FX_DRIVER_GLOBALS address (the problem index's slots)
        self.feed = None         # the per-object triage (analysis.headline.TriageFeed), made by run
        self.triage_facts = None  # the report's "triage" dict, made at the end of run
        self._slots = {}
        self._lean = lean
        self._planned = False
        self._child_head = None

    # -- planning ------------------------------------------------------------
    def plan(self):
        """Resolve drivers and roots (UsageError for a bad ROOT or --driver)."""
        if self._planned:
            return self
        self._planned = True
        opts, problems = self.options, self.problems
        self.drivers = list(drv.for_each_driver(self.session, problems))
        self.all_drivers = self.drivers
        if not self.drivers and (is_partial_dump(self.session) or not (opts.handle or opts.address or opts.root)):
            # a triage dump never holds the driver list: every option is
            # answered from the scan, as a view of it (_scanned_view)
            scan = _scan_fallback(self.session, problems)
            if scan is not None:
                self.all_drivers, nodes = scan
                self.drivers = self.all_drivers
                self._scanned_view(nodes)
                return self
        root, only = self._resolve_root()
        if root is not None:
            self.walks = [(root, None)]
        else:
            if only and not any((d.name or "").lower() == only.lower() for d in self.drivers):
                raise UsageError("no KMDF driver named %r (drivers: %s)" % (
                    only, ", ".join(d.label() for d in self.drivers) or "none"))
            for d in self.drivers:
                if only and (d.name or "").lower() != only.lower():
                    continue
                self.walks.append((d.driver, d))
        return self

    def _scanned_view(self, nodes):
        """What the options select of a scan's nodes (pre-order, parents
        set): ``--driver`` or a ROOT naming a driver (of KMDF's table in the
        dump) keeps its objects, ``--handle``/``--address``/a ROOT handle the
        subtree below that object (depths counted from it), ``--depth`` cuts
        the rest. Objects left out are still fed to the per-object triage
        (:meth:`_select`), so a view never changes what is true of the dump
        (the crashing thread's locks, objects piling up). The nodes stream:
        :attr:`scanned` yields the kept ones as :meth:`run` emits them."""
        opts = self.options
        only, root = opts.driver, None
        if opts.root and not (opts.handle or opts.address):
            named = [d.name for d in self.all_drivers if d.name and d.name.lower() == opts.root.lower()]
            if named:
                only = named[0]
        if only is not None:
            if not any((d.name or "").lower() == only.lower() for d in self.all_drivers):
                raise UsageError("no KMDF driver named %r (drivers: %s)" % (
                    only, ", ".join(d.label() for d in self.all_drivers) or "none"))
            self.drivers = [d for d in self.all_drivers if (d.name or "").lower() == only.lower()]
        elif opts.handle or opts.address or opts.root:
            root, _ = self._resolve_root()
            if root is None:
                only = ""    # a bad handle (its problem says why): nothing is shown, all is triaged
        self.scanned = self._select(nodes, only, root)

    def _select(self, nodes, only, root):
        """The kept nodes of :meth:`_scanned_view`, one at a time; the others
        go to the per-object triage as they pass (``only == ""`` keeps none)."""
        opts = self.options
        base = None     # the depth of the root while inside its subtree
        kept = 0
        for n in nodes:
            if root is not None:
                if base is not None and n.depth <= base:
                    base = None
                if base is None and n.address == root:
                    base = n.depth
                if base is None:
                    self.feed.feed(n)
                    continue
                n.depth -= base
            elif only is not None and (n.driver or "").lower() != only.lower():
                self.feed.feed(n)
                continue
            if opts.depth is not None and n.depth > opts.depth:  # a scan's nodes are not walked with show_depth
                self.feed.feed(n)
                self.hidden_objects += 1
                if n.depth == opts.depth + 1:
                    self.hidden_parents.add(n.parent)
                continue
            kept += 1
            yield n
        if root is not None and not kept:
            # the object is not among those the scan proved: walk from it
            self.walks = [(root, None)]

    def _resolve_root(self):
        """(root address or None, driver filter or None)."""
        opts, problems, drivers = self.options, self.problems, self.drivers
        target = self.session.target
        if opts.handle:
            dh = decode_handle(target, parse_int(opts.handle, "--handle"))
            if dh.problem:
                problems.add("BAD_HANDLE", dh.field, dh.problem)
                return None, None
            return dh.object, None
        if opts.address:
            return parse_int(opts.address, "--address"), None
        if opts.root:
            for d in drivers:
                if d.name and d.name.lower() == opts.root.lower():
                    return None, d.name
            try:
                v = parse_int(opts.root, "ROOT")
            except UsageError:
                raise UsageError("ROOT %r is neither a KMDF driver name (drivers: %s) nor a handle or address"
                                 % (opts.root, ", ".join(d.label() for d in drivers) or "none found"))
            dh = decode_handle_or_address(target, v)
            if dh.problem:
                problems.add("BAD_HANDLE", dh.field, dh.problem)
                return None, None
            return dh.object, None
        return None, opts.driver

    # -- the stream ----------------------------------------------------------
    def run(self, sink):
        """Walk, annotate and hand every object to ``sink``; returns self."""
        self.plan()
        session, problems, opts = self.session, self.problems, self.options
        self.annotator = Annotator(session, problems, contexts=opts.contexts, lean=self._lean)
        self.triage = Triage(session, self.drivers, problems)
        self.feed = TriageFeed(session, problems)
        self.assigner = ProblemAssigner(problems)
        self._lookaside_seq = {}
        self._interrupt = session.target.check_interrupt if session.target.interrupt_check is not None else None
        sink.begin(self)
        names = drv.driver_names(self.drivers)
        if self.scanned is not None:
            types = {}
            walking = False
            for node in self.scanned:
                if not walking:
                    sink.walk(None, True)
                    walking = True
                types[node.address] = self._emit(node, sink, types.get(node.parent))
            if walking:
                sink.walk_end()
            self.scanned = None
        limit = opts.max_objects
        for root, d in self.walks:
            if self.count >= limit:
                break
            if d is not None and not d.driver:
                problems.add("UNREADABLE", d.globals, "driver %s: FX_DRIVER_GLOBALS.Driver is not readable" % d.label())
                continue
            sink.walk(d, False)
            path = []  # (address, type) of the current node's ancestors, by depth
            emit = self._emit
            for node in fxo.for_each_object(session, root, problems, names, max_objects=max(1, limit - self.count),
                                            show_depth=opts.depth):
                depth = node.depth
                if len(path) > depth:
                    del path[depth:]
                parent_type = path[-1][1] if path and path[-1][0] == node.parent else None
                path.append((node.address, emit(node, sink, parent_type)))
            sink.walk_end()
        self.annotator.finish()
        self.triage.finish()
        self.feed.finish()
        self.late = self.assigner.finish()
        for la in sorted(self.annotator.grown):
            seq = self._lookaside_seq.get(la)
            if seq is not None:
                self.grown[seq] = (la, self.annotator.allocated(la))
        self.triage_facts = build_triage(session, self.all_drivers, problems, self.feed)
        sink.end(self)
        return self

    def piling_json(self):
        """The OBJECTS_PILING_UP count table (``analysis.piling``), after :meth:`run`."""
        return self.feed.piling.to_json()

    def _emit(self, node, sink, parent_type):
        """Annotate, triage, assign problems, hand over; returns the node's
        WDF type (its children's parent type)."""
        if self._interrupt is not None:
            self._interrupt()
        self.annotator.node(node)
        wdf_type = node.wdf_type
        self.triage.node(node, parent_type, wdf_type)
        depth = self.options.depth
        if depth is not None and node.depth == depth and self.scanned is None and self._has_children(node.header):
            self.hidden_parents.add(node.address)
        self.feed.feed(node, parent_type, wdf_type)
        seq = self.count
        if node.lookaside is not None:
            self._lookaside_seq[node.address] = seq
        g = node.header.globals
        slot = self._slots.get(g)
        if slot is None:
            slot = self.slot(g)
        self.assigner.assign(node, seq, slot)
        sink.node(node, seq)
        self.count = seq + 1
        return wdf_type

    def _has_children(self, h):
        """True when the object's m_ChildListHead is captured and not empty."""
        if self._child_head is None:
            self._child_head = self.session.layouts.get(fxo.FXOBJECT).offset("m_ChildListHead")
        return bool(h.child_flink) and h.child_flink != h.address + self._child_head

    def depth_note(self):
        """What ``--depth`` hid, in words, or None."""
        depth = self.options.depth
        if depth is None or not self.hidden_parents:
            return None
        n = len(self.hidden_parents)
        text = "--depth %d: the children of %d object%s are not shown" % (depth, n, "" if n == 1 else "s")
        if self.hidden_objects:
            text += " (%d object%s below depth %d)" % (self.hidden_objects, "" if self.hidden_objects == 1 else "s", depth)
        return text

    def slot(self, globals_addr):
        """A small number for a driver's globals (the problem index keeps it)."""
        s = self._slots.get(globals_addr)
        if s is None:
            s = self._slots[globals_addr] = len(self.globals_table)
            self.globals_table.append(globals_addr)
        return s



def _scan_fallback(session, problems):
    try:
        from wdfdbg.decoders.scan import scan_objects
    except ImportError:
        return None
    # A driver list that a dump did not capture is missing data, not a broken
    # structure: with the scan standing in, it is a warning.
    for p in problems:
        if p.code == "UNREADABLE":
            p.severity = WARNING
            p.message += SCANNED_INSTEAD
    problems.add("SCAN_FALLBACK", None, "the driver list could not be read: objects were found by scanning memory")
    session.notes.append("objects found by scanning memory (no driver list)")
    return scan_objects(session, problems)


class Sink(object):
    """The base of the sinks :meth:`TreeAnalysis.run` streams to (the steps
    and their order: the module docstring). Every step does nothing here;
    a sink overrides what it needs. Used as it is, it keeps nothing: an
    analysis run for its aggregates (the triage facts, the problems)
    alone."""

    def begin(self, analysis):
        pass

    def walk(self, driver, grouped):
        pass

    def node(self, node, seq):
        pass

    def walk_end(self):
        pass

    def end(self, analysis):
        pass


class ListSink(Sink):
    """Keeps every node (the non-streamed form); :meth:`end` puts the late
    facts into the nodes."""

    def __init__(self):
        self.nodes = []

    def node(self, node, seq):
        self.nodes.append(node)

    def end(self, analysis):
        index = dict((id(p), i) for i, p in enumerate(analysis.problems.items))
        for seq, (_slot, late, _address) in analysis.late.items():
            node = self.nodes[seq]
            node.problems = sorted(list(node.problems) + late, key=lambda p: index[id(p)])
        for seq, (_address, allocated) in analysis.grown.items():
            self.nodes[seq].lookaside["allocated"] = allocated


def collect(session, options, lean=True):
    """The analysis into a list: ``(drivers, nodes, problems)``."""
    sink = ListSink()
    a = TreeAnalysis(session, options, lean=lean).run(sink)
    return a.drivers, sink.nodes, a.problems
