"""The pykd backend, through the snapshot-backed stand-in for pykd
(wdfdbg.testing.fake_pykd): same bytes, types, symbols and analysis as the
snapshot backend; the triage-info fallback; and the rule that only
wdfdbg/sources/pykd_target.py imports pykd (lazily)."""

import ast
import glob
import os
import struct
import subprocess
import sys

import pytest

from minisnap import WDF, document
from wdfdbg.layouts import IsfSource, Layouts
from wdfdbg.layouts.model import TypeCompiler
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Target
from wdfdbg.testing.fake_pykd import fake_pykd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_FILES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "*.wdfsnap.json*")))


def _sources():
    out = [("minisnap", document()), ("minisnap-notypes", document(with_types=False))]
    for path in FIXTURE_FILES:
        out.append((os.path.basename(path), path))
    return out


SOURCES = _sources()


@pytest.fixture(params=SOURCES, ids=[n for n, _ in SOURCES])
def source(request):
    return request.param[1]


def snapshot_of(src):
    if isinstance(src, dict):
        return snapfmt.loads(snapfmt.dumps(src))
    return snapfmt.load(src)


def page_view(page, ps):
    """A page as (valid ranges, bytes of the valid ranges) for comparison."""
    valid = page.valid if page.valid is not None else ((0, ps),)
    return tuple(valid), tuple(bytes(page.data[s:e]) for s, e in valid)


def read_page(backend, pa):
    from wdfdbg.errors import ReadError
    try:
        return page_view(backend.read_page(pa), backend.page_size)
    except ReadError as e:
        return ("unreadable", e.address)


def pages_of(snap, extra=True):
    ps = snap.page_size
    pages = set()
    for a, d in snap.memory:
        p = a & ~(ps - 1)
        while p < a + len(d):
            pages.add(p)
            p += ps
    if extra:
        for p in list(pages)[:8]:
            pages.add(p + 0x100 * ps)  # far away: normally unreadable
    return sorted(pages)


# -- same bytes, symbols, modules, target facts ---------------------------------
def test_bytes_symbols_modules_match_snapshot(source):
    snap = snapshot_of(source)
    sb = snapfmt.SnapshotBackend(snap)
    with fake_pykd(snap, dump_path=None if isinstance(source, dict) else source):
        from wdfdbg.sources.pykd_target import PykdBackend, live_backend
        pb = live_backend()
        assert isinstance(pb, PykdBackend)
        assert (pb.kind, pb.origin) == ("pykd", "dump")
        assert pb.partial_pages  # a snapshot is sparse like a small dump
        if not isinstance(source, dict):
            assert pb.ranges() == sb.ranges()  # from the file the debugger names
        for attr in ("arch", "pointer_size", "page_size", "os_build"):
            assert getattr(pb, attr) == getattr(sb, attr), attr
        for pa in pages_of(snap):
            assert read_page(pb, pa) == read_page(sb, pa), hex(pa)
        for name, addr in snap.symbols.items():
            assert pb.symbol(name) == addr
            got = pb.symbol_at(addr)
            assert got is not None and got[1] == 0
            assert sb.symbol_at(addr)[1] == 0 and pb.symbol(got[0]) == addr
        assert pb.symbol("Wdf01000!NoSuchSymbol") is None
        assert [(m.name, m.base, m.size) for m in pb.modules()] == [(m.name, m.base, m.size) for m in sb.modules()]
        bc_p, bc_s = pb.bugcheck(), sb.bugcheck()
        assert (bc_p is None) == (bc_s is None)
        if bc_p is not None:
            assert (bc_p.code, bc_p.parameters) == (bc_s.code, bc_s.parameters)


