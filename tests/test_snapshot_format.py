"""Snapshot reader: validation with JSON paths, refusal of bad input with
exit code 2 and one clear line, and no exception escaping random mutations."""

import base64
import copy
import json

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from hostile import FUZZ_SEED, blanks_gzip, gzip_members, write_ranges
from minisnap import document
from wdfdbg import memtree
from wdfdbg.errors import SnapshotError, UsageError
from wdfdbg.sources import limits
from wdfdbg.sources import snapshot as snapfmt


def write(tmp_path, data, name="x.wdfsnap.json"):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return str(p)


def run_cli(path, capsys, *extra):
    code = memtree.main([path] + list(extra))
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_document_roundtrips(tmp_path):
    doc = document()
    raw = snapfmt.dumps(doc, compress=True)
    snap = snapfmt.loads(raw)
    assert snap.arch == "x64" and snap.os_build == 19041
    again = snapfmt.build_document("synthetic", "x64", 8, snap.memory, os_build=19041, description=doc["description"],
                                   modules=snap.modules, symbols=snap.symbols, types=snap.types)
    assert snapfmt.dumps(again) == snapfmt.dumps(doc)


def test_gzip_detected_by_magic_not_name(tmp_path, capsys):
    p = write(tmp_path, snapfmt.dumps(document(), compress=True), name="plain-name.json")
    code, out, err = run_cli(p, capsys)
    assert code == 0, err
    assert "MiniDrv" in out


def test_keys_in_spec_order():
    doc = document()
    assert list(doc) == ["format", "version", "origin", "description", "target", "bugcheck", "modules", "symbols", "types", "memory"]


BAD_CASES = {
    "wrong version": (lambda d: d.update(version=2), "version"),
    "wrong format": (lambda d: d.update(format="other"), "format"),
    "overlapping ranges": (lambda d: d["memory"].append({"address": d["memory"][0]["address"], "data": "AAAA"}), "overlaps"),
    "bad base64": (lambda d: d["memory"][0].update(data="!!!notbase64"), "memory[0].data: not base64"),
    "pointer size contradicts arch": (lambda d: d["target"].update(pointer_size=4), "contradicts arch"),
    "field outside struct": (lambda d: d["types"]["Wdf01000"]["user_types"]["FxObject"]["fields"]["m_Type"].update(offset=0x100),
                             "lies outside"),
    "bad origin": (lambda d: d.update(origin="invented"), "origin"),
    "past top of address space": (lambda d: d["memory"].append({"address": "0xfffffffffffffffe", "data": "AAAAAA=="}), "past the top"),
    "address not hex": (lambda d: d["memory"][0].update(address=12345), "memory[0].address"),
    "unknown type": (lambda d: d["types"]["Wdf01000"]["user_types"]["FxObject"]["fields"]["m_Type"].update(type={"kind": "struct", "name": "Nope"}), "not defined"),
    # a declared size is held to WDFDBG_MAX_STRUCT_BYTES when the type is read
    "struct read too large": (lambda d: _ut(d, "FxObject").update(size=(1 << 20) + 1),
                              "Wdf01000!FxObject (types from symbols:Wdf01000): declares 1048577 bytes, larger than"
                              " any kernel structure wdfdbg reads (at most 1 MiB; set WDFDBG_MAX_STRUCT_BYTES"),
    # ... and to the address space when it is only declared
    "struct past the address space": (lambda d: d["types"]["nt"]["user_types"]["_MDL"].update(size=1 << 65),
                                      'types.nt.user_types["_MDL"].size: 36893488147419103232 bytes is larger'
                                      " than the target's 64-bit address space"),
    "struct size negative": (lambda d: d["types"]["nt"]["user_types"]["_MDL"].update(size=-1),
                             'types.nt.user_types["_MDL"].size: not a non-negative number'),
    "variable-length array past its struct": (lambda d: _ut(d, "FxContextHeader")["fields"]["Context"].update(offset=0x48),
                                               'FxContextHeader"].fields["Context"]: variable-length array at offset 0x48'),
    "signed unsigned type": (lambda d: _bt(d, "unsigned long long").update(signed=True),
                             '"unsigned long long"]: "unsigned long long" is an 8-byte unsigned integer'),
    "int of 3 bytes": (lambda d: _bt(d, "unsigned long").update(size=3), '"unsigned long"].size: an int base type is'),
    "big-endian": (lambda d: _bt(d, "long").update(endian="big"), "little-endian"),
    "pointer kind for a base type": (lambda d: _bt(d, "short").update(kind="pointer"), '"short"].kind: expected one of'),
    "signed not a boolean": (lambda d: _bt(d, "char").update(signed="yes"), '"char"].signed: expected true or false'),
    "pointer of the wrong size": (lambda d: _bt(d, "pointer").update(size=4), '"pointer" is an 8-byte'),
    "void with a size": (lambda d: _bt(d, "void").update(size=4), '"void"].size: a void base type is 0 bytes'),
}


