"""Plumbing shared by every command module (``wdfdbg.memtree`` and its
siblings): arguments, opening the source, output, exit codes.

Every command module defines ``main(argv=None) -> int`` and ends with
``if __name__ == "__main__": sys.exit(main())`` so that ``python -m
wdfdbg.<name>``, ``!py -m wdfdbg.<name>`` and ``wdfdbg <name>`` run the same
code with the same arguments.

Exit codes: 0 report without errors, 1 report with ``error`` problems,
2 bad usage or unreadable input (one line on stderr, no report). Help asked
for (``--help``) goes to stdout with exit 0. :func:`run` keeps the contract:
whatever goes wrong, exit 2 comes with exactly one line on stderr, control
characters escaped, and running out of memory is ``wdfdbg: error: out of
memory`` even when there is no memory left to say more.
"""

import argparse
import os
import sys

from wdfdbg.analysis.numbers import parse_int
from wdfdbg.errors import ArgumentError, InputError, LayoutError, OutputError, UsageError
from wdfdbg.render import streams
from wdfdbg.render.streams import StdoutClosed, say

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

# Read once, here: under memory pressure os.environ.get itself can fail
# (the issue saw KeyError: b'WDFDBG_DEBUG' raised inside it), and the
# last-resort handler must not.
DEBUG = bool(os.environ.get("WDFDBG_DEBUG"))


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`ArgumentError` (one line: ``wdfdbg NAME:
    error: ...``) instead of printing usage and exiting: WinDbg's Python
    must not be killed by SystemExit from deep inside a command."""

    def error(self, message):
        raise ArgumentError("%s: error: %s" % (self.prog, message))

    def print_help(self, file=None):
        # through the checked output: argparse's own printing drops write
        # errors (help > /dev/full would say nothing and exit 0)
        if file is not None:
            return super(ArgumentParser, self).print_help(file)
        emit(self.format_help())

    def exit(self, status=0, message=None):
        if message and status == 0:
            emit(message)
        elif message:
            say(message.strip())
        raise _Exit(status)


class _Exit(Exception):
    def __init__(self, status):
        self.status = status


def parser(name, description):
    p = ArgumentParser(prog="wdfdbg %s" % name, description=description)
    return p


def usage_error(name, message):
    """A command's own usage error, worded as argparse words its errors:
    ``wdfdbg NAME: error: MESSAGE``."""
    return ArgumentError("wdfdbg %s: error: %s" % (name, message))


def add_source_args(p, source_required=False):
    p.add_argument("source", nargs="?" if not source_required else None, metavar="SOURCE",
                   help="snapshot (.wdfsnap.json[.gz]) or kernel dump; omit inside WinDbg")
    p.add_argument("--sample", action="store_true", help="use the sample snapshot bundled with wdfdbg")
    p.add_argument("--engine", choices=["auto", "pykd"], default="auto",
                   help="pykd: open the dump with pykd.loadDump (Windows only)")
    p.add_argument("--profile", default=None, help="built-in layout profile (default: by OS build or probing)")
    p.add_argument("--types", action="append", default=[], metavar="FILE",
                   help="ISF types for Wdf01000 or nt (MODULE=FILE or FILE named after the module)")
    p.add_argument("--symbols", default=None, metavar="PATH",
                   help="where PDBs are, in _NT_SYMBOL_PATH syntax (default: that variable); offline sources only")
    p.add_argument("--no-symbols", action="store_true",
                   help="ignore all symbols (the source's own types, PDBs); use the built-in profile")
    p.add_argument("--json", action="store_true", help="write the JSON report (wdfdbg.report/1)")
    p.add_argument("--dml", choices=["auto", "on", "off"], default="auto", help="DML links (WinDbg)")


def fix_positionals(args):
    """Inside WinDbg there is no SOURCE: a lone positional that is not a file
    is the ROOT. With ``--sample`` the bundled snapshot is the SOURCE, so a
    lone positional is the ROOT (the handle), whatever it looks like."""
    if args.source and not args.root and getattr(args, "sample", False):
        args.root, args.source = args.source, None
        return
    if args.source and not args.root and not args.sample and not os.path.exists(args.source):
        try:
            parse_int(args.source)
            is_number = True
        except UsageError:
            is_number = False
        if is_number or not any(ch in args.source for ch in "/\\."):
            args.root, args.source = args.source, None


def source_path(args, source=None):
    """The file a command's parsed ``args`` name (SOURCE, ``--sample``, or
    ``source`` given apart, as ``record --source`` does); None: the live
    debugger."""
    from wdfdbg.session import sample_path
    path = getattr(args, "source", None)
    if source is not None:
        if path and os.path.abspath(path) != os.path.abspath(source):
            raise UsageError("record: give the source once (--source or the command's SOURCE)")
        path = source
    if getattr(args, "sample", False):
        if path:
            raise UsageError("give SOURCE or --sample, not both")
        path = sample_path()
    return path


def input_files(args, extra=()):
    """The files a command's parsed ``args`` read (SOURCE or the sample,
    ``--types`` files) and ``extra`` ones: what an output must never be."""
    from wdfdbg.sources.typesfile import parse_spec
    paths = [p for p in extra if p]
    try:
        paths.append(source_path(args))
    except UsageError:  # SOURCE and --sample both: an error of its own, when the source is opened
        pass
    for spec in getattr(args, "types", None) or ():
        try:
            paths.append(parse_spec(spec)[1])
        except InputError:
            pass
    return [p for p in paths if p]


def open_from_args(args):
    from wdfdbg.session import open_session
    engine = None if getattr(args, "engine", "auto") == "auto" else args.engine
    return open_session(source_path(args), engine=engine, profile=args.profile, types_files=args.types,
                        use_symbols=not args.no_symbols, symbol_path=getattr(args, "symbols", None))


def open_recording_session(args, source=None, engine=None, cache_pages=65536):
    """Open the source for a command's parsed ``args`` (or ``source``) with
    a :class:`~wdfdbg.sources.recording.RecordingBackend` in front of it.
    Returns ``(session, recorder)``."""
    from wdfdbg.session import open_session
    from wdfdbg.sources.recording import RecordingBackend
    path = source_path(args, source)
    if engine is None:
        engine = getattr(args, "engine", None)
    if engine == "auto":
        engine = None
    session = open_session(path, engine=engine, profile=getattr(args, "profile", None),
                           types_files=getattr(args, "types", None) or (),
                           use_symbols=not getattr(args, "no_symbols", False),
                           cache_pages=cache_pages, wrap=RecordingBackend,
                           symbol_path=getattr(args, "symbols", None))
    return session, session.target.backend


def markup_for(args, session=None):
    """Plain text unless DML is on (or auto under a debugger that takes it)."""
    from wdfdbg.render.markup import PLAIN
    mode = getattr(args, "dml", "off")
    if getattr(args, "json", False) or mode == "off":
        return PLAIN
    try:
        from wdfdbg.render.dml import DmlMarkup, debugger_wants_dml
    except ImportError:
        return PLAIN
    if mode == "on" or (mode == "auto" and session is not None and session.source_kind == "pykd" and debugger_wants_dml()):
        return DmlMarkup()
    return PLAIN


def output_for(markup=None):
    """The :class:`~wdfdbg.render.output.Output` a command writes to: DML
    through pykd's ``dprint(piece, True)`` under WinDbg, else the current
    ``sys.stdout``; in pieces of at most 8,000 characters either way. A
    write that fails is an :class:`OutputError` (a full disk, a read-only
    or closed stdout), or :class:`StdoutClosed` when the reader went away."""
    from wdfdbg.render.markup import PLAIN
    from wdfdbg.render.output import Output, stdout_sink
    markup = markup if markup is not None else PLAIN
    sink = None
    if getattr(markup, "dml", False):
        try:
            from wdfdbg.render.dml import dml_sink
            sink = dml_sink()
        except ImportError:
            sink = None
    return Output(streams.checked_sink(sink or stdout_sink()), markup)


def emit(text, markup=None):
    """Write a whole text through :func:`output_for` (a final newline is
    added when missing)."""
    out = output_for(markup)
    out.write(text)
    out.close()


# -- the error contract --------------------------------------------------------
def run(body, argv=None):
    """Run ``body(argv) -> exit code`` with wdfdbg's error contract."""
    failed = False
    try:
        return _run(body, argv)
    except MemoryError:
        failed = True
    # out of the handler: the traceback and the frames it held are gone
    if failed:
        streams.silence_stdout()
        streams.say_out_of_memory()
    return EXIT_USAGE


