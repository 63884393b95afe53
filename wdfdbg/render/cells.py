"""What goes into a cell of a text report: hex numbers (never negative:
:mod:`wdfdbg.analysis.numbers`), sizes, yes/no, and links laid out on what
the reader sees."""

from tabulate import tabulate

from wdfdbg.analysis.numbers import hex_or, hexn  # noqa: F401 (the renderers take them from here)
from wdfdbg.render.markup import PLAIN


def size_text(n):
    """A size in hex and decimal: ``0x20 (32)``."""
    if n is None:
        return "?"
    return "%s (%d)" % (hexn(n), n)


def yes_no(v):
    if v is None:
        return "?"
    return "yes" if v else "no"


class Link(object):
    """A table cell that is a link: the table is laid out on ``label``
    (what the reader sees) and the cell is then replaced by ``rendered``
    (the markup's link: DML tags must not count in column widths)."""

    __slots__ = ("label", "rendered")

    def __init__(self, label, rendered):
        self.label = label
        self.rendered = rendered


def _placeholder(i, n):
    # private-use code points, as wide as the label: tabulate measures them
    # like the label, and no report text contains them
    cp = 0xE000 + i if i < 0x1900 else 0xF0000 + (i - 0x1900)
    return chr(cp) * max(1, n)


def link_table(m, rows, headers=None, tablefmt="simple"):
    """tabulate with :class:`Link` cells, escaped for the markup."""
    subst = []
    prepared = []
    for row in rows:
        cells = []
        for c in row:
            if isinstance(c, Link):
                ph = _placeholder(len(subst), len(c.label))
                subst.append((ph, c.rendered))
                cells.append(ph)
            else:
                cells.append(c)
        prepared.append(cells)
    if headers:
        text = tabulate(prepared, headers=list(headers), tablefmt=tablefmt)
    else:
        text = tabulate(prepared, tablefmt=tablefmt)
    text = m.text(text)
    for ph, rendered in subst:
        text = text.replace(ph, rendered)
    return text


def kv_table(rows, m=None):
    """Two columns, key and value, without rules."""
    return link_table(m or PLAIN, [(k, v) for k, v in rows], tablefmt="plain")
