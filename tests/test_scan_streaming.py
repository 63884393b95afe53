"""The scan as a stream (``decoders.scan.scan_stream``): what it keeps per
object is arrays of addresses and links (``FoundObjects``), the nodes are
made again as they are emitted. It gives the same nodes, in the same
order, with the same parents, depths and headers, as linking every decoded
header held in memory at once (the reference below, the scan's earlier
form), on synthetic heaps, heaps with lying memory (cycles, links to
nowhere, partial captures) and the real triage dumps."""

import glob
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wdfdbg import memtree
from wdfdbg.decoders import scan as fxscan
from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.memory import shape_classifier
from wdfdbg.decoders.objects import ObjectHeader
from wdfdbg.layouts import Layouts
from wdfdbg.problems import ProblemLog
from wdfdbg.session import Session, open_session
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Target
from wdfdbg.testing import build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUMPS = sorted(glob.glob(os.path.join(ROOT, "..", "shared", "dumps", "*.dmp")))
HEAPS = dict((name, build(name)) for name in ("typical", "corrupt", "two_drivers"))


def reference(session):
    """The objects a scan finds, linked and ordered by holding every decoded
    header at once: [(address, depth, parent, class, captured, globals state)]."""
    sc = fxscan.Scanner(session, ProblemLog())
    kept = []
    real_keep = sc.found.keep
    sc.found.keep = lambda addr, res: (kept.append((addr, res)), real_keep(addr, res))
    sc.run()   # the candidates and what check() said of each
    o = sc.off
    headers = dict((a, (ObjectHeader(a, rec), captured, gs)) for a, (rec, captured, gs) in sorted(kept))
    parents = {}
    heads = dict((a + o.child_head, a) for a in headers)
    entries = dict((a + o.child_entry, a) for a in headers)
    for addr, (hdr, _c, _g) in headers.items():
        p = hdr.parent
        if p and p in headers and p != addr:
            parents[addr] = p
            continue
        for link in (hdr.entry_flink, hdr.entry_blink):
            if link in heads and heads[link] != addr:
                parents[addr] = heads[link]
                break
    for addr, (hdr, _c, _g) in headers.items():
        for link in (hdr.child_flink, hdr.child_blink):
            child = entries.get(link)
            if child is not None and child != addr and child not in parents and headers[child][0].parent is None:
                parents[child] = addr
    for addr in list(parents):
        seen = set([addr])
        p = parents.get(addr)
        while p is not None:
            if p in seen:
                del parents[addr]
                break
            seen.add(p)
            p = parents.get(p)
    drivers = sc._drivers(sc.found)
    rank = dict((d.globals, i) for i, d in enumerate(drivers))
    children, roots = {}, []
    for addr in headers:
        if addr in parents:
            children.setdefault(parents[addr], []).append(addr)
        else:
            roots.append(addr)
    roots.sort(key=lambda a: (rank.get(headers[a][0].globals, len(rank)), headers[a][0].globals or 0,
                              0 if headers[a][0].fx_type == fxt.FX_TYPE_DRIVER else 1, a))
    out = []
    stack = [(a, 0) for a in reversed(roots)]
    while stack:
        addr, depth = stack.pop()
        hdr, captured, gs = headers[addr]
        out.append((addr, depth, parents.get(addr, hdr.parent or None), captured, gs))
        for c in sorted(children.get(addr, ()), reverse=True):
            stack.append((c, depth + 1))
    return out, len(parents)


def streamed(session):
    res = fxscan.scan_stream(session, ProblemLog())
    names = {"kmdf-driver-table": "known", "mask": "verified", "unverified": "unreadable"}
    out = [(n.address, n.depth, n.parent, n.extra["scan"]["captured_bytes"],
            names.get(n.extra["scan"]["globals"], n.extra["scan"]["globals"])) for n in res.nodes]
    return out, res.stats.parents_linked


def scan_session(heap, patch=None):
    snap = heap.snapshot(types=False, symbols=False)
    ranges = [(a, bytearray(d)) for a, d in snap.memory]
    if patch:
        patch(ranges)
    t = Target(snapfmt.SnapshotBackend(snapfmt.Snapshot(snap.doc, [(a, bytes(d)) for a, d in ranges])))
    return Session(t, Layouts(t), "snapshot", None, "synthetic", shape_classifier=shape_classifier)


@pytest.mark.parametrize("name", sorted(HEAPS))
def test_stream_is_the_held_scan_on_synthetic_heaps(name):
    got, linked = streamed(scan_session(HEAPS[name]))
    want, want_linked = reference(scan_session(HEAPS[name]))
    assert got == want and linked == want_linked
    assert len(got) > 10


def test_memtree_by_scan_streams_its_nodes():
    """memtree's scan fallback holds an iterator, not a list of nodes."""
    from wdfdbg.analysis import tree
    s = scan_session(HEAPS["typical"])
    a = tree.TreeAnalysis(s, tree.TreeOptions()).plan()
    assert a.scanned is not None and not isinstance(a.scanned, (list, tuple))
    code, out = memtree.execute(scan_session(HEAPS["typical"]), memtree.parse_args(["--json"]))
    assert code in (0, 1) and '"SCAN_FALLBACK"' in out


OBJECTS = sorted(int(o["address"], 16) for o in HEAPS["typical"].truth()["objects"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.sampled_from([0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40]),
                          st.one_of(st.sampled_from(OBJECTS), st.sampled_from([0, 1, 0xffffffffffffffff]),
                                    st.sampled_from(OBJECTS).map(lambda a: a + 0x10),
                                    st.sampled_from(OBJECTS).map(lambda a: a + 0x20))),
                min_size=1, max_size=8))
def test_stream_is_the_held_scan_on_lying_links(writes):
    """Parent pointers and list links rewritten to other objects, their list
    heads and entries, or nonsense: cycles are broken the same way."""
    def patch(ranges):
        for k, off, value in writes:
            addr = OBJECTS[k % len(OBJECTS)] + off
            for base, buf in ranges:
                if base <= addr and addr + 8 <= base + len(buf):
                    struct.pack_into("<Q", buf, addr - base, value)
                    break
    got = streamed(scan_session(HEAPS["typical"], patch))
    want = reference(scan_session(HEAPS["typical"], patch))
    assert got == want


@pytest.mark.skipif(not DUMPS, reason="the shared triage dumps are not here")
@pytest.mark.parametrize("path", DUMPS, ids=os.path.basename)
def test_stream_is_the_held_scan_on_real_dumps(path):
    got = streamed(open_session(path))
    want = reference(open_session(path))
    assert got == want