def _run(body, argv):
    try:
        streams.check_stdout()
        try:
            code = body(argv)
        except _Exit as e:
            code = e.status
        streams.flush_stdout()
        return code
    except StdoutClosed:
        streams.silence_stdout()
        return EXIT_OK
    except ArgumentError as e:
        say(str(e))
        return EXIT_USAGE
    except OutputError as e:
        streams.silence_stdout()
        say("wdfdbg: error: %s" % e)
        return EXIT_USAGE
    except (InputError, LayoutError) as e:
        say("wdfdbg: error: %s" % e)
        return EXIT_USAGE
    except KeyboardInterrupt:
        say("wdfdbg: interrupted")
        return 130
    except MemoryError:
        raise
    except SystemError as e:
        if str(e) == "error return without exception set":
            # CPython's C code failing an allocation without a MemoryError
            # (seen inside the import machinery under prlimit --as=22M)
            raise MemoryError()
        if DEBUG:
            raise
        say("wdfdbg: internal error: %s (set WDFDBG_DEBUG=1 for the traceback)" % _describe(e))
        return EXIT_USAGE
    except BrokenPipeError as e:  # a pipe other than stdout
        say("wdfdbg: error: %s" % (e.strerror or "broken pipe"))
        return EXIT_USAGE
    except Exception as e:  # last resort: one line, never a traceback
        if DEBUG:
            raise
        say("wdfdbg: internal error: %s (set WDFDBG_DEBUG=1 for the traceback)" % _describe(e))
        return EXIT_USAGE


