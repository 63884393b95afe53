"""The exception behind a bugcheck: its EXCEPTION_RECORD, decoded.

Which bugchecks carry an exception (Microsoft's bug check reference,
github:MicrosoftDocs/windows-driver-docs ``debugger/bug-check-0x*.md``):

* 0x7E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED and 0x1000007E (its ``_M``
  twin): P1 the exception code, P2 its address, **P3 the address of the
  EXCEPTION_RECORD**, P4 the CONTEXT record.
* 0x139 KERNEL_SECURITY_CHECK_FAILURE: P2 the trap frame, **P3 the
  EXCEPTION_RECORD**.
* 0x1E KMODE_EXCEPTION_NOT_HANDLED (and 0x1000001E): no record pointer;
  the record's fields are the parameters: P1 code, P2 address, P3 and P4
  ExceptionInformation[0] and [1].
* 0x8E KERNEL_MODE_EXCEPTION_NOT_HANDLED (and 0x1000008E) and 0x3B
  SYSTEM_SERVICE_EXCEPTION: P1 code and P2 address only; their P3 is a trap
  frame (0x8E) or a CONTEXT (0x3B), not an exception record.

``EXCEPTION_RECORD`` (winnt.h; the kernel's native record, 64-bit layout =
EXCEPTION_RECORD64): ExceptionCode (DWORD) 0x0, ExceptionFlags 0x4,
ExceptionRecord (the chained record) 0x8, ExceptionAddress 0x10,
NumberParameters (DWORD) 0x18, ExceptionInformation[15] 0x20; 32-bit
kernels: 0x0, 0x4, 0x8, 0xC, 0x10, 0x14 with 4-byte pointers.
For access violations and in-page errors ExceptionInformation[0] is 0 read,
1 write, 8 execute (DEP) and [1] the address accessed (winnt.h
EXCEPTION_READ_FAULT / WRITE_FAULT / EXECUTE_FAULT); an in-page error adds
the I/O status in [2].

Real dump [dump, kmdf.md §12]: 0x1000007E, P3 0xffff850429891ee8 holds code
0xC0000005 at amdppm+0x334c, a write to 0xffffffffffffffff. The record at
the triage header's ExceptionOffset is KeBugCheck's own breakpoint
(0x80000003), not the driver's fault, so it is not used.
"""

from wdfdbg.decoders.bugcheck import M_FLAG, NTSTATUS
from wdfdbg.decoders.facts import NOT_CAPTURED, captured, hex_json, module_offset, read_fields

RECORD_IN_P3 = (0x7E, 0x139)
INLINE_PARAMETERS = (0x1E,)
CODE_AND_ADDRESS = (0x8E, 0x3B)
MAX_PARAMETERS = 15     # EXCEPTION_MAXIMUM_PARAMETERS

STATUS_ACCESS_VIOLATION = 0xC0000005
STATUS_IN_PAGE_ERROR = 0xC0000006
ACCESS = {0: "read", 1: "write", 8: "execute"}

# What the common exception codes mean, for people (ntstatus.h texts, short)
MEANINGS = {
    0xC0000005: "access violation",
    0xC0000006: "in-page I/O error (the page could not be read in)",
    0x80000003: "breakpoint",
    0x80000002: "misaligned data access",
    0x80000004: "single step",
    0xC000001D: "illegal instruction",
    0xC0000094: "integer divide by zero",
    0xC0000095: "integer overflow",
    0xC0000096: "privileged instruction",
    0xC00000FD: "stack overflow",
    0xC0000409: "stack buffer overrun (security check)",
    0xC0000420: "assertion failure",
    0xC000008C: "array bounds exceeded",
}


class ExceptionInfo(object):
    """One decoded exception.

    ``code`` (the NTSTATUS, 32 bits), ``name`` (STATUS_* or None), ``meaning``,
    ``address`` (where it happened), ``where`` (``module+0x...``), ``module``
    and ``module_offset``; ``access`` ("read", "write", "execute" or None when
    the code has no access type) and ``target`` (the address accessed) for
    access violations and in-page errors; ``parameters``
    (ExceptionInformation[0..NumberParameters), NOT_CAPTURED when the record
    was not); ``flags``; ``record`` (the EXCEPTION_RECORD address, None when
    the bugcheck has none), ``record_captured``; ``nested`` (ExceptionRecord,
    the chained record, 0 for none); ``source`` ("exception record" or
    "bugcheck parameters"); ``notes``."""

    __slots__ = ("code", "name", "meaning", "address", "where", "module", "module_offset", "access", "target",
                 "parameters", "flags", "record", "record_captured", "nested", "source", "notes")

    def __init__(self):
        self.code = NOT_CAPTURED
        self.name = None
        self.meaning = None
        self.address = NOT_CAPTURED
        self.where = None
        self.module = None
        self.module_offset = None
        self.access = None
        self.target = None
        self.parameters = NOT_CAPTURED
        self.flags = NOT_CAPTURED
        self.record = None
        self.record_captured = False
        self.nested = NOT_CAPTURED
        self.source = None
        self.notes = []

    def to_json(self):
        return {
            "code": "0x%08x" % self.code if captured(self.code) else NOT_CAPTURED.text,
            "name": self.name, "meaning": self.meaning,
            "address": hex_json(self.address), "where": self.where, "module": self.module,
            "module_offset": hex_json(self.module_offset),
            "access": self.access, "target": hex_json(self.target),
            "parameters": [hex_json(p) for p in self.parameters] if captured(self.parameters) else NOT_CAPTURED.text,
            "flags": hex_json(self.flags), "record": hex_json(self.record), "record_captured": self.record_captured,
            "nested_record": hex_json(self.nested) if self.nested else None,
            "source": self.source, "notes": list(self.notes),
        }

    def text(self):
        """``access violation (0xc0000005 STATUS_ACCESS_VIOLATION) at
        amdppm+0x334c: write to 0xffffffffffffffff``."""
        if not captured(self.code):
            return "exception not captured"
        what = self.meaning or "exception"
        label = "0x%08x%s" % (self.code, " " + self.name if self.name else "")
        at = self.where or (hex_json(self.address) if captured(self.address) else "an address not captured")
        out = "%s (%s) at %s" % (what, label, at)
        if self.access:
            out += ": %s %s %s" % (self.access, {"read": "from", "write": "to", "execute": "at"}[self.access],
                                    hex_json(self.target) if self.target is not None else "an unknown address")
        return out


