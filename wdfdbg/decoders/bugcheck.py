"""Bugcheck names and parameter decoding, with the full decoding of
0x10D WDF_VIOLATION (``shared/reference/kmdf.md`` §10).

Every code Microsoft documents is named and its parameters described from
:mod:`wdfdbg.decoders.bugcheck_codes` (generated from the bug check code
reference); the codes below get a decoding of their own on top.

:func:`describe_bugcheck` returns the report's ``bugcheck`` value:
``{code, name, parameters: [hex x4], decoded: {...}}``. Parameter 4 of
0x10D is the offending driver's FX_DRIVER_GLOBALS: its name is resolved
from memory when readable, else from KMDF's driver table in the dump.
"""

from wdfdbg.decoders.bugcheck_codes import codes
from wdfdbg.errors import LayoutError, ReadError

NAMES = {
    0x0A: "IRQL_NOT_LESS_OR_EQUAL",
    0x1A: "MEMORY_MANAGEMENT",
    0x1E: "KMODE_EXCEPTION_NOT_HANDLED",
    0x3B: "SYSTEM_SERVICE_EXCEPTION",
    0x44: "MULTIPLE_IRP_COMPLETE_REQUESTS",
    0x4E: "PFN_LIST_CORRUPT",
    0x50: "PAGE_FAULT_IN_NONPAGED_AREA",
    0x7A: "KERNEL_DATA_INPAGE_ERROR",
    0x7E: "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED",
    0x7F: "UNEXPECTED_KERNEL_MODE_TRAP",
    0x9F: "DRIVER_POWER_STATE_FAILURE",
    0xA0: "INTERNAL_POWER_ERROR",
    0xBE: "ATTEMPTED_WRITE_TO_READONLY_MEMORY",
    0xC1: "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION",
    0xC2: "BAD_POOL_CALLER",
    0xC4: "DRIVER_VERIFIER_DETECTED_VIOLATION",
    0xC5: "DRIVER_CORRUPTED_EXPOOL",
    0xC9: "DRIVER_VERIFIER_IOMANAGER_VIOLATION",
    0xCE: "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS",
    0xD1: "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
    0xD5: "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL",
    0xE2: "MANUALLY_INITIATED_CRASH",
    0xEF: "CRITICAL_PROCESS_DIED",
    0xF4: "CRITICAL_OBJECT_TERMINATION",
    0xFC: "ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY",
    0x101: "CLOCK_WATCHDOG_TIMEOUT",
    0x10D: "WDF_VIOLATION",
    0x116: "VIDEO_TDR_FAILURE",
    0x119: "VIDEO_SCHEDULER_INTERNAL_ERROR",
    0x124: "WHEA_UNCORRECTABLE_ERROR",
    0x133: "DPC_WATCHDOG_VIOLATION",
    0x139: "KERNEL_SECURITY_CHECK_FAILURE",
    0x13A: "KERNEL_MODE_HEAP_CORRUPTION",
    0x144: "BUGCODE_USB3_DRIVER",
    0x154: "UNEXPECTED_STORE_EXCEPTION",
    0x15F: "CONNECTED_STANDBY_WATCHDOG_TIMEOUT_LIVEDUMP",
    0x16C: "INVALID_RUNDOWN_PROTECTION_FLAGS",
    0x18B: "SECURE_KERNEL_ERROR",
    0x1C8: "MANUALLY_INITIATED_POWER_BUTTON_HOLD",
    0x1CE: "MANUALLY_INITIATED_POWER_BUTTON_HOLD_LIVE_DUMP",
    0xDEADDEAD: "MANUALLY_INITIATED_CRASH1",
}

# The "_M" variants: the same bugcheck with 0x10000000 set.
M_FLAG = 0x10000000

