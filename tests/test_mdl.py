"""MDLs (``wdfdbg mdl`` and ``decoders.mdl``) against the scenario ground
truth: every MDL of the fixtures (single page, multi-page, partial, chains,
mapped and nonpaged-pool), the corrupt ones (a Next cycle, a wrong Size, a
mapped flag without a mapping) at the truth's addresses, the verifier's
AllocatedMdls, text and JSON (schema-validated), with and without symbols."""


import pytest

from wdfdbg.sources import snapshot as snapfmt

from cmdhelpers import FIXTURES, ROOT, fixture, load_truth, run, run_json, variant  # noqa: F401

SCENARIOS = ("typical", "two_drivers", "corrupt")
MODES = {"symbols": (None, []), "profile": (None, ["--no-symbols"]), "bare": ("bare", [])}
MDL_CODES = ("MDL_CHAIN_CYCLE", "MDL_INCONSISTENT")


def check_record(rec, want):
    assert rec["address"] == want["address"]
    assert rec["next"] == want["next"]
    assert rec["size"] == want["size"]
    assert rec["flags"] == want["flag_names"]
    assert rec["flags_value"] == want["flags"]
    assert rec["process"] == want["process"]
    assert rec["mapped_system_va"] == want["mapped_system_va"]
    assert rec["start_va"] == want["start_va"]
    assert rec["byte_count"] == want["byte_count"]
    assert rec["byte_offset"] == want["byte_offset"]
    assert rec["pages"] == want["pages_spanned"]
    assert rec["expected_size"] == want["expected_size"]
    # the PFN array is sized by the pages spanned, bounded by what Size holds
    n = min(want["pages_spanned"], (want["size"] - (want["expected_size"] - 8 * want["pages_spanned"])) // 8)
    assert rec["pfns"] == want["pfns"][:n]


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mdl_matches_truth(tmp_path_factory, name, mode):
    import wdfdbg.mdl as mdlcmd
    change, extra = MODES[mode]
    truth = load_truth(name)
    path = variant(tmp_path_factory, name, change)
    by = dict((m["address"], m) for m in truth["mdls"])
    assert truth["mdls"]
    for m in truth["mdls"]:
        code, doc = run_json(mdlcmd, [path, m["address"]] + extra)
        chain = doc["mdls"]
        assert [r["address"] for r in chain] == m["chain"]
        for rec in chain:
            check_record(rec, by[rec["address"]])
        assert doc["summary"]["mdls"] == len(chain)
        got = set((p["code"], p["address"]) for p in doc["problems"] if p["code"] in MDL_CODES)
        want = set()
        for a in m["chain"]:
            for code_ in by[a]["problems"]:
                if code_ == "MDL_INCONSISTENT":
                    want.add((code_, a))
        if m["chain_cycle"]:
            want.add(("MDL_CHAIN_CYCLE", m["address"]))
        assert got == want, (m["label"], doc["problems"])
        assert code == (1 if want else 0)


def test_fixtures_cover_the_mdl_cases():
    truth = load_truth("typical")
    flags = [set(m["flag_names"]) for m in truth["mdls"]]
    assert any("PARTIAL" in f for f in flags)
    assert any("MAPPED_TO_SYSTEM_VA" in f for f in flags)
    assert any("SOURCE_IS_NONPAGED_POOL" in f for f in flags)
    assert any(m["pages_spanned"] > 1 for m in truth["mdls"])
    assert any(len(m["chain"]) > 1 for m in truth["mdls"])
    corrupt = load_truth("corrupt")
    codes = set(c for m in corrupt["mdls"] for c in m["problems"])
    assert codes == {"MDL_CHAIN_CYCLE", "MDL_INCONSISTENT"}


def test_corrupt_mdls_still_print_everything():
    import wdfdbg.mdl as mdlcmd
    truth = load_truth("corrupt")
    path = fixture("corrupt", "wdfsnap.json.gz")
    for m in truth["mdls"]:
        if not m["problems"]:
            continue
        code, text = run(mdlcmd, [path, m["address"]])
        assert code == 1
        for code_ in m["problems"]:
            assert code_ in text
        for a in m["chain"]:
            assert a in text
        assert "0x%x" % m["byte_count"] in text
        assert "|".join(m["flag_names"]) in text
        for pfn in m["pfns"][:1]:
            assert pfn in text
        if m["expected_size"] != m["size"]:
            assert "Size 0x%x, %d page(s) spanned need Size 0x%x" % (m["size"], m["pages_spanned"],
                                                                      m["expected_size"]) in text


def test_validate_mdl_chain():
    from wdfdbg.decoders.mdl import validate_mdl_chain
    from wdfdbg.errors import CorruptionError
    from wdfdbg.session import open_session
    truth = load_truth("corrupt")
    s = open_session(fixture("corrupt", "wdfsnap.json.gz"))
    for m in truth["mdls"]:
        a = int(m["address"], 16)
        bad = bool(m["chain_cycle"]) or any(x["problems"] for x in truth["mdls"] if x["address"] in m["chain"])
        if bad:
            with pytest.raises(CorruptionError) as ei:
                validate_mdl_chain(s, a)
            assert ei.value.problem.code in MDL_CODES
        else:
            assert [r["address"] for r in validate_mdl_chain(s, a)] == m["chain"]
    good = load_truth("typical")
    s = open_session(fixture("typical", "wdfsnap.json.gz"))
    for m in good["mdls"]:
        assert [r["address"] for r in validate_mdl_chain(s, int(m["address"], 16))] == m["chain"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_allocated_mdls_of_verifier_drivers(name):
    import wdfdbg.mdl as mdlcmd
    truth = load_truth(name)
    path = fixture(name, "wdfsnap.json.gz")
    code, doc = run_json(mdlcmd, [path, "--allocated"])
    want = []
    for d in truth["drivers"]:
        for e in d.get("allocated_mdls") or []:
            want.append((d["name"], e["mdl"], e["owner"], e["caller"], e["block"]))
    got = [(e["driver"], e["mdl"], e["owner"], e["caller"], e["block"]) for e in doc["allocated_mdls"]]
    assert sorted(got) == sorted(want)
    by = dict((m["address"], m) for m in truth["mdls"])
    for e in doc["allocated_mdls"]:
        check_record(e["record"], by[e["mdl"]])
        assert e["caller_symbol"] and "+0x" in e["caller_symbol"]
    for d in truth["drivers"]:
        if d.get("allocated_mdls"):
            code, one = run_json(mdlcmd, [path, "--allocated", "--driver", d["name"]])
            assert len(one["allocated_mdls"]) == len(d["allocated_mdls"])
    _, text = run(mdlcmd, [path, "--allocated"])
    for driver, mdl, owner, _caller, _block in want:
        assert mdl in text and owner in text


def test_walk_reports_the_mdl_problems_at_the_truth_addresses():
    """memtree's walk (annotate: held MDLs and AllocatedMdls) finds every
    required MDL group of the corrupt fixture."""
    import wdfdbg.memtree as memtree
    truth = load_truth("corrupt")
    code, doc = run_json(memtree, [fixture("corrupt", "wdfsnap.json.gz")])
    found = set((p["code"], p["address"]) for p in doc["problems"])
    groups = {}
    for p in truth["expected_problems"]:
        if p["code"] in MDL_CODES and p["required"]:
            groups.setdefault(p["group"], []).append((p["code"], p["address"]))
    assert groups
    for g, members in groups.items():
        assert any(x in found for x in members), (g, members)
    # no MDL problem anywhere in the sound fixtures
    for name in ("typical", "two_drivers"):
        _, doc = run_json(memtree, [fixture(name, "wdfsnap.json.gz")])
        assert not [p for p in doc["problems"] if p["code"] in MDL_CODES]


def test_held_mdls_on_objects():
    import wdfdbg.memtree as memtree
    truth = load_truth("typical")
    _, doc = run_json(memtree, [fixture("typical", "wdfsnap.json.gz")])
    recs = dict((o["address"], o) for o in doc["objects"])
    by = dict((m["address"], m) for m in truth["mdls"])
    for o in truth["objects"]:
        if o["in_tree"]:
            got = recs[o["address"]]
            assert [m["address"] for m in got["mdls"]] == o["mdls"]
            for m in got["mdls"]:
                check_record(m, by[m["address"]])
            assert sorted(m["address"] for m in got.get("tracked_mdls", [])) == sorted(o["tracked_mdls"])


def test_hand_made_mdl_checks():
    """decode_mdl on hand-laid MDLs: a partial MDL may be larger than it
    needs, a full one may not; PARTIAL_HAS_BEEN_MAPPED needs PARTIAL;
    MappedSystemVa must sit at ByteOffset in its page; x86 layout."""
    import struct
    from wdfdbg.problems import ProblemLog
    from wdfdbg.decoders.mdl import decode_mdl
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target

    def session(arch, ptr, base, mem):
        doc = snapfmt.build_document("synthetic", arch, ptr, [(base, bytes(mem))], os_build=19041)
        t = Target(snapfmt.SnapshotBackend(snapfmt.loads(snapfmt.dumps(doc))))
        return Session(t, Layouts(t), "snapshot", None, "synthetic")

    base = 0xffffc08b00020000
    mem = bytearray(0x1000)
    # partial MDL, Size for 3 PFNs, spans 1 page: fine
    struct.pack_into("<QhhIQQQII", mem, 0x000, 0, 0x30 + 24, 0x14, 0, 0, base + 0x10000 + 0x10, base + 0x10000, 0x20, 0x10)
    # full MDL, same: Size too large
    struct.pack_into("<QhhIQQQII", mem, 0x100, 0, 0x30 + 24, 0x08, 0, 0, 0, base + 0x10000, 0x20, 0x10)
    # PARTIAL_HAS_BEEN_MAPPED without PARTIAL, mapping at the wrong page offset
    struct.pack_into("<QhhIQQQII", mem, 0x200, 0, 0x38, 0x21, 0, 0, base + 0x30000 + 0x20, base + 0x10000, 0x20, 0x10)
    s = session("x64", 8, base, mem)
    log = ProblemLog()
    assert decode_mdl(s, base, log).record["flags"] == ["SOURCE_IS_NONPAGED_POOL", "PARTIAL"] and not len(log)
    rec = decode_mdl(s, base + 0x100, log).record
    assert rec["expected_size"] == 0x38 and [p.code for p in log] == ["MDL_INCONSISTENT"]
    log = ProblemLog()
    decode_mdl(s, base + 0x200, log)
    msgs = " ".join(p.message for p in log)
    assert "PARTIAL_HAS_BEEN_MAPPED without PARTIAL" in msgs and "not at ByteOffset" in msgs
    # x86: 0x1C header, 4-byte PFNs; a 2-page MDL with Size for 2 PFNs
    base86 = 0x85020000
    mem = bytearray(0x100)
    struct.pack_into("<IhhIIIII", mem, 0, 0, 0x1C + 8, 0x0C, 0, base86 + 0x800, base86, 0x1000, 0x800)
    struct.pack_into("<II", mem, 0x1C, 0x1234, 0x5678)
    s = session("x86", 4, base86, mem)
    log = ProblemLog()
    rec = decode_mdl(s, base86, log).record
    assert rec["pages"] == 2 and rec["expected_size"] == 0x24 and rec["pfns"] == ["0x1234", "0x5678"]
    assert not len(log)


def test_unreadable_mdl_and_inside_windbg_arguments():
    import wdfdbg.mdl as mdlcmd
    path = fixture("typical", "wdfsnap.json.gz")
    code, doc = run_json(mdlcmd, [path, "0xffffc08bdead0000"])
    assert code == 1 and [p["code"] for p in doc["problems"]] == ["UNREADABLE"] and doc["mdls"] == []
    args = mdlcmd.parse_args(["0xffffc08b000023c0"])
    assert args.source is None and args.root == "0xffffc08b000023c0"
    assert mdlcmd.main([path]) == 2


def test_x86_mdls_from_what_the_builder_placed():
    """x86 _MDL (0x1C header, 4-byte PFNs) for every MDL of a scenario built
    at test time, and the corrupt ones at their addresses."""
    from wdfdbg.problems import ProblemLog
    from wdfdbg.decoders.mdl import for_each_mdl
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    from wdfdbg.testing import scenarios
    for scenario in ("typical", "corrupt"):
        built = scenarios.build(scenario, arch="x86")
        t = Target(built.backend(types=False, symbols=False))
        s = Session(t, Layouts(t), "snapshot", None, "synthetic")
        for m in built.b.mdls:
            log = ProblemLog()
            chain = list(for_each_mdl(s, m.addr, log))
            rec = chain[0].record
            assert rec["size"] == m.size and rec["flags_value"] == m.flags
            assert rec["byte_count"] == m.byte_count and rec["byte_offset"] == m.byte_offset
            assert rec["start_va"] == ("0x%x" % m.start_va if m.start_va else None)
            assert rec["mapped_system_va"] == ("0x%x" % m.mapped if m.mapped else None)
            assert rec["next"] == ("0x%x" % m.next if m.next else None)
            pages = ((m.byte_offset & 0xfff) + m.byte_count + 0xfff) // 0x1000
            assert rec["expected_size"] == 0x1C + 4 * pages
            assert rec["pfns"] == ["0x%x" % p for p in m.pfns][:len(rec["pfns"])]
            by = dict((x.addr, x) for x in built.b.mdls)
            seen, cur = set(), m.addr
            while cur and cur not in seen:
                seen.add(cur)
                cur = by[cur].next
            want = set(c for c in m.problems if c == "MDL_INCONSISTENT")
            if cur:
                want.add("MDL_CHAIN_CYCLE")
            got = set(p.code for p in log if p.code in MDL_CODES and p.address == m.addr)
            assert got == want, (m.label, [str(p) for p in log])
