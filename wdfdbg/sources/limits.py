"""Every bound wdfdbg puts on the size of untrusted input, in one place
(``docs/limits.md`` explains each one).

A :class:`Limit` has a default chosen for real inputs with room to spare,
and an environment variable that raises (or lowers) it: ``WDFDBG_MAX_...=N``
where N is a count or a size in bytes (a ``K``, ``M`` or ``G`` suffix means
KiB, MiB, GiB). The value is read when the limit is checked, so a test or a
pipeline can set it per run. A bad value is a usage error (exit 2), never a
silent fallback to the default.
"""

import os

from wdfdbg.errors import UsageError

_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text):
    """``"512M"`` -> 536870912; ``"0x1000"`` -> 4096; None when malformed."""
    s = str(text).strip().lower().replace("_", "")
    if s.startswith("0x"):
        digits, mult = s[2:], 1
        base = 16
    else:
        base = 10
        for tail in ("ib", "b"):
            if s.endswith(tail) and len(s) > len(tail) and not s[-len(tail) - 1].isdigit():
                s = s[:-len(tail)]
                break
        mult = _SUFFIX.get(s[-1:]) if s[-1:].isalpha() else 1
        digits = s[:-1] if s[-1:].isalpha() else s
    if mult is None or not digits or not all(c in "0123456789abcdef"[:base] for c in digits):
        return None
    return int(digits, base) * mult


def size_text(n):
    """Bytes for people: ``512 MiB``, ``1.5 MiB``, ``700 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / float(1 << shift)
            return ("%d %s" % (v, unit)) if v == int(v) else ("%.1f %s" % (v, unit))
    return "%d bytes" % n


class Limit(object):
    """One bound: ``env`` (the variable that overrides it), ``default``,
    ``unit`` ("bytes" or a plural noun for counts)."""

    __slots__ = ("env", "default", "unit")

    def __init__(self, env, default, unit="bytes"):
        self.env = env
        self.default = default
        self.unit = unit

    def value(self):
        raw = os.environ.get(self.env)
        if raw is None or not raw.strip():
            return self.default
        n = parse_size(raw)
        if n is None or n < 1:
            raise UsageError("%s=%s: expected a positive number (a K, M or G suffix is allowed)"
                             % (self.env, raw.strip()[:40]))
        return n

    def text(self, n=None):
        n = self.value() if n is None else n
        return size_text(n) if self.unit == "bytes" else "%d %s" % (n, self.unit)

    def hint(self):
        """``set WDFDBG_MAX_X to allow more`` for error messages."""
        return "set %s to allow more" % self.env


# -- dump files -----------------------------------------------------------------
# A triage ("small memory") dump holds a few MB (the real Windows 10 one in
# shared/dumps is 1.4 MB); the whole file is read into memory, so bound it.
TRIAGE_FILE = Limit("WDFDBG_MAX_TRIAGE_BYTES", 256 << 20)

# -- JSON documents (snapshots, --types files) ----------------------------------
# The JSON text after decompression: what a bomb can make wdfdbg hold before
# it is refused. Parsing needs about twice the text again, so a snapshot of
# this size costs ~3x in memory; real ones are a few MB (a converted triage
# dump with --all is 1.6 MB of text).
JSON_BYTES = Limit("WDFDBG_MAX_JSON_BYTES", 256 << 20)
# Decompressed size at most this many times the file's size, once past
# GZIP_FREE. Real snapshots expand 4x to 25x (base64 of kernel memory);
# deflate can reach about 1032x, which only a bomb or a heap of zeros does.
GZIP_RATIO = Limit("WDFDBG_MAX_GZIP_RATIO", 100, "times the file's size")
GZIP_FREE = 64 << 20
# The xz decoder's own memory (its dictionary): xz -9 needs 65 MiB, the
# default preset (volatility3's .json.xz) 9 MiB; a header asking for more
# is refused as corrupt, not allocated.
XZ_MEMORY = 128 << 20
# The Python objects json.loads would build, estimated from the text before
# parsing it: ESTIMATE_* bytes per object, array and item (CPython 3.8-3.12:
# a small dict is 184-232 bytes, a short str about 50, a list slot 8).
JSON_MEMORY = Limit("WDFDBG_MAX_JSON_MEMORY", 512 << 20)
ESTIMATE_OBJECT = 200
ESTIMATE_ARRAY = 64
ESTIMATE_ITEM = 40
# Memory ranges of one snapshot. A recording stores the pages an analysis
# read, merged where adjacent (a 10^6-object heap is ~60,000 pages); a
# converted triage dump has about a thousand.
RANGES = Limit("WDFDBG_MAX_RANGES", 1 << 20, "memory ranges")

# -- types -------------------------------------------------------------------------
# The largest struct, union or class size a type an analysis READS may
# declare, checked when the layouts compile it (wdfdbg/layouts/model.py), not
# when an ISF is loaded: a real kernel declares larger types no analysis
# reads (the 1809 ntkrnlmp.pdb's _MI_HYPER_SPACE is 264 MiB). Every KMDF
# object class is below 64 KiB (FxObject::m_ObjectSize, the object's size, is
# a USHORT; kmdf.md section 2), and the largest kernel structures an analysis
# could read are tens of KiB (the x64 KPCR with its KPRCB is 0xB080 bytes on
# Windows 10 2004). 1 MiB leaves 16 times the KMDF bound and caps what one
# struct read can cost (a read covers the fields, StructLayout.extent).
STRUCT_SIZE = Limit("WDFDBG_MAX_STRUCT_BYTES", 1 << 20)

# -- symbols (--symbols, _NT_SYMBOL_PATH) -------------------------------------------
# A PDB is read whole into memory, and a download from a symbol server is cut
# off at this size. The public ntkrnlmp.pdb of Windows 10/11 is 8-12 MB,
# Wdf01000.pdb about 3 MB; the biggest PDBs people meet (browsers) pass 1 GiB.
PDB_BYTES = Limit("WDFDBG_MAX_PDB_BYTES", 512 << 20)
# Seconds a symbol-server request may wait for the next bytes before it is
# given up (urllib's socket timeout): a failed download is a note, not a hang.
DOWNLOAD_TIMEOUT = Limit("WDFDBG_SYMBOL_TIMEOUT", 30, "seconds")

ALL = (TRIAGE_FILE, JSON_BYTES, GZIP_RATIO, JSON_MEMORY, RANGES, STRUCT_SIZE, PDB_BYTES, DOWNLOAD_TIMEOUT)
