"""WDFLOOKASIDE (``wdfdbg lookaside`` and ``decoders.lookaside``) against
the scenario ground truth: the three kinds, the kernel lookaside statistics
with ``!lookaside``'s arithmetic, the free SLIST, the memory objects
allocated from each list, the corrupt SLISTs (a cycle, a header depth that
disagrees), text and JSON (schema-validated), with and without symbols."""


import pytest

from wdfdbg.sources import snapshot as snapfmt

from cmdhelpers import FIXTURES, ROOT, fixture, load_truth, run, run_json, variant  # noqa: F401

MODES = {
    "symbols": (None, [], "vtable"),
    "profile": (None, ["--no-symbols"], "vtable"),
    "no-vtables": ("no-vtables", [], "shape"),
    "bare": ("bare", [], "shape"),
}
STATS = ("depth", "max_depth", "total_allocates", "allocate_misses", "total_frees", "free_misses")


def lookasides(truth):
    return [o for o in truth["objects"] if o.get("lookaside")]


def expected_problem_addresses(truth, code):
    return set(p["address"] for p in truth["expected_problems"] if p["code"] == code)


def check_list(got, want):
    """A decoded kernel list against the truth's, with !lookaside's arithmetic."""
    assert got["address"] == want["address"]
    for k in STATS:
        assert got[k] == want[k], k
    ta, am = want["total_allocates"], want["allocate_misses"]
    tf, fm = want["total_frees"], want["free_misses"]
    assert got["hit_rate"] == pytest.approx((ta - am) / float(ta))
    assert got["hit_rate"] == pytest.approx(want["hit_rate"], abs=1e-4)
    assert got["free_hit_rate"] == pytest.approx((tf - fm) / float(tf))
    assert got["type"] == want["type_name"] and got["type_value"] == want["type"]
    assert got["tag"] == want["tag"]
    assert got["size"] == want["size"]
    assert got["slist_depth"] == want["slist_depth"]
    assert got["free_entries"] == want["free_entry_count"]
    assert got["free_list"] == want["free_entries"]


@pytest.mark.parametrize("name", ("typical", "two_drivers", "corrupt"))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_lookaside_command_matches_truth(tmp_path_factory, name, mode):
    import wdfdbg.lookaside as lacmd
    change, extra, source = MODES[mode]
    truth = load_truth(name)
    path = variant(tmp_path_factory, name, change)
    bad = expected_problem_addresses(truth, "LOOKASIDE_INCONSISTENT")
    los = lookasides(truth)
    assert los
    for o in los:
        want = o["lookaside"]
        code, doc = run_json(lacmd, [path, o["handle"]] + extra)
        obj = doc["objects"][0]
        assert obj["address"] == o["address"] and obj["wdf_type"] == "WDFLOOKASIDE"
        la = obj["lookaside"]
        assert la["kind"] == want["kind"]
        assert la["class"] == o["class"] and la["class_source"] == source
        assert obj["class"] == o["class"]
        assert la["buffer_size"] == want["buffer_size"]
        assert la["memory_object_size"] == want["memory_object_size"]
        assert la["pool_tag"] == want["pool_tag"]
        assert la["pool_type"] == want["pool_type_name"] and la["pool_type_value"] == want["pool_type"]
        assert la["raw_buffer_size"] == want["raw_buffer_size"]
        assert la["memory_device_base"] == want["memory_device_base"]
        check_list(la["list"], want["list"])
        if want["pool_list"]:
            check_list(la["pool_list"], want["pool_list"])
        else:
            assert la["pool_list"] is None
        # memory objects allocated from it, found across the driver's tree
        assert sorted(la["allocated"]) == sorted(want["live_memory"])
        mems = dict((x["address"], x) for x in doc["objects"][1:])
        assert sorted(mems) == sorted(want["live_memory"])
        for x in mems.values():
            assert x["memory"]["lookaside"] == o["address"]
            assert x["memory"]["length"] == want["buffer_size"]
        assert doc["summary"]["lookasides"] == 1
        assert doc["summary"]["memory_objects"] == len(want["live_memory"])
        if o["address"] in bad:
            assert code == 1
            assert any(p["code"] == "LOOKASIDE_INCONSISTENT" and p["address"] == o["address"] for p in doc["problems"])
            assert any(p["code"] == "LOOKASIDE_INCONSISTENT" for p in obj["problems"])
        else:
            assert code == 0, doc["problems"]
            assert not doc["problems"]


