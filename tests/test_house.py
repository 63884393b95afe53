"""The shape of the house (issue 9, item 4): cheap structural checks over
``wdfdbg/``: no module over 1,000 lines, and no folder named like a build
output (global gitignores and tools skip ``target/``, ``build/``, ``dist/``
and ``out/``, so files in one can silently drop out of a commit)."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "wdfdbg")
MAX_MODULE_LINES = 1000
BUILD_OUTPUT_NAMES = ("target", "build", "dist", "out")


def _walk():
    for dirpath, dirnames, filenames in os.walk(PACKAGE):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        yield dirpath, dirnames, filenames


def test_no_module_over_1000_lines():
    sizes = {}
    for dirpath, _, filenames in _walk():
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    sizes[os.path.relpath(path, ROOT)] = len(f.read().splitlines())
    assert len(sizes) > 20, "found only %d modules under %s" % (len(sizes), PACKAGE)
    over = sorted("%s: %d lines" % (p, n) for p, n in sizes.items() if n > MAX_MODULE_LINES)
    assert not over, "modules over %d lines: %s" % (MAX_MODULE_LINES, ", ".join(over))


def test_no_folder_named_like_a_build_output():
    bad = []
    folders = 0
    for dirpath, dirnames, _ in _walk():
        for d in dirnames:
            folders += 1
            if d.lower() in BUILD_OUTPUT_NAMES:
                bad.append(os.path.relpath(os.path.join(dirpath, d), ROOT))
    assert folders >= 5, "found only %d folders under %s" % (folders, PACKAGE)
    assert not bad, "folders named like a build output: %s" % ", ".join(sorted(bad))
