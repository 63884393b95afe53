"""Unsigned hex for reports and problem messages.

Every hex number wdfdbg prints about the target (addresses, handles, sizes,
type codes) goes through :func:`hexn`. They are unsigned, so a negative one
can only come from a type that lies (a pointer or a USHORT declared signed
in ISF types gives ``0x-58``): it is refused with a :class:`LayoutError`
(exit 2, one line) rather than printed.
"""

import re

from wdfdbg.errors import LayoutError


def hexn(v):
    """``0x..`` for an unsigned number; a negative one is a type's lie."""
    if v < 0:
        raise LayoutError("a negative number (-0x%x) where an address, handle, size or type code belongs: "
                          "the types give a signed type to an unsigned field" % -v)
    return "0x%x" % v


def hex_or(v, default):
    """:func:`hexn`, or ``default`` when there is no value."""
    return default if v is None else hexn(v)


# a number standing alone: after a space, a bracket, '=' or ':', and before
# a space, a bracket, punctuation or the end (not inside a path or a name)
_NEGATIVE_TEXT = re.compile(r"(?:^|(?<=[\s(\[{=:,'\"]))0x-[0-9a-fA-F]+(?=$|[\s)\]},;:'\"]|\.(?:\s|$))", re.M)
_NEGATIVE_JSON = re.compile(r'"0x-[0-9a-fA-F]+"')


def refuse_negative_hex(text, exempt=(), json=False):
    """``text`` (a whole report), or a :class:`LayoutError` when a number in
    it is negative hex (``0x-58``): the last guard for numbers formatted
    outside :func:`hexn`. ``exempt``: strings that are not numbers even if
    they look like one (the source's path); ``json``: ``text`` is a JSON
    document, where a number is a whole string value."""
    checked = text
    for s in exempt:
        if s:
            checked = checked.replace(s, "")
    m = (_NEGATIVE_JSON if json else _NEGATIVE_TEXT).search(checked)
    if m:
        raise LayoutError("the report would show a negative number (%s) where an address, handle, size or "
                          "type code belongs: the types give a signed type to an unsigned field" % m.group(0).strip('"'))
    return text
