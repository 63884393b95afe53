"""``info`` as text: the triage headline (on a crash), then the source,
OS, architecture, bugcheck, Wdf01000 and the KMDF drivers of a
:class:`~wdfdbg.analysis.info.SourceInfo`."""

from tabulate import tabulate

from wdfdbg.analysis.numbers import refuse_negative_hex
from wdfdbg.decoders.bugcheck import code_text
from wdfdbg.render.cells import NOT_CAPTURED, UNKNOWN, hex_or, hexn, ptr_text, tag_text
from wdfdbg.render.headline import headline_lines
from wdfdbg.render.markup import PLAIN
from wdfdbg.render.text import source_what, source_where

ARCH_NAMES = {"x64": "x64 (AMD64)", "arm64": "ARM64", "x86": "x86"}
# where info's list of KMDF drivers came from (analysis/info.kmdf_drivers), in words
DRIVERS_FROM = {
    "driver list (FxLibraryGlobals)": "the framework's driver list (FxLibraryGlobals)",
    "driver list (FxLibraryGlobals), incomplete": "the framework's driver list (FxLibraryGlobals), which is incomplete",
    "KMDF driver table in the dump's secondary data": "KMDF's driver table saved in the dump",
    "scan of memory": "a scan of memory",
}
VERSION_FROM = {"kmdf-driver-table": "KMDF's driver table saved in the dump",
                "FxLibraryGlobals.BugCheckDriverInfo[0]": "FxLibraryGlobals.BugCheckDriverInfo[0]",
                "source": "the source"}


def render_info(session, si, problems, triage=None, m=PLAIN):
    """The text of ``info``; ``triage``: the headline's facts, printed first."""
    head = list(headline_lines(triage, m)) if triage else []
    if head:
        head.append("")
    lines = []  # plain text, escaped for DML at the end (names from the dump may hold '<' and '&')
    lines.append("source:      %s" % source_where(session))
    lines.append("kind:        %s%s" % (source_what(session), " (DumpType %d)" % si.dump_type
                                         if si.from_dump and si.dump_type is not None else ""))
    if si.description and not si.from_dump:
        lines.append("description: %s" % si.description)
    lines.append("os build:    %s" % (si.os_build if si.os_build is not None else UNKNOWN))
    types = session.layouts.describe()
    if types.get("profile_note"):
        lines.append("layout:      built-in profile %s, %s" % (types["profile"], types["profile_note"]))
    lines.append("arch:        %s, %d-bit pointers" % (ARCH_NAMES.get(si.arch, si.arch), 8 * si.pointer_size))
    if si.processors is not None:
        lines.append("processors:  %d" % si.processors)
    lines.extend(bugcheck_lines(si.bugcheck))
    if si.context:
        lines.append("context:     %s" % ", ".join("%s=%s" % (k, hex_or(v, NOT_CAPTURED))
                                                   for k, v in sorted(si.context.items())))
    if si.captured_bytes is not None:
        lines.append("memory:      %s" % memory_text(si))
    lines.append("drivers:     %d loaded" % si.loaded_drivers)
    lines.extend(framework_lines(si.framework))
    for name, size in si.kmdf_ifr_logs:
        lines.append("IFR log:     KMDF in-flight recorder of %s saved (%s bytes)" % (name, hexn(size)))
    kd = si.kmdf_drivers
    lines.append("")
    source = DRIVERS_FROM.get(si.kmdf_drivers_source, si.kmdf_drivers_source)
    lines.append("KMDF drivers: %d%s" % (len(kd), " (from %s)" % source if source else ""))
    if kd:
        # a field of FX_DRIVER_GLOBALS that the dump did not hold is "not captured"
        rows = [(d.name or UNKNOWN, d.version or UNKNOWN, tag_text(d.tag), hex_or(d.globals, UNKNOWN),
                 ptr_text(d.driver, NOT_CAPTURED)) for d in kd]
        lines.append(tabulate(rows, headers=["driver", "KMDF", "tag", "globals", "FxDriver"]))
    for note in session.notes:
        lines.append("note: %s" % note)
    if len(problems):
        lines.append("")
        lines.append("Problems:")
        lines.append(tabulate([(p.severity, p.code, hex_or(p.address, "none"), p.message) for p in problems],
                              headers=["severity", "code", "address", "message"]))
    return refuse_negative_hex("\n".join(head + [m.text(line) for line in lines]), exempt=[session.path])


def memory_text(si):
    """What the source holds: a dump's saved data blocks (and the other
    copies it keeps), or a snapshot's captured bytes."""
    if si.data_blocks is not None and si.data_block_bytes is not None:
        text = "%d saved data blocks holding %s bytes (%s)" % (si.data_blocks, hexn(si.data_block_bytes),
                                                               _about(si.data_block_bytes))
        more = si.captured_bytes - si.data_block_bytes
        if more > 0:
            text += "; %s bytes readable in all, with the call-stack and debugger-data copies" % hexn(si.captured_bytes)
        return text
    return "%s bytes captured (%s)" % (hexn(si.captured_bytes), _about(si.captured_bytes))


def _about(n):
    for unit, size in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return "about %.1f %s" % (n / float(size), unit)
    return "under 1 KB"


def bugcheck_lines(bc):
    if not bc:
        return ["bugcheck:    none"]
    lines = ["bugcheck:    %s %s" % (code_text(bc["code"]), bc.get("name") or ""),
             "             parameters %s" % ", ".join(bc["parameters"])]
    for k in sorted(bc.get("decoded") or {}):
        v = bc["decoded"][k]
        lines.append("             %s: %s" % (k, v if v is not None else UNKNOWN))
    return lines


def framework_lines(fw):
    if fw is None:
        return ["Wdf01000:    not loaded (no KMDF)"]
    fname = (fw.path or "Wdf01000.sys").replace("/", "\\").rsplit("\\", 1)[-1]
    parts = ["%s at %s" % (fname, hex_or(fw.base, UNKNOWN))]
    if fw.size:
        parts.append("size %s" % hexn(fw.size))
    if fw.version:
        parts.append("KMDF %s (from %s)" % (fw.version, VERSION_FROM.get(fw.version_source, fw.version_source)))
    if fw.timestamp:
        parts.append("image timestamp %s" % hexn(fw.timestamp))
    lines = ["Wdf01000:    %s" % ", ".join(parts)]
    if fw.library_globals is not None:
        lines.append("             FxLibraryGlobals at %s" % hexn(fw.library_globals))
    return lines
