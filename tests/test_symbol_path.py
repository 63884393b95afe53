"""_NT_SYMBOL_PATH syntax, SymStore lookups, module identity: from a
snapshot's image identity through the image file in the store to its PDB;
from the module list of the real triage dumps; and what ``snapshot``
writes of it."""

import gzip
import json
import os
import shutil

import pytest

from cmdhelpers import run_json
from wdfdbg import memtree
from wdfdbg.session import open_backend
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.pe import PeImage, file_reader, image_key
from wdfdbg.sources.symbols import with_symbols
from wdfdbg.sources.symsrv import SymbolPath, parse_symbol_path, pdb_key
from wdfdbg.testing.heap import HeapBuilder

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pdb")
PDB = os.path.join(HERE, "kmdf_shapes.pdb")
IMAGE = os.path.join(HERE, "kmdf_shapes.sys")
DUMPS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "dumps")


@pytest.fixture(autouse=True)
def no_environment_symbols(monkeypatch):
    monkeypatch.delenv("_NT_SYMBOL_PATH", raising=False)
    monkeypatch.delenv("_NT_ALT_SYMBOL_PATH", raising=False)


def test_elements_as_the_debugger_reads_them():
    els = parse_symbol_path(r"cache*C:\cache;srv*C:\symbols*\\share\sym*https://msdl.microsoft.com/download/symbols;"
                            r";D:\mine;symsrv*symsrv.dll*E:\st*http://127.0.0.1:8/x/")
    assert [e.text for e in els][1] == r"srv*C:\symbols*\\share\sym*https://msdl.microsoft.com/download/symbols"
    kinds = [[type(p).__name__ for p in e.places] for e in els]
    assert kinds == [["Store"], ["Store", "Store", "Server"], ["Store"], ["Store", "Server"]]
    assert els[0].copy_back is None and els[1].copy_back is True and els[2].copy_back is False
    assert els[1].places[2].url == "https://msdl.microsoft.com/download/symbols"
    assert els[3].places[0].path == r"E:\st" and els[3].places[1].url == "http://127.0.0.1:8/x"
    assert els[2].places[0].flat and not els[1].places[0].flat


def test_keys_are_symstores():
    pe = PeImage(file_reader(IMAGE), mapped=False)
    assert image_key(0x5E1A2B3C, 0xD1000) == "5E1A2B3Cd1000"
    assert pdb_key("4a3e0000-1111-2222-3333-444455556666", 0x1a) == "4A3E00001111222233334444555566661a"
    assert image_key(pe.timestamp, pe.size_of_image) == "%08X%x" % (pe.timestamp, pe.size_of_image)


def test_a_store_copies_back_into_the_downstream_store(tmp_path):
    name, guid, age = PeImage(file_reader(IMAGE), mapped=False).codeview()
    key = pdb_key(guid, age)
    upstream = tmp_path / "up" / name / key
    upstream.mkdir(parents=True)
    shutil.copy(PDB, str(upstream / name))
    down = tmp_path / "down"
    path = SymbolPath("srv*%s*%s" % (down, tmp_path / "up"), progress=False)
    found = path.find(name, key)
    assert found == str(upstream / name)
    assert (down / name / key / name).is_file()


def test_a_file_ptr_redirect_is_followed(tmp_path):
    name, guid, age = PeImage(file_reader(IMAGE), mapped=False).codeview()
    key = pdb_key(guid, age)
    folder = tmp_path / "st" / name / key
    folder.mkdir(parents=True)
    (folder / "file.ptr").write_text("PATH:%s" % PDB)
    assert SymbolPath(str(tmp_path / "st"), progress=False).find(name, key) == PDB
    (folder / "file.ptr").write_text("MSG: withheld")
    path = SymbolPath(str(tmp_path / "st"), progress=False)
    assert path.find(name, key) is None
    assert path.notes == ["%s: file.ptr says MSG: withheld" % (tmp_path / "st")]


def _heap_doc(**identity):
    b = HeapBuilder("identity", description="one driver (synthetic)")
    b.add_driver("AmdPPM", "AmdP")
    doc = b.built().document(types=False, symbols=True)
    for m in doc["modules"]:
        if m["name"] == "Wdf01000":
            m.update(identity)
    return doc


def test_the_image_in_the_store_names_the_pdb(tmp_path):
    pe = PeImage(file_reader(IMAGE), mapped=False)
    name, guid, age = pe.codeview()
    key = image_key(pe.timestamp, pe.size_of_image)
    store = tmp_path / "store"
    (store / "kmdf_shapes.sys" / key).mkdir(parents=True)
    shutil.copy(IMAGE, str(store / "kmdf_shapes.sys" / key / "kmdf_shapes.sys"))
    (store / name / pdb_key(guid, age)).mkdir(parents=True)
    shutil.copy(PDB, str(store / name / pdb_key(guid, age) / name))
    doc = _heap_doc(file="kmdf_shapes.sys", timestamp="0x%x" % pe.timestamp, image_size="0x%x" % pe.size_of_image)
    path = str(tmp_path / "h.wdfsnap.json.gz")
    snapfmt.save(doc, path)
    backend = with_symbols(open_backend(path), str(store), progress=False)
    assert backend.type_source("Wdf01000").label == "pdb:%s %s" % (name, pdb_key(guid, age))
    # an image of another build under the key is refused by its own header
    doc = _heap_doc(file="kmdf_shapes.sys", timestamp="0x%x" % (pe.timestamp ^ 1), image_size="0x%x" % pe.size_of_image)
    (store / "kmdf_shapes.sys" / key).rename(store / "kmdf_shapes.sys" / image_key(pe.timestamp ^ 1, pe.size_of_image))
    snapfmt.save(doc, path)
    backend = with_symbols(open_backend(path), str(store), progress=False)
    assert backend.type_source("Wdf01000") is None
    assert any("is image %s, not" % key in n for n in backend.notes), backend.notes