def normalized(layout):
    """A compiled layout as comparable data. pykd cannot tell struct, class
    and union apart, so those kinds compare as one."""
    def f(x):
        if x is None:
            return None
        kind = "udt" if x.kind in ("struct", "class", "union") else x.kind
        return (x.offset, x.size, kind, bool(x.signed) if kind in ("int", "char", "enum", "bitfield") else None,
                x.type_name if kind in ("udt", "enum") else None, x.count, f(x.element), x.bit_position, x.bit_length)
    return (layout.size, sorted((k, f(v)) for k, v in layout.flat.items()),
            sorted((k, f(v)) for k, v in layout.fields.items()))


def test_layouts_from_pykd_types_equal_snapshot_isf(source):
    snap = snapshot_of(source)
    if not snap.types:
        pytest.skip("snapshot without types")
    with fake_pykd(snap):
        from wdfdbg.sources.pykd_target import live_backend
        pb = live_backend()
        checked = 0
        for module, isf in snap.types.items():
            ref = TypeCompiler(IsfSource(isf), snap.pointer_size, "snapshot")
            src = pb.type_source(module)
            assert src is not None
            mine = TypeCompiler(src, snap.pointer_size, "pykd")
            for name in sorted(isf.get("user_types") or {}):
                assert normalized(mine.compile(name)) == normalized(ref.compile(name)), "%s!%s" % (module, name)
                checked += 1
            for name in sorted(isf.get("enums") or {}):
                assert src.enum(name)["constants"] == isf["enums"][name]["constants"]
        assert checked
        wdf = pb.type_source("Wdf01000")
        if wdf is not None and wdf.user_type("FxMemoryObject"):
            fields = wdf.user_type("FxMemoryObject")["fields"]
            assert fields["__vfptr"]["offset"] == 0
            assert "__vfptr_IFxMemory" in fields  # the secondary vtable, named after its base


def test_layouts_object_uses_symbols_through_pykd():
    with fake_pykd(document()):
        from wdfdbg.sources.pykd_target import live_backend
        t = Target(live_backend())
        lay = Layouts(t)
        for name in ("FxObject", "FxMemoryBuffer", "FxMemoryBufferFromPool", "FxNPagedLookasideList", "_MDL"):
            assert lay.get("Wdf01000!" + name).source == "symbols:Wdf01000"
        assert lay.get("Wdf01000!FxObject").offset("m_ChildEntry.Flink") == 0x48


# -- memory edge cases ----------------------------------------------------------------
def sparse_doc():
    base = 0xffffc08b00100000
    doc = snapfmt.build_document(
        "synthetic", "x64", 8,
        [(base + 0x10, b"A" * 0x20), (base + 0x200, b"B" * 5), (base + 0x1000, b"C" * 0x1000), (base + 0x2000, b"D" * 0x800)],
        os_build=19041, modules=[], symbols={}, types={})
    return doc, base


def test_partial_pages_exact_when_the_dump_file_is_known(tmp_path):
    """The debugger names the dump in '||': its ranges give every readable
    run of a page, one loadBytes per run, none for an unreadable page, and
    never a lost byte (the stand-in's loadBytes is all or nothing)."""
    doc, base = sparse_doc()
    path = str(tmp_path / "sparse.wdfsnap.json")
    snapfmt.save(doc, path)
    snap = snapshot_of(doc)
    sb = snapfmt.SnapshotBackend(snap)
    with fake_pykd(path) as pk:
        from wdfdbg.sources.pykd_target import PykdBackend
        import pykd
        pb = PykdBackend(pykd, origin="dump")
        assert pb.ranges() == sb.ranges()
        for pa, runs in ((base, 2), (base + 0x1000, 1), (base + 0x2000, 1), (base + 0x3000, 0)):
            before = pk.fake.calls.get("loadBytes", 0)
            assert read_page(pb, pa) == read_page(sb, pa), hex(pa)
            assert pk.fake.calls.get("loadBytes", 0) - before == runs, hex(pa)
        assert not pk.fake.calls.get("isVaRegionValid")


