"""Issue 11's acceptance on the real Windows 10 triage dump
(``../shared/dumps/triage_x64.dmp``, facts in kmdf.md §12), line by line;
skips cleanly when the dump is absent. The fourth line (a snapshot whose
Wdf01000 types name nt's ``_LIST_ENTRY`` walks to the same tree) is
``tests/test_type_resolution.py::test_open_types_walk_to_the_same_tree``;
the third (no ``None`` nor ``'?'`` in any text) is
``tests/test_text_readable.py``.

The object facts are checked against the dump's own bytes, read here
without the decoders: ``m_Type`` at +0x8, ``m_ObjectSize`` at +0xa,
``m_Globals`` at +0x10 and ``m_ParentObject`` at +0x40 (kmdf.md §2), the
handle as ``address ^ 0xfffffffffffffff8`` (§1, the dump's WdfHandleMask),
the driver from KMDF's driver table in the dump (§11)."""

import json
import os
import struct

import pytest

from conftest import DUMPS, validate_report
from wdfdbg import info, memtree
from wdfdbg.session import open_session
from wdfdbg.sources.minidump import kmdf_driver_table

DUMP = os.path.join(DUMPS, "triage_x64.dmp")
pytestmark = pytest.mark.skipif(not os.path.exists(DUMP), reason="real dump %s is absent" % DUMP)

MASK = 0xFFFFFFFFFFFFFFF8
WAIT_LOCK = 0xffffc08be5070e30
WAIT_LOCK_HANDLE = 0x3f741af8f1c8
CRASH_THREAD = 0xffffc08bde9e1640
WITH_CONTEXTS = ["0xffffc08be4f85530", "0xffffc08be51fa250"]   # FxUserObject, FxCommonBuffer (§12)
RESOURCE_CM = "0xffffc08be46ed720"


def run(module, argv):
    args = module.parse_args(argv)
    return module.execute(open_session(DUMP), args)


@pytest.fixture(scope="module")
def report():
    code, text = run(memtree, [DUMP, "--json"])
    return validate_report(json.loads(text))


def raw_header(session, address):
    """(m_Type, m_ObjectSize, m_Globals, m_ParentObject or None when not captured)."""
    t = session.target
    fx_type, size = struct.unpack("<HH", t.read(address + 8, 4))
    globals_addr = struct.unpack("<Q", t.read(address + 0x10, 8))[0]
    parent = struct.unpack("<Q", t.read(address + 0x40, 8))[0] if t.is_readable(address + 0x40, 8) else None
    return fx_type, size, globals_addr, parent


def test_all_39_objects_with_the_right_type_driver_parent_and_handle(report):
    s = open_session(DUMP)
    names = dict((e.globals, e.name) for e in kmdf_driver_table(s.target.backend) if e.globals)
    objects = report["objects"]
    assert len(objects) == 39 == report["summary"]["objects"]
    assert len(set(o["address"] for o in objects)) == 39
    for o in objects:
        a = int(o["address"], 16)
        fx_type, size, globals_addr, parent = raw_header(s, a)
        assert o["fx_type"] == "0x%x" % fx_type, o["address"]
        assert o["object_size"] == size
        assert o["globals"] == "0x%x" % globals_addr
        assert o["driver"] == names[globals_addr], o["address"]
        assert o["handle"] == ("0x%x" % (a ^ MASK) if size else None), o["address"]
        if parent is None:
            # m_ParentObject was not captured: null, and the record says so beside it
            assert o["parent"] is None and o["scan"]["parent_captured"] is False
            assert "m_ParentObject" in o["scan"]["not_captured"]
        else:
            assert o["parent"] == ("0x%x" % parent if parent else None), o["address"]
            captured_parent = any(p["address"] == o["parent"] for p in objects)
            assert o["scan"]["parent_captured"] is (captured_parent if parent else None)
    # 26 with a handle, 13 internal (§12)
    assert sum(1 for o in objects if o["handle"]) == 26


def test_contexts_for_exactly_the_two_objects_that_have_them(report):
    with_contexts = sorted(o["address"] for o in report["objects"] if o["contexts"])
    assert with_contexts == WITH_CONTEXTS
    user, cb = [next(o for o in report["objects"] if o["address"] == a) for a in WITH_CONTEXTS]
    # the user object's second context hangs off NextHeader, in a header the dump did not hold
    assert [c["header"] for c in user["contexts"]] == ["0xffffc08be4f855b0", "0xffffc08be4f85940"]
    assert user["contexts"][0]["next_header"] == "0xffffc08be4f85940" and user["contexts"][0]["captured"]
    assert user["contexts"][1]["captured"] is False and user["contexts"][1]["name"] == "not captured"
    assert user["contexts"][0]["type_info_where"] == "USBXHCI+0x60410"
    (c,) = cb["contexts"]
    assert (c["header"], c["context"], c["type_info"], c["next_header"]) == (
        "0xffffc08be51fa310", "0xffffc08be51fa340", "0xfffff804880d0028", None)
    # the phantom of issue 11: the spin lock's header has no type info, and nothing is listed
    spin = next(o for o in report["objects"] if o["address"] == "0xffffc08be3ff9590")
    assert spin["contexts"] == []