def _describe(e):
    try:
        return "%s: %s" % (type(e).__name__, e)
    except Exception:
        return type(e).__name__


def standard_main(module, argv=None):
    """The ``main()`` of a command module: parse, open the source, execute,
    write, with wdfdbg's error contract. A module whose ``execute`` takes
    ``out=`` streams JSON reports there instead of building the text."""
    def body(a):
        args = module.parse_args(a)
        session = open_from_args(args)
        m = markup_for(args, session)
        out = output_for(m)
        if getattr(args, "json", False) and getattr(module, "STREAMS_JSON", False):
            code, _ = module.execute(session, args, m, out=out)
        else:
            code, text = module.execute(session, args, m)
            out.write(text)
        out.close()
        return code
    return run(body, sys.argv[1:] if argv is None else argv)


def own_source_main(module, argv=None):
    """The ``main()`` of a command that opens its own sources (``report``,
    ``diff``: a saved report, or two sources): ``execute(None, args)``
    returns ``(code, text)``, the text written whole."""
    def body(a):
        args = module.parse_args(a)
        code, text = module.execute(None, args)
        emit(text)
        return code
    return run(body, sys.argv[1:] if argv is None else argv)


def exit_code(problems):
    from wdfdbg.problems import ERROR
    return EXIT_PROBLEMS if any(p.severity == ERROR for p in problems) else EXIT_OK


# Every command module exposes, besides main():
#   parse_args(argv) -> argparse.Namespace   (raises UsageError)
#   execute(session, args, markup=None) -> (exit_code, output_text)
# so that wdfdbg.record (and tests) can run any command on an already open
# session, e.g. one whose backend records what it reads.
