"""What goes into a cell of a text report: hex numbers (never negative:
:mod:`wdfdbg.analysis.numbers`), sizes, yes/no, and links laid out on what
the reader sees.

Words for what is not a value (style.md "Words"; one spelling, one meaning
each, as ``decoders/facts.py`` keeps them apart in records):

* ``NULL``: the field holds 0 (a fact about the driver);
* ``not captured``: the bytes were not in the dump (a fact about the dump);
* ``unknown``: wdfdbg could not tell, although nothing was missing.

A record value may already be one of these words (the triage decoders'
JSON writes ``"not captured"`` in the field's place); the helpers pass
such a word through."""

from tabulate import tabulate

from wdfdbg.analysis.numbers import hex_or, hexn  # noqa: F401 (the renderers take them from here)
from wdfdbg.render.markup import PLAIN


NULL = "NULL"
NOT_CAPTURED = "not captured"
UNKNOWN = "unknown"
_WORDS = (NULL, NOT_CAPTURED, UNKNOWN)


def ptr_text(v, missing=UNKNOWN):
    """A pointer: ``0x...``, ``NULL`` for 0, ``missing`` for None (say
    which: a field that was not read is ``not captured``). Hex strings (a
    JSON record's) and the words above pass through."""
    if v is None:
        return missing
    if isinstance(v, str):
        return v if v.startswith("0x") or v in _WORDS else missing
    if not v:
        return NULL
    return hexn(v)


def hex_text(v, missing=UNKNOWN):
    """A number that is not a pointer (0 stays ``0x0``)."""
    if v is None:
        return missing
    if isinstance(v, str):
        return v if v.startswith("0x") or v in _WORDS else missing
    return hexn(v)


def tag_text(tag, missing=NOT_CAPTURED):
    """A pool tag in quotes, or ``missing``."""
    if not tag or tag in _WORDS:
        return tag or missing
    return "'%s'" % tag


def size_text(n, missing=UNKNOWN):
    """A size in hex and decimal: ``0x20 (32)``."""
    if n is None or isinstance(n, str):
        return n if n in _WORDS else missing
    return "%s (%d)" % (hexn(n), n)


def count_text(n, missing=UNKNOWN):
    """A count (decimal: counts are not sizes)."""
    if n is None or isinstance(n, str):
        return n if n in _WORDS else missing
    return "%d" % n


def yes_no(v, missing=UNKNOWN):
    if v is None or isinstance(v, str):
        return v if v in _WORDS else missing
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