def test_partial_pages_without_the_dump_file_keep_the_readable_prefix():
    """No dump file to list ranges: a page's readable prefix is found by a
    binary search (isVaRegionValid), a handful of calls, bytes exact."""
    doc, base = sparse_doc()
    with fake_pykd(doc) as pk:
        from wdfdbg.sources.pykd_target import PykdBackend
        from wdfdbg.errors import ReadError
        import pykd
        pb = PykdBackend(pykd, origin="dump")
        assert pb.ranges() is None
        pb.memory.window = 1
        page = pb.read_page(base + 0x2000)   # 0x800 readable bytes, then nothing
        assert page.valid == ((0, 0x800),) and page.get(0, 0x800) == b"D" * 0x800
        c = pk.fake.calls
        assert c["loadBytes"] + c["isValid"] + c["isVaRegionValid"] <= 15   # page, first byte, search, prefix
        with pytest.raises(ReadError) as ei:
            pb.read_page(base)   # first byte unreadable: two calls
        assert ei.value.address == base


def test_live_unreadable_page_costs_one_call():
    doc, base = sparse_doc()
    with fake_pykd(doc, live=True) as pk:
        from wdfdbg.sources.pykd_target import live_backend
        from wdfdbg.errors import ReadError
        pb = live_backend()
        assert pb.origin == "live" and pb.ranges() is None
        assert bytes(pb.read_page(base + 0x1000).data) == b"C" * 0x1000
        before = pk.fake.calls["loadBytes"]
        with pytest.raises(ReadError) as ei:
            pb.read_page(base + 0x9000)
        assert ei.value.address == base + 0x9000
        assert pk.fake.calls["loadBytes"] - before == 1  # one call for an unreadable page


def test_target_reads_through_pykd_match_snapshot(source):
    snap = snapshot_of(source)
    st = Target(snapfmt.SnapshotBackend(snap))
    with fake_pykd(snap):
        from wdfdbg.sources.pykd_target import live_backend
        from wdfdbg.errors import ReadError
        pt = Target(live_backend())
        for a, d in snap.memory:
            for addr, size in ((a, len(d)), (a - 8, 16), (a + len(d) - 4, 12), (a + 3, min(64, len(d)))):
                try:
                    r1 = ("ok", st.read(addr, size))
                except ReadError as e:
                    r1 = ("err", e.address)
                try:
                    r2 = ("ok", pt.read(addr, size))
                except ReadError as e:
                    r2 = ("err", e.address)
                assert r1 == r2, (hex(addr), size)


# -- sessions, dumps, the command ------------------------------------------------
from cmdhelpers import json_without_source, strip_source  # noqa: E402,F401  (the source's own lines left out)


def test_memtree_text_and_json_same_through_pykd(source, tmp_path):
    memtree = pytest.importorskip("wdfdbg.memtree")
    from wdfdbg.render.markup import PLAIN
    from wdfdbg.session import open_session
    import json
    if isinstance(source, dict):
        path = str(tmp_path / "s.wdfsnap.json")
        snapfmt.save(source, path)
    else:
        path = source
    ref = open_session(path)
    _, text_ref = memtree.execute(ref, memtree.parse_args([path]), PLAIN)
    _, json_ref = memtree.execute(ref, memtree.parse_args([path, "--json"]))
    with fake_pykd(path):
        s = open_session(None)
        assert s.source_kind == "pykd"
        _, text = memtree.execute(s, memtree.parse_args([]), PLAIN)
        s2 = open_session(None)
        _, js = memtree.execute(s2, memtree.parse_args(["--json"]))
    assert strip_source(text) == strip_source(text_ref)
    assert json_without_source(json.loads(js)) == json_without_source(json.loads(json_ref))


def test_open_dump_backend_with_engine_pykd(tmp_path):
    from wdfdbg.session import open_session
    path = str(tmp_path / "d.wdfsnap.json.gz")
    snapfmt.save(document(), path)
    with fake_pykd(None) as pk:
        s = open_session(path, engine="pykd")
        assert (s.source_kind, s.origin, s.target.path) == ("pykd", "dump", path)
        assert s.target.read_u16(0xffffc08b00001008) == 0x1001
        assert pk.fake.dumps
        s.target.close()
        assert not pk.fake.dumps


