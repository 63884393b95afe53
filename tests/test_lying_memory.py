"""Memory that lies: random bytes written over the typical fixture's heap
never make a command raise, hang or print a traceback; every report still
validates against the schema."""

import json
import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, validate_report
from wdfdbg import lookaside, memory, memtree, memusage
from wdfdbg.session import open_session
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.testing.builder import load_truth

PATH = os.path.join(FIXTURES, "typical.wdfsnap.json.gz")
SNAP = snapfmt.load(PATH)
TRUTH = load_truth(os.path.join(FIXTURES, "typical.truth.json"))
OBJECTS = [int(o["address"], 16) for o in TRUTH["objects"]]
HANDLES = dict((o["wdf_type"], o["handle"]) for o in TRUTH["objects"] if o.get("handle"))


def corrupted_session(writes):
    mem = [(a, bytearray(d)) for a, d in SNAP.memory]
    for obj_index, offset, value in writes:
        addr = OBJECTS[obj_index % len(OBJECTS)] + offset
        for base, buf in mem:
            if base <= addr and addr + 8 <= base + len(buf):
                struct.pack_into("<Q", buf, addr - base, value)
                break
    snap = snapfmt.Snapshot(SNAP.doc, [(a, bytes(d)) for a, d in mem], path="corrupted")
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    t = Target(snapfmt.SnapshotBackend(snap))
    s = Session(t, Layouts(t), "snapshot", "corrupted", "synthetic")
    base = open_session(PATH)
    s.shape_classifier = base.shape_classifier
    return s


VALUES = st.one_of(st.integers(min_value=0, max_value=2 ** 64 - 1),
                   st.sampled_from([0, 1, 0xffffffffffffffff, 0xffffc08b00000000, 0x8000000000000000]),
                   st.sampled_from(OBJECTS))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 0x160).map(lambda v: v & ~7), VALUES),
                min_size=1, max_size=6))
def test_commands_survive_lying_memory(writes):
    s = corrupted_session(writes)
    for module, argv in ((memtree, ["--json"]), (memusage, ["--json"]),
                         (memory, [HANDLES["WDFMEMORY"], "--json", "--dump", "64"]),
                         (lookaside, [HANDLES["WDFLOOKASIDE"], "--json"])):
        args = module.parse_args(argv)
        code, out = module.execute(s, args)
        assert code in (0, 1)
        validate_report(json.loads(out))
    code, out = memtree.execute(s, memtree.parse_args([]))
    assert code in (0, 1) and "Problems" in out or "No problems" in out
