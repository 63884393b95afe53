"""Types are data: a layout from symbols answers what the decoders read
from any legitimate shape of a member (``layouts.model.fit_shapes``), tells a
derived class's own member from a base class's of the same name by offset
(``StructLayout.own_member``), reads ``_WDF_VERSION`` as a struct or ULONG[3],
and ``--types`` reads xz-compressed ISF. Synthetic ISF, no ../shared needed
(``test_real_shapes.py`` runs the real types)."""

import gzip
import json
import lzma

import pytest

from cmdhelpers import fixture, run
from wdfdbg import memtree
from wdfdbg.decoders.drivers import entry_version
from wdfdbg.errors import InputError, LayoutError
from wdfdbg.layouts import IsfSource, TypeCompiler
from wdfdbg.layouts.model import fit_shapes
from wdfdbg.layouts.profiles import PROFILE_BY_NAME

U32 = {"kind": "base", "name": "unsigned long"}
U64 = {"kind": "base", "name": "unsigned long long"}
U8 = {"kind": "base", "name": "unsigned char"}
PTR = {"kind": "pointer", "subtype": {"kind": "base", "name": "void"}}


def _doc(user_types):
    return {"metadata": {"format": "6.2.0"}, "base_types": {}, "user_types": user_types, "enums": {}, "symbols": {}}


def _t(size, fields, kind="struct"):
    return {"kind": kind, "size": size, "fields": dict((n, {"offset": o, "type": t}) for n, (o, t) in fields.items())}


def _compile(user_types, name):
    return TypeCompiler(IsfSource(_doc(user_types)), 8, "test").compile(name)


REF = {"Outer": _t(0x30, {"Ptr": (0, PTR), "Bytes": (8, {"kind": "array", "count": 16, "subtype": U8}),
                          "Big": (0x18, {"kind": "union", "name": "_LI"}), "Count": (0x20, U32)}),
       "_LI": _t(8, {"QuadPart": (0, U64), "LowPart": (0, U32), "HighPart": (4, U32)}, kind="union")}


def test_class_union_and_integer_shapes_read_as_the_profile_reads_them():
    real = {"Outer": _t(0x30, {"Ptr": (0, {"kind": "class", "name": "Holder"}),
                               "Bytes": (8, {"kind": "struct", "name": "Attrs"}),
                               "Big": (0x18, U64), "Count": (0x20, {"kind": "enum", "name": "_E"})}),
            "Holder": _t(8, {"m_Irp": (0, PTR)}, kind="class"),
            "Attrs": _t(16, {"Size": (0, U32), "Cleanup": (8, PTR)})}
    fitted = fit_shapes(_compile(real, "Outer"), _compile(REF, "Outer"))
    data = bytes(range(1, 0x31))
    rec = fitted.decode(data)
    assert rec["Ptr"] == int.from_bytes(data[0:8], "little") == rec["Ptr.m_Irp"]
    assert bytes(rec["Bytes"]) == data[8:0x18] and rec["Bytes.Size"] == int.from_bytes(data[8:12], "little")
    assert rec["Big.QuadPart"] == int.from_bytes(data[0x18:0x20], "little")
    assert rec["Big.HighPart"] == int.from_bytes(data[0x1C:0x20], "little")
    assert rec["Count"] == int.from_bytes(data[0x20:0x24], "little")


@pytest.mark.parametrize("field,shape", [
    ("Ptr", {"kind": "struct", "name": "Tiny"}),                            # 4 bytes where 8 are read
    ("Bytes", {"kind": "array", "count": 4, "subtype": U8}),                # shorter than the profile's
    ("Count", {"kind": "base", "name": "float"}),
])
def test_shapes_no_build_lays_out_are_refused(field, shape):
    fields = {"Ptr": (0, PTR), "Bytes": (8, {"kind": "array", "count": 16, "subtype": U8}),
              "Big": (0x18, U64), "Count": (0x20, U32)}
    fields[field] = (fields[field][0], shape)
    real = {"Outer": _t(0x30, fields), "Tiny": _t(4, {"X": (0, U32)})}
    problem = fit_shapes(_compile(real, "Outer"), _compile(REF, "Outer"))
    assert isinstance(problem, tuple) and problem[0] == field


