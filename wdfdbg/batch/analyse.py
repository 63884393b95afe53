"""The analysis of one input, as a worker runs it: the single-dump contract.

``memtree INPUT --jsonl`` runs in this process with its standard output
going to a :class:`~wdfdbg.batch.report_stream.LineStream` (commands write
through ``render/output.py`` ``Output`` to the current ``sys.stdout``),
each line handed to the :class:`~wdfdbg.batch.record.RecordBuilder` as it
is complete, and its standard error captured. memtree's stream holds
everything the record needs (the 1.1 per-driver entries with KMDF
versions, the source's dump type), so no second command runs. The exit
code decides the status:

* 0 -> ``ok``, 1 -> ``problems`` (error-level problems), 2 -> ``unreadable``
  with the command's one stderr line as ``error``;
* an internal error (a wdfdbg bug: the CLI's "internal error" line, or the
  exception itself under ``WDFDBG_DEBUG``), running out of memory under the
  memory cap (the CLI's ``out of memory`` line: the analyser's failure, not
  the dump's), a stream that cannot be read, or an input that changed while
  it was analysed -> ``crashed``.

This module is imported before workers fork (and preloaded by the
forkserver), so a worker starts with the commands already imported.
"""

import io
import os
import sys

from wdfdbg import memtree
from wdfdbg.batch.inputs import file_stat
from wdfdbg.batch.record import RecordBuilder, empty_record
from wdfdbg.batch.report_stream import LineStream
from wdfdbg.decoders import annotate, bugcheck, scan  # noqa: F401  (imported once, before the fork)
from wdfdbg.analysis import triage  # noqa: F401
from wdfdbg.render.streams import OUT_OF_MEMORY, printable


class _Stdout(object):
    """What a command sees as ``sys.stdout``."""

    def __init__(self, write):
        self.write = write

    def flush(self):
        pass

    def isatty(self):
        return False


def run_command(main, argv, write):
    """Run ``main(argv)``; its stdout goes to ``write``. Returns (exit code
    or None if it raised, stderr text, exception or None)."""
    saved = sys.stdout, sys.stderr
    err = io.StringIO()
    sys.stdout, sys.stderr = _Stdout(write), err
    try:
        code = main(argv)
        exc = None
    except MemoryError:
        raise
    except BaseException as e:  # SystemExit, or an exception WDFDBG_DEBUG let through
        code, exc = None, e
    finally:
        sys.stdout, sys.stderr = saved
    return code, err.getvalue(), exc


def first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:2000]
    return None


def _alias(opened):
    """A name that opens the very file ``opened`` holds, whatever happens to
    its path meanwhile (Linux: ``/proc/self/fd/N``), or None."""
    name = "/proc/self/fd/%d" % opened.fd
    try:
        return name if os.path.samestat(os.stat(name), opened.stat) else None
    except OSError:
        return None


def _changed(path, opened, alias):
    """Why the bytes analysed may not be the bytes hashed, or None: the open
    file was written to, or (without an alias) ``path`` names another file."""
    try:
        now = os.fstat(opened.fd)
    except OSError as e:
        return "cannot check it: %s" % (e.strerror or e)
    if (now.st_size, now.st_mtime_ns) != (opened.stat.st_size, opened.stat.st_mtime_ns):
        return "it was written to"
    if alias is None:
        try:
            if not os.path.samestat(os.stat(path), opened.stat):
                return "its name now names another file"
        except OSError:
            return "it was removed or renamed"
    return None


def analyse_file(path, opened):
    """The record of ``path``, whose file ``opened``
    (:class:`~wdfdbg.batch.inputs.Opened`) was hashed; its ``elapsed_s`` is
    left for the caller. The analysis reads that same open file where the OS
    can name it (so a file swapped in under the path meanwhile is not the
    one analysed), else the path, checked afterwards to be the same file; a
    file changed during the analysis is recorded ``crashed`` (retried on a
    rerun), never with one content's hash and another's analysis."""
    sha256, size, file = opened.sha256, opened.size, file_stat(opened.stat)
    alias = _alias(opened)

    def empty(status, code, error):
        return empty_record(path, sha256, size, status, code, error, file)

    builder = RecordBuilder(path, sha256, size, file)
    stream = LineStream(builder.on_line)
    code, err, exc = run_command(memtree.main, [alias or path, "--jsonl"], stream.feed)
    line = first_line(err)
    if line and alias:
        line = line.replace(alias, printable(path))
    if exc is not None:
        return empty("crashed", None, "internal error: %s: %s" % (type(exc).__name__, exc))
    changed = _changed(path, opened, alias)
    if changed:
        return empty("crashed", code, "the input changed while it was analysed: %s" % changed)
    if code == 2:
        if line and ("internal error: MemoryError" in line or line.startswith(OUT_OF_MEMORY.split(" (")[0])):
            return empty("crashed", code, "out of memory: %s" % line)
        if line and "internal error" in line:
            return empty("crashed", code, line)
        return empty("unreadable", code, line or "unreadable (exit 2, no message)")
    if code not in (0, 1):
        return empty("crashed", code, line or "memtree exited with %s" % code)
    problem = stream.close() or builder.complete()
    if problem is not None:
        return empty("crashed", code, "memtree's report could not be read: %s" % problem)
    return builder.finish("ok" if code == 0 else "problems", code)
