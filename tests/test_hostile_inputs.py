"""Issue 10's reproductions, one test each (items 1, 2, 4, 5 and 7): each runs
``wdfdbg`` in a child under an address-space cap (2 GiB for the real dump,
4 GiB otherwise) and must end in a right report, or exit 2 with exactly one
stderr line naming the problem, within 12 s and 400 MB of peak RSS
(``tests/hostile.py``). Hostile files are built here, in tmp_path."""

import json
import os

import pytest

import hostile
from cmdhelpers import fixture, load_doc
from conftest import DUMPS
from wdfdbg import memtree
from wdfdbg.sources import snapshot as snapfmt

X64 = os.path.join(DUMPS, "triage_x64.dmp")


def run(argv, cap=hostile.AS_4G, **kw):
    res = hostile.run(argv, cap=cap, **kw)
    res.assert_bounded()
    print(res.figures())
    return res


def typical():
    return load_doc(fixture("typical", "wdfsnap.json.gz"))


def save(tmp_path, doc, name="x.wdfsnap.json"):
    path = str(tmp_path / name)
    snapfmt.save(doc, path)
    return path


# -- item 1: a triage dump needs no more than its own size --------------------------
@pytest.mark.skipif(not os.path.exists(X64), reason="real dump %s is absent" % X64)
@pytest.mark.parametrize("argv", [["info"], ["memtree", "--json"]])
def test_real_triage_dump_under_a_2_gib_cap(argv):
    res = run([argv[0], X64] + argv[1:], cap=hostile.AS_2G)
    res.assert_report()
    assert "internal error" not in res.out
    if "--json" in argv:
        assert len(json.loads(res.out)["objects"]) == 39
    else:
        assert "0x1000007E" in res.out


# -- item 2: decompression bombs and range floods ------------------------------------
def test_bomb_512_mib_of_blanks(tmp_path):
    p = tmp_path / "blank512.wdfsnap.json.gz"
    p.write_bytes(hostile.blanks_gzip(512))
    assert os.path.getsize(str(p)) < 600000
    run(["info", str(p)]).assert_refused("gzip data expands past 64 MiB", "decompression bomb")


def test_bomb_2_gib_of_blanks(tmp_path):
    p = tmp_path / "blank2g.wdfsnap.json.gz"
    p.write_bytes(hostile.blanks_gzip(2048))
    run(["memtree", str(p)]).assert_refused("decompression bomb", "WDFDBG_MAX_GZIP_RATIO")


def test_bomb_300_concatenated_members(tmp_path):
    p = tmp_path / "members.wdfsnap.json.gz"
    p.write_bytes(hostile.gzip_members(300, 17))
    run(["info", str(p)]).assert_refused("decompression bomb")


def test_bomb_as_a_types_file(tmp_path):
    p = tmp_path / "Wdf01000.json.gz"
    p.write_bytes(hostile.blanks_gzip(512))
    res = run(["info", fixture("typical", "wdfsnap.json.gz"), "--types", str(p)])
    res.assert_refused("--types %s: gzip data expands past" % p)


def test_two_million_one_byte_ranges(tmp_path):
    p = str(tmp_path / "ranges.wdfsnap.json.gz")
    hostile.write_ranges(p, 2000000)
    run(["info", p]).assert_refused("parsing this JSON would take", "WDFDBG_MAX_JSON_MEMORY")


# -- item 4: struct sizes --------------------------------------------------------------
# A declared size is held to WDFDBG_MAX_STRUCT_BYTES only when an analysis
# reads the type (the layouts compile it): real kernels declare larger
# types than wdfdbg reads (the 1809 ntkrnlmp.pdb's _MI_HYPER_SPACE is
# 264 MiB), and a struct read reads only the bytes its fields cover.
READ_TOO_LARGE = "declares 4294967296 bytes, larger than any kernel structure wdfdbg reads"


