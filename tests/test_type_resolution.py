"""Cross-module type names (issue 11 item 6; ``shared/spec/snapshot-format.md``,
"Types: ISF"): a name a module's types use but do not define resolves in the
module's own types, then nt's, then the other modules' in listed order; the
report's ``source.resolved_types`` says which module supplied it; only a name
no module defines is refused, and only when the analysis needs it."""

import copy
import json

import pytest

from cmdhelpers import fixture, load_doc, run_json
from wdfdbg import memtree
from wdfdbg.errors import InputError
from wdfdbg.layouts import Layouts
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Target

# the nt types the profiles' Wdf01000 ISF repeats (a closed ISF); an open one
# names them without defining them, as a hand-made or partial file does
SHARED_WITH_NT = ("_GENERAL_LOOKASIDE", "_IO_STACK_LOCATION", "_IRP", "_LIST_ENTRY", "_MDL",
                  "_NPAGED_LOOKASIDE_LIST", "_PAGED_LOOKASIDE_LIST", "_SINGLE_LIST_ENTRY", "_SLIST_HEADER")


def _open_variant(doc):
    doc = copy.deepcopy(doc)
    wdf = doc["types"]["Wdf01000"]["user_types"]
    for name in SHARED_WITH_NT:
        assert name in wdf and name in doc["types"]["nt"]["user_types"]
        del wdf[name]
    return doc


@pytest.fixture(scope="module")
def closed_and_open(tmp_path_factory):
    closed = fixture("typical", "wdfsnap.json.gz")
    doc = _open_variant(load_doc(closed))
    path = str(tmp_path_factory.mktemp("open") / "typical-open.wdfsnap.json.gz")
    snapfmt.save(doc, path)
    return closed, path


def test_open_types_validate(closed_and_open):
    _closed, path = closed_and_open
    problems, _ = snapfmt.validate(load_doc(path))
    assert problems == []


def test_open_types_walk_to_the_same_tree(closed_and_open):
    closed, path = closed_and_open
    c_code, c_doc = run_json(memtree, [closed])
    o_code, o_doc = run_json(memtree, [path])
    assert o_code == c_code
    c_source, o_source = c_doc.pop("source"), o_doc.pop("source")
    assert o_doc == c_doc
    assert len(o_doc["objects"]) > 10
    assert "resolved_types" not in c_source
    borrowed = o_source["resolved_types"]
    assert borrowed["_LIST_ENTRY"] == "nt"
    assert set(borrowed) <= set(SHARED_WITH_NT) and set(borrowed.values()) == {"nt"}
    assert o_source["types"] == c_source["types"] == "symbols"


def test_text_report_matches_too(closed_and_open, capsys):
    closed, path = closed_and_open
    outs = []
    for p in (closed, path):
        memtree.main([p])
        outs.append(capsys.readouterr().out.replace(p, "SOURCE"))
    assert outs[0] == outs[1]


def _isf(user_types):
    return {"metadata": {"format": "6.2.0", "producer": {"name": "test", "version": "1.0.0"}},
            "base_types": {}, "user_types": user_types, "enums": {}, "symbols": {}}


def _holder(size=8):
    x = {"offset": 0, "type": {"kind": "struct", "name": "X"}}
    return {"Holder": {"kind": "struct", "size": size, "fields": {"x": x}}}


def _x(size):
    return {"X": {"kind": "struct", "size": size, "fields": {}}}


def _doc(types):
    return snapfmt.build_document("synthetic", "x64", 8, [(0x1000, b"\0" * 16)], types=types)


def test_validation_resolves_nt_before_the_other_modules():
    # Holder (8 bytes) embeds X: nt's X (8 bytes) fits, zz's (16) would not
    ok = _doc({"Wdf01000": _isf(_holder()), "zz": _isf(_x(16)), "nt": _isf(_x(8))})
    assert snapfmt.validate(ok)[0] == []
    no_nt = _doc({"Wdf01000": _isf(_holder()), "zz": _isf(_x(16)), "nt": _isf({})})
    problems = snapfmt.validate(no_nt)[0]
    assert len(problems) == 1 and problems[0].startswith('types.Wdf01000.user_types["Holder"].fields["x"]')
    assert "lies outside" in problems[0]
    # the module's own definition comes first
    own = _doc({"Wdf01000": _isf(dict(_holder(), **_x(4))), "nt": _isf(_x(16))})
    assert snapfmt.validate(own)[0] == []


def test_a_name_defined_nowhere_is_not_a_validation_error():
    doc = _doc({"Wdf01000": _isf(_holder()), "nt": _isf({})})
    assert snapfmt.validate(doc)[0] == []


def _layouts(doc):
    return Layouts(Target(snapfmt.SnapshotBackend(snapfmt.loads(snapfmt.dumps(doc)))))


