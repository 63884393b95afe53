"""``mdl``: decode an MDL chain (through ``Next``): flags by name, Process,
MappedSystemVa, StartVa, ByteCount, ByteOffset and the PFN array, with
consistency checks; or, with ``--allocated``, the MDLs the framework
tracks for drivers with the verifier on (``DebugExtension->AllocatedMdls``).

    wdfdbg mdl SOURCE ADDR [--json]
    wdfdbg mdl SOURCE --allocated [--driver NAME] [--json]
    !py -m wdfdbg.mdl ADDR                          (inside WinDbg)
"""

import sys

from wdfdbg import command
from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.decoders.mdl import driver_mdls, for_each_mdl
from wdfdbg.errors import UsageError
from wdfdbg.memory import Link, link_table, mdl_table, quiet_drivers
from wdfdbg.memtree import fix_positionals
from wdfdbg.render import report as rep
from wdfdbg.render import text as txt

NAME = "mdl"


def make_parser():
    p = command.parser(NAME, "decode an MDL chain, or the framework's verifier MDL list")
    command.add_source_args(p)
    p.add_argument("root", nargs="?", metavar="ADDR", help="address of the first MDL")
    p.add_argument("--allocated", action="store_true",
                   help="the MDLs on DebugExtension->AllocatedMdls of drivers with the verifier on")
    p.add_argument("--driver", help="with --allocated: only this driver")
    return p


def parse_args(argv):
    args = make_parser().parse_args(argv)
    fix_positionals(args)
    if not args.root and not args.allocated:
        raise UsageError("wdfdbg %s: an MDL address (or --allocated) is required" % NAME)
    if args.driver and not args.allocated:
        raise UsageError("--driver goes with --allocated")
    args.address = args.root
    return args


def collect(session, args):
    problems = ProblemLog()
    chain = []
    allocated = []
    drivers = []
    if args.root:
        addr = command.parse_int(args.root, "ADDR")
        chain = [i.record for i in for_each_mdl(session, addr, problems)]
    if args.allocated:
        drivers = quiet_drivers(session)
        if args.driver:
            drivers = [d for d in drivers if (d.name or "").lower() == args.driver.lower()]
            if not drivers:
                raise UsageError("no KMDF driver named %r" % args.driver)
        for d in drivers:
            for e in driver_mdls(session, d, problems):
                e = dict(e)
                e["driver"] = d.name
                allocated.append(e)
    return drivers, chain, allocated, problems


def render_text(session, args, drivers, chain, allocated, problems, m):
    out = [txt.source_line(session, m)]
    for n in session.notes:
        out.append(m.text("note: %s" % n))
    if args.root:
        out.append("")
        out.append(m.text("MDL chain at %s: %d MDL(s), %s bytes" % (
            args.root, len(chain), txt.size_str(sum((r.get("byte_count") or 0) for r in chain)))))
        if chain:
            out.append(mdl_table(chain, m))
            for r in chain:
                if r.get("pages") is not None and r.get("size") != r.get("expected_size"):
                    out.append(m.text("%s: Size %s, %s page(s) spanned need Size %s" % (
                        r["address"], r["size"], r["pages"], r["expected_size"])))
    if args.allocated:
        out.append("")
        verifier = [d for d in drivers if d.verifier_on]
        out.append(m.text("Framework-allocated MDLs (verifier on for %d of %d driver(s)):" % (len(verifier), len(drivers))))
        if allocated:
            rows = []
            for e in allocated:
                r = e.get("record") or {}
                rows.append((e.get("driver") or "?", Link(e["mdl"], m.mdl_link(e["mdl"], int(e["mdl"], 16))), e.get("owner") or "NULL",
                             e.get("caller_symbol") or e.get("caller") or "?", txt.size_str(r.get("byte_count")),
                             "|".join(r.get("flags") or []) or "0"))
            out.append(link_table(m, rows, headers=["driver", "MDL", "owner", "caller", "ByteCount", "flags"]))
        else:
            out.append(m.text("none"))
    out.append("")
    out.append(txt.problems_table(list(problems), m))
    return "\n".join(out)


def execute(session, args, markup=None):
    drivers, chain, allocated, problems = collect(session, args)
    if args.json:
        extra = {"mdls": chain}
        if args.allocated:
            extra["allocated_mdls"] = allocated
        doc = rep.build_report(session, drivers, [], problems, extra=extra, command=NAME,
                               extra_mdls=len(chain) + sum(1 for e in allocated if e.get("record")))
        return command.exit_code(problems), rep.dumps(doc)
    m = markup or command.markup_for(args, session)
    return command.exit_code(problems), render_text(session, args, drivers, chain, allocated, problems, m)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