def huge_unread_type(isf, name="_WDFDBG_HUGE", size=1 << 32):
    """Declare a struct of ``size`` bytes no analysis reads, with a member
    at its very end (the field-inside-its-type check still applies)."""
    isf["user_types"][name] = {"kind": "struct", "size": size, "fields": {
        "Tail": {"offset": size - 8, "type": {"kind": "base", "name": "unsigned long long"}}}}


def test_struct_size_of_2_to_the_32(tmp_path):
    doc = typical()
    doc["types"]["Wdf01000"]["user_types"]["FxObject"]["size"] = 1 << 32
    run(["memtree", save(tmp_path, doc)]).assert_refused(
        "Wdf01000!FxObject (types from symbols:Wdf01000): " + READ_TOO_LARGE, "WDFDBG_MAX_STRUCT_BYTES")


def test_struct_size_of_2_to_the_32_in_a_types_file(tmp_path):
    isf = typical()["types"]["Wdf01000"]
    isf["user_types"]["FxObject"]["size"] = 1 << 32
    tfile = tmp_path / "Wdf01000.json"
    tfile.write_text(json.dumps(isf))
    res = run(["memtree", fixture("typical", "wdfsnap.json.gz"), "--types", str(tfile)])
    res.assert_refused("Wdf01000!FxObject (types from types-file:Wdf01000=%s): " % tfile + READ_TOO_LARGE)


def test_struct_read_embedding_a_huge_type_is_refused(tmp_path):
    """FxObject itself small, but ending in a variable-length array of one
    4 GiB element: compiling it sizes the element, and refuses it."""
    doc = typical()
    huge_unread_type(doc["types"]["nt"])
    doc["types"]["Wdf01000"]["user_types"]["FxObject"]["fields"]["Tail"] = {
        "offset": doc["types"]["Wdf01000"]["user_types"]["FxObject"]["size"],
        "type": {"kind": "array", "count": 1, "subtype": {"kind": "struct", "name": "_WDFDBG_HUGE"}}}
    run(["memtree", save(tmp_path, doc)]).assert_refused(
        "Wdf01000!FxObject (types from symbols:Wdf01000): embeds _WDFDBG_HUGE, which " + READ_TOO_LARGE)


def test_huge_types_declared_but_not_read_are_accepted(tmp_path):
    """4 GiB types in a snapshot's nt and Wdf01000 types and in a --types
    file: the same report as without them, in the same bounds."""
    want = run(["memtree", fixture("typical", "wdfsnap.json.gz"), "--json"])
    want.assert_report()
    doc = typical()
    huge_unread_type(doc["types"]["nt"])
    huge_unread_type(doc["types"]["Wdf01000"], "FxHuge", 1 << 40)
    embedded = run(["memtree", save(tmp_path, doc), "--json"])
    isf = typical()["types"]["nt"]
    huge_unread_type(isf)
    tfile = tmp_path / "nt.json"
    tfile.write_text(json.dumps(isf))
    given = run(["memtree", fixture("typical", "wdfsnap.json.gz"), "--types", "nt=%s" % tfile, "--json"])
    for res in (embedded, given):
        res.assert_report()
        got = json.loads(res.out)
        assert got["objects"] == json.loads(want.out)["objects"], res.describe()
        assert got["summary"] == json.loads(want.out)["summary"], res.describe()


@pytest.mark.parametrize("size,words", [
    (1 << 65, "36893488147419103232 bytes is larger than the target's 64-bit address space"),
    (-1, ".size: not a non-negative number"),
    (1.5, ".size: not a non-negative number"),
])
def test_struct_sizes_that_cannot_be_are_refused_at_load(tmp_path, size, words):
    """Declared, never read, and still refused: past the address space,
    negative, not an integer."""
    doc = typical()
    doc["types"]["nt"]["user_types"]["_WDFDBG_HUGE"] = {"kind": "struct", "size": size, "fields": {}}
    run(["info", save(tmp_path, doc)]).assert_refused('types.nt.user_types["_WDFDBG_HUGE"].size', words)


