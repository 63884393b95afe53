"""The ``wdfdbg`` console script: ``wdfdbg COMMAND ARGS``.

Each command is the module ``wdfdbg.<command>`` with a ``main(argv)``, the
same module WinDbg runs as ``!py -m wdfdbg.<command>``. ``wdfdbg --help``
(or ``wdfdbg help``) lists them on stdout; ``wdfdbg help COMMAND`` is
``wdfdbg COMMAND --help``. No command, or one that does not exist, is a
usage error: one line on stderr, exit 2.
"""

import difflib
import importlib
import sys

from wdfdbg import command
from wdfdbg.errors import UsageError

COMMANDS = [
    ("memtree", "the WDF object tree with memory, lookasides and MDLs inline"),
    ("memory", "decode one WDFMEMORY handle"),
    ("lookaside", "decode one WDFLOOKASIDE handle"),
    ("mdl", "decode an MDL chain at an address"),
    ("descriptor", "decode a WDF_MEMORY_DESCRIPTOR at an address"),
    ("memusage", "memory by driver, pool tag, origin and class"),
    ("info", "dump or snapshot summary: OS, arch, bugcheck, KMDF drivers"),
    ("scan", "find FxObjects in all readable memory by their shape"),
    ("snapshot", "cut a snapshot from a dump"),
    ("record", "run a command through a recording target and save a snapshot"),
    ("report", "a self-contained HTML triage report (tree, treemap, problems)"),
    ("diff", "what grew between two snapshots or dumps, per driver and type"),
    ("batch", "analyse many dumps: one JSON record each, isolated workers, local or Dask"),
    ("corpus", "add up a batch's records: by status, driver, signature, problem"),
]


def usage():
    lines = ["usage: wdfdbg COMMAND [ARGS]", "", "commands:"]
    for name, text in COMMANDS:
        lines.append("  %-11s %s" % (name, text))
    lines.append("")
    lines.append("wdfdbg COMMAND --help shows a command's arguments.")
    return "\n".join(lines) + "\n"


def unknown_command(name):
    names = [n for n, _ in COMMANDS]
    near = difflib.get_close_matches(name, names, n=1)
    hint = "did you mean %s? " % near[0] if near else ""
    return UsageError("unknown command '%s' (%swdfdbg --help lists the commands)" % (name, hint))


def _main(argv):
    if not argv:
        raise UsageError("no command given (wdfdbg --help lists the commands)")
    if argv[0] in ("-h", "--help") or argv == ["help"]:
        command.emit(usage())
        return 0
    if argv[0] in ("--version", "-V"):
        from wdfdbg import __version__
        command.emit("wdfdbg %s\n" % __version__)
        return 0
    if argv[0] == "help":
        argv = [argv[1], "--help"]
    name = argv[0]
    if name not in dict(COMMANDS):
        raise unknown_command(name)
    module = importlib.import_module("wdfdbg.%s" % name)
    return module.main(argv[1:])


def main(argv=None):
    return command.run(_main, list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
