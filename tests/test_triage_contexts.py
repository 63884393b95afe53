"""Contexts only where ContextTypeInfo is set, NextHeader chains bounded and
cycle-safe, NULL told apart from not captured: on the real dump (kmdf.md
§12), on the synthetic fixtures against their truth, and on hand-laid
heaps."""

import json

import pytest

from conftest import fixture_path
from test_triage_heap import BASE, DRV, Heap, REAL_X64, header_of, need_real
from wdfdbg.decoders import contexts as ctxs
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders.facts import NOT_CAPTURED
from wdfdbg.errors import CorruptionError
from wdfdbg.problems import ProblemLog
from wdfdbg.session import open_session

OBJ = BASE + 0x1000


def test_null_type_info_is_no_context_even_when_the_next_allocation_looks_like_one():
    heap = Heap()
    heap.obj(OBJ, 0x1024, 0x80)
    heap.context(OBJ + 0x80, OBJ)                          # ContextTypeInfo NULL
    heap.w(OBJ + 0xb0, "4s", b"CcBc")                      # someone else's pool header at header+0x30
    s = heap.session()
    assert list(ctxs.for_each_context(s, header_of(s, OBJ), ProblemLog())) == []
    assert fxo.read_contexts(s, header_of(s, OBJ)) == ()


def test_typed_context_has_name_size_and_where():
    heap = Heap()
    heap.obj(OBJ, 0x100C, 0x80, flags=0x408)
    ti = heap.type_info(DRV + 0x2030, "DEVICE_CONTEXT", 0x40)
    heap.context(OBJ + 0x80, OBJ, type_info=ti, cleanup=DRV + 0x1000)
    s = heap.session()
    log = ProblemLog()
    (c,) = list(ctxs.for_each_context(s, header_of(s, OBJ), log))
    assert not len(log)
    assert (c.header, c.context, c.type_info, c.name, c.size) == (OBJ + 0x80, OBJ + 0xb0, ti, "DEVICE_CONTEXT", 0x40)
    assert c.type_info_where == "TriDrv+0x2030"
    assert c.cleanup == DRV + 0x1000 and c.destroy == 0 and c.next_header == 0 and c.captured
    j = c.to_json()
    assert j["destroy"] is None and j["next_header"] is None and j["cleanup"] == "0x%x" % (DRV + 0x1000)
    assert ctxs.context_text(c) == "context DEVICE_CONTEXT 0x%x (size 0x40)" % (OBJ + 0xb0)
    (listed,) = fxo.read_contexts(s, header_of(s, OBJ))
    assert (listed.name, listed.size, listed.header) == ("DEVICE_CONTEXT", 0x40, OBJ + 0x80)


def test_chain_after_a_null_first_header_and_a_chained_header_not_captured():
    # WdfObjectAllocateContext appends to the chain whatever the inline header
    # holds (FxObject::AddContext): follow NextHeader even from a NULL type info
    heap = Heap()
    heap.obj(OBJ, 0x100C, 0x80)
    second, third = BASE + 0x3000, BASE + 0x5000
    ti = heap.type_info(DRV + 0x2100, "EXTRA_CONTEXT", 0x18)
    heap.context(OBJ + 0x80, OBJ, next_header=second)
    heap.context(second, OBJ, type_info=ti, next_header=third)
    heap.cut(third, third + 0x100)
    s = heap.session()
    log = ProblemLog()
    got = list(ctxs.for_each_context(s, header_of(s, OBJ), log))
    assert not len(log)
    assert [(c.header, c.index, c.captured) for c in got] == [(second, 1, True), (third, 2, False)]
    assert got[0].name == "EXTRA_CONTEXT" and got[0].next_header == third
    assert got[1].name is NOT_CAPTURED and got[1].to_json()["name"] == "not captured"
    assert ctxs.context_text(got[1]) == "context header 0x%x not captured" % third
    # an object record lists the typed one and the chained header it could not read
    assert [(c.header, c.captured) for c in fxo.read_contexts(s, header_of(s, OBJ))] == [(second, True),
                                                                                         (third, False)]


