"""The crashing thread's call stack, frame by frame, each saying how it was
found (as Breakpad and rust-minidump do):

``context``        frame 0: the saved CONTEXT record's instruction pointer;
``cfi``            unwound exactly: with the module's ``.pdata`` /
                   UNWIND_INFO (``decoders/unwind_x64.py``), or from a
                   proven function entry (the context sits at the first
                   instruction of the bugcheck routine, where every x64
                   function's return address is at RSP);
``frame-pointer``  from a frame-pointer chain (ARM64 x29/x30; on x64 an
                   RBP chain, accepted only when the bytes before the
                   return address are a CALL);
``scan``           a word on the stack that points into a loaded module's
                   code, found by scanning up from the last frame; when the
                   code bytes before it are saved, they must be a CALL (BL /
                   BLR on ARM64), as Breakpad's scanner checks.

Every read may fail: a stack word that is not saved ends the walk with a
note saying where (never an invented frame). The walk is bounded: at most
``MAX_FRAMES`` frames, each frame's stack pointer strictly above the
last, ``SCAN_WORDS`` words scanned per frame.

Names: ``module+0xOFFSET`` always, ``module!symbol+0xOFFSET`` when the
source's symbol lookup (``Target.symbol_at``: PDB publics, a debugger)
names an address inside the same module.

:func:`bugcheck_entry` tells whether the context is at the entry of the
bugcheck routine (its argument registers hold the bugcheck code and
parameters: ``KeBugCheckEx(Code, P1, P2, P3, P4)`` in RCX, RDX, R8, R9 and
[RSP+0x28], Microsoft's x64 calling convention); then frame 1 is the module
that called KeBugCheckEx.
"""

import struct

from wdfdbg.errors import ReadError
from wdfdbg.sources.base import backend_crash_registers
from wdfdbg.sources.pe import PeFormatError, PeImage

TRUST_CONTEXT = "context"
TRUST_CFI = "cfi"
TRUST_FP = "frame-pointer"
TRUST_SCAN = "scan"
TRUSTS = (TRUST_CONTEXT, TRUST_CFI, TRUST_FP, TRUST_SCAN)

MAX_FRAMES = 64          # WinDbg's default k shows 20; a kernel stack rarely holds more than 64
SCAN_WORDS = 256         # words scanned above a frame (0x800 bytes: a kernel frame's locals fit)
MAX_FP_GAP = 0x10000     # a frame pointer further than this above SP is not this stack's
HEADER_SIZE = 0x1000     # the first page of an image is its headers, never code
MAX_UNWIND_IMAGES = 64   # images whose unwind data is kept (per walk)

IMAGE_SCN_MEM_EXECUTE = 0x20000000
ENTRY_MATCHES = 2        # argument registers that must hold bugcheck parameters


class Frame(object):
    """One frame: ``address`` (frame 0: the instruction pointer; others:
    the return address), ``sp`` (the stack pointer in this frame),
    ``trust``, ``module`` (name or None), ``where`` (name or None),
    ``slot`` (where on the stack the return address was read), ``note``."""

    __slots__ = ("index", "address", "sp", "trust", "module", "where", "slot", "note", "regs")

    def __init__(self, index, address, sp, trust, regs=None, slot=None, note=None):
        self.index = index
        self.address = address
        self.sp = sp
        self.trust = trust
        self.regs = regs or {}
        self.slot = slot
        self.note = note
        self.module = None
        self.where = None

    def to_json(self):
        out = {"index": self.index, "address": "0x%x" % self.address, "where": self.where, "module": self.module,
               "trust": self.trust, "sp": "0x%x" % self.sp if self.sp is not None else None}
        if self.slot is not None:
            out["slot"] = "0x%x" % self.slot
        if self.note:
            out["note"] = self.note
        return out


class StackWalk(object):
    """The frames, why the walk ended (``end``), and ``entry`` (the context
    is at the bugcheck routine's entry: a sentence saying why, or None)."""

    def __init__(self, frames, end, entry=None):
        self.frames = frames
        self.end = end
        self.entry = entry

    def caller_of_bugcheck(self):
        """Frame 1 when the context is at the bugcheck routine's entry."""
        if self.entry and len(self.frames) > 1:
            return self.frames[1]
        return None


