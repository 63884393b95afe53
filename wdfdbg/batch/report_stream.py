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

from wdfdbg.render.lines import MAX_LINE, LineSplitter, LineTooLong

_DECODE = json.JSONDecoder().decode


class LineStream(object):
    """Push splitter of JSON lines; each must be a JSON object with a
    ``record`` key."""

    def __init__(self, on_line):
        self.on_line = on_line
        self._split = LineSplitter(MAX_LINE)
        self.lines = 0
        self.chars = 0
        self.error = None

    def feed(self, text):
        if self.error is not None or not text:
            return
        self.chars += len(text)
        try:
            for line in self._split.lines(text):
                self._line(line)
                if self.error is not None:
                    return
        except LineTooLong as e:
            self.error = str(e)
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
        rest = self._split.rest()
        if self.error is None and rest.strip():
            self.error = "the report ends inside line %d (%d characters read)" % (self.lines + 1, self.chars)
        return self.error
