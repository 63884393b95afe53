"""The binary snapshot container (``docs/snapshot-binary.md``): a version 1
snapshot document (``shared/spec/snapshot-format.md``) whose memory ranges
are raw bytes in the same file instead of base64 text in the JSON, read
through ``mmap`` so that a range's bytes are never copied.

Layout (little-endian; offsets from the start of the file)::

    0x00  8s   magic "WDFSNAPB"
    0x08  u32  container version (1)
    0x0C  u32  flags (0)
    0x10  u64  metadata offset     u64 metadata length   (UTF-8 JSON)
    0x20  u64  range table offset  u64 range count       (24 bytes a range)
    0x30  u64  file size as written
    0x38  u64  reserved (0)
    range table: u64 address, u64 data offset, u64 length; sorted by address

Untrusted input: every offset and length is checked against the file's
real size before anything is mapped or read, ranges must not overlap in
the address space nor in the file, and the metadata goes through the same
validation and limits as a JSON snapshot. Any problem is a SnapshotError
naming the file and the field.
"""

import json
import mmap
import struct

from wdfdbg.errors import SnapshotError
from wdfdbg.sources import limits
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.inputfile import open_input, read_exactly

MAGIC = b"WDFSNAPB"
CONTAINER_VERSION = 1
HEADER = struct.Struct("<8sIIQQQQQQ")     # 0x40 bytes
RANGE = struct.Struct("<QQQ")
DATA_ALIGN = 4096                          # range bytes start on a page of the file (mmap-friendly)


def looks_like_container(head):
    return head[:8] == MAGIC


def _fail(path, what):
    raise SnapshotError("%s: %s" % (path, what))


def load(path):
    """Validate the container at ``path`` and return a
    :class:`~wdfdbg.sources.snapshot.Snapshot` whose ranges are views of
    the mapped file."""
    f, size = open_input(path, SnapshotError)
    with f:
        head = read_exactly(f, min(size, HEADER.size), path, SnapshotError)
        if len(head) < HEADER.size:
            _fail(path, "truncated: %d bytes, the container header alone is %d" % (size, HEADER.size))
        magic, version, flags, meta_off, meta_len, table_off, count, written, _reserved = HEADER.unpack(head)
        if magic != MAGIC:
            _fail(path, "not a wdfdbg binary snapshot (magic %r)" % magic)
        if version != CONTAINER_VERSION:
            _fail(path, "container version %d is not supported (this reader takes %d)" % (version, CONTAINER_VERSION))
        if flags:
            _fail(path, "flags: unknown bits 0x%x" % flags)
        if written != size:
            _fail(path, "truncated or extended: the header says %d bytes, the file has %d" % (written, size))
        if count > limits.RANGES.value():
            _fail(path, "%d ranges, more than %s (%s)" % (count, limits.RANGES.text(), limits.RANGES.hint()))
        spans = [(0, HEADER.size, "the header")]
        _within(path, "metadata", meta_off, meta_len, size)
        _within(path, "range table", table_off, count * RANGE.size, size)
        spans.append((meta_off, meta_len, "the metadata"))
        spans.append((table_off, count * RANGE.size, "the range table"))
        if meta_len > limits.JSON_BYTES.value():
            _fail(path, "metadata of %d bytes, more than %s (%s)" % (meta_len, limits.JSON_BYTES.text(),
                                                                   limits.JSON_BYTES.hint()))
        f.seek(meta_off)
        text = read_exactly(f, meta_len, path, SnapshotError)
        f.seek(table_off)
        table = read_exactly(f, count * RANGE.size, path, SnapshotError)
        if snapfmt.parse_cost(text) > limits.JSON_MEMORY.value():
            _fail(path, "metadata: parsing it would take more than %s (%s)" % (limits.JSON_MEMORY.text(),
                                                                             limits.JSON_MEMORY.hint()))
        try:
            doc = snapfmt.parse_text(text.decode("utf-8"))
        except UnicodeDecodeError as e:
            _fail(path, "metadata: not UTF-8 text (byte %d)" % e.start)
        except SnapshotError as e:
            raise SnapshotError([_metadata(path, p) for p in e.problems])
        if isinstance(doc, dict) and doc.get("memory"):
            _fail(path, "metadata.memory: must be empty in a container (its ranges are in the range table)")
        problems, _ = snapfmt.validate(doc)
        if problems:
            raise SnapshotError([_metadata(path, p) for p in problems])
        top = (1 << (8 * doc["target"]["pointer_size"])) - 1
        ranges = []
        prev_end = None
        for i in range(count):
            address, data_off, length = RANGE.unpack_from(table, i * RANGE.size)
            p = "range %d (0x%x)" % (i, address)
            if not length:
                _fail(path, "%s: empty" % p)
            _within(path, p, data_off, length, size)
            if address + length - 1 > top:
                _fail(path, "%s: 0x%x bytes run past the top of the address space" % (p, length))
            if prev_end is not None and address < prev_end:
                _fail(path, "%s: overlaps the range before it or is out of order (it ends at 0x%x)" % (p, prev_end))
            prev_end = address + length
            ranges.append((address, data_off, length))
            spans.append((data_off, length, p))
        _no_shared_bytes(path, spans)
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    view = memoryview(mm) if mm is not None else memoryview(b"")
    doc["memory"] = []
    snap = snapfmt.Snapshot(doc, [(a, view[o:o + n]) for a, o, n in ranges], path=path)
    snap.mapping = mm   # the views need it open while the snapshot lives
    return snap


