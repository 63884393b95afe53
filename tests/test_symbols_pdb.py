"""Symbols found as the debugger finds them: a heap whose snapshot has no
types and no vtable symbols, only its Wdf01000 module's identity (the PDB
name, GUID and age of tests/pdb/kmdf_shapes.sys), gives the same tree as
with embedded types and vtable symbols once the PDB is on the symbol path:
in a SymStore tree, through ``srv*CACHE*http://127.0.0.1:PORT`` (a
loopback server), then offline from CACHE with the server stopped."""

import functools
import http.server
import os
import shutil
import threading

import pytest

from cmdhelpers import json_without_source, run_json
from wdfdbg import memtree
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.pdb import read_pdb
from wdfdbg.sources.pe import PeImage, file_reader
from wdfdbg.sources.symsrv import pdb_key
from wdfdbg.testing.heap import HeapBuilder

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pdb")
PDB = os.path.join(HERE, "kmdf_shapes.pdb")
IMAGE = os.path.join(HERE, "kmdf_shapes.sys")
IDENTITY = PeImage(file_reader(IMAGE), mapped=False).codeview()     # (name, GUID, age)
PUBLICS = read_pdb(PDB).publics


class PdbHeap(HeapBuilder):
    """A heap whose vtables sit where kmdf_shapes.pdb's publics put them:
    Wdf01000's base + the RVA of ``Class::`vftable'`` (or its ``{for ...}``
    forms for the classes with two bases)."""

    def vtable(self, cls, iface=False):
        names = ["%s::`vftable'{for `IFxMemory'}" % cls] if iface else \
            ["%s::`vftable'" % cls, "%s::`vftable'{for `FxObject'}" % cls]
        for name in names:
            if name in PUBLICS:
                addr = self.modules[1].base + PUBLICS[name]
                self.symbols["Wdf01000!" + name] = addr
                self.vtables[addr] = name
                return addr
        return HeapBuilder.vtable(self, cls, iface)


def _heap():
    b = PdbHeap("pdb_symbols", description="Two drivers, devices, queues, memory objects of three classes, "
                "locks and a user object; vtables at the test PDB's RVAs (synthetic)")
    a = b.add_driver("AmdPPM", "AmdP", version=(1, 15, 0))
    w = b.add_driver("Wdfsample", "Wsmp", verifier=True, object_debug=True, version=(1, 31, 0))
    da = b.device(a, ctx=b.ctx_type(a, "FDO_DATA", 0x30))
    dw = b.device(w)
    b.queue(da)
    b.queue(dw, ctx=b.ctx_type(w, "QUEUE_CONTEXT", 0x10))
    b.memory_buffer(a.fxdriver, 0x20, "AmdM", label="inline")
    b.memory_create(a.fxdriver, 0x200, "AmdQ", paged=True, label="paged pool")
    b.memory_create(dw, 0x80, "WsmQ", label="nonpaged pool")
    b.new_object("FxSpinLock", da, label="spin lock")
    b.new_object("FxWaitLock", w.fxdriver, label="wait lock")
    b.user_object(w.fxdriver, label="user object")
    return b.built()


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    built = _heap()
    folder = tmp_path_factory.mktemp("pdbsym")
    full = built.document(types=True, symbols=True)
    assert any("vftable" in k for k in full["symbols"])
    bare = built.document(types=False, symbols=True)
    bare["symbols"] = dict((k, v) for k, v in bare["symbols"].items() if "vftable" not in k)
    for m in bare["modules"]:
        if m["name"] == "Wdf01000":
            m["pdb"] = {"name": IDENTITY[0], "guid": IDENTITY[1], "age": IDENTITY[2]}
    paths = {}
    for name, doc in (("full", full), ("bare", bare)):
        paths[name] = str(folder / ("%s.wdfsnap.json.gz" % name))
        snapfmt.save(doc, paths[name])
    store = folder / "store"
    key = pdb_key(IDENTITY[1], IDENTITY[2])
    (store / IDENTITY[0] / key).mkdir(parents=True)
    shutil.copy(PDB, str(store / IDENTITY[0] / key / IDENTITY[0]))
    paths["store"] = str(store)
    return paths


