"""Every bug check Microsoft documents is named, with its parameters'
meaning (wdfdbg/data/bugcheck_codes.json, generated from the bug check code
reference by scripts/make_bugcheck_codes.py); codes print as ``0x10D`` in
text; and the real triage dumps' bugchecks (0x65, 0x1C7, 0x101, 0x133,
0x50 with parameter 2 = 0x11) come out named and decoded."""

import json
import os
import re

import pytest

from cmdhelpers import run
from conftest import DUMPS
from wdfdbg import info, memtree, scan
from wdfdbg.decoders.bugcheck import (bugcheck_meaning, bugcheck_name, code_text, decode_parameters,
                                      page_fault_access)
from wdfdbg.decoders.bugcheck_codes import TABLE, codes


def dump(name):
    path = os.path.join(DUMPS, name)
    if not os.path.exists(path):
        pytest.skip("../shared/dumps/%s is absent" % name)
    return path


def test_table_holds_every_code_of_the_reference():
    table = codes()
    # the reference (2025-11) lists 379 rows, one of them 0x1000007E twice over
    assert len(table) >= 370
    for code in (0x1, 0xA, 0x50, 0x65, 0x7E, 0x101, 0x10D, 0x133, 0x1C7, 0x1C8, 0xC000021A, 0xDEADDEAD):
        assert bugcheck_name(code), hex(code)
    with open(TABLE, encoding="utf-8") as f:
        origin = json.load(f)["origin"]
    assert "windows-driver-docs" in origin and "CC BY 4.0" in origin


def test_every_name_is_an_upper_case_identifier_and_no_text_is_markup():
    for code, (name, meaning, params, subs) in codes().items():
        assert re.match(r"^[A-Z0-9_]+$", name), (hex(code), name)
        texts = [meaning] + list(params) + [c for c, _ in subs.values()]
        for t in texts:
            assert t is None or not re.search(r"</?[a-z]+[ >/]|\*\*|\\_", t), (hex(code), t)


def test_m_variant_is_named_after_its_base_code():
    assert bugcheck_name(0x1000008E) == "KERNEL_MODE_EXCEPTION_NOT_HANDLED_M"
    assert bugcheck_name(0x100000EA) == "THREAD_STUCK_IN_DEVICE_DRIVER_M"
    assert bugcheck_name(0x12345678) is None


def test_code_text_is_upper_case_hex():
    assert code_text(0x10D) == "0x10D"
    assert code_text("0x1c7") == "0x1C7"
    assert code_text(0x1000007E) == "0x1000007E"


def test_0x101_parameters_have_their_meaning():
    d = decode_parameters(None, 0x101, [0xC, 0, 0xFFFF98802B36A180, 2])
    assert d["parameter1"].startswith("0xc: Clock interrupt time-out interval")
    assert "processor control block" in d["parameter3"]
    assert d["parameter4"] == "0x2: The index of the hung processor."


def test_0x133_is_decoded_by_parameter_1():
    d = decode_parameters(None, 0x133, [1, 0x1E00, 0xFFFFF800576FB320, 0])
    assert "cumulatively spent an extended period" in d["parameter1"]
    assert d["parameter2"] == "0x1e00: The watchdog period"
    assert "DPC_WATCHDOG_GLOBAL_TRIAGE_BLOCK" in d["parameter3"]
    single = decode_parameters(None, 0x133, [0, 0x501, 0x500, 0])
    assert "single DPC or ISR exceeded" in single["parameter1"]
    assert single["parameter2"].startswith("0x501: The DPC time count")


def test_0x1a_subtype_0x41792_is_a_corrupted_pte():
    d = decode_parameters(None, 0x1A, [0x41792, 0xFFFF800000001000, 0x8A, 0])
    assert "corrupted PTE" in d["parameter1"]
    assert d["parameter2"] == "0xffff800000001000"
    unknown = decode_parameters(None, 0x1A, [0x7777777, 0, 0, 0])
    assert "does not list" in unknown["parameter1"]


def test_0x1c7_is_decoded_by_corruption_id():
    d = decode_parameters(None, 0x1C7, [0, 0xFFFF85824E1B8000, 0xA9E69D15, 0x2268DA])
    assert "hash doesn't match" in d["parameter1"]
    assert d["parameter3"] == "0xa9e69d15: Expected buffer hash."
    assert d["parameter4"] == "0x2268da: Page frame number of the corrupted page."


def test_0x65_says_its_parameters_are_not_documented():
    assert bugcheck_name(0x65) == "MEMORY1_INITIALIZATION_FAILED"
    d = decode_parameters(None, 0x65, [0, 0, 0, 0])
    assert list(d) == ["parameters_documented"] and d["parameters_documented"].startswith("no")


def test_0x50_parameter_2_by_architecture():
    assert page_fault_access("x64", 0x0) == "read"
    assert page_fault_access("x64", 0x2) == "write"
    assert page_fault_access("x64", 0x10) == "execute (instruction fetch)"
    assert page_fault_access("x64", 0x11).startswith("execute (instruction fetch), of a present page")
    assert page_fault_access("arm64", 0x8) == "execute"
    assert page_fault_access("arm64", 0x1) == "write"
    assert page_fault_access("x64", 0x1234) == "0x1234"


def test_meaning_comes_from_the_reference_when_not_written_here():
    assert bugcheck_meaning(0x1C7).startswith("the store component detected a corruption")
    assert bugcheck_meaning(0x35).startswith("the IoCallDriver packet has no more stack locations")
    assert bugcheck_meaning(0x65) is None  # the reference says nothing more than the name


@pytest.mark.parametrize("name, line", [
    ("NoamHuang_dell_040124-5515-01.dmp", "0x1C7 STORE_DATA_STRUCTURE_CORRUPTION"),
    ("FrancoTrone64_AX200_082325-12593-01.dmp", "0x65 MEMORY1_INITIALIZATION_FAILED"),
    ("DAIMUVG_102622-12000-01.dmp", "0x101 CLOCK_WATCHDOG_TIMEOUT"),
    ("NoamHuang_dell_033124-5078-01.dmp", "0x133 DPC_WATCHDOG_VIOLATION"),
])
def test_real_dump_bugcheck_is_named_and_decoded_in_info(name, line):
    code, out = run(info, [dump(name)])
    assert code == 0
    assert "bugcheck:    " + line in out
    if "0x65" not in line:
        assert "parameter1: 0x" in out and "parameter2: 0x" in out


def test_real_dump_0x50_execute_of_present_page():
    code, out = run(info, [dump("ojusha_help_100623-6156-01.dmp")])
    assert "access: execute (instruction fetch), of a present page (protection violation)" in out


@pytest.mark.parametrize("module", [memtree, scan, info])
def test_bugcheck_codes_are_upper_case_in_text(module):
    code, out = run(module, [dump("NoamHuang_dell_040124-5515-01.dmp")])
    assert "0x1C7" in out
    assert "0x1c7" not in out
