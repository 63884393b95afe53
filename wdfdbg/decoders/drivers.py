"""KMDF drivers: ``Wdf01000!FxLibraryGlobals`` -> ``FxDriverGlobalsList`` ->
each ``_FX_DRIVER_GLOBALS`` (kmdf.md §9).

Dumps often hold only part of a globals block (a triage dump keeps the first
0x100 bytes and part of ``Public``), so fields are read as far as readable.
The name comes from ``Public.DriverName``, else the bugcheck driver-info
table, else the module holding ``ImageAddress``.
"""

from wdfdbg.decoders.common import cstring, read_record_partial, tag_string, validate_walk
from wdfdbg.errors import LayoutError, ReadError
from wdfdbg.problems import is_partial_dump

MAX_DRIVERS = 4096
FULL_MASK = {8: 0xFFFFFFFFFFFFFFF8, 4: 0xFFFFFFF8}


class DriverInfo(object):
    """One KMDF client driver."""

    __slots__ = ("globals", "name", "name_source", "tag", "driver", "verifier_on", "debug_extension",
                 "image_address", "image_size", "handle_mask", "pool_tracking", "kmdf_version")

    def __init__(self, globals_addr):
        self.globals = globals_addr
        self.name = None
        self.name_source = None
        self.tag = None
        self.driver = None
        self.verifier_on = None
        self.debug_extension = None
        self.image_address = None
        self.image_size = None
        self.handle_mask = None
        self.pool_tracking = None
        self.kmdf_version = None  # "major.minor" the driver was built against (fill_versions)

    def label(self):
        return self.name or ("<globals 0x%x>" % self.globals)


def read_driver(session, globals_addr, dump_names=None):
    """Decode one ``_FX_DRIVER_GLOBALS``; returns (DriverInfo, first
    unreadable address or None). Raises ReadError if none of it is readable.
    ``dump_names()`` gives globals -> name from the bugcheck driver-info
    table; it is called only for a driver whose globals hold no name."""
    rec, bad = read_record_partial(session, "Wdf01000!_FX_DRIVER_GLOBALS", globals_addr)
    d = DriverInfo(globals_addr)
    d.handle_mask = rec.get("WdfHandleMask")
    d.tag = tag_string(rec.get("Tag")) if "Tag" in rec else None
    d.driver = rec.get("Driver")
    d.debug_extension = rec.get("DebugExtension")
    d.verifier_on = bool(rec["FxVerifierOn"]) if "FxVerifierOn" in rec else None
    d.pool_tracking = bool(rec["FxPoolTrackingOn"]) if "FxPoolTrackingOn" in rec else None
    d.image_address = rec.get("ImageAddress")
    d.image_size = rec.get("ImageSize")
    name = cstring(rec.get("Public.DriverName"))
    if not name:
        # A name captured only in part (triage dumps keep the first bytes).
        try:
            lay = session.layouts.get("Wdf01000!_FX_DRIVER_GLOBALS")
            off = lay.offset("Public.DriverName")
            name = session.target.read_cstring(globals_addr + off, 32) or None
        except (ReadError, LayoutError):
            name = None
    if name:
        d.name, d.name_source = name, "globals"
    elif dump_names is not None and globals_addr in dump_names():
        d.name, d.name_source = dump_names()[globals_addr], "bugcheck-driver-info"
    elif d.image_address:
        mod = session.target.module_of(d.image_address)
        if mod is not None:
            d.name, d.name_source = mod.name, "module"
    return d, bad


def dump_driver_table(session):
    """globals address -> (name, (major, minor, build)) from
    ``FxLibraryGlobals.BugCheckDriverInfo`` (entry 0, the framework itself,
    is left out)."""
    out = {}
    lib = session.target.symbol("Wdf01000!FxLibraryGlobals")
    if lib is None:
        return out
    try:
        lg, _ = read_record_partial(session, "Wdf01000!FxLibraryGlobalsType", lib)
        table = lg.get("BugCheckDriverInfo")
        count = lg.get("BugCheckDriverInfoIndex")
        ent = session.layouts.get("Wdf01000!_FX_DUMP_DRIVER_INFO_ENTRY")
    except (ReadError, LayoutError):
        return out
    if not table or not count or count > 1024:
        return out
    for i in range(1, count):
        try:
            rec = ent.decode(session.target.read(table + i * ent.size, ent.extent))
        except ReadError:
            break
        g = rec.get("FxDriverGlobals")
        n = cstring(rec.get("DriverName"))
        version = entry_version(rec)
        if g and n:
            out[g] = (n, version)
    return out


def entry_version(rec):
    """(major, minor, build) of a decoded ``_FX_DUMP_DRIVER_INFO_ENTRY``,
    or None: ``Version`` is a ``_WDF_VERSION`` struct {Major, Minor, Build}
    in a PDB's types and ULONG[3] in the profiles; read either."""
    if "Version.Major" in rec:
        version = (rec.get("Version.Major"), rec.get("Version.Minor"), rec.get("Version.Build"))
    else:
        version = rec.get("Version")
    if not isinstance(version, tuple) or len(version) < 2 or not isinstance(version[0], int) \
            or not isinstance(version[1], int):
        return None
    return version