def _ut(doc, name):
    return doc["types"]["Wdf01000"]["user_types"][name]


def _bt(doc, name):
    return doc["types"]["Wdf01000"]["base_types"][name]


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_snapshot_exit_2_one_line(tmp_path, capsys, case):
    mutate, needle = BAD_CASES[case]
    doc = document()
    mutate(doc)
    code, out, err = run_cli(write(tmp_path, doc), capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("data,needle", [
    (b"", "empty"),
    (b"not json at all", "not a snapshot"),
    (b"{\"format\": ", "not JSON"),
    (b"\x1f\x8b\x08\x00garbage", "gzip"),
    (b"[1, 2, 3]", "not a JSON object"),
])
def test_unreadable_files(tmp_path, capsys, data, needle):
    code, out, err = run_cli(write(tmp_path, data), capsys)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1


def test_truncated_gzip(tmp_path, capsys):
    raw = snapfmt.dumps(document(), compress=True)
    code, out, err = run_cli(write(tmp_path, raw[: len(raw) // 2]), capsys)
    assert code == 2 and "gzip" in err


def test_missing_file(capsys):
    code, out, err = run_cli("/nonexistent/dir/x.wdfsnap.json", capsys)
    assert code == 2 and "cannot open" in err


def test_directory_is_not_a_source(tmp_path, capsys):
    code, out, err = run_cli(str(tmp_path), capsys)
    assert code == 2 and err == "wdfdbg: error: %s: a directory, not a regular file: wdfdbg reads regular files only\n" % tmp_path


def test_many_small_ranges_within_the_limits_load(tmp_path):
    p = str(tmp_path / "r.wdfsnap.json.gz")
    write_ranges(p, 50000, stride=64)
    snap = snapfmt.load(p)
    assert len(snap.memory) == 50000 and snap.memory_bytes() == 50000


def test_struct_reads_stop_at_the_fields():
    """A type may declare a size far past its last field (here 1 MiB, the
    most a type that is read may declare): a partial read reads only what
    the fields cover."""
    from wdfdbg.decoders.common import read_record_partial
    from wdfdbg.session import Session
    from wdfdbg.layouts import Layouts
    from wdfdbg.sources.base import Target
    doc = document()
    _ut(doc, "FxObject")["size"] = 1 << 20
    target = Target(snapfmt.SnapshotBackend(snapfmt.loads(snapfmt.dumps(doc))))
    session = Session(target, Layouts(target), "snapshot", None, "synthetic")
    lay = session.layouts.get("Wdf01000!FxObject")
    assert lay.size == 1 << 20 and lay.extent == 0x68
    from minisnap import DRIVER
    before = target.backend_reads
    rec, bad = read_record_partial(session, "Wdf01000!FxObject", DRIVER)
    assert bad is None and rec["m_Type"] == 0x1001
    assert target.backend_reads - before == 1
    # a whole-struct read too: the fields' 0x68 bytes, not the 1 MiB
    # declared (which the snapshot does not hold)
    assert session.layouts.read("Wdf01000!FxObject", DRIVER)["m_Type"] == 0x1001


def test_a_type_only_declared_may_be_larger_than_any_read():
    """The 1809 kernel declares _MI_HYPER_SPACE of 0x10804000 bytes (264
    MiB): the document is valid, the types an analysis reads compile, and
    compiling that one (were an analysis to read it) is refused, naming
    the variable that raises the bound."""
    from wdfdbg.errors import InputError
    from wdfdbg.layouts import Layouts
    from wdfdbg.sources.base import Target
    doc = document()
    doc["types"]["nt"]["user_types"]["_MI_HYPER_SPACE"] = {"kind": "struct", "size": 0x10804000, "fields": {
        "Last": {"offset": 0x10804000 - 8, "type": {"kind": "base", "name": "unsigned long long"}}}}
    problems, _ = snapfmt.validate(doc)
    assert problems == []
    layouts = Layouts(Target(snapfmt.SnapshotBackend(snapfmt.loads(snapfmt.dumps(doc)))))
    assert layouts.get("nt!_MDL").size == doc["types"]["nt"]["user_types"]["_MDL"]["size"]
    with pytest.raises(InputError) as e:
        layouts.find("nt!_MI_HYPER_SPACE")
    assert str(e.value) == ("nt!_MI_HYPER_SPACE (types from symbols:nt): declares 276840448 bytes, larger than any"
                            " kernel structure wdfdbg reads (at most 1 MiB; set WDFDBG_MAX_STRUCT_BYTES to allow more)")


def test_every_problem_has_a_json_path():
    doc = document()
    doc["memory"][0]["data"] = "@@@@"
    doc["target"]["pointer_size"] = 4
    problems, _ = snapfmt.validate(doc)
    assert any(p.startswith("memory[0].data") for p in problems)
    assert any(p.startswith("target.pointer_size") for p in problems)


def test_gzip_within_the_free_size_is_accepted_whatever_its_ratio():
    raw = blanks_gzip(limits.GZIP_FREE >> 20)      # 64 MiB in ~64 KB: ratio ~1000
    assert len(snapfmt.decompress(raw)) == limits.GZIP_FREE


def test_gzip_past_the_ratio_is_refused_before_it_is_all_expanded():
    raw = blanks_gzip(96)                            # 96 MiB in ~100 KB
    assert 96 << 20 > max(limits.GZIP_FREE, len(raw) * limits.GZIP_RATIO.value())
    with pytest.raises(SnapshotError) as e:
        snapfmt.decompress(raw)
    assert "decompression bomb" in str(e.value) and "WDFDBG_MAX_GZIP_RATIO" in str(e.value)


def test_gzip_ratio_and_absolute_limits_can_be_raised_and_lowered(monkeypatch):
    raw = blanks_gzip(96)
    monkeypatch.setenv("WDFDBG_MAX_GZIP_RATIO", "2000")
    assert len(snapfmt.decompress(raw)) == 96 << 20
    monkeypatch.setenv("WDFDBG_MAX_JSON_BYTES", "1M")
    with pytest.raises(SnapshotError) as e:
        snapfmt.decompress(raw)
    assert "past 1 MiB" in str(e.value) and "WDFDBG_MAX_JSON_BYTES" in str(e.value)
    monkeypatch.setenv("WDFDBG_MAX_JSON_BYTES", "lots")
    with pytest.raises(UsageError):
        snapfmt.decompress(raw)


def test_concatenated_members_count_together():
    raw = gzip_members(3, 30)                        # 90 MiB in three members
    with pytest.raises(SnapshotError):
        snapfmt.decompress(raw)
    two = gzip_members(2, 1)
    assert snapfmt.decompress(two) == b" " * (2 << 20)
    assert snapfmt.decompress(two + b"\0\0trailing") == b" " * (2 << 20)


def test_parse_cost_is_checked_before_parsing(monkeypatch):
    doc = document()
    doc["memory"] += [{"address": "0x%x" % (0x1000 + 2 * i), "data": "AQ=="} for i in range(2000)]
    raw = json.dumps(doc).encode()
    monkeypatch.setenv("WDFDBG_MAX_JSON_MEMORY", str(snapfmt.parse_cost(raw) - 1))
    with pytest.raises(SnapshotError) as e:
        snapfmt.loads(raw)
    assert "parsing this JSON would take" in str(e.value)
    monkeypatch.setenv("WDFDBG_MAX_JSON_MEMORY", str(snapfmt.parse_cost(raw)))
    assert len(snapfmt.loads(raw).memory) == len(doc["memory"])


def test_range_count_is_bounded(monkeypatch):
    doc = document()
    monkeypatch.setenv("WDFDBG_MAX_RANGES", str(len(doc["memory"]) - 1))
    problems, _ = snapfmt.validate(doc)
    assert problems == ["memory: %d ranges, more than %d memory ranges (set WDFDBG_MAX_RANGES to allow more)"
                        % (len(doc["memory"]), len(doc["memory"]) - 1)]


def test_reader_holds_the_bytes_once():
    doc = document()
    snap = snapfmt.loads(snapfmt.dumps(doc))
    assert snap.doc["memory"] == []
    assert snap.memory == sorted((int(r["address"], 16), base64.b64decode(r["data"])) for r in doc["memory"])


def _mutations():
    leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70), st.text(max_size=12),
                     st.just("0xffffffffffffffff"), st.just("AAAA"), st.just({}), st.just([]))
    return leaf


BASE_DOC = document()


def _paths(doc, limit=400):
    out = []
    stack = [((), doc)]
    while stack and len(out) < limit:
        path, v = stack.pop()
        out.append(path)
        if isinstance(v, dict):
            for k in list(v)[:20]:
                stack.append((path + (k,), v[k]))
        elif isinstance(v, list):
            for i in range(min(len(v), 5)):
                stack.append((path + (i,), v[i]))
    return out


PATHS = _paths(BASE_DOC)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@seed(FUZZ_SEED)
@given(st.lists(st.tuples(st.sampled_from(PATHS), _mutations(), st.booleans()), min_size=1, max_size=4))
def test_random_mutations_never_escape(tmp_path, capfd, mutations):
    doc = copy.deepcopy(BASE_DOC)
    for path, value, delete in mutations:
        if not path:
            doc = value
            continue
        cur = doc
        ok = True
        for k in path[:-1]:
            try:
                cur = cur[k]
            except (KeyError, IndexError, TypeError):
                ok = False
                break
        if not ok:
            continue
        try:
            if delete and isinstance(cur, dict):
                cur.pop(path[-1], None)
            else:
                cur[path[-1]] = value
        except (TypeError, IndexError, KeyError):
            continue
    p = tmp_path / "m.wdfsnap.json"
    p.write_bytes(json.dumps(doc).encode())
    for extra in ([], ["--json"]):
        code = memtree.main([str(p)] + extra)
        assert code in (0, 1, 2)
        out, err = capfd.readouterr()
        assert "internal error" not in err and "Traceback" not in err, err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@seed(FUZZ_SEED)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=0x3fff))
