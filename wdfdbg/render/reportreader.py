"""Read a ``wdfdbg.report/1`` document as it is written, one object record at
a time (``shared/spec/report-json.md``).

The HTML report, the DOT graph and the diff consume report documents, not
the decoders' internals. A report of 10^6 objects is about a gigabyte of
JSON, so they must not hold it whole: :class:`ReportReader` is a text
stream (``write``/``close``) that ``memtree.execute(session, args, out=...)``
or a file copy writes into. It hands every top-level key but ``objects`` to
``on_key(key, value)`` and every element of ``objects`` to
``on_object(record)``, and keeps only the unparsed tail of what it was given.

Only the top level and its arrays are parsed by hand (an array's elements
one at a time, so a long ``problems`` list is not re-parsed as it grows);
every value inside is parsed by the stdlib decoder
(``json.JSONDecoder.raw_decode``), so what it accepts is exactly JSON. A
value cut off at the end of the text so far is tried again only once the
unparsed tail has doubled, which keeps the work linear.
"""

import json

from wdfdbg.errors import InputError

_WS = " \t\r\n"
_DECODER = json.JSONDecoder()
_COMPACT_AT = 1 << 16  # drop consumed text once this much has piled up

# states
_START, _KEY, _COLON, _VALUE, _ELEMENT, _DONE = range(6)


class ReportReader(object):
    """A push parser for one report document.

    ``on_key(key, value)`` gets each top-level key except ``objects``, in
    document order; ``on_object(record)`` each object record. ``close()``
    raises :class:`~wdfdbg.errors.InputError` (one line) when the text was
    not one whole JSON object."""

    def __init__(self, on_key, on_object, what="report", tee=None):
        self.on_key = on_key
        self.tee = tee  # tee(text): gets every piece of text as it comes
        self.on_object = on_object
        self.what = what
        self._buf = ""
        self._pos = 0
        self._state = _START
        self._key = None
        self._first = True  # no comma expected before the next key/element
        self._comma = False  # a ',' was the last token (a '}' or ']' may not follow)
        self._items = None  # elements of a top-level array other than objects
        self._retry_at = 0  # do not re-try an incomplete value before the text is this long
        self.objects = 0
        self.chars = 0

    # the text-stream interface execute(out=...) writes to
    def write(self, text):
        if not text:
            return 0
        self.chars += len(text)
        if self.tee is not None:
            self.tee(text)
        if self._pos >= _COMPACT_AT:
            self._buf = self._buf[self._pos:]
            self._retry_at = max(0, self._retry_at - self._pos)
            self._pos = 0
        self._buf += text
        if len(self._buf) >= self._retry_at:
            self._parse(final=False)
        return len(text)

    def flush(self):
        pass

    def close(self):
        self._parse(final=True)
        if self._state != _DONE:
            raise InputError("%s: the JSON ends early (%d characters read)" % (self.what, self.chars))
        if self._buf[self._pos:].strip(_WS):
            raise InputError("%s: text after the end of the JSON document" % self.what)

    # -- internals --------------------------------------------------------
    def _skip(self):
        buf, pos, n = self._buf, self._pos, len(self._buf)
        while pos < n and buf[pos] in _WS:
            pos += 1
        self._pos = pos
        return buf[pos] if pos < n else ""

    def _value(self, final):
        """The JSON value at the cursor, or (False, None) if it may be
        incomplete. A number or literal at the very end of the text so far
        could still grow, so it is taken only once more text follows."""
        try:
            value, end = _DECODER.raw_decode(self._buf, self._pos)
        except ValueError as e:
            if final:
                raise InputError("%s: not JSON: %s" % (self.what, e))
            self._wait()
            return False, None
        if end >= len(self._buf) and not final and self._buf[self._pos] not in "{[\"":
            self._wait()
            return False, None
        self._pos = end
        self._retry_at = 0
        return True, value

    def _wait(self):
        tail = len(self._buf) - self._pos
        self._retry_at = len(self._buf) + max(tail, 4096)

    def _bad(self, expected):
        got = self._buf[self._pos:self._pos + 20]
        raise InputError("%s: not a wdfdbg report: expected %s, found %r" % (self.what, expected, got))

    def _parse(self, final):
        while True:
            ch = self._skip()
            if not ch:
                return
            st = self._state
            if st == _START:
                if ch != "{":
                    self._bad("a JSON object")
                self._pos += 1
                self._state, self._first = _KEY, True
            elif st == _KEY:
                if ch == "}" and self._comma:
                    self._bad("a key after ','")
                if ch == "}":
                    self._pos += 1
                    self._state = _DONE
                    return
                if not self._first:
                    if ch != ",":
                        self._bad("',' or '}'")
                    self._pos += 1
                    self._first = self._comma = True
                    continue
                if ch != '"':
                    self._bad("a key")
                ok, key = self._value(final)
                if not ok:
                    return
                self._key, self._state, self._comma = key, _COLON, False
            elif st == _COLON:
                if ch != ":":
                    self._bad("':'")
                self._pos += 1
                self._state = _VALUE
            elif st == _VALUE and ch == "[":
                self._pos += 1
                self._items = None if self._key == "objects" else []
                self._state, self._first = _ELEMENT, True
            elif st == _VALUE:
                if self._key == "objects":
                    self._bad("the objects array")
                ok, value = self._value(final)
                if not ok:
                    return
                self.on_key(self._key, value)
                self._state, self._first = _KEY, False
            elif st == _ELEMENT:
                if ch == "]" and self._comma:
                    self._bad("a value after ','")
                if ch == "]":
                    self._pos += 1
                    if self._items is not None:
                        self.on_key(self._key, self._items)
                        self._items = None
                    self._state, self._first = _KEY, False
                    continue
                if not self._first:
                    if ch != ",":
                        self._bad("',' or ']'")
                    self._pos += 1
                    self._first = self._comma = True
                    continue
                ok, rec = self._value(final)
                if not ok:
                    return
                self._first = self._comma = False
                if self._items is not None:
                    self._items.append(rec)
                    continue
                if not isinstance(rec, dict):
                    self._bad("an object record")
                self.objects += 1
                self.on_object(rec)
            else:  # _DONE: only whitespace may follow (checked by close)
                return


def read_file(path, on_key, on_object, chunk=1 << 20, tee=None):
    """Feed the report file at ``path`` (plain or gzip) through a
    :class:`ReportReader`."""
    import gzip
    import io
    try:
        raw = open(path, "rb")
    except OSError as e:
        raise InputError("%s: cannot open: %s" % (path, e.strerror or e))
    with raw:
        head = raw.read(2)
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict")
        reader = ReportReader(on_key, on_object, what=path, tee=tee)
        try:
            while True:
                piece = text.read(chunk)
                if not piece:
                    break
                reader.write(piece)
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise InputError("%s: cannot read: %s" % (path, e))
        reader.close()
    return reader


def looks_like_report(path):
    """True when the file at ``path`` starts like a wdfdbg.report/1 JSON
    document (its first key is ``schema``), gzip or not."""
    import gzip
    try:
        with open(path, "rb") as f:
            head = f.read(512)
            if head[:2] == b"\x1f\x8b":
                f.seek(0)
                head = gzip.GzipFile(fileobj=f).read(512)
    except (OSError, EOFError):
        return False
    text = head.decode("utf-8", "replace").lstrip()
    return text.startswith("{") and '"wdfdbg.report/1"' in text[:200]
