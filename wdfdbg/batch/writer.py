"""The batch's output: JSON lines appended to OUT, one per input, each
written whole with one ``write`` and flushed to the OS as it finishes (a
killed batch loses nothing already done), and the index of what OUT
already holds (resume).

OUT is checked before any work starts, by the check every output of
wdfdbg gets (``render/files.py`` ``check_output_path`` with ``append``):
its folder exists and is writable, it is a regular file or absent (a
device, FIFO, pipe or folder is refused), and an existing one opens for
appending. Then it is opened once for the whole batch (:func:`open_out`):
an existing OUT must hold records (a dump, a snapshot or any other file
is refused, whatever link leads to it), and it is locked, so a second
batch on the same OUT stops with one line. It is never one of the inputs
(``inputs.expand``). It is only ever appended to, never truncated. A
last line that a killed batch left unfinished is ended with a newline
before anything is appended, so it stays one unreadable line (readers
skip it) instead of swallowing the next record.
"""

import json
import os
import re

from wdfdbg.batch import jsonl
from wdfdbg.batch.record import SCHEMA_ID
from wdfdbg.errors import UsageError

_ENC = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": "))
RETRIED = ("timeout", "crashed")  # statuses a rerun analyses again, up to RETRIES records
RETRIES = 3
_RECORDS_HEAD = re.compile(rb'\A\s*\{\s*"schema"\s*:\s*"wdfdbg\.dumprecord/1"')
_HEAD_TEXT = b'{"schema": "wdfdbg.dumprecord/1"'


def check_records_file(path, fd):
    """Refuse an OUT that holds something other than records (a dump, a
    snapshot, a report, any text): a batch only ever appends records to a
    file of records. An empty file is taken."""
    try:
        head = os.pread(fd, 4096, 0) if hasattr(os, "pread") else _read_head(fd)
    except OSError as e:
        raise UsageError("-o %s: cannot be read: %s" % (path, e.strerror or e))
    stripped = head.lstrip()
    if not stripped or _RECORDS_HEAD.match(head) or (len(head) < 4096 and _HEAD_TEXT.startswith(stripped)):
        return
    raise UsageError("-o %s holds something other than %s records (%s): refusing to append to it"
                     % (path, SCHEMA_ID, _what(head)))


def _read_head(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096)


def _what(head):
    if head.startswith((b"PAGEDU64", b"PAGEDUMP", b"MDMP")):
        return "a dump"
    if head.startswith(b"\x1f\x8b"):
        return "gzip data"
    if head.lstrip()[:1] == b"{":
        return "other JSON"
    return "not a record line"


def lock(path, fd):
    """Take OUT's lock for the whole batch (``fcntl.flock`` / Windows
    ``msvcrt.locking``): a second batch on the same OUT stops here with one
    line instead of analysing everything twice."""
    try:
        import fcntl
    except ImportError:
        fcntl = None
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            import msvcrt
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except (OSError, ImportError) as e:
        if isinstance(e, OSError) and e.errno not in (None, 11, 13, 35, 36):  # EAGAIN, EACCES, EWOULDBLOCK, EDEADLK
            raise UsageError("-o %s: cannot lock it: %s" % (path, e.strerror or e))
        raise UsageError("-o %s: another batch is writing it (its lock is held); wait for it to end" % path)


class Recorded(object):
    """What OUT holds for one path under this tool version: its newest
    record's ``sha256``, ``size``, ``file`` (mtime, inode, device) and
    ``status``, and ``attempts``: how many records in a row say timeout or
    crashed for that content."""

    __slots__ = ("sha256", "size", "file", "status", "attempts")

    def __init__(self, sha256, size, file, status, attempts=0):
        self.sha256 = sha256
        self.size = size
        self.file = file
        self.status = status
        self.attempts = attempts


def content_key(sha256):
    """The first 8 bytes of a sha256: what the index keeps per content (a
    million records' keys in tens of MB; a clash of 2^64 only costs the
    skip of a file whose old name is gone, never a wrong record)."""
    try:
        return bytes.fromhex(sha256[:16])
    except (TypeError, ValueError):
        return sha256


class Index(object):
    """What OUT already holds: ``paths`` {path: Recorded}, ``contents``
    {:func:`content_key`: (status, path)} (a renamed input is the same
    dump), ``bad_lines``."""

    __slots__ = ("paths", "contents", "bad_lines")

    def __init__(self):
        self.paths = {}
        self.contents = {}
        self.bad_lines = 0


def read_index(fd, version):
    """The :class:`Index` of the records of tool ``version`` in the open OUT
    ``fd`` (the last record of a path wins)."""
    index = Index()
    f = os.fdopen(os.dup(fd), "rb")
    with f:
        f.seek(0)
        for _n, line in jsonl.lines(f):
            if line is not None and not line.strip():
                continue
            rec = jsonl.parse(line)
            if rec is None or rec.get("schema") != SCHEMA_ID:
                index.bad_lines += 1
                continue
            path = jsonl.record_path(rec)
            if not isinstance(rec.get("tool"), dict) or rec["tool"].get("version") != version or path is None:
                continue
            sha, status = rec.get("sha256"), rec.get("status")
            sha = sha if isinstance(sha, str) else None
            before = index.paths.get(path)
            attempts = 0
            if status in RETRIED:
                attempts = 1 + (before.attempts if before is not None and before.sha256 == sha else 0)
            file = rec.get("file") if isinstance(rec.get("file"), dict) else None
            index.paths[path] = Recorded(sha, rec.get("size"), file, status, attempts)
            if sha and status not in RETRIED:
                index.contents[content_key(sha)] = (status, path)
    return index


class RecordWriter(object):
    """Appends records to OUT, open and locked (:func:`open_out`)."""

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd
        try:
            end = os.lseek(self.fd, 0, os.SEEK_END)
            if end:
                os.lseek(self.fd, end - 1, os.SEEK_SET)
                if os.read(self.fd, 1) != b"\n":
                    self._write(b"\n")
        except OSError as e:
            raise UsageError("-o %s: cannot be written: %s" % (path, e.strerror or e))
        self.records = 0

    def _write(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def write(self, rec):
        rec = dict(rec)
        rec["path"], rec["path_b64"] = jsonl.portable_path(rec["path"])
        try:
            self._write((_ENC.encode(jsonl.valid_text(rec)) + "\n").encode("ascii"))
        except OSError as e:
            raise UsageError("-o %s: writing a record failed: %s" % (self.path, e.strerror or e))
        self.records += 1


def open_out(path):
    """OUT opened for reading and appending, created if absent, checked to
    hold records and locked for this batch: its descriptor (closed by
    :func:`close_out`, which drops the lock)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:
        raise UsageError("-o %s: cannot be written: %s" % (path, e.strerror or e))
    try:
        check_records_file(path, fd)
        lock(path, fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def close_out(fd):
    try:
        os.close(fd)
    except OSError:
        pass
