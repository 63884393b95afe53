"""The memtree text tree (a sink of ``analysis.tree``): the triage
headline (``render/headline.py``), the source line, then per driver a
header, its objects' lines in tree pre-order (``render/text.node_line``)
and its summary table, then the problems table.

The headline comes first and says what only the whole walk knows (the
locks the crashing thread holds, the top problems, piles of objects), so
the lines after it are made as the walk goes and spooled
(``render/spool.py``: in memory up to 8 MiB, then an anonymous temporary
file), then written after the headline, as the JSON document spools its
records; what the analysis keeps stays the same compact state.

A driver's section streams while its own tree is walked. An object that
carries another driver's globals waits in that driver's spooled section
(``render/spool.py``), written when that driver's section opens, or after
the last walk for a driver whose section already closed; objects of no
listed driver go to a last section without a header. A scan's objects (no
driver list) are all spooled and written by driver at the end, as they
were found by the scan, not in one tree. Problems found after an object's
line was written (a leak counted at its parent, a broken list found at its
head) are in the problems table only.
"""

from wdfdbg.render import report as rep
from wdfdbg.render import text as txt
from wdfdbg.render.headline import headline_lines
from wdfdbg.render.spool import Spool

_REST = object()  # the section of objects of no listed driver


class _Section(object):
    __slots__ = ("key", "driver", "lines", "counts", "closed")

    def __init__(self, key, driver):
        self.key = key
        self.driver = driver
        self.lines = None       # a Spool while the section waits
        self.counts = txt.SummaryCounts()
        self.closed = False


class TextTreeWriter(object):
    """Write the tree to ``out`` (anything with ``write``) with markup ``m``."""

    def __init__(self, session, out, m):
        self.session = session
        self.out = out
        self.m = m
        self._body = Spool()   # everything after the headline, until the walk ends
        self._sections = {}
        self._order = []        # spooled section keys in the order they appeared
        self._current = None    # the section streaming now
        self._walk = None
        self._grouped = False
        self._by_globals = {}
        self._any = False

    def _line(self, text):
        self._body.write_line(text)

    def begin(self, analysis):
        m = self.m
        self._by_globals = dict((d.globals, d) for d in analysis.drivers)
        self._line(txt.source_line(self.session, m))
        for line in txt.bugcheck_lines(rep.bugcheck_json(self.session), m):
            self._line(line)
        for note in self.session.notes:
            self._line(m.text("note: %s" % note))

    def walk(self, driver, grouped):
        self._walk = driver
        self._grouped = grouped

    def _section(self, key):
        s = self._sections.get(key)
        if s is None:
            s = self._sections[key] = _Section(key, self._by_globals.get(key) if key is not _REST else None)
        return s

    def _open(self, section):
        """Start streaming ``section``: its header and whatever waited for it."""
        self._line("")
        self._line(txt.driver_header(section.driver, self.m))
        if section.lines is not None:
            for text in section.lines:
                self._line(text)
            section.lines.close()
            section.lines = None
            self._order.remove(section.key)
        self._current = section

    def node(self, node, seq):
        self._any = True
        g = node.header.globals
        key = g if g in self._by_globals else _REST
        cur = self._current
        if cur is None and not self._grouped and key is not _REST:
            s = self._section(key)
            if not s.closed and (self._walk is None or self._walk.globals == g):
                self._open(s)
                cur = s
        text = txt.node_line(node, self.m)
        if cur is not None and cur.key == key:
            cur.counts.add(node)
            self._line(text)
            return
        s = self._section(key)
        if s.lines is None:
            s.lines = Spool()
            self._order.append(key)
        s.lines.write_line(text)
        s.counts.add(node)

    def _close(self, section):
        self._line("")
        self._line(section.counts.table(self.m))
        section.closed = True

    def walk_end(self):
        if self._current is not None:
            self._close(self._current)
            self._current = None
        self._walk = None

    def end(self, analysis):
        drivers = [d.globals for d in analysis.drivers]
        waiting = [k for k in drivers if k in self._order]
        if _REST in self._order:
            waiting.append(_REST)
        for key in waiting:
            s = self._sections[key]
            if key is not _REST:
                self._line("")
                self._line(txt.driver_header(s.driver, self.m))
            else:
                self._line("")
            for text in s.lines:
                self._line(text)
            s.lines.close()
            s.lines = None
            self._close(s)
        if not self._any:
            self._line(self.m.text("No objects found."))
        note = analysis.depth_note()
        if note:
            self._line("")
            self._line(self.m.text(note))
        self._line("")
        self._line(txt.problems_table(list(analysis.problems), self.m))
        # lines joined by newlines, without a trailing one (as "\n".join)
        out = self.out
        head = headline_lines(analysis.triage_facts, self.m)
        if head:
            out.write("\n".join(head))
            out.write("\n\n")
        for piece in self._body.joined("\n"):
            out.write(piece)
        self._body.close()
