"""Standard output and standard error under the one-line contract.

- A report written to stdout either arrives or is one clear error: a full
  disk (``> /dev/full``), a read-only (``1</dev/null``) or closed (``>&-``)
  stdout is :class:`~wdfdbg.errors.OutputError`; a reader that went away
  (``| head``, a pager quit) is :class:`StdoutClosed`, which ends the
  command quietly. :func:`check_stdout` refuses what can be seen before any
  work; :func:`silence_stdout` keeps Python's own flush at exit from
  failing a second time.
- :func:`say` writes one line to stderr with control characters escaped
  (:func:`printable`), and never raises; :func:`say_out_of_memory` writes
  the out-of-memory line from a constant.
"""

import os
import sys

from wdfdbg.errors import OutputError

OUT_OF_MEMORY = ("wdfdbg: error: out of memory (this input needs more memory than the process may use: "
                 "raise its memory limit, or cut the input down)\n")
_OUT_OF_MEMORY_BYTES = OUT_OF_MEMORY.encode("ascii")


class StdoutClosed(Exception):
    """The reader of stdout went away (``| head``, a pager quit): the
    command stops quietly."""


def checked_sink(sink):
    """``sink`` with write errors as :class:`OutputError` or :class:`StdoutClosed`."""
    def write(piece):
        if sys.stdout is None:
            raise OutputError("standard output is closed: there is nowhere to write the report")
        try:
            sink(piece)
        except BrokenPipeError:
            raise StdoutClosed()
        except (OSError, ValueError) as e:  # ValueError: a file closed under us
            raise OutputError("cannot write to standard output: %s" % (getattr(e, "strerror", None) or e))
    return write


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text):
    """``text`` with control and other unprintable characters as escapes
    (a newline as ``\\n``, a byte of a non-UTF-8 file name as ``\\xNN``),
    so that a message naming a hostile path stays one line."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        else:
            o = ord(ch)
            if 0xDC80 <= o <= 0xDCFF:  # surrogateescape: the byte the file name had
                out.append("\\x%02x" % (o - 0xDC00))
            elif o < 0x100:
                out.append("\\x%02x" % o)
            elif o < 0x10000:
                out.append("\\u%04x" % o)
            else:
                out.append("\\U%08x" % o)
    return "".join(out)


def say(line):
    """Write one line to stderr, escaped; never raises."""
    try:
        text = printable(line) + "\n"
    except Exception:
        text = "wdfdbg: error: (a message that cannot be shown)\n"
    _write_stderr(text, None)


def say_out_of_memory():
    """The out-of-memory line: a constant, so that writing it needs no
    formatting; the memory the failed work held is free by now, but maybe
    nothing else is."""
    _write_stderr(OUT_OF_MEMORY, _OUT_OF_MEMORY_BYTES)


def _write_stderr(text, raw):
    err = sys.stderr
    if err is None:
        # stderr was closed when Python started: fd 2 may now be a file
        # wdfdbg opened, so nothing is written to it
        return
    try:
        err.write(text)
    except BaseException:
        try:
            os.write(2, raw if raw is not None else text.encode("ascii", "backslashreplace"))
        except BaseException:
            pass
        return
    try:
        err.flush()
    except BaseException:
        pass


def check_stdout():
    """Refuse, before any work, a standard output that cannot take the
    report: closed (``>&-``: Python has no ``sys.stdout``) or open for
    reading only (``1</dev/null``)."""
    out = sys.stdout
    if out is None:
        raise OutputError("standard output is closed: there is nowhere to write the report")
    try:
        fd = out.fileno()
    except Exception:  # not a file (pykd's writer, a test's capture): nothing to check
        return
    try:
        import fcntl
    except ImportError:  # Windows
        return
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        raise OutputError("standard output is closed: there is nowhere to write the report")
    if flags & os.O_ACCMODE == os.O_RDONLY:
        raise OutputError("standard output is open for reading only: there is nowhere to write the report")


def flush_stdout():
    out = sys.stdout
    if out is None:
        return
    try:
        out.flush()
    except BrokenPipeError:
        raise StdoutClosed()
    except (OSError, ValueError) as e:
        raise OutputError("cannot write to standard output: %s" % (getattr(e, "strerror", None) or e))


def silence_stdout():
    """Point stdout at the null device, so that Python's own flush at exit
    does not fail again (and print a second line) after a write error."""
    try:
        fd = sys.stdout.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
    except BaseException:
        pass
