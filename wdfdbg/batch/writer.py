"""The batch's output: JSON lines appended to OUT, one per input, each
written whole with one ``write`` and flushed to the OS as it finishes (a
killed batch loses nothing already done), and the index of what OUT
already holds (resume).

OUT is checked before any work starts, by the check every output of
wdfdbg gets (``render/files.py`` ``check_output_path`` with ``append``):
its folder exists and is writable, it is a regular file or absent (a
device, FIFO or folder is refused), and an existing one opens for
appending. It is never one of the inputs (``pipeline.plan``, once the
inputs are expanded). It is only ever appended to, never truncated. A
last line that a killed batch left unfinished is ended with a newline
before anything is appended, so it stays one unreadable line (readers
skip it) instead of swallowing the next record.
"""

import json
import os

from wdfdbg.batch.record import SCHEMA_ID
from wdfdbg.errors import UsageError

_ENC = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": "))


class Recorded(object):
    """What OUT holds for one path under this tool version."""

    __slots__ = ("sha256", "size", "status")

    def __init__(self, sha256, size, status):
        self.sha256 = sha256
        self.size = size
        self.status = status


def read_index(path, version):
    """{path: Recorded} for the records of tool ``version`` in ``path``
    (the last record of a path wins), and the count of unreadable lines."""
    index = {}
    bad = 0
    try:
        f = open(path, "r", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return index, 0
    except OSError as e:
        raise UsageError("-o %s: cannot be read: %s" % (path, e.strerror or e))
    with f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if not isinstance(rec, dict) or rec.get("schema") != SCHEMA_ID:
                bad += 1
                continue
            if (rec.get("tool") or {}).get("version") != version or not isinstance(rec.get("path"), str):
                continue
            index[rec["path"]] = Recorded(rec.get("sha256"), rec.get("size"), rec.get("status"))
    return index, bad


class RecordWriter(object):
    """Appends records to OUT."""

    def __init__(self, path):
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
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
        try:
            self._write((_ENC.encode(rec) + "\n").encode("ascii"))
        except OSError as e:
            raise UsageError("-o %s: writing a record failed: %s" % (self.path, e.strerror or e))
        self.records += 1

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