def carries_exception(code):
    base = code & ~M_FLAG
    return base in RECORD_IN_P3 + INLINE_PARAMETERS + CODE_AND_ADDRESS


def decode_exception(session, bc=None):
    """The :class:`ExceptionInfo` of the session's bugcheck (or ``bc``),
    None when that bugcheck carries no exception."""
    if bc is None:
        bc = session.target.bugcheck()
    if bc is None or not carries_exception(bc.code):
        return None
    base = bc.code & ~M_FLAG
    p1, p2, p3, p4 = bc.parameters
    if base in RECORD_IN_P3 and p3:
        info = read_exception_record(session, p3)
        if not info.record_captured:
            info.notes.append("the exception record at 0x%x was not captured; code and address from the "
                              "bugcheck parameters" % p3)
            _fill(session, info, p1 & 0xFFFFFFFF, p2, NOT_CAPTURED)
            info.source = "bugcheck parameters"
        elif base == 0x7E and (info.code != p1 & 0xFFFFFFFF or info.address != p2):
            info.notes.append("the exception record (0x%08x at 0x%x) differs from the bugcheck parameters "
                              "(0x%08x at 0x%x)" % (info.code, info.address, p1 & 0xFFFFFFFF, p2))
        return info
    info = ExceptionInfo()
    info.source = "bugcheck parameters"
    if base == 0x139:
        _fill(session, info, NOT_CAPTURED, NOT_CAPTURED, NOT_CAPTURED)
        info.notes.append("parameter 3 (the exception record) is 0")
        return info
    _fill(session, info, p1 & 0xFFFFFFFF, p2, [p3, p4] if base in INLINE_PARAMETERS else NOT_CAPTURED)
    return info


def read_exception_record(session, address):
    """Decode the EXCEPTION_RECORD at ``address`` (``record_captured``
    False when its first 0x20 bytes are not readable)."""
    target = session.target
    ptr = target.pointer_size
    info = ExceptionInfo()
    info.record = address
    info.source = "exception record"
    o_addr, o_num, o_info = (0x10, 0x18, 0x20) if ptr == 8 else (0xC, 0x10, 0x14)
    f = read_fields(target, address, [("ExceptionCode", 0, 4), ("ExceptionFlags", 4, 4),
                                      ("ExceptionRecord", 8, ptr), ("ExceptionAddress", o_addr, ptr),
                                      ("NumberParameters", o_num, 4)])
    if not captured(f["ExceptionCode"]) or not captured(f["ExceptionAddress"]):
        return info
    info.record_captured = True
    info.flags = f["ExceptionFlags"]
    info.nested = f["ExceptionRecord"]
    count = f["NumberParameters"]
    params = NOT_CAPTURED
    if captured(count):
        if count > MAX_PARAMETERS:
            info.notes.append("NumberParameters %d is more than the record holds (15)" % count)
            count = MAX_PARAMETERS
        p = read_fields(target, address + o_info, [("p%d" % i, i * ptr, ptr) for i in range(count)])
        params = [p["p%d" % i] for i in range(count)]
    _fill(session, info, f["ExceptionCode"], f["ExceptionAddress"], params)
    return info


def _fill(session, info, code, address, params):
    info.code = code
    info.address = address
    info.parameters = params
    if captured(code):
        info.name = NTSTATUS.get(code)
        info.meaning = MEANINGS.get(code)
    if captured(address):
        info.where = module_offset(session.target, address)
        mod = session.target.module_of(address) if address else None
        if mod is not None:
            info.module, info.module_offset = mod.name, address - mod.base
    if code in (STATUS_ACCESS_VIOLATION, STATUS_IN_PAGE_ERROR) and captured(params) and len(params) >= 2:
        kind, target = params[0], params[1]
        if captured(kind) and kind in ACCESS:
            info.access = ACCESS[kind]
            info.target = target if captured(target) else NOT_CAPTURED