def test_own_member_is_told_apart_by_offset_not_name():
    mx = _t(0x10, {"m_DbgFlagIsInitialized": (0, U8), "m_Lock": (8, U64)}, kind="class")
    isf_style = {"FxSpinLock": _t(0x80, {"m_SpinLock": (0x30, {"kind": "class", "name": "MxLock"}),
                                         "m_SpinLock__0x68": (0x68, {"kind": "class", "name": "MxLock"})}, "class"),
                 "MxLock": mx}
    debugger_style = {"FxSpinLock": _t(0x80, {"m_SpinLock": (0x68, {"kind": "class", "name": "MxLock"})}, "class"),
                      "MxLock": mx}
    for uts in (isf_style, debugger_style):
        assert _compile(uts, "FxSpinLock").own_member("m_SpinLock", 0x68).offset == 0x68
    with pytest.raises(LayoutError):
        _compile({"FxSpinLock": _t(0x80, {"m_SpinLock": (0x30, {"kind": "class", "name": "MxLock"})}, "class"),
                  "MxLock": mx}, "FxSpinLock").own_member("m_SpinLock", 0x68)


def test_wdf_version_as_struct_or_array():
    assert entry_version({"Version.Major": 1, "Version.Minor": 33, "Version.Build": 0, "Version": (1, 33, 0)}) == (1, 33, 0)
    assert entry_version({"Version": (1, 15, 0)}) == (1, 15, 0)
    assert entry_version({"Version": b"\x01"}) is None and entry_version({}) is None


def test_1607_debug_extension_offsets():
    lay = TypeCompiler(IsfSource(PROFILE_BY_NAME["win10-1607-x64"].documents()["Wdf01000"]), 8, "p")
    ext = lay.compile("FxObjectDebugExtension")
    assert (ext.offset("Signature"), ext.offset("AllocationStart")) == (0x1C, 0x20)
    later = TypeCompiler(IsfSource(PROFILE_BY_NAME["win10-19041-x64"].documents()["Wdf01000"]), 8, "p")
    ext = later.compile("FxObjectDebugExtension")
    assert (ext.offset("Signature"), ext.offset("AllocationStart")) == (0x20, 0x30)


def _types_of_fixture():
    with gzip.open(fixture("typical", "wdfsnap.json.gz")) as f:
        return json.load(f)["types"]["nt"]


def test_types_file_xz_reads_like_plain(tmp_path):
    path = fixture("typical", "wdfsnap.json.gz")
    xz = tmp_path / "nt.json.xz"
    xz.write_bytes(lzma.compress(json.dumps(_types_of_fixture()).encode("utf-8")))
    plain = run(memtree, [path, "--json"])
    packed = run(memtree, [path, "--json", "--types", "nt=%s" % xz])
    assert packed[0] == plain[0]
    a, b = json.loads(plain[1]), json.loads(packed[1])
    assert a["objects"] == b["objects"] and len(a["objects"]) > 10


@pytest.mark.parametrize("damage,words", [("truncate", "truncated xz data"), ("flip", "corrupt xz data")])
def test_types_file_bad_xz_is_one_clear_error(tmp_path, damage, words):
    data = bytearray(lzma.compress(json.dumps(_types_of_fixture()).encode("utf-8")))
    if damage == "truncate":
        data = data[:len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    xz = tmp_path / "nt.json.xz"
    xz.write_bytes(bytes(data))
    with pytest.raises(InputError) as e:
        run(memtree, [fixture("typical", "wdfsnap.json.gz"), "--types", "nt=%s" % xz])
    assert words in str(e.value) and "\n" not in str(e.value)
