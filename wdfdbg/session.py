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


def sample_path():
    """The snapshot bundled inside the package (``--sample``)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", SAMPLE_NAME)


class Session(object):
    def __init__(self, target, layouts, source_kind, path, origin):
        self.target = target
        self.layouts = layouts
        self.source_kind = source_kind
        self.path = path
        self.origin = origin
        self.notes = []  # human-readable notes the report should show (fallbacks taken)
        # shape_classifier(session, header) -> class name or None, for objects
        # whose vtable has no symbol (set from wdfdbg.decoders.memory)
        self.shape_classifier = None

    def source_json(self):
        d = {"kind": self.source_kind, "path": self.path, "origin": self.origin,
             "arch": self.target.arch, "os_build": self.target.os_build}
        d.update(self.layouts.describe())
        return d


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
                 wrap=None):
    """Open ``path`` (or the live debugger when ``path`` is None under
    WinDbg) and return a :class:`Session`. ``wrap(backend) -> backend``
    puts a layer in front of the backend (e.g. a RecordingBackend)."""
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
    if types_files:
        from wdfdbg.sources.typesfile import with_types
        backend = with_types(backend, types_files)
    if wrap is not None:
        backend = wrap(backend)
    target = Target(backend, cache_pages=cache_pages)
    if getattr(backend, "interrupt_check", None) is not None:
        target.interrupt_check = backend.interrupt_check
    layouts = Layouts(target, profile=profile, use_symbols=use_symbols)
    origin = backend.origin
    session = Session(target, layouts, backend.kind, path, origin)
    session.notes.extend(getattr(backend, "notes", None) or [])
    try:
        from wdfdbg.decoders.memory import shape_classifier
        session.shape_classifier = shape_classifier
    except ImportError:
        pass
    return session