def test_type_info_not_captured_is_said_so():
    heap = Heap()
    heap.obj(OBJ, 0x1402, 0xc0)
    ti = DRV + 0x4000
    heap.context(OBJ + 0xc0, OBJ, type_info=ti)
    heap.cut(ti, ti + 0x100)
    s = heap.session()
    (c,) = ctxs.read_object_contexts(s, header_of(s, OBJ))
    assert c.type_info == ti and c.name is NOT_CAPTURED and c.size is NOT_CAPTURED
    assert ctxs.context_text(c) == "context 0x%x (type info 0x%x at TriDrv+0x4000 not captured)" % (OBJ + 0xf0, ti)
    (listed,) = fxo.read_contexts(s, header_of(s, OBJ))
    assert listed.name is NOT_CAPTURED and listed.size is NOT_CAPTURED


def test_cycle_and_bad_back_pointer_are_problems_and_validate_raises():
    heap = Heap()
    heap.obj(OBJ, 0x100C, 0x80)
    a, b = BASE + 0x3000, BASE + 0x3100
    ti = heap.type_info(DRV + 0x2030, "C", 8)
    heap.context(OBJ + 0x80, OBJ, type_info=ti, next_header=a)
    heap.context(a, OBJ, type_info=ti, next_header=b)
    heap.context(b, OBJ, type_info=ti, next_header=a)      # back to a
    s = heap.session()
    log = ProblemLog()
    got = list(ctxs.for_each_context(s, header_of(s, OBJ), log))
    assert [c.header for c in got] == [OBJ + 0x80, a, b]
    assert [(p.code, p.address) for p in log] == [("CONTEXT_CHAIN_CORRUPT", a)]
    with pytest.raises(CorruptionError) as e:
        ctxs.validate_context_chain(s, header_of(s, OBJ))
    assert e.value.problem.code == "CONTEXT_CHAIN_CORRUPT"

    other = Heap()
    other.obj(OBJ, 0x100C, 0x80)
    other.context(OBJ + 0x80, OBJ, type_info=ti, next_header=a)
    other.context(a, BASE + 0x7000, type_info=ti)         # someone else's header
    s2 = other.session()
    log2 = ProblemLog()
    assert [c.header for c in ctxs.for_each_context(s2, header_of(s2, OBJ), log2)] == [OBJ + 0x80]
    assert [p.code for p in log2] == ["CONTEXT_CHAIN_CORRUPT"]


def test_long_chain_stops_at_the_limit():
    heap = Heap(size=0x10000)
    heap.obj(OBJ, 0x100C, 0x80)
    ti = heap.type_info(DRV + 0x2030, "C", 8)
    prev = OBJ + 0x80
    for i in range(ctxs.MAX_CONTEXTS + 4):
        nxt = BASE + 0x4000 + i * 0x40
        heap.context(prev, OBJ, type_info=ti, next_header=nxt)
        prev = nxt
    heap.context(prev, OBJ, type_info=ti)
    s = heap.session()
    log = ProblemLog()
    assert len(list(ctxs.for_each_context(s, header_of(s, OBJ), log))) == ctxs.MAX_CONTEXTS
    assert [p.code for p in log] == ["WALK_LIMIT"]


def test_objects_without_a_handle_have_no_header():
    heap = Heap()
    heap.obj(OBJ, 0x1017, 0)
    s = heap.session()
    assert list(ctxs.for_each_context(s, header_of(s, OBJ), ProblemLog())) == []


@pytest.mark.parametrize("name", ["typical", "two_drivers", "corrupt", "leak"])
def test_fixtures_contexts_match_their_truth(name):
    from wdfdbg import memtree
    truth = json.load(open(fixture_path("%s.truth.json" % name)))
    expect = {}
    for o in truth["objects"]:
        c = o.get("context")
        if c and c.get("type_info"):
            expect[int(o["address"], 16)] = (int(c["header"], 16), c["name"], c["context_size"])
    s = open_session(fixture_path("%s.wdfsnap.json.gz" % name))
    _drivers, nodes, _problems = memtree.collect(s, memtree.parse_args([]))
    got = {}
    for n in nodes:
        for c in ctxs.for_each_context(s, n.header, ProblemLog()):
            got[n.address] = (c.header, c.name, c.size)
    seen = dict((a, v) for a, v in expect.items() if a in set(n.address for n in nodes))
    assert got == seen and seen


