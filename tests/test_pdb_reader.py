"""wdfdbg.sources.pdb on a PDB that clang and lld-link made from C++
declarations with the KMDF classes' shapes (tests/pdb/kmdf_shapes.cpp),
checked against llvm-pdbutil (Debian llvm) as the independent reader, and
against the built-in profile's offsets; corrupt PDBs give one error line."""

import os
import re
import shutil
import struct
import subprocess

import pytest

from wdfdbg.layouts.profiles import PROFILE_BY_NAME
from wdfdbg.sources.pdb import PdbFormatError, parse_pdb, read_pdb
from wdfdbg.sources.pe import PeImage, file_reader

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pdb")
PDB = os.path.join(HERE, "kmdf_shapes.pdb")
IMAGE = os.path.join(HERE, "kmdf_shapes.sys")


@pytest.fixture(scope="module")
def pdb():
    return read_pdb(PDB)


def _pdbutil(*args):
    tool = shutil.which("llvm-pdbutil")
    if not tool:
        pytest.skip("llvm-pdbutil (Debian llvm) is not installed")
    return subprocess.run([tool, "dump"] + list(args) + [PDB], check=True, stdout=subprocess.PIPE,
                          universal_newlines=True).stdout


def _records(text):
    """llvm-pdbutil's TPI dump -> {ti: {leaf, name, size, fields, forward, members}}."""
    recs = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"\s+0x([0-9A-F]+) \| (LF_\w+) \[size = \d+\](?: `(.*)`)?", line)
        if m:
            cur = recs[int(m.group(1), 16)] = {"leaf": m.group(2), "name": m.group(3), "members": []}
            continue
        if cur is None:
            continue
        m = re.search(r"field list: (0x[0-9A-F]+|<no type>)", line)
        if m:
            cur["fields"] = int(m.group(1), 16) if m.group(1) != "<no type>" else None
        m = re.search(r"unique name: `(.*)`", line)
        if m:
            cur["unique"] = m.group(1)
        if "options:" in line:
            cur["forward"] = "forward ref" in line
            m = re.search(r"sizeof (\d+)", line)
            cur["size"] = int(m.group(1)) if m else None
        m = re.match(r"\s+- LF_MEMBER \[name = `(.*)`, Type = (0x[0-9A-F]+).*, offset = (\d+)", line)
        if m:
            cur["members"].append(("member", m.group(1), int(m.group(2), 16), int(m.group(3))))
        if re.match(r"\s+- LF_VFUNCTAB", line):
            cur["members"].append(("vfptr",))
        if re.match(r"\s+- LF_BCLASS", line):
            cur["members"].append(("base?",))
        m = re.match(r"\s+type = (0x[0-9A-F]+), offset = (\d+), attrs", line)
        if m and cur["members"] and cur["members"][-1] == ("base?",):
            cur["members"][-1] = ("base", int(m.group(1), 16), int(m.group(2)))
        m = re.match(r"\s+- LF_ENUMERATE \[(\w+) = (-?\d+)\]", line)
        if m:
            cur["members"].append(("enumerate", m.group(1), int(m.group(2))))
        m = re.match(r"\s+type = (0x[0-9A-F]+) .*bit offset = (\d+), # bits = (\d+)", line)
        if m:
            cur["bitfield"] = (int(m.group(2)), int(m.group(3)))
    return recs


def _flat(recs, ti, base=0, out=None, depth=0):
    """Every (offset, name) of a class flattened with its bases, from llvm-pdbutil's records."""
    out = [] if out is None else out
    rec = recs[ti]
    if rec.get("forward"):
        rec = next(r for r in recs.values() if r.get("unique") == rec.get("unique") and not r.get("forward"))
    for m in recs[rec["fields"]]["members"] if rec.get("fields") else ():
        if m[0] == "base":
            _flat(recs, m[1], base + m[2], out, depth + 1)
        elif m[0] == "vfptr":
            out.append((base, "__vfptr"))
        elif m[0] == "member":
            out.append((base + m[3], m[1]))
    return out


