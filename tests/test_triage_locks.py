"""WDFWAITLOCK / WDFSPINLOCK records, the crashing thread, and the lock
problems: the real dump's held wait lock (kmdf.md §12), snapshots cut from
it, wrapped backends, synthetic triage dumps and hand-laid heaps."""

import struct


from test_minidump import build_triage_dump
from test_triage_heap import BASE, Heap, REAL_X64, need_real, node_of, session_for
from wdfdbg.decoders import locks
from wdfdbg.decoders.facts import NOT_CAPTURED, UNKNOWN
from wdfdbg.problems import CODES, ProblemLog, WARNING
from wdfdbg.session import open_session
from wdfdbg.sources import minidump
from wdfdbg.sources.base import CRASH_THREAD_KEY, backend_crash_thread
from wdfdbg.sources.recording import RecordingBackend

LOCK = BASE + 0x1000
THREAD = 0xffffc08b99990080
OTHER = 0xffffc08b77770080


def wait_lock(heap, addr, signal, owner, ev_type=1, ev_size=6, waiters=()):
    heap.obj(addr, 0x1023, 0x90)
    heap.w(addr + 0x68, "BBBBi", ev_type, 0, ev_size, 0, signal)
    head = addr + 0x70
    if waiters:
        heap.w(head, "QQ", waiters[0], waiters[-1])
        for i, wb in enumerate(waiters):
            heap.w(wb, "QQ", waiters[i + 1] if i + 1 < len(waiters) else head, waiters[i - 1] if i else head)
    else:
        heap.w(head, "QQ", head, head)
    heap.w(addr + 0x80, "B", 1)
    heap.w(addr + 0x88, "Q", owner)


def decode(heap, addr, thread=THREAD):
    s = heap.session()
    return s, locks.decode_lock(s, node_of(s, addr), thread)


def test_codes_are_registered_as_warnings():
    assert CODES["LOCK_HELD"] == CODES["LOCK_HELD_BY_CRASHING_THREAD"] == WARNING


def test_wait_lock_held_by_the_crashing_thread():
    heap = Heap()
    wait_lock(heap, LOCK, 0, THREAD)
    s, rec = decode(heap, LOCK)
    assert (rec.kind, rec.state, rec.owner, rec.crashing_thread) == ("WDFWAITLOCK", "held", THREAD, True)
    assert (rec.event_type, rec.signal_state, rec.waiters, rec.initialized) == ("synchronization", 0, 0, True)
    log = ProblemLog()
    locks.check_lock(rec, log)
    (p,) = list(log)
    assert (p.code, p.address, p.severity) == ("LOCK_HELD_BY_CRASHING_THREAD", LOCK, WARNING)
    assert "0x%x" % THREAD in p.message and "0x%x" % rec.handle in p.message
    j = rec.to_json()
    assert j["owner"] == "0x%x" % THREAD and j["owner_is_crashing_thread"] is True and j["state"] == "held"


def test_wait_lock_held_by_another_thread_with_waiters():
    heap = Heap()
    wait_lock(heap, LOCK, 0, OTHER, waiters=(BASE + 0x3000, BASE + 0x3100))
    s, rec = decode(heap, LOCK)
    assert rec.crashing_thread is False and rec.waiters == 2
    log = ProblemLog()
    locks.check_lock(rec, log)
    assert [p.code for p in log] == ["LOCK_HELD"]
    assert rec.text() == "held by thread 0x%x" % OTHER


def test_free_and_uninitialised_wait_locks_are_not_problems():
    heap = Heap()
    wait_lock(heap, LOCK, 1, 0)
    wait_lock(heap, LOCK + 0x200, 0, 0, ev_type=0, ev_size=0)       # zeroed KEVENT: not a lock event
    wait_lock(heap, LOCK + 0x400, 1, OTHER)                          # signalled, owner left behind
    s = heap.session()
    free = locks.decode_lock(s, node_of(s, LOCK), THREAD)
    zero = locks.decode_lock(s, node_of(s, LOCK + 0x200), THREAD)
    stale = locks.decode_lock(s, node_of(s, LOCK + 0x400), THREAD)
    assert free.state == "free" and free.text() == "free"
    assert zero.state is UNKNOWN and "not an initialised synchronization event" in zero.notes[0]
    assert stale.state == "free" and "still names a thread" in stale.notes[0]
    log = ProblemLog()
    for r in (free, zero, stale):
        locks.check_lock(r, log)
    assert not len(log)


