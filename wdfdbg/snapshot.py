"""``snapshot``: cut a snapshot (origin ``converted``) from a dump.

    wdfdbg snapshot DUMP -o OUT.wdfsnap.json.gz [--around ADDR ...] [--all]
    wdfdbg snapshot DUMP -o OUT.wdfsnap.bin        (the binary container, docs/snapshot-binary.md)

The snapshot holds what an analysis of the dump reads: the analysis (the
driver-list walk, or a scan of memory when there is no list, with memory,
lookaside, MDL and context decoding; and what ``info`` reads) runs through a
recording target and every page it touches is kept, plus the pages around
each ``--around`` address; ``--all`` copies every captured byte. Modules,
the bugcheck, the symbols the source knows and the types used are kept too,
so ``wdfdbg memtree OUT`` / ``scan`` / ``info`` replay offline.

A triage dump's KMDF driver table (secondary dump data, not memory) is kept
under the extra top-level key ``kmdf_drivers`` (readers ignore unknown keys),
and the crashing processor's current thread (KPRCB.CurrentThread, from the
triage header) under ``crash_thread``.

OUT's name picks the format (``wdfdbg.render.snapshot_file``): ``.bin`` the
binary container, ``.gz`` gzipped JSON, else JSON. DUMP may be a snapshot
or container too: ``wdfdbg snapshot IN.wdfsnap.json.gz --all -o
IN.wdfsnap.bin`` converts a JSON snapshot to a container, and back.
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.numbers import parse_address, parse_int
from wdfdbg.analysis.snapshot_reads import read_for_snapshot
from wdfdbg.errors import UsageError
from wdfdbg.problems import ProblemLog
from wdfdbg.render import files
from wdfdbg.render import snapshot_file
from wdfdbg.sources import convert
from wdfdbg.sources.symbols import identify_modules

NAME = "snapshot"
DEFAULT_AROUND = 0x1000
MAX_AROUND = 1 << 24


def make_parser():
    p = command.parser(NAME, "cut a snapshot from a dump: what an analysis reads, or everything")
    p.add_argument("source", metavar="DUMP", help="kernel dump (or snapshot) to cut from")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="snapshot to write: .wdfsnap.json[.gz], or .wdfsnap.bin for the binary container")
    p.add_argument("--around", action="append", default=[], metavar="ADDR",
                   help="also keep the memory around ADDR (repeatable)")
    p.add_argument("--around-size", default=None, metavar="BYTES",
                   help="bytes kept on each side of an --around address (default 0x1000)")
    p.add_argument("--all", action="store_true", help="copy every captured byte of the source")
    p.add_argument("--no-analysis", action="store_true", help="keep only --around/--all memory")
    p.add_argument("--description", default=None, help="description stored in the snapshot")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--profile", default=None, help="built-in layout profile (default: by OS build)")
    p.add_argument("--types", action="append", default=[], metavar="FILE",
                   help="ISF types for Wdf01000 or nt (MODULE=FILE or FILE named after the module)")
    p.add_argument("--symbols", default=None, metavar="PATH", help="where PDBs are (_NT_SYMBOL_PATH syntax)")
    p.add_argument("--no-symbols", action="store_true", help="ignore all symbols (the source's own types, PDBs)")
    p.add_argument("--engine", choices=["auto", "pykd"], default="auto",
                   help="pykd: open the dump with pykd.loadDump (Windows only)")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    args.sample = False
    args.around_addresses = [parse_int(a, "--around") for a in args.around]
    size = DEFAULT_AROUND if args.around_size is None else parse_int(args.around_size, "--around-size")
    if size < 0 or size > MAX_AROUND:
        raise command.usage_error(NAME, "--around-size must be between 0 and 0x%x" % MAX_AROUND)
    args.around_bytes = size
    return args


def build(args):
    """Cut the snapshot ``args`` ask for: ``(document, recorder)``."""
    session, recorder = command.open_recording_session(args, engine=None if args.engine == "auto" else args.engine)
    identify_modules(session.target, recorder.modules())
    if not args.no_analysis:
        read_for_snapshot(session, recorder, ProblemLog())
    around = [parse_address(session, a, "--around") for a in args.around]
    convert.touch_around(session.target, around, args.around_bytes)
    if args.all:
        ranges = recorder.inner.ranges()
        if ranges is None:
            raise UsageError("%s: this source cannot list its memory, so --all cannot copy it" % args.source)
        convert.touch_all(session.target, ranges)
    desc = args.description
    if desc is None:
        desc = convert.default_description(args.source, recorder, args.all)
    return convert.converted_document(recorder, desc), recorder


def _main(argv):
    args = parse_args(argv)
    snapshot_file.check_name(args.output)
    files.check_output_path(args.output, command.input_files(args), force=args.force)
    doc, recorder = build(args)
    snapshot_file.write(args.output, doc)
    lines = ["wrote %s: %s" % (args.output, convert.document_summary(doc))]
    lines.extend("warning: %s" % w for w in recorder.warnings)
    command.emit("\n".join(lines))
    return 0


def main(argv=None):
    return command.run(_main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