@pytest.fixture(autouse=True)
def no_environment_symbols(monkeypatch):
    monkeypatch.delenv("_NT_SYMBOL_PATH", raising=False)
    monkeypatch.delenv("_NT_ALT_SYMBOL_PATH", raising=False)


def _tree(path, *extra, **kw):
    code, doc = run_json(memtree, [path] + list(extra))
    assert code in (0, 1)
    return doc


def _same(doc):
    """What must not change with where the types and symbols came from."""
    doc = json_without_source(doc)
    doc.pop("notes", None)
    return doc


def _notes(doc):
    return list(doc.get("notes") or ())


def _classes(doc):
    out = {}
    for o in doc.get("objects") or ():
        out[o["address"]] = (o.get("class"), o.get("class_source"))
    return out


def test_the_pdb_gives_the_tree_embedded_types_give(snapshots):
    want = _tree(snapshots["full"])
    bare = _tree(snapshots["bare"])
    assert _same(bare) != _same(want)   # without symbols: classes by shape only
    got = _tree(snapshots["bare"], "--symbols", snapshots["store"])
    assert _same(got) == _same(want)
    sources = set(c[1] for c in _classes(got).values())
    assert "vtable" in sources
    notes = " ".join(_notes(got))
    assert "kmdf_shapes.pdb" in notes and IDENTITY[1] in notes


def test_the_environment_symbol_path_is_used(snapshots, monkeypatch):
    monkeypatch.setenv("_NT_SYMBOL_PATH", snapshots["store"])
    want = _tree(snapshots["full"])
    got = _tree(snapshots["bare"])
    assert _same(got) == _same(want)
    plain = _tree(snapshots["bare"], "--no-symbols")
    assert _same(plain) != _same(want)


class _Server(object):
    """A SymStore tree over loopback HTTP (http.server in a thread)."""

    def __init__(self, root):
        handler = functools.partial(_QuietHandler, directory=root)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.requests = []
        self.httpd.requests = self.requests
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        self.server.requests.append(self.path)


def test_download_then_offline_from_the_cache(snapshots, tmp_path):
    want = _same(_tree(snapshots["full"]))
    cache = tmp_path / "cache"
    server = _Server(snapshots["store"])
    try:
        spec = "srv*%s*%s" % (cache, server.url)
        got = _tree(snapshots["bare"], "--symbols", spec)
        assert _same(got) == want
        key = pdb_key(IDENTITY[1], IDENTITY[2])
        assert server.requests == ["/%s/%s/%s" % (IDENTITY[0], key, IDENTITY[0])]
        cached = cache / IDENTITY[0] / key / IDENTITY[0]
        with open(PDB, "rb") as a, open(str(cached), "rb") as b:
            assert a.read() == b.read()
        assert [p.name for p in (cache / IDENTITY[0] / key).iterdir()] == [IDENTITY[0]]   # no temp file left
    finally:
        server.stop()
    offline = _tree(snapshots["bare"], "--symbols", spec)      # the server is gone: the cache answers
    assert _same(offline) == want


def test_a_refused_download_is_one_note(snapshots, tmp_path):
    import gzip
    import json
    with gzip.open(snapshots["bare"], "rt") as f:
        doc = json.load(f)
    for m in doc["modules"]:
        if m["name"] == "Wdf01000":
            m["pdb"]["guid"] = "0" * 32
    path = str(tmp_path / "other.wdfsnap.json.gz")
    snapfmt.save(doc, path)
    server = _Server(snapshots["store"])
    try:
        got = _tree(path, "--symbols", "srv*%s*%s" % (tmp_path / "cache", server.url), pdb_types=False)
    finally:
        server.stop()
    notes = [n for n in _notes(got) if "HTTP 404" in n]
    assert len(notes) == 1 and "kmdf_shapes.pdb" in notes[0]
    assert got["objects"]


