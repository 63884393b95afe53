"""Where a command's output goes: one writer for text, DML and JSON.

Every command writes through an :class:`Output`. It hands its sink pieces
of at most ``limit`` characters (8,000 by default), because the debugger's
output paths drop what does not fit: pykd-ext copies each ``write`` into a
fixed 65,536-wchar buffer and silently loses the rest (pykd-ext
``sources/pyclass.h``), and some debugger engines cut extension output at
16 KiB. Pieces end at line ends where a line end is near; a line longer
than the limit (a one-line JSON report) is cut inside, but for DML never
inside a ``<tag>`` or an ``&entity;``, since each piece is parsed alone.

Output is buffered only up to one piece: a streaming command's memory does
not grow with what it writes.

Text from a dump (driver, context and process names, pool tags) may hold
anything; written raw, ``ESC ] 0 ; ... BEL`` retitles the reader's
terminal and ``ESC [ 2 J`` clears it. :meth:`Output.write` is where every
text, DML and JSON output passes, so it escapes there (:func:`escape_controls`):
C0 controls but the line feed and the tab, DEL, C1 controls and lone
surrogates (a file name's undecodable byte) become ``\x1b``-style escapes.
A renderer's own newlines stay newlines; JSON never holds a raw control
(``ensure_ascii``), so it passes unchanged. A line feed inside a value cannot
be told from a renderer's own here: renderers of names that may hold one
(``wdfdbg corpus``) escape their cells with ``streams.printable``.
"""

import re
import sys

LIMIT = 8000
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(m):
    o = ord(m.group())
    if o == 0x0D:
        return "\\r"
    if 0xDC80 <= o <= 0xDCFF:  # surrogateescape: the byte the file name had
        return "\\x%02x" % (o - 0xDC00)
    return "\\x%02x" % o if o < 0x100 else "\\u%04x" % o


def escape_controls(text):
    """``text`` with every control character but LF and TAB escaped."""
    return _CONTROLS.sub(_escape, text) if _CONTROLS.search(text) else text


class Output(object):
    """A command's output channel.

    ``sink(piece)`` receives each piece (a str of at most ``limit``
    characters); ``dml`` says whether the pieces are DML. ``markup`` is the
    :class:`~wdfdbg.render.markup.PlainMarkup` renderers use to build it.
    """

    def __init__(self, sink, markup=None, limit=LIMIT):
        from wdfdbg.render.markup import PLAIN
        if limit < 64:
            raise ValueError("output pieces must hold at least 64 characters")
        self.sink = sink
        self.markup = markup if markup is not None else PLAIN
        self.dml = bool(getattr(self.markup, "dml", False))
        self.limit = limit
        self._buf = []
        self._size = 0
        self.pieces = 0  # how many pieces went to the sink
        self.chars = 0   # how many characters
        self._last = ""  # the last character written (for close's newline)

    def write(self, text):
        """Queue ``text``; full pieces go to the sink at once."""
        if not text:
            return
        text = escape_controls(text)
        self._buf.append(text)
        self._size += len(text)
        self._last = text[-1]
        if self._size >= self.limit:
            self._drain(final=False)

    def line(self, text=""):
        self.write(text + "\n")

    def flush(self):
        """Send everything queued (ends the current piece early)."""
        self._drain(final=True)

    def close(self):
        """Flush, ending the output with a newline if it has none."""
        if self.chars + self._size and self._last != "\n":
            self.write("\n")
        self._drain(final=True)

    # -- internals --------------------------------------------------------
    def _drain(self, final):
        if not self._buf:
            return
        text = "".join(self._buf)
        self._buf = []
        self._size = 0
        pos = 0
        n = len(text)
        while n - pos > self.limit or (final and pos < n):
            if n - pos <= self.limit:
                cut = n
            else:
                cut = self._cut(text, pos, pos + self.limit)
            self._send(text[pos:cut])
            pos = cut
        if pos < n:
            rest = text[pos:]
            self._buf = [rest]
            self._size = len(rest)

    def _cut(self, text, start, end):
        """Where to end a piece that may run from ``start`` to ``end``."""
        nl = text.rfind("\n", start, end)
        if nl >= start + self.limit // 4:
            return nl + 1
        if not self.dml:
            return end
        # never inside a tag or an entity: back up to before an open '<' or '&'
        lt = text.rfind("<", start, end)
        gt = text.rfind(">", start, end)
        cut = end
        if lt > gt:
            cut = lt
        amp = text.rfind("&", start, cut)
        semi = text.rfind(";", start, cut)
        if amp > semi and cut - amp < 12:
            cut = amp
        return cut if cut > start else end

    def _send(self, piece):
        self.pieces += 1
        self.chars += len(piece)
        self.sink(piece)


def stdout_sink(stream=None):
    """A sink writing to ``stream`` (default: the current ``sys.stdout``,
    looked up at each write, as pykd-ext replaces it per command)."""
    def sink(piece):
        out = stream if stream is not None else sys.stdout
        out.write(piece)
        flush = getattr(out, "flush", None)
        if flush is not None:
            flush()
    return sink


class Capture(object):
    """A sink that keeps what it gets (tests, ``record``, ``execute``)."""

    def __init__(self):
        self.pieces = []

    def __call__(self, piece):
        self.pieces.append(piece)

    def text(self):
        return "".join(self.pieces)