# -- the saved context ------------------------------------------------------------
def bugcheck_entry(target, regs, bugcheck):
    """A sentence when the x64 context is at the bugcheck routine's first
    instruction (proven by its argument registers), else None. The check:
    RCX is the bugcheck code; at least ``ENTRY_MATCHES`` of RDX, R8, R9 and
    [RSP+0x28] are parameters 1-4 (the kernel may set a parameter after the
    call: 0x50's parameter 3, the faulting instruction, differs from R9 in
    two real dumps), or the parameters are all zero (KeBugCheck(Code)
    leaves RDX..R9 as they were: the 26100 dump); the instruction pointer
    is in the kernel image; [RSP] is an address inside a loaded module."""
    if bugcheck is None or "rcx" not in regs or "rsp" not in regs:
        return None
    if regs["rcx"] & 0xFFFFFFFF != bugcheck.code & 0xFFFFFFFF:
        return None
    mod = target.module_of(regs.get("rip", 0))
    if mod is None or mod.name.lower() != "nt":
        return None
    try:
        ret = target.read_u64(regs["rsp"])
        p4 = target.read_u64(regs["rsp"] + 0x28)
    except ReadError:
        return None
    if target.module_of(ret) is None:
        return None
    params = list(bugcheck.parameters) + [0] * 4
    args = [regs.get("rdx"), regs.get("r8"), regs.get("r9"), p4]
    same = sum(1 for a, p in zip(args, params[:4]) if a == p)
    if same == 4:
        return ("the context is at the entry of the bugcheck routine (KeBugCheckEx): RCX, RDX, R8, R9 and "
                "[RSP+0x28] hold the bugcheck code and its four parameters")
    if same >= ENTRY_MATCHES:
        return ("the context is at the entry of the bugcheck routine (KeBugCheckEx): RCX holds the bugcheck code "
                "and %d of RDX, R8, R9 and [RSP+0x28] its parameters (the kernel fills some in after the call)"
                % same)
    if not any(params[:4]):
        return ("the context is at the entry of the bugcheck routine (KeBugCheckEx): RCX holds the bugcheck code "
                "(its parameters are all zero)")
    return None


# -- names ---------------------------------------------------------------------------
def name_address(target, address):
    """``(module name or None, where or None)``: ``module!symbol+0xN`` when
    the source's symbols name it inside the same module, else
    ``module+0xN``."""
    mod = target.module_of(address)
    if mod is None:
        return None, None
    where = "%s+0x%x" % (mod.name, address - mod.base)
    try:
        sym = target.symbol_at(address)
    except (ReadError, ValueError, TypeError):
        sym = None
    if sym is not None:
        name, disp = sym
        if isinstance(name, str) and name.lower().startswith(mod.name.lower() + "!") and 0 <= disp < mod.size:
            where = name if disp == 0 else "%s+0x%x" % (name, disp)
    return mod.name, where


# -- code checks ---------------------------------------------------------------------
def _is_call_x64(code):
    """Whether ``code`` (the up to 7 bytes just before a return address)
    ends with a CALL: E8 rel32, or FF /2 in any of its ModRM forms (with
    or without a REX prefix, which comes before the FF)."""
    n = len(code)
    if n >= 5 and code[n - 5] == 0xE8:
        return True
    for length in range(2, 8):
        if length > n:
            break
        i = n - length
        if code[i] != 0xFF:
            continue
        modrm = code[i + 1]
        mod, reg, rm = modrm >> 6, (modrm >> 3) & 7, modrm & 7
        if reg != 2:
            continue
        size = 2
        if mod == 3:
            pass
        else:
            if rm == 4:
                size += 1                      # SIB
                if mod == 0 and i + 2 < n and (code[i + 2] & 7) == 5:
                    size += 4                  # SIB with disp32, no base
            if mod == 1:
                size += 1
            elif mod == 2 or (mod == 0 and rm == 5):
                size += 4
        if size == length:
            return True
    return False


def _is_call_arm64(code):
    """Whether the 4 bytes before a return address are BL or BLR."""
    if len(code) < 4:
        return False
    insn = struct.unpack("<I", bytes(code[-4:]))[0]
    return (insn >> 26) == 0x25 or (insn & 0xFFFFFC1F) == 0xD63F0000


