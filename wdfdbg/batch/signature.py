"""The signature of a dump: a bucket id like ``!analyze``'s FAILURE_BUCKET_ID.

    CODE/REASON/DRIVER/KMDF/TYPE[/FRAME]   e.g. 0x10D/INVALID_HANDLE/AmdPPM/1.15/WDFMEMORY

Five fields, always present, ``-`` when unknown; a sixth, FRAME, when the
record has the crash's stack. The rules (``docs/batch.md``
says why each one neither lumps unrelated crashes together nor sprays one
bug over many buckets):

CODE    the bugcheck code in upper-case hex, ``0x10D``; the "_M" variants
        (0x10000000 set: 0x1000007E) fold into their base code (0x7E), the
        same bugcheck with the same parameters (``decoders/bugcheck.py``
        M_FLAG). No bugcheck (a live snapshot): ``NONE``.
REASON  0x10D: the violation (parameter 1) without ``WDF_``:
        ``INVALID_HANDLE``; an unknown one as its hex. Exception bugchecks
        (0x1E, 0x7E, 0x8E, 0x3B): the exception status without ``STATUS_``:
        ``ACCESS_VIOLATION``. Otherwise the code of the focus problem.
DRIVER  the driver the crash points at: 0x10D's parameter 4 (its
        FX_DRIVER_GLOBALS); else, when the report's triage found that the
        faulting address lies in a KMDF driver's image (``fault.driver``:
        matched by FX_DRIVER_GLOBALS.ImageAddress or KMDF's driver table),
        that driver's KMDF name; else the module of the faulting address
        (the decoded bugcheck's ``amdppm+0x334c``, else the triage's
        ``fault.module``); else the focus problem's driver. Spelled as the
        dump's KMDF driver list spells it (matched case-insensitively, a
        ``.sys`` dropped), so ``amdppm`` and ``AmdPPM`` are one driver.
KMDF    that driver's KMDF version, major.minor (``1.15``; a build number
        never splits a bucket), from the record's drivers, else from the
        triage's ``fault`` when it names the same driver.
TYPE    0x10D/INVALID_HANDLE: the WDF type the DDI asked for (parameter 3;
        0x100A, IFX_TYPE_MEMORY, is WDFMEMORY, kmdf.md §2); otherwise the
        DDI type of the object the focus problem is at, when that problem
        belongs to DRIVER.

FRAME   (only when the record has the crash's stack, ``stack_facts``) the
        first frame that is not in the skip list: ``module!function`` when
        the frame has a symbol (the offset dropped, so two crashes in one
        function bucket together), else ``module+0xOFFSET`` (without
        symbols a return address is the finest name there is). Skipped, as
        Socorro's signature rules skip "sentinel" and "prefix" frames:
        frame 0 when it is the entry of the bugcheck routine, the bugcheck
        and exception-dispatch routines (``SKIP_FUNCTIONS``), and every
        Wdf01000 frame (the framework's own dispatch: the driver frame
        below it is the one that tells the bug). When DRIVER is unknown,
        that frame's module fills it in unless it is the kernel or HAL.

The focus problem is the most severe one that is about the driver, not
the capture: ``info`` problems and the warnings UNREADABLE (memory the dump
did not keep), WALK_LIMIT and NO_DRIVERS never count. Among the rest:
errors before warnings, then by :data:`CODE_RANK`, then by driver and type
name: the choice depends on which problems a dump has, never on their
order, number, addresses or sizes.
"""

M_FLAG = 0x10000000  # decoders/bugcheck.py: the "_M" variants
EXCEPTION_BUGCHECKS = (0x1E, 0x7E, 0x8E, 0x3B)
IFX_TYPE_MEMORY = 0x100A  # an interface id, what WdfMemory* DDIs ask for (kmdf.md §2)

# Most telling first: broken structures, then bad handles and objects, then
# suspicions. Codes not listed rank after these, alphabetically.
CODE_RANK = ["CHILD_LIST_CYCLE", "CHILD_LIST_CORRUPT", "PARENT_MISMATCH", "DRIVER_LIST_CORRUPT", "MDL_CHAIN_CYCLE",
             "MDL_INCONSISTENT", "LOOKASIDE_INCONSISTENT", "MEMORY_OUT_OF_BOUNDS", "DESCRIPTOR_INVALID",
             "BAD_HANDLE", "NOT_AN_OBJECT", "UNREADABLE", "LIKELY_LEAK", "LOOKASIDE_ALWAYS_MISSES", "UNKNOWN_TYPE"]
