"""What a decoded field holds: a value, NULL, or "not captured".

A dump keeps only part of memory, so a field can be missing for two very
different reasons: the pointer is NULL (a fact about the driver), or its
bytes were not in the dump (a fact about the dump). Records made by the
triage decoders (contexts, locks, exception, alignment) keep them apart:

* a field read from memory holds its integer value; a NULL pointer is ``0``;
* a field whose bytes were not readable holds :data:`NOT_CAPTURED`;
* ``None`` means "does not apply" (no spin-lock history without the
  verifier), never "unknown";
* :data:`UNKNOWN` is what wdfdbg could not tell although the bytes were there
  (a class no rule names).

Spelling, one meaning each (style.md "Words"):

=============  =====================  =================
value          JSON                   text
=============  =====================  =================
0 (pointer)    ``null``               ``NULL``
NOT_CAPTURED   ``"not captured"``     ``not captured``
UNKNOWN        ``"unknown"``          ``unknown``
int            ``"0x..."`` (hex)      ``0x...``
=============  =====================  =================

The JSON marker is the string ``"not captured"`` in the field's own place
(not a ``captured: false`` beside it): a consumer reads one key and tests one
value, and a record keeps its keys whatever the dump held.
"""

from wdfdbg.errors import ReadError

NOT_CAPTURED_TEXT = "not captured"
UNKNOWN_TEXT = "unknown"


class _Marker(object):
    """A singleton that is never a value: falsy, and never equal to one."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __bool__(self):
        return False

    def __str__(self):
        return self.text

    def __repr__(self):
        return self.text.upper().replace(" ", "_")

    def __reduce__(self):
        # copies and pickles stay the same singleton
        return (_marker, (self.text,))


NOT_CAPTURED = _Marker(NOT_CAPTURED_TEXT)
UNKNOWN = _Marker(UNKNOWN_TEXT)


def _marker(text):
    return NOT_CAPTURED if text == NOT_CAPTURED_TEXT else UNKNOWN


def captured(value):
    """True unless ``value`` is :data:`NOT_CAPTURED`."""
    return value is not NOT_CAPTURED


def known(value):
    """True for a real value (an int, a string, 0): not a marker, not None."""
    return value is not None and not isinstance(value, _Marker)


def pointer_json(value):
    """A pointer field for JSON: NULL -> null, else hex or the marker."""
    if isinstance(value, _Marker):
        return value.text
    if value is None or value == 0:
        return None
    return "0x%x" % value


def hex_json(value):
    """A 64-bit value that is not a pointer (0 stays "0x0")."""
    if isinstance(value, _Marker):
        return value.text
    if value is None:
        return None
    return "0x%x" % value


def plain_json(value):
    """A number, string or bool for JSON; markers as their text."""
    if isinstance(value, _Marker):
        return value.text
    return value


def pointer_text(value):
    """A pointer field for people: NULL, 0x..., not captured."""
    if isinstance(value, _Marker):
        return value.text
    if value is None or value == 0:
        return "NULL"
    return "0x%x" % value


def hex_text(value):
    if isinstance(value, _Marker):
        return value.text
    if value is None:
        return UNKNOWN_TEXT
    return "0x%x" % value


def read_fields(target, base, fields):
    """Read scalar fields of one struct: ``{name: int or NOT_CAPTURED}``.

    ``fields`` is a list of ``(name, offset, size)`` (unsigned,
    little-endian). The whole span is read once through the page cache; only
    when that fails is each field read on its own, so a struct the dump
    captured in part gives every field it can (the pages are already cached:
    no extra backend reads)."""
    if not fields:
        return {}
    lo = min(off for _, off, _ in fields)
    hi = max(off + size for _, off, size in fields)
    out = {}
    try:
        raw = target.read(base + lo, hi - lo)
    except ReadError:
        raw = None
    for name, off, size in fields:
        if raw is not None:
            out[name] = int.from_bytes(raw[off - lo:off - lo + size], "little")
            continue
        try:
            out[name] = int.from_bytes(target.read(base + off, size), "little")
        except ReadError:
            out[name] = NOT_CAPTURED
    return out


def module_offset(target, address):
    """``module+0x...`` for an address inside a loaded image, else None.
    From the module list only: no symbol lookup, so it asks the debugger
    nothing and a recording replays it identically."""
    if not address or isinstance(address, _Marker):
        return None
    mod = target.module_of(address)
    if mod is None:
        return None
    return "%s+0x%x" % (mod.name, address - mod.base)


# JSON Schema pieces for the fields above (report schema 1.2, docs/report.md):
# a pointer field is hex, null (NULL) or the marker; a number or flag field
# is its value or the marker
SCHEMA_HEX = {"type": "string", "pattern": "^0x[0-9a-f]+$"}
SCHEMA_NOT_CAPTURED = {"const": NOT_CAPTURED_TEXT}
SCHEMA_POINTER = {"anyOf": [SCHEMA_HEX, {"type": "null"}, {"enum": [NOT_CAPTURED_TEXT, UNKNOWN_TEXT]}]}


def schema_value(*types):
    """A field holding a value of JSON ``types`` or the marker ``"not captured"``."""
    return {"anyOf": [{"type": list(types)}, SCHEMA_NOT_CAPTURED]}