def test_open_dump_backend_errors(tmp_path):
    from wdfdbg.errors import InputError
    from wdfdbg.sources import pykd_target
    sys.modules["pykd"] = None  # pykd not importable
    try:
        with pytest.raises(InputError):
            pykd_target.open_dump_backend(str(tmp_path / "x.dmp"))
        assert pykd_target.live_backend() is None
    finally:
        del sys.modules["pykd"]
    with fake_pykd(None):
        with pytest.raises(InputError):
            pykd_target.open_dump_backend(str(tmp_path / "missing.dmp"))
        assert pykd_target.live_backend() is None  # pykd but no target
    with fake_pykd(document(), kernel=False):
        from wdfdbg.errors import UsageError
        with pytest.raises(UsageError):
            pykd_target.live_backend()


def test_bugcheck_and_x86_target():
    from wdfdbg.sources.base import Bugcheck, Module
    doc = snapfmt.build_document("synthetic", "x86", 4, [(0x81000000, b"\x11" * 0x1000)], os_build=19041,
                                 bugcheck=Bugcheck(0x10d, [5, 0x1234, 0x1000, 0x8a000000]),
                                 modules=[Module("Wdf01000", 0x82000000, 0x10000)],
                                 symbols={"Wdf01000!FxLibraryGlobals": 0x82001000}, types={})
    with fake_pykd(doc):
        from wdfdbg.sources.pykd_target import live_backend
        pb = live_backend()
        assert (pb.arch, pb.pointer_size) == ("x86", 4)
        bc = pb.bugcheck()
        assert (bc.code, bc.parameters) == (0x10d, [5, 0x1234, 0x1000, 0x8a000000])
        assert pb.symbol("Wdf01000!FxLibraryGlobals") == 0x82001000
        assert pb.symbol_at(0x82001010) == ("Wdf01000!FxLibraryGlobals", 0x10)
        assert pb.symbol_at(0x81000000) is None  # not in a module
        assert bytes(pb.read_page(0x81000000).data) == b"\x11" * 0x1000


# -- the g_WdfTriageInfo fallback -------------------------------------------------
def triage_doc(offsets, raw_size=0x68):
    """minisnap without types, plus g_WdfTriageInfo and its object/context tables."""
    doc = document(with_types=False)
    tri = WDF + 0x5000
    obj = WDF + 0x5100
    ctx = WDF + 0x5140
    ctt = WDF + 0x5180
    blob = bytearray(0x200)
    struct.pack_into("<4I", blob, 0, 1, 33, 1, 0)
    struct.pack_into("<5Q", blob, 0x10, 0, obj, ctx, ctt, 0)
    struct.pack_into("<7I", blob, 0x100, raw_size, offsets["m_Type"], offsets["m_ObjectSize"], offsets["m_ChildListHead"],
                     offsets["m_ChildEntry"], offsets["m_Globals"], offsets["m_ParentObject"])
    struct.pack_into("<5I", blob, 0x140, 0x40, 8, 0, 0x20, 0x30)
    struct.pack_into("<3I", blob, 0x180, 0x28, 0x10, 8)
    snap = snapshot_of(doc)
    mem = list(snap.memory) + [(tri, bytes(blob))]
    syms = dict(snap.symbols)
    syms["Wdf01000!g_WdfTriageInfo"] = tri
    return snapfmt.build_document("synthetic", "x64", 8, mem, os_build=19041, modules=snap.modules, symbols=syms,
                                  types={})


PROFILE_OFFSETS = {"m_Type": 8, "m_ObjectSize": 0xA, "m_ChildListHead": 0x20, "m_ChildEntry": 0x48, "m_Globals": 0x10,
                   "m_ParentObject": 0x40}


