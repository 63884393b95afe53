"""Whole lines out of text that arrives in pieces cut anywhere.

memtree writes its output in pieces of at most 8,000 characters
(``render/output.py``) that end wherever they end; a JSONL reader needs
whole lines. :class:`LineSplitter` keeps the unfinished line as a list of
pieces (joined once, when its newline arrives, never per piece) and bounds
it: a line longer than ``max_line`` characters is no memtree line, and
holding it would let one bad input take all memory.
"""

MAX_LINE = 256 << 20  # characters


class LineTooLong(ValueError):
    """The unfinished line grew past the splitter's bound."""


class LineSplitter(object):
    """Feed text with :meth:`lines`, which yields each line (without its
    newline) as soon as the newline arrives; :meth:`rest` is the unfinished
    line at the end. ``lines_done`` counts the lines yielded."""

    def __init__(self, max_line=MAX_LINE):
        self.max_line = max_line
        self.lines_done = 0
        self._pieces = []   # the unfinished line
        self._pending = 0   # its length

    def lines(self, text):
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
            self.lines_done += 1
            yield line
            start = end + 1
        if start < len(text):
            self._pieces.append(text[start:])
            self._pending += len(text) - start
            if self._pending > self.max_line:
                self._pieces, self._pending = [], 0
                raise LineTooLong("line %d is longer than %d characters" % (self.lines_done + 1, self.max_line))

    def rest(self):
        """The unfinished line (``""`` when the text ended with a newline);
        the splitter forgets it."""
        out = "".join(self._pieces)
        self._pieces, self._pending = [], 0
        return out
