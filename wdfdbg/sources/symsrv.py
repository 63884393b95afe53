"""Symbol paths as the debugger reads them (``_NT_SYMBOL_PATH``, ``--symbols``)
and the places they name: local folders, SymStore trees, caches, servers.

A path is ``;``-separated elements, each one of:

* ``srv*STORE*...*URL`` (or ``symsrv*symsrv.dll*STORE*...*URL``): the stores
  are searched in order, then the server; a file found further along is copied
  into the stores before it (the first local store is the downstream cache);
* ``cache*DIR``: DIR is searched at its place, and a file found in any later
  element is copied into it;
* a plain directory: searched as a SymStore tree
  (``Wdf01000.pdb/<GUID><AGE>/Wdf01000.pdb``; two-tier stores with
  ``index2.txt`` too) and as a flat folder (``Wdf01000.pdb``).

Every place is tried the same way (rust-minidump's ``Symbolizer`` over local
paths, caches and URLs, as ``shared/reference/style.md`` describes): the
first match wins. A place that fails says why in one line (``notes``); no
failure stops the search or the analysis. Downloads happen only for a URL in
a ``srv*`` element: urllib, a timeout, a size bound
(``limits.PDB_BYTES``), progress on stderr when it is a terminal, written to
a temporary file and renamed into the cache. A server's ``file.ptr``
redirect (``PATH:...``) is followed; compressed ``.pd_`` (CAB) files are not
read.
"""

import os
import shutil
import sys
import tempfile

from wdfdbg.sources import limits

MSF_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"
CAB_MAGIC = b"MSCF"
MAX_ELEMENTS = 64
MAX_PTR_BYTES = 4096


class Store(object):
    """A local folder: a SymStore tree (``tree``) or a flat folder too."""

    def __init__(self, path, flat=True):
        self.path = path
        self.flat = flat

    def describe(self):
        return self.path

    def candidates(self, name, key):
        base = self.path
        yield os.path.join(base, name, key, name)
        if os.path.exists(os.path.join(base, "index2.txt")):
            yield os.path.join(base, name[:2], name, key, name)
        if self.flat:
            yield os.path.join(base, name)

    def find(self, name, key, notes):
        for c in self.candidates(name, key):
            if os.path.isfile(c):
                return c
            ptr = os.path.join(os.path.dirname(c), "file.ptr")
            if c.endswith(os.path.join(key, name)) and os.path.isfile(ptr):
                target = _read_ptr(ptr, notes, self.path)
                if target and os.path.isfile(target):
                    return target
        return None

    def destination(self, name, key):
        return os.path.join(self.path, name, key, name)