def dump_driver_names(session):
    """globals address -> name from ``FxLibraryGlobals.BugCheckDriverInfo``."""
    return dict((g, nv[0]) for g, nv in dump_driver_table(session).items())


def fill_versions(session, drivers):
    """Set ``kmdf_version`` ("major.minor", the KMDF version a driver was
    built against) on the drivers that lack it: from the source's own KMDF
    driver table (triage dumps, converted snapshots), else from
    ``FxLibraryGlobals.BugCheckDriverInfo`` in memory (read once, only when
    some driver still lacks it); None when neither knows. Returns
    ``drivers``."""
    missing = [d for d in drivers if d.kmdf_version is None and d.globals]
    if not missing:
        return drivers
    known = {}
    try:
        from wdfdbg.sources.minidump import kmdf_driver_table
        for e in kmdf_driver_table(getattr(session.target, "backend", None)):
            if e.globals:
                known[e.globals] = tuple(e.version)
    except ImportError:
        pass
    if any(d.globals not in known for d in missing):
        for g, (_name, version) in dump_driver_table(session).items():
            if version is not None:
                known.setdefault(g, tuple(version))
    for d in missing:
        v = known.get(d.globals)
        if v is not None and len(v) >= 2 and (v[0] or v[1]):  # 0.0: a table entry without a version
            d.kmdf_version = "%d.%d" % (v[0], v[1])
    return drivers


class _Lazy(object):
    """Call ``fn`` once, on first use (memory reads only when needed)."""

    def __init__(self, fn):
        self.fn = fn
        self.value = None

    def __call__(self):
        if self.fn is not None:
            self.value, self.fn = self.fn(), None
        return self.value


def driver_list_head(session):
    lib = session.target.symbol("Wdf01000!FxLibraryGlobals")
    if lib is None:
        return None
    lay = session.layouts.get("Wdf01000!FxLibraryGlobalsType")
    return lib + lay.offset("FxDriverGlobalsList")


def for_each_driver(session, problems, limit=MAX_DRIVERS):
    """Yield :class:`DriverInfo` for each globals block on the library's
    list, checking links as it goes (cycle, Blink, unreadable, bounds)."""
    target = session.target
    try:
        head = driver_list_head(session)
    except LayoutError as e:
        problems.add("NO_DRIVERS", None, "cannot find the driver list: %s" % e)
        return
    if head is None:
        # a triage dump never holds the driver list: its headline says so
        # once, among what this kind of dump cannot show
        if not is_partial_dump(session):
            problems.add("NO_DRIVERS", None, "symbol Wdf01000!FxLibraryGlobals is not available: the driver list cannot be found")
        return
    names = _Lazy(lambda: dump_driver_names(session))
    ptr = target.pointer_size
    try:
        entry = target.read_pointer(head)
    except ReadError as e:
        problems.add("UNREADABLE", e.address, "FxLibraryGlobals.FxDriverGlobalsList at 0x%x is unreadable" % head)
        return
    prev = head
    seen = set()
    n = 0
    while entry != head:
        if not entry:
            problems.add("DRIVER_LIST_CORRUPT", prev, "driver globals list: NULL Flink at 0x%x" % prev)
            return
        if entry in seen:
            problems.add("DRIVER_LIST_CORRUPT", head, "driver globals list loops back to 0x%x" % entry)
            return
        if n >= limit:
            problems.add("WALK_LIMIT", head, "driver globals list: stopped after %d entries" % limit)
            return
        seen.add(entry)
        n += 1
        try:
            flink = target.read_pointer(entry)
            blink = target.read_pointer(entry + ptr)
        except ReadError as e:
            problems.add("UNREADABLE", e.address, "driver globals 0x%x are unreadable" % entry)
            return
        if blink != prev:
            problems.add("DRIVER_LIST_CORRUPT", entry, "driver globals 0x%x: Blink 0x%x, expected 0x%x" % (entry, blink, prev))
        try:
            d, _bad = read_driver(session, entry, names)
        except ReadError as e:
            problems.add("UNREADABLE", e.address, "driver globals 0x%x are unreadable" % entry)
            d = DriverInfo(entry)
        if d.handle_mask is not None and d.handle_mask != FULL_MASK[ptr]:
            problems.add("DRIVER_LIST_CORRUPT", entry, "driver globals 0x%x: WdfHandleMask 0x%x is not ~7" % (entry, d.handle_mask))
        yield d
        prev = entry
        entry = flink


def validate_driver_list(session, limit=MAX_DRIVERS):
    """Like :func:`for_each_driver` but raise CorruptionError on the first
    problem (a broken link, a globals block that is not one); returns the
    :class:`DriverInfo` list."""
    return validate_walk(lambda log: for_each_driver(session, log, limit))


def driver_names(drivers):
    return dict((d.globals, d.name) for d in drivers)
