"""The scenario builder: byte-identical regeneration of the committed
fixtures, snapshot validity, and self-consistency of every fixture checked
with raw reads through Target over SnapshotBackend (no decoder involved)."""

import importlib.util
import os
import struct

import pytest

from wdfdbg.errors import ReadError
from wdfdbg.layouts import IsfSource
from wdfdbg.layouts.model import TypeCompiler
from wdfdbg.layouts.profiles import PROFILE_BY_NAME
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Target
from wdfdbg.testing import FIXTURES, build, compact_objects, expand_objects, load_truth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXDIR = os.path.join(ROOT, "fixtures")
NAMES = [name for name, _, _ in FIXTURES]
CLEAN = ["typical", "two_drivers", "leak"]


def _load_script():
    spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(ROOT, "scripts", "make_fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


_CACHE = {}


def fixture(name):
    """(Target over the committed snapshot, expanded truth, layouts)."""
    if name not in _CACHE:
        raw = _read(os.path.join("fixtures", "%s.wdfsnap.json.gz" % name))
        snap = snapfmt.loads(raw, path=name)
        target = Target(snapfmt.SnapshotBackend(snap))
        truth = load_truth(os.path.join(FIXDIR, "%s.truth.json" % name))
        _CACHE[name] = (target, truth, Lay(truth["profile"]))
    return _CACHE[name]


class Lay(object):
    """Offsets from the profile the fixture names (``lay("FxObject", "m_Type")``)."""

    def __init__(self, profile):
        p = PROFILE_BY_NAME[profile]
        docs = p.documents()
        self.comps = [TypeCompiler(IsfSource(docs["Wdf01000"]), p.pointer_size, "t"),
                      TypeCompiler(IsfSource(docs["nt"]), p.pointer_size, "t")]

    def t(self, name):
        for c in self.comps:
            lay = c.compile(name)
            if lay is not None:
                return lay
        raise KeyError(name)

    def __call__(self, tname, field):
        return self.t(tname).offset(field)


def H(s):
    return None if s is None else int(s, 16)


# -- regeneration and validity -------------------------------------------------
def test_regeneration_is_byte_identical():
    mod = _load_script()
    for rel, data in mod.outputs():
        assert os.path.exists(os.path.join(ROOT, rel)), "%s is missing: run scripts/make_fixtures.py" % rel
        assert _read(rel) == data, "%s differs from a fresh build: run scripts/make_fixtures.py" % rel


def test_check_mode_reports_up_to_date(capsys):
    assert _load_script().main(["--check"]) == 0


def test_sample_is_the_typical_fixture():
    assert _read(os.path.join("wdfdbg", "data", "sample.wdfsnap.json.gz")) == \
        _read(os.path.join("fixtures", "typical.wdfsnap.json.gz"))


@pytest.mark.parametrize("name", NAMES)
def test_fixture_is_a_valid_gzip_snapshot(name):
    raw = _read(os.path.join("fixtures", "%s.wdfsnap.json.gz" % name))
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip, mtime 0
    snap = snapfmt.loads(raw)
    assert snap.origin == "synthetic"
    assert "synthetic" in snap.description.lower() and name in snap.description
    assert set(snap.types) == {"Wdf01000", "nt"}
    assert snap.arch == "x64" and snap.os_build == 19041
    assert "Wdf01000!FxLibraryGlobals" in snap.symbols


def test_fixture_sizes_are_reasonable():
    for name in NAMES:
        size = os.path.getsize(os.path.join(FIXDIR, "%s.wdfsnap.json.gz" % name))
        assert size < (3 << 20) if name == "leak" else size < (64 << 10), (name, size)


@pytest.mark.parametrize("name", ["typical", "corrupt", "two_drivers"])
def test_build_is_deterministic(name):
    a, b = build(name), build(name)
    assert a.dumps() == b.dumps()
    assert a.truth() == b.truth()


def test_symbol_less_variant_has_the_same_bytes():
    built = build("typical")
    with_types = built.document(types=True)
    without = built.document(types=False)
    assert without["types"] == {}
    assert without["memory"] == with_types["memory"]
    assert without["symbols"] == with_types["symbols"]
    snapfmt.loads(snapfmt.dumps(without))
    bare = built.document(types=False, symbols=False)
    assert bare["symbols"] == {} and bare["memory"] == with_types["memory"]


def test_in_memory_backend_matches_the_document():
    built = build("corrupt")
    direct = Target(built.backend())
    via_json = Target(snapfmt.SnapshotBackend(snapfmt.loads(built.dumps())))
    ranges = direct.ranges()
    assert ranges == via_json.ranges()
    for addr, size in ranges:
        assert direct.read(addr, size) == via_json.read(addr, size)
    hole = H(built.truth()["holes"][0]["address"])
    for t in (direct, via_json):
        with pytest.raises(ReadError):
            t.read(hole, 8)


def test_compact_truth_round_trips():
    built = build("typical")
    t = built.truth()
    mask = int(t["handle_mask"], 16)
    assert expand_objects(compact_objects(t["objects"], mask), mask) == t["objects"]


# -- self-consistency through raw reads -------------------------------------------
def _objects(truth):
    return [o for o in truth["objects"] if o["readable"]]


@pytest.mark.parametrize("name", NAMES)
def test_handles_decode_to_their_objects(name):
    target, truth, lay = fixture(name)
    mask = int(truth["handle_mask"], 16)
    assert mask == 0xFFFFFFFFFFFFFFF8
    for o in truth["objects"]:
        a = H(o["address"])
        assert a % 16 == 0
        if o["object_size"] == 0:
            assert o["handle"] is None
            continue
        h = H(o["handle"])
        assert h & 7 == 0 and h & 0xF == 8          # 16-aligned objects: low nibble 8 (kmdf.md §1)
        assert (h & ~7) ^ mask == a


@pytest.mark.parametrize("name", NAMES)
def test_object_headers_pool_headers_and_contexts(name):
    target, truth, lay = fixture(name)
    drivers = dict((d["name"], d) for d in truth["drivers"])
    L = truth["layout"]
    for o in _objects(truth):
        a = H(o["address"])
        hdr = lay.t("FxObject").decode(target.read(a, lay.t("FxObject").size))
        assert hdr["m_Type"] == H(o["fx_type"])
        assert hdr["m_ObjectSize"] == o["object_size"]
        assert hdr["m_Refcnt"] == o["refcount"]
        assert hdr["m_ObjectFlags"] == o["flags"] and hdr["m_ObjectState"] == o["state"] == 1
        assert hdr["m_Globals"] == H(drivers[o["driver"]]["globals"])
        assert (hdr["m_ParentObject"] or None) == H(o["parent"])
        assert (hdr["m_DeviceBase"] or None) == H(o["device_base"])
        sym = target.symbol_at(hdr["__vfptr"])
        assert sym == ("Wdf01000!%s::`vftable'" % o["vtable_class"], 0)
        assert target.module_of(hdr["__vfptr"]).name == "Wdf01000"
        # debug extension, FX_POOL_HEADER {self-base, globals}, nt _POOL_HEADER
        if o["has_debug"]:
            assert o["flags"] & 0x80
            dbg = H(o["debug_extension"])
            assert dbg == a - L["debug_extension"]
            assert target.read_u32(dbg + 0x20) == 0x444F7846
        else:
            assert not o["flags"] & 0x80
        if o["fx_pool_header"] is not None:
            fx = H(o["fx_pool_header"])
            assert fx + 0x10 + (0x30 if o["has_debug"] else 0) == a
            assert target.read_pointer(fx) == fx
            assert target.read_pointer(fx + 8) == H(drivers[o["driver"]]["globals"])
        if o["pool_header"] is not None:
            ph = H(o["pool_header"]["address"])
            assert ph + 0x10 == H(o["fx_pool_header"])
            assert target.read(ph + 4, 4) == o["pool_header"]["tag"].encode()
            block = target.read(ph, 4)[2] * 16
            assert ph + block >= a + o["object_size"] + 0x30
            assert ph // 4096 == (ph + block - 1) // 4096   # small blocks never straddle a page
        else:
            assert (a - (0x30 if o["has_debug"] else 0)) % 4096 == 0  # big allocation: page-aligned, no header
        # context header at object + m_ObjectSize
        if o["object_size"]:
            ctx = o["context"]
            ch = a + o["object_size"]
            assert H(ctx["header"]) == ch
            assert target.read_pointer(ch) == a
            assert target.read_pointer(ch + 8) == 0
            info = target.read_pointer(ch + 0x20)
            assert (info or None) == H(ctx["type_info"])
            if info:
                assert target.read_cstring(target.read_pointer(info + 8)) == ctx["name"]
                assert target.read_u64(info + 0x10) == ctx["context_size"]
                mod = target.module_of(info)
                assert mod is not None and mod.name == o["driver"]
            assert (target.read_pointer(ch + 0x10) or None) == H(ctx["cleanup"])
            assert bool(o["flags"] & 0x400) == bool(ctx["cleanup"])
        else:
            assert o["context"] is None


def _walk_list(target, lay, obj):
    head = obj + lay("FxObject", "m_ChildListHead")
    en = lay("FxObject", "m_ChildEntry")
    out = []
    prev = head
    e = target.read_pointer(head)
    while e != head:
        assert len(out) < 20000
        assert target.read_pointer(e + 8) == prev, "Blink of 0x%x" % e
        out.append(e - en)
        prev = e
        e = target.read_pointer(e)
    assert target.read_pointer(head + 8) == prev
    return out


@pytest.mark.parametrize("name", CLEAN)
def test_child_lists_link_both_ways(name):
    target, truth, lay = fixture(name)
    kids = {}
    for o in truth["objects"]:
        if o["list_parent"]:
            kids.setdefault(o["list_parent"], []).append(o["address"])
    seen = 0
    for o in truth["objects"]:
        a = H(o["address"])
        listed = _walk_list(target, lay, a)
        assert ["0x%x" % c for c in listed] == kids.get(o["address"], [])
        for c in listed:
            assert target.read_pointer(c + lay("FxObject", "m_ParentObject")) == a
        if not listed:
            head = a + lay("FxObject", "m_ChildListHead")
            assert target.read_pointer(head) == head == target.read_pointer(head + 8)
        seen += len(listed)
        if o["in_tree"]:
            assert o["reachable_by_flink"]
            assert o["depth"] == 0 if o["class"] == "FxDriver" else o["depth"] >= 1
        else:
            assert o["class"] == "FxRequest" and o["presented_by"] and o["parent"] is None
            e = a + lay("FxObject", "m_ChildEntry")
            assert target.read_pointer(e) == e == target.read_pointer(e + 8)
    assert seen == sum(1 for o in truth["objects"] if o["in_tree"]) - len(truth["drivers"])


@pytest.mark.parametrize("name", NAMES)
def test_drivers_library_globals_and_symbols(name):
    target, truth, lay = fixture(name)
    lib = target.symbol("Wdf01000!FxLibraryGlobals")
    assert lib == H(truth["library_globals"]["address"])
    head = lib + lay("FxLibraryGlobalsType", "FxDriverGlobalsList")
    prev, e, found = head, target.read_pointer(head), []
    while e != head:
        assert target.read_pointer(e + 8) == prev
        found.append(e)
        prev, e = e, target.read_pointer(e)
    assert ["0x%x" % g for g in found] == [d["globals"] for d in truth["drivers"]]
    G = lay.t("_FX_DRIVER_GLOBALS")
    for d in truth["drivers"]:
        g = H(d["globals"])
        rec = G.decode(target.read(g, G.size))
        assert rec["WdfHandleMask"] == 0xFFFFFFFFFFFFFFF8
        assert rec["Tag"].to_bytes(4, "little") == d["tag"].encode()
        assert rec["Driver"] == H(d["driver"])
        assert target.read_u16(rec["Driver"] + 8) == 0x1001
        assert rec["Public.Driver"] == H(d["driver_handle"]) == H(d["driver"]) ^ 0xFFFFFFFFFFFFFFF8
        assert rec["Public.DriverName"].rstrip(b"\0") == d["name"].encode()
        assert rec["Public.DriverTag"] == rec["Tag"]
        assert bool(rec["FxVerifierOn"]) == d["verifier_on"]
        assert (rec["DebugExtension"] or None) == H(d["debug_extension"])
        assert rec["ImageAddress"] == H(d["image_base"]) and rec["ImageSize"] == d["image_size"]
        assert rec["LibraryGlobals"] == lib
        var = target.symbol("%s!WdfDriverGlobals" % d["name"])
        assert var == H(d["wdf_driver_globals_variable"])
        assert target.read_pointer(var) == g + lay("_FX_DRIVER_GLOBALS", "Public") == H(d["public"])
        assert target.module(d["name"]).base == H(d["image_base"])
    lg = lay.t("FxLibraryGlobalsType").decode(target.read(lib, lay.t("FxLibraryGlobalsType").size))
    E = lay.t("_FX_DUMP_DRIVER_INFO_ENTRY")
    names = []
    for i in range(lg["BugCheckDriverInfoIndex"]):
        rec = E.decode(target.read(lg["BugCheckDriverInfo"] + i * E.size, E.size))
        names.append(rec["DriverName"].rstrip(b"\0").decode())
        if i == 0:
            assert tuple(rec["Version"][:2]) == (1, 31) and not rec["FxDriverGlobals"]
        else:
            assert rec["FxDriverGlobals"] == H(truth["drivers"][i - 1]["globals"])
    assert names == ["Wdf01000"] + [d["name"] for d in truth["drivers"]]


@pytest.mark.parametrize("name", NAMES)
def test_memory_objects(name):
    target, truth, lay = fixture(name)
    classes = set()
    for o in _objects(truth):
        m = o["memory"]
        if m is None:
            continue
        classes.add(o["class"])
        a = H(o["address"])
        assert o["wdf_type"] == "WDFMEMORY" and o["fx_type"] == "0x1000"
        assert target.read_u64(a + 0x70) == m["length"]                      # m_BufferSize
        sym = target.symbol_at(target.read_pointer(a + 0x68))                  # IFxMemory vptr
        assert sym[0].startswith("Wdf01000!%s::`vftable'" % o["class"]) and sym[1] == 0
        buf = H(m["buffer"])
        if m["origin"] in ("inline", "lookaside"):
            assert buf == a + 0x80                                            # kmdf.md §5
            assert o["object_size"] == 0x80 + ((m["length"] + 15) & ~15)
        elif m["origin"] == "pool":
            assert target.read_pointer(a + 0x78) == buf                        # m_Pool
        elif m["origin"] == "pool-lookaside":
            assert target.read_pointer(a + 0x78) == H(m["lookaside"])
            assert target.read_pointer(a + 0x80) == buf
        elif m["origin"] == "preallocated":
            assert target.read_pointer(a + 0x78) == buf
        elif m["origin"] == "request":
            rm = lay.t("FxRequestMemory").decode(target.read(a, lay.t("FxRequestMemory").size))
            assert rm["m_pBuffer"] == buf and rm["m_Mdl"] == H(m["mdl"]) and rm["m_Flags"] == int(m["read_only"])
            assert rm["m_Request"] == H(o["parent"])
        if m["origin"] == "lookaside":
            assert target.read_pointer(a + 0x78) == H(m["lookaside"])
        if m["first_bytes"]:
            assert target.read(buf, len(m["first_bytes"]) // 2).hex() == m["first_bytes"]
        if m["pool_tag"]:
            blk = buf - 0x10 if m["origin"] not in ("inline", "lookaside") else H(o["pool_header"]["address"])
            if m["origin"] in ("pool-lookaside",):
                blk = buf - 0x20                                               # nt header + FX_POOL_HEADER
            assert target.read(blk + 4, 4) == m["pool_tag"].encode()
    if name == "typical":
        assert classes == {"FxMemoryBuffer", "FxMemoryBufferFromPool", "FxMemoryPagedBufferFromPool",
                           "FxMemoryBufferFromLookaside", "FxMemoryBufferFromPoolLookaside",
                           "FxMemoryPagedBufferFromPoolLookaside", "FxMemoryBufferPreallocated", "FxRequestMemory"}
        inline = [o for o in truth["objects"] if o["label"] == "inline 0x20"][0]
        assert inline["object_size"] == 0xa0                                  # as in the real dump


def test_requests_and_offset_handles():
    target, truth, lay = fixture("typical")
    mask = 0xFFFFFFFFFFFFFFF8
    reqs = [o for o in truth["objects"] if o["request"]]
    assert len(reqs) == 3 and sorted(r["request"]["kind"] for r in reqs) == ["ioctl-buffered", "ioctl-neither",
                                                                             "read-direct"]
    for o in reqs:
        a = H(o["address"])
        rq = o["request"]
        assert o["fx_type"] == "0x1008" and o["object_size"] == 0x170
        for side, off, emb in (("input", 0xD8, 0x100), ("output", 0xE8, 0x110)):
            h = H(rq[side]["handle"])
            assert h == ((a + off) ^ mask) | 1
            p = (h & ~7) ^ mask
            assert target.read_u16(p) == off
            assert p - target.read_u16(p) == a == H(rq[side]["resolves_to"])
            assert target.symbol_at(target.read_pointer(a + emb))[0] == \
                ("Wdf01000!FxRequestSystemBuffer::`vftable'" if side == "input" else "Wdf01000!FxRequestOutputBuffer::`vftable'")
        assert target.read_pointer(a + 0xF8) == H(rq["queue"]) == H(o["presented_by"])
        assert target.read(a + 0x160, 1) == b"\1"                            # m_Presented
        irp = target.read_pointer(a + 0x98)
        assert irp == H(rq["irp"])
        stack = target.read_pointer(irp + 0xB8)
        assert target.read(stack, 1)[0] == rq["major_function"]
        if rq["kind"] == "ioctl-buffered":
            sysbuf = target.read_pointer(irp + 0x18)
            assert target.read_pointer(a + 0x108) == sysbuf == target.read_pointer(a + 0x118)
            assert target.read_u32(stack + 0x10) == rq["input"]["length"]
            assert target.read_u32(stack + 0x8) == rq["output"]["length"]
            assert target.read_u32(stack + 0x18) == H(rq["io_control_code"])
            assert target.read_u32(a + 0xDC) == rq["irp_reference_count"] == 1
        if rq["kind"] == "read-direct":
            mdl = target.read_pointer(irp + 0x8)
            assert target.read_pointer(a + 0x108) == mdl == H(rq["input"]["mdl"])
            assert target.read_u32(stack + 0x8) == rq["input"]["length"] == target.read_u32(mdl + 0x28)
            assert not o["in_tree"] and o["parent"] is None


def test_lookasides_and_their_slists():
    for name in NAMES:
        target, truth, lay = fixture(name)
        for o in truth["objects"]:
            la = o["lookaside"]
            if la is None:
                continue
            a = H(o["address"])
            rec = lay.t("FxLookasideList").decode(target.read(a, lay.t("FxLookasideList").size))
            assert rec["m_BufferSize"] == la["buffer_size"] and rec["m_MemoryObjectSize"] == la["memory_object_size"]
            assert rec["m_PoolTag"].to_bytes(4, "little") == la["pool_tag"].encode()
            assert o["refcount"] == 1 + len(la["live_memory"])
            for lst, stale in ((la["list"], True), (la["pool_list"], False)):
                if lst is None:
                    continue
                gl = H(lst["address"])
                L = lay.t("_GENERAL_LOOKASIDE").decode(target.read(gl, 0x80))
                assert L["Depth"] == lst["depth"] and L["MaximumDepth"] == lst["max_depth"]
                assert L["TotalAllocates"] == lst["total_allocates"] and L["AllocateMisses"] == lst["allocate_misses"]
                assert L["TotalFrees"] == lst["total_frees"] and L["FreeMisses"] == lst["free_misses"]
                assert L["Type"] == lst["type"] and L["Size"] == lst["size"]
                q0, q1 = struct.unpack("<QQ", target.read(gl, 16))
                assert q0 & 0xFFFF == lst["slist_depth"] and (q1 & ~0xF or None) == H(lst["first_entry"])
                entries, e = [], q1 & ~0xF
                while e and len(entries) < 64 and "0x%x" % e not in entries:
                    entries.append("0x%x" % e)
                    e = target.read_pointer(e)
                assert entries == lst["free_entries"]
                live = lst["total_allocates"] - lst["total_frees"]
                assert live == len(la["live_memory"])
                if name != "corrupt":
                    assert not lst["slist_corrupt"] and len(entries) == lst["slist_depth"] <= lst["depth"]
                    assert lst["total_frees"] - lst["free_misses"] - (lst["total_allocates"] - lst["allocate_misses"]) \
                        == len(entries)
                    assert lst["hit_rate"] and lst["hit_rate"] > 0
                if stale and not lst["slist_corrupt"]:
                    for so in lst["free_objects"]:
                        s = H(so)
                        assert target.read_u16(s + 0x1A) == 12 and target.read_u32(s + 0xC) == 0
                        assert target.symbol_at(target.read_pointer(s))[0] == "Wdf01000!FxObject::`vftable'"
                        assert target.read_pointer(s + 0x78) == a
            for m in la["live_memory"]:
                mo = [x for x in truth["objects"] if x["address"] == m][0]
                assert mo["class"] == la["memory_class"] and mo["memory"]["lookaside"] == o["address"]
                assert mo["parent"] == la["memory_parent"] and mo["parent"] != o["address"]


@pytest.mark.parametrize("name", NAMES)
def test_kernel_lookaside_lists_link_every_list(name):
    target, truth, lay = fixture(name)
    listed = []
    for o in truth["objects"]:
        if o["lookaside"]:
            listed += [o["lookaside"][k]["address"] for k in ("list", "pool_list") if o["lookaside"][k]]
    found = []
    for sym in ("nt!ExNPagedLookasideListHead", "nt!ExPagedLookasideListHead"):
        head = target.symbol(sym)
        prev, e = head, target.read_pointer(head)
        while e != head:
            assert target.read_pointer(e + 8) == prev
            found.append("0x%x" % (e - lay("_GENERAL_LOOKASIDE", "ListEntry")))
            prev, e = e, target.read_pointer(e)
    assert sorted(found) == sorted(listed)


def test_typical_lookaside_kinds_and_bugcheck():
    target, truth, lay = fixture("typical")
    kinds = sorted(o["lookaside"]["kind"] for o in truth["objects"] if o["lookaside"])
    assert kinds == ["npaged", "npaged-from-pool", "paged-from-pool"]
    bc = target.bugcheck()
    assert bc.code == 0x10D and bc.parameters[0] == 5 and bc.parameters[2] == 0x1000
    assert bc.parameters[3] == H(truth["drivers"][0]["globals"])
    stale = (bc.parameters[1] & ~7) ^ 0xFFFFFFFFFFFFFFF8
    assert stale == H(truth["bugcheck"]["p2_decodes_to"])
    assert target.read_u16(stale + 0x1A) == 12
    assert not any(o["address"] == "0x%x" % stale for o in truth["objects"])


@pytest.mark.parametrize("name", NAMES)
def test_mdls(name):
    target, truth, lay = fixture(name)
    for m in truth["mdls"]:
        a = H(m["address"])
        rec = lay.t("_MDL").decode(target.read(a, 0x30))
        assert rec["Size"] == m["size"] and rec["MdlFlags"] == m["flags"]
        assert rec["ByteCount"] == m["byte_count"] and rec["ByteOffset"] == m["byte_offset"]
        assert rec["StartVa"] == H(m["start_va"]) and (rec["MappedSystemVa"] or None) == H(m["mapped_system_va"])
        assert (rec["Next"] or None) == H(m["next"])
        pages = ((rec["StartVa"] + rec["ByteOffset"]) % 4096 + rec["ByteCount"] + 4095) // 4096
        assert pages == m["pages_spanned"] == len(m["pfns"])
        pf = struct.unpack("<%dQ" % pages, target.read(a + 0x30, 8 * pages))
        assert ["0x%x" % p for p in pf] == m["pfns"]
        if not m["problems"]:
            assert rec["Size"] == 0x30 + 8 * pages
            assert bool(rec["MappedSystemVa"]) == bool(rec["MdlFlags"] & 0x5)
            if rec["MappedSystemVa"] and m["byte_count"]:
                target.read(rec["MappedSystemVa"], m["byte_count"])           # the mapping is readable
    for d in truth["drivers"]:
        if not d["verifier_on"]:
            assert not d["allocated_mdls"]
            continue
        blk = H(d["debug_extension"]) + lay("FxDriverGlobalsDebugExtension", "AllocatedMdls")
        got = []
        while blk:
            count = target.read_u32(blk + 0x180)
            for i in range(count):
                mdl, owner, caller = struct.unpack("<QQQ", target.read(blk + 0x18 * i, 0x18))
                got.append(("0x%x" % mdl, "0x%x" % owner))
                assert target.module_of(caller).name == d["name"]
            blk = target.read_pointer(blk + 0x188)
        assert got == [(x["mdl"], x["owner"]) for x in d["allocated_mdls"]]
    if name == "typical":
        assert len(truth["drivers"][0]["allocated_mdls_blocks"]) == 2
        flags = set(m["flags"] for m in truth["mdls"])
        assert {0x1C, 0xC, 0xB, 0x8B} <= flags                                # partial, nonpaged, mapped
        assert any(len(m["chain"]) == 2 and not m["chain_cycle"] for m in truth["mdls"])
        assert any(m["pages_spanned"] > 2 for m in truth["mdls"])


@pytest.mark.parametrize("name", ["typical", "corrupt"])
def test_descriptors(name):
    target, truth, lay = fixture(name)
    mask = 0xFFFFFFFFFFFFFFF8
    assert truth["descriptors"]
    for d in truth["descriptors"]:
        a = H(d["address"])
        typ, = struct.unpack("<I", target.read(a, 4))
        u0, u1 = struct.unpack("<QQ", target.read(a + 8, 16))
        assert typ == d["type"]
        if typ == 1:
            assert u0 == H(d["buffer"]) and u1 & 0xFFFFFFFF == d["length"]
        elif typ == 2:
            assert u0 == H(d["mdl"]) and u1 & 0xFFFFFFFF == d["length"]
        else:
            assert (u0 ^ mask) == H(d["memory_object"])
            mem = [o for o in truth["objects"] if o["address"] == d["memory_object"]][0]
            assert mem["memory"]["length"] == d["memory_length"]
            if u1:
                off, ln = struct.unpack("<QQ", target.read(u1, 16))
                assert (off, ln) == (d["buffer_offset"], d["buffer_length"])
                assert (off + ln <= d["memory_length"]) == d["in_bounds"]
            assert (d["expected_problem"] == "MEMORY_OUT_OF_BOUNDS") == (not d["in_bounds"])


def test_corrupt_scenario_places_every_corruption():
    target, truth, lay = fixture("corrupt")
    en = lay("FxObject", "m_ChildEntry")
    groups = {}
    for e in truth["expected_problems"]:
        groups.setdefault(e["group"], []).append(e)
    codes = sorted(set(e["code"] for e in truth["expected_problems"] if e["required"]))
    assert codes == ["CHILD_LIST_CORRUPT", "CHILD_LIST_CYCLE", "LOOKASIDE_INCONSISTENT", "MDL_CHAIN_CYCLE",
                     "MDL_INCONSISTENT", "MEMORY_OUT_OF_BOUNDS", "PARENT_MISMATCH", "UNREADABLE"]
    by_code = {}
    for e in truth["expected_problems"]:
        by_code.setdefault(e["code"], []).append(H(e["address"]))
    # cycle: the forward walk from the head revisits an entry
    head = [a for a in by_code["CHILD_LIST_CYCLE"]][0]
    seen, e = [], target.read_pointer(head)
    while e != head and e not in seen:
        seen.append(e)
        e = target.read_pointer(e)
    assert e in seen and e != head
    # broken Blink
    bad = [g for g in groups.values() if g[0]["code"] == "CHILD_LIST_CORRUPT" and len(g) == 2]
    assert bad
    for g in bad:
        entry = H(g[0]["address"]) if "Blink points" in g[0]["note"] else H(g[1]["address"])
        prev = H(g[1]["address"]) if "Blink points" in g[0]["note"] else H(g[0]["address"])
        assert target.read_pointer(prev) == entry and target.read_pointer(entry + 8) != prev
    # parent mismatch: the child sits in C's list but names D
    child = by_code["PARENT_MISMATCH"][0]
    rec = [o for o in truth["objects"] if o["address"] == "0x%x" % child][0]
    assert rec["parent"] != rec["list_parent"] and rec["in_tree"]
    assert target.read_pointer(child + lay("FxObject", "m_ParentObject")) == H(rec["parent"])
    # missing page
    for a in by_code["UNREADABLE"]:
        with pytest.raises(ReadError):
            target.read(a, 8)
        assert a // 4096 * 4096 == H(truth["holes"][0]["address"])
    f3 = [o for o in truth["objects"] if o["label"] == "E.f3"][0]
    assert not f3["readable"] and not f3["in_tree"]
    assert H(f3["address"]) + en in by_code["UNREADABLE"]
    f45 = [o for o in truth["objects"] if o["label"] in ("E.f4", "E.f5")]
    assert all(o["in_tree"] and not o["reachable_by_flink"] for o in f45)
    # MDLs
    mdls = dict((H(m["address"]), m) for m in truth["mdls"])
    m1 = by_code["MDL_CHAIN_CYCLE"][0]
    assert mdls[m1]["chain_cycle"] and target.read_pointer(target.read_pointer(m1)) == m1
    for a in by_code["MDL_INCONSISTENT"]:
        size, flags = struct.unpack("<hh", target.read(a + 8, 4))
        va = target.read_pointer(a + 0x18)
        pages = ((target.read_pointer(a + 0x20) + target.read_u32(a + 0x2C)) % 4096 + target.read_u32(a + 0x28)
                 + 4095) // 4096
        assert size != 0x30 + 8 * pages or (flags & 1 and va == 0)
    # lookasides
    for a in by_code["LOOKASIDE_INCONSISTENT"]:
        gl = a + lay("FxNPagedLookasideList", "m_ObjectLookaside")
        q0, q1 = struct.unpack("<QQ", target.read(gl, 16))
        walked, e = [], q1 & ~0xF
        while e and e not in walked:
            walked.append(e)
            e = target.read_pointer(e)
        assert e != 0 or len(walked) != q0 & 0xFFFF


# -- scale and other architectures ---------------------------------------------------
def test_bulk_counts_and_walk():
    built = build("bulk", n_objects=2500, group_size=400)
    truth = built.truth()
    assert truth["counts"]["objects"] == 2500 == truth["counts"]["in_tree"]
    target = built.target()
    lay = Lay(truth["profile"])
    total, stack = 0, [H(truth["drivers"][0]["driver"])]
    while stack:
        a = stack.pop()
        total += 1
        stack.extend(_walk_list(target, lay, a))
    assert total == 2500
    classes = set(o["class"] for o in truth["objects"])
    assert {"FxMemoryBuffer", "FxUserObject", "FxMemoryBufferFromPool"} <= classes
    for o in truth["objects"][::97]:
        a = H(o["address"])
        assert target.read_pointer(a + o["object_size"]) == a
        assert (H(o["handle"]) & ~7) ^ 0xFFFFFFFFFFFFFFF8 == a
    assert built.summary()["objects"] == 2500


def test_x86_variant_is_self_consistent():
    built = build("typical", arch="x86")
    truth = built.truth()
    target = built.target()
    assert target.pointer_size == 4 and truth["handle_mask"] == "0xfffffff8"
    lay = Lay(truth["profile"])
    head_off = lay("FxObject", "m_ChildListHead")
    entry_off = lay("FxObject", "m_ChildEntry")
    for o in truth["objects"]:
        a = H(o["address"])
        assert a % 8 == 0
        if o["handle"]:
            assert (H(o["handle"]) & ~7) ^ 0xFFFFFFF8 == a
            assert target.read_pointer(a + o["object_size"]) == a
        head = a + head_off
        prev, e = head, target.read_pointer(head)
        while e != head:
            assert target.read_pointer(e + 4) == prev
            assert target.read_pointer(e - entry_off + lay("FxObject", "m_ParentObject")) == a
            prev, e = e, target.read_pointer(e)
