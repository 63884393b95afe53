"""The m_Type table (kmdf.md §3, complete), DDI names, and the class a type
code names, in the documented order against vtable symbols and shape."""

import os
import re

import pytest

from conftest import SHARED
from test_triage_heap import REAL_X64, need_real
from wdfdbg.decoders import types as fxt

# kmdf.md §3, as a list (the test also reads the file when it is present)
SECTION_3 = [0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x1006, 0x1007, 0x1008, 0x1009, 0x100B, 0x100C, 0x100E,
             0x1012, 0x1013, 0x1014, 0x1015, 0x1016, 0x1017, 0x1018, 0x1021, 0x1022, 0x1023, 0x1024, 0x1025,
             0x1026, 0x1027, 0x1028, 0x1029, 0x1030, 0x1031, 0x1032, 0x1033, 0x1034, 0x1035, 0x1036, 0x1037,
             0x1038, 0x1039, 0x1040, 0x1100, 0x1101, 0x1102, 0x1103, 0x1104, 0x1105, 0x1106, 0x1200, 0x1201,
             0x1202, 0x1203, 0x1204, 0x1205, 0x1400, 0x1401, 0x1402, 0xFFFF]


def test_every_code_of_the_fact_sheet_is_in_the_table():
    assert sorted(fxt.FX_TYPES) == sorted(SECTION_3)
    path = os.path.join(SHARED, "reference", "kmdf.md")
    if not os.path.exists(path):
        pytest.skip("kmdf.md is absent")
    text = open(path).read()
    sec = text[text.index("## 3."):text.index("## 4.")]
    codes = set(int(c, 16) for c in re.findall(r"\b0x1[0-9A-F]{3}\b|\b0xFFFF\b", sec))
    codes -= set(range(0x1100, 0x1107)) - set(fxt.FX_TYPES)   # "packages 0x1100–0x1106" as a range
    codes.discard(0x100A)                                     # an interface id, never in m_Type
    assert codes <= set(fxt.FX_TYPES)
    assert set(range(0x1100, 0x1107)) <= set(fxt.FX_TYPES)


def test_ddi_names_fixed_by_issue_11():
    assert fxt.ddi_name(0x1017) == "WDFCMRESOURCE" != "WDFCMRESLIST"
    assert fxt.ddi_name(0x1016) == "WDFIORESOURCE"
    assert fxt.ddi_name(0x1036) == "WDFCMRESLIST" and fxt.ddi_name(0x1035) == "WDFIORESLIST"
    assert fxt.ddi_name(0x1014) == "WDFDEVICE"                 # FxMpDevice is a WDFDEVICE (FxObjectsInfo)
    assert fxt.ddi_name(0x1200) == "WDFIOTARGET"
    assert fxt.is_internal(0x1017) and fxt.is_internal(0x1101) and not fxt.is_internal(0x1036)
    assert fxt.ddi_name(0x1000, "FxMemoryBuffer") == "WDFMEMORY"
    assert fxt.ddi_name(0x1234) is None


def test_class_by_type_code():
    assert fxt.class_of_type(0x1017) == "FxResourceCm"
    assert fxt.class_of_type(0x1023) == "FxWaitLock"
    assert fxt.class_of_type(0x1200, 0x160) == "FxIoTarget"
    assert fxt.class_of_type(0x1200, 0x200) == "FxIoTargetRemote"
    assert fxt.class_of_type(0x1200, 0x400) == "FxIoTarget"    # the base class both derive from
    assert fxt.class_of_type(0x1200, 0x200, pointer_size=4) == "FxIoTarget"
    assert fxt.class_of_type(0x1008, 0x168) == "FxRequest"
    assert fxt.class_of_type(0x1008, 0) == "FxSyncRequest"
    assert fxt.class_of_type(0x1401) == "FxDmaTransactionBase"
    assert fxt.class_of_type(0x1000) is None and fxt.class_of_type(0x1009) is None   # shape decides
    assert fxt.class_of_type(0x1026) is None                   # no class constructs with it
    # a class per code that exactly one class uses, and no class twice
    classes = list(fxt.CLASS_BY_TYPE.values())
    assert len(classes) == len(set(classes))


def test_choose_class_order():
    # 1. a vtable symbol the code can carry
    assert fxt.choose_class(0x1200, 0x200, vtable_cls="FxIoTargetRemote") == ("FxIoTargetRemote", "vtable")
    assert fxt.choose_class(0x1000, 0xa0, "FxMemoryBuffer", "FxMemoryBufferFromPool") == ("FxMemoryBuffer", "vtable")
    # 2. an unambiguous code overrules a folded vtable's symbol (Wdf01000+0x967a0)
    assert fxt.choose_class(0x1017, 0, vtable_cls="FxWaitLock") == ("FxResourceCm", "type-code")
    assert fxt.choose_class(0x1023, 0x90, vtable_cls="FxWaitLock") == ("FxWaitLock", "vtable")
    # 3. shape for shared codes
    assert fxt.choose_class(0x1000, 0xa0, None, "FxMemoryBuffer") == ("FxMemoryBuffer", "shape")
    # 4. size, then the base class
    assert fxt.choose_class(0x1200, 0x160) == ("FxIoTarget", "type-code")
    assert fxt.choose_class(0x1200, 0x160, vtable_cls="FxWaitLock") == ("FxIoTarget", "type-code")
    # nothing names it
    assert fxt.choose_class(0x1000, 0x68) == (None, None)
    # query-only codes are never stored: a vtable there is not believed
    assert fxt.choose_class(0x1022, 0x80, vtable_cls="FxMemoryBufferPreallocated") == (None, None)


@need_real
def test_real_dump_objects_all_get_a_class():
    """Every one of the 39 real objects: a class, 0x1017 FxResourceCm,
    0x1200 FxIoTarget (no vtable symbols in a triage dump)."""
    from wdfdbg import memtree
    from wdfdbg.session import open_session
    s = open_session(REAL_X64)
    drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
    assert len(nodes) == 39
    got = {}
    for n in nodes:
        h = n.header
        shape = h.cls if h.cls_source == "shape" else None
        got[n.address] = fxt.choose_class(h.fx_type, h.object_size, None, shape)
    assert all(cls for cls, _src in got.values())
    assert got[0xffffc08be46ed720] == ("FxResourceCm", "type-code")
    assert fxt.ddi_name(0x1017) != "WDFCMRESLIST"
    io = [n.address for n in nodes if n.header.fx_type == 0x1200]
    assert io and all(got[a] == ("FxIoTarget", "type-code") for a in io)
    assert got[0xffffc08be455c060] == ("FxMemoryBuffer", "shape")
    # the shared vtable of kmdf.md §12
    vts = dict((n.header.fx_type, n.header.vfptr) for n in nodes if n.header.fx_type in (0x1017, 0x1023))
    wdf = s.target.module("Wdf01000")
    assert vts[0x1017] == vts[0x1023] == wdf.base + 0x967a0
