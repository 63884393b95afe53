"""What a triage dump did not save is a fact about the dump, never NULL and
never an error: on the real DAIMUVG_102622-15671-01.dmp hidi2c's FxRequest
(only its first 0x100 bytes saved) has buffers `not captured`, its unsaved
IRP is information, and scan and memtree exit 0; no triage dump warns
NO_DRIVERS (the headline says once that this kind of dump has no driver
list); scan reports the problems memtree finds on the same objects."""

import os

import pytest

from cmdhelpers import run, run_json
from conftest import DUMPS
from wdfdbg import info, memory, memtree, scan
from wdfdbg.problems import ERROR, INFO, WARNING, ProblemLog

HIDI2C = os.path.join(DUMPS, "DAIMUVG_102622-15671-01.dmp")
REQUEST = "0xffffa20f19888970"
INPUT = "0x5df0e67775b1"


def need(path):
    if not os.path.exists(path):
        pytest.skip("../shared/dumps/%s is absent" % os.path.basename(path))
    return path


def test_gap_log_caps_unreadable_at_warning():
    log = ProblemLog(gaps=WARNING)
    assert log.add("UNREADABLE", 0x10, "a").severity == WARNING
    assert log.add("UNREADABLE", 0x20, "b", severity=INFO).severity == INFO
    assert log.add("CHILD_LIST_CORRUPT", 0x30, "c").severity == ERROR   # broken structure stays an error
    assert ProblemLog().add("UNREADABLE", 0x10, "a").severity == ERROR


@pytest.mark.parametrize("module", [memtree, scan])
def test_unsaved_irp_is_information_and_exit_is_0(module):
    code, doc = run_json(module, [need(HIDI2C)])
    assert code == 0
    irp = [p for p in doc["problems"] if "its IRP" in p["message"]]
    assert len(irp) == 1 and irp[0]["severity"] == "info"
    assert irp[0]["message"].endswith("(not saved in this triage dump)")
    assert not [p for p in doc["problems"] if p["severity"] == "error"]


def test_request_buffers_print_not_captured_never_null():
    code, out = run(memtree, [need(HIDI2C)])
    assert code == 0
    lines = [x for x in out.splitlines() if "WDFMEMORY 0x5df0e6777" in x]
    assert len(lines) == 2
    for line in lines:
        assert "buffer not captured, length unknown" in line and "NULL" not in line
    code, out = run(memory, [HIDI2C, INPUT])
    assert code == 0
    rows = dict(line.split(None, 1) for line in out.splitlines()
                if line.startswith(("buffer ", "length ", "mdl ")))
    assert rows == {"buffer": "not captured", "length": "unknown", "mdl": "not captured"}


def test_request_buffer_json_says_not_captured():
    code, doc = run_json(memtree, [need(HIDI2C)])
    req = [o for o in doc["objects"] if o["address"] == REQUEST][0]
    bufs = req["request_buffers"]
    assert [b["kind"] for b in bufs] == ["input", "output"]
    for b in bufs:
        assert b["buffer"] is None and b["not_captured"] == ["buffer"]


@pytest.mark.parametrize("name", ["FrancoTrone64_AX200_082325-12593-01.dmp", "NoamHuang_dell_040124-5515-01.dmp",
                                  "ProxyRule_011620-8250-01.dmp"])
@pytest.mark.parametrize("module", [memtree, info])
def test_no_drivers_is_not_warned_on_a_triage_dump(name, module):
    code, out = run(module, [need(os.path.join(DUMPS, name))])
    assert code == 0
    assert "NO_DRIVERS" not in out
    if module is memtree:
        assert "it cannot show: the KMDF driver list" in out


def test_scan_reports_the_lock_memtree_finds():
    x64 = need(os.path.join(DUMPS, "triage_x64.dmp"))
    code, out = run(scan, [x64])
    assert "No problems found" not in out
    assert "LOCK_HELD_BY_CRASHING_THREAD" in out
    _, tree = run_json(memtree, [x64])
    _, scanned = run_json(scan, [x64])
    locks = lambda doc: sorted(p["address"] for p in doc["problems"] if p["code"].startswith("LOCK_HELD"))  # noqa: E731
    assert locks(scanned) == locks(tree) != []
