"""Read ``memtree --jsonl`` as it is written, one line at a time.

memtree writes its JSONL stream (``docs/report.md``; schema
``$defs/jsonl_line`` of ``wdfdbg/data/report.schema.json``) in pieces of at
most 8,000 characters (``render/output.py``), which cut lines anywhere. A
:class:`LineStream` is fed those pieces and hands each whole line, decoded,
to ``on_line(record)`` as soon as its newline arrives, so the analysis of a
dump with a million objects holds one line at a time: a ``report`` line,
an ``object`` line per object, ``allocated`` and ``problem`` lines, one
``summary`` line (and whatever later kinds a newer memtree adds, such as a
final ``triage`` line).

It never raises from :meth:`feed` (it is called from inside the command's
output path); :meth:`close` returns the first error, or None.
"""

import json

_DECODE = json.JSONDecoder().decode
MAX_LINE = 256 << 20  # characters: one line longer than this is no memtree line (bounded memory)


class LineStream(object):
    """Push splitter of JSON lines; each must be a JSON object with a
    ``record`` key."""

    def __init__(self, on_line):
        self.on_line = on_line
        self._pieces = []   # the unfinished line, in pieces (no re-joining per piece)
        self._pending = 0   # its length
        self.lines = 0
        self.chars = 0
        self.error = None

    def feed(self, text):
        if self.error is not None or not text:
            return
        self.chars += len(text)
        try:
            start = 0
            while True:
                end = text.find("\n", start)
                if end < 0:
                    break
                if self._pieces:
                    self._pieces.append(text[start:end])
                    line = "".join(self._pieces)
                    self._pieces, self._pending = [], 0
                else:
                    line = text[start:end]
                self._line(line)
                if self.error is not None:
                    return
                start = end + 1
            if start < len(text):
                self._pieces.append(text[start:])
                self._pending += len(text) - start
                if self._pending > MAX_LINE:
                    self.error = "line %d is longer than %d characters" % (self.lines + 1, MAX_LINE)
                    self._pieces = []
        except Exception as e:  # the callback failed: the record builder's bug, reported as such
            self.error = "reading the report failed: %s: %s" % (type(e).__name__, e)

    def _line(self, line):
        if not line.strip():
            return
        self.lines += 1
        try:
            rec = _DECODE(line)
        except ValueError as e:
            self.error = "line %d is not JSON: %s" % (self.lines, e)
            return
        if not isinstance(rec, dict) or not isinstance(rec.get("record"), str):
            self.error = "line %d is not a JSONL report record (no \"record\" key)" % self.lines
            return
        self.on_line(rec)

    def close(self):
        """Finish; returns None, or the error that made the text unusable
        (a last line without its newline is an unfinished one)."""
        if self.error is None and self._pieces and "".join(self._pieces).strip():
            self.error = "the report ends inside line %d (%d characters read)" % (self.lines + 1, self.chars)
        self._pieces = []
        return self.error