_RANK = dict((c, i) for i, c in enumerate(CODE_RANK))
CAPTURE_WARNINGS = ("UNREADABLE", "WALK_LIMIT", "NO_DRIVERS")
SEVERITY_RANK = {"error": 0, "warning": 1}
# decoded keys that name where a crash happened, most direct first (decoders/bugcheck.py)
WHERE_KEYS = ("exception_address_symbol", "faulting_address_symbol", "caller", "callback")
UNKNOWN = "-"
# frames a signature never takes (decoders/stack.py names them module!symbol when symbols exist)
SKIP_FUNCTIONS = frozenset(("nt!KeBugCheckEx", "nt!KeBugCheck", "nt!KeBugCheck2", "nt!KiBugCheckDispatch",
                            "nt!KiExceptionDispatch", "nt!KiDispatchException", "nt!RtlDispatchException",
                            "nt!KiPageFault", "nt!KiGeneralProtectionFault", "nt!KiRaiseException",
                            "nt!RtlRaiseStatus", "nt!ExRaiseStatus", "nt!KiSystemServiceHandler",
                            "nt!PspSystemThreadStartup", "nt!KiStartSystemThread",
                            "nt!PspUnhandledExceptionInSystemThread",
                            "nt!PspSystemThreadStartup$filt$0", "nt!_C_specific_handler", "nt!KiBreakpointTrap"))
SKIP_MODULES = ("wdf01000",)
NOT_A_DRIVER = ("nt", "hal")
BUGCHECK_ENTRY_NOTE = "at the entry of the bugcheck routine"   # decoders/stack.py, frame 0's note


class Focus(object):
    """One problem as the signature sees it."""

    __slots__ = ("code", "severity", "driver", "wdf_type")

    def __init__(self, code, severity, driver, wdf_type):
        self.code = code
        self.severity = severity
        self.driver = driver
        self.wdf_type = wdf_type

    def sort_key(self):
        return (SEVERITY_RANK.get(self.severity, 9), _RANK.get(self.code, len(_RANK)), self.code,
                self.driver or "", self.wdf_type or "")


def focus_problem(problems):
    """The most severe driver problem of ``problems`` (Focus items), or None."""
    best = None
    for p in problems:
        if p.severity not in SEVERITY_RANK:
            continue
        if p.severity == "warning" and p.code in CAPTURE_WARNINGS:
            continue
        if best is None or p.sort_key() < best.sort_key():
            best = p
    return best


def _int(text):
    try:
        return int(str(text), 16)
    except (TypeError, ValueError):
        return None


def bugcheck_code(bugcheck):
    """The code as an int with "_M" folded, or None."""
    code = _int((bugcheck or {}).get("code"))
    if code is None:
        return None
    if code & 0xF0000000 == M_FLAG:
        code &= ~M_FLAG
    return code


def _token(text):
    """A field must not hold the separator or spaces."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in str(text)) or UNKNOWN


def _reason(code, bugcheck):
    decoded = bugcheck.get("decoded") or {}
    params = bugcheck.get("parameters") or []
    if code == 0x10D:
        v = decoded.get("violation")
        if v:
            return v[4:] if v.startswith("WDF_") else v
        p1 = _int(params[0]) if params else None
        return "0x%X" % p1 if p1 is not None else UNKNOWN
    if code in EXCEPTION_BUGCHECKS:
        status = decoded.get("exception_code") or ""
        parts = status.split()
        if len(parts) > 1:
            name = parts[1]
            return name[7:] if name.startswith("STATUS_") else name
        v = _int(parts[0]) if parts else None
        return "0x%X" % v if v is not None else UNKNOWN
    return None


def _module_of(where):
    """``amdppm+0x334c`` or ``nt!KeBugCheckEx+0x10`` -> module; None for a bare address."""
    if not isinstance(where, str) or not where or where.lower().startswith("0x"):
        return None
    for sep in ("!", "+"):
        where = where.split(sep, 1)[0]
    return where.strip() or None


def _bugcheck_driver(code, bugcheck, drivers, fault=None):
    decoded = bugcheck.get("decoded") or {}
    fault = fault or {}
    if code == 0x10D:
        if decoded.get("driver"):
            return decoded["driver"]
        g = _int(decoded.get("driver_globals"))
        for d in drivers:
            if g is not None and _int(d.get("globals")) == g and d.get("name"):
                return d["name"]
        return fault.get("driver")  # the triage's reading of parameter 4
    if fault.get("driver"):  # the faulting module is a KMDF driver's image: its KMDF name
        return fault["driver"]
    for key in WHERE_KEYS:
        mod = _module_of(decoded.get(key))
        if mod:
            return mod
    return fault.get("module")


def canonical_driver(name, drivers):
    """``name`` as the dump's driver list spells it."""
    if not name:
        return None
    bare = name[:-4] if name.lower().endswith(".sys") else name
    for d in drivers:
        if d.get("name") and d["name"].lower() == bare.lower():
            return d["name"]
    return bare


