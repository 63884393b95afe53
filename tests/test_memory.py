"""WDFMEMORY (``wdfdbg memory`` and the decoders behind it) against the
scenario ground truth (``fixtures/*.truth.json``): every memory class,
request buffers through offset handles, annotate on a walked tree, the
``--dump`` preview, text and JSON (validated against the schema), with
symbols, with the built-in profile (``--no-symbols``), without vtable
symbols (shape classification) and without any symbols or types."""

import re

import pytest

from wdfdbg import command

from cmdhelpers import FIXTURES, ROOT, fixture, load_doc, load_truth, patched, run, run_json, variant  # noqa: F401

SCENARIOS = ("typical", "two_drivers", "corrupt")
# mode -> (how the snapshot is changed, extra CLI arguments, class source expected)
MODES = {
    "symbols": (None, [], "vtable"),
    "profile": (None, ["--no-symbols"], "vtable"),
    "no-vtables": ("no-vtables", [], "shape"),
    "bare": ("bare", [], "shape"),
}
MEMORY_KEYS = ("buffer", "length", "origin", "pool_tag", "lookaside", "mdl", "read_only")


# -- helpers (each test file keeps its own: they are small) -------------------


def memory_objects(truth):
    return [o for o in truth["objects"] if o.get("memory")]


def errors(doc):
    return [p for p in doc["problems"] if p["severity"] == "error"]


def h(v):
    return None if v is None else int(v, 16)


# -- every class, every mode ----------------------------------------------------
@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_memory_command_matches_truth(tmp_path_factory, name, mode):
    import wdfdbg.memory as memcmd
    change, extra, source = MODES[mode]
    truth = load_truth(name)
    path = variant(tmp_path_factory, name, change)
    objs = memory_objects(truth)
    assert objs
    for o in objs:
        code, doc = run_json(memcmd, [path, o["handle"]] + extra)
        rec = doc["memory"]
        want = dict((k, o["memory"][k]) for k in MEMORY_KEYS)
        got = dict((k, rec[k]) for k in MEMORY_KEYS)
        assert got == want, (o["label"], o["class"], mode)
        assert rec["class"] == o["class"]
        assert rec["class_source"] == source
        assert len(doc["objects"]) == 1
        obj = doc["objects"][0]
        assert obj["address"] == o["address"] and obj["handle"] == o["handle"]
        assert obj["wdf_type"] == "WDFMEMORY"
        assert obj["class"] == o["class"]
        assert dict((k, obj["memory"][k]) for k in MEMORY_KEYS) == want
        assert obj["driver"] == o["driver"]
        assert doc["summary"]["memory_objects"] == 1
        assert doc["summary"]["memory_bytes"] == o["memory"]["length"]
        assert not errors(doc), doc["problems"]
        assert code == 0


def test_fixtures_cover_every_memory_class():
    classes = set()
    for name in SCENARIOS:
        classes.update(o["class"] for o in memory_objects(load_truth(name)))
    for cls in ("FxMemoryBuffer", "FxMemoryBufferFromPool", "FxMemoryPagedBufferFromPool",
                "FxMemoryBufferFromLookaside", "FxMemoryBufferFromPoolLookaside",
                "FxMemoryPagedBufferFromPoolLookaside", "FxMemoryBufferPreallocated", "FxRequestMemory"):
        assert cls in classes
    origins = set(o["memory"]["origin"] for name in SCENARIOS for o in memory_objects(load_truth(name)))
    assert origins == {"inline", "pool", "lookaside", "pool-lookaside", "preallocated", "request"}


def test_object_address_works_like_the_handle():
    import wdfdbg.memory as memcmd
    truth = load_truth("typical")
    path = fixture("typical", "wdfsnap.json.gz")
    for o in memory_objects(truth):
        _, by_handle = run_json(memcmd, [path, o["handle"]])
        _, by_address = run_json(memcmd, [path, o["address"]])
        assert by_address["memory"] == by_handle["memory"]


