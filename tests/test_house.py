"""The shape of the house (issue 9, item 4): cheap structural checks over
``wdfdbg/``: no module over 1,000 lines, no folder named like a build
output (global gitignores and tools skip ``target/``, ``build/``, ``dist/``
and ``out/``, so files in one can silently drop out of a commit), and data
flowing one way through the layers."""

import ast
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


# sources -> layouts -> decoders -> analysis -> render -> commands -> batch
# (shared/reference/style.md, "The house"). errors.py and problems.py are
# vocabulary every layer shares; session.py opens sources and layouts for
# the decoders; the command modules are wdfdbg/<name>.py.
LAYERS = {"sources": 0, "layouts": 1, "session": 2, "decoders": 2, "analysis": 3, "render": 4, "batch": 6}
SHARED = ("errors", "problems")
COMMANDS = 5
# each with its reason
ALLOWED = {
    # the pykd source checks Wdf01000!g_WdfTriageInfo against the built-in
    # profile's FxObject offsets before it trusts the debugger's types
    ("wdfdbg/sources/pykd_target.py", "wdfdbg.layouts"),
    # `wdfdbg corpus` is batch's command: a module at the top so that
    # `python -m wdfdbg.corpus` and `!py -m wdfdbg.corpus` find it
    ("wdfdbg/corpus.py", "wdfdbg.batch"),
}


def _layer(module):
    parts = module.split(".")
    if parts[0] != "wdfdbg" or len(parts) < 2 or parts[1] in SHARED or parts[1] in ("__init__", "testing"):
        return None
    return LAYERS.get(parts[1], COMMANDS)


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "wdfdbg":  # from wdfdbg import memtree, __version__
                for a in node.names:
                    if not a.name.startswith("__"):
                        yield node.lineno, "wdfdbg." + a.name
            else:
                yield node.lineno, node.module


def test_layers_import_only_downwards():
    upward = []
    checked = 0
    for dirpath, _, filenames in _walk():
        for name in filenames:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
            me = _layer(rel[:-3].replace("/", "."))
            if me is None:
                continue
            with open(path) as f:
                tree = ast.parse(f.read())
            checked += 1
            for line, module in _imports(tree):
                them = _layer(module)
                if them is not None and them > me and (rel, ".".join(module.split(".")[:2])) not in ALLOWED:
                    upward.append("%s:%d imports %s" % (rel, line, module))
    assert checked > 50, "checked only %d modules" % checked
    assert not upward, "imports against the flow: " + "; ".join(upward)
