"""``info``: what a dump or snapshot is: kind, OS build, architecture,
processors, bugcheck (0x10D decoded per kmdf.md §10), Wdf01000's base and
version, the loaded drivers and the KMDF drivers present.

    wdfdbg info SOURCE [--json]
    python -m wdfdbg.info ../shared/dumps/triage_x64.dmp

KMDF drivers come from the driver list (``FxLibraryGlobals``) when it can be
walked, else from KMDF's driver table saved in a triage dump's secondary
data, else from a scan of memory; the output says which.
"""

import sys

from tabulate import tabulate

from wdfdbg import command
from wdfdbg.analysis.problems import ProblemLog
from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders.common import cstring, read_record_partial
from wdfdbg.errors import LayoutError, ReadError
from wdfdbg.render import report as rep
from wdfdbg.sources.minidump import kmdf_driver_table

NAME = "info"


def make_parser():
    p = command.parser(NAME, "dump or snapshot summary: OS, arch, bugcheck, Wdf01000, KMDF drivers")
    command.add_source_args(p)
    p.add_argument("--no-scan", action="store_true", help="never scan memory to find KMDF drivers")
    return p


def hx(v):
    return None if v is None else "0x%x" % v


def framework_version(session):
    """(version string, source) of Wdf01000."""
    target = session.target
    for e in kmdf_driver_table(getattr(target, "backend", None)):
        if e.name.lower() == "wdf01000" and e.version[0]:
            return "%d.%d" % (e.version[0], e.version[1]), "kmdf-driver-table"
    lib = target.symbol("Wdf01000!FxLibraryGlobals")
    if lib is not None:
        try:
            lg, _ = read_record_partial(session, "Wdf01000!FxLibraryGlobalsType", lib)
            tbl = lg.get("BugCheckDriverInfo")
            if tbl:
                ent = session.layouts.get("Wdf01000!_FX_DUMP_DRIVER_INFO_ENTRY")
                rec = ent.decode(target.read(tbl, ent.size))
                ver = rec.get("Version")
                if ver and cstring(rec.get("DriverName")):
                    return "%d.%d" % (ver[0], ver[1]), "FxLibraryGlobals.BugCheckDriverInfo[0]"
        except (ReadError, LayoutError):
            pass
    if target.kmdf_version:
        return target.kmdf_version, "source"
    return None, None


def kmdf_drivers(session, problems, allow_scan=True):
    """(list of dicts {name, globals, version, tag, driver}, source)."""
    target = session.target
    log = ProblemLog()
    listed = []
    try:
        listed = list(drv.for_each_driver(session, log))
    except (ReadError, LayoutError):
        listed = []
    table = [e for e in kmdf_driver_table(getattr(target, "backend", None)) if e.globals]
    versions = dict((e.globals, "%d.%d" % (e.version[0], e.version[1])) for e in table)
    if listed and not log.has_errors():
        return [{"name": d.name, "globals": d.globals, "version": versions.get(d.globals), "tag": d.tag,
                 "driver": d.driver} for d in listed], "driver list (FxLibraryGlobals)"
    if table:
        out = []
        for e in table:
            tag = None
            fxdriver = None
            try:
                d, _bad = drv.read_driver(session, e.globals)
                tag, fxdriver = d.tag, d.driver
            except (ReadError, LayoutError):
                pass
            out.append({"name": e.name, "globals": e.globals, "version": "%d.%d" % (e.version[0], e.version[1]),
                        "tag": tag, "driver": fxdriver})
        return out, "KMDF driver table in the dump's secondary data"
    if listed:
        problems.extend(log)
        return [{"name": d.name, "globals": d.globals, "version": None, "tag": d.tag, "driver": d.driver}
                for d in listed], "driver list (FxLibraryGlobals), incomplete"
    if allow_scan and target.ranges() is not None:
        from wdfdbg.decoders.scan import scan
        res = scan(session, ProblemLog())
        with_objects = set(n.header.globals for n in res.nodes)
        return [{"name": d.name, "globals": d.globals, "version": None, "tag": d.tag, "driver": d.driver}
                for d in res.drivers if d.globals in with_objects], "scan of memory"
    return [], None


def gather(session, args):
    """The info dict and the problems."""
    problems = ProblemLog()
    target = session.target
    backend = getattr(target, "backend", None)
    dump = getattr(backend, "dump", None)
    info = {"kind": session.source_kind, "description": getattr(backend, "description", None),
            "origin": session.origin, "arch": target.arch, "pointer_size": target.pointer_size,
            "os_build": target.os_build}
    if dump is not None:
        info["dump_type"] = dump.dump_type
        info["major_version"] = dump.major_version
        info["processors"] = dump.processors
        info["directory_table_base"] = hx(dump.directory_table_base)
        info["ps_loaded_module_list"] = hx(dump.ps_loaded_module_list)
        info["kd_debugger_data_block"] = hx(dump.kd_debugger_data_block)
        info["context"] = dict((k, hx(v)) for k, v in sorted(dump.context.items()))
        info["data_blocks"] = dump.data_blocks
        info["captured_bytes"] = backend.captured_bytes()
        info["secondary_data"] = [{"tag": str(b.tag), "name": b.name, "size": b.size} for b in dump.blobs]
        info["kmdf_ifr_logs"] = [{"driver": n, "size": s} for n, s in dump.kmdf_ifr_logs()]
    else:
        for key in ("dump_type", "processors"):
            v = getattr(backend, key, None)
            if v is not None:
                info[key] = v
        if getattr(backend, "context", None):
            info["context"] = dict((k, hx(v)) for k, v in sorted(backend.context.items()))
        ranges = target.ranges()
        if ranges is not None and session.source_kind == "snapshot":
            info["captured_bytes"] = sum(s for _, s in ranges)
    for note in getattr(backend, "notes", None) or []:
        if note not in session.notes:
            session.notes.append(note)
    mods = target.modules()
    info["loaded_drivers"] = len(mods)
    wdf = target.module("Wdf01000")
    version, vsource = framework_version(session)
    info["wdf01000"] = None if wdf is None and version is None else {
        "base": hx(wdf.base) if wdf else None, "size": wdf.size if wdf else None,
        "path": getattr(wdf, "path", None) if wdf else None,
        "timestamp": hx(wdf.timestamp) if wdf is not None and wdf.timestamp else None,
        "version": version, "version_source": vsource,
        "fx_library_globals": hx(target.symbol("Wdf01000!FxLibraryGlobals")),
    }
    drivers, source = kmdf_drivers(session, problems, allow_scan=not getattr(args, "no_scan", False))
    info["kmdf_drivers_source"] = source
    info["kmdf_drivers"] = [{"name": d["name"], "globals": hx(d["globals"]), "version": d["version"],
                             "tag": d["tag"], "driver": hx(d["driver"])} for d in drivers]
    return info, drivers, problems


