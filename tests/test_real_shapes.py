"""Real (PDB-shaped) types give the answers the built-in profile gives.

``shared/reference/types/<build>`` holds Wdf01000 and nt types shaped as a
debugger's symbols shape them (struct, class and union members, bitfields,
enums, redeclared members; its README), and ``nt-pdb/`` the kernel's types
as volatility3 converted them from ``ntkrnlmp.pdb`` (``.json.xz``). For
each build, every command on every fixture (rebuilt with the build's
profile for 1607 and Windows 11; the fixtures are 19041; the leak heap at
its committed 10,000 objects for 2004 only, at 400 for the others) must give the same
exit code and facts with those types embedded in the snapshot and given
through ``--types`` as with the profile's types. Skips cleanly without
``../shared``."""

import copy
import gzip
import json
import lzma
import os

import pytest

from cmdhelpers import json_without_source, load_doc, run
from conftest import SHARED
from wdfdbg import descriptor, info, lookaside, mdl, memory, memtree, memusage, scan
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.testing import FIXTURES, build

TYPES = os.path.join(SHARED, "reference", "types")

# build folder -> (built-in profile the fixture is laid out with, OS build)
BUILDS = {"1607": ("win10-1607-x64", 14393), "2004": ("win10-19041-x64", 19041),
          "20H2": ("win10-19041-x64", 19042), "win11": ("win11-x64", 22000)}
# nt from a real ntkrnlmp.pdb -> (the build folder whose Wdf01000 and
# profile go with it, the ISF in nt-pdb/, OS build). 1809 (17763) is laid
# out with the 1607 profile, the one wdfdbg chooses for it (builds 14393 to
# 18999); its kernel declares _MI_HYPER_SPACE of 264 MiB, which no analysis
# reads
NT_PDB_SETS = {"nt-pdb": ("2004", "ntkrnlmp-10.0.19041.3570.json.xz", 19041),
               "nt-pdb-1809": ("1607", "ntkrnlmp-10.0.17763.5933.json.xz", 17763)}
# what is compared: a build folder, or an nt-pdb set
TYPE_SETS = sorted(BUILDS) + sorted(NT_PDB_SETS)
LEAK_SMALL = 400


def _need_shared(type_set="2004"):
    files = _type_files(type_set)
    if not os.path.isdir(TYPES) or not all(os.path.exists(f) for f in files):
        pytest.skip("../shared/reference/types is not here")


def _type_files(type_set):
    """(Wdf01000 path, nt path) for a type set."""
    if type_set in NT_PDB_SETS:
        folder, nt, _os_build = NT_PDB_SETS[type_set]
        return os.path.join(TYPES, folder, "Wdf01000.json"), os.path.join(TYPES, "nt-pdb", nt)
    return os.path.join(TYPES, type_set, "Wdf01000.json"), os.path.join(TYPES, type_set, "nt.json")


def _profile_of(type_set):
    """(built-in profile, OS build) the fixture is laid out with."""
    if type_set in NT_PDB_SETS:
        folder, _nt, os_build = NT_PDB_SETS[type_set]
        return BUILDS[folder][0], os_build
    return BUILDS[type_set]


