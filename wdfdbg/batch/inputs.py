"""Which files a batch analyses, and their sha256.

INPUT is a file, a folder or ``@LIST``:

* a file named explicitly (on the command line or in a list) is always
  analysed: a missing or special one gets a record saying so;
* a folder is walked recursively, in sorted order, following links to
  folders (each folder once, so a link loop ends); a file found there is a
  candidate only when its first bytes say it is a dump (``PAGEDU64``,
  ``PAGEDUMP``, ``MDMP``) or a snapshot (gzip ``1f 8b``, or JSON text
  starting with ``{``): a README or a checksum list is skipped and counted,
  never recorded. A subfolder that cannot be listed is reported (one line
  on stderr) and the walk goes on;
* ``@LIST`` is one path a line, taken as written (only the line end is
  removed): blank lines are skipped, and a line starting with ``#`` is a
  comment unless a file of that name exists; relative paths are from the
  current folder; ``@-`` reads the list from standard input.

Paths are made absolute so a record names its input wherever the batch ran
from, and each file is analysed once however often it is named: by path,
and by device and inode (a folder reached through a link, a hard link).
"""

import hashlib
import os
import stat
import sys

from wdfdbg.errors import UsageError

CHUNK = 1 << 20
DUMP_MAGICS = (b"PAGEDU64", b"PAGEDUMP", b"MDMP")
GZIP_MAGIC = b"\x1f\x8b"
SNIFF = 4096
_BLANK = b" \t\r\n"


class Input(object):
    """One candidate: ``path`` (absolute) and whether it was named
    (``explicit``) rather than found in a folder."""

    __slots__ = ("path", "explicit")

    def __init__(self, path, explicit):
        self.path = path
        self.explicit = explicit


class Found(object):
    """What :func:`expand` found: ``inputs``, and the files it ``skipped``
    (in folders, neither a dump nor a snapshot by their first bytes) and the
    folders it could not list (``unlisted``: (folder, reason))."""

    __slots__ = ("inputs", "skipped", "unlisted")

    def __init__(self):
        self.inputs = []
        self.skipped = 0
        self.unlisted = []


def looks_analysable(path):
    """Do the first bytes of ``path`` say dump or snapshot?"""
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF)
    except OSError:
        return True  # it gets a record saying why it could not be read
    if head.startswith(DUMP_MAGICS) or head.startswith(GZIP_MAGIC):
        return True
    return head.lstrip(_BLANK)[:1] == b"{"


def _list_lines(spec):
    name = spec[1:]
    if not name:
        raise UsageError("@LIST needs a file name (or @- for standard input)")
    if name == "-":
        data = sys.stdin.read()
    else:
        try:
            with open(name, "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
                data = f.read()
        except OSError as e:
            raise UsageError("%s: cannot read the list: %s" % (name, e.strerror or e))
    out = []
    for line in data.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if line.startswith("#") and not os.path.lexists(line):
            continue
        out.append(line)
    return out


def _walk(folder, found):
    """The regular files under ``folder``, sorted, following folder links;
    every folder once (by device and inode)."""
    seen = set()
    stack = [folder]
    while stack:
        top = stack.pop()
        try:
            st = os.stat(top)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            with os.scandir(top) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            found.unlisted.append((top, e.strerror or str(e)))
            continue
        subfolders = []
        for entry in entries:
            path = os.path.join(top, entry.name)
            try:
                st = os.stat(path)
            except OSError:
                continue  # a dangling link: not a candidate
            if stat.S_ISDIR(st.st_mode):
                subfolders.append(path)
            elif stat.S_ISREG(st.st_mode):
                yield path
        stack.extend(reversed(subfolders))


def _identity(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def expand(specs, output=None):
    """What ``specs`` (command-line words) name: a :class:`Found`, its
    inputs in order, each file once. ``output`` (OUT) is never an input:
    named, it is a usage error; found in a folder, it is left out."""
    seen = set()
    found = Found()
    out_ident = _identity(output) if output else None

    def add(path, explicit):
        path = os.path.abspath(path)
        ident = _identity(path)
        if ident is not None and ident == out_ident:
            if explicit:
                raise UsageError("-o %s is also an input: the records would be analysed as a dump" % output)
            return
        if path in seen or (ident is not None and ident in seen):
            return
        if not explicit and not looks_analysable(path):
            found.skipped += 1
            return
        seen.add(path)
        if ident is not None:
            seen.add(ident)
        found.inputs.append(Input(path, explicit))

    for spec in specs:
        if spec.startswith("@"):
            for line in _list_lines(spec):
                add(line, True)
        elif os.path.isdir(spec):
            for path in _walk(spec, found):
                add(path, False)
        else:
            add(spec, True)  # a missing or special file gets a record saying so
    return found


class Opened(object):
    """A regular file opened once, hashed as it was read: ``fd``, ``sha256``,
    ``size`` and ``stat`` (the ``os.fstat`` of the descriptor)."""

    __slots__ = ("fd", "sha256", "size", "stat")

    def __init__(self, fd, sha256, size, st):
        self.fd = fd
        self.sha256 = sha256
        self.size = size
        self.stat = st

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def open_hashed(path):
    """Open ``path`` and hash it through the open descriptor: an
    :class:`Opened` (the caller closes it); OSError if it cannot be read. A
    FIFO or device is refused without blocking (``O_NONBLOCK``, then
    ``fstat``)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(0, "not a regular file", path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(0, "not a regular file", path)
        h = hashlib.sha256()
        size = 0
        while True:
            block = os.read(fd, CHUNK)
            if not block:
                break
            h.update(block)
            size += len(block)
        os.lseek(fd, 0, os.SEEK_SET)
        return Opened(fd, h.hexdigest(), size, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise


def file_digest(path):
    """(sha256 hex, size) of a regular file; OSError if it cannot be read."""
    opened = open_hashed(path)
    opened.close()
    return opened.sha256, opened.size


def file_stat(st):
    """The record's ``file``: what resume compares before it hashes again
    (as rsync compares size and mtime), the inode and device too so that a
    file replaced by another under the same name is hashed."""
    return {"mtime_ns": st.st_mtime_ns, "inode": st.st_ino, "device": st.st_dev}
