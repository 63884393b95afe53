"""``snapshot``: cut a snapshot (origin ``converted``) from a dump.

    wdfdbg snapshot DUMP -o OUT.wdfsnap.json.gz [--around ADDR ...] [--all]

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
"""

import os
import sys

from wdfdbg import command
from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.errors import ReadError, UsageError

NAME = "snapshot"
DEFAULT_AROUND = 0x1000
MAX_AROUND = 1 << 24


def make_parser():
    p = command.parser(NAME, "cut a snapshot from a dump: what an analysis reads, or everything")
    p.add_argument("source", metavar="DUMP", help="kernel dump (or snapshot) to cut from")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="snapshot to write (.wdfsnap.json[.gz])")
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
    p.add_argument("--no-symbols", action="store_true", help="ignore the source's own types")
    p.add_argument("--engine", choices=["auto", "pykd"], default="auto",
                   help="pykd: open the dump with pykd.loadDump (Windows only)")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    args.sample = False
    args.around_addresses = [command.parse_int(a, "--around") for a in args.around]
    size = DEFAULT_AROUND if args.around_size is None else command.parse_int(args.around_size, "--around-size")
    if size < 0 or size > MAX_AROUND:
        raise UsageError("--around-size must be between 0 and 0x%x" % MAX_AROUND)
    args.around_bytes = size
    if os.path.exists(args.output) and not args.force:
        raise UsageError("%s exists (use --force to overwrite)" % args.output)
    return args


def _plain_session(recorder, session):
    """A session over the same source without the recording (for the scan
    sweep, whose reads of all memory are not what the analysis needs)."""
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    target = Target(recorder.inner)
    layouts = Layouts(target, profile=session.layouts._explicit, use_symbols=session.layouts.use_symbols)
    plain = Session(target, layouts, recorder.kind, session.path, recorder.origin)
    plain.shape_classifier = getattr(session, "shape_classifier", None)
    return plain


def touch_pages(target, address, size):
    """Read [address, address+size) page by page through the recording
    target; unreadable pages are skipped (they stay unreadable)."""
    ps = target.page_size
    top = target.pointer_mask
    a = max(0, address - (address % ps))
    end = min(top + 1, address + size)
    n = 0
    while a < end:
        try:
            target.read(a, ps)
            n += 1
        except ReadError:
            # a partly captured page: keep what is readable of it
            try:
                target.backend.read_page(a)
            except ReadError:
                pass
        a += ps
    return n


def analyse(session, recorder, problems):
    """Run the analysis through the recording session."""
    from wdfdbg import info as info_cmd
    from wdfdbg import memtree
    from wdfdbg.decoders import drivers as drv
    target = session.target
    # symbols the source knows, so the replay resolves the same names
    names = getattr(recorder.inner, "symbols", None)
    if callable(names):
        for name in sorted(names()):
            target.symbol(name)
    log = ProblemLog()
    listed = list(drv.for_each_driver(session, log))
    margs = memtree.parse_args([])
    if listed and not log.has_errors():
        memtree.collect(session, margs)
    else:
        # no driver list: find the objects on an unrecorded view, then
        # decode them (headers, globals, memory, contexts) through the recording
        from wdfdbg.decoders import objects as fxo
        from wdfdbg.decoders.scan import scan
        plain = _plain_session(recorder, session)
        res = scan(plain, ProblemLog())
        for d in res.drivers:
            try:
                drv.read_driver(session, d.globals)
            except Exception:  # reading for the record only
                pass
        try:
            mask_off = session.layouts.get("Wdf01000!_FX_DRIVER_GLOBALS").offset("WdfHandleMask")
        except Exception:  # no globals layout: the scan could not have verified masks either
            mask_off = None
        nodes = []
        for n in res.nodes:
            hdr = n.header
            cap = (n.extra.get("scan") or {}).get("captured_bytes") or 0
            try:
                target.read(hdr.address, cap)
            except ReadError:
                pass
            try:
                hdr2 = fxo.read_object(session, hdr.address)
            except ReadError:
                hdr2 = hdr
            node = fxo.ObjectNode(hdr2, n.parent, n.depth, n.driver, n.handle)
            node.extra = dict(n.extra)
            nodes.append(node)
            if hdr.globals and mask_off is not None:
                try:
                    target.read_pointer(hdr.globals + mask_off)
                except ReadError:
                    pass
        memtree.annotate(session, nodes, problems, margs)
    try:
        info_cmd.gather(session, _InfoArgs())
    except ReadError:
        pass
    # the exception record behind the bugcheck (the triage headline reads it)
    from wdfdbg.decoders.exception import decode_exception
    decode_exception(session)


class _InfoArgs(object):
    no_scan = True


def build(args):
    from wdfdbg.record import open_recording_session
    from wdfdbg.sources import snapshot as snapfmt
    session, recorder = open_recording_session(args, engine=None if args.engine == "auto" else args.engine)
    try:
        from wdfdbg.decoders.memory import shape_classifier
        session.shape_classifier = shape_classifier
    except ImportError:
        pass
    problems = ProblemLog()
    target = session.target
    if not args.no_analysis:
        analyse(session, recorder, problems)
    for a in args.around_addresses:
        touch_pages(target, a - args.around_bytes, 2 * args.around_bytes + 1)
    if args.all:
        ranges = recorder.inner.ranges()
        if ranges is None:
            raise UsageError("%s: this source cannot list its memory, so --all cannot copy it" % args.source)
        for start, size in ranges:
            touch_pages(target, start, size)
    desc = args.description
    if desc is None:
        desc = "converted by wdfdbg snapshot from %s (%s)%s" % (
            os.path.basename(args.source), getattr(recorder.inner, "description", None) or recorder.kind,
            "; all captured memory" if args.all else "; the memory an analysis reads")
    # a dump becomes a "converted" snapshot; a snapshot keeps its own origin
    doc = recorder.to_document(description=desc, origin=None if recorder.kind == "snapshot" else "converted")
    table = getattr(recorder.inner, "kmdf_drivers", None)
    if callable(table):
        entries = table()
        if entries:
            doc["kmdf_drivers"] = [{"name": e.name, "globals": "0x%x" % e.globals,
                                    "version": "%d.%d.%d" % tuple(e.version)} for e in entries]
    from wdfdbg.decoders.locks import SNAPSHOT_KEY, backend_crash_thread
    thread = backend_crash_thread(recorder.inner)
    if thread:
        doc[SNAPSHOT_KEY] = "0x%x" % thread
    # validate what we wrote: a snapshot must load back
    errors, _mem = snapfmt.validate(doc)
    if errors:
        raise UsageError("internal: the snapshot does not validate: %s" % errors[0])
    snapfmt.save(doc, args.output)
    return doc, recorder


def _main(argv):
    args = parse_args(argv)
    doc, recorder = build(args)
    mem = doc["memory"]
    nbytes = sum(len(m["data"]) * 3 // 4 for m in mem)
    lines = ["wrote %s: %d memory ranges (about %d bytes), %d modules, %d symbols, types for %s%s"
             % (args.output, len(mem), nbytes, len(doc["modules"]), len(doc["symbols"]),
                ", ".join(sorted(doc["types"])) or "no module (built-in profile on replay)",
                ", KMDF driver table" if doc.get("kmdf_drivers") else "")]
    for w in recorder.warnings:
        lines.append("warning: %s" % w)
    command.emit("\n".join(lines))
    return 0


def main(argv=None):
    return command.run(_main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