def _read_isf(path):
    opener = lzma.open if path.endswith(".xz") else (gzip.open if path.endswith(".gz") else open)
    with opener(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


_BASE = {}


def _baseline(tmp_path_factory, fixture_name, type_set):
    """The fixture laid out with the type set's profile, as a snapshot with
    the profile's types (the fixture itself for 19041)."""
    profile, os_build = _profile_of(type_set)
    key = (fixture_name, profile, os_build, fixture_name == "leak" and type_set != "2004")
    if key not in _BASE:
        params = dict([p for n, p, _c in FIXTURES if n == fixture_name][0])
        if fixture_name == "leak" and type_set != "2004":
            # the leak fixture's 10,000 objects repeat a few classes: the
            # committed size once (2004), a smaller heap of the same classes
            # for the other type sets keeps the matrix fast
            params["n"] = LEAK_SMALL
        built = build(fixture_name, profile=profile, **params)
        doc = json.loads(gzip.decompress(built.dumps(types=True, compress=True)).decode("utf-8"))
        doc["target"]["os_build"] = os_build
        path = str(tmp_path_factory.mktemp("real-shapes") / ("%s-%s.wdfsnap.json.gz" % (fixture_name, os_build)))
        snapfmt.save(doc, path)
        _BASE[key] = (path, built.truth(compact=False))
    return _BASE[key]


_REAL = {}


def _real(tmp_path_factory, fixture_name, type_set, how):
    """(snapshot path, extra argv): the real types embedded in the
    snapshot (``how`` "embedded") or given with --types to a snapshot
    without types ("--types")."""
    key = (fixture_name, type_set, how)
    if key not in _REAL:
        base, _truth = _baseline(tmp_path_factory, fixture_name, type_set)
        doc = load_doc(base)
        wdf, nt = _type_files(type_set)
        if how == "embedded":
            doc["types"] = {"Wdf01000": _read_isf(wdf), "nt": _read_isf(nt)}
            argv = []
        else:
            doc["types"] = {}
            argv = ["--types", "Wdf01000=" + wdf, "--types", "nt=" + nt]
        path = str(tmp_path_factory.mktemp("real-shapes") / ("%s-%s-%s.wdfsnap.json.gz" % (fixture_name, type_set, how.strip("-"))))
        snapfmt.save(doc, path)
        _REAL[key] = (path, argv)
    return _REAL[key]


def _commands(truth):
    """(label, module, argv after the source) for every command, with the
    handles and addresses the fixture's truth names."""
    out = [("memtree", memtree, []), ("memusage", memusage, []), ("info", info, []), ("scan", scan, []),
           ("mdl --allocated", mdl, ["--allocated"])]
    mem = [o for o in truth["objects"] if o.get("memory")]
    for o in mem[:3]:
        out.append(("memory %s" % o["handle"], memory, [o["handle"]]))
    for la in truth.get("lookasides") or ():
        addr = la if isinstance(la, str) else la.get("address")
        out.append(("lookaside %s" % addr, lookaside, [addr]))
    for m in (truth.get("mdls") or ())[:3]:
        out.append(("mdl %s" % m["address"], mdl, [m["address"]]))
    for d in truth.get("descriptors") or ():
        out.append(("descriptor %s" % d["address"], descriptor, [d["address"]]))
    return out


def _run_json(module, argv):
    """(exit code, JSON report) of a command run in-process (the reports'
    schema is checked by the command tests; here only the facts)."""
    code, out = run(module, list(argv) + ["--json"])
    return code, json.loads(out)


def _answers(module, path, argv):
    """(exit code, report without what describes its source: the source
    object and the notes naming --types files)."""
    code, doc = _run_json(module, [path] + list(argv))
    doc = json_without_source(doc)
    notes = [n for n in doc.pop("notes", None) or () if not n.startswith("types for ")]
    if notes:
        doc["notes"] = notes
    return code, doc


def _first_difference(got, want, path="$"):
    """Where two report documents first differ (for the failure message)."""
    if isinstance(got, dict) and isinstance(want, dict):
        for k in sorted(set(got) | set(want)):
            if got.get(k) != want.get(k):
                return _first_difference(got.get(k), want.get(k), "%s.%s" % (path, k))
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                return _first_difference(g, w, "%s[%d]" % (path, i))
    return "%s: %r != %r" % (path, str(got)[:200], str(want)[:200])


_WANT = {}


def _baseline_answers(base, label, module, argv):
    """The profile's answers, computed once per snapshot and command."""
    key = (base, label)
    if key not in _WANT:
        _WANT[key] = _answers(module, base, argv)
    return _WANT[key]


CASES = [(f, t, h) for f, _p, _c in FIXTURES for t in TYPE_SETS for h in ("embedded", "--types")]


@pytest.mark.parametrize("fixture_name,type_set,how", CASES)
def test_real_types_give_the_profile_answers(tmp_path_factory, fixture_name, type_set, how):
    _need_shared(type_set)
    base, truth = _baseline(tmp_path_factory, fixture_name, type_set)
    real, extra = _real(tmp_path_factory, fixture_name, type_set, how)
    differ = []
    for label, module, argv in _commands(truth):
        want = _baseline_answers(base, label, module, argv)
        got = _answers(module, real, argv + extra)
        assert want[0] <= 1, "%s exits %d with the profile's types" % (label, want[0])
        if got != want:
            differ.append((label, got[0], want[0], _first_difference(got[1], want[1])))
    assert differ == []


def _pykd_answers(module, argv):
    """(exit code, report without its source) through the pykd stand-in."""
    code, doc = _run_json(module, argv)
    return code, json_without_source(doc)


def _without_snapshot_facts(answers):
    """Answers without what ``info`` says about the source itself (its
    ``kind`` and ``origin``, and what only a snapshot knows of itself: its
    ``captured_bytes`` and ``description``)."""
    code, doc = answers
    if isinstance(doc.get("info"), dict):
        doc = dict(doc)
        doc["info"] = dict((k, v) for k, v in doc["info"].items() if k not in SOURCE_FACTS)
    return code, doc


SOURCE_FACTS = ("kind", "origin", "captured_bytes", "description")


@pytest.mark.parametrize("type_set", TYPE_SETS)
def test_real_types_through_the_pykd_stand_in(tmp_path_factory, type_set):
    """The stand-in's typeInfo hands out the real shapes (members that are
    classes, unions, bitfields, enums, FxSpinLock's m_SpinLock listed twice
    under one name): every command answers as the snapshot with the
    profile's types does."""
    _need_shared(type_set)
    from wdfdbg.testing.fake_pykd import fake_pykd
    base, truth = _baseline(tmp_path_factory, "typical", type_set)
    real, _extra = _real(tmp_path_factory, "typical", type_set, "embedded")
    differ = []
    with fake_pykd(real):
        for label, module, argv in _commands(truth):
            want = _without_snapshot_facts(_baseline_answers(base, label, module, argv))
            got = _without_snapshot_facts(_pykd_answers(module, argv))
            if got != want:
                differ.append((label, got[0], want[0], _first_difference(got[1], want[1])))
    assert differ == []


# the real triage dumps of build 19041 (x64): their types are 2004's
DUMPS_19041 = ("triage_x64.dmp", "DAIMUVG_102622-12000-01.dmp", "DAIMUVG_102622-15671-01.dmp",
               "NoamHuang_dell_033124-5078-01.dmp", "NoamHuang_dell_040124-5515-01.dmp", "ojusha_help_100623-6156-01.dmp")
DUMP_COMMANDS = (("memtree", memtree, []), ("memusage", memusage, []), ("info", info, []), ("scan", scan, []),
                 ("mdl --allocated", mdl, ["--allocated"]))


@pytest.mark.parametrize("name", DUMPS_19041)
def test_real_dump_with_real_types_answers_as_with_the_profile(name):
    _need_shared()
    path = os.path.join(SHARED, "dumps", name)
    if not os.path.exists(path):
        pytest.skip("%s is not here" % name)
    wdf, nt = _type_files("2004")
    differ = []
    for label, module, argv in DUMP_COMMANDS:
        want = _answers(module, path, argv)
        got = _answers(module, path, argv + ["--types", "Wdf01000=" + wdf, "--types", "nt=" + nt])
        if got != want:
            differ.append((label, got[0], want[0], _first_difference(got[1], want[1])))
    assert differ == []


def test_pykd_lists_a_redeclared_member_twice_and_wdfdbg_keeps_both(tmp_path_factory):
    """FxSpinLock through pykd: ``m_SpinLock`` twice by index (FxObject's at
    0x30, its own at 0x68), the own one by name (kdlib's reverse lookup);
    the type source keeps both, the derived one as ``m_SpinLock__0x68``."""
    _need_shared()
    from wdfdbg.sources.base import Target
    from wdfdbg.testing.fake_pykd import fake_pykd
    real, _extra = _real(tmp_path_factory, "typical", "2004", "embedded")
    with fake_pykd(real) as pykd:
        ti = pykd.typeInfo("Wdf01000!FxSpinLock")
        names = [ti.fieldName(i) for i in range(ti.getNumberFields())]
        assert names.count("m_SpinLock") == 2
        assert ti.fieldOffset("m_SpinLock") == 0x68
        from wdfdbg.sources.pykd_target import live_backend
        fields = Target(live_backend()).type_source("Wdf01000").user_type("FxSpinLock")["fields"]
    assert fields["m_SpinLock"]["offset"] == 0x30 and fields["m_SpinLock__0x68"]["offset"] == 0x68


@pytest.mark.parametrize("type_set", TYPE_SETS)
def test_real_types_give_the_same_html_report(tmp_path_factory, type_set):
    """``report`` (HTML) on the typical heap: the same page with the real
    types embedded as with the profile's, but for the source's path."""
    _need_shared(type_set)
    from wdfdbg import report
    base, _truth = _baseline(tmp_path_factory, "typical", type_set)
    real, _extra = _real(tmp_path_factory, "typical", type_set, "embedded")
    out = tmp_path_factory.mktemp("real-shapes-html")
    pages = []
    for path in (base, real):
        html = str(out / (os.path.basename(path) + ".html"))
        code, _text = run(report, [path, "-o", html])
        with open(html, encoding="utf-8") as f:
            pages.append((code, f.read().replace(path, "SOURCE").replace(os.path.basename(path), "SOURCE")))
    assert pages[0][0] <= 1 and pages[0] == pages[1]