class Walker(object):
    """One walk over one target; see the module docstring."""

    def __init__(self, target, arch, max_frames=MAX_FRAMES):
        self.target = target
        self.arch = arch
        self.max_frames = max_frames
        self._images = {}

    # -- images and code ----------------------------------------------------------
    def image(self, mod):
        """``(PeImage, FunctionTable or None)`` of a module whose headers are
        readable, or None; cached."""
        if mod is None:
            return None
        key = mod.base
        if key in self._images:
            return self._images[key]
        got = None
        if len(self._images) < MAX_UNWIND_IMAGES:
            from wdfdbg.decoders.unwind_x64 import FunctionTable
            base = mod.base
            target = self.target

            def read(off, size):
                return target.read(base + off, size)
            try:
                img = PeImage(read, mapped=True)
            except (ReadError, PeFormatError):
                img = None
            table = None
            if img is not None and self.arch == "x64":
                try:
                    table = FunctionTable(img)
                    if table.count:
                        table.entry(0)   # is the table itself saved?
                    else:
                        table = None
                except (ReadError, PeFormatError):
                    table = None
            got = (img, table) if img is not None else None
        self._images[key] = got
        return got

    def in_code(self, address):
        """The module when ``address`` may be code: inside a loaded module,
        past its headers, and in an executable section when the section
        table is readable."""
        mod = self.target.module_of(address)
        if mod is None or address - mod.base < HEADER_SIZE:
            return None
        img = self.image(mod)
        if img is not None:
            rva = address - mod.base
            for _name, srva, vsize, _ro, _rs, chars in img[0].sections:
                if srva <= rva < srva + max(vsize, 1):
                    return mod if chars & IMAGE_SCN_MEM_EXECUTE else None
            return None
        return mod

    def call_check(self, address):
        """True: the bytes before ``address`` are a call; False: they are
        saved and are not; None: not saved (cannot tell)."""
        back = 7 if self.arch == "x64" else 4
        try:
            code = self.target.read(address - back, back)
        except ReadError:
            if self.arch == "x64":
                for back in (5, 3, 2):   # the shorter forms, when only they are saved
                    try:
                        code = self.target.read(address - back, back)
                        break
                    except ReadError:
                        continue
                else:
                    return None
                return True if _is_call_x64(code) else None
            return None
        return _is_call_x64(code) if self.arch == "x64" else _is_call_arm64(code)

    def return_address_ok(self, address):
        return self.in_code(address) is not None and self.call_check(address) is not False

    # -- the walk -----------------------------------------------------------------
    def walk(self, regs, bugcheck=None):
        """A :class:`StackWalk` from the saved registers ``regs``."""
        if self.arch == "x64":
            ip_name, sp_name = "rip", "rsp"
        elif self.arch == "arm64":
            ip_name, sp_name = "pc", "sp"
        else:
            return StackWalk([], "no stack walk for %s" % self.arch)
        if ip_name not in regs or sp_name not in regs:
            return StackWalk([], "the saved context is not in this source")
        entry = bugcheck_entry(self.target, regs, bugcheck) if self.arch == "x64" else None
        frames = [Frame(0, regs[ip_name], regs[sp_name], TRUST_CONTEXT, regs=dict(regs),
                        note="at the entry of the bugcheck routine" if entry else None)]
        self._name(frames[0])
        end = None
        while True:
            if len(frames) >= self.max_frames:
                end = "stopped after %d frames" % self.max_frames
                break
            cur = frames[-1]
            try:
                nxt = self.caller(cur, entry if cur.index == 0 else None)
            except ReadError as e:
                end = "the stack at 0x%x is not captured in this source: the walk ends here" % e.address \
                    if isinstance(getattr(e, "address", None), int) else "a stack read failed: the walk ends here"
                break
            if nxt is None:
                end = "no further return address found above 0x%x" % cur.sp
                break
            if nxt.sp <= cur.sp:
                end = "the next frame's stack pointer 0x%x is not above 0x%x: the walk ends here" % (nxt.sp, cur.sp)
                break
            if self.target.module_of(nxt.address) is None:
                end = "the return address 0x%x is in no loaded module: the walk ends here" % nxt.address
                break
            nxt.index = len(frames)
            self._name(nxt)
            frames.append(nxt)
        return StackWalk(frames, end, entry)

    def _name(self, frame):
        frame.module, frame.where = name_address(self.target, frame.address)

    def caller(self, cur, entry):
        """The frame that called ``cur``, or None; ReadError when a stack
        word it needs is not saved."""
        if entry:
            sp = cur.regs["rsp"]
            ra = self.target.read_u64(sp)
            regs = dict((k, v) for k, v in cur.regs.items()
                        if k in ("rbx", "rbp", "rsi", "rdi", "r12", "r13", "r14", "r15"))
            regs.update(rip=ra, rsp=sp + 8)
            return Frame(None, ra, sp + 8, TRUST_CFI, regs=regs, slot=sp,
                         note="the return address at RSP of the bugcheck routine's entry")
        if self.arch == "x64":
            got = self._cfi_x64(cur)
            if got is not None:
                return got
        got = self._frame_pointer(cur)
        if got is not None:
            return got
        return self._scan(cur)

    def _cfi_x64(self, cur):
        from wdfdbg.decoders.unwind_x64 import UnwindError, unwind_frame
        mod = self.target.module_of(cur.address)
        img = self.image(mod)
        if img is None or img[1] is None or "rsp" not in cur.regs:
            return None
        pe, table = img
        # a return address may be just past its function's last byte (a
        # call as the last instruction): look up the byte before it
        look = cur.address - mod.base - (0 if cur.index == 0 else 1)
        try:
            function = table.lookup(look)
            regs = unwind_frame(pe, mod.base, function, cur.address, cur.regs, self.target.read_u64)
        except (PeFormatError, UnwindError):
            return None
        except ReadError as e:
            if getattr(e, "address", None) is not None and mod.contains(e.address):
                return None   # the unwind data is not saved: fall back
            raise
        note = None if function is not None else "a leaf function (no RUNTIME_FUNCTION): return address at RSP"
        return Frame(None, regs["rip"], regs["rsp"], TRUST_CFI, regs=regs, slot=regs["rsp"] - 8, note=note)

    def _frame_pointer(self, cur):
        if self.arch == "arm64":
            fp = cur.regs.get("fp")
            if fp is None or fp < cur.sp or fp - cur.sp > MAX_FP_GAP or fp % 8:
                return None
            lr = self.target.read_u64(fp + 8)
            if not self.return_address_ok(lr):
                return None
            caller_fp = self.target.read_u64(fp)
            return Frame(None, lr, fp + 16, TRUST_FP, regs={"fp": caller_fp, "sp": fp + 16}, slot=fp + 8)
        rbp = cur.regs.get("rbp")
        if rbp is None or rbp <= cur.sp or rbp - cur.sp > MAX_FP_GAP or rbp % 8:
            return None
        try:
            ra = self.target.read_u64(rbp + 8)
            saved = self.target.read_u64(rbp)
        except ReadError:
            return None
        # x64 code rarely keeps an RBP chain: the bytes before the return
        # address must show the call
        if self.in_code(ra) is None or self.call_check(ra) is not True:
            return None
        return Frame(None, ra, rbp + 16, TRUST_FP, regs={"rbp": saved, "rsp": rbp + 16}, slot=rbp + 8)

    def _scan(self, cur):
        start = cur.sp
        step = 8
        for i in range(SCAN_WORDS):
            slot = start + i * step
            value = self.target.read_u64(slot)
            if value == cur.address and i == 0 and cur.index > 0:
                continue
            if self.return_address_ok(value):
                if self.arch == "x64":
                    regs = {"rsp": slot + 8}
                else:
                    regs = {"sp": slot + 8}
                return Frame(None, value, slot + 8, TRUST_SCAN, regs=regs, slot=slot)
        return None


def walk_crash_stack(target, backend, bugcheck=None, max_frames=MAX_FRAMES):
    """The crashing thread's :class:`StackWalk` (empty with a reason when
    the source keeps no saved context)."""
    regs = backend_crash_registers(backend)
    arch = getattr(target, "arch", None) or _backend_arch(backend)
    if not regs:
        return StackWalk([], "the saved context is not in this source")
    return Walker(target, arch, max_frames).walk(regs, bugcheck)


def _backend_arch(backend):
    for _ in range(8):
        if backend is None:
            return None
        arch = getattr(backend, "arch", None)
        if arch:
            return arch
        backend = getattr(backend, "inner", None)
    return None
