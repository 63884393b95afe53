"""Markup: how a renderer writes links. Plain text ignores them; DML
(``wdfdbg.render.dml``) turns them into ``<link cmd=...>`` with escaping.

Renderers never build DML by hand: they call ``m.text(s)`` for literal text
and ``m.link(label, command)`` for a clickable command, and join the results.

Links to wdfdbg commands name the running interpreter (``!py -3.9 -m
wdfdbg.memory ...``): pykd-ext runs ``!py`` in the newest Python 3 unless
``-3.x`` says otherwise (pykd-ext ``sources/windbgext.cpp``
``getDefaultPythonVersion``, ``sources/arglist.cpp``), and pykd may be
installed for only one of them, so a click must come back to this one.
"""

import sys

PY = "!py -%d.%d -m " % sys.version_info[:2]


class PlainMarkup(object):
    dml = False

    def text(self, s):
        return s

    def link(self, label, command):
        return label

    def bold(self, s):
        return s

    # Commands linked from reports (the same strings DML uses).
    def handle_link(self, label, handle):
        return self.link(label, PY + "wdfdbg.memtree --handle 0x%x" % handle)

    def object_link(self, label, cls, address):
        return self.link(label, "dt Wdf01000!%s 0x%x" % (cls or "FxObject", address))

    def memory_link(self, label, handle):
        return self.link(label, PY + "wdfdbg.memory 0x%x" % handle)

    def mdl_link(self, label, address):
        return self.link(label, PY + "wdfdbg.mdl 0x%x" % address)

    def lookaside_link(self, label, handle):
        return self.link(label, PY + "wdfdbg.lookaside 0x%x" % handle)

    def kernel_lookaside_link(self, label, address):
        return self.link(label, "!lookaside 0x%x" % address)


PLAIN = PlainMarkup()
