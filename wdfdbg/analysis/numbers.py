"""Unsigned numbers in and out: hex for reports and problem messages, and
the numbers users type (handles, addresses, sizes) parsed as WinDbg does.

Every hex number wdfdbg prints about the target (addresses, handles, sizes,
type codes) goes through :func:`hexn`. They are unsigned, so a negative one
can only come from a type that lies (a pointer or a USHORT declared signed
in ISF types gives ``0x-58``): it is refused with a :class:`LayoutError`
(exit 2, one line) rather than printed.
"""

import re

from wdfdbg.errors import LayoutError, UsageError


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


_HEX = re.compile(r"(?:0x)?([0-9a-f]+(?:`[0-9a-f]+)*)\Z", re.I)
_DEC = re.compile(r"0n([0-9]+)\Z", re.I)
_SIGNED = re.compile(r"(?:0[xn])?\s*([-+])", re.I)
MAX_BITS = 64  # no Windows target has wider pointers


def parse_int(text, what="value"):
    """Parse a number the way WinDbg users type it: ``0x..``, bare hex
    (``ffffc08b`0de9d0870``, a backtick between digits), or ``0n`` decimal.
    Addresses, handles and sizes are unsigned and at most 64 bits: a sign,
    a space or anything else inside is a :class:`UsageError`; so is a value
    wider than 64 bits (:func:`parse_address` checks the target's own
    pointer size once it is known)."""
    s = str(text).strip()
    m = _DEC.match(s)
    if m:
        value = int(m.group(1), 10)
    else:
        m = _HEX.match(s)
        if not m:
            sign = _SIGNED.match(s)
            if sign and sign.group(1) == "-":
                raise UsageError("%s: '%s' is negative: addresses, handles and sizes are unsigned" % (what, text))
            if sign:
                raise UsageError("%s: '%s' has a sign: numbers are unsigned (hex, or 0n for decimal)" % (what, text))
            raise UsageError("%s: '%s' is not a number (hex, or 0n for decimal)" % (what, text))
        value = int(m.group(1).replace("`", ""), 16)
    if value >> MAX_BITS:
        raise UsageError("%s: '%s' does not fit in %d bits" % (what, text, MAX_BITS))
    return value


def parse_address(session, text, what="ADDR"):
    """:func:`parse_int`, then checked against the open target's pointer
    size (``0x1_0000_0000`` is no address on a 32-bit target)."""
    value = parse_int(text, what)
    target = session.target
    if value > target.pointer_mask:
        raise UsageError("%s: '%s' does not fit the target's %d-bit pointers" % (what, text, 8 * target.pointer_size))
    return value