def test_layouts_resolve_in_order_and_say_so():
    lay = _layouts(_doc({"Wdf01000": _isf(_holder()), "zz": _isf(_x(8)), "nt": _isf(_x(8))}))
    h = lay.get("Wdf01000!Holder")
    assert h.field("x").size == 8
    assert lay.describe()["resolved_types"] == {"X": "nt"}
    lay = _layouts(_doc({"Wdf01000": _isf(_holder()), "zz": _isf(_x(8))}))
    lay.get("Wdf01000!Holder")
    assert lay.describe()["resolved_types"] == {"X": "zz"}


def test_a_name_defined_nowhere_is_refused_when_needed():
    lay = _layouts(_doc({"Wdf01000": _isf(dict(_holder(), Other=_x(4)["X"])), "nt": _isf({})}))
    assert lay.get("Wdf01000!Other").size == 4          # not needing X: fine
    with pytest.raises(InputError) as e:
        lay.get("Wdf01000!Holder")
    assert "Holder.x: type 'X' is not defined in any module's types" in str(e.value)
    assert "looked in the types of Wdf01000, nt" in str(e.value)


def test_types_file_uses_the_sources_nt_types(tmp_path, capsys):
    """``--types Wdf01000=partial.json`` naming _LIST_ENTRY resolves in the
    snapshot's nt types."""
    doc = load_doc(fixture("typical", "wdfsnap.json.gz"))
    part = _open_variant(doc)["types"]["Wdf01000"]
    tfile = tmp_path / "Wdf01000.json"
    tfile.write_text(json.dumps(part))
    code, report = run_json(memtree, [fixture("typical", "wdfsnap.json.gz"), "--types", str(tfile)])
    assert code in (0, 1)
    assert report["source"]["resolved_types"]["_LIST_ENTRY"] == "nt"
    assert len(report["objects"]) > 10


def test_recording_from_open_types_replays_the_same_tree(closed_and_open, tmp_path, capsys):
    """record memtree from the open variant (Wdf01000's types borrow nt's
    _LIST_ENTRY and the rest): the recording keeps every borrowed member
    (it used to drop FxObject.m_ChildListHead and the like, closing types
    within one module only, and the replay refused the tree), and the
    replay walks the same tree, borrowing from the same module."""
    from wdfdbg import record
    _closed, path = closed_and_open
    out = str(tmp_path / "rec.wdfsnap.json.gz")
    assert record.main([out, "--", "memtree", path, "--json"]) in (0, 1)
    err = capsys.readouterr().err
    assert "left out of the recorded types" not in err, err
    rec = load_doc(out)
    assert snapfmt.validate(rec)[0] == []
    assert "_LIST_ENTRY" in rec["types"]["nt"]["user_types"]
    assert "_LIST_ENTRY" not in rec["types"]["Wdf01000"]["user_types"]
    assert "m_ChildListHead" in rec["types"]["Wdf01000"]["user_types"]["FxObject"]["fields"]
    code, live = run_json(memtree, [path])
    rcode, replay = run_json(memtree, [out])
    assert rcode == code
    live_source, replay_source = live.pop("source"), replay.pop("source")
    assert replay == live and len(live["objects"]) > 10
    assert replay_source["resolved_types"] == live_source["resolved_types"]


def test_recording_keeps_the_modules_listed_order():
    """A name two other modules define resolves by the listed order. Here
    Wdf01000's Holder takes X from zz (listed first: 8 bytes) while aa's
    own HolderA uses aa's X (16): both are recorded, and the recording lists
    the modules in the source's order, so the replay still gives Holder
    zz's X, not aa's (first by name)."""
    from wdfdbg.sources.recording import RecordingBackend
    aa = _isf(dict(_x(16), HolderA={"kind": "struct", "size": 16,
                                    "fields": {"x": {"offset": 0, "type": {"kind": "struct", "name": "X"}}}}))
    doc = _doc({"Wdf01000": _isf(_holder(16)), "zz": _isf(_x(8)), "aa": aa})
    rec = RecordingBackend(snapfmt.SnapshotBackend(snapfmt.loads(snapfmt.dumps(doc))))
    lay = Layouts(Target(rec))
    assert lay.get("aa!HolderA").field("x").size == 16
    assert lay.get("Wdf01000!Holder").field("x").size == 8
    recorded = rec.to_document()
    assert list(recorded["types"]) == ["Wdf01000", "zz", "aa"]
    assert "X" in recorded["types"]["aa"]["user_types"] and "X" in recorded["types"]["zz"]["user_types"]
    again = _layouts(recorded)
    assert again.get("Wdf01000!Holder").field("x").size == 8
    assert again.get("aa!HolderA").field("x").size == 16
    assert again.describe()["resolved_types"] == {"X": "zz"}
