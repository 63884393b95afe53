"""Objects whose saved bytes stop after m_Globals (0x18 of a 0x1C the scan
otherwise wants) are proven by the allocation in front of them: the
FX_POOL_HEADER {Base = itself, FxDriverGlobals = m_Globals} naming a driver
of KMDF's table, and the nt pool header's tag. On the real
NoamHuang_dell_033124-5078-01.dmp: an FxDevice of intelppm, an FxUserObject
of ipf_lf and a plain object of rt640x64; their flags and state are
reported not captured, never as 0 or a state name."""

import os

import pytest

from cmdhelpers import run, run_json
from conftest import DUMPS
from wdfdbg import memtree, scan
from wdfdbg.decoders.scan import Scanner, default_pool_tag
from wdfdbg.session import open_session

DELL = os.path.join(DUMPS, "NoamHuang_dell_033124-5078-01.dmp")
# address: (wdf_type, class, driver, handle, refcount, pool tag, what the tag was checked against)
PROVEN = {
    "0xffffbf8b5845e020": ("WDFDEVICE", "FxDevice", "intelppm", "0x4074a7ba1fd8", 1, "inte",
                           "KMDF's default tag from the driver's name"),
    "0xffffbf8b5f3f85c0": ("WDFOBJECT", "FxUserObject", "ipf_lf", "0x4074a0c07a38", 2, "esif",
                           "not captured (the tag is not checked against it)"),
    "0xffffbf8b578c2800": ("WDFOBJECT", None, "rt640x64", "0x4074a873d7f8", 1, "KETR",
                           "not captured (the tag is not checked against it)"),
}


def need_dell():
    if not os.path.exists(DELL):
        pytest.skip("../shared/dumps/NoamHuang_dell_033124-5078-01.dmp is absent")
    return DELL


def test_default_pool_tag_follows_kmdf():
    assert default_pool_tag("intelppm") == "inte"
    assert default_pool_tag("WdfTest01") == "Test"
    assert default_pool_tag("abc") == "FxDr"
    assert default_pool_tag(None) is None


@pytest.mark.parametrize("module", [scan, memtree])
def test_three_objects_saved_short_are_found_with_type_driver_and_handle(module):
    code, doc = run_json(module, [need_dell()])
    assert code == 0
    by_addr = dict((o["address"], o) for o in doc["objects"])
    for addr, (wdf, cls, driver, handle, refs, tag, check) in PROVEN.items():
        o = by_addr[addr]
        assert (o["wdf_type"], o["class"], o["driver"], o["handle"], o["refcount"]) == (wdf, cls, driver, handle, refs)
        assert o["parent"] is None and o["state"] is None
        s = o["scan"]
        assert s["captured_bytes"] in (0x18, 0x19)
        assert "m_ObjectState" in s["not_captured"] and "m_ObjectFlags" in s["not_captured"]
        assert s["parent_captured"] is False
        assert s["proven_by_pool_header"]["pool_tag"] == tag
        assert s["proven_by_pool_header"]["driver_tag"] == check
    # objects saved whole carry no such proof
    assert all("proven_by_pool_header" not in o["scan"] for a, o in by_addr.items() if a not in PROVEN)


def test_text_says_what_was_not_saved():
    code, out = run(scan, [need_dell()])
    assert code == 0
    line = [x for x in out.splitlines() if x.startswith("0xffffbf8b5845e020")][0]
    assert "not captured" in line.split("0x2c0", 1)[1]          # the state column
    assert "Created" not in line and "NULL" not in line
    assert "proven by its FX_POOL_HEADER at 0xffffbf8b5845e010 (pool tag 'inte' = KMDF's default tag" in line
    assert "flags and state not captured" in line
    code, out = run(memtree, [need_dell()])
    assert "dt FxUserObject 0xffffbf8b5f3f85c0  (m_ParentObject not captured); proven by its FX_POOL_HEADER" in out


def test_proof_refuses_other_globals_or_a_shifted_address():
    s = open_session(need_dell())
    sc = Scanner(s)
    intel = 0xffffbf8b584d7dc0
    ipf = 0xffffbf8b5da4d230
    assert sc.prove_by_pool_header(0xffffbf8b5845e020, intel)["pool_tag"] == "inte"
    assert sc.prove_by_pool_header(0xffffbf8b5845e020, ipf) is None      # FxDriverGlobals names intelppm
    assert sc.prove_by_pool_header(0xffffbf8b5845e030, intel) is None    # no FX_POOL_HEADER pointing at itself
    sc.known_globals.pop(intel)
    assert sc.prove_by_pool_header(0xffffbf8b5845e020, intel) is None    # globals not in KMDF's table
