#!/usr/bin/env python3
"""Regenerate every committed fixture from the scenario builder.

    python scripts/make_fixtures.py            # write fixtures/ and the bundled sample
    python scripts/make_fixtures.py --check    # exit 1 if regenerating would change any byte

Writes, for each scenario in ``wdfdbg.testing.FIXTURES``:
``fixtures/<name>.wdfsnap.json.gz`` (types embedded, gzip with mtime 0) and
``fixtures/<name>.truth.json`` (sorted keys); and
``wdfdbg/data/sample.wdfsnap.json.gz`` (the "typical" scenario, byte-identical
to ``fixtures/typical.wdfsnap.json.gz``).
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from wdfdbg.testing import FIXTURES, SAMPLE_SCENARIO, build  # noqa: E402

SAMPLE = os.path.join("wdfdbg", "data", "sample.wdfsnap.json.gz")


def truth_bytes(truth):
    return (json.dumps(truth, indent=1, sort_keys=True) + "\n").encode("utf-8")


def outputs():
    """Relative path -> bytes, for every generated file, in a fixed order."""
    out = []
    for name, params, compact in FIXTURES:
        built = build(name, **params)
        snap = built.dumps(types=True, compress=True)
        out.append((os.path.join("fixtures", "%s.wdfsnap.json.gz" % name), snap))
        out.append((os.path.join("fixtures", "%s.truth.json" % name), truth_bytes(built.truth(compact=compact))))
        if name == SAMPLE_SCENARIO:
            out.append((SAMPLE, snap))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed files; exit 1 on any difference")
    args = ap.parse_args(argv)
    changed = []
    for rel, data in outputs():
        path = os.path.join(ROOT, rel)
        try:
            with open(path, "rb") as f:
                old = f.read()
        except OSError:
            old = None
        if old == data:
            continue
        changed.append(rel)
        if not args.check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
    if args.check:
        if changed:
            for rel in changed:
                print("would change: %s" % rel)
            return 1
        print("fixtures are up to date")
        return 0
    for rel in changed:
        print("wrote %s" % rel)
    if not changed:
        print("fixtures are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
