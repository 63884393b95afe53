"""WDF_MEMORY_DESCRIPTOR (``wdfdbg descriptor``) against the scenario
ground truth: Buffer, Mdl and Handle descriptors (with and without
WDFMEMORY_OFFSET), the out-of-bounds one at the truth's address, hand-made
corruptions, text and JSON (schema-validated), with and without symbols."""


import pytest


from cmdhelpers import FIXTURES, ROOT, fixture, load_doc, load_truth, patched, run, run_json, variant  # noqa: F401

MODES = {"symbols": (None, []), "profile": (None, ["--no-symbols"]), "no-vtables": ("no-vtables", []),
         "bare": ("bare", [])}


@pytest.mark.parametrize("name", ("typical", "corrupt"))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_descriptor_matches_truth(tmp_path_factory, name, mode):
    import wdfdbg.descriptor as desccmd
    change, extra = MODES[mode]
    truth = load_truth(name)
    path = variant(tmp_path_factory, name, change)
    objects = dict((o["address"], o) for o in truth["objects"])
    assert truth["descriptors"]
    for d in truth["descriptors"]:
        code, doc = run_json(desccmd, [path, d["address"]] + extra)
        got = doc["descriptor"]
        assert got["address"] == d["address"]
        assert got["type_value"] == d["type"]
        assert "WdfMemoryDescriptorType" + got["type"] == d["type_name"]
        if d["type"] == 1:
            assert (got["buffer"], got["length"]) == (d["buffer"], d["length"])
            assert doc["objects"] == []
        elif d["type"] == 2:
            assert (got["mdl"], got["length"]) == (d["mdl"], d["length"])
            chain = [m for m in truth["mdls"] if m["address"] == d["mdl"]][0]["chain"]
            assert [m["address"] for m in got["mdls"]] == chain
            assert doc["summary"]["mdls"] == len(chain)
        else:
            assert got["memory_handle"] == d["memory"]
            assert got["memory_object"] == d["memory_object"]
            mem = objects[d["memory_object"]]["memory"]
            assert got["memory"]["length"] == d["memory_length"] == mem["length"]
            assert got["memory"]["buffer"] == mem["buffer"]
            assert doc["objects"][0]["address"] == d["memory_object"]
            assert doc["objects"][0]["memory"]["buffer"] == mem["buffer"]
            if d["offsets"] is None:
                assert got["offsets"] is None
                assert (got["effective_buffer"], got["effective_length"]) == (mem["buffer"], mem["length"])
            else:
                assert got["offsets"]["address"] == d["offsets"]
                assert (got["offsets"]["buffer_offset"], got["offsets"]["buffer_length"]) == (d["buffer_offset"], d["buffer_length"])
                if d["in_bounds"]:
                    assert got["effective_buffer"] == "0x%x" % (int(mem["buffer"], 16) + d["buffer_offset"])
                    assert got["effective_length"] == d["buffer_length"]
        oob = [p for p in doc["problems"] if p["code"] == "MEMORY_OUT_OF_BOUNDS"]
        if d["expected_problem"]:
            assert [p["address"] for p in oob] == [d["address"]]
            assert code == 1
        else:
            assert not oob and code == 0, doc["problems"]


def test_expected_descriptor_problems_are_found():
    import wdfdbg.descriptor as desccmd
    for name in ("typical", "corrupt"):
        truth = load_truth(name)
        path = fixture(name, "wdfsnap.json.gz")
        for p in truth["expected_problems"]:
            if p["found_by"] != "descriptor":
                continue
            _, doc = run_json(desccmd, [path, p["address"]])
            assert any(q["code"] == p["code"] and q["address"] == p["address"] for q in doc["problems"])


def test_text_output():
    import wdfdbg.descriptor as desccmd
    truth = load_truth("typical")
    path = fixture("typical", "wdfsnap.json.gz")
    for d in truth["descriptors"]:
        code, text = run(desccmd, [path, d["address"]])
        assert "WDF_MEMORY_DESCRIPTOR %s  Type %d" % (d["address"], d["type"]) in text
        if d["type"] == 1:
            assert d["buffer"] in text
        elif d["type"] == 2:
            assert d["mdl"] in text and "MDLs:" in text
        else:
            assert "WDFMEMORY %s" % d["memory"] in text
            if d["offsets"]:
                assert "BufferOffset 0x%x" % d["buffer_offset"] in text
            else:
                assert "NULL (the whole buffer)" in text
        if d["expected_problem"]:
            assert d["expected_problem"] in text and code == 1
        else:
            assert "No problems found." in text and code == 0


def test_hand_made_corruptions(tmp_path_factory):
    import wdfdbg.descriptor as desccmd
    truth = load_truth("typical")
    descs = dict((d["label"], d) for d in truth["descriptors"])
    buf = descs["buffer"]
    mdl = descs["mdl"]
    handle = descs["handle, whole buffer"]
    a = lambda d: int(d["address"], 16)  # noqa: E731
    path = patched(tmp_path_factory, "typical", [
        (a(buf), (7).to_bytes(4, "little")),                          # invalid type
        (a(mdl) + 0x10, (0x10000).to_bytes(4, "little")),             # BufferLength past the chain
        (a(handle) + 8, (int(handle["memory"], 16) | 6).to_bytes(8, "little")),  # bad handle bits
    ], "desc")
    code, doc = run_json(desccmd, [path, buf["address"]])
    assert code == 1 and [p["code"] for p in doc["problems"]] == ["DESCRIPTOR_INVALID"]
    assert doc["descriptor"]["type"] is None and doc["descriptor"]["type_value"] == 7
    code, doc = run_json(desccmd, [path, mdl["address"]])
    assert code == 1
    assert [(p["code"], p["address"]) for p in doc["problems"]] == [("MEMORY_OUT_OF_BOUNDS", mdl["address"])]
    assert doc["descriptor"]["mdls"]  # still decoded
    code, doc = run_json(desccmd, [path, handle["address"]])
    assert code == 1 and [p["code"] for p in doc["problems"]] == ["BAD_HANDLE"]
    code, text = run(desccmd, [path, handle["address"]])
    assert "BAD_HANDLE" in text and "Type 3 (Handle)" in text
    code, doc = run_json(desccmd, [path, "0xffffc08bdead0000"])
    assert code == 1 and [p["code"] for p in doc["problems"]] == ["UNREADABLE"]


def test_request_buffer_handle_in_a_descriptor(tmp_path_factory):
    """A Handle descriptor naming a request's input buffer (offset handle)."""
    import wdfdbg.descriptor as desccmd
    truth = load_truth("typical")
    d = [x for x in truth["descriptors"] if x["label"] == "handle, whole buffer"][0]
    req = [o for o in truth["objects"] if o.get("request") and o["request"]["kind"] == "ioctl-buffered"][0]
    inp = req["request"]["input"]
    path = patched(tmp_path_factory, "typical", [(int(d["address"], 16) + 8, int(inp["handle"], 16).to_bytes(8, "little"))], "reqdesc")
    code, doc = run_json(desccmd, [path, d["address"]])
    assert code == 0
    got = doc["descriptor"]
    assert got["memory"]["buffer"] == inp["buffer"] and got["memory"]["length"] == inp["length"]
    assert got["memory"]["kind"] == "input"


def test_arguments():
    import wdfdbg.descriptor as desccmd
    args = desccmd.parse_args(["0xffffc08b00013ad0"])
    assert args.source is None and args.root == "0xffffc08b00013ad0"
    assert desccmd.main([fixture("typical", "wdfsnap.json.gz")]) == 2