# What a bugcheck means, in one line for people (Microsoft's bug check
# reference, windows-driver-docs debugger/bug-check-0x*.md, shortened).
MEANINGS = {
    0x0A: "kernel code touched pageable or invalid memory at raised IRQL",
    0x1A: "the memory manager found its own structures corrupt",
    0x1E: "a kernel-mode exception that no handler caught",
    0x3B: "an exception in a system service that no handler caught",
    0x44: "a driver completed the same IRP twice",
    0x4E: "the page frame list is corrupt",
    0x50: "a reference to memory that is not valid (freed, or never allocated)",
    0x7A: "a page of kernel data could not be read in from the paging file",
    0x7E: "a system thread raised an exception that no handler caught",
    0x7F: "a trap the kernel cannot handle (often a double fault: stack overflow)",
    0x8E: "a kernel-mode exception that no handler caught",
    0x9F: "a driver did not complete a power request in time",
    0xBE: "a driver wrote to read-only memory",
    0xC1: "a driver wrote past its special-pool allocation",
    0xC2: "a driver made a bad pool request",
    0xC4: "Driver Verifier caught a driver breaking a rule",
    0xC5: "a driver corrupted the pool",
    0xD1: "a driver touched pageable or invalid memory at raised IRQL",
    0xD5: "a driver used special-pool memory after freeing it",
    0xE2: "the crash was started by hand",
    0xEF: "a critical system process died",
    0xFC: "the processor was asked to execute non-executable memory",
    0x101: "a processor stopped answering clock interrupts",
    0x10D: "the framework (KMDF) caught a driver error",
    0x124: "the hardware reported an uncorrectable error",
    0x133: "a DPC or the DPC queue ran too long",
    0x139: "the kernel found a critical structure corrupt (a security check failed)",
    0x13A: "the kernel heap is corrupt",
    0x1C8: "the crash was started by holding the power button",
}

NTSTATUS = {
    0xC0000005: "STATUS_ACCESS_VIOLATION",
    0x80000003: "STATUS_BREAKPOINT",
    0x80000002: "STATUS_DATATYPE_MISALIGNMENT",
    0xC000001D: "STATUS_ILLEGAL_INSTRUCTION",
    0xC0000094: "STATUS_INTEGER_DIVIDE_BY_ZERO",
    0xC0000096: "STATUS_PRIVILEGED_INSTRUCTION",
    0xC0000409: "STATUS_STACK_BUFFER_OVERRUN",
    0xC0000420: "STATUS_ASSERTION_FAILURE",
    0xC0000006: "STATUS_IN_PAGE_ERROR",
    0x80000004: "STATUS_SINGLE_STEP",
    0xC0000095: "STATUS_INTEGER_OVERFLOW",
    0xC00000FD: "STATUS_STACK_OVERFLOW",
    0xC000008C: "STATUS_ARRAY_BOUNDS_EXCEEDED",
}