def test_lock_by_type_code_not_by_a_folded_vtable_symbol():
    heap = Heap()
    heap.obj(LOCK, 0x1017, 0)                                        # FxResourceCm sharing FxWaitLock's vtable
    s = heap.session()
    node = node_of(s, LOCK)
    node.header.cls, node.header.cls_source = "FxWaitLock", "vtable"
    assert locks.decode_lock(s, node, THREAD) is None


def test_wait_lock_not_captured():
    heap = Heap()
    wait_lock(heap, LOCK, 0, THREAD)
    heap.cut(LOCK + 0x68, LOCK + 0x90)
    s, rec = decode(heap, LOCK)
    assert rec.state is NOT_CAPTURED and rec.owner is NOT_CAPTURED and rec.crashing_thread is None
    assert rec.to_json()["owner"] == "not captured" and rec.text() == "lock state not captured"


def test_spin_lock_without_and_with_verifier_history():
    heap = Heap()
    heap.obj(LOCK, 0x1024, 0x80)
    heap.w(LOCK + 0x68, "BxxxxxxxQBB", 1, 1, 2, 0)                  # held, m_Irql 2
    heap.obj(LOCK + 0x400, 0x1024, 0x80)                             # free
    big = LOCK + 0x800
    heap.obj(big, 0x1024, 0x180)                                     # 0x80 + FX_SPIN_LOCK_HISTORY 0x100
    heap.w(big + 0x70, "Q", 1)
    hist = big + 0x80
    heap.w(hist, "QQ", THREAD, hist + 0x10)
    heap.w(hist + 0x10, "Qqq", 0xfffff8048b581234, 1000, 0)
    s = heap.session()
    held = locks.decode_lock(s, node_of(s, LOCK), THREAD)
    assert (held.state, held.owner, held.lock_value, held.irql, held.history) == ("held", UNKNOWN, 1, 2, None)
    assert held.to_json()["owner"] == "unknown" and "does not record its owner" in held.text()
    free = locks.decode_lock(s, node_of(s, LOCK + 0x400), THREAD)
    assert free.state == "free" and free.owner == 0 and free.to_json()["owner"] is None
    ver = locks.decode_lock(s, node_of(s, big), THREAD)
    assert ver.owner == THREAD and ver.crashing_thread is True
    assert ver.owner_source == "FX_SPIN_LOCK_HISTORY.OwningThread"
    assert ver.history[0]["caller"] == "0xfffff8048b581234" and ver.history[0]["current"] is True
    assert ver.history[0]["caller_symbol"] == "TriDrv+0x1234"
    log = ProblemLog()
    for r in (held, free, ver):
        locks.check_lock(r, log)
    assert [(p.code, p.address) for p in log] == [("LOCK_HELD", LOCK), ("LOCK_HELD_BY_CRASHING_THREAD", big)]


def test_crash_thread_from_snapshot_key_and_through_wrappers():
    heap = Heap()
    heap.extra[CRASH_THREAD_KEY] = "0x%x" % THREAD
    s = heap.session()
    assert locks.crash_thread(s) == THREAD
    rec = RecordingBackend(s.target.backend)
    assert backend_crash_thread(rec) == THREAD
    heap.extra[CRASH_THREAD_KEY] = "not hex"
    assert locks.crash_thread(heap.session()) is None
    assert locks.crash_thread(session_for(Heap().document())) is None


