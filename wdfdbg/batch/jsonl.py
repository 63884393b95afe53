"""Reading record files (OUT.jsonl) line by line, bounded.

A record file is read as bytes in pieces of 1 MiB: a line is held whole
only up to ``MAX_LINE`` bytes (a record is a few KiB; 100 problems and a
few hundred drivers stay under a MiB), a longer one is skipped as it is
read and counted as unreadable, so a file without a newline costs 1 MiB,
not its size twice. Reading stops at ``end`` (the size when the reader
began), so records a running batch appends meanwhile are not half seen.

Paths in records: ``path`` is always valid UTF-8 for JSON readers (a byte
of the name that is not UTF-8 shows as U+FFFD), and ``path_b64`` holds the
name's bytes in base64 when ``path`` alone would lose them (else null).
:func:`record_path` gives the name back as the OS spells it.
"""

import base64
import json
import os
import re

PIECE = 1 << 20
MAX_LINE = 16 << 20


def lines(f, end=None, max_line=MAX_LINE):
    """(line number, bytes or None) for each line of the binary file ``f``
    up to byte ``end``; None for a line longer than ``max_line``. A last
    line without its newline is given too (a reader decides about it)."""
    n = 0
    held = []
    size = 0
    too_long = False
    left = end
    while left is None or left > 0:
        piece = f.read(PIECE if left is None else min(PIECE, left))
        if not piece:
            break
        if left is not None:
            left -= len(piece)
        start = 0
        while True:
            nl = piece.find(b"\n", start)
            if nl < 0:
                break
            if too_long or size + nl - start > max_line:
                yield n, None
            else:
                held.append(piece[start:nl])
                yield n, b"".join(held)
            n += 1
            held, size, too_long = [], 0, False
            start = nl + 1
        if start < len(piece) and not too_long:
            held.append(piece[start:])
            size += len(piece) - start
            if size > max_line:
                held, size, too_long = [], 0, True
    if too_long:
        yield n, None
    elif held:
        yield n, b"".join(held)


def parse(line):
    """The JSON object of a line, or None (not JSON, not an object)."""
    if line is None:
        return None
    try:
        value = json.loads(line.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError too
        return None
    return value if isinstance(value, dict) else None


def portable_path(path):
    """(``path`` for JSON, ``path_b64`` or None) of a name as the OS gave it."""
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), base64.b64encode(raw).decode("ascii")


def record_path(rec):
    """The name a record's input has on this OS, or None if the record has
    no usable path."""
    b64 = rec.get("path_b64")
    if isinstance(b64, str):
        try:
            return os.fsdecode(base64.b64decode(b64.encode("ascii"), validate=True))
        except (ValueError, UnicodeError):
            return None
    path = rec.get("path")
    return path if isinstance(path, str) and path else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(value):
    """``value`` (a record, recursively) with every string valid Unicode: a
    lone surrogate (a name's undecodable byte, or a ``\\udcxx`` escape read
    from a snapshot) becomes U+FFFD, which strict JSON readers accept."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return dict((valid_text(k), valid_text(v)) for k, v in value.items())
    if isinstance(value, list):
        return [valid_text(v) for v in value]
    return value