def test_fixtures_cover_every_lookaside_kind():
    kinds = set()
    for name in ("typical", "two_drivers", "corrupt"):
        kinds.update(o["lookaside"]["kind"] for o in lookasides(load_truth(name)))
    assert kinds == {"npaged", "npaged-from-pool", "paged-from-pool"}


def test_address_works_like_the_handle():
    import wdfdbg.lookaside as lacmd
    path = fixture("typical", "wdfsnap.json.gz")
    for o in lookasides(load_truth("typical")):
        _, a = run_json(lacmd, [path, o["handle"]])
        _, b = run_json(lacmd, [path, o["address"]])
        assert a["objects"][0]["lookaside"] == b["objects"][0]["lookaside"]


def test_text_output_like_bang_lookaside():
    import wdfdbg.lookaside as lacmd
    truth = load_truth("typical")
    path = fixture("typical", "wdfsnap.json.gz")
    for o in lookasides(truth):
        want = o["lookaside"]
        code, text = run(lacmd, [path, o["handle"]])
        assert code == 0
        lst = want["list"]
        assert "!lookaside %s" % lst["address"] in text
        assert "Current Depth   %d" % lst["depth"] in text
        assert "Max Depth   %d" % lst["max_depth"] in text
        assert "TotalAllocates  %d" % lst["total_allocates"] in text
        assert "AllocateMisses  %d" % lst["allocate_misses"] in text
        ta, am = lst["total_allocates"], lst["allocate_misses"]
        assert "Hit Rate        %d%%" % ((ta - am) * 100 // ta) in text
        assert "'%s'" % want["pool_tag"] in text
        assert want["pool_type_name"] in text
        for entry in lst["free_entries"]:
            assert entry in text
        assert "Allocated memory objects (%d)" % len(want["live_memory"]) in text
        for m in want["live_memory"]:
            assert m in text
        if want["pool_list"]:
            assert "m_PoolLookaside !lookaside %s" % want["pool_list"]["address"] in text


@pytest.mark.parametrize("mode", sorted(MODES))
def test_corrupt_slists_are_reported_and_the_rest_still_printed(tmp_path_factory, mode):
    import wdfdbg.lookaside as lacmd
    change, extra, _ = MODES[mode]
    truth = load_truth("corrupt")
    path = variant(tmp_path_factory, "corrupt", change)
    for o in lookasides(truth):
        want = o["lookaside"]["list"]
        assert want["slist_corrupt"]
        code, text = run(lacmd, [path, o["handle"]] + extra)
        assert code == 1
        assert "LOOKASIDE_INCONSISTENT" in text and o["address"] in text
        assert "TotalAllocates  %d" % want["total_allocates"] in text
        for entry in want["free_entries"]:
            assert entry in text
        code, doc = run_json(lacmd, [path, o["handle"]] + extra)
        lst = doc["objects"][0]["lookaside"]["list"]
        assert lst["free_list"] == want["free_entries"]
        assert lst["slist_depth"] == want["slist_depth"]


def test_walk_finds_the_lookaside_problems():
    """memtree's walk (annotate) reports each required LOOKASIDE group."""
    import wdfdbg.memtree as memtree
    truth = load_truth("corrupt")
    code, doc = run_json(memtree, [fixture("corrupt", "wdfsnap.json.gz")])
    found = set((p["code"], p["address"]) for p in doc["problems"])
    for p in truth["expected_problems"]:
        if p["code"] == "LOOKASIDE_INCONSISTENT":
            assert (p["code"], p["address"]) in found
    recs = dict((o["address"], o) for o in doc["objects"])
    for o in lookasides(truth):
        assert sorted(recs[o["address"]]["lookaside"]["allocated"]) == sorted(o["lookaside"]["live_memory"])


def test_bad_and_wrong_handles():
    import wdfdbg.lookaside as lacmd
    truth = load_truth("typical")
    path = fixture("typical", "wdfsnap.json.gz")
    mem = [o for o in truth["objects"] if o.get("memory")][0]
    code, doc = run_json(lacmd, [path, mem["handle"]])
    assert code == 1 and any(p["code"] == "BAD_HANDLE" for p in doc["problems"])
    assert doc["objects"][0]["lookaside"] is None
    code, doc = run_json(lacmd, [path, "0x3f7421524ff8"])
    assert code == 1 and [p["code"] for p in doc["problems"]] == ["UNREADABLE"]
    args = lacmd.parse_args(["0x3f74ffff6da8"])
    assert args.source is None and args.root == "0x3f74ffff6da8"


def test_statistics_arithmetic_on_a_hand_made_list():
    """decode_kernel_lookaside on hand-laid bytes: Depth above MaximumDepth,
    always-missing, and !lookaside's hit rates."""
    import struct
    from wdfdbg.problems import ProblemLog
    from wdfdbg.decoders.lookaside import decode_kernel_lookaside
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    base = 0xffffc08b00010000
    mem = bytearray(0x1000)
    entries = [base + 0x100, base + 0x200]
    struct.pack_into("<QQ", mem, 0, 2 | (7 << 16), entries[0])
    struct.pack_into("<Q", mem, 0x100, entries[1])
    struct.pack_into("<HHIIII", mem, 0x10, 300, 256, 40, 40, 2, 0)
    struct.pack_into("<iII", mem, 0x24, 512, int.from_bytes(b"Test", "little"), 0x80)
    doc = snapfmt.build_document("synthetic", "x64", 8, [(base, bytes(mem))], os_build=19041)
    t = Target(snapfmt.SnapshotBackend(snapfmt.loads(snapfmt.dumps(doc))))
    s = Session(t, Layouts(t), "snapshot", None, "synthetic")
    log = ProblemLog()
    out = decode_kernel_lookaside(s, base, log, owner=base - 0xc0)
    assert out["depth"] == 300 and out["max_depth"] == 256
    assert out["hit_rate"] == 0.0 and out["free_hit_rate"] == 1.0
    assert out["free_list"] == ["0x%x" % e for e in entries] and out["free_entries"] == 2
    assert out["type"] == "NonPagedPoolNx" and out["tag"] == "Test" and out["slist_sequence"] == 7
    codes = sorted((p.code, p.address) for p in log)
    assert ("LOOKASIDE_INCONSISTENT", base - 0xc0) in codes
    assert ("LOOKASIDE_ALWAYS_MISSES", base - 0xc0) in codes
    assert [p.severity for p in log if p.code == "LOOKASIDE_ALWAYS_MISSES"] == ["warning"]


def test_x86_lookasides_from_what_the_builder_placed():
    """x86 layouts (unverified x86 profile): the three kinds, from a
    scenario built at test time, with and without symbols."""
    from wdfdbg.problems import ProblemLog
    from wdfdbg.decoders import memory as mem
    from wdfdbg.decoders.annotate import annotate_nodes
    from wdfdbg.decoders.objects import walk_tree
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    from wdfdbg.testing import scenarios
    built = scenarios.build("typical", arch="x86")
    b = built.b
    for types, symbols in ((True, True), (False, False)):
        t = Target(built.backend(types=types, symbols=symbols))
        s = Session(t, Layouts(t), "snapshot", None, "synthetic")
        s.shape_classifier = mem.shape_classifier
        log = ProblemLog()
        nodes = []
        for d in b.drivers:
            nodes.extend(walk_tree(s, d.fxdriver.addr, log, {}))
        annotate_nodes(s, nodes, log)
        by = dict((n.address, n) for n in nodes)
        assert len(b.lookasides) == 3
        for lo in b.lookasides:
            la = lo.info["la"]
            rec = by[lo.addr].lookaside
            assert rec["kind"] == la["kind"] and rec["class"] == lo.cls
            assert rec["buffer_size"] == la["buffer_size"] and rec["memory_object_size"] == la["memory_object_size"]
            assert sorted(rec["allocated"]) == sorted("0x%x" % o.addr for o in la["live"])
            for got, gl in ((rec["list"], la["object_list"]), (rec["pool_list"], la["pool_list"])):
                if gl is None:
                    assert got is None
                    continue
                assert got["address"] == "0x%x" % gl.addr
                assert (got["depth"], got["max_depth"], got["total_allocates"], got["allocate_misses"], got["total_frees"],
                        got["free_misses"]) == (gl.depth, gl.max_depth, gl.total_allocates, gl.allocate_misses,
                                                gl.total_frees, gl.free_misses)
                assert got["free_list"] == ["0x%x" % e for e in reversed(gl.slist)]
                assert got["slist_depth"] == len(gl.slist)
        assert not [p for p in log if p.severity == "error"]
