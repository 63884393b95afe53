"""DML (Debugger Markup Language) output for WinDbg.

:class:`DmlMarkup` is the markup renderers use under WinDbg: ``text()``
escapes, ``link()`` makes a ``<link cmd="...">`` that runs a command when
clicked (the tags are documented in the Windows debugger docs,
"Customizing Debugger Output Using DML": ``& < > "`` must be escaped).
Every argument is plain text; nothing passed in is trusted as markup.

pykd is imported lazily and only through :mod:`wdfdbg.sources.pykd_target`'s
rules: this module never imports it at module level.
"""

import re
import sys

from wdfdbg.render.markup import PlainMarkup

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_SPECIAL = re.compile(r'[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
# dbgeng output calls are safest well below the 16 KiB extension output limit
CHUNK = 8000


def _sub(m):
    ch = m.group(0)
    rep = _ESCAPES.get(ch)
    if rep is not None:
        return rep
    return "\\x%02x" % ord(ch)  # control characters would confuse the DML parser


def escape(s):
    """Escape text for DML: ``& < > "`` become entities, control
    characters other than tab, CR and LF become ``\\xNN``."""
    return _SPECIAL.sub(_sub, str(s))


def unescape(s):
    """Inverse of :func:`escape` for the four entities (tests, tools)."""
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


class DmlMarkup(PlainMarkup):
    """Markup that writes DML: escaped text, clickable links, bold."""

    dml = True

    def text(self, s):
        return escape(s)

    def link(self, label, command):
        return '<link cmd="%s">%s</link>' % (escape(command), escape(label))

    def bold(self, s):
        return "<b>%s</b>" % escape(s)


DML = DmlMarkup()


def _pykd_in_debugger():
    """pykd, when running inside a debugger that renders DML; else None."""
    try:
        from wdfdbg.sources import pykd_target
        p = pykd_target.import_pykd()
    except Exception:
        return None
    try:
        if not p.isWindbgExt():
            return None
    except Exception:
        return None
    return p


def debugger_wants_dml():
    """True when running under WinDbg and its ``.prefer_dml`` setting is not
    off (unknown counts as on); False without pykd or outside WinDbg."""
    p = _pykd_in_debugger()
    if p is None:
        return False
    try:
        out = str(p.dbgCommand(".prefer_dml"))
    except Exception:
        return True
    if re.search(r"\boff\b", out, re.IGNORECASE) or re.search(r"prefer_dml\s+0\b", out):
        return False
    return True


def chunks(text, limit=CHUNK):
    """Split ``text`` at line ends into pieces of at most ``limit``
    characters (a single longer line stays whole: tags never span lines)."""
    out = []
    cur = []
    size = 0
    for line in text.splitlines(True):
        if cur and size + len(line) > limit:
            out.append("".join(cur))
            cur, size = [], 0
        cur.append(line)
        size += len(line)
    if cur:
        out.append("".join(cur))
    return out


def dml_sink():
    """A sink for :class:`~wdfdbg.render.output.Output`: each piece through
    ``pykd.dprint(piece, True)`` under WinDbg; on stdout (as is) anywhere
    else."""
    from wdfdbg.render.output import stdout_sink
    p = _pykd_in_debugger()
    if p is None:
        return stdout_sink()

    def sink(piece):
        p.dprint(piece, True)
    return sink


def write_dml(text):
    """Write DML through ``pykd.dprint(text, True)`` under WinDbg; to stdout
    (as is) anywhere else. A final newline is added when missing."""
    from wdfdbg.render.output import Output
    out = Output(dml_sink(), DML)
    out.write(text)
    out.close()