def test_triage_info_confirms_profile():
    with fake_pykd(triage_doc(PROFILE_OFFSETS)):
        from wdfdbg.sources.pykd_target import live_backend
        pb = live_backend()
        assert pb.kmdf_version == "1.33"
        assert pb.type_source("Wdf01000") is None
        assert any("agrees with built-in profile win10-19041-x64" in n for n in pb.notes)
        lay = Layouts(Target(pb))
        assert lay.get("Wdf01000!FxObject").source.startswith("profile:")


def test_triage_info_builds_minimal_fxobject_when_profile_disagrees():
    odd = dict(PROFILE_OFFSETS, m_ParentObject=0x38, m_ChildEntry=0x50)
    with fake_pykd(triage_doc(odd, raw_size=0x70)):
        from wdfdbg.sources.pykd_target import live_backend
        pb = live_backend()
        src = pb.type_source("Wdf01000")
        assert src is not None
        assert any("g_WdfTriageInfo" in n and "disagrees" in n for n in pb.notes)
        lay = Layouts(Target(pb))
        fx = lay.get("Wdf01000!FxObject")
        assert fx.source == "symbols:Wdf01000" and fx.size == 0x70
        assert fx.offset("m_ParentObject") == 0x38 and fx.offset("m_ChildEntry.Flink") == 0x50
        assert lay.get("Wdf01000!FxContextHeader").offset("ContextTypeInfo") == 0x20
        assert lay.get("Wdf01000!FxMemoryBuffer").source.startswith("profile:")  # the rest: profile


def test_no_types_no_triage_note():
    with fake_pykd(document(with_types=False)):
        from wdfdbg.sources.pykd_target import live_backend
        pb = live_backend()
        assert pb.type_source("Wdf01000") is None
        assert any("built-in layout profile" in n for n in pb.notes)
        assert pb.kmdf_version is None


# -- import rules -------------------------------------------------------------------
def _py_files():
    out = []
    for base in ("wdfdbg", "scripts"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, base)):
            for f in files:
                p = os.path.join(dirpath, f)
                if f.endswith(".py") or (base == "scripts" and f.startswith("wdfdbg.")):
                    out.append(p)
    return out


def _pykd_imports(tree):
    """(line, at module level?) of every ``import pykd`` / ``from pykd``."""
    found = []

    def visit(node, top):
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
            if isinstance(child, ast.Import) and any(a.name.split(".")[0] == "pykd" for a in child.names):
                found.append((child.lineno, top))
            elif isinstance(child, ast.ImportFrom) and (child.module or "").split(".")[0] == "pykd":
                found.append((child.lineno, top))
            visit(child, inner)
    visit(tree, True)
    return found


def test_only_pykd_target_imports_pykd_and_lazily():
    files = _py_files()
    assert files
    for path in files:
        with open(path, "rb") as f:
            src = f.read()
        tree = ast.parse(src, path)
        rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
        imports = _pykd_imports(tree)
        if rel == "wdfdbg/sources/pykd_target.py":
            assert imports and not any(top for _, top in imports), "pykd must be imported inside functions"
        else:
            assert not imports, "%s imports pykd (line %d)" % (rel, imports[0][0])
        assert b"__import__(\"pykd\")" not in src and b"import_module(\"pykd\")" not in src


