"""OBJECTS_PILING_UP: short-lived children piling up under long-lived
parents, as a streaming aggregate with a JSON count table."""

import json

from conftest import fixture_path
from wdfdbg.analysis.piling import PILING_CHILDREN, PilingAggregate
from wdfdbg.problems import CODES, ProblemLog, WARNING
from wdfdbg.session import open_session

DEV = 0xffffc08b00001000
REQ = 0xffffc08b00002000


def fed(count, child="WDFMEMORY", parent_type="WDFDEVICE", parent=DEV, tag="Leak", nbytes=0x40):
    agg = PilingAggregate()
    agg.note_parent(parent, "TriDrv", parent_type)
    for _ in range(count):
        agg.feed("TriDrv", parent, parent_type, child, tag, nbytes)
    return agg


def test_threshold_is_inclusive_and_documented():
    assert CODES["OBJECTS_PILING_UP"] == WARNING and PILING_CHILDREN == 100
    log = ProblemLog()
    fed(PILING_CHILDREN - 1).finish(log)
    assert not len(log)
    fed(PILING_CHILDREN).finish(log)
    (p,) = list(log)
    assert (p.code, p.address) == ("OBJECTS_PILING_UP", DEV)
    assert "WDFDEVICE 0x%x of TriDrv holds 100 WDFMEMORY children (0x1900 bytes, objects and buffers)" % DEV in p.message


def test_only_long_lived_parents_and_short_lived_children():
    log = ProblemLog()
    fed(500, parent_type="WDFREQUEST", parent=REQ).finish(log)     # freed with the request: not a pile
    fed(500, child="WDFQUEUE").finish(log)                          # queues are set-up objects
    assert not len(log)
    agg = PilingAggregate()
    agg.note_parent(DEV, "TriDrv", "WDFDEVICE")
    for i in range(150):
        agg.feed("TriDrv", DEV, "WDFDEVICE", "WDFWORKITEM", None, 0xd0)
        agg.feed("TriDrv", DEV, "WDFDEVICE", "WDFTIMER", None, 0x160)
    agg.finish(log)
    assert sorted(p.message.split(" children")[0].rsplit(" ", 1)[1] for p in log) == ["WDFTIMER", "WDFWORKITEM"]


def test_count_table_is_json_and_deterministic():
    agg = fed(3)
    agg.feed("Other", None, None, "WDFDRIVER", None, 0x170)
    agg.feed("TriDrv", REQ, None, "WDFMEMORY", "Req ", 0x10)
    j = agg.to_json()
    assert json.loads(json.dumps(j)) == j == agg.to_json()
    groups = dict(((g["driver"], g["parent_type"], g["child_type"], g["pool_tag"]), (g["count"], g["bytes"]))
                  for g in j["groups"])
    assert groups[("TriDrv", "WDFDEVICE", "WDFMEMORY", "Leak")] == (3, 0xc0)
    assert groups[("Other", "none", "WDFDRIVER", "unknown")] == (1, 0x170)
    assert groups[("TriDrv", "other", "WDFMEMORY", "Req ")] == (1, 0x10)
    assert j["long_lived_parents"] == [{"address": "0x%x" % DEV, "driver": "TriDrv", "type": "WDFDEVICE",
                                        "children": {"WDFMEMORY": {"count": 3, "bytes": 0xc0}}}]
    assert j["objects"] == 5 and j["piling_up"] == [] and j["threshold"] == PILING_CHILDREN


def test_leak_fixture_streamed_one_node_at_a_time():
    from wdfdbg import memtree
    s = open_session(fixture_path("leak.wdfsnap.json.gz"))
    drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
    agg = PilingAggregate()
    for n in nodes:
        agg.feed_node(n)
    log = ProblemLog()
    agg.finish(log)
    (p,) = list(log)
    assert p.code == "OBJECTS_PILING_UP" and "holds 10000 WDFMEMORY children" in p.message
    driver = next(n for n in nodes if n.wdf_type == "WDFDRIVER")
    assert p.address == driver.address
    (pile,) = agg.to_json()["piling_up"]
    assert (pile["count"], pile["child_type"], pile["parent_type"]) == (10000, "WDFMEMORY", "WDFDRIVER")
    # what is kept grows with the keys, not the objects
    assert len(agg.groups) <= 8 and len(agg.parents) <= 4
    # same answer when the walker passes the parent's type
    agg2 = PilingAggregate()
    types = dict((n.address, n.wdf_type) for n in nodes)
    for n in nodes:
        agg2.feed_node(n, types.get(n.parent))
    assert agg2.to_json()["piling_up"] == agg.to_json()["piling_up"]