class Server(object):
    """A symbol server URL (HTTP or HTTPS)."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def describe(self):
        return self.url


def _read_ptr(path, notes, where):
    """A SymStore ``file.ptr``: ``PATH:<file>`` or ``MSG:<text>``."""
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_PTR_BYTES).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if text.upper().startswith("PATH:"):
        return text[5:].strip()
    notes.append("%s: file.ptr says %s" % (where, text[:120] or "nothing"))
    return None


class Element(object):
    """One ``;``-separated element: ``places`` in search order. ``copy_back``:
    True for ``srv*`` (a file found at a place is copied into the element's
    stores before it), False for a plain folder, None for ``cache*DIR``
    (whose folder receives what any later element finds)."""

    def __init__(self, text, places, copy_back):
        self.text = text
        self.places = places
        self.copy_back = copy_back


def _is_url(text):
    low = text.lower()
    return low.startswith("http://") or low.startswith("https://")


def parse_symbol_path(text):
    """``_NT_SYMBOL_PATH`` text -> list of :class:`Element` (empty parts and
    elements this reader does not know are skipped; the caller notes them)."""
    elements = []
    for raw in (text or "").split(";")[:MAX_ELEMENTS]:
        part = raw.strip()
        if not part:
            continue
        low = part.lower()
        fields = part.split("*")
        if low.startswith("srv*") or low.startswith("symsrv*"):
            rest = fields[1:]
            if low.startswith("symsrv*") and rest:
                rest = rest[1:]          # symsrv*symsrv.dll*...: the DLL name
            places = [Server(f) if _is_url(f) else Store(os.path.expanduser(f), flat=False) for f in rest if f]
            elements.append(Element(part, places, True))
        elif low.startswith("cache*"):
            d = "*".join(fields[1:])
            elements.append(Element(part, [Store(os.path.expanduser(d), flat=False)] if d else [], None))
        elif _is_url(part):
            elements.append(Element(part, [Server(part)], True))
        else:
            elements.append(Element(part, [Store(os.path.expanduser(part))], False))
    return elements


class SymbolPath(object):
    """The places of one symbol path, searched the way the debugger does.

    ``find(name, key, accept)`` -> a local file path or None; ``notes``
    collects one line per place that failed in a way a user should hear about
    (a download refused, a bad file, a file.ptr message). ``accept(path)``
    checks a candidate (a PDB's GUID and age); a rejected one is noted and
    the search goes on.
    """

    def __init__(self, text, progress=None, opener=None):
        self.text = text or ""
        self.elements = parse_symbol_path(self.text)
        self.notes = []
        self.progress = progress if progress is not None else sys.stderr.isatty()
        self._opener = opener
        self._temps = []

    def cleanup(self):
        """Remove what a download without a cache store left in a temporary folder."""
        while self._temps:
            shutil.rmtree(self._temps.pop(), ignore_errors=True)

    def __bool__(self):
        return bool(self.elements)

    __nonzero__ = __bool__

    def describe(self):
        return self.text

    def find(self, name, key, accept=None, magic=MSF_MAGIC):
        caches = []           # cache*DIR stores seen so far: every later find is copied there
        for element in self.elements:
            if element.copy_back is None:   # cache*DIR
                for store in element.places:
                    hit = self._local(store, name, key, accept)
                    if hit:
                        return hit
                    caches.append(store)
                continue
            earlier = []
            for place in element.places:
                if isinstance(place, Store):
                    hit = self._local(place, name, key, accept)
                    if hit:
                        return self._copy(hit, name, key, earlier + caches)
                    earlier.append(place)
                else:
                    targets = earlier + caches
                    hit = self._download(place, name, key, accept, magic, targets)
                    if hit:
                        return hit
        return None

    def _local(self, store, name, key, accept):
        found = store.find(name, key, self.notes)
        if found and accept is not None:
            why = accept(found)
            if why:
                self.notes.append("%s: %s" % (found, why))
                return None
        return found

    def _copy(self, path, name, key, stores):
        for store in stores:
            dest = store.destination(name, key)
            if os.path.abspath(dest) == os.path.abspath(path) or os.path.exists(dest):
                continue
            try:
                _atomic_copy(path, dest)
            except OSError as e:
                self.notes.append("%s: not cached: %s" % (dest, e.strerror or e))
        return path

    def _download(self, server, name, key, accept, magic, stores):
        url = "%s/%s/%s/%s" % (server.url, name, key, name)
        if stores:
            dest = stores[0].destination(name, key)
        else:
            folder = tempfile.mkdtemp(prefix="wdfdbg-sym-")
            self._temps.append(folder)
            dest = os.path.join(folder, name)
        try:
            data_path = self._fetch(url, dest, magic)
        except DownloadError as e:
            self.notes.append("%s: %s" % (url, e))
            return None
        if accept is not None:
            why = accept(data_path)
            if why:
                self.notes.append("%s: %s" % (url, why))
                _remove(data_path)
                return None
        return self._copy(data_path, name, key, stores[1:])

    def _fetch(self, url, dest, magic):
        """Download ``url`` into ``dest`` (atomically); DownloadError otherwise."""
        import urllib.error
        import urllib.request
        limit = limits.PDB_BYTES.value()
        timeout = limits.DOWNLOAD_TIMEOUT.value()
        opener = self._opener or urllib.request.urlopen
        request = urllib.request.Request(url, headers={"User-Agent": "Microsoft-Symbol-Server/10.0.0.0"})
        try:
            response = opener(request, timeout=timeout)
        except urllib.error.HTTPError as e:
            raise DownloadError("not on the server (HTTP %d)" % e.code if e.code == 404 else "HTTP %d %s" % (e.code, e.reason))
        except urllib.error.URLError as e:
            raise DownloadError("cannot reach the server: %s" % (getattr(e, "reason", None) or e))
        except (OSError, ValueError) as e:
            raise DownloadError("cannot reach the server: %s" % e)
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > limit:
                raise DownloadError("%d bytes, more than %s (%s)" % (total, limits.PDB_BYTES.text(), limits.PDB_BYTES.hint()))
            folder = os.path.dirname(dest)
            try:
                os.makedirs(folder, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".part-", dir=folder)
            except OSError as e:
                raise DownloadError("cannot write into %s: %s" % (folder, e.strerror or e))
            got = 0
            head = b""
            try:
                with os.fdopen(fd, "wb") as out:
                    while True:
                        chunk = response.read(1 << 16)
                        if not chunk:
                            break
                        got += len(chunk)
                        if got > limit:
                            raise DownloadError("more than %s (%s)" % (limits.PDB_BYTES.text(), limits.PDB_BYTES.hint()))
                        if len(head) < 32:
                            head += chunk[:32 - len(head)]
                        out.write(chunk)
                        if self.progress:
                            _progress(url, got, total)
                if self.progress:
                    sys.stderr.write("\n")
                if total is not None and got != total:
                    raise DownloadError("cut short (%d of %d bytes)" % (got, total))
                if head.startswith(CAB_MAGIC):
                    raise DownloadError("a compressed (CAB) file; wdfdbg reads only uncompressed ones")
                if head[:4].upper() == b"PATH":
                    raise DownloadError("the server sent a file.ptr redirect wdfdbg does not follow over HTTP")
                if magic and not head.startswith(magic):
                    raise DownloadError("not a %s (bad content)" % ("PDB" if magic == MSF_MAGIC else "PE image"))
                os.replace(tmp, dest)
            except DownloadError:
                _remove(tmp)
                raise
            except (OSError, ValueError) as e:
                _remove(tmp)
                raise DownloadError("download failed: %s" % (getattr(e, "strerror", None) or e))
        return dest


class DownloadError(Exception):
    """One line: why a download gave nothing."""


def _progress(url, got, total):
    name = url.rsplit("/", 1)[-1]
    if total:
        sys.stderr.write("\rwdfdbg: downloading %s: %d%% of %s" % (name, got * 100 // total, limits.size_text(total)))
    else:
        sys.stderr.write("\rwdfdbg: downloading %s: %s" % (name, limits.size_text(got)))
    sys.stderr.flush()


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _atomic_copy(src, dest):
    folder = os.path.dirname(dest)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            shutil.copyfileobj(f, out)
        os.replace(tmp, dest)
    except OSError:
        _remove(tmp)
        raise


def pdb_key(guid, age):
    """SymStore's key for a PDB: GUID upper-case hex without dashes, age in hex."""
    return "%s%x" % (str(guid).replace("-", "").upper(), int(age))
