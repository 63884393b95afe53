"""The shipped JSON Schema is itself valid and rejects what the contract forbids."""

import json
import os

import jsonschema
import pytest

from conftest import FIXTURES, validate_report
from wdfdbg import memtree
from wdfdbg.render.report import load_schema
from wdfdbg.session import open_session


def test_schema_is_valid_2020_12():
    jsonschema.Draft202012Validator.check_schema(load_schema())


def _doc():
    s = open_session(os.path.join(FIXTURES, "typical.wdfsnap.json.gz"))
    return json.loads(memtree.execute(s, memtree.parse_args(["--json"]))[1])


def test_typical_report_validates_and_has_every_contract_key():
    doc = validate_report(_doc())
    assert list(doc)[:8] == ["schema", "tool", "source", "bugcheck", "drivers", "objects", "problems", "summary"]
    for o in doc["objects"]:
        for k in ("address", "handle", "wdf_type", "fx_type", "class", "driver", "parent", "depth", "refcount",
                  "state", "flags", "memory", "lookaside", "mdls", "problems"):
            assert k in o


@pytest.mark.parametrize("path,value", [
    (("objects", 0, "address"), 12),
    (("objects", 0, "handle"), "0XABC"),
    (("summary", "objects"), -1),
    (("problems",), [{"code": "X", "severity": "fatal", "address": None, "message": ""}]),
    (("schema",), "wdfdbg.report/2"),
])
def test_schema_rejects(path, value):
    doc = _doc()
    cur = doc
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    with pytest.raises(Exception):
        validate_report(doc)
