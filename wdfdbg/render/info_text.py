"""``info`` as text: the source, OS, architecture, bugcheck, Wdf01000 and
the KMDF drivers of a :class:`~wdfdbg.analysis.info.SourceInfo`."""

from tabulate import tabulate

from wdfdbg.analysis.numbers import refuse_negative_hex
from wdfdbg.render.cells import hex_or, hexn

ARCH_NAMES = {"x64": "x64 (AMD64)", "arm64": "ARM64", "x86": "x86"}


def render_info(session, si, problems):
    """The text of ``info``."""
    lines = ["source:      %s" % (session.path or "live target")]
    desc = si.description
    if desc and len(desc) > 60:
        lines.append("kind:        %s (origin %s)" % (si.kind, si.origin or "-"))
        lines.append("description: %s" % desc)
    else:
        lines.append("kind:        %s%s (origin %s)" % (si.kind, ": %s" % desc if desc else "", si.origin or "-"))
    lines.append("os build:    %s" % (si.os_build if si.os_build is not None else "?"))
    lines.append("arch:        %s, %d-bit pointers" % (ARCH_NAMES.get(si.arch, si.arch), 8 * si.pointer_size))
    if si.processors is not None:
        lines.append("processors:  %d" % si.processors)
    lines.extend(bugcheck_lines(si.bugcheck))
    if si.context:
        lines.append("context:     %s" % ", ".join("%s=%s" % (k, hex_or(v, None)) for k, v in sorted(si.context.items())))
    if si.captured_bytes is not None:
        extra = " in %d data blocks" % si.data_blocks if si.data_blocks is not None else ""
        lines.append("memory:      %d bytes captured%s" % (si.captured_bytes, extra))
    lines.append("drivers:     %d loaded" % si.loaded_drivers)
    lines.extend(framework_lines(si.framework))
    for name, size in si.kmdf_ifr_logs:
        lines.append("IFR log:     KMDF in-flight recorder of %s saved (%d bytes)" % (name, size))
    kd = si.kmdf_drivers
    lines.append("")
    lines.append("KMDF drivers: %d%s" % (len(kd), " (from the %s)" % si.kmdf_drivers_source
                                         if si.kmdf_drivers_source else ""))
    if kd:
        rows = [(d.name or "?", d.version or "-", d.tag or "-", hex_or(d.globals, None), hex_or(d.driver, "-")) for d in kd]
        lines.append(tabulate(rows, headers=["driver", "KMDF", "tag", "globals", "FxDriver"]))
    for note in session.notes:
        lines.append("note: %s" % note)
    if len(problems):
        lines.append("")
        lines.append("Problems:")
        lines.append(tabulate([(p.severity, p.code, hex_or(p.address, None), p.message) for p in problems],
                              headers=["severity", "code", "address", "message"]))
    return refuse_negative_hex("\n".join(lines), exempt=[session.path])


def bugcheck_lines(bc):
    if not bc:
        return ["bugcheck:    none"]
    lines = ["bugcheck:    %s %s" % (bc["code"], bc.get("name") or ""),
             "             parameters %s" % ", ".join(bc["parameters"])]
    for k in sorted(bc.get("decoded") or {}):
        lines.append("             %s: %s" % (k, bc["decoded"][k]))
    return lines


def framework_lines(fw):
    if fw is None:
        return ["Wdf01000:    not loaded (no KMDF)"]
    fname = (fw.path or "Wdf01000.sys").replace("/", "\\").rsplit("\\", 1)[-1]
    parts = ["%s at %s" % (fname, hex_or(fw.base, "?"))]
    if fw.size:
        parts.append("size %s" % hexn(fw.size))
    if fw.version:
        parts.append("KMDF %s (from %s)" % (fw.version, fw.version_source))
    if fw.timestamp:
        parts.append("image timestamp %s" % hexn(fw.timestamp))
    lines = ["Wdf01000:    %s" % ", ".join(parts)]
    if fw.library_globals is not None:
        lines.append("             FxLibraryGlobals at %s" % hexn(fw.library_globals))
    return lines