# WDF_VIOLATION (0x10D) parameter 1 (kmdf.md §10, wdfbugcodes.h)
WDF_VIOLATIONS = {
    0x1: ("WDF_POWER_ROUTINE_TIMED_OUT", "pointer to WDF_POWER_ROUTINE_TIMED_OUT_DATA {PowerState, PowerPolicyState, DeviceObject, WDFDEVICE, TimedOutThread}", "0"),
    0x2: ("WDF_RECURSIVE_LOCK", "the lock object, or its parent's handle", "0 or the FxVerifierLock"),
    0x3: ("WDF_VERIFIER_FATAL_ERROR", "WDFREQUEST completed with outstanding buffer references", "outstanding references on the request's buffer memory"),
    0x4: ("WDF_REQUIRED_PARAMETER_IS_NULL", "0", "caller address"),
    0x5: ("WDF_INVALID_HANDLE", "the handle value", "the WDFTYPE the API asked for"),
    0x6: ("WDF_REQUEST_FATAL_ERROR", "sub-code (see request_error)", "depends on the sub-code"),
    0x7: ("WDF_OBJECT_ERROR", "WDFOBJECT handle", "FxObject pointer"),
    0x8: ("WDF_DMA_FATAL_ERROR", "WDFDMATRANSACTION", "transaction state"),
    0x9: ("WDF_INVALID_INTERRUPT", "unused", "unused"),
    0xA: ("WDF_QUEUE_FATAL_ERROR", "pointer to {WDFQUEUE Queue, WDFREQUEST Request, NTSTATUS Status}", "0"),
    0xB: ("WDF_INVALID_LOCK_OPERATION", "handle or WDFSPINLOCK", "0: lock not held; 1: released by a thread that does not own it"),
    0xC: ("WDF_PNP_FATAL_ERROR", "WDFDEVICE", "the new PnP IRP"),
    0xD: ("WDF_POWER_MULTIPLE_PPO", "DEVICE_OBJECT", "the power IRP"),
    0xE: ("WDF_VERIFIER_IRQL_MISMATCH", "IRQL at the callback's entry", "IRQL at its exit"),
    0xF: ("WDF_VERIFIER_CRITICAL_REGION_MISMATCH", "callback address", "0"),
    0x10: ("WDF_API_UNAVAILABLE", "driver name (PCHAR)", "framework or extension name (PCWSTR)"),
}
REQUEST_FATAL_ERRORS = {
    0x1: ("WDF_REQUEST_FATAL_ERROR_NO_MORE_STACK_LOCATIONS", "the IRP"),
    0x2: ("WDF_REQUEST_FATAL_ERROR_NULL_IRP", "the WDFREQUEST"),
    0x3: ("WDF_REQUEST_FATAL_ERROR_REQUEST_ALREADY_SENT", "the WDFREQUEST"),
    0x4: ("WDF_REQUEST_FATAL_ERROR_INFORMATION_LENGTH_MISMATCH",
          "pointer to {Request, Irp, OutputBufferLength, Information, MajorFunction}"),
    0x5: ("WDF_REQUEST_FATAL_ERROR_REQUEST_NOT_IN_QUEUE", "pointer to the IO_CSQ_IRP_CONTEXT"),
}
# 0x50 parameter 4 (bug-check-0x50 page)
PAGE_FAULT_TYPES = {0x0: "NONPAGED_BUGCHECK_FREED_PTE", 0x2: "NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE",
                    0x3: "NONPAGED_BUGCHECK_WRONG_SESSION", 0x4: "NONPAGED_BUGCHECK_VA_NOT_CANONICAL",
                    0xF: "NONPAGED_BUGCHECK_USER_VA_ACCESS_INCONSISTENT"}
DMA_STATES = ["Invalid", "Created", "Reserved", "Initialized", "Transfer", "TransferCompleted",
              "TransferFailed", "Released", "Deleted"]


def hx(v):
    return None if v is None else "0x%x" % v


def code_text(code):
    """A bugcheck code as text for people: ``0x10D`` (upper-case digits),
    from an int or from the report's ``"0x10d"``."""
    if isinstance(code, str):
        try:
            code = int(code, 16)
        except ValueError:
            return code
    return "0x%X" % code


def _documented(code):
    """The reference's entry for a code, the ``_M`` variant falling back to
    its base code's; None for an undocumented code."""
    table = codes()
    if code in table:
        return table[code]
    if code & M_FLAG:
        return table.get(code & ~M_FLAG)
    return None


def _as_phrase(sentence):
    """A documentation sentence as the headline's phrase: no final full stop,
    lower-case first letter unless the first word is an acronym."""
    s = sentence.rstrip(".")
    word = s.split(" ", 1)[0]
    if len(word) > 1 and word[1:].islower():
        s = s[0].lower() + s[1:]
    return s


def bugcheck_meaning(code):
    """One line of what the bugcheck means, or None when Microsoft's
    reference does not say."""
    base = code & ~M_FLAG if code & M_FLAG else code
    if base in MEANINGS:
        return MEANINGS[base]
    doc = _documented(code)
    return _as_phrase(doc[1]) if doc and doc[1] else None


def bugcheck_name(code):
    """Name for a bugcheck code (``_M`` suffix for the 0x10000000 variants)."""
    doc = codes().get(code)
    if doc is not None:
        return doc[0]
    if code in NAMES:
        return NAMES[code]
    if code & M_FLAG:
        base = bugcheck_name(code & ~M_FLAG)
        return base + "_M" if base else None
    return None


