"""Options mean on a scanned dump what they mean on a driver list (the real
triage_x64.dmp and triage_arm64.dmp, which hold no driver list): --driver
and a ROOT naming a driver keep that driver's objects, an unknown name is
exit 2 "no KMDF driver named", drivers are named from KMDF's table in the
dump, --handle shows the subtree below the object without changing what is
true of the dump (the crash verdict, the lock the crashing thread holds,
UNREADABLE as warnings, exit 0), and --depth says what it hides."""

import json
import os

import pytest

from cmdhelpers import run, run_json
from conftest import DUMPS
from wdfdbg import memtree, memusage, report
from wdfdbg.errors import UsageError

X64 = os.path.join(DUMPS, "triage_x64.dmp")
ARM64 = os.path.join(DUMPS, "triage_arm64.dmp")
DEVICE = "0x3f741baf3aa8"          # an AmdPPM WDFDEVICE
IOTARGET = "0x3f741ad31d08"        # its child WDFIOTARGET
HELD_LOCK = "0xffffc08be5070e30"   # the WDFWAITLOCK the crashing thread holds


def need(path):
    if not os.path.exists(path):
        pytest.skip("../shared/dumps/%s is absent" % os.path.basename(path))
    return path


def drivers_of(doc):
    return sorted(set(o["driver"] for o in doc["objects"]))


def test_driver_option_keeps_only_that_driver_x64():
    code, whole = run_json(memtree, [need(X64)])
    assert len(drivers_of(whole)) == 8
    code, doc = run_json(memtree, [X64, "--driver", "AmdPPM"])
    assert code == 0
    assert drivers_of(doc) == ["AmdPPM"]
    amd = [o["address"] for o in whole["objects"] if o["driver"] == "AmdPPM"]
    assert [o["address"] for o in doc["objects"]] == amd
    # the headline is the dump's, whatever the view
    assert doc["triage"]["locks_held_by_crashing_thread"] == whole["triage"]["locks_held_by_crashing_thread"] != []
    code, doc = run_json(memtree, [X64, "--driver", "amdppm"])    # case-insensitive
    assert drivers_of(doc) == ["AmdPPM"]


def test_driver_option_on_arm64():
    code, doc = run_json(memtree, [need(ARM64), "--driver", "CAD"])
    assert code == 0 and drivers_of(doc) == ["CAD"]


@pytest.mark.parametrize("path", [X64, ARM64])
def test_unknown_driver_is_usage_error(path):
    with pytest.raises(UsageError) as e:
        run(memtree, [need(path), "--driver", "nosuch"])
    assert str(e.value).startswith("no KMDF driver named 'nosuch' (drivers: ")


def test_root_as_driver_name_named_from_the_dumps_kmdf_table():
    code, doc = run_json(memtree, [need(X64), "AmdPPM"])
    assert code == 0 and drivers_of(doc) == ["AmdPPM"]
    code, doc = run_json(memtree, [X64, "USBXHCI"])
    assert drivers_of(doc) == ["USBXHCI"]
    with pytest.raises(UsageError) as e:
        run(memtree, [X64, "NoSuchDriver"])
    assert "nosuchdriver" not in str(e.value).lower().split("(drivers:")[1]
    assert "AmdPPM" in str(e.value) and "none found" not in str(e.value)


def test_handle_view_keeps_the_dumps_truth():
    code, whole = run_json(memtree, [need(X64)])
    code, doc = run_json(memtree, [X64, "--handle", DEVICE])
    assert code == 0
    handles = [o["handle"] for o in doc["objects"]]
    assert handles[0] == DEVICE and IOTARGET in handles
    assert doc["objects"][0]["depth"] == 0
    assert doc["triage"]["locks_held_by_crashing_thread"] == whole["triage"]["locks_held_by_crashing_thread"]
    assert [p["address"] for p in doc["problems"] if p["code"] == "LOCK_HELD_BY_CRASHING_THREAD"] == [HELD_LOCK]
    assert not [p for p in doc["problems"] if p["severity"] == "error"]
    assert [p["severity"] for p in doc["problems"] if p["code"] == "UNREADABLE"] == ["warning"]
    code, out = run(memtree, [X64, "--handle", DEVICE])
    assert code == 0
    assert "the crashing thread 0xffffc08bde9e1640 holds WDFWAITLOCK" in out
    assert "WDFIOTARGET %s" % IOTARGET in out


def test_memusage_driver_option():
    code, doc = run_json(memusage, [need(X64), "--driver", "USBXHCI"])
    assert code == 0
    assert [d["name"] for d in doc["drivers"]] == ["USBXHCI"]
    assert all(o["driver"] == "USBXHCI" for o in doc["objects"])
    code, out = run(memusage, [X64, "--driver", "AmdPPM"])
    assert "USBXHCI" not in out.split("Problems:")[0]


def test_report_driver_option_writes_only_that_driver(tmp_path):
    _, view = run_json(memtree, [need(X64), "--driver", "AmdPPM"])
    out = str(tmp_path / "r.html")
    code, said = run(report, [X64, "-o", out, "--driver", "AmdPPM"])
    assert code == 0
    assert ": %d objects," % len(view["objects"]) in said
    _, whole = run_json(memtree, [X64])
    assert len(whole["objects"]) > len(view["objects"])


def test_depth_says_what_it_hides():
    code, out = run(memtree, [need(X64), "--driver", "AmdPPM", "--depth", "1"])
    assert code == 0
    assert "--depth 1: the children of 3 objects are not shown (8 objects below depth 1)" in out
    code, out = run(memtree, [X64, "--driver", "AmdPPM"])
    assert "are not shown" not in out