def test_0x1017_is_one_cm_resource_and_0x1200_an_io_target(report):
    res = next(o for o in report["objects"] if o["address"] == RESOURCE_CM)
    assert res["fx_type"] == "0x1017" and res["wdf_type"] == "WDFCMRESOURCE" != "WDFCMRESLIST"
    assert (res["class"], res["class_source"]) == ("FxResourceCm", "type-code")
    targets = [o for o in report["objects"] if o["fx_type"] == "0x1200"]
    assert len(targets) == 3
    assert all((o["wdf_type"], o["class"], o["class_source"]) == ("WDFIOTARGET", "FxIoTarget", "type-code")
               for o in targets)
    assert all(o["class"] for o in report["objects"])


def test_the_wait_lock_names_its_owner_the_crashing_thread(report):
    rec = next(o for o in report["objects"] if o["address"] == "0x%x" % WAIT_LOCK)
    assert rec["handle"] == "0x%x" % WAIT_LOCK_HANDLE and rec["driver"] == "AmdPPM"
    lock = rec["lock"]
    assert (lock["kind"], lock["state"], lock["owner"], lock["owner_is_crashing_thread"]) == (
        "WDFWAITLOCK", "held", "0x%x" % CRASH_THREAD, True)
    assert lock["event"]["signal_state"] == 0 and lock["owner_source"] == "m_OwningThread"
    assert [p["code"] for p in rec["problems"]] == ["LOCK_HELD_BY_CRASHING_THREAD"]
    assert report["triage"]["crash_thread"] == "0x%x" % CRASH_THREAD
    # the other six locks (three more wait locks, three spin locks) are free or not captured
    others = [o["lock"] for o in report["objects"] if o.get("lock") and o["address"] != "0x%x" % WAIT_LOCK]
    assert len(others) == 6 and all(lk["state"] in ("free", "not captured") for lk in others)


HEADLINE = ["amdppm+0x334c", "in AmdPPM, a KMDF 1.15 driver", "write to 0xffffffffffffffff",
            "the crashing thread 0x%x holds WDFWAITLOCK 0x%x (object 0x%x) of AmdPPM"
            % (CRASH_THREAD, WAIT_LOCK_HANDLE, WAIT_LOCK)]


@pytest.mark.parametrize("module", [memtree, info], ids=["memtree", "info"])
def test_the_headline_comes_first_and_names_fault_driver_write_and_lock(module):
    code, text = run(module, [DUMP])
    head = text.split("\n\n", 1)[0]
    assert head.startswith("Crash: SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (0x1000007E)")
    for phrase in HEADLINE:
        assert phrase in head, phrase
    code, doc = run(module, [DUMP, "--json"])
    tri = json.loads(doc)["triage"]
    assert tri["fault"]["where"] == "amdppm+0x334c"
    assert tri["fault"]["kmdf_driver"]["name"] == "AmdPPM" and tri["fault"]["kmdf_driver"]["kmdf_version"] == "1.15"
    assert (tri["exception"]["access"], tri["exception"]["target"]) == ("write", "0xffffffffffffffff")
    assert [lk["object"] for lk in tri["locks_held_by_crashing_thread"]] == ["0x%x" % WAIT_LOCK]
    assert tri["headline"] == head.split("\n")


def test_jsonl_ends_with_the_triage_line():
    code, text = run(memtree, [DUMP, "--jsonl"])
    lines = [json.loads(line) for line in text.splitlines()]
    assert [ln["record"] for ln in lines[-2:]] == ["summary", "triage"]
    assert sum(1 for ln in lines if ln["record"] == "object") == 39
    assert lines[-1]["triage"]["locks_held_by_crashing_thread"][0]["object"] == "0x%x" % WAIT_LOCK
    assert lines[-1]["piling"]["objects"] == 39


def test_fast_record_encoder_is_the_reference_on_the_real_dump():
    """The report's hot path (render/report.encode_object) equals the
    reference encoder on the records with contexts, locks, DMA alignment
    and scan facts."""
    from wdfdbg.analysis import tree
    from wdfdbg.render import report as rep
    s = open_session(DUMP)
    _drivers, nodes, _problems = tree.collect(s, tree.TreeOptions())
    assert len(nodes) == 39
    kinds = set()
    for n in nodes:
        assert rep.encode_object(s, n) == rep.dumps(rep.object_record(s, n))
        kinds.update(k for k in ("lock", "dma_alignment", "scan") if k in n.extras())
        if n.contexts:
            kinds.add("contexts")
    assert kinds == {"lock", "dma_alignment", "scan", "contexts"}
