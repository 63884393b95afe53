"""Open a source (snapshot, dump file, live debugger) into a Session.

A :class:`Session` bundles the :class:`~wdfdbg.sources.base.Target`, its
:class:`~wdfdbg.layouts.Layouts` and what a report says about the source.
Format detection is by content, never by file name.
"""

import os

from wdfdbg.errors import InputError, UsageError
from wdfdbg.layouts import Layouts
from wdfdbg.sources.base import Target

SAMPLE_NAME = "sample.wdfsnap.json.gz"
# DUMP_HEADER.DumpType (ntiodump.h DUMP_TYPE; 8-10 are the RDMP kinds kdmp-parser reads)
# -> the report's source.dump_type
DUMP_TYPE_NAMES = {1: "full", 2: "summary", 3: "header", 4: "triage", 5: "bitmap-full", 6: "bitmap-kernel",
                   7: "automatic", 8: "kernel", 9: "kernel-user", 10: "complete"}


def sample_path():
    """The snapshot bundled inside the package (``--sample``)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", SAMPLE_NAME)


class DerivedFacts(object):
    """The session's cache of facts derived from its layouts and symbols.

    Decoders keep what they derive once and reuse for every object (a
    precompiled struct for a type, the class a vtable names, a context
    type's name) here, in the open, instead of hanging private attributes
    on the Session. The model is the Linux kernel's ``scripts/gdb/linux/
    utils.py`` ``CachedType``: a small class whose whole job is one cache.

    * :meth:`get` ``(key, compute)``: the fact named ``key`` (any hashable),
      ``compute()`` called the first time only. A ``compute`` that raises
      caches nothing: the next call tries again.
    * :meth:`table` ``(name)``: a dict the decoder fills itself, for facts
      keyed by address (``vtable -> class``).

    Keys in use, by the module that owns them:

    ====================================  ==========================================
    ``("fxobject", "codec")``             decoders.objects: FxObject header struct
    ``("memory", "consts")``              decoders.memory: offsets, sizes, and each memory
                                          class's tail struct (``MemoryCodec``)
    ``("memory", "shapes")``              decoders.memory_classes: vtable pointer -> memory class
                                          learned from shapes (``LearnedShapes``)
    table ``"vtable_classes"``            decoders.objects: vtable -> class name
    table ``"lookaside_base"``            decoders.lookaside: address -> FxLookasideList part
    table ``"lookaside_class"``           decoders.memory: address -> lookaside class
    ====================================  ==========================================

    Everything cached is derived from the source, which does not change
    while a session is open; :meth:`clear` forgets it all (tests that patch
    a session's memory).
    """

    __slots__ = ("_facts", "_tables")

    def __init__(self):
        self._facts = {}
        self._tables = {}

    def get(self, key, compute):
        try:
            return self._facts[key]
        except KeyError:
            value = self._facts[key] = compute()
            return value

    def table(self, name):
        t = self._tables.get(name)
        if t is None:
            t = self._tables[name] = {}
        return t

    def clear(self):
        self._facts.clear()
        self._tables.clear()


class Session(object):
    """One open source: ``target`` (the page cache in front of the backend),
    ``layouts``, what reports say about the source (``source_kind``,
    ``path``, ``origin``, ``notes``), ``derived`` (the
    :class:`DerivedFacts` cache decoders share) and ``shape_classifier``.

    ``shape_classifier(session, header) -> class name or None`` names the
    class of an object whose vtable has no symbol (memory and lookaside
    objects, by their shape): :func:`open_session` passes
    ``wdfdbg.decoders.memory.shape_classifier``; None turns it off.
    """

    def __init__(self, target, layouts, source_kind, path, origin, shape_classifier=None):
        self.target = target
        self.layouts = layouts
        self.source_kind = source_kind
        self.path = path
        self.origin = origin
        self.notes = []  # human-readable notes the report should show (fallbacks taken)
        self.shape_classifier = shape_classifier
        self.derived = DerivedFacts()

    def source_json(self):
        d = {"kind": self.source_kind, "path": self.path, "origin": self.origin,
             "arch": self.target.arch, "os_build": self.target.os_build, "dump_type": self.dump_type()}
        d.update(self.layouts.describe())
        return d

    def cut_from(self):
        """The dump kind a snapshot was cut from or recorded on (the
        document's ``dump_type`` key, sources/convert.py), as a word; None
        for other sources."""
        b = self.target.backend
        for _ in range(8):
            if b is None:
                return None
            doc = getattr(getattr(b, "snap", None), "doc", None)
            if isinstance(doc, dict):
                code = doc.get("dump_type")
                return DUMP_TYPE_NAMES.get(code) if isinstance(code, int) and not isinstance(code, bool) else None
            b = getattr(b, "inner", None)
        return None

    def dump_type(self):
        """The dump file's kind as a word (:data:`DUMP_TYPE_NAMES`, from the
        DUMP_HEADER's DumpType), or None: snapshots, live targets, and dumps
        pykd opened (it is not asked)."""
        b = self.target.backend
        for _ in range(8):  # recording and --types wrappers keep the real backend in ``inner``
            if b is None:
                return None
            dump = getattr(b, "dump", None)  # minidump: the parsed TriageDump
            code = getattr(dump, "dump_type", None) if dump is not None else getattr(b, "dump_type", None)
            if isinstance(code, int):
                return DUMP_TYPE_NAMES.get(code, "type-%d" % code)
            b = getattr(b, "inner", None)
        return None


def open_backend(path, engine=None):
    """Return a backend for the file at ``path`` by sniffing its content.
    Only a regular file is opened (a FIFO would block, a device never
    ends), and the snapshot reader reads no more than its real size."""
    from wdfdbg.sources.inputfile import open_input
    f, size = open_input(path)
    if engine == "pykd":
        f.close()
        from wdfdbg.sources.pykd_target import open_dump_backend
        return open_dump_backend(path)
    with f:
        try:
            head = f.read(4096)
        except OSError as e:
            raise InputError("%s: cannot read: %s" % (path, e.strerror or e))
        if head[:4] == b"MDMP":
            raise InputError("%s: a user-mode minidump (MDMP); wdfdbg reads kernel dumps and snapshots" % path)
        if head[:8] == b"WDFSNAPB":
            from wdfdbg.sources import snapshot as snapfmt
            from wdfdbg.sources import snapshot_binary
            return snapfmt.SnapshotBackend(snapshot_binary.load(path))
        if head[:4] != b"PAGE":
            from wdfdbg.sources import snapshot as snapfmt
            if not head:
                raise InputError("%s: empty file" % path)
            if not snapfmt.looks_like_snapshot(head):
                raise InputError("%s: not a snapshot (JSON or gzip) nor a Windows kernel dump (PAGE signature)" % path)
            f.seek(0)
            return snapfmt.SnapshotBackend(snapfmt.load_file(f, size, path))
    from wdfdbg.sources.dumpfile import open_dump
    return open_dump(path)


def open_session(path=None, engine=None, profile=None, types_files=(), use_symbols=True, cache_pages=65536,
                 wrap=None, symbol_path=None):
    """Open ``path`` (or the live debugger when ``path`` is None under
    WinDbg) and return a :class:`Session`. ``wrap(backend) -> backend``
    puts a layer in front of the backend (e.g. a RecordingBackend).
    ``symbol_path``: where the modules' PDBs are (``_NT_SYMBOL_PATH``
    syntax; None: the environment's); not used under a debugger, whose own
    symbols are the source, nor with ``use_symbols`` False."""
    if path is None:
        try:
            from wdfdbg.sources.pykd_target import live_backend
        except ImportError:
            live_backend = None
        backend = live_backend() if live_backend is not None else None
        if backend is None:
            raise UsageError("no SOURCE given and not running inside a debugger: name a snapshot or dump file")
    else:
        backend = open_backend(path, engine=engine)
    if use_symbols and path is not None and backend.kind != "pykd":
        from wdfdbg.sources.symbols import with_symbols
        backend = with_symbols(backend, symbol_path)
    if types_files:
        from wdfdbg.sources.typesfile import with_types
        backend = with_types(backend, types_files)
    if wrap is not None:
        backend = wrap(backend)
    target = Target(backend, cache_pages=cache_pages)
    if getattr(backend, "interrupt_check", None) is not None:
        target.interrupt_check = backend.interrupt_check
    layouts = Layouts(target, profile=profile, use_symbols=use_symbols)
    from wdfdbg.decoders.memory import shape_classifier
    session = Session(target, layouts, backend.kind, path, backend.origin, shape_classifier=shape_classifier)
    session.notes.extend(getattr(backend, "notes", None) or [])
    return session