def test_same_answers_with_and_without_symbols(tmp_path_factory):
    """The decoders give the same records whatever the type source, bar
    where the class came from."""
    import wdfdbg.memory as memcmd
    truth = load_truth("typical")
    for o in memory_objects(truth):
        seen = []
        for mode in sorted(MODES):
            change, extra, _ = MODES[mode]
            _, doc = run_json(memcmd, [variant(tmp_path_factory, "typical", change), o["handle"]] + extra)
            rec = dict(doc["memory"])
            rec.pop("class_source")
            seen.append(rec)
        assert all(r == seen[0] for r in seen), o["label"]


# -- text and --dump ------------------------------------------------------------
def dump_bytes(text):
    """The bytes of ``db`` lines in ``text``."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^[0-9a-f]{8}(`[0-9a-f]{8})?  ((?:[0-9a-f?]{2}[ -]){0,15}[0-9a-f?]{2})", line)
        if m:
            out.extend(int(b, 16) for b in re.split(r"[ -]", m.group(2)) if b != "??")
    return bytes(out)


@pytest.mark.parametrize("name", SCENARIOS)
def test_text_output_and_dump(name):
    import wdfdbg.memory as memcmd
    truth = load_truth(name)
    path = fixture(name, "wdfsnap.json.gz")
    for o in memory_objects(truth):
        mem = o["memory"]
        code, text = run(memcmd, [path, o["handle"], "--dump", "16"])
        assert code == 0
        assert o["class"] in text
        assert ("buffer        %s" % mem["buffer"]) in text
        assert "0x%x (%d)" % (mem["length"], mem["length"]) in text
        assert "origin        %s" % mem["origin"] in text
        if mem["pool_tag"]:
            assert "'%s'" % mem["pool_tag"] in text
        if mem["lookaside"]:
            assert mem["lookaside"] in text
        if mem["mdl"]:
            assert mem["mdl"] in text
        assert ("read-only     %s" % ("yes" if mem["read_only"] else "no")) in text
        first = bytes.fromhex(mem["first_bytes"])
        n = min(16, mem["length"])
        assert "db %s L0x%x" % (mem["buffer"], n) in text
        assert dump_bytes(text) == first[:n], o["label"]
        assert "No problems found." in text


def test_dump_json_and_longer_dump():
    import wdfdbg.memory as memcmd
    truth = load_truth("typical")
    path = fixture("typical", "wdfsnap.json.gz")
    o = [x for x in memory_objects(truth) if x["memory"]["length"] >= 64][0]
    _, doc = run_json(memcmd, [path, o["handle"], "--dump", "64"])
    d = doc["dump"]
    assert d["address"] == o["memory"]["buffer"] and d["length"] == 64 and d["readable"]
    assert d["hex"][:32] == o["memory"]["first_bytes"]
    _, text = run(memcmd, [path, o["handle"], "--dump", "64"])
    assert len([ln for ln in text.splitlines() if re.match(r"^[0-9a-f]{8}`", ln)]) == 4


def test_hexdump_format():
    from wdfdbg.render.hexdump import hexdump_lines
    chunks = [(0xffffc08b00003088, 8, b"ABCDEFGH"), (0xffffc08b00003090, 16, None), (0xffffc08b000030a0, 2, b"\x00\x7f")]
    lines = hexdump_lines(chunks, 8)
    assert lines == [
        "ffffc08b`00003080                          41 42 43 44 45 46 47 48          ABCDEFGH",
        "ffffc08b`00003090  ?? ?? ?? ?? ?? ?? ?? ??-?? ?? ?? ?? ?? ?? ?? ??  ????????????????",
        "ffffc08b`000030a0  00 7f                                            ..",
    ]
    assert hexdump_lines([(0x1000, 4, b"abcd")], 4)[0].startswith("00001000  61 62 63 64")


# -- request buffers (offset handles) ---------------------------------------------
def expected_read_only(req, kind):
    """The framework's rules (kmdf-source-notes §4.6): WRITE and
    METHOD_IN/OUT_DIRECT inputs are read-only, and METHOD_IN_DIRECT outputs."""
    major = req["major_function"]
    if major in (3, 4):
        return major == 4
    method = int(req["io_control_code"], 16) & 3
    return method in (1, 2) if kind == "input" else method == 1


@pytest.mark.parametrize("name", ("typical", "two_drivers"))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_request_buffers_through_offset_handles(tmp_path_factory, name, mode):
    import wdfdbg.memory as memcmd
    change, extra, _ = MODES[mode]
    truth = load_truth(name)
    path = variant(tmp_path_factory, name, change)
    reqs = [o for o in truth["objects"] if o.get("request")]
    assert reqs
    checked = 0
    for o in reqs:
        req = o["request"]
        for kind in ("input", "output"):
            b = req[kind]
            if b is None:
                continue
            code, doc = run_json(memcmd, [path, b["handle"]] + extra)
            rec = doc["memory"]
            assert rec["kind"] == kind and rec["request"] == o["address"]
            assert rec["address"] == b["embedded"]
            assert doc["objects"][0]["address"] == b["resolves_to"] == o["address"]
            assert doc["objects"][0]["wdf_type"] == "WDFREQUEST"
            if not b["used"]:
                assert rec["valid"] is False
                continue
            assert rec["valid"] is True
            assert rec["buffer"] == b["buffer"], (o["label"], kind)
            assert rec["length"] == b["length"]
            assert rec["mdl"] == b["mdl"]
            assert rec["origin"] == "request"
            assert rec["read_only"] is expected_read_only(req, kind)
            if b["mdl"]:
                assert [m["address"] for m in doc["objects"][0]["mdls"]] == [b["mdl"]]
            assert not errors(doc), doc["problems"]
            checked += 1
            _, text = run(memcmd, [path, b["handle"], "--dump", "16"])
            assert "the %s buffer of" % kind in text
            if b["buffer"] and b.get("first_bytes"):
                n = min(16, b["length"])
                assert dump_bytes(text) == bytes.fromhex(b["first_bytes"])[:n]
    assert checked


def test_inside_windbg_the_lone_positional_is_the_handle():
    import wdfdbg.memory as memcmd
    args = memcmd.parse_args(["0x3f74ffffe511", "--dump", "8"])
    assert args.source is None and args.root == "0x3f74ffffe511" and args.dump == 8
    with pytest.raises(Exception):
        memcmd.parse_args([])


def test_cli_exit_codes(capsys):
    import wdfdbg.memory as memcmd
    path = fixture("typical", "wdfsnap.json.gz")
    truth = load_truth("typical")
    o = memory_objects(truth)[0]
    assert memcmd.main([path, o["handle"]]) == 0
    assert memcmd.main([path]) == 2
    assert memcmd.main([path + ".missing", o["handle"]]) == 2
    capsys.readouterr()
    # a handle with flag bits the framework never sets
    assert memcmd.main([path, "0x3f74ffffe516"]) == 1
    assert "BAD_HANDLE" in capsys.readouterr().out
    # not a WDFMEMORY: the FxDriver
    drv = [x for x in truth["objects"] if x["class"] == "FxDriver"][0]
    code, doc = run_json(memcmd, [path, drv["handle"]])
    assert code == 1 and doc["memory"] is None
    assert any(p["code"] == "BAD_HANDLE" for p in doc["problems"])


# -- annotate on a walked tree ------------------------------------------------------
@pytest.mark.parametrize("name", SCENARIOS)
def test_annotate_nodes_on_the_tree(name):
    import argparse
    from wdfdbg import memtree
    from wdfdbg.session import open_session
    truth = load_truth(name)
    session = open_session(fixture(name, "wdfsnap.json.gz"))
    args = argparse.Namespace(source=None, root=None, driver=None, handle=None, address=None, depth=None,
                              max_objects=1 << 20, no_contexts=True, json=True)
    _drivers, nodes, _problems = memtree.collect(session, args)
    by = dict((n.address, n) for n in nodes)
    for o in truth["objects"]:
        if not o.get("in_tree"):
            continue
        n = by.get(int(o["address"], 16))
        assert n is not None, o["label"]
        if o.get("memory"):
            assert dict((k, n.memory[k]) for k in MEMORY_KEYS) == dict((k, o["memory"][k]) for k in MEMORY_KEYS)
        else:
            assert n.memory is None
        assert [m["address"] for m in n.mdls] == o["mdls"], o["label"]
        tracked = [m["address"] for m in n.extra.get("tracked_mdls", [])]
        assert sorted(tracked) == sorted(o.get("tracked_mdls") or []), o["label"]
        if o.get("request"):
            req = o["request"]
            got = dict((b["kind"], b) for b in n.extra["request_buffers"])
            for kind in ("input", "output"):
                b = req[kind]
                if b is None or not b["used"]:
                    assert kind not in got
                    continue
                assert (got[kind]["buffer"], got[kind]["length"], got[kind]["mdl"], got[kind]["handle"]) == (
                    b["buffer"], b["length"], b["mdl"], b["handle"])
                assert got[kind]["read_only"] is expected_read_only(req, kind)


def test_memtree_json_carries_the_memory_records():
    import wdfdbg.memtree as memtree
    truth = load_truth("typical")
    code, doc = run_json(memtree, [fixture("typical", "wdfsnap.json.gz")])
    recs = dict((o["address"], o) for o in doc["objects"])
    in_tree = [o for o in memory_objects(truth) if o["in_tree"]]
    for o in in_tree:
        assert dict((k, recs[o["address"]]["memory"][k]) for k in MEMORY_KEYS) == dict((k, o["memory"][k]) for k in MEMORY_KEYS)
    assert doc["summary"]["memory_objects"] == len(in_tree)
    assert doc["summary"]["memory_bytes"] == sum(o["memory"]["length"] for o in in_tree)


# -- corruptions (hand-made on a copy of a fixture) ---------------------------------
def _layout_offsets():
    from wdfdbg.layouts.profiles import PROFILE_BY_NAME
    from wdfdbg.layouts import IsfSource
    from wdfdbg.layouts.model import TypeCompiler
    docs = PROFILE_BY_NAME["win10-19041-x64"].documents()
    comp = TypeCompiler(IsfSource(docs["Wdf01000"]), 8, "test")
    return comp


def test_inline_length_that_does_not_fit_the_object(tmp_path_factory):
    import wdfdbg.memory as memcmd
    truth = load_truth("typical")
    o = [x for x in memory_objects(truth) if x["class"] == "FxMemoryBuffer" and x["memory"]["pool_tag"]][0]
    off = _layout_offsets().compile("FxMemoryBuffer").offset("m_BufferSize")
    path = patched(tmp_path_factory, "typical", [(h(o["address"]) + off, (0x400).to_bytes(8, "little"))], "inline")
    code, doc = run_json(memcmd, [path, o["handle"]])
    assert code == 1
    assert doc["memory"]["buffer"] == o["memory"]["buffer"] and doc["memory"]["length"] == 0x400
    assert any(p["code"] == "MEMORY_OUT_OF_BOUNDS" and p["address"] == o["address"] for p in doc["problems"])
    assert doc["objects"][0]["problems"]
    code, text = run(memcmd, [path, o["handle"], "--dump", "16"])
    assert "MEMORY_OUT_OF_BOUNDS" in text and o["memory"]["buffer"] in text


def test_null_buffer_zero_length_and_unreadable_buffer(tmp_path_factory):
    import wdfdbg.memory as memcmd
    truth = load_truth("typical")
    comp = _layout_offsets()
    pool = [x for x in memory_objects(truth) if x["class"] == "FxMemoryBufferFromPool"]
    a, b = pool[0], pool[1]
    lay = comp.compile("FxMemoryBufferFromPool")
    path = patched(tmp_path_factory, "typical", [
        (h(a["address"]) + lay.offset("m_Pool"), bytes(8)),
        (h(b["address"]) + lay.offset("m_BufferSize"), bytes(8)),
    ], "nullbuf")
    code, doc = run_json(memcmd, [path, a["handle"]])
    assert code == 1 and doc["memory"]["buffer"] is None
    assert [p["code"] for p in errors(doc)] == ["MEMORY_OUT_OF_BOUNDS"]
    code, doc = run_json(memcmd, [path, b["handle"]])
    assert code == 1 and doc["memory"]["length"] == 0
    assert any(p["code"] == "MEMORY_OUT_OF_BOUNDS" for p in doc["problems"])
    # a buffer pointer into nowhere: UNREADABLE at that address
    path = patched(tmp_path_factory, "typical", [
        (h(a["address"]) + lay.offset("m_Pool"), (0xffffc08bdead0000).to_bytes(8, "little"))], "badbuf")
    code, doc = run_json(memcmd, [path, a["handle"], "--dump", "8"])
    assert code == 1
    assert any(p["code"] == "UNREADABLE" and p["address"] == "0xffffc08bdead0000" for p in doc["problems"])
    assert doc["dump"]["readable"] is False and doc["dump"]["hex"] == "??" * 8


def test_unreadable_object_is_a_problem_not_a_traceback():
    import wdfdbg.memory as memcmd
    path = fixture("typical", "wdfsnap.json.gz")
    code, doc = run_json(memcmd, [path, "0x3f7421524ff8"])  # decodes into unmapped memory
    assert code == 1
    assert [p["code"] for p in doc["problems"]] == ["UNREADABLE"]
    code, text = run(memcmd, [path, "0x3f7421524ff8"])
    assert "UNREADABLE" in text


# -- x86 (layouts from the unverified x86 profile), from what the builder placed ------
def placed_memory(built):
    """Ground truth straight from the builder (what it placed), for a
    scenario built at test time (``built.b`` is the HeapBuilder)."""
    out = []
    for o in built.b.objects:
        if not o.alive or not o.info or o.info.get("kind") != "memory":
            continue
        i = o.info
        tag = i["pool_tag"]
        out.append((o.addr, o.cls, {
            "buffer": "0x%x" % i["buffer"] if i["buffer"] else None, "length": i["length"], "origin": i["origin"],
            "pool_tag": None if tag is None else tag.to_bytes(4, "little").decode("latin-1"),
            "lookaside": "0x%x" % i["lookaside"] if i["lookaside"] else None,
            "mdl": "0x%x" % i["mdl"] if i["mdl"] else None, "read_only": i["read_only"]}))
    return out


@pytest.mark.parametrize("scenario", ("typical", "two_drivers"))
def test_x86_from_what_the_builder_placed(scenario):
    from wdfdbg.problems import ProblemLog
    from wdfdbg.decoders import memory as mem
    from wdfdbg.decoders.objects import read_object
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    from wdfdbg.testing import scenarios
    built = scenarios.build(scenario, arch="x86")
    placed = placed_memory(built)
    assert len(placed) > 5
    for types, symbols, source in ((True, True, "vtable"), (False, False, "shape")):
        t = Target(built.backend(types=types, symbols=symbols))
        s = Session(t, Layouts(t), "snapshot", None, "synthetic")
        s.shape_classifier = mem.shape_classifier
        for addr, cls, want in placed:
            log = ProblemLog()
            hdr = read_object(s, addr)
            rec = mem.decode_memory(s, hdr, log)
            assert dict((k, rec[k]) for k in MEMORY_KEYS) == want, (cls, hex(addr))
            assert rec["class"] == cls and rec["class_source"] == source
            assert not [p for p in log if p.severity == "error"]


def test_shape_edge_cases_built_at_test_time():
    """Shapes the fixtures do not hold: inline buffers whose m_ObjectSize
    equals a fixed-size class's (0x90, 0xa0), a paged-from-pool lookaside
    without a device ancestor (FxMemoryBufferFromPoolLookaside), paged pool
    without a device, object debug extensions; with and without symbols."""
    from wdfdbg.problems import ProblemLog
    from wdfdbg.decoders import memory as mem
    from wdfdbg.decoders.objects import read_object
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    from wdfdbg.testing.builder import HeapBuilder

    class B(object):
        def __init__(self, b):
            self.b = b

    for arch in ("x64", "x86"):
        for debug in (False, True):
            b = HeapBuilder("edge", arch=arch)
            d = b.add_driver("EdgeDrv", "Edge", verifier=debug, object_debug=debug)
            dev = b.device(d)
            b.memory_buffer(d.fxdriver, 0x10, "Ed10")
            b.memory_buffer(dev, 0x20, "Ed20")
            b.memory_buffer(d.fxdriver, 0x1, "Ed01")
            b.memory_create(d.fxdriver, 0x100, "EdPg", paged=True)
            b.memory_create(dev, 0x1000, "EdBg")
            la = b.lookaside(d.fxdriver, "paged-from-pool", 0x80, "EdLa")
            for _ in range(3):
                b.lookaside_allocate(la)
            la2 = b.lookaside(dev, "npaged-from-pool", 0x1000, "EdLb", mem_parent=dev)
            b.lookaside_allocate(la2)
            built = b.built()
            placed = placed_memory(B(b))
            classes = set(c for _, c, _ in placed)
            assert "FxMemoryBufferFromPoolLookaside" in classes and "FxMemoryBufferFromPool" in classes
            for types, symbols, source in ((True, True, "vtable"), (False, False, "shape")):
                t = Target(built.backend(types=types, symbols=symbols))
                s = Session(t, Layouts(t), "snapshot", None, "synthetic")
                s.shape_classifier = mem.shape_classifier
                for addr, cls, want in placed:
                    log = ProblemLog()
                    rec = mem.decode_memory(s, read_object(s, addr), log)
                    assert dict((k, rec[k]) for k in MEMORY_KEYS) == want, (arch, debug, cls)
                    assert (rec["class"], rec["class_source"]) == (cls, source), (arch, debug)
                    assert not [p for p in log if p.severity == "error"]


def test_freed_lookaside_entries_are_bad_handles():
    """The stale image of a freed lookaside entry: BAD_HANDLE at the object,
    and what is left of it decoded by shape."""
    import wdfdbg.memory as memcmd
    truth = load_truth("typical")
    path = fixture("typical", "wdfsnap.json.gz")
    mask = int(truth["handle_mask"], 16)
    n = 0
    for o in truth["objects"]:
        la = o.get("lookaside")
        if not la or la["kind"] != "npaged":
            continue
        for stale in la["list"]["free_objects"]:
            handle = "0x%x" % (int(stale, 16) ^ mask)
            code, doc = run_json(memcmd, [path, handle])
            assert code == 1
            assert ("BAD_HANDLE", stale) in [(p["code"], p["address"]) for p in doc["problems"]]
            assert doc["objects"][0]["state"] == "Destroyed"
            assert doc["memory"]["lookaside"] == o["address"] and doc["memory"]["class_source"] == "shape"
            n += 1
    assert n
    p2 = truth["bugcheck"]["parameters"][1]
    code, doc = run_json(memcmd, [path, p2])
    assert ("BAD_HANDLE", truth["bugcheck"]["p2_decodes_to"]) in [(p["code"], p["address"]) for p in doc["problems"]]


# -- DML: links never change the layout ------------------------------------------
def test_dml_output_is_the_plain_output_with_links():
    import wdfdbg.descriptor as desccmd
    import wdfdbg.lookaside as lacmd
    import wdfdbg.mdl as mdlcmd
    import wdfdbg.memory as memcmd
    import wdfdbg.memusage as mu
    from wdfdbg.render.dml import DmlMarkup, unescape
    from wdfdbg.render.markup import PLAIN
    truth = load_truth("typical")
    path = fixture("typical", "wdfsnap.json.gz")
    req = [o for o in truth["objects"] if o.get("request") and o["request"]["kind"] == "read-direct"][0]
    la = [o for o in truth["objects"] if o.get("lookaside")][0]
    mem = [o for o in memory_objects(truth) if o["memory"]["lookaside"]][0]
    rmem = [o for o in memory_objects(truth) if o["memory"]["mdl"]][0]
    desc = [d for d in truth["descriptors"] if d["type"] == 2][0]
    cases = [(memcmd, [path, req["request"]["input"]["handle"], "--dump", "32"]), (memcmd, [path, mem["handle"]]),
             (memcmd, [path, rmem["handle"]]), (lacmd, [path, la["handle"]]), (mdlcmd, [path, desc["mdl"]]),
             (mdlcmd, [path, "--allocated"]), (desccmd, [path, desc["address"]]), (mu, [path])]
    for module, argv in cases:
        args = module.parse_args(argv)
        session = command.open_from_args(args)
        _, plain = module.execute(session, args, PLAIN)
        _, dml = module.execute(session, args, DmlMarkup())
        assert "<link cmd=" in dml, module.NAME
        stripped = unescape(re.sub(r'<link cmd="[^"]*">(.*?)</link>', r"\1", dml))
        assert stripped == plain, module.NAME
