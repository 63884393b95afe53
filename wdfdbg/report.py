"""``report``: one self-contained HTML triage report (no network, nothing
loaded from outside the file), drawn from ``memtree --json``.

    wdfdbg report SOURCE -o OUT.html [--driver NAME] [--max-objects N]
    !py -m wdfdbg.report -o OUT.html [--driver NAME]          (inside WinDbg)

SOURCE is a snapshot, a kernel dump, or a saved ``wdfdbg.report/1`` report
(``memtree --json`` or ``--jsonl`` output, gzip or not). The page embeds that
report (as the ``--json`` document) and shows the triage headline, the
source and what it can show, the object tree per driver (searchable,
collapsible), a treemap of bytes, the per-driver tables and the problems.
See docs/report-html.md.
"""

import sys

from wdfdbg import command
from wdfdbg.errors import UsageError

NAME = "report"


def make_parser():
    p = command.parser(NAME, "a self-contained HTML triage report")
    add_memtree_source_args(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.html", help="the HTML file to write")
    p.add_argument("--driver", help="only this driver (name, case-insensitive)")
    p.add_argument("--max-objects", type=int, default=None, help="stop after N objects (WALK_LIMIT)")
    return p


def add_memtree_source_args(p, source=True):
    """The source options memtree takes (``--json``/``--dml`` aside)."""
    if source:
        p.add_argument("source", nargs="?", metavar="SOURCE",
                       help="snapshot, kernel dump, or saved memtree --json/--jsonl; omit inside WinDbg")
        p.add_argument("--sample", action="store_true", help="use the sample snapshot bundled with wdfdbg")
    p.add_argument("--engine", choices=["auto", "pykd"], default="auto", help="pykd: open dumps with pykd.loadDump")
    p.add_argument("--profile", default=None, help="built-in layout profile")
    p.add_argument("--types", action="append", default=[], metavar="FILE", help="ISF types (MODULE=FILE)")
    p.add_argument("--symbols", default=None, metavar="PATH", help="where PDBs are (_NT_SYMBOL_PATH syntax)")
    p.add_argument("--no-symbols", action="store_true", help="ignore all symbols (the source's own types, PDBs)")


def parse_args(argv):
    args = make_parser().parse_args(argv)
    if args.max_objects is not None and args.max_objects < 1:
        raise UsageError("--max-objects must be at least 1")
    return args


def memtree_argv(args, source):
    """memtree's arguments for one source, as the user would type them."""
    argv = [] if source is None else [source]
    if getattr(args, "sample", False):
        argv.append("--sample")
    if args.engine != "auto":
        argv += ["--engine", args.engine]
    if args.profile:
        argv += ["--profile", args.profile]
    for t in args.types:
        argv += ["--types", t]
    if getattr(args, "symbols", None) is not None:
        argv += ["--symbols", args.symbols]
    if args.no_symbols:
        argv.append("--no-symbols")
    if getattr(args, "driver", None):
        argv += ["--driver", args.driver]
    if getattr(args, "max_objects", None):
        argv += ["--max-objects", str(args.max_objects)]
    return argv + ["--json"]


def feed_source(argv, on_key, on_object, what=None, tee=None, session=None):
    """Stream the report of ``memtree ARGV`` (or of a saved report, JSON or
    JSONL, named as the source) into ``on_key``/``on_object`` (and its text into
    ``tee``); the exit code memtree would give. With ``session`` (an open
    target, e.g. the one ``record`` wraps) memtree runs on it instead."""
    from wdfdbg import memtree
    from wdfdbg.render.reportreader import ReportReader, looks_like_report, read_file
    args = memtree.parse_args(list(argv))
    if session is None and args.source and not args.sample and looks_like_report(args.source):
        if args.driver:
            raise UsageError("--driver cannot filter a saved JSON report; run on the snapshot or dump")
        holder = {}

        def key(k, v):
            holder[k] = v
            on_key(k, v)
        read_file(args.source, key, on_object, tee=tee)
        return _exit_code(holder.get("problems"))
    if session is None:
        session = command.open_from_args(args)
    reader = ReportReader(on_key, on_object, what=what or "memtree report", tee=tee)
    code, _ = memtree.execute(session, args, out=reader)
    reader.close()
    return code


def _exit_code(problems):
    bad = any(isinstance(p, dict) and p.get("severity") == "error" for p in problems or ())
    return command.EXIT_PROBLEMS if bad else command.EXIT_OK


def execute(session, args):
    """Write the HTML file; (exit code, one line saying what was written).
    ``session`` None: the source named in ``args`` is opened here."""
    from wdfdbg.render.html import HtmlReport, check_output, write_atomically
    check_output(args.output, command.input_files(args))  # before any work: folder, kind, never an input
    page = HtmlReport(driver=args.driver)
    code = feed_source(memtree_argv(args, args.source), page.on_key, page.on_object, tee=page.embed,
                       session=session)
    size = write_atomically(args.output, page.write)
    # a file's size as people read one (memory sizes stay in hex elsewhere)
    line = "wrote %s: %s objects, %s problems, %s" % (
        args.output, "{:,}".format(page.objects), "{:,}".format(page.problem_count()), file_size_text(size))
    return code, line


def file_size_text(n):
    """A file's size as people read one: ``84.8 KB``, ``3.0 MB`` (1024-based,
    one decimal; the exact count in hex is a memory size's spelling, not a
    file's)."""
    if n >= 1 << 20:
        return "%.1f MB" % (n / float(1 << 20))
    return "%.1f KB" % (n / 1024.0)


def main(argv=None):
    return command.own_source_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())