def test_random_memory_corruption_never_escapes(tmp_path, capfd, junk, offset):
    """Memory that lies: overwrite bytes inside the heap."""
    doc = copy.deepcopy(BASE_DOC)
    data = bytearray(base64.b64decode(doc["memory"][0]["data"]))
    data[offset:offset + len(junk)] = junk
    doc["memory"][0]["data"] = base64.b64encode(bytes(data[:0x4000])).decode()
    p = tmp_path / "c.wdfsnap.json"
    p.write_bytes(json.dumps(doc).encode())
    assert memtree.main([str(p), "--json"]) in (0, 1)
    out, err = capfd.readouterr()
    assert "internal error" not in err, err


def test_long_base64_decoded_in_pieces_to_the_same_bytes(monkeypatch):
    """A range's text past B64_PIECE is decoded piece by piece (no ASCII
    copy of the whole text): the same bytes for every length and padding,
    held as bytes in the snapshot."""
    import os
    monkeypatch.setattr(snapfmt, "B64_PIECE", 8)
    for n in range(0, 64):
        raw = os.urandom(n)
        assert bytes(snapfmt.b64decode_text(base64.b64encode(raw).decode("ascii"))) == raw
    doc = document()
    raw = os.urandom(1000)
    doc["memory"] = [{"address": "0xffffc08b00100000", "data": base64.b64encode(raw).decode("ascii")}]
    snap = snapfmt.loads(snapfmt.dumps(doc, compress=True))
    assert snap.memory == [(0xffffc08b00100000, raw)] and type(snap.memory[0][1]) is bytes
