"""Output files: checked before the work, written whole or not at all.

:func:`check_output_path` runs before a command does any work: the folder
must exist and be writable, OUT must be absent or a regular file (a device,
FIFO or folder is refused: ``-o /dev/full`` or a FIFO would fail, block or
be destroyed only at the end), OUT must not be any of the command's inputs
(the same file by :func:`os.path.samefile`, so links and hard links count),
whatever ``--force`` says, and an existing OUT needs ``--force`` (or is
appended to: ``append``, for ``wdfdbg batch``).

:func:`atomic_output` writes to a temporary file in OUT's folder and
renames it into place with :func:`os.replace` only when everything was
written: a full disk, a file-size limit or an interrupt leaves OUT as it
was and removes the temporary file. An OUT written again keeps its mode;
one with other hard links is overwritten in place once the temporary file
is complete (a rename would leave the links holding the old content).
Text that cannot be encoded (a non-UTF-8 file name's byte) is written as
U+FFFD. Write errors are :class:`OutputError` naming OUT (one line, exit 2).
"""

import codecs
import contextlib
import gzip
import os
import stat
import tempfile

from wdfdbg.errors import OutputError, UsageError


def _kind(mode):
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _reason(e):
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def check_output_path(path, inputs=(), force=False, append=False):
    """Check that ``path`` can be written as a command's output, before the
    command does any work; raise :class:`UsageError` when it cannot.
    ``inputs`` are the files the command reads (None entries are skipped).
    ``append``: OUT is appended to, never replaced (``wdfdbg batch``), so
    an existing regular file is taken without ``force`` once it opens for
    appending (opened and closed, nothing written). Returns the path to
    write: ``path`` with links resolved, so that writing a link's target
    keeps the link."""
    if not path:
        raise UsageError("the output file name is empty")
    try:
        st = os.stat(path)  # through links, /proc's magic ones too: /dev/stdout is the pipe it names
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError("%s: cannot check it: %s" % (path, _reason(e)))
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError("%s is %s, not a regular file: the output must be a regular file"
                         % (path, _kind(st.st_mode)))
    real = os.path.realpath(path)
    folder = os.path.dirname(real) or "."
    if not os.path.isdir(folder):
        raise UsageError("%s: the folder %s does not exist" % (path, folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError("%s: the folder %s is not writable" % (path, folder))
    if st is None:
        return real
    for source in inputs:
        if source and same_file(real, source):
            raise UsageError("%s is the input %s: refusing to overwrite an input (with or without --force)"
                             % (path, source))
    if append:
        try:
            os.close(os.open(real, os.O_WRONLY | os.O_APPEND))
        except OSError as e:
            raise UsageError("%s: cannot append to it: %s" % (path, _reason(e)))
        return real
    if not force:
        raise UsageError("%s exists (use --force to overwrite it)" % path)
    return real


def same_file(a, b):
    """Are ``a`` and ``b`` the same file (:func:`os.path.samefile`: links
    and hard links count)? False when either cannot be checked."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


TEMP_PREFIX = 64
UNENCODABLE = "wdfdbg-replace"


def _replace_unencodable(e):
    """A character text output cannot encode (a lone surrogate: a byte of a
    file name that is not UTF-8) is written as U+FFFD, never an error."""
    if isinstance(e, UnicodeEncodeError):
        # bytes: CPython's UTF-8 encoder takes only ASCII text from a handler
        return "\ufffd".encode(e.encoding, "replace") * (e.end - e.start), e.end
    raise e


codecs.register_error(UNENCODABLE, _replace_unencodable)


def _copy_into(tmp, real):
    """Write the finished ``tmp`` over ``real`` in place: OUT has other hard
    links, which a rename would leave holding the old content. Only this
    copy is not atomic (it runs once everything was written)."""
    with open(tmp, "rb") as src, open(real, "r+b") as dst:
        dst.truncate(0)
        while True:
            block = src.read(1 << 20)
            if not block:
                break
            dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Checked(object):
    """A binary or text file whose write errors are :class:`OutputError`
    naming OUT."""

    def __init__(self, f, name):
        self._f = f
        self._name = name

    def _fail(self, e):
        return OutputError("cannot write %s: %s" % (self._name, _reason(e)))

    def write(self, data):
        try:
            return self._f.write(data)
        except (OSError, ValueError) as e:
            raise self._fail(e)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        try:
            self._f.flush()
        except (OSError, ValueError) as e:
            raise self._fail(e)

    def fileno(self):
        return self._f.fileno()

    @property
    def closed(self):
        return self._f.closed


@contextlib.contextmanager
def atomic_output(path, mode="wb", compress=None, encoding="utf-8"):
    """``with atomic_output(OUT) as f: f.write(...)``: write OUT whole or
    not at all. ``mode`` is ``"wb"`` or ``"w"`` (text, ``encoding``);
    ``compress`` (binary only) gzips what is written, deterministically (no
    name, mtime 0, level 9), and is by name when None (OUT ends in ``.gz``).
    OUT should have passed :func:`check_output_path`."""
    if mode not in ("wb", "w"):
        raise ValueError("atomic_output writes 'wb' or 'w', not %r" % mode)
    if compress is None:
        compress = mode == "wb" and str(path).endswith(".gz")
    real = os.path.realpath(path)
    folder, base = os.path.split(real)
    try:
        before = os.stat(real)
    except OSError:
        before = None
    try:
        # the temporary name is at most 14 characters longer than its prefix
        # of OUT's name: a valid 250-byte OUT must not make it too long
        fd, tmp = tempfile.mkstemp(prefix=".%s." % base[:TEMP_PREFIX], suffix=".tmp", dir=folder or ".")
    except OSError as e:
        raise OutputError("cannot write %s: %s" % (path, _reason(e)))
    raw = gz = None
    done = False
    try:
        try:
            # an OUT written again keeps its mode; a new one gets what open() would give, not mkstemp's 0600
            os.chmod(tmp, stat.S_IMODE(before.st_mode) if before is not None else 0o666 & ~_umask())
        except OSError:
            pass
        raw = os.fdopen(fd, "wb") if mode == "wb" else os.fdopen(fd, "w", encoding=encoding, newline="",
                                                                   errors=UNENCODABLE)
        checked = _Checked(raw, path)
        if compress:
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=checked, mtime=0, compresslevel=9)
        yield gz if gz is not None else checked
        if gz is not None:
            gz.close()  # the gzip trailer, through the checked file
        checked.flush()
        try:
            os.fsync(raw.fileno())
            raw.close()
            if before is not None and before.st_nlink > 1 and stat.S_ISREG(before.st_mode):
                _copy_into(tmp, real)
                os.unlink(tmp)
            else:
                os.replace(tmp, real)
        except OSError as e:
            raise OutputError("cannot write %s: %s" % (path, _reason(e)))
        done = True
    finally:
        if not done:
            # the error that got here is the one to report: closing what
            # is left must not replace it
            for f in (gz, raw):
                if f is not None:
                    try:
                        f.close()
                    except Exception:
                        pass
            if raw is None:
                try:
                    os.close(fd)
                except OSError:
                    pass
            try:
                os.unlink(tmp)
            except OSError:
                pass
