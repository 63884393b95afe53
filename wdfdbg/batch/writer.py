"""The batch's output: JSON lines appended to OUT, one per input, each
written whole with one ``write`` and flushed to the OS as it finishes (a
killed batch loses nothing already done), and the index of what OUT
already holds (resume).

OUT is checked before any work starts (:func:`check_output`): its folder
exists, it is a regular file or absent, it can be opened for appending,
and it is none of the inputs. It is only ever appended to, never
truncated. A last line that a killed batch left unfinished is ended with
a newline before anything is appended, so it stays one unreadable line
(readers skip it) instead of swallowing the next record.
"""

import json
import os
import stat

from wdfdbg.batch.record import SCHEMA_ID
from wdfdbg.errors import UsageError

_ENC = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": "))


def check_output(path):
    """Raise UsageError (exit 2, one line) unless records can be appended
    to ``path``. A local stand-in for ``render/files.py check_output_path``."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError("-o %s: the folder %s does not exist" % (path, folder))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError("-o %s: %s" % (path, e.strerror or e))
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError("-o %s: not a regular file (records are appended to a file)" % path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        os.close(fd)
    except OSError as e:
        raise UsageError("-o %s: cannot be written: %s" % (path, e.strerror or e))


def same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


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