# -- item 5: base types that cannot be ---------------------------------------------
def _base(doc, name):
    return doc["types"]["Wdf01000"]["base_types"][name]


@pytest.mark.parametrize("name,change,words", [
    # an integer base type declared float (TypeError in tag_string before)
    ("unsigned long", {"kind": "float"}, '"unsigned long" is a 4-byte unsigned integer on Windows'),
    # a 2-byte float (compiled as a "d" struct code before: struct.error)
    ("unsigned short", {"kind": "float"}, '"unsigned short" is a 2-byte unsigned integer on Windows'),
])
def test_base_type_lies_are_refused(tmp_path, name, change, words):
    doc = typical()
    _base(doc, name).update(change)
    run(["memtree", save(tmp_path, doc)]).assert_refused('types.Wdf01000.base_types["%s"]' % name, words)


@pytest.mark.parametrize("field,ftype,words", [
    # a custom 2-byte float (a kind and size a base type can have) for m_Type
    ("m_Type", {"kind": "base", "name": "HALF"}, "the types make it a float of 2 bytes"),
    # found by the fuzz campaign: a field read as an integer declared an
    # array (decoders got a tuple), or void (they got nothing)
    ("m_ParentObject", {"kind": "array", "count": 1, "subtype": {"kind": "base", "name": "char"}},
     "the types make it an array of integers"),
    ("m_Refcnt", {"kind": "base", "name": "void"}, "the types make it a void of 0 bytes"),
])
def test_a_field_of_the_wrong_shape_is_refused(tmp_path, field, ftype, words):
    doc = typical()
    wdf = doc["types"]["Wdf01000"]
    wdf["base_types"]["HALF"] = {"kind": "float", "size": 2, "signed": True, "endian": "little"}
    wdf["user_types"]["FxObject"]["fields"][field]["type"] = ftype
    run(["memtree", save(tmp_path, doc)]).assert_refused("Wdf01000!FxObject.%s: " % field, words,
                                                         "but wdfdbg reads it as an integer or pointer")


def test_pointers_are_unsigned_whatever_the_isf_says(tmp_path, capsys):
    doc = typical()
    for isf in doc["types"].values():
        isf["base_types"]["pointer"]["signed"] = True
        for ut in isf["user_types"].values():
            for fd in ut["fields"].values():
                if fd["type"].get("kind") == "pointer":
                    fd["type"] = {"kind": "base", "name": "pointer"}
    path = save(tmp_path, doc)
    res = run(["memtree", path])
    res.assert_report()
    assert "0x-" not in res.out
    clean = fixture("typical", "wdfsnap.json.gz")
    capsys.readouterr()
    memtree.main([clean])
    assert res.out.replace(path, "SOURCE") == capsys.readouterr().out.replace(clean, "SOURCE")


# -- item 7: special files -------------------------------------------------------------
@pytest.mark.parametrize("dev", ["/dev/zero", "/dev/urandom"])
def test_device_as_source(dev):
    if not os.path.exists(dev):
        pytest.skip("%s is absent" % dev)
    run(["info", dev]).assert_refused("%s: a character device, not a regular file" % dev)


def test_device_as_types_file():
    res = run(["info", fixture("typical", "wdfsnap.json.gz"), "--types", "Wdf01000=/dev/zero"])
    res.assert_refused("--types /dev/zero: a character device, not a regular file")


def test_fifo_as_source(tmp_path):
    p = hostile.fifo(str(tmp_path / "pipe.dmp"))
    run(["memtree", p], timeout=12).assert_refused("a FIFO (named pipe), not a regular file")


def test_fifo_as_types_file(tmp_path):
    p = hostile.fifo(str(tmp_path / "Wdf01000.json"))
    res = run(["info", fixture("typical", "wdfsnap.json.gz"), "--types", p], timeout=12)
    res.assert_refused("--types %s: a FIFO" % p)