@pytest.mark.parametrize("bad, words", [
    ({"pdb": {"name": "x.pdb", "guid": "12", "age": 1}}, "pdb.guid"),
    ({"pdb": {"name": "", "guid": "0" * 32, "age": 1}}, "pdb.name"),
    ({"pdb": {"name": "x.pdb", "guid": "0" * 32, "age": -1}}, "pdb.age"),
    ({"timestamp": 12}, "timestamp"),
    ({"image_size": "0x1ffffffff"}, "image_size"),
    ({"file": ""}, "file"),
])
def test_bad_module_identity_is_refused_with_its_path(bad, words):
    errors, _mem = snapfmt.validate(_heap_doc(**bad))
    assert any(e.startswith("modules[") and ("." + words) in e for e in errors), errors


def _dump(name):
    path = os.path.join(DUMPS, name)
    if not os.path.exists(path):
        pytest.skip("shared dumps are absent")
    return path


def test_a_real_dump_without_its_pdb_is_analysed_as_before(tmp_path):
    dump = _dump("triage_x64.dmp")
    code, plain = run_json(memtree, [dump])
    code2, with_path = run_json(memtree, [dump, "--symbols", str(tmp_path)])
    assert code2 == code
    notes = [n for n in with_path.get("notes") or () if n not in (plain.get("notes") or ())]
    # the module list gives the image's key; the image is not in the (empty) store
    assert "symbols for Wdf01000: no PDB identity (image Wdf01000.sys/A9A9D36Ed1000 not found on the symbol path)" in notes
    assert with_path.get("objects") == plain.get("objects")


def test_snapshot_writes_the_module_identity_a_dump_holds(tmp_path):
    from wdfdbg import snapshot
    out = str(tmp_path / "t.wdfsnap.json.gz")
    assert snapshot.main([_dump("triage_x64.dmp"), "-o", out]) == 0
    with gzip.open(out, "rt") as f:
        doc = json.load(f)
    wdf = [m for m in doc["modules"] if m["name"] == "Wdf01000"][0]
    assert (wdf["file"], wdf["timestamp"], wdf["image_size"]) == ("Wdf01000.sys", "0xa9a9d36e", "0xd1000")
    assert "pdb" not in wdf            # the triage dump did not capture the image's header page
    back = open_backend(out)
    m = [m for m in back.modules() if m.name == "Wdf01000"][0]
    assert (m.file, m.timestamp, m.image_size) == ("Wdf01000.sys", 0xa9a9d36e, 0xd1000)


def test_identity_from_the_image_header_in_memory():
    from wdfdbg.errors import ReadError
    from wdfdbg.sources.base import Module
    from wdfdbg.sources.symbols import identify_modules
    with open(IMAGE, "rb") as f:
        data = f.read()
    pe = PeImage(file_reader(IMAGE), mapped=False)
    # the image as the loader maps it at the module base: the CodeView record
    # is in .rdata, so the header page alone does not name the PDB
    headers = bytearray(pe.size_of_image)
    headers[:pe.sections[0][1]] = data[:pe.sections[0][1]]
    for _name, rva, vsize, raw_offset, raw_size, _chars in pe.sections:
        chunk = data[raw_offset:raw_offset + min(raw_size, vsize)]
        headers[rva:rva + len(chunk)] = chunk
    headers = bytes(headers)
    base = 0xfffff80479950000

    class Memory(object):
        def read(self, address, size):
            off = address - base
            if 0 <= off and off + size <= len(headers):
                return headers[off:off + size]
            raise ReadError(address, size, "not captured")
    wdf = Module("Wdf01000", base, pe.size_of_image, path=r"\SystemRoot\system32\drivers\Wdf01000.sys",
                 timestamp=pe.timestamp)
    other = Module("AmdPPM", base + 0x100000, 0x1000)
    identify_modules(Memory(), [wdf, other])
    assert wdf.pdb == pe.codeview() and wdf.file == "Wdf01000.sys" and wdf.image_size == pe.size_of_image
    assert other.pdb is None
    # a header of another build than the module list names is not taken
    stale = Module("Wdf01000", base, pe.size_of_image, timestamp=pe.timestamp ^ 1)
    identify_modules(Memory(), [stale])
    assert stale.pdb is None


def test_record_keeps_the_module_identity(tmp_path):
    from wdfdbg import record
    pe = PeImage(file_reader(IMAGE), mapped=False)
    name, guid, age = pe.codeview()
    src = str(tmp_path / "in.wdfsnap.json.gz")
    snapfmt.save(_heap_doc(file="Wdf01000.sys", timestamp="0x%x" % pe.timestamp,
                           pdb={"name": name, "guid": guid, "age": age}), src)
    out = str(tmp_path / "out.wdfsnap.json.gz")
    assert record.main([out, "--", "memtree", src]) in (0, 1)
    with gzip.open(out, "rt") as f:
        wdf = [m for m in json.load(f)["modules"] if m["name"] == "Wdf01000"][0]
    assert wdf["pdb"] == {"name": name, "guid": guid, "age": age}
    assert (wdf["file"], wdf["timestamp"]) == ("Wdf01000.sys", "0x%x" % pe.timestamp)
