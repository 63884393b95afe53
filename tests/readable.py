"""Is a text for people free of Python? A reusable check for every
command's text output (issue 11 item 5; style.md "Words").

:func:`unreadable` lists what it finds, line by line:

* ``None`` as a word (a Python None printed);
* ``?`` standing for a value (``tag '?'``, ``class ?``, ``(?)``), but not
  inside a question in prose ("why?") nor in DML/URL query strings;
* Python reprs: ``<... object at 0x...>``, ``Problem(``, the repr of
  wdfdbg's markers (``NOT_CAPTURED``, ``UNKNOWN`` as whole words), dict or
  list literals of strings (``{'``, ``['``), ``True``/``False`` as words;
* bare decimal sizes: a number of two or more decimal digits right after
  ``length``, ``size``, ``bytes``, ``capacity`` (``length 20``), or right
  before ``bytes`` (``64 bytes``); sizes are hex with ``0x``. Counts are
  not sizes and are left alone (``1831 saved blocks``).

:func:`assert_readable` raises AssertionError naming every offence with
its line.
"""

import re

_NONE = re.compile(r"\bNone\b")
_QUESTION = re.compile(r"(?:^|[\s(\[='\":,])'?\?'?(?=$|[\s)\],;:.'\"])")
_REPRS = [
    (re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>"), "a Python object repr"),
    (re.compile(r"\b(?:Problem|ObjectHeader|ObjectNode|LockRecord|Context)\("), "a record repr"),
    (re.compile(r"\b(?:NOT_CAPTURED|UNKNOWN)\b"), "a marker repr (say 'not captured' / 'unknown')"),
    (re.compile(r"[{\[]'"), "a dict or list literal"),
    (re.compile(r"\b(?:True|False)\b"), "a Python bool"),
]
_SIZE_AFTER = re.compile(r"\b(?:length|size|bytes|capacity)\s*[:=]?\s*(\d{2,})\b(?![.\d]*\s*(?:KB|MB|GB))")
_SIZE_BEFORE = re.compile(r"(?<![\w.])(\d{2,})\s*bytes\b")


def unreadable(text):
    """A list of ``"line N: what: the line"`` for every offence in ``text``."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        found = []
        if _NONE.search(line):
            found.append("None")
        if _QUESTION.search(line):
            found.append("'?' for a value")
        for rx, what in _REPRS:
            if rx.search(line):
                found.append(what)
        if _SIZE_AFTER.search(line) or _SIZE_BEFORE.search(line):
            found.append("a bare decimal size")
        for what in found:
            out.append("line %d: %s: %s" % (n, what, line.strip()[:200]))
    return out


def assert_readable(text, what="output"):
    bad = unreadable(text)
    assert not bad, "%s is not readable text:\n%s" % (what, "\n".join(bad))