def test_whole_package_imports_without_pykd():
    code = (
        "import sys, pkgutil, importlib\n"
        "sys.modules['pykd'] = None\n"
        "import wdfdbg\n"
        "bad = []\n"
        "for m in pkgutil.walk_packages(wdfdbg.__path__, 'wdfdbg.'):\n"
        "    try:\n"
        "        importlib.import_module(m.name)\n"
        "    except Exception as e:\n"
        "        bad.append('%s: %r' % (m.name, e))\n"
        "for name in ('wdfdbg.sources.pykd_target', 'wdfdbg.sources.recording', 'wdfdbg.record', 'wdfdbg.render.dml',\n"
        "             'wdfdbg.testing.fake_pykd'):\n"
        "    importlib.import_module(name)\n"
        "from wdfdbg.sources.pykd_target import live_backend\n"
        "assert live_backend() is None\n"
        "from wdfdbg.render.dml import debugger_wants_dml\n"
        "assert debugger_wants_dml() is False\n"
        "print('\\n'.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", r.stdout


def test_sources_parse_as_python38():
    """No 3.9+ syntax in the files this suite covers (ast with feature_version)."""
    if sys.version_info < (3, 8):
        pytest.skip("needs Python 3.8+")
    mine = ["wdfdbg/sources/pykd_target.py", "wdfdbg/sources/pykd_memory.py", "wdfdbg/sources/recording.py",
            "wdfdbg/sources/base.py", "wdfdbg/record.py", "wdfdbg/render/dml.py", "wdfdbg/render/markup.py",
            "wdfdbg/testing/pykd_ext.py"]
    mine += [os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "wdfdbg", "testing", "fake_pykd", "*.py"))]
    mine += [os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "scripts", "wdfdbg.*"))]
    for rel in mine:
        with open(os.path.join(ROOT, rel), "rb") as f:
            ast.parse(f.read(), rel, feature_version=(3, 8))


# -- the !py launchers in scripts/ --------------------------------------------------
LAUNCHERS = ["memtree", "memory", "lookaside", "mdl", "descriptor", "memusage", "info", "scan", "record"]


def _run(argv, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(argv, cwd=kw.get("cwd", ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


@pytest.mark.parametrize("name", LAUNCHERS)
def test_launcher_runs_its_module(name, tmp_path):
    import importlib
    path = os.path.join(ROOT, "scripts", "wdfdbg." + name)
    assert os.path.isfile(path)
    with open(path) as f:
        first = f.readline()
    assert not first.startswith("#!"), "a shebang would override the bootstrapper's interpreter choice"
    try:
        importlib.import_module("wdfdbg." + name)
    except ImportError:
        pytest.skip("wdfdbg.%s does not exist yet" % name)
    r = _run([sys.executable, path, "--help"], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "usage: wdfdbg %s" % name in r.stdout


def test_launcher_output_equals_module_output(tmp_path):
    snap = str(tmp_path / "m.wdfsnap.json")
    snapfmt.save(document(), snap)
    a = _run([sys.executable, os.path.join(ROOT, "scripts", "wdfdbg.memtree"), snap, "--json"], cwd=str(tmp_path))
    b = _run([sys.executable, "-m", "wdfdbg.memtree", snap, "--json"], cwd=str(tmp_path))
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout


# -- the stand-in's type rules (kdlib enumFields, udtfield.h) -------------------------
def test_stand_in_types_as_pykd_reports_them():
    from wdfdbg.testing.fake_pykd.model import TypeException
    with fake_pykd(document()) as pk:
        ti = pk.typeInfo("Wdf01000!FxMemoryBuffer")
        names = [n for n, _ in ti.fields()]
        assert names.count("__VFN_table") == 2            # primary and IFxMemory's vtable
        vt = ti.field("__VFN_table")
        assert vt.isPointer() and not vt.isVtbl() and vt.deref().isVtbl() and vt.deref().name() == "VTable"
        statics = [n for n in names if ti.isStaticField(n)]
        consts = [n for n in names if ti.isConstField(n)]
        assert statics and consts
        for n in statics + consts:
            with pytest.raises(TypeException):
                ti.fieldOffset(n)
        # and the pykd type source skips them: the layout equals the snapshot's
        from wdfdbg.sources.pykd_target import live_backend
        fields = live_backend().type_source("Wdf01000").user_type("FxMemoryBuffer")["fields"]
        assert not set(statics + consts) & set(fields) and fields["__vfptr"]["offset"] == 0
