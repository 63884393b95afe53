"""The facts behind ``info``: what a dump or snapshot is (kind, OS build,
architecture, processors, the dump header's pointers), Wdf01000 (base,
version) and the KMDF drivers present.

KMDF drivers come from the driver list (``FxLibraryGlobals``) when it can be
walked, else from KMDF's driver table saved in a triage dump's secondary
data, else from a scan of memory; :attr:`SourceInfo.kmdf_drivers_source`
says which. Numbers stay numbers here; :mod:`wdfdbg.render.info_text` and
:mod:`wdfdbg.render.json_reports` format them.
"""

from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders.common import cstring, read_record_partial
from wdfdbg.errors import LayoutError, ReadError
from wdfdbg.problems import ProblemLog
from wdfdbg.sources.minidump import kmdf_driver_table

LIST_SOURCE = "driver list (FxLibraryGlobals)"


class KmdfDriver(object):
    """One KMDF client driver as ``info`` lists it (``version`` "1.15" when
    the dump's driver table gives it)."""

    __slots__ = ("name", "globals", "version", "tag", "driver")

    def __init__(self, name, globals_addr, version, tag, driver):
        self.name = name
        self.globals = globals_addr
        self.version = version
        self.tag = tag
        self.driver = driver

    def driver_info(self):
        """The :class:`~wdfdbg.decoders.drivers.DriverInfo` a report's
        ``drivers`` list is built from."""
        di = drv.DriverInfo(self.globals)
        di.name, di.tag, di.driver = self.name, self.tag, self.driver
        return di


class Framework(object):
    """Wdf01000: its module (``base`` None when not in the module list) and
    version, and where ``Wdf01000!FxLibraryGlobals`` is."""

    __slots__ = ("base", "size", "path", "timestamp", "version", "version_source", "library_globals")

    def __init__(self, module, version, version_source, library_globals):
        self.base = module.base if module else None
        self.size = module.size if module else None
        self.path = getattr(module, "path", None) if module else None
        self.timestamp = module.timestamp if module is not None and module.timestamp else None
        self.version = version
        self.version_source = version_source
        self.library_globals = library_globals


class SourceInfo(object):
    """What ``info`` reports. ``from_dump`` says the source is a dump file
    whose header gave the dump fields (``dump_type`` to ``kmdf_ifr_logs``);
    otherwise only what the source knows is set (None: not known).
    ``bugcheck`` is the decoded bugcheck (the report's ``bugcheck`` dict)."""

    __slots__ = ("kind", "description", "origin", "arch", "pointer_size", "os_build", "from_dump",
                 "dump_type", "major_version", "processors", "directory_table_base", "ps_loaded_module_list",
                 "kd_debugger_data_block", "context", "data_blocks", "data_block_bytes", "captured_bytes",
                 "secondary_data",
                 "kmdf_ifr_logs", "loaded_drivers", "framework", "kmdf_drivers", "kmdf_drivers_source", "bugcheck")

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, None)
        self.from_dump = False
        self.context = {}
        self.secondary_data = []
        self.kmdf_ifr_logs = []
        self.kmdf_drivers = []


