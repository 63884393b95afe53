"""Memory classes by shape, learned once per vtable pointer
(``decoders.memory.LearnedShapes``): the learned class is the class the
long way gives, and an object whose vtable pointer lies (copied over an
object of another shape) is still classified by its own shape."""

import json
import struct

from wdfdbg import memtree
from wdfdbg.decoders import memory as mem
from wdfdbg.decoders.objects import read_object
from wdfdbg.layouts import Layouts
from wdfdbg.session import Session
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Target
from wdfdbg.testing import build

TYPICAL = build("typical")
TRUTH = TYPICAL.truth()
MEMORY = [o for o in TRUTH["objects"] if o.get("memory")]


def by_class(cls):
    return [int(o["address"], 16) for o in MEMORY if o["class"] == cls]


def session_without_vtables(patch=None):
    """The typical heap with no vtable symbols (the class comes from the
    shape); ``patch(write)`` may overwrite memory first."""
    snap = TYPICAL.snapshot()
    doc = dict(snap.doc)
    doc["symbols"] = dict((k, v) for k, v in doc["symbols"].items() if "`vftable'" not in k)
    ranges = [(a, bytearray(d)) for a, d in snap.memory]

    def write(addr, data):
        for base, buf in ranges:
            if base <= addr and addr + len(data) <= base + len(buf):
                buf[addr - base:addr - base + len(data)] = data
                return
        raise AssertionError("0x%x is not in the heap" % addr)

    if patch is not None:
        patch(write)
    t = Target(snapfmt.SnapshotBackend(snapfmt.Snapshot(doc, [(a, bytes(d)) for a, d in ranges])))
    return Session(t, Layouts(t), "snapshot", None, "synthetic", shape_classifier=mem.shape_classifier)


def long_way(session, address):
    hdr = read_object(session, address)
    return mem.classify_by_shape(session, hdr, mem._read_largest(session, address))


def test_learned_classes_are_the_long_ways_and_the_truths():
    s = session_without_vtables()
    shapes = mem.learned_shapes(s)
    for _ in range(3):   # the first passes teach, the last ones use what was learned
        for o in MEMORY:
            a = int(o["address"], 16)
            assert mem.memory_shape_class(s, read_object(s, a)) == o["class"] == long_way(s, a)
    buffers = by_class("FxMemoryBuffer")
    vt = read_object(s, buffers[0]).vfptr
    assert shapes.known(vt)[0] == "FxMemoryBuffer"   # two objects agreed


def test_a_lying_vtable_is_caught():
    s0 = session_without_vtables()
    buffers, pool = by_class("FxMemoryBuffer"), by_class("FxMemoryBufferFromPool")
    liar = pool[0]
    vt = read_object(s0, buffers[0]).vfptr
    ifx_off = mem.ifx_memory_offset(s0)
    ifx = s0.target.read_pointer(buffers[0] + ifx_off)

    def lie(write):
        # both vtable pointers of an FxMemoryBuffer over an FxMemoryBufferFromPool
        write(liar, struct.pack("<Q", vt))
        write(liar + ifx_off, struct.pack("<Q", ifx))

    s = session_without_vtables(lie)
    for a in buffers:
        assert mem.memory_shape_class(s, read_object(s, a)) == "FxMemoryBuffer"
    assert mem.learned_shapes(s).known(vt)[0] == "FxMemoryBuffer"
    hdr = read_object(s, liar)
    assert hdr.vfptr == vt
    # its m_ObjectSize is the fixed-size classes': not the learned class's shape
    assert mem.memory_shape_class(s, hdr) == "FxMemoryBufferFromPool" == long_way(s, liar)
    # and the learned class stays for the honest ones
    assert mem.memory_shape_class(s, read_object(s, buffers[1])) == "FxMemoryBuffer"

    # the whole report agrees
    code, out = memtree.execute(s, memtree.parse_args(["--json"]))
    assert code in (0, 1)
    objs = dict((o["address"], o) for o in json.loads(out)["objects"])
    rec = objs["0x%x" % liar]
    assert (rec["class"], rec["class_source"]) == ("FxMemoryBufferFromPool", "shape")


def test_a_folded_vtable_gives_each_object_its_own_class():
    s0 = session_without_vtables()
    buffers, pool = by_class("FxMemoryBuffer"), by_class("FxMemoryBufferFromPool")
    vt = read_object(s0, pool[0]).vfptr

    def fold(write):
        # one vtable pointer shared by FromPool objects and an FxMemoryBuffer
        # (as identical-COMDAT folding could make it)
        write(buffers[0], struct.pack("<Q", vt))

    # the first two long-way decisions disagree: never learned
    s = session_without_vtables(fold)
    shapes = mem.learned_shapes(s)
    assert mem.memory_shape_class(s, read_object(s, buffers[0])) == "FxMemoryBuffer"
    assert mem.memory_shape_class(s, read_object(s, pool[0])) == "FxMemoryBufferFromPool"
    assert shapes.known(vt) == shapes.UNDECIDABLE
    for _ in range(2):
        assert mem.memory_shape_class(s, read_object(s, buffers[0])) == "FxMemoryBuffer"
        assert mem.memory_shape_class(s, read_object(s, pool[0])) == "FxMemoryBufferFromPool"

    # learned from the FromPool objects first: the odd one out is still itself
    s = session_without_vtables(fold)
    shapes = mem.learned_shapes(s)
    for a in pool:
        assert mem.memory_shape_class(s, read_object(s, a)) == "FxMemoryBufferFromPool"
    assert shapes.known(vt)[0] == "FxMemoryBufferFromPool"
    assert mem.memory_shape_class(s, read_object(s, buffers[0])) == "FxMemoryBuffer"