def _metadata(path, problem):
    """A problem of the JSON document, named as the container's metadata."""
    if problem.startswith("$: "):
        return "%s: metadata: %s" % (path, problem[3:])
    return "%s: metadata.%s" % (path, problem)


def _within(path, what, off, length, size):
    if off > size or length > size - off:
        _fail(path, "%s: 0x%x bytes at file offset 0x%x run past the end of the file (%d bytes)"
              % (what, length, off, size))


def _no_shared_bytes(path, spans):
    """No two parts of the file (header, metadata, table, each range's
    bytes) may claim the same bytes: sizes that lie show up here."""
    spans = sorted((o, n, w) for o, n, w in spans if n)
    for (o1, n1, w1), (o2, n2, w2) in zip(spans, spans[1:]):
        if o1 + n1 > o2:
            _fail(path, "%s and %s share file bytes at 0x%x" % (w1, w2, o2))


def is_container_name(path):
    """Is ``path`` named as a container? The writers (``wdfdbg snapshot``,
    ``wdfdbg record``) write one when OUT ends in ``.bin``
    (``.wdfsnap.bin`` by convention), as they gzip a JSON snapshot when OUT
    ends in ``.gz``; readers go by the magic, never by the name."""
    return str(path).lower().endswith(".bin")


def document_memory(doc):
    """The (address, bytes) ranges of a JSON snapshot document's
    ``memory``, validated as a reader validates them (``doc`` is left
    whole); raises SnapshotError."""
    problems, memory = snapfmt.validate(doc)
    if problems:
        raise SnapshotError("the snapshot does not validate: %s" % problems[0])
    return memory


def write(f, doc, memory):
    """Write ``doc`` (a snapshot document; its ``memory`` key is written
    empty) and ``memory`` ((address, bytes) ranges; adjacent ones merged)
    as a container to the binary file ``f``, front to back (only
    ``f.write`` is used, so ``f`` may be an atomic output). Returns the
    container's size."""
    meta = dict(doc)
    meta["memory"] = []
    text = json.dumps(meta, indent=1, sort_keys=False).encode("utf-8") + b"\n"
    ranges = snapfmt.merge_ranges(memory)
    table_off = HEADER.size
    meta_off = table_off + len(ranges) * RANGE.size
    pos = _align(meta_off + len(text))
    entries = []
    for a, d in ranges:
        entries.append((a, pos, len(d)))
        pos = _align(pos + len(d))
    size = entries[-1][1] + entries[-1][2] if entries else meta_off + len(text)
    f.write(HEADER.pack(MAGIC, CONTAINER_VERSION, 0, meta_off, len(text), table_off, len(ranges), size, 0))
    f.write(b"".join(RANGE.pack(*e) for e in entries))
    f.write(text)
    pos = meta_off + len(text)
    for (_a, d), (_a2, off, n) in zip(ranges, entries):
        f.write(bytes(off - pos))
        f.write(d)
        pos = off + n
    return size


def save(doc, memory, path):
    """Write the container of ``doc`` and ``memory`` at ``path`` (plainly,
    not atomically: the benchmarks' and tests' writer; the commands write
    through ``wdfdbg.render.snapshot_file``)."""
    with open(path, "wb") as f:
        write(f, doc, memory)
    return path


def _align(n):
    return (n + DATA_ALIGN - 1) // DATA_ALIGN * DATA_ALIGN
