"""The JSON reports (``wdfdbg.report/1``) of ``memory``, ``lookaside``,
``mdl``, ``descriptor``, ``info`` and ``scan``: the common document of
:func:`wdfdbg.render.report.build_report` with each command's own top-level
key (``memory``, ``dump``, ``descriptor``, ``mdls``, ``info``, ``scan``...),
as one line of text."""

from wdfdbg.analysis.numbers import refuse_negative_hex
from wdfdbg.analysis.single import owners
from wdfdbg.render import report as rep
from wdfdbg.render.cells import hex_or, hexn


def memory_report(session, found, name="memory"):
    rep.assign_problems(found.nodes, found.problems)
    extra = {"memory": found.record}
    if found.preview is not None:
        extra["dump"] = dump_json(*found.preview)
    doc = rep.build_report(session, owners(found.drivers, found.node), found.nodes, found.problems,
                           extra=extra, command=name)
    return _dumps(session, doc)


def dump_json(address, n, chunks):
    """``--dump``'s bytes: hex, ``??`` for each unreadable byte."""
    data = []
    readable = True
    for _a, size, b in chunks:
        if b is None:
            readable = False
            data.extend([None] * size)
        else:
            data.extend(bytearray(b))
    hexes = "".join("%02x" % b if b is not None else "??" for b in data)
    return {"address": hexn(address), "length": n, "hex": hexes, "readable": readable}


def descriptor_report(session, found, name="descriptor"):
    rep.assign_problems(found.nodes, found.problems)
    desc = found.descriptor
    doc = rep.build_report(session, owners(found.drivers, found.node), found.nodes, found.problems,
                           extra={"descriptor": desc}, command=name, extra_mdls=len(desc.get("mdls") or []))
    return _dumps(session, doc)


def mdl_report(session, found, allocated, name="mdl"):
    extra = {"mdls": found.chain}
    if allocated:
        extra["allocated_mdls"] = found.allocated
    doc = rep.build_report(session, found.drivers, [], found.problems, extra=extra, command=name,
                           extra_mdls=len(found.chain) + sum(1 for e in found.allocated if e.get("record")))
    return _dumps(session, doc)


def lookaside_report(session, found, name="lookaside"):
    rep.assign_problems(found.nodes, found.problems)
    extra = {"lookaside_note": found.note} if found.note else None
    doc = rep.build_report(session, owners(found.drivers, found.node), found.nodes, found.problems,
                           extra=extra, command=name)
    return _dumps(session, doc)


def scan_report(session, found, name="scan"):
    rep.assign_problems(found.nodes, found.problems)
    doc = rep.build_report(session, found.drivers, found.nodes, found.problems,
                           extra={"scan": found.stats.to_json()}, command=name)
    return _dumps(session, doc)


def info_report(session, si, problems, name="info", triage=None):
    """``triage``: the headline's facts (``analysis/info.info_triage``),
    written under ``triage`` with its text lines under ``headline``, as in
    memtree's report."""
    drivers = [d.driver_info() for d in si.kmdf_drivers]
    extra = {"info": info_json(si)}
    if triage is not None:
        from wdfdbg.render.headline import headline_lines
        extra["triage"] = dict(triage, headline=headline_lines(triage))
    doc = rep.build_report(session, drivers, [], problems, extra=extra, command=name)
    return _dumps(session, doc)


def _dumps(session, doc):
    """One line of JSON, refused if a number in it is negative hex."""
    text = rep.dumps(doc)
    return refuse_negative_hex(text, exempt=[rep.dumps(session.path)] if session.path else (), json=True)


def _hx(v):
    return hex_or(v, None)


def info_json(si):
    """The report's ``info`` key for a :class:`~wdfdbg.analysis.info.SourceInfo`."""
    d = {"kind": si.kind, "description": si.description, "origin": si.origin, "arch": si.arch,
         "pointer_size": si.pointer_size, "os_build": si.os_build}
    context = dict((k, _hx(v)) for k, v in sorted(si.context.items()))
    if si.from_dump:
        d["dump_type"] = si.dump_type
        d["major_version"] = si.major_version
        d["processors"] = si.processors
        d["directory_table_base"] = _hx(si.directory_table_base)
        d["ps_loaded_module_list"] = _hx(si.ps_loaded_module_list)
        d["kd_debugger_data_block"] = _hx(si.kd_debugger_data_block)
        d["context"] = context
        d["data_blocks"] = si.data_blocks
        d["data_block_bytes"] = si.data_block_bytes
        d["captured_bytes"] = si.captured_bytes
        d["secondary_data"] = [{"tag": tag, "name": nm, "size": size} for tag, nm, size in si.secondary_data]
        d["kmdf_ifr_logs"] = [{"driver": nm, "size": size} for nm, size in si.kmdf_ifr_logs]
    else:
        if si.dump_type is not None:
            d["dump_type"] = si.dump_type
        if si.processors is not None:
            d["processors"] = si.processors
        if context:
            d["context"] = context
        if si.captured_bytes is not None:
            d["captured_bytes"] = si.captured_bytes
    d["loaded_drivers"] = si.loaded_drivers
    fw = si.framework
    d["wdf01000"] = None if fw is None else {
        "base": _hx(fw.base), "size": fw.size, "path": fw.path, "timestamp": _hx(fw.timestamp),
        "version": fw.version, "version_source": fw.version_source,
        "fx_library_globals": _hx(fw.library_globals),
    }
    d["kmdf_drivers_source"] = si.kmdf_drivers_source
    d["kmdf_drivers"] = [{"name": k.name, "globals": _hx(k.globals), "version": k.version,
                          "tag": k.tag, "driver": _hx(k.driver)} for k in si.kmdf_drivers]
    return d