def documented_parameters(code, params):
    """Each parameter with what Microsoft's reference says it holds:
    ``{"parameter1": "0x41792: A corrupted PTE has been detected...",
    "parameter2": "0x...: ..."}``; where the reference tables parameter 1's
    values, the value's own meanings for parameters 2-4. ``{}`` for an
    undocumented code; a parameter the reference is silent on keeps its
    value alone."""
    doc = _documented(code)
    if doc is None:
        return {}
    _name, _meaning, meanings, by_p1 = doc
    meanings = list(meanings)
    sub = by_p1.get(params[0])
    out = {}
    if sub is not None:
        cause, rest = sub
        meanings[0] = cause
        for i, m in enumerate(rest):
            if m:
                meanings[i + 1] = m
    elif by_p1 and not meanings[0]:
        meanings[0] = "a value the reference does not list"
    if not any(meanings):
        return {"parameters_documented": "no: Microsoft's reference gives no meaning for this code's parameters"}
    for i, (v, m) in enumerate(zip(params, meanings)):
        out["parameter%d" % (i + 1)] = "%s: %s" % (hx(v), m) if m else hx(v)
    return out


def page_fault_access(arch, value):
    """0x50 parameter 2 as the access that faulted. x64/x86 since Windows 10
    1507 pass the page-fault error code: bit 1 write, bit 4 instruction
    fetch, bit 0 a present page (a protection fault, e.g. executing NX
    pool); ARM64 0 read, 1 write, 8 execute (bug-check-0x50 page)."""
    if arch == "arm64":
        return {0: "read", 1: "write", 8: "execute"}.get(value, hx(value))
    if value & ~0x1F:
        return hx(value)
    access = "execute (instruction fetch)" if value & 0x10 else "write" if value & 0x2 else "read"
    if value & 0x1:
        access += ", of a present page (protection violation)"
    return access


def _where(session, address):
    if session is None or not address:
        return None
    try:
        return session.target.describe_address(address)
    except Exception:  # naming an address must never fail the report
        return None


def _status(v):
    v &= 0xFFFFFFFF
    return "0x%08x%s" % (v, (" " + NTSTATUS[v]) if v in NTSTATUS else "")


def driver_from_globals(session, address):
    """Driver name for an FX_DRIVER_GLOBALS address: from memory, else from
    KMDF's driver table in the dump; None when neither knows it."""
    if session is None or not address:
        return None
    from wdfdbg.sources.minidump import kmdf_driver_table
    for e in kmdf_driver_table(getattr(session.target, "backend", None)):
        if e.globals == address:
            return e.name
    try:
        from wdfdbg.decoders.drivers import read_driver
        d, _bad = read_driver(session, address)
        return d.name
    except (ReadError, LayoutError):
        return None


def decode_wdf_violation(session, params):
    p1, p2, p3, p4 = params
    out = {}
    v = WDF_VIOLATIONS.get(p1)
    out["violation"] = v[0] if v else None
    out["violation_code"] = hx(p1)
    if v:
        out["parameter2_meaning"] = v[1]
        out["parameter3_meaning"] = v[2]
    out["parameter2"] = hx(p2)
    out["parameter3"] = hx(p3)
    if p1 == 0x5:
        from wdfdbg.decoders import types as fxt
        out["handle"] = hx(p2)
        tn = fxt.type_name(p3)
        out["expected_type"] = "0x%x %s (%s)" % (p3, tn, fxt.ddi_name(p3) or "?") if tn else hx(p3)
    elif p1 == 0x6:
        sub = REQUEST_FATAL_ERRORS.get(p2)
        out["request_error"] = sub[0] if sub else hx(p2)
        if sub:
            out["parameter3_meaning"] = sub[1]
    elif p1 == 0x7:
        out["handle"] = hx(p2)
        out["object"] = hx(p3)
    elif p1 == 0x3:
        out["request"] = hx(p2)
        out["outstanding_references"] = p3
    elif p1 == 0x8:
        out["dma_transaction"] = hx(p2)
        out["transaction_state"] = DMA_STATES[p3] if p3 < len(DMA_STATES) else hx(p3)
    elif p1 == 0xB:
        out["lock"] = hx(p2)
        out["lock_problem"] = {0: "the lock was not held", 1: "released by a thread that does not own it"}.get(p3, hx(p3))
    elif p1 == 0xE:
        out["irql_at_entry"] = p2
        out["irql_at_exit"] = p3
    elif p1 == 0x4:
        out["caller"] = _where(session, p3) or hx(p3)
    elif p1 == 0xF:
        out["callback"] = _where(session, p2) or hx(p2)
    elif p1 == 0x10:
        name = None
        if session is not None and p2:
            try:
                name = session.target.read_cstring(p2, 64) or None
            except ReadError:
                name = None
        out["driver_name"] = name
        out["api_index"] = p4
    if p1 == 0x4 and p4 == 0:
        out["driver_globals"] = None
        out["driver"] = None
        out["note"] = "parameter 4 is 0 when the NULL came from FxPoolFree"
    elif p1 != 0x10:
        out["driver_globals"] = hx(p4)
        out["driver"] = driver_from_globals(session, p4)
    return out


