"""The exception behind the bugcheck: EXCEPTION_RECORD at P3 (0x7E, its _M
twin, 0x139), inline parameters (0x1E), code and address only (0x8E,
0x3B); a record not captured; the real dump's access violation."""

import struct

from test_triage_heap import BASE, DRV, Heap, REAL_X64, need_real
from wdfdbg.decoders.exception import carries_exception, decode_exception
from wdfdbg.decoders.facts import NOT_CAPTURED
from wdfdbg.session import open_session
from wdfdbg.sources.base import Bugcheck

REC = BASE + 0x2000


def record(heap, addr, code, where, params, flags=0, nested=0):
    heap.w(addr, "IIQQI", code, flags, nested, where, len(params))
    for i, p in enumerate(params):
        heap.w(addr + 0x20 + 8 * i, "Q", p)


def test_which_bugchecks_carry_an_exception():
    assert all(carries_exception(c) for c in (0x7E, 0x1000007E, 0x139, 0x1E, 0x1000001E, 0x8E, 0x1000008E, 0x3B))
    assert not any(carries_exception(c) for c in (0x10D, 0xD1, 0x9F, 0x1C8))


def test_record_at_p3_write_access_violation():
    heap = Heap()
    record(heap, REC, 0xC0000005, DRV + 0x334c, [1, 0xffffffffffffffff])
    heap.bugcheck = Bugcheck(0x1000007E, [0xffffffffc0000005, DRV + 0x334c, REC, REC + 0x800])
    exc = decode_exception(heap.session())
    assert (exc.code, exc.name, exc.access, exc.target) == (0xC0000005, "STATUS_ACCESS_VIOLATION", "write",
                                                            0xffffffffffffffff)
    assert (exc.where, exc.module, exc.module_offset) == ("TriDrv+0x334c", "TriDrv", 0x334c)
    assert exc.record == REC and exc.record_captured and exc.source == "exception record" and not exc.notes
    assert exc.text() == ("access violation (0xc0000005 STATUS_ACCESS_VIOLATION) at TriDrv+0x334c: "
                          "write to 0xffffffffffffffff")
    j = exc.to_json()
    assert j["code"] == "0xc0000005" and j["parameters"] == ["0x1", "0xffffffffffffffff"] and j["nested_record"] is None


def test_read_and_execute_and_a_record_that_disagrees():
    heap = Heap()
    record(heap, REC, 0xC0000005, DRV + 0x10, [0, 0x10])
    record(heap, REC + 0x100, 0xC0000005, DRV + 0x20, [8, DRV + 0x20])
    heap.bugcheck = Bugcheck(0x7E, [0xC0000005, DRV + 0x10, REC, 0])
    exc = decode_exception(heap.session())
    assert exc.access == "read" and exc.target == 0x10 and exc.text().endswith("read from 0x10")
    s = heap.session()
    ex2 = decode_exception(s, Bugcheck(0x7E, [0xC0000094, DRV + 0x99, REC + 0x100, 0]))
    assert ex2.access == "execute" and "differs from the bugcheck parameters" in ex2.notes[0]


def test_record_not_captured_falls_back_to_the_parameters():
    heap = Heap()
    heap.cut(REC, REC + 0x100)
    heap.bugcheck = Bugcheck(0x7E, [0xffffffffc0000005, DRV + 0x334c, REC, 0])
    exc = decode_exception(heap.session())
    assert exc.code == 0xC0000005 and exc.address == DRV + 0x334c and exc.where == "TriDrv+0x334c"
    assert not exc.record_captured and exc.parameters is NOT_CAPTURED and exc.access is None
    assert exc.source == "bugcheck parameters" and "was not captured" in exc.notes[0]
    assert exc.to_json()["parameters"] == "not captured"


def test_inline_0x1e_and_code_only_0x8e_0x3b_and_0x139():
    s = Heap().session()
    e1 = decode_exception(s, Bugcheck(0x1E, [0xC0000005, DRV + 0x40, 1, 0x1234]))
    assert (e1.access, e1.target, e1.record) == ("write", 0x1234, None)
    e8 = decode_exception(s, Bugcheck(0x8E, [0x80000003, DRV + 0x40, BASE + 0x10, 0]))
    assert e8.name == "STATUS_BREAKPOINT" and e8.parameters is NOT_CAPTURED and e8.record is None
    e3 = decode_exception(s, Bugcheck(0x3B, [0xC0000005, DRV + 0x40, BASE + 0x10, 0]))
    assert e3.access is None and e3.where == "TriDrv+0x40"
    heap = Heap()
    record(heap, REC, 0xC0000409, DRV + 0x50, [3])
    e139 = decode_exception(heap.session(), Bugcheck(0x139, [3, BASE + 0x10, REC, 0]))
    assert e139.name == "STATUS_STACK_BUFFER_OVERRUN" and e139.record_captured
    assert decode_exception(s, Bugcheck(0x10D, [5, 0, 0, 0])) is None


def test_parameter_count_is_bounded():
    heap = Heap()
    record(heap, REC, 0xC0000005, DRV, [1, 2])
    heap.w(REC + 0x18, "I", 0xFFFFFFFF)
    exc = decode_exception(heap.session(), Bugcheck(0x7E, [0xC0000005, DRV, REC, 0]))
    assert len(exc.parameters) == 15 and "more than the record holds" in exc.notes[0]


@need_real
def test_real_dump_access_violation_at_amdppm():
    s = open_session(REAL_X64)
    exc = decode_exception(s)
    assert exc.record == 0xffff850429891ee8 and exc.record_captured
    assert (exc.code, exc.access, exc.target, exc.where) == (0xC0000005, "write", 0xffffffffffffffff, "amdppm+0x334c")
    assert exc.parameters == [1, 0xffffffffffffffff] and exc.flags == 0 and exc.nested == 0
    # the triage header's own ExceptionOffset record is KeBugCheck's breakpoint, not used
    d = s.target.backend.dump
    assert struct.unpack_from("<I", d.data, d.triage["ExceptionOffset"])[0] == 0x80000003
