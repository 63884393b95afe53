"""Read a ``wdfdbg.report/1`` document as it is written, one object record
at a time.

memtree streams its report (``render/report.py`` ``write_streaming``) in
pieces of at most 8,000 characters (``render/output.py``). A
:class:`ReportStream` is fed those pieces and hands each top-level member
to ``on_field(key, value)`` and each element of ``"objects"`` to
``on_object(record)`` as soon as it is complete, so the analysis of a dump
with a million objects never holds the report's text or all its object
records at once. A ``--jsonl`` object stream would feed ``on_object`` line
by line instead; nothing else changes.

The parser accepts any JSON object (any key order, any whitespace); it
never raises from :meth:`feed` (it is called from inside the command's
output path), and :meth:`close` returns the first error, or None.
"""

import json

_WS = " \t\r\n"
_DECODER = json.JSONDecoder()
_MIN_RETRY = 4096  # characters to wait for before re-trying an incomplete value


class ReportError(ValueError):
    """The text is not one JSON object."""


class ReportStream(object):
    """Push parser of one top-level JSON object; ``stream_key``'s array is
    delivered element by element."""

    def __init__(self, on_field, on_object, stream_key="objects"):
        self.on_field = on_field
        self.on_object = on_object
        self.stream_key = stream_key
        self._buf = ""
        self._pos = 0
        self._state = "start"
        self._key = None
        self._retry_len = 0  # unparsed characters to wait for before trying again
        self.error = None
        self.chars = 0

    # -- feeding ---------------------------------------------------------
    def feed(self, text):
        if self.error is not None or not text:
            return
        self.chars += len(text)
        if self._pos:
            self._buf = self._buf[self._pos:]
            self._pos = 0
        self._buf += text
        if len(self._buf) < self._retry_len:
            return
        self._run(final=False)

    def close(self):
        """Finish; returns None, or the error that made the text unusable."""
        if self.error is None:
            self._run(final=True)
            if self.error is None and self._state != "end":
                self.error = "the report ends early (%d characters read)" % self.chars
        return self.error

    # -- the state machine -------------------------------------------------
    def _run(self, final):
        try:
            while self._step(final):
                pass
        except ReportError as e:
            self.error = str(e)
        except Exception as e:  # a callback failed: the record builder's bug, reported as such
            self.error = "reading the report failed: %s: %s" % (type(e).__name__, e)

    def _skip_ws(self):
        buf, i, n = self._buf, self._pos, len(self._buf)
        while i < n and buf[i] in _WS:
            i += 1
        self._pos = i
        return buf[i] if i < n else None

    def _value(self, final):
        """Decode one JSON value at the cursor: (True, value) or (False, None)
        when more text is needed. A value that ends exactly at the end of the
        buffer is taken only when ``final`` (a number may go on)."""
        try:
            value, end = _DECODER.raw_decode(self._buf, self._pos)
        except ValueError as e:
            if final:
                if getattr(e, "pos", 0) >= len(self._buf) - 1:
                    raise ReportError("the report ends early (%d characters read)" % self.chars)
                raise ReportError("not a JSON report: %s" % e)
            # doubling the wait keeps a long value's re-parsing linear
            unparsed = len(self._buf) - self._pos
            self._retry_len = unparsed + max(_MIN_RETRY, unparsed)
            return False, None
        if end >= len(self._buf) and not final:
            self._retry_len = len(self._buf) - self._pos + 1
            return False, None
        self._pos = end
        self._retry_len = 0
        return True, value

    def _expect(self, chars, what):
        c = self._skip_ws()
        if c is None:
            return None
        if c not in chars:
            raise ReportError("not a JSON report: expected %s at character %d, found %r"
                              % (what, self.chars - len(self._buf) + self._pos, c))
        self._pos += 1
        return c

    def _step(self, final):
        st = self._state
        if st == "start":
            return self._expect("{", "'{'") is not None and self._set("key_or_end")
        if st in ("key_or_end", "key"):
            c = self._skip_ws()
            if c is None:
                return False
            if c == "}" and st == "key_or_end":
                self._pos += 1
                return self._set("end")
            if c != '"':
                raise ReportError("not a JSON report: expected a key, found %r" % c)
            ok, key = self._value(final)
            if not ok:
                return False
            self._key = key
            return self._set("colon")
        if st == "colon":
            return self._expect(":", "':'") is not None and self._set("value")
        if st == "value":
            c = self._skip_ws()
            if c is None:
                return False
            if self._key == self.stream_key and c == "[":
                self._pos += 1
                return self._set("item_or_close")
            ok, value = self._value(final)
            if not ok:
                return False
            self.on_field(self._key, value)
            return self._set("after_value")
        if st in ("item_or_close", "item"):
            c = self._skip_ws()
            if c is None:
                return False
            if c == "]" and st == "item_or_close":
                self._pos += 1
                self.on_field(self._key, None)  # the array was streamed
                return self._set("after_value")
            ok, value = self._value(final)
            if not ok:
                return False
            self.on_object(value)
            return self._set("after_item")
        if st == "after_item":
            c = self._expect(",]", "',' or ']'")
            if c is None:
                return False
            if c == "]":
                self.on_field(self._key, None)
                return self._set("after_value")
            return self._set("item")
        if st == "after_value":
            c = self._expect(",}", "',' or '}'")
            if c is None:
                return False
            return self._set("key" if c == "," else "end")
        # end: only whitespace may follow
        c = self._skip_ws()
        if c is not None:
            raise ReportError("not a JSON report: text after the end (%r)" % c)
        return False

    def _set(self, state):
        self._state = state
        return True
