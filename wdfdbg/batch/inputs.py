"""Which files a batch analyses, and their sha256.

INPUT is a file, a folder (walked recursively, sorted; every regular file
is a candidate, detection is by content as for one dump) or ``@LIST`` (one
path a line, ``#`` comments and blank lines skipped, relative paths from
the current folder; ``@-`` reads the list from standard input). Paths are
made absolute so a record names its input wherever the batch ran from,
and each input is analysed once however often it is named.
"""

import hashlib
import os
import stat
import sys

from wdfdbg.errors import UsageError

CHUNK = 1 << 20


class Input(object):
    """One candidate: ``path`` (absolute) and whether it was named
    (``explicit``) rather than found in a folder."""

    __slots__ = ("path", "explicit")

    def __init__(self, path, explicit):
        self.path = path
        self.explicit = explicit


def _list_lines(spec):
    name = spec[1:]
    if not name:
        raise UsageError("@LIST needs a file name (or @- for standard input)")
    if name == "-":
        return sys.stdin.read().splitlines()
    try:
        with open(name, "r", encoding="utf-8", errors="surrogateescape") as f:
            return f.read().splitlines()
    except OSError as e:
        raise UsageError("%s: cannot read the list: %s" % (name, e.strerror or e))


def _walk(folder):
    def onerror(e):
        raise UsageError("%s: cannot list the folder: %s" % (e.filename or folder, e.strerror or e))
    for root, dirs, files in os.walk(folder, onerror=onerror):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                if stat.S_ISREG(os.stat(path).st_mode):
                    yield path
            except OSError:
                continue  # a dangling link: not a candidate


def expand(specs):
    """The inputs of ``specs`` (command-line words), in order, each once."""
    seen = set()
    out = []

    def add(path, explicit):
        path = os.path.abspath(path)
        if path not in seen:
            seen.add(path)
            out.append(Input(path, explicit))

    for spec in specs:
        if spec.startswith("@"):
            for line in _list_lines(spec):
                line = line.strip()
                if line and not line.startswith("#"):
                    add(line, True)
        elif os.path.isdir(spec):
            for path in _walk(spec):
                add(path, False)
        else:
            add(spec, True)  # a missing or special file gets a record saying so
    return out


def file_digest(path):
    """(sha256 hex, size) of a regular file; OSError if it cannot be read.
    A FIFO or device is refused without opening it (it could block)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(0, "not a regular file", path)
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            if not block:
                break
            h.update(block)
            size += len(block)
    return h.hexdigest(), size