def decode_parameters(session, code, params):
    base = code & ~M_FLAG
    p1, p2, p3, p4 = params
    if base == 0x10D:
        return decode_wdf_violation(session, params)
    if base in (0x7E, 0x1E, 0x8E):
        out = {"exception_code": _status(p1), "exception_address": hx(p2)}
        where = _where(session, p2)
        if where:
            out["exception_address_symbol"] = where
        if base == 0x7E:
            out["exception_record"] = hx(p3)
            out["context_record"] = hx(p4)
        else:
            out["parameter3"] = hx(p3)
            out["parameter4"] = hx(p4)
        return out
    if base == 0x3B:
        out = {"exception_code": _status(p1), "exception_address": hx(p2), "context_record": hx(p3)}
        where = _where(session, p2)
        if where:
            out["exception_address_symbol"] = where
        return out
    if base in (0xD1, 0x0A):
        out = {"referenced_address": hx(p1), "irql": p2, "access": {0: "read", 1: "write", 8: "execute"}.get(p3, hx(p3)),
               "faulting_address": hx(p4)}
        where = _where(session, p4)
        if where:
            out["faulting_address_symbol"] = where
        return out
    if base == 0x50:
        arch = getattr(getattr(session, "target", None), "arch", None)
        out = {"referenced_address": hx(p1), "access": page_fault_access(arch, p2),
               "faulting_address": hx(p3), "type": hx(p4)}
        if p4 in PAGE_FAULT_TYPES:
            out["type"] = "%s %s" % (hx(p4), PAGE_FAULT_TYPES[p4])
        where = _where(session, p3)
        if where:
            out["faulting_address_symbol"] = where
        return out
    if base == 0x9F:
        sub = {0x1: "a device object was freed with an outstanding power request",
               0x2: "a device object completed a power IRP with a pending status",
               0x3: "a device object blocked a power IRP for too long",
               0x4: "a power transition timed out waiting to synchronize with the PnP subsystem"}.get(p1)
        out = {"subcode": hx(p1), "meaning": sub}
        if p1 == 0x3:
            out.update({"physical_device_object": hx(p2), "nt_triage_block": hx(p3), "blocked_irp": hx(p4)})
        else:
            out.update({"parameter2": hx(p2), "parameter3": hx(p3), "parameter4": hx(p4)})
        return out
    if base == 0xC4:
        return {"violation_code": hx(p1), "parameter2": hx(p2), "parameter3": hx(p3), "parameter4": hx(p4)}
    if base == 0x1C8:
        return {"held_ms": p1, "power_button_triage_block": hx(p2)}
    if base == 0xE2:
        return {"note": "the crash was started by hand (keyboard or debugger)"}
    return documented_parameters(code, params)


def describe_bugcheck(session, bc):
    """The report's ``bugcheck`` dict for a :class:`~wdfdbg.sources.base.Bugcheck`."""
    if bc is None:
        return None
    params = list(bc.parameters)[:4]
    while len(params) < 4:
        params.append(0)
    return {
        "code": hx(bc.code),
        "name": bugcheck_name(bc.code),
        "parameters": [hx(p) for p in params],
        "decoded": decode_parameters(session, bc.code, params),
    }
