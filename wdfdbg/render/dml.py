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

from wdfdbg.render.markup import PlainMarkup

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_SPECIAL = re.compile(r'[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


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
    """True when running under WinDbg (``pykd.isWindbgExt()``: ``sys.stdout``
    has ``writedml``, pykd ``pykd/pydbgio.h``) and the engine prefers DML:
    ``pykd.getDebugOptions() & pykd.debugOptions.PreferDml`` (both exported
    by pykd ``pykd/pymod.cpp``; the bit is dbgeng's DEBUG_ENGOPT_PREFER_DML,
    which ``.prefer_dml 1`` sets). Unknown counts as on; False without pykd
    or outside WinDbg."""
    p = _pykd_in_debugger()
    if p is None:
        return False
    try:
        return bool(int(p.getDebugOptions()) & int(p.debugOptions.PreferDml))
    except Exception:
        return True


def dml_sink():
    """A sink for :class:`~wdfdbg.render.output.Output`: each piece through
    ``pykd.dprint(piece, True)`` under WinDbg (which calls
    ``sys.stdout.writedml``); on stdout (as is) anywhere else."""
    from wdfdbg.render.output import stdout_sink
    p = _pykd_in_debugger()
    if p is None:
        return stdout_sink()

    def sink(piece):
        p.dprint(piece, True)
    return sink
