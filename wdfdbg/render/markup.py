"""Markup: how a renderer writes links. Plain text ignores them; DML
(``wdfdbg.render.dml``) turns them into ``<link cmd=...>`` with escaping.

Renderers never build DML by hand: they call ``m.text(s)`` for literal text
and ``m.link(label, command)`` for a clickable command, and join the results.
"""


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
        return self.link(label, "!py -m wdfdbg.memtree --handle 0x%x" % handle)

    def object_link(self, label, cls, address):
        return self.link(label, "dt Wdf01000!%s 0x%x" % (cls or "FxObject", address))

    def memory_link(self, label, handle):
        return self.link(label, "!py -m wdfdbg.memory 0x%x" % handle)

    def mdl_link(self, label, address):
        return self.link(label, "!py -m wdfdbg.mdl 0x%x" % address)

    def lookaside_link(self, label, handle):
        return self.link(label, "!py -m wdfdbg.lookaside 0x%x" % handle)

    def kernel_lookaside_link(self, label, address):
        return self.link(label, "!lookaside 0x%x" % address)


PLAIN = PlainMarkup()