def _with_prcb(raw, thread, prcb_off=0x1800):
    out = bytearray(raw)
    struct.pack_into("<I", out, 0x2000 + 7 * 4, prcb_off)          # TRIAGE_DUMP64.PrcbOffset
    struct.pack_into("<IBBBBQ", out, prcb_off, 0x1f80, 0, 0, 0, 0, thread)
    return bytes(out)


def test_minidump_backend_crash_thread(tmp_path):
    b = minidump.open_minidump("x.dmp", _with_prcb(build_triage_dump(), THREAD))
    assert b.crash_thread() == THREAD
    assert backend_crash_thread(RecordingBackend(b)) == THREAD
    assert minidump.open_minidump("x.dmp", build_triage_dump()).crash_thread() is None       # no PrcbOffset
    past = bytearray(build_triage_dump())
    struct.pack_into("<I", past, 0x2000 + 7 * 4, len(past) - 4)
    assert minidump.open_minidump("x.dmp", bytes(past)).crash_thread() is None
    x86 = bytearray(build_triage_dump(bits=32, drivers=[("\\SystemRoot\\system32\\ntkrnlpa.exe", 0x82000000, 0x400000, 1)],
                                      blocks=[(0x8a000000, b"\x11" * 0x40)], bugcheck=(0xE2, (0, 0, 0, 0))))
    struct.pack_into("<I", x86, 0x1000 + 7 * 4, 0x800)
    struct.pack_into("<HHI", x86, 0x800, 1, 1, 0x8a000040)             # KPRCB.CurrentThread at +4 on x86
    # the x86 KPRCB offset is not checked on a real dump: no answer rather than a guess
    assert minidump.open_minidump("x.dmp", bytes(x86)).crash_thread() is None


@need_real
def test_real_dump_wait_lock_held_by_the_crashing_thread():
    from wdfdbg import memtree
    s = open_session(REAL_X64)
    assert s.target.backend.crash_thread() == 0xffffc08bde9e1640
    drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
    log = ProblemLog()
    recs = dict((n.address, r) for n, r in locks.for_each_lock(s, nodes, log))
    assert len(recs) == 7
    rec = recs[0xffffc08be5070e30]
    assert (rec.kind, rec.state, rec.signal_state, rec.owner) == ("WDFWAITLOCK", "held", 0, 0xffffc08bde9e1640)
    assert rec.crashing_thread is True and rec.driver == "AmdPPM" and rec.event_type == "synchronization"
    assert rec.initialized is True and rec.waiters == 0 and rec.verified
    assert [(p.code, p.address) for p in log] == [("LOCK_HELD_BY_CRASHING_THREAD", 0xffffc08be5070e30)]
    # the other AmdPPM wait locks are free, one is not captured; spin locks free
    states = sorted((hex(a), r.kind, str(r.state)) for a, r in recs.items() if a != 0xffffc08be5070e30)
    assert ("0xffffc08be506fbd0", "WDFWAITLOCK", "not captured") in states
    assert all(st in ("free", "not captured") for _a, _k, st in states)
    for a in (0xffffc08be3ff9590, 0xffffc08be3ff94c0, 0xffffc08be4da6b40):
        assert recs[a].kind == "WDFSPINLOCK" and recs[a].lock_value == 0 and recs[a].state == "free"


@need_real
def test_snapshot_cut_from_the_real_dump_keeps_the_crash_thread(tmp_path):
    import gzip
    import json
    from wdfdbg import snapshot
    from wdfdbg import memtree
    out = str(tmp_path / "t.wdfsnap.json.gz")
    assert snapshot.main([REAL_X64, "-o", out]) == 0
    doc = json.load(gzip.open(out))
    assert doc[CRASH_THREAD_KEY] == "0xffffc08bde9e1640"
    s = open_session(out)
    assert locks.crash_thread(s) == 0xffffc08bde9e1640
    drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
    recs = dict((n.address, r) for n, r in locks.for_each_lock(s, nodes))
    assert recs[0xffffc08be5070e30].crashing_thread is True
