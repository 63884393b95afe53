"""Read a ``wdfdbg.report/1`` document as it is written, one object record at
a time (``shared/spec/report-json.md``).

The HTML report, the DOT graph and the diff consume report documents, not
the decoders' internals. A report of 10^6 objects is about a gigabyte of
JSON, so they must not hold it whole: :class:`ReportReader` is a text
stream (``write``/``close``) that ``memtree.execute(session, args, out=...)``
or a file copy writes into. It hands every top-level key but ``objects`` to
``on_key(key, value)`` and every element of ``objects`` to
``on_object(record)``, and keeps only the unparsed tail of what it was given.

:class:`JsonlReader` reads a saved ``memtree --jsonl`` stream
(``docs/report.md``) into the same callbacks, as if it were the ``--json``
document of the same analysis (its object records with the problems and
lookaside lists found after them, its keys in the document's order), and
hands ``tee`` that document's text; :func:`read_file` picks the reader by
the file's first characters.

Only the top level and its arrays are parsed by hand (an array's elements
one at a time, so a long ``problems`` list is not re-parsed as it grows);
every value inside is parsed by the stdlib decoder
(``json.JSONDecoder.raw_decode``), so what it accepts is exactly JSON. A
value cut off at the end of the text so far is tried again only once the
unparsed tail has doubled, which keeps the work linear.
"""

import json
import re
import tempfile
import zlib

from wdfdbg.errors import InputError
from wdfdbg.render.lines import LineSplitter, LineTooLong

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


class JsonlReader(object):
    """A push parser for a ``memtree --jsonl`` stream that gives what
    :class:`ReportReader` gives for the ``--json`` document of the same
    analysis (``docs/report.md``: the lines and how they map to it).

    Object lines are spooled as text (in memory up to ``SPOOL_MEMORY``,
    then in a temporary file) while the problem, ``allocated`` and summary
    lines are read; :meth:`close` then delivers the keys and the records in
    the document's order, each record with the problems found after its
    line (in the order they were found, as the document has them) and its
    lookaside's whole ``allocated`` list. ``tee`` gets the document's text,
    equal to what ``memtree --json`` writes. What is held besides the
    spool: the problems (the document's ``problems`` key) and, per object
    address with problems, their line numbers."""

    SPOOL_MEMORY = 8 << 20
    _OBJECT_PREFIX = '{"record": "object", '

    def __init__(self, on_key, on_object, what="report", tee=None):
        self.on_key = on_key
        self.on_object = on_object
        self.what = what
        self.tee = tee
        self.objects = 0
        self.chars = 0
        self.lines = 0
        self._split = LineSplitter()
        self._head = None
        self._tail = None
        self._problems = []
        self._owned = {}       # object address -> indexes of its problems in self._problems
        self._allocated = {}   # lookaside address -> its whole allocated list
        self._later = []       # (kind, line) of lines of other kinds (a triage line), in order
        self._spool = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_MEMORY, mode="w+", encoding="utf-8")

    # the text-stream interface
    def write(self, text):
        if not text:
            return 0
        self.chars += len(text)
        try:
            for line in self._split.lines(text):
                self._line(line)
        except LineTooLong as e:
            raise InputError("%s: %s" % (self.what, e))
        return len(text)

    def flush(self):
        pass

    def _bad(self, why):
        raise InputError("%s: line %d %s" % (self.what, self.lines, why))

    def _line(self, line):
        if not line.strip():
            return
        self.lines += 1
        if line.startswith(self._OBJECT_PREFIX) and self._head is not None:
            self._spool.write(line)  # parsed once, when it is delivered
            self._spool.write("\n")
            self.objects += 1
            return
        try:
            rec = json.loads(line)
        except ValueError as e:
            self._bad("is not JSON: %s" % e)
        if not isinstance(rec, dict) or not isinstance(rec.get("record"), str):
            self._bad("is not a JSONL report record (no \"record\" key)")
        kind = rec["record"]
        if self._head is None:
            if kind != "report" or rec.get("schema") != "wdfdbg.report/1":
                self._bad("is not a wdfdbg.report/1 JSONL report line")
            self._head = rec
        elif kind == "object":  # spaced differently from memtree's own lines
            self._spool.write(json.dumps(rec))
            self._spool.write("\n")
            self.objects += 1
        elif kind == "problem":
            owner = rec.get("object")
            if owner is not None:
                self._owned.setdefault(owner, []).append(len(self._problems))
            self._problems.append(dict((k, v) for k, v in rec.items() if k not in ("record", "object")))
        elif kind == "allocated":
            self._allocated[rec.get("address")] = rec.get("allocated")
        elif kind == "summary" and self._tail is None:
            self._tail = rec
        elif kind != "report":
            self._later.append((kind, rec))

    def close(self):
        if self._split.rest().strip():
            raise InputError("%s: the JSONL stream ends inside a line (%d characters read)" % (self.what, self.chars))
        if self._head is None:
            raise InputError("%s: empty: no JSONL report line" % self.what)
        if self._tail is None:
            raise InputError("%s: the JSONL stream ends early: no summary line after %d object lines"
                             % (self.what, self.objects))
        try:
            self._deliver()
        finally:
            self._spool.close()

    # -- the document ---------------------------------------------------------
    def _document(self):
        """The document's keys in its order (``render/report.py`` ``_document``),
        ``objects`` empty."""
        head, tail = self._head, self._tail
        doc = {}
        for k in ("schema", "tool", "source", "bugcheck"):
            doc[k] = head.get(k)
        doc["drivers"] = tail.get("drivers")
        doc["objects"] = []
        doc["problems"] = self._problems
        doc["summary"] = tail.get("summary")
        if "schema_version" in head:
            doc["schema_version"] = head["schema_version"]
        if head.get("command"):
            doc["command"] = head["command"]
        if tail.get("notes"):
            doc["notes"] = tail["notes"]
        for k, v in list(head.items()) + list(tail.items()):
            if k not in doc and k not in ("record", "notes", "command"):
                doc[k] = v
        for kind, rec in self._later:
            if kind in rec:  # {"record": "triage", "triage": {...}, "piling": {...}}: the document's keys
                for k, v in rec.items():
                    if k != "record":
                        doc.setdefault(k, v)
            else:  # a line that is the value itself: {"record": "triage", "bugcheck": ...}
                doc.setdefault(kind, dict((k, v) for k, v in rec.items() if k != "record"))
        return doc

    def _record(self, line):
        """(record, its text in the document) of one spooled object line."""
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise InputError("%s: an object line is not JSON: %s" % (self.what, e))
        if not isinstance(rec, dict):
            raise InputError("%s: an object line is not a JSON object" % self.what)
        rec.pop("record", None)
        address = rec.get("address")
        patched = False
        owned = self._owned.get(address)
        if owned and len(owned) > len(rec.get("problems") or ()):
            rec["problems"] = [self._problems[i] for i in owned]  # in the order found, as the document
            patched = True
        allocated = self._allocated.get(address)
        if allocated is not None and isinstance(rec.get("lookaside"), dict):
            rec["lookaside"]["allocated"] = allocated
            patched = True
        if patched or not line.startswith(self._OBJECT_PREFIX):
            return rec, _ENCODE(rec)
        return rec, "{" + line[len(self._OBJECT_PREFIX):]

    def _deliver(self):
        doc = self._document()
        head_text, tail_text = _ENCODE(doc).split('"objects": []', 1) if self.tee is not None else ("", "")
        keys = list(doc)
        at = keys.index("objects")
        for k in keys[:at]:
            self.on_key(k, doc[k])
        if self.tee is not None:
            self.tee(head_text + '"objects": [')
        self._spool.seek(0)
        first = True
        for line in self._spool:
            rec, text = self._record(line.rstrip("\n"))
            if self.tee is not None:
                self.tee(text if first else ", " + text)
            first = False
            self.on_object(rec)
        if self.tee is not None:
            self.tee("]" + tail_text + "\n")
        for k in keys[at + 1:]:
            self.on_key(k, doc[k])


