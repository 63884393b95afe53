"""Buffer alignment and BUFFER_MISALIGNED for DMA common buffers and
transactions against the device's requirement (DEVICE_OBJECT behind an
FxDevice, a DMA enabler's)."""

from test_triage_heap import BASE, Heap, REAL_X64, need_real, node_of
from wdfdbg.decoders import alignment as al
from wdfdbg.decoders.facts import NOT_CAPTURED
from wdfdbg.problems import ProblemLog
from wdfdbg.session import open_session

DEV, DEVOBJ, EN, CB, TX, MDL = (BASE + 0x1000, BASE + 0x1400, BASE + 0x2000, BASE + 0x3000, BASE + 0x3400,
                                BASE + 0x3800)
VA = 0xffffc08b30000000


def scene(device_mask=0x1FF, enabler_mask=0x7, buffer_mask=0x7, va_offset=0x100, la_offset=0x100,
          tx_state=4, mdl_offset=0x10, start_offset=0x8):
    heap = Heap()
    heap.obj(DEV, 0x1002, 0x2c0)
    heap.w(DEV + 0x90, "Q", DEVOBJ)                          # FxDeviceBase.m_DeviceObject
    heap.w(DEVOBJ, "hH", 3, 0x178)                           # IO_TYPE_DEVICE
    heap.w(DEVOBJ + 0x98, "I", device_mask)
    heap.obj(EN, 0x1400, 0x2c0, parent=DEV, device=DEV)
    heap.w(EN + 0xa8, "Q", DEVOBJ)
    heap.w(EN + 0x180, "I", enabler_mask)
    heap.obj(CB, 0x1402, 0xc0, parent=EN, device=DEV)
    heap.w(CB + 0x78, "QQQQQQQQ", VA + va_offset, VA + va_offset, 0x806a00000 + la_offset, 0x806a00000 + la_offset,
           EN, 0x1000, 0x1000, buffer_mask)
    heap.obj(TX, 0x1401, 0x140, parent=DEV, device=DEV)
    heap.w(TX + 0x78, "IIQ", tx_state, 1, EN)
    heap.w(TX + 0xb0, "QQQ", MDL, MDL, start_offset)
    heap.w(MDL + 0x20, "QII", VA, 0x2000, mdl_offset)        # StartVa, ByteCount, ByteOffset
    return heap.session()


def test_alignment_of():
    assert al.alignment_of(0xffffc08be4677000) == 0x1000
    assert al.alignment_of(0x10000) == 0x1000                # capped at the page size
    assert al.alignment_of(0x18) == 8 and al.alignment_of(0x1) == 1
    assert al.alignment_of(0) is None and al.alignment_of(NOT_CAPTURED) is NOT_CAPTURED
    assert al.memory_alignment(open_session_stub(), {"buffer": "0xffffc08be455c0e0"}) == 0x20
    assert al.memory_alignment(open_session_stub(), {"buffer": None}) is None


def open_session_stub():
    return Heap().session()


def test_common_buffer_misaligned_for_its_device():
    s = scene()
    log = ProblemLog()
    check = al.check_node(s, node_of(s, CB), log)
    assert check.buffer == VA + 0x100 and check.alignment == 0x100
    assert check.required.boundary == 0x200 and "DEVICE_OBJECT 0x%x.AlignmentRequirement" % DEVOBJ in check.required.source
    assert sorted(r.boundary for r in check.requirements) == [0x8, 0x8, 0x200, 0x200]
    assert check.ok is False
    (p,) = list(log)
    assert (p.code, p.address) == ("BUFFER_MISALIGNED", CB)
    assert "aligned to 0x100" in p.message and "requires 0x200" in p.message
    j = check.to_json()
    assert j["required"] == "0x200" and j["ok"] is False and j["alignment"] == "0x100"


def test_common_buffer_aligned_and_page_plus_alignment_checks_the_logical_address_only():
    s = scene(device_mask=0xFF)
    log = ProblemLog()
    assert al.check_node(s, node_of(s, CB), log).ok is True and not len(log)
    # past PAGE_SIZE - 1 only the logical address is aligned (fxcommonbuffer.cpp)
    s = scene(device_mask=0, buffer_mask=0x1FFF, va_offset=0x100, la_offset=0x2000)
    check = al.check_node(s, node_of(s, CB), ProblemLog())
    assert check.required.boundary == 0x2000 and check.ok is True


def test_dma_transaction_buffer_from_its_mdl():
    s = scene(device_mask=0xF, mdl_offset=0x10, start_offset=0x8)
    log = ProblemLog()
    check = al.check_node(s, node_of(s, TX), log)
    assert check.buffer == VA + 0x18 and check.alignment == 8 and check.ok is False
    assert [p.code for p in log] == ["BUFFER_MISALIGNED"]
    s = scene(device_mask=0x7)
    assert al.check_node(s, node_of(s, TX), ProblemLog()).ok is True
    s = scene(tx_state=7)                                    # Released: the MDL is not the transaction's
    check = al.check_node(s, node_of(s, TX), ProblemLog())
    assert check.ok is None and "state 7" in check.notes[0]


def test_device_object_must_be_a_device_object():
    s = scene()
    assert al.wdm_requirement(s, DEVOBJ, "x").boundary == 0x200
    assert al.wdm_requirement(s, DEV, "x") is None           # its first CSHORT is not IO_TYPE_DEVICE (3)
    assert al.check_node(s, node_of(s, DEV)) is None          # not a DMA object


@need_real
def test_real_dump_common_buffer():
    from wdfdbg import memtree
    s = open_session(REAL_X64)
    drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
    log = ProblemLog()
    checks = dict((n.address, al.check_node(s, n, log)) for n in nodes if n.header.fx_type == 0x1402)
    cb = checks[0xffffc08be51fa250]
    assert (cb.buffer, cb.logical, cb.alignment, cb.logical_alignment) == (
        0xffffc08be4677000, 0x806a77000, 0x1000, 0x1000)
    assert cb.required.boundary == 1 and cb.ok is True
    assert checks[0xffffc08be51f9bd0].buffer is NOT_CAPTURED and checks[0xffffc08be51f9bd0].ok is None
    assert not len(log)
    # AmdPPM's FxDevice -> its DEVICE_OBJECT (Type 3): byte alignment
    r = al.device_requirement(s, 0xffffc08be450c550)
    assert r.mask == 0 and "0xffffc08be450cd80" in r.source
