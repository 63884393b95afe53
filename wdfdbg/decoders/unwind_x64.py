"""x64 unwinding with an image's own unwind data (``.pdata`` / UNWIND_INFO).

The rules are Microsoft's "x64 exception handling" page (``RUNTIME_FUNCTION``,
``UNWIND_INFO``, ``UNWIND_CODE`` and the ``UWOP_*`` operations) as
``RtlVirtualUnwind`` applies them:

* the exception directory is a table of ``RUNTIME_FUNCTION {BeginAddress,
  EndAddress, UnwindInfoAddress}`` (12 bytes each, RVAs), sorted by
  BeginAddress; a function that is in no entry is a leaf: its return
  address is at RSP;
* ``UNWIND_INFO``: byte 0 = version (bits 0-2, 1 or 2) and flags (bits 3-7:
  ``UNW_FLAG_CHAININFO`` 4), byte 1 = size of the prolog, byte 2 = count of
  16-bit unwind-code slots, byte 3 = frame register (bits 0-3) and scaled
  frame offset (bits 4-7, times 16); the codes follow, last operation of
  the prolog first; with CHAININFO a ``RUNTIME_FUNCTION`` follows the codes
  (their count rounded up to even) and its unwind data applies next;
* in the prolog (the instruction offset below SizeOfProlog) only codes whose
  CodeOffset is at or below the offset have run.

Not handled (said in the frame's note by the caller when it matters): an
instruction pointer inside an epilog (RtlVirtualUnwind simulates the rest
of the epilog from the code bytes; this unwinder applies the function's
prolog codes, which is right everywhere but in an epilog).

Every read goes through ``read_u64(address)`` (raises
:class:`wdfdbg.errors.ReadError`) and ``image.read_rva`` (raises ReadError
or :class:`wdfdbg.sources.pe.PeFormatError`); loops are bounded by the
code count (at most 255 slots) and the chain depth (``MAX_CHAIN``).
"""

import struct

MAX_FUNCTIONS = 1 << 20      # RUNTIME_FUNCTION entries: a kernel image has tens of thousands
MAX_CHAIN = 32               # chained UNWIND_INFO records followed
UNW_FLAG_CHAININFO = 0x4

UWOP_PUSH_NONVOL = 0
UWOP_ALLOC_LARGE = 1
UWOP_ALLOC_SMALL = 2
UWOP_SET_FPREG = 3
UWOP_SAVE_NONVOL = 4
UWOP_SAVE_NONVOL_FAR = 5
UWOP_EPILOG = 6
UWOP_SPARE_CODE = 7
UWOP_SAVE_XMM128 = 8
UWOP_SAVE_XMM128_FAR = 9
UWOP_PUSH_MACHFRAME = 10

# operation info register numbers (the UNWIND_CODE OpInfo of PUSH/SAVE_NONVOL)
REGISTERS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
             "r15")


class UnwindError(Exception):
    """The unwind data cannot be applied (malformed, or an operation this
    unwinder does not know); the message says which."""