@need_real
def test_real_dump_contexts_exactly_where_type_info_is_set():
    from wdfdbg import memtree
    s = open_session(REAL_X64)
    drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
    assert len(nodes) == 39
    log = ProblemLog()
    found = {}
    for n in nodes:
        cs = list(ctxs.for_each_context(s, n.header, log))
        if cs:
            found[n.address] = cs
    assert not len(log)
    typed = sorted(a for a, cs in found.items() if any(c.captured for c in cs))
    assert typed == [0xffffc08be4f85530, 0xffffc08be51fa250]
    # two more objects' inline headers point back at them, but their
    # ContextTypeInfo field was not captured: whether they have a context is
    # not in the dump, and the record says so rather than guess
    unknown = sorted(a for a, cs in found.items() if not any(c.captured for c in cs))
    assert unknown == [0xffffc08bde9cfdf0, 0xffffc08be52ce2f0]
    for a in unknown:
        (c,) = found[a]
        assert c.index == 0 and c.type_info is NOT_CAPTURED
        assert s.target.read_pointer(c.header) == a
    user = found[0xffffc08be4f85530]
    assert [(c.header, c.captured) for c in user] == [(0xffffc08be4f855b0, True), (0xffffc08be4f85940, False)]
    assert user[0].next_header == 0xffffc08be4f85940 and user[0].type_info == 0xfffff804880d0410
    assert user[0].name is NOT_CAPTURED                   # the type info lives in USBXHCI, not captured
    assert user[0].type_info_where == "USBXHCI+0x60410"
    (cb,) = found[0xffffc08be51fa250]
    assert (cb.header, cb.context, cb.type_info, cb.next_header) == (
        0xffffc08be51fa310, 0xffffc08be51fa340, 0xfffff804880d0028, 0)
    # the phantom of issue 11: FxSpinLock ...9590 has a header with no type info
    spin = next(n for n in nodes if n.address == 0xffffc08be3ff9590)
    assert s.target.read_pointer(0xffffc08be3ff9590 + 0x80 + 0x20) == 0
    assert fxo.read_contexts(s, spin.header) == ()
    # memtree's records (through objects.read_contexts) list exactly the two
    listed = sorted(n.address for n in nodes if n.contexts)
    assert listed == [0xffffc08be4f85530, 0xffffc08be51fa250]


def test_context_caches_live_on_the_session():
    """The issue-9 rule: caches live on the Session, in the open
    (``session.derived``), not in a module-level dictionary."""
    import inspect
    assert "WeakKeyDictionary" not in inspect.getsource(ctxs)
    heap = Heap()
    heap.obj(OBJ, 0x100C, 0x80)
    ti = heap.type_info(DRV + 0x2030, "DEVICE_CONTEXT", 0x40)
    heap.context(OBJ + 0x80, OBJ, type_info=ti)
    s = heap.session()
    list(ctxs.for_each_context(s, header_of(s, OBJ), ProblemLog()))
    assert s.derived.table(ctxs.TYPE_TABLE)[ti][:2] == ("DEVICE_CONTEXT", 0x40)
    assert isinstance(s.derived.get(ctxs.LAYOUT_KEY, lambda: None), ctxs.ContextLayout)


def test_inline_header_is_read_with_its_object():
    """The walk reads an object and the inline FxContextHeader after it in
    one Target.read: object_contexts needs no read of its own for an object
    up to 0xd8 bytes."""
    heap = Heap()
    heap.obj(OBJ, 0x1024, 0x80)
    heap.context(OBJ + 0x80, OBJ)                            # no type info: no context
    s = heap.session()
    hdr = fxo.read_object(s, OBJ, window=True)
    calls = []
    real = s.target.read
    s.target.read = lambda a, n: calls.append((a, n)) or real(a, n)
    try:
        assert ctxs.object_contexts(s, hdr) == ()
    finally:
        s.target.read = real
    assert calls == []
