"""Opening an input file (a dump, a snapshot, a ``--types`` file) safely.

Only regular files are read. A FIFO would block ``open()`` until a writer
comes (forever, in a pipeline), and a character device such as
``/dev/zero`` or ``/dev/urandom`` never ends. The file is opened with
``O_NONBLOCK`` (so a FIFO cannot block the open itself) and checked with
``fstat`` on the open descriptor (so a file swapped for a FIFO between a
check and the open is still caught); every read is then bounded by the
size ``fstat`` reported, never by what the file happens to yield.
"""

import os
import stat

from wdfdbg.errors import InputError

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _kind(mode):
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def not_regular(path, mode, error=InputError):
    return error("%s: %s, not a regular file: wdfdbg reads regular files only" % (path, _kind(mode)))


def open_input(path, error=InputError):
    """Open ``path`` for reading: ``(binary file object, size in bytes)``.
    ``error`` (an InputError class) for a missing, unreadable or not
    regular file, with one line naming the path."""
    try:
        st = os.stat(path)
    except (OSError, ValueError) as e:
        raise error("%s: cannot open: %s" % (path, getattr(e, "strerror", None) or e))
    if not stat.S_ISREG(st.st_mode):
        raise not_regular(path, st.st_mode, error)
    try:
        fd = os.open(path, _FLAGS)
    except OSError as e:
        raise error("%s: cannot open: %s" % (path, e.strerror or e))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_regular(path, st.st_mode, error)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return f, st.st_size


def read_exactly(f, size, path, error=InputError):
    """Read the ``size`` bytes of an open file into one ``bytearray`` (one
    allocation, in pieces, stopping at ``size`` even if the file grew)."""
    buf = bytearray(size)
    view = memoryview(buf)
    pos = 0
    try:
        while pos < size:
            n = f.readinto(view[pos:min(size, pos + (16 << 20))])
            if not n:
                break
            pos += n
    except OSError as e:
        raise error("%s: cannot read: %s" % (path, e.strerror or e))
    finally:
        view.release()
    if pos < size:
        del buf[pos:]   # the file shrank while being read: what there is
    return buf