class FunctionTable(object):
    """An image's ``RUNTIME_FUNCTION`` table, searched by RVA."""

    def __init__(self, image):
        self.image = image
        rva, size = image.exception_directory()
        self.rva = rva
        self.count = min(size // 12, MAX_FUNCTIONS) if rva else 0

    def entry(self, i):
        return struct.unpack("<3I", self.image.read_rva(self.rva + 12 * i, 12))

    def lookup(self, rva):
        """``(begin, end, unwind_rva)`` of the function holding ``rva``, or
        None (a leaf function). Binary search: about 20 reads."""
        lo, hi = 0, self.count - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            begin, end, unwind = self.entry(mid)
            if rva < begin:
                hi = mid - 1
            elif rva >= end:
                lo = mid + 1
            else:
                return begin, end, unwind
        return None


def unwind_frame(image, base, function, rip, regs, read_u64):
    """The caller's registers: apply ``function``'s unwind data (``(begin,
    end, unwind_rva)`` from :meth:`FunctionTable.lookup`, or None for a leaf)
    to ``regs`` (name -> value; at least ``rsp``) with the instruction
    pointer at ``rip``. Returns a new dict with ``rip`` and ``rsp`` of the
    caller and every non-volatile register the unwind data restores (the
    others are left out: their values are not known in the caller)."""
    out = dict((k, v) for k, v in regs.items() if k in ("rbx", "rbp", "rsi", "rdi", "r12", "r13", "r14", "r15"))
    rsp = regs["rsp"]
    if function is None:
        out["rip"] = read_u64(rsp)
        out["rsp"] = rsp + 8
        return out
    begin = function[0]
    offset = rip - base - begin
    unwind_rva = function[2]
    cur = dict(regs)
    cur["rsp"] = rsp
    machine_frame = False
    for depth in range(MAX_CHAIN):
        if unwind_rva & 1:
            # an indirect entry: the RVA (without bit 0) points at the primary RUNTIME_FUNCTION
            begin, _end, unwind_rva = struct.unpack("<3I", image.read_rva(unwind_rva & ~1, 12))
        head = image.read_rva(unwind_rva, 4)
        version, flags = head[0] & 7, head[0] >> 3
        if version not in (1, 2):
            raise UnwindError("UNWIND_INFO version %d at RVA 0x%x" % (version, unwind_rva))
        prolog, count = head[1], head[2]
        frame_reg, frame_off = head[3] & 0xF, head[3] >> 4
        raw = image.read_rva(unwind_rva + 4, 2 * count) if count else b""
        codes = [struct.unpack_from("<BB", raw, 2 * i) for i in range(count)]
        in_prolog = depth == 0 and offset < prolog
        i = 0
        while i < count:
            code_offset, op = codes[i]
            kind, info = op & 0xF, op >> 4
            slots = _slots(kind, info)
            if i + slots > count:
                raise UnwindError("UNWIND_INFO at RVA 0x%x: code %d runs past the code count" % (unwind_rva, i))
            if kind == UWOP_EPILOG or (in_prolog and code_offset > offset):
                i += slots
                continue
            if kind == UWOP_PUSH_NONVOL:
                cur[REGISTERS[info]] = read_u64(cur["rsp"])
                out[REGISTERS[info]] = cur[REGISTERS[info]]
                cur["rsp"] += 8
            elif kind == UWOP_ALLOC_LARGE:
                if info == 0:
                    cur["rsp"] += 8 * struct.unpack_from("<H", raw, 2 * (i + 1))[0]
                else:
                    cur["rsp"] += struct.unpack_from("<I", raw, 2 * (i + 1))[0]
            elif kind == UWOP_ALLOC_SMALL:
                cur["rsp"] += 8 * info + 8
            elif kind == UWOP_SET_FPREG:
                name = REGISTERS[frame_reg]
                if name not in cur:
                    raise UnwindError("the frame register %s is not known in this frame" % name)
                cur["rsp"] = cur[name] - 16 * frame_off
            elif kind in (UWOP_SAVE_NONVOL, UWOP_SAVE_NONVOL_FAR):
                if kind == UWOP_SAVE_NONVOL:
                    disp = 8 * struct.unpack_from("<H", raw, 2 * (i + 1))[0]
                else:
                    disp = struct.unpack_from("<I", raw, 2 * (i + 1))[0]
                cur[REGISTERS[info]] = read_u64(cur["rsp"] + disp)
                out[REGISTERS[info]] = cur[REGISTERS[info]]
            elif kind in (UWOP_SAVE_XMM128, UWOP_SAVE_XMM128_FAR):
                pass   # XMM registers are not tracked
            elif kind == UWOP_PUSH_MACHFRAME:
                base_sp = cur["rsp"] + (8 if info else 0)
                out["rip"] = read_u64(base_sp)
                out["rsp"] = read_u64(base_sp + 24)
                machine_frame = True
                break
            else:
                raise UnwindError("unknown unwind operation %d at RVA 0x%x" % (kind, unwind_rva))
            i += slots
        if machine_frame:
            return out
        if not flags & UNW_FLAG_CHAININFO:
            break
        chain_at = unwind_rva + 4 + 2 * (count + (count & 1))
        begin, _end, unwind_rva = struct.unpack("<3I", image.read_rva(chain_at, 12))
    else:
        raise UnwindError("more than %d chained UNWIND_INFO records" % MAX_CHAIN)
    out["rip"] = read_u64(cur["rsp"])
    out["rsp"] = cur["rsp"] + 8
    return out


def _slots(kind, info):
    """How many 16-bit slots an unwind code takes."""
    if kind == UWOP_ALLOC_LARGE:
        return 2 if info == 0 else 3
    if kind in (UWOP_SAVE_NONVOL, UWOP_SAVE_XMM128):
        return 2
    if kind in (UWOP_SAVE_NONVOL_FAR, UWOP_SAVE_XMM128_FAR):
        return 3
    return 1
