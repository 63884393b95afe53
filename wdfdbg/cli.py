"""The ``wdfdbg`` console script: ``wdfdbg COMMAND ARGS``.

Each command is the module ``wdfdbg.<command>`` with a ``main(argv)``, the
same module WinDbg runs as ``!py -m wdfdbg.<command>``.
"""

import importlib
import sys

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


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        return 0 if argv else 2
    if argv[0] in ("--version", "-V"):
        from wdfdbg import __version__
        sys.stdout.write("wdfdbg %s\n" % __version__)
        return 0
    name = argv[0]
    if name not in dict(COMMANDS):
        sys.stderr.write("wdfdbg: error: unknown command %r\n%s" % (name, usage()))
        return 2
    module = importlib.import_module("wdfdbg.%s" % name)
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