def _driver_infos(drivers):
    out = []
    for d in drivers:
        di = drv.DriverInfo(d["globals"])
        di.name, di.tag, di.driver = d["name"], d["tag"], d["driver"]
        out.append(di)
    return out


def render_text(session, info, problems):
    t = session.target
    lines = []
    lines.append("source:      %s" % (session.path or "live target"))
    desc = info.get("description")
    if desc and len(desc) > 60:
        lines.append("kind:        %s (origin %s)" % (info["kind"], info.get("origin") or "-"))
        lines.append("description: %s" % desc)
    else:
        lines.append("kind:        %s%s (origin %s)" % (info["kind"], ": %s" % desc if desc else "",
                                                      info.get("origin") or "-"))
    arch = {"x64": "x64 (AMD64)", "arm64": "ARM64", "x86": "x86"}.get(t.arch, t.arch)
    lines.append("os build:    %s" % (t.os_build if t.os_build is not None else "?"))
    lines.append("arch:        %s, %d-bit pointers" % (arch, 8 * t.pointer_size))
    if info.get("processors") is not None:
        lines.append("processors:  %d" % info["processors"])
    bc = rep.bugcheck_json(session)
    if bc:
        lines.append("bugcheck:    %s %s" % (bc["code"], bc.get("name") or ""))
        lines.append("             parameters %s" % ", ".join(bc["parameters"]))
        for k in sorted(bc.get("decoded") or {}):
            lines.append("             %s: %s" % (k, bc["decoded"][k]))
    else:
        lines.append("bugcheck:    none")
    if info.get("context"):
        lines.append("context:     %s" % ", ".join("%s=%s" % kv for kv in sorted(info["context"].items())))
    if info.get("captured_bytes") is not None:
        extra = " in %d data blocks" % info["data_blocks"] if info.get("data_blocks") is not None else ""
        lines.append("memory:      %d bytes captured%s" % (info["captured_bytes"], extra))
    w = info.get("wdf01000")
    mods = t.modules()
    lines.append("drivers:     %d loaded" % len(mods))
    if w:
        wdf = t.module("Wdf01000")
        fname = (w.get("path") or "Wdf01000.sys").replace("/", "\\").rsplit("\\", 1)[-1]
        parts = ["%s at %s" % (fname, w["base"] or "?")]
        if w.get("size"):
            parts.append("size 0x%x" % w["size"])
        if w.get("version"):
            parts.append("KMDF %s (from %s)" % (w["version"], w["version_source"]))
        if wdf is not None and wdf.timestamp:
            parts.append("image timestamp 0x%x" % wdf.timestamp)
        lines.append("Wdf01000:    %s" % ", ".join(parts))
        if w.get("fx_library_globals"):
            lines.append("             FxLibraryGlobals at %s" % w["fx_library_globals"])
    else:
        lines.append("Wdf01000:    not loaded (no KMDF)")
    for log in info.get("kmdf_ifr_logs") or []:
        lines.append("IFR log:     KMDF in-flight recorder of %s saved (%d bytes)" % (log["driver"], log["size"]))
    kd = info.get("kmdf_drivers") or []
    lines.append("")
    lines.append("KMDF drivers: %d%s" % (len(kd), " (from the %s)" % info["kmdf_drivers_source"]
                                         if info.get("kmdf_drivers_source") else ""))
    if kd:
        rows = [(d["name"] or "?", d["version"] or "-", d["tag"] or "-", d["globals"], d["driver"] or "-") for d in kd]
        lines.append(tabulate(rows, headers=["driver", "KMDF", "tag", "globals", "FxDriver"]))
    for note in session.notes:
        lines.append("note: %s" % note)
    if len(problems):
        lines.append("")
        lines.append("Problems:")
        lines.append(tabulate([(p.severity, p.code, hx(p.address), p.message) for p in problems],
                              headers=["severity", "code", "address", "message"]))
    return "\n".join(lines)


def execute(session, args, markup=None):
    info, drivers, problems = gather(session, args)
    if args.json:
        doc = rep.build_report(session, _driver_infos(drivers), [], problems, extra={"info": info}, command=NAME)
        return command.exit_code(problems), rep.dumps(doc)
    return command.exit_code(problems), render_text(session, info, problems)


def parse_args(argv):
    return make_parser().parse_args(argv)


def main(argv=None):
    return command.standard_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