# memtree's encoder (render/report.py _ENC): the same text as --json
_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode
_JSONL_START = re.compile(r'\s*\{\s*"record"\s*:\s*"report"')


def _open_text(path):
    """(raw file, text stream) of a plain or gzip regular file (a FIFO or a
    device is refused: ``sources/inputfile.py``)."""
    import gzip
    import io
    from wdfdbg.sources.inputfile import open_input
    raw, _ = open_input(path)
    head = raw.read(2)
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return raw, io.TextIOWrapper(stream, encoding="utf-8", errors="strict")


def read_file(path, on_key, on_object, chunk=1 << 20, tee=None):
    """Feed the report file at ``path`` (a ``memtree --json`` document or a
    ``memtree --jsonl`` stream, plain or gzip) through a
    :class:`ReportReader` or a :class:`JsonlReader`."""
    raw, text = _open_text(path)
    with raw:
        reader = None
        try:
            while True:
                piece = text.read(chunk)
                if not piece:
                    break
                if reader is None:
                    cls = JsonlReader if _JSONL_START.match(piece) else ReportReader
                    reader = cls(on_key, on_object, what=path, tee=tee)
                reader.write(piece)
        except (OSError, EOFError, UnicodeDecodeError, zlib.error) as e:  # zlib.error: a corrupt gzip stream
            raise InputError("%s: cannot read: %s" % (path, e))
        if reader is None:
            reader = ReportReader(on_key, on_object, what=path, tee=tee)
        reader.close()
    return reader


def report_format(path):
    """``"json"`` when the file at ``path`` starts like a wdfdbg.report/1
    JSON document (its first key is ``schema``), ``"jsonl"`` when it starts
    like a ``memtree --jsonl`` stream (its report line), gzip or not; else
    None."""
    import gzip
    from wdfdbg.sources.inputfile import open_input
    try:
        f, _ = open_input(path)  # regular files only: a FIFO would block here (the source's reader refuses it)
    except InputError:
        return None
    try:
        with f:
            head = f.read(512)
            if head[:2] == b"\x1f\x8b":
                f.seek(0)
                head = gzip.GzipFile(fileobj=f).read(512)
    except (OSError, EOFError, ValueError, zlib.error):
        return None
    text = head.decode("utf-8", "replace").lstrip()
    if not text.startswith("{") or '"wdfdbg.report/1"' not in text[:200]:
        return None
    return "jsonl" if _JSONL_START.match(text) else "json"


def looks_like_report(path):
    """True when the file at ``path`` is a saved report (:func:`report_format`)."""
    return report_format(path) is not None
