"""Helpers shared by the command tests: fixtures and their truth files,
symbol-less variants, byte-patched copies, and running a command module
in-process (text or schema-checked JSON)."""

import base64
import gzip
import json
import os

import pytest

from wdfdbg import command
from wdfdbg.sources import snapshot as snapfmt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")


def fixture(name, ext):
    path = os.path.join(FIXTURES, "%s.%s" % (name, ext))
    if not os.path.exists(path):
        pytest.skip("fixture %s is missing (run scripts/make_fixtures.py)" % os.path.basename(path))
    return path


def load_truth(name):
    with open(fixture(name, "truth.json")) as f:
        return json.load(f)


def load_doc(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw.decode("utf-8"))


_VARIANTS = {}


def variant(tmp_path_factory, name, mode):
    """The fixture (``mode`` None), or a copy without types and vtable
    symbols (``no-vtables``) or without types and any symbol (``bare``)."""
    src = fixture(name, "wdfsnap.json.gz")
    if mode is None:
        return src
    key = (name, mode)
    if key not in _VARIANTS:
        doc = load_doc(src)
        doc["types"] = {}
        if mode == "bare":
            doc["symbols"] = {}
        else:
            doc["symbols"] = dict((k, v) for k, v in doc["symbols"].items() if "vftable" not in k)
        path = str(tmp_path_factory.mktemp("variants") / ("%s-%s.wdfsnap.json.gz" % (name, mode)))
        snapfmt.save(doc, path)
        _VARIANTS[key] = path
    return _VARIANTS[key]


def patched(tmp_path_factory, name, patches, tag):
    """A copy of a fixture with bytes replaced: ``patches`` is a list of
    ``(address, bytes)``."""
    doc = load_doc(fixture(name, "wdfsnap.json.gz"))
    ranges = [(int(r["address"], 16), bytearray(base64.b64decode(r["data"])), r) for r in doc["memory"]]
    for addr, data in patches:
        for base, buf, r in ranges:
            if base <= addr and addr + len(data) <= base + len(buf):
                buf[addr - base:addr - base + len(data)] = data
                r["data"] = base64.b64encode(bytes(buf)).decode("ascii")
                break
        else:
            raise AssertionError("0x%x is not in the fixture" % addr)
    path = str(tmp_path_factory.mktemp("patched") / ("%s-%s.wdfsnap.json.gz" % (name, tag)))
    snapfmt.save(doc, path)
    return path


def run(module, argv):
    """Run a command module in-process: (exit code, output text)."""
    args = module.parse_args(list(argv))
    session = command.open_from_args(args)
    return module.execute(session, args)


def run_json(module, argv):
    """Run with --json: (exit code, report validated against the schema)."""
    from conftest import validate_report
    code, out = run(module, list(argv) + ["--json"])
    doc = json.loads(out)
    validate_report(doc)
    return code, doc


# What a report says about its source, which differs between two sources of
# the same memory (a snapshot, the same bytes through pykd, a recording):
# the source line, and the triage headline's "this source" lines and key.
HEADLINE_SOURCE = ("  this source:", "    it holds:", "    it cannot show:")


def strip_source(text):
    """A text report without the lines that describe its source."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(("source:",) + HEADLINE_SOURCE))


def json_without_source(doc):
    """A report document (dict) without what describes its source."""
    doc = dict(doc)
    doc.pop("source", None)
    tri = doc.get("triage")
    if isinstance(tri, dict):
        tri = doc["triage"] = dict(tri)
        tri.pop("source", None)
        tri["headline"] = [ln for ln in tri.get("headline") or () if not ln.startswith(HEADLINE_SOURCE)]
    return doc