CLASSES = ["FxObject", "FxSpinLock", "FxMemoryBuffer", "FxMemoryBufferFromPool", "FxRequestMemory",
           "FxMemoryPagedBufferFromPoolLookaside", "FxNPagedLookasideListFromPool", "FxPagedLookasideListFromPool",
           "FxRequest", "_IRP", "_IO_STACK_LOCATION", "_WDF_MEMORY_DESCRIPTOR", "_GENERAL_LOOKASIDE",
           "_FX_DRIVER_GLOBALS", "FxLibraryGlobalsType", "_FX_DUMP_DRIVER_INFO_ENTRY", "_SLIST_HEADER"]


def test_identity_matches_llvm_pdbutil_and_the_image(pdb):
    out = _pdbutil("--summary")
    g = re.search(r"GUID: \{([0-9A-F-]+)\}", out).group(1)
    age = int(re.search(r"Age: (\d+)", out).group(1))
    # llvm-pdbutil prints the GUID in registry form: the same digits as the SymStore key
    assert pdb.guid == g.replace("-", "")
    assert pdb.age == age
    name, guid, image_age = PeImage(file_reader(IMAGE), mapped=False).codeview()
    assert (name, pdb.matches(guid, image_age)) == ("kmdf_shapes.pdb", True)
    assert not pdb.matches(guid[:-1] + ("0" if guid[-1] != "0" else "1"), image_age)


def test_types_match_llvm_pdbutil(pdb):
    recs = _records(_pdbutil("--types"))
    defs = dict((r["name"], ti) for ti, r in sorted(recs.items())
                if r["leaf"] in ("LF_CLASS", "LF_STRUCTURE", "LF_UNION") and not r.get("forward"))
    kinds = {"LF_CLASS": "class", "LF_STRUCTURE": "struct", "LF_UNION": "union"}
    for name in CLASSES:
        ti = defs[name]
        mine = pdb.isf["user_types"][name]
        assert mine["size"] == recs[ti]["size"], name
        assert mine["kind"] == kinds[recs[ti]["leaf"]], name
        theirs = sorted(set(_flat(recs, ti)))
        ours = sorted(set((f["offset"], re.sub(r"__0x[0-9a-f]+$", "", n).split("__vfptr_")[0] or "__vfptr")
                          for n, f in mine["fields"].items()))
        assert ours == theirs, name


def test_enums_and_bitfields_match_llvm_pdbutil(pdb):
    recs = _records(_pdbutil("--types"))
    for ti, r in recs.items():
        if r["leaf"] == "LF_ENUM" and not r.get("forward"):
            theirs = dict((m[1], m[2]) for m in recs[r["fields"]]["members"])
            assert pdb.isf["enums"][r["name"]]["constants"] == theirs
    flags = pdb.isf["user_types"]["FxObject"]["fields"]["m_ObjectFlagsByName"]["type"]["name"]
    bits = pdb.isf["user_types"][flags]["fields"]
    assert [(bits[n]["type"]["bit_position"], bits[n]["type"]["bit_length"])
            for n in ("IsPassiveDisposeState", "HasDebug", "UnusedFlag")] == [(0, 1), (5, 1), (6, 10)]
    seen = set(r["bitfield"] for r in recs.values() if "bitfield" in r)
    assert (6, 10) in seen and (5, 1) in seen


def test_publics_match_llvm_pdbutil_and_the_image_sections(pdb):
    out = _pdbutil("--publics")
    sections = PeImage(file_reader(IMAGE), mapped=False).sections
    pairs = re.findall(r"S_PUB32 \[size = \d+\] `(.*)`\n\s+flags = .*, addr = (\d+):(\d+)", out)
    assert len(pairs) > 40
    by_rva = dict((n, sections[int(s) - 1][1] + int(o)) for n, s, o in pairs)
    assert by_rva["??_7FxMemoryBuffer@@6BIFxMemory@@@"] == pdb.publics["FxMemoryBuffer::`vftable'{for `IFxMemory'}"]
    assert by_rva["??_7FxMemoryBuffer@@6BFxObject@@@"] == pdb.publics["FxMemoryBuffer::`vftable'{for `FxObject'}"]
    assert by_rva["??_7FxSpinLock@@6B@"] == pdb.publics["FxSpinLock::`vftable'"]
    assert by_rva["?FxLibraryGlobals@@3UFxLibraryGlobalsType@@A"] == pdb.publics["FxLibraryGlobals"]
    assert by_rva["g_WdfTriageInfo"] == pdb.publics["g_WdfTriageInfo"]
    assert pdb.isf["symbols"]["FxLibraryGlobals"] == {"address": pdb.publics["FxLibraryGlobals"]}