def major_minor(version):
    if not version:
        return UNKNOWN
    parts = str(version).split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else str(version)


def _version_of(name, drivers):
    for d in drivers:
        if name and d.get("name") and d["name"].lower() == name.lower() and d.get("kmdf_version"):
            return major_minor(d["kmdf_version"])
    return UNKNOWN


def _asked_type(bugcheck):
    params = bugcheck.get("parameters") or []
    p3 = _int(params[2]) if len(params) > 2 else None
    if p3 is None:
        return UNKNOWN
    if p3 == IFX_TYPE_MEMORY:
        return "WDFMEMORY"
    from wdfdbg.decoders.types import ddi_name
    return ddi_name(p3) or "0x%X" % p3


def _function(where):
    """``module!function`` without its offset, or None without a symbol."""
    if not isinstance(where, str) or "!" not in where:
        return None
    return where.split("+", 1)[0]


def signature_frame(frames):
    """The first frame of ``frames`` (``{where, module, trust, note}``)
    that the skip rules keep: ``(name, module)``, or None."""
    for i, f in enumerate(frames or ()):
        if not isinstance(f, dict):
            continue
        where, module = f.get("where"), f.get("module")
        if not isinstance(where, str) or not where or not isinstance(module, str):
            continue
        if i == 0 and f.get("note") == BUGCHECK_ENTRY_NOTE:
            continue
        func = _function(where)
        if func in SKIP_FUNCTIONS or module.lower() in SKIP_MODULES:
            continue
        return (func or where, module)
    return None


def signature(bugcheck, drivers, problems, fault=None, frames=None):
    """The signature string. ``bugcheck``: the report's bugcheck (or None);
    ``drivers``: record driver entries ({name, globals, kmdf_version});
    ``problems``: :class:`Focus` items; ``fault``: the record's ``fault``
    ({module, driver, ...} from the report's triage) or None; ``frames``:
    the record's ``stack`` or None (then the signature has five fields)."""
    focus = focus_problem(problems)
    code = bugcheck_code(bugcheck) if bugcheck else None
    reason = driver = wdf_type = None
    if code is not None:
        reason = _reason(code, bugcheck)
        driver = _bugcheck_driver(code, bugcheck, drivers, fault)
        violation = (bugcheck.get("decoded") or {}).get("violation")
        if code == 0x10D and violation == "WDF_INVALID_HANDLE":
            wdf_type = _asked_type(bugcheck)
    if reason is None and focus is not None:
        reason = focus.code
    if driver is None and focus is not None:
        driver = focus.driver
    top = signature_frame(frames) if frames is not None else None
    if driver is None and top is not None and top[1].lower() not in NOT_A_DRIVER:
        driver = top[1]
    driver = canonical_driver(driver, drivers)
    if wdf_type is None and focus is not None and focus.wdf_type:
        if driver is None or (focus.driver or "").lower() == driver.lower():
            wdf_type = focus.wdf_type
    version = _version_of(driver, drivers) if driver else UNKNOWN
    if version == UNKNOWN and driver and fault and (fault.get("driver") or "").lower() == driver.lower():
        version = major_minor(fault.get("kmdf_version"))
    fields = ["0x%X" % code if code is not None else "NONE", reason or UNKNOWN, driver or UNKNOWN, version,
              wdf_type or UNKNOWN]
    if frames is not None:
        fields.append(top[0] if top is not None else UNKNOWN)
    out = [_token(f) if f != UNKNOWN else f for f in fields[:5]]
    if len(fields) > 5:
        out.append(_frame_token(fields[5]) if fields[5] != UNKNOWN else UNKNOWN)
    return "/".join(out)


def _frame_token(text):
    """A frame name keeps its ``!`` and ``+`` (``ibthfp+0x25bc9``)."""
    return "".join(c if c.isalnum() or c in "._-!+$" else "_" for c in str(text)) or UNKNOWN