def gather_info(session, allow_scan=True, bugcheck=True):
    """``(SourceInfo, problems)`` for an open session. ``allow_scan``: scan
    memory for KMDF drivers when neither the driver list nor the dump's
    driver table names them; ``bugcheck``: decode the bugcheck too."""
    problems = ProblemLog()
    target = session.target
    backend = getattr(target, "backend", None)
    dump = getattr(backend, "dump", None)
    si = SourceInfo()
    si.kind, si.description, si.origin = session.source_kind, getattr(backend, "description", None), session.origin
    si.arch, si.pointer_size, si.os_build = target.arch, target.pointer_size, target.os_build
    if dump is not None:
        si.from_dump = True
        si.dump_type, si.major_version, si.processors = dump.dump_type, dump.major_version, dump.processors
        si.directory_table_base = dump.directory_table_base
        si.ps_loaded_module_list = dump.ps_loaded_module_list
        si.kd_debugger_data_block = dump.kd_debugger_data_block
        si.context = dict(dump.context)
        si.data_blocks = dump.data_blocks
        # the saved data blocks alone; captured_bytes adds the call-stack,
        # debugger-data and data-page copies (minidump.TriageDump segments)
        if si.data_blocks is not None:
            si.data_block_bytes = sum(size for _va, _off, size, prio in getattr(dump, "segments", ()) if prio == 0)
        si.captured_bytes = backend.captured_bytes()
        si.secondary_data = [(str(b.tag), b.name, b.size) for b in dump.blobs]
        si.kmdf_ifr_logs = list(dump.kmdf_ifr_logs())
    else:
        si.dump_type = getattr(backend, "dump_type", None)
        si.processors = getattr(backend, "processors", None)
        si.context = dict(getattr(backend, "context", None) or {})
        ranges = target.ranges()
        if ranges is not None and session.source_kind == "snapshot":
            si.captured_bytes = sum(s for _, s in ranges)
    for note in getattr(backend, "notes", None) or []:
        if note not in session.notes:
            session.notes.append(note)
    si.loaded_drivers = len(target.modules())
    wdf = target.module("Wdf01000")
    version, vsource = framework_version(session)
    if wdf is not None or version is not None:
        si.framework = Framework(wdf, version, vsource, target.symbol("Wdf01000!FxLibraryGlobals"))
    si.kmdf_drivers, si.kmdf_drivers_source = kmdf_drivers(session, problems, allow_scan=allow_scan)
    if bugcheck:
        si.bugcheck = bugcheck_facts(session)
    return si, problems


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
                rec = ent.decode(target.read(tbl, ent.extent))
                ver = drv.entry_version(rec)
                if ver and cstring(rec.get("DriverName")):
                    return "%d.%d" % (ver[0], ver[1]), "FxLibraryGlobals.BugCheckDriverInfo[0]"
        except (ReadError, LayoutError):
            pass
    if target.kmdf_version:
        return target.kmdf_version, "source"
    return None, None


def kmdf_drivers(session, problems, allow_scan=True):
    """(list of :class:`KmdfDriver`, where the list came from)."""
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
        drv.fill_versions(session, listed)   # the dump's table, else FxLibraryGlobals.BugCheckDriverInfo
        return [KmdfDriver(d.name, d.globals, versions.get(d.globals) or d.kmdf_version, d.tag, d.driver)
                for d in listed], LIST_SOURCE
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
            out.append(KmdfDriver(e.name, e.globals, "%d.%d" % (e.version[0], e.version[1]), tag, fxdriver))
        return out, "KMDF driver table in the dump's secondary data"
    if listed:
        problems.extend(log)
        return [KmdfDriver(d.name, d.globals, None, d.tag, d.driver) for d in listed], LIST_SOURCE + ", incomplete"
    if allow_scan and target.ranges() is not None:
        from wdfdbg.decoders.scan import scan
        res = scan(session, ProblemLog())
        with_objects = set(n.header.globals for n in res.nodes)
        return [KmdfDriver(d.name, d.globals, None, d.tag, d.driver)
                for d in res.drivers if d.globals in with_objects], "scan of memory"
    return [], None


TRIAGE_MAX_OBJECTS = 1 << 16   # info's triage walk stops here (memtree shows the rest)


def info_triage(session, si, problems, walk=True):
    """The ``triage`` facts for ``info`` (``analysis/headline.build_triage``).

    On a source with a bugcheck (``walk``: unless ``--no-scan``), the
    headline's walk-dependent facts (the locks the crashing thread holds,
    the top problems) come from memtree's analysis run with nothing kept
    (no contexts, at most :data:`TRIAGE_MAX_OBJECTS` objects): on a triage
    dump that is the scan of its saved blocks. Otherwise, or with
    ``walk=False``, only what the source and ``info`` itself know."""
    from wdfdbg.analysis.headline import build_triage
    drivers = [d.driver_info() for d in si.kmdf_drivers]
    if walk and session.target.bugcheck() is not None:
        from wdfdbg.analysis import tree
        analysis = tree.TreeAnalysis(session, tree.TreeOptions(max_objects=TRIAGE_MAX_OBJECTS, contexts=False))
        notes = list(session.notes)
        try:
            analysis.run(tree.Sink())
        except (ReadError, LayoutError):
            analysis = None
        session.notes[:] = notes   # the walk's notes ("found by scanning") are the headline's to tell
        if analysis is not None:
            return build_triage(session, drivers or analysis.drivers, list(problems) + list(analysis.problems),
                                analysis.feed)
    return build_triage(session, drivers, problems)


def bugcheck_facts(session):
    """The source's bugcheck, decoded (the report's ``bugcheck`` dict), or
    None when it has none."""
    bc = session.target.bugcheck()
    if bc is None:
        return None
    from wdfdbg.decoders.bugcheck import describe_bugcheck
    return describe_bugcheck(session, bc)
