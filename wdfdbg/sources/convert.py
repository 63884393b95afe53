"""Cut a snapshot out of a dump: keep pages read through a recording
target, and turn the recording into a ``converted`` snapshot document
(``shared/spec/snapshot-format.md``).

What the analysis reads is the job of
:mod:`wdfdbg.analysis.snapshot_reads`; this module only moves bytes: it
touches pages so the recorder keeps them, and builds and checks the
document.
"""

import os

from wdfdbg.errors import ReadError, SnapshotError
from wdfdbg.sources import snapshot as snapfmt


def touch_pages(target, address, size):
    """Read [address, address+size) page by page through the recording
    target, so the recorder keeps those pages; unreadable pages are skipped
    (they stay unreadable). Returns how many whole pages were read."""
    ps = target.page_size
    top = target.pointer_mask
    a = max(0, address - (address % ps))
    end = min(top + 1, address + size)
    n = 0
    while a < end:
        try:
            target.read(a, ps)
            n += 1
        except ReadError:
            # a partly captured page: keep what is readable of it
            try:
                target.backend.read_page(a)
            except ReadError:
                pass
        a += ps
    return n


def touch_around(target, addresses, around):
    """Keep ``around`` bytes on each side of every address."""
    for a in addresses:
        touch_pages(target, a - around, 2 * around + 1)


def touch_all(target, ranges):
    """Keep every captured byte: ``ranges`` is the source's ``(start,
    size)`` list."""
    for start, size in ranges:
        touch_pages(target, start, size)


def default_description(source_path, recorder, all_memory):
    return "converted by wdfdbg snapshot from %s (%s)%s" % (
        os.path.basename(source_path), getattr(recorder.inner, "description", None) or recorder.kind,
        "; all captured memory" if all_memory else "; the memory an analysis reads")


def _dump_type_code(backend):
    """The DUMP_HEADER DumpType of the dump below ``backend``, or the
    ``dump_type`` a snapshot document carries; None otherwise."""
    for _ in range(8):
        if backend is None:
            return None
        dump = getattr(backend, "dump", None)
        code = getattr(dump, "dump_type", None) if dump is not None else getattr(backend, "dump_type", None)
        if isinstance(code, int) and not isinstance(code, bool):
            return code
        doc = getattr(getattr(backend, "snap", None), "doc", None)
        if isinstance(doc, dict):
            code = doc.get("dump_type")
            return code if isinstance(code, int) and not isinstance(code, bool) else None
        backend = getattr(backend, "inner", None)
    return None


def _add_kmdf_table(recorder, doc):
    """The source's KMDF driver table (a triage dump's secondary data, not
    memory: names, versions and globals of every KMDF driver) under the
    extra key ``kmdf_drivers``, so that a replay names drivers as the dump
    did."""
    # the dump's kind, so that a replay treats what it did not save alike
    # (problems.is_partial_dump); a snapshot re-recorded keeps its own
    code = _dump_type_code(recorder.inner)
    if code is not None:
        doc["dump_type"] = code
    table = getattr(recorder.inner, "kmdf_drivers", None)
    if callable(table):
        entries = table()
        if entries:
            doc["kmdf_drivers"] = [{"name": e.name, "globals": "0x%x" % e.globals,
                                    "version": "%d.%d.%d" % tuple(e.version)} for e in entries]


def converted_document(recorder, description):
    """The snapshot document of what ``recorder`` kept. A dump becomes a
    ``converted`` snapshot; a snapshot keeps its own origin. A triage
    dump's KMDF driver table (secondary dump data, not memory) goes under
    the extra top-level key ``kmdf_drivers``, and the crashing processor's
    current thread (KPRCB.CurrentThread, from the triage header) under
    ``crash_thread`` (readers ignore unknown keys). The document is
    validated: one that would not load back is an error, not a file."""
    doc = recorder.to_document(description=description, origin=None if recorder.kind == "snapshot" else "converted")
    _add_kmdf_table(recorder, doc)
    from wdfdbg.sources.base import CRASH_THREAD_KEY, backend_crash_thread
    thread = backend_crash_thread(recorder.inner)
    if thread:
        doc[CRASH_THREAD_KEY] = "0x%x" % thread
    errors, _mem = snapfmt.validate(doc)
    if errors:
        raise SnapshotError("the snapshot cut from the source does not validate: %s" % errors[0])
    return doc


def recorded_document(recorder, description):
    """The snapshot document of a ``record`` run (origin ``recorded``, or
    the source's own), validated like :func:`converted_document`."""
    doc = recorder.to_document(description=description)
    _add_kmdf_table(recorder, doc)
    errors, _mem = snapfmt.validate(doc)
    if errors:
        raise SnapshotError("the recorded snapshot does not validate (%s); nothing written" % "; ".join(errors[:3]))
    return doc


def document_summary(doc):
    """One line about a written snapshot document (after ``wrote OUT: ``)."""
    mem = doc["memory"]
    nbytes = sum(len(m["data"]) * 3 // 4 for m in mem)
    return "%d memory ranges (about 0x%x bytes), %d modules, %d symbols, types for %s%s" % (
        len(mem), nbytes, len(doc["modules"]), len(doc["symbols"]),
        ", ".join(sorted(doc["types"])) or "no module (built-in profile on replay)",
        ", KMDF driver table" if doc.get("kmdf_drivers") else "")
