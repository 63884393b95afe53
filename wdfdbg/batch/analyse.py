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
  exception itself under ``WDFDBG_DEBUG``), a MemoryError under the
  memory cap, or a stream that cannot be read -> ``crashed``.

This module is imported before workers fork (and preloaded by the
forkserver), so a worker starts with the commands already imported.
"""

import io
import sys

from wdfdbg import memtree
from wdfdbg.batch.record import RecordBuilder, empty_record
from wdfdbg.batch.report_stream import LineStream
from wdfdbg.decoders import annotate, bugcheck, scan  # noqa: F401  (imported once, before the fork)
from wdfdbg.analysis import triage  # noqa: F401


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


def analyse_file(path, sha256, size):
    """The record of ``path`` (its ``elapsed_s`` is left for the caller)."""
    builder = RecordBuilder(path, sha256, size)
    stream = LineStream(builder.on_line)
    code, err, exc = run_command(memtree.main, [path, "--jsonl"], stream.feed)
    line = first_line(err)
    if exc is not None:
        return empty_record(path, sha256, size, "crashed", None, "internal error: %s: %s" % (type(exc).__name__, exc))
    if code == 2:
        if line and "internal error: MemoryError" in line:
            return empty_record(path, sha256, size, "crashed", code, "out of memory: %s" % line)
        if line and "internal error" in line:
            return empty_record(path, sha256, size, "crashed", code, line)
        return empty_record(path, sha256, size, "unreadable", code, line or "unreadable (exit 2, no message)")
    if code not in (0, 1):
        return empty_record(path, sha256, size, "crashed", code, line or "memtree exited with %s" % code)
    problem = stream.close() or builder.complete()
    if problem is not None:
        return empty_record(path, sha256, size, "crashed", code, "memtree's report could not be read: %s" % problem)
    return builder.finish("ok" if code == 0 else "problems", code)
