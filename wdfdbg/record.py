"""``record``: run a wdfdbg command through a recording target, show its
output as usual, and save what it read as a snapshot that replays the same
command offline, byte for byte.

    wdfdbg record OUT.wdfsnap.json.gz [--source SOURCE] [--description TEXT] [--force] -- COMMAND [ARGS...]
    !py -m wdfdbg.record OUT.wdfsnap.json.gz -- memtree [ARGS...]      (inside WinDbg: the live target)

The source is ``--source``, else the command's own SOURCE argument, else the
debugger's target. Replay with ``wdfdbg COMMAND OUT.wdfsnap.json.gz ARGS``.
OUT's name picks the format (``wdfdbg.render.snapshot_file``): ``.bin`` the
binary container (``docs/snapshot-binary.md``), ``.gz`` gzipped JSON, else
JSON.

A command can be recorded when its module has ``parse_args(argv)`` (or
``make_parser()``) and ``execute(session, args[, markup]) -> (exit code,
text)``. Ctrl+Break (which the ``!py`` front end raises as
``SystemExit("CTRL+BREAK")``) stops the command and writes nothing.
"""

import importlib
import inspect
import sys

from wdfdbg import command
from wdfdbg.render import files
from wdfdbg.render import snapshot_file
from wdfdbg.sources import convert
from wdfdbg.sources.base import Target
from wdfdbg.sources.symbols import identify_modules

NAME = "record"
RECORDABLE = ("memtree", "memory", "lookaside", "mdl", "descriptor", "memusage", "info", "scan")
LISTS_MEMORY = ("scan",)  # commands that scan every readable range
_VALUE_OPTIONS = ("--source", "--engine", "--description")


def make_parser():
    p = command.parser(NAME, "run a command through a recording target and save what it read as a snapshot")
    p.add_argument("out", metavar="OUT",
                   help="snapshot to write: .wdfsnap.json[.gz], or .wdfsnap.bin for the binary container")
    p.add_argument("--source", default=None,
                   help="snapshot or dump to record from (default: the command's SOURCE, else the live debugger)")
    p.add_argument("--engine", choices=["auto", "pykd"], default=None, help="pykd: open --source with pykd.loadDump")
    p.add_argument("--description", default=None, help="description stored in the snapshot")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    return p


def split_argv(argv):
    """(record's own arguments, [COMMAND, ARGS...]): split at ``--``, or
    else before the second positional argument."""
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    positionals = 0
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in _VALUE_OPTIONS:
            i += 2
            continue
        if tok.startswith("-") and tok != "-":
            i += 1
            continue
        positionals += 1
        if positionals == 2:
            return argv[:i], argv[i:]
        i += 1
    return argv, []


def command_module(name):
    """The module of a recordable command and its (parse, execute)."""
    if name not in RECORDABLE:
        raise command.usage_error(NAME, "'%s' is not a command that can be recorded (one of: %s)"
                                  % (name, ", ".join(RECORDABLE)))
    try:
        module = importlib.import_module("wdfdbg.%s" % name)
    except ImportError as e:
        raise command.usage_error(NAME, "wdfdbg %s is not available (%s)" % (name, e))
    parse = getattr(module, "parse_args", None)
    if parse is None and hasattr(module, "make_parser"):
        parse = lambda a: module.make_parser().parse_args(a)  # noqa: E731
    execute = getattr(module, "execute", None)
    if parse is None or execute is None:
        raise command.usage_error(NAME, "wdfdbg %s cannot run on a recording session "
                                  "(it needs parse_args(argv) and execute(session, args, markup))" % name)
    return module, parse, execute


def takes_markup(execute):
    """True when ``execute(session, args, markup)`` accepts a markup."""
    try:
        params = inspect.signature(execute).parameters
    except (TypeError, ValueError):
        return True
    return "markup" in params or len(params) >= 3 or \
        any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params.values())


def run_command(session, args, execute):
    """``execute`` on the recording session: (exit code, output text,
    markup); Ctrl+Break becomes KeyboardInterrupt (nothing is written)."""
    m = command.markup_for(args, session) if takes_markup(execute) else None
    try:
        code, out = execute(session, args, m) if m is not None else execute(session, args)
        return code, out, m
    except SystemExit as e:
        if e.args and e.args[0] == "CTRL+BREAK":  # what the !py front end raises for Ctrl+Break
            raise KeyboardInterrupt()
        raise


def _main(argv):
    own, rest = split_argv(argv)
    opts = make_parser().parse_args(own)
    if not rest:
        raise command.usage_error(NAME, "name the command to record after --, e.g. wdfdbg record OUT -- memtree SOURCE")
    name = rest[0]
    _, parse, execute = command_module(name)
    args = parse(rest[1:])
    snapshot_file.check_name(opts.out)
    files.check_output_path(opts.out, command.input_files(args, [opts.source]), force=opts.force)
    session, recorder = command.open_recording_session(args, source=opts.source, engine=opts.engine)
    try:
        if name in LISTS_MEMORY and recorder.inner.ranges() is None:
            raise command.usage_error(NAME, "%s reads all listed memory, and this source (%s) cannot list its memory: "
                                      "record it from a dump or snapshot file" % (name, recorder.kind))
        code, out, m = run_command(session, args, execute)
        command.emit(out, m)
        description = opts.description or " ".join(("wdfdbg record: %s %s (from %s)" % (
            name, " ".join(rest[1:]), session.path or "live target")).split())
        # the module identity the debugger's memory shows (image headers), read
        # beside the recording so that the recorded pages stay the analysis's own
        identify_modules(Target(recorder.inner, cache_pages=16), recorder.modules())
        doc = convert.recorded_document(recorder, description)
        snapshot_file.write(opts.out, doc)
    finally:
        try:
            session.target.close()
        except Exception:  # closing cannot change what was written
            pass
    st = recorder.stats()
    command.say("wdfdbg: recorded %d pages (%d bytes), %d types, %d symbols to %s"
                % (st["pages"], st["bytes"], st["types"], st["symbols"], opts.out))
    for w in recorder.warnings:
        command.say("wdfdbg: record: warning: %s" % w)
    return code


def main(argv=None):
    return command.run(_main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