def test_flattening_follows_the_reference_convention(pdb):
    ut = pdb.isf["user_types"]
    spin = ut["FxSpinLock"]["fields"]
    assert spin["m_SpinLock"]["offset"] == 0x30 and spin["m_SpinLock__0x68"]["offset"] == 0x68
    mem = ut["FxMemoryBufferFromPool"]["fields"]
    assert (mem["__vfptr"]["offset"], mem["__vfptr_IFxMemory"]["offset"], mem["m_Pool"]["offset"]) == (0, 0x68, 0x78)
    assert ut["_WDF_MEMORY_DESCRIPTOR"]["fields"]["u"]["type"]["kind"] == "union"
    assert ut["FxRequest"]["fields"]["m_Irp"]["type"] == {"kind": "class", "name": "FxIrp"}
    assert ut["_FX_DUMP_DRIVER_INFO_ENTRY"]["fields"]["Version"]["type"] == {"kind": "struct", "name": "_WDF_VERSION"}
    assert ut["_GENERAL_LOOKASIDE"]["fields"]["Type"]["type"] == {"kind": "enum", "name": "_POOL_TYPE"}


def test_offsets_agree_with_the_built_in_profile(pdb):
    """Every field the 19041 profile gives a type the PDB also defines sits at the same offset
    (the profile's flat aliases, such as _WDF_MEMORY_DESCRIPTOR's BufferBuffer, are not members)."""
    prof = PROFILE_BY_NAME["win10-19041-x64"].documents()["Wdf01000"]["user_types"]
    ut = pdb.isf["user_types"]
    checked = 0
    for name, t in prof.items():
        mine = ut.get(name)
        if mine is None:
            continue
        assert mine["size"] >= t["size"], name
        for field, f in t["fields"].items():
            if field in mine["fields"]:
                assert mine["fields"][field]["offset"] == f["offset"], "%s.%s" % (name, field)
                checked += 1
    assert checked > 150


@pytest.mark.parametrize("damage, words", [
    (lambda d: b"X" + d[1:], "no MSF 7.00 signature"),
    (lambda d: d[:32] + struct.pack("<I", 3000) + d[36:], "block size"),
    (lambda d: d[:0x2000], "blocks"),
    (lambda d: d[:44] + struct.pack("<I", 0x7FFFFFF0) + d[48:], "stream directory"),
    (lambda d: d[:52] + struct.pack("<I", 0xFFFFFF) + d[56:], "beyond"),
])
def test_corrupt_pdbs_are_one_error(damage, words):
    with open(PDB, "rb") as f:
        data = damage(f.read())
    with pytest.raises(PdbFormatError) as info:
        parse_pdb(data, "kmdf_shapes.pdb")
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_corrupt_type_records_are_one_error():
    with open(PDB, "rb") as f:
        data = bytearray(f.read())
    from wdfdbg.sources.pdb.msf import MsfFile
    msf = MsfFile(bytes(data))
    blocks, _size = msf._streams[2]
    at = blocks[0] * msf.block_size + 56                # the first TPI record's length
    struct.pack_into("<H", data, at, 0xFFF0)
    with pytest.raises(PdbFormatError) as info:
        parse_pdb(bytes(data), "kmdf_shapes.pdb")
    assert "TPI stream" in str(info.value)


def test_types_asked_one_at_a_time_equal_the_whole_document():
    """An analysis asks the PDB for each type it needs; the answers are the
    whole document's entries (checked on a fresh read, so that no type was
    flattened before it is asked for)."""
    fresh = read_pdb(PDB)
    builder = fresh.builder
    asked = dict((name, builder.user_type(name)) for name in CLASSES)
    asked_enums = dict((name, builder.enum(name)) for name in ("_POOL_TYPE", "_WDF_MEMORY_DESCRIPTOR_TYPE"))
    doc = fresh.isf
    for name in CLASSES:
        assert asked[name] == doc["user_types"][name], name
    for name, entry in asked_enums.items():
        assert entry == doc["enums"][name]
    assert builder.user_type("NoSuchType") is None and builder.enum("FxObject") is None
    assert builder.base_type("unsigned short") == doc["base_types"]["unsigned short"]