def test_a_pdb_of_another_build_is_refused_by_guid(snapshots, tmp_path):
    key = pdb_key("0" * 32, 1)
    folder = tmp_path / "store" / IDENTITY[0] / key
    folder.mkdir(parents=True)
    shutil.copy(PDB, str(folder / IDENTITY[0]))
    import gzip
    import json
    with gzip.open(snapshots["bare"], "rt") as f:
        doc = json.load(f)
    for m in doc["modules"]:
        if m["name"] == "Wdf01000":
            m["pdb"] = {"name": IDENTITY[0], "guid": "0" * 32, "age": 1}
    path = str(tmp_path / "other.wdfsnap.json.gz")
    snapfmt.save(doc, path)
    got = _tree(path, "--symbols", str(tmp_path / "store"), pdb_types=False)
    notes = " | ".join(_notes(got))
    assert "does not match" in notes and "not found" in notes


# -- the same, below the layouts: the symbol path, the cache, the vtable names --
def _symbols_backend(path, spec, **kw):
    from wdfdbg.session import open_backend
    from wdfdbg.sources.symbols import with_symbols
    return with_symbols(open_backend(path), spec, progress=False, **kw)


def _check_symbols(backend):
    wdf = [m for m in backend.modules() if m.name == "Wdf01000"][0]
    from wdfdbg.decoders.objects import class_from_symbol
    for name in ("FxMemoryBufferFromPool::`vftable'{for `FxObject'}", "FxMemoryBufferFromPool::`vftable'{for `IFxMemory'}",
                 "FxSpinLock::`vftable'"):
        sym = backend.symbol_at(wdf.base + PUBLICS[name])
        assert sym == ("Wdf01000!" + name, 0)
        assert class_from_symbol(sym[0]) == name.split("::")[0]
    assert backend.symbol("Wdf01000!g_WdfTriageInfo") == wdf.base + PUBLICS["g_WdfTriageInfo"]
    spin = backend.type_source("Wdf01000").user_type("FxSpinLock")["fields"]
    assert (spin["m_SpinLock"]["offset"], spin["m_SpinLock__0x68"]["offset"]) == (0x30, 0x68)
    assert backend.type_source("Wdf01000").label.startswith("pdb:kmdf_shapes.pdb ")


def test_a_symstore_tree_supplies_types_and_vtable_names(snapshots):
    backend = _symbols_backend(snapshots["bare"], snapshots["store"])
    _check_symbols(backend)
    assert any("from kmdf_shapes.pdb (GUID %s, age %d)" % (IDENTITY[1], IDENTITY[2]) in n for n in backend.notes)


def test_a_flat_folder_and_cache_element(snapshots, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(PDB, str(flat / IDENTITY[0]))
    cache = tmp_path / "cache"
    backend = _symbols_backend(snapshots["bare"], "cache*%s;%s" % (cache, flat))
    _check_symbols(backend)
    assert (cache / IDENTITY[0] / pdb_key(IDENTITY[1], IDENTITY[2]) / IDENTITY[0]).is_file()


def test_download_cache_and_offline_below_the_layouts(snapshots, tmp_path):
    cache = tmp_path / "cache"
    server = _Server(snapshots["store"])
    spec = "srv*%s*%s" % (cache, server.url)
    try:
        _check_symbols(_symbols_backend(snapshots["bare"], spec))
        assert len(server.requests) == 1
    finally:
        server.stop()
    _check_symbols(_symbols_backend(snapshots["bare"], spec))


def test_bad_content_and_timeouts_are_notes(snapshots, tmp_path):
    import io
    import socket
    import urllib.error

    class Response(io.BytesIO):
        headers = {"Content-Length": "12"}

    def html(request, timeout):
        return Response(b"<html></html")

    def slow(request, timeout):
        raise urllib.error.URLError(socket.timeout("timed out"))
    for opener, words in ((html, "bad content"), (slow, "timed out")):
        backend = _symbols_backend(snapshots["bare"], "srv*%s*http://127.0.0.1:9" % (tmp_path / "c"), opener=opener)
        assert backend.type_source("Wdf01000") is None
        assert len([n for n in backend.notes if words in n]) == 1, backend.notes
        assert [p for p in (tmp_path / "c").rglob("*") if p.is_file()] == []     # nothing cached, no temp file
