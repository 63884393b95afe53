"""A spool for text a renderer must write later than it is made.

A JSON report's ``drivers`` (with their counts) come before its
``objects``, and a text section may have to wait for the one before it: the
records made meanwhile go to a :class:`Spool`, in memory up to
``max_memory`` characters, then into an anonymous temporary file (deleted
when closed, or by the system if the process dies), so a report of a
million objects does not hold its text in memory. A temporary file that
cannot be written (a full disk) is an :class:`~wdfdbg.errors.InputError`:
one clear line and exit 2, never a half report.
"""

import tempfile

from wdfdbg.errors import InputError

MAX_MEMORY = 8 << 20
BLOCK = 1 << 20   # once on file, lines go there in blocks of about this many characters
CHUNK = 1 << 20


class Spool(object):
    """Lines of text, written one at a time and read back in order."""

    def __init__(self, max_memory=MAX_MEMORY):
        self.max_memory = max_memory
        self._parts = []
        self._size = 0
        self._file = None
        self.lines = 0

    def write_line(self, text):
        """Append ``text`` (which holds no newline) as one line."""
        self.lines += 1
        self._parts.append(text)
        self._size += len(text) + 1
        if self._size > self.max_memory:
            self._flush()

    def _flush(self):
        """Move what is in memory to the file (opened the first time)."""
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="\n")
                self.max_memory = min(self.max_memory, BLOCK)
            self._file.write("\n".join(self._parts))
            self._file.write("\n")
        except OSError as e:
            raise InputError("cannot write the report's temporary file: %s" % (e.strerror or e))
        self._parts = []
        self._size = 0

    def __iter__(self):
        """The lines, without their newlines."""
        if self._file is not None and self._parts:
            self._flush()
        if self._file is None:
            for part in self._parts:
                yield part
            return
        self._file.seek(0)
        for line in self._file:
            yield line[:-1]

    def joined(self, separator):
        """The lines joined by ``separator``, in pieces of about CHUNK
        characters (copying a spool without a Python call per line)."""
        if self._file is not None and self._parts:
            self._flush()
        if self._file is None:
            if self._parts:
                yield separator.join(self._parts)
            return
        self._file.seek(0)
        pending = None
        while True:
            block = self._file.read(CHUNK)
            if not block:
                break
            if pending is not None:
                yield pending
            pending = block.replace("\n", separator)
        if pending:
            # every line ends with a newline, the last one too: drop its separator
            yield pending[:len(pending) - len(separator)]

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        self._parts = []
