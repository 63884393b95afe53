"""The binary snapshot container (docs/snapshot-binary.md): a round trip
gives the same report as the JSON snapshot it came from, and a container
that lies (truncated, overlapping ranges, sizes past the end or over other
parts of the file, bad metadata) is refused with exit 2 and one line."""

import json
import struct

import pytest

import hostile
from wdfdbg import memtree
from wdfdbg.session import open_session
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources import snapshot_binary as sb
from wdfdbg.testing import build

TYPICAL = build("typical")


def write_pair(tmp_path):
    """(JSON snapshot path, container path) of the same heap."""
    js = str(tmp_path / "t.wdfsnap.json.gz")
    snapfmt.save(TYPICAL.document(), js)
    cont = str(tmp_path / "t.wdfsnap.bin")
    sb.save(TYPICAL.document(), TYPICAL.memory(), cont)
    return js, cont


def report(path):
    code, out = memtree.execute(open_session(path), memtree.parse_args(["--json"]))
    doc = json.loads(out)
    doc["source"].pop("path", None)
    return code, doc


def test_round_trip_gives_the_json_snapshots_report(tmp_path):
    js, cont = write_pair(tmp_path)
    assert report(cont) == report(js)
    snap = sb.load(cont)
    want = snapfmt.load(js)
    assert [(a, bytes(d)) for a, d in snap.memory] == [(a, bytes(d)) for a, d in want.memory]
    assert snap.symbols == want.symbols and snap.types == want.types
    assert all(isinstance(d, memoryview) for _a, d in snap.memory)   # views of the mapping, not copies


def header(raw):
    return list(sb.HEADER.unpack_from(raw))


def rewrite(tmp_path, raw, name="bad.wdfsnap.bin"):
    p = tmp_path / name
    p.write_bytes(bytes(raw))
    return str(p)


def refused(tmp_path, raw, *words):
    path = rewrite(tmp_path, raw)
    with pytest.raises(Exception) as e:
        sb.load(path)
    assert e.type.__name__ == "SnapshotError"
    for w in words:
        assert w in str(e.value), str(e.value)
    res = hostile.run(["memtree", path, "--json"])
    res.assert_refused(*words)


def test_truncated(tmp_path):
    _js, cont = write_pair(tmp_path)
    raw = open(cont, "rb").read()
    refused(tmp_path, raw[:len(raw) - 100], "truncated")
    refused(tmp_path, raw[:20], "truncated")


def test_overlapping_ranges(tmp_path):
    _js, cont = write_pair(tmp_path)
    raw = bytearray(open(cont, "rb").read())
    h = header(raw)
    assert h[6] >= 2
    a0, o0, n0 = sb.RANGE.unpack_from(raw, h[5])
    a1, o1, n1 = sb.RANGE.unpack_from(raw, h[5] + sb.RANGE.size)
    sb.RANGE.pack_into(raw, h[5] + sb.RANGE.size, a0 + n0 - 8, o1, n1)   # range 1 starts inside range 0
    refused(tmp_path, raw, "range 1", "overlaps")


def test_sizes_that_lie(tmp_path):
    _js, cont = write_pair(tmp_path)
    raw = bytearray(open(cont, "rb").read())
    h = header(raw)
    a0, o0, n0 = sb.RANGE.unpack_from(raw, h[5])
    # a range longer than the file
    bad = bytearray(raw)
    sb.RANGE.pack_into(bad, h[5], a0, o0, len(raw))
    refused(tmp_path, bad, "range 0", "past the end of the file")
    # a range whose bytes are the metadata's
    bad = bytearray(raw)
    sb.RANGE.pack_into(bad, h[5], a0, h[3], n0)
    refused(tmp_path, bad, "share file bytes")
    # a metadata length past the end
    bad = bytearray(raw)
    h2 = list(h)
    h2[4] = 1 << 40
    sb.HEADER.pack_into(bad, 0, *h2)
    refused(tmp_path, bad, "metadata", "past the end of the file")
    # a range count the table cannot hold
    bad = bytearray(raw)
    h2 = list(h)
    h2[6] = 1 << 19
    sb.HEADER.pack_into(bad, 0, *h2)
    refused(tmp_path, bad, "range table", "past the end of the file")
    # a range past the top of the address space
    bad = bytearray(raw)
    sb.RANGE.pack_into(bad, h[5], 0xFFFFFFFFFFFFFFF0, o0, n0)
    refused(tmp_path, bad, "top of the address space")


def test_bad_header_and_metadata(tmp_path):
    _js, cont = write_pair(tmp_path)
    raw = bytearray(open(cont, "rb").read())
    bad = bytearray(raw)
    struct.pack_into("<I", bad, 8, 7)
    refused(tmp_path, bad, "container version 7")
    h = header(raw)
    meta = raw[h[3]:h[3] + h[4]]
    doc = json.loads(bytes(meta))
    # metadata that is not the spec's: a wrong pointer size
    doc["target"]["pointer_size"] = 4
    new = json.dumps(doc).encode("utf-8")
    new = new + b" " * (len(meta) - len(new))
    assert len(new) == len(meta)
    bad = bytearray(raw)
    bad[h[3]:h[3] + h[4]] = new
    refused(tmp_path, bad, "metadata.target.pointer_size")
    # metadata that is not JSON
    bad = bytearray(raw)
    bad[h[3]:h[3] + 4] = b"\xff\xfe{["
    refused(tmp_path, bad, "metadata")
