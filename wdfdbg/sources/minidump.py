"""Windows' default "small memory dump": the triage kernel dump (DumpType 4).

Layout (``shared/reference/kmdf.md`` §11; Microsoft's published
``ntiodump.h``/``mindumpdef.h``; checked against the two real dumps in
``shared/dumps``):

* ``DUMP_HEADER64`` (0x2000 bytes, ``PAGE``/``DU64``) or ``DUMP_HEADER32``
  (0x1000 bytes, ``PAGE``/``DUMP``): build, machine, processors, bugcheck,
  kernel pointers, the context record, ``DumpType`` (0xF98 / 0xF88) and
  ``MiniDumpFields`` (0x1038 / 0xF8C, which parts of the triage dump are valid).
* ``TRIAGE_DUMP64`` at 0x2000 (``TRIAGE_DUMP32`` at 0x1000): file offsets of
  the context, the call stack, the loaded-driver list and its string pool,
  the debugger data block (KDBG), one data page and the saved data blocks.
* Driver list entries ``{ULONG DriverNameOffset; [pad]; KLDR_DATA_TABLE_ENTRY}``
  (stride 0x90 on 64-bit, 0x4C on 32-bit); string-pool entries are
  ``{ULONG length in WCHARs; WCHAR name[]; NUL}`` (the real dumps count
  characters, not bytes as the header comment says).
* ``TRIAGE_DATA_BLOCK {ULONG64 Address; ULONG Offset; ULONG Size}`` (16 bytes
  on both 32- and 64-bit kernels): saved virtual memory.
* After ``SizeOfDump``: secondary dump data (``DumpBlob``), tagged blobs from
  bugcheck callbacks. KMDF writes two of them: ``WdfDumpGuid2``, its
  driver-info table (``FX_DUMP_DRIVER_INFO_ENTRY``: globals, version, name of
  every KMDF driver, entry 0 the framework itself), and ``WdfDumpGuid``, the
  in-flight recorder log of the driver that crashed.

Everything read from the file is untrusted: every offset and count is
checked against the file size before use, absurd counts raise
:class:`~wdfdbg.errors.DumpError`, nothing is read past the end of the file,
and the page index is bounded by the file size. The file is read once, in
pieces, into one buffer of its real size (a regular file only, at most
``limits.TRIAGE_FILE``), so the reader needs no more address space than
the dump itself.
"""

import struct
import uuid

from wdfdbg.errors import DumpError, ReadError
from wdfdbg.sources import limits
from wdfdbg.sources.base import Backend, Bugcheck, Module, Page, SymbolTable
from wdfdbg.sources.inputfile import open_input, read_exactly
from wdfdbg.sources.limits import size_text

PAGE_SIZE = 0x1000
MAX_DRIVERS = 1 << 16
MAX_BLOCKS = 1 << 22
MAX_NAME_CHARS = 1 << 15
MAX_BLOBS = 1 << 16

MACHINES = {0x8664: "x64", 0xAA64: "arm64", 0x14C: "x86"}
MACHINE_NAMES = {0x8664: "x64 (AMD64)", 0xAA64: "ARM64", 0x14C: "x86 (i386)", 0x1C4: "32-bit ARM (ARMNT)",
                 0x200: "IA-64"}

DUMP_TYPES = {1: "full", 2: "summary", 3: "header", 4: "triage (small memory dump)", 5: "bitmap full",
              6: "bitmap kernel", 7: "automatic", 8: "kernel memory (RDMP)", 9: "kernel and user memory (RDMP)",
              10: "complete memory (RDMP)"}

# TRIAGE_DUMP.ValidFields / DUMP_HEADER.MiniDumpFields bits (ntiodump.h)
TRIAGE_DUMP_CONTEXT = 0x1
TRIAGE_DUMP_STACK = 0x20
TRIAGE_DUMP_DRIVER_LIST = 0x40
TRIAGE_DUMP_DATAPAGE = 0x200
TRIAGE_DUMP_DEBUGGER_DATA = 0x400
TRIAGE_DUMP_DATA_BLOCKS = 0x800
TRIAGE_DUMP_VALID = b"TRGD"   # 'DGRT' as a little-endian ULONG

TRIAGE_FIELDS = ("ServicePackBuild", "SizeOfDump", "ValidOffset", "ContextOffset", "ExceptionOffset", "MmOffset",
                 "UnloadedDriversOffset", "PrcbOffset", "ProcessOffset", "ThreadOffset", "CallStackOffset",
                 "SizeOfCallStack", "DriverListOffset", "DriverCount", "StringPoolOffset", "StringPoolSize",
                 "BrokenDriverOffset", "TriageOptions")

# KMDF's secondary dump data (fxifr.h)
WDF_DUMP_GUID = uuid.UUID("54c84888-01d1-4c1e-bed6-282c98241303")    # IFR log of the crashing driver
WDF_DUMP_GUID2 = uuid.UUID("f87e4a4c-c5a1-4d2f-bff0-d5de63a5e4c3")   # FX_DUMP_DRIVER_INFO_ENTRY table
BLOB_NAMES = {WDF_DUMP_GUID: "KMDF in-flight recorder log", WDF_DUMP_GUID2: "KMDF driver info table"}

# KDDEBUGGER_DATA64 fields (the same 64-bit layout on every architecture)
KDBG_SYMBOLS = (("KernBase", 0x18), ("PsLoadedModuleList", 0x48), ("PsActiveProcessHead", 0x50),
                ("PspCidTable", 0x58), ("KeBugCheckCallbackListHead", 0x80), ("KiBugcheckData", 0x88),
                ("IopErrorLogListHead", 0x90), ("ObpRootDirectoryObject", 0x98), ("ObpTypeObjectType", 0xA0))

KERNEL_IMAGES = ("ntoskrnl", "ntkrnlmp", "ntkrnlpa", "ntkrpamp")


class Layout(object):
    """Offsets of one header flavour (64- or 32-bit)."""

    def __init__(self, bits):
        self.bits = bits
        if bits == 64:
            self.ptr = 8
            self.header_size = 0x2000
            self.dump_type = 0xF98
            self.mini_dump_fields = 0x1038
            self.triage = 0x2000
            self.triage_size = 0x80
            self.context = 0x348
            self.context_size = 3000
            self.driver_stride = 0x90
            self.ldr = 8                       # KLDR_DATA_TABLE_ENTRY64 inside the entry
            self.ldr_base, self.ldr_size, self.ldr_timestamp, self.ldr_checksum = 0x30, 0x40, 0x80, 0x78
            self.kmdf_entry = 0x38
        else:
            self.ptr = 4
            self.header_size = 0x1000
            self.dump_type = 0xF88
            self.mini_dump_fields = 0xF8C
            self.triage = 0x1000
            self.triage_size = 0x68
            self.context = 0x320
            self.context_size = 1200
            self.driver_stride = 0x4C
            self.ldr = 4
            self.ldr_base, self.ldr_size, self.ldr_timestamp, self.ldr_checksum = 0x18, 0x20, 0x44, 0x40
            self.kmdf_entry = 0x30


class DumpDriver(object):
    """One entry of the triage dump's loaded-driver list."""

    __slots__ = ("index", "path", "name", "base", "size", "timestamp", "checksum")

    def __init__(self, index, path, base, size, timestamp, checksum):
        self.index = index
        self.path = path
        self.name = module_name(path, index)
        self.base = base
        self.size = size
        self.timestamp = timestamp
        self.checksum = checksum

    def file_name(self):
        return self.path.replace("/", "\\").rsplit("\\", 1)[-1] if self.path else None


class Blob(object):
    """A secondary-data blob: GUID ``tag``, file ``offset`` and ``size``."""

    __slots__ = ("tag", "offset", "size")

    def __init__(self, tag, offset, size):
        self.tag = tag
        self.offset = offset
        self.size = size

    @property
    def name(self):
        return BLOB_NAMES.get(self.tag)


class KmdfDriverEntry(object):
    """One ``FX_DUMP_DRIVER_INFO_ENTRY`` from KMDF's secondary dump data."""

    __slots__ = ("globals", "version", "name")

    def __init__(self, globals_addr, version, name):
        self.globals = globals_addr
        self.version = version      # (major, minor, build)
        self.name = name

    def version_string(self):
        return "%d.%d" % (self.version[0], self.version[1])


def module_name(path, index=None):
    """Module name as the debugger shows it: the file name without its
    extension; the kernel image is ``nt``."""
    if not path:
        return "module%d" % (index or 0)
    base = path.replace("/", "\\").rsplit("\\", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    if stem.lower() in KERNEL_IMAGES or (index == 0 and stem.lower().startswith("ntkrnl")):
        return "nt"
    return stem or "module%d" % (index or 0)


# The integer registers of the saved CONTEXT record (x64 CONTEXT: Rax at
# 0x78 .. R15 at 0xF0, Rip at 0xF8; ARM64 CONTEXT: X0 at 0x8 .. X28, Fp 0xF0,
# Lr 0xF8, Sp 0x100, Pc 0x108; winnt.h), for the stack walk
X64_REGISTERS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
                 "r14", "r15", "rip")


def context_registers(arch, data, off):
    """name -> value of every integer register of the CONTEXT at ``off``
    (x64 and ARM64; {} for x86 or a record past the end of ``data``)."""
    if arch == "x64" and off + 0x100 <= len(data):
        return dict(zip(X64_REGISTERS, struct.unpack_from("<17Q", data, off + 0x78)))
    if arch == "arm64" and off + 0x110 <= len(data):
        vals = struct.unpack_from("<33Q", data, off + 0x8)
        regs = dict(("x%d" % i, v) for i, v in enumerate(vals[:29]))
        regs.update(fp=vals[29], lr=vals[30], sp=vals[31], pc=vals[32])
        return regs
    return {}


def _u32(data, off):
    return struct.unpack_from("<I", data, off)[0]


def _u64(data, off):
    return struct.unpack_from("<Q", data, off)[0]


def read_file(path):
    """The whole file (triage dumps are small) as a bytearray, read in
    pieces into one buffer of the file's real size; DumpError when it is not
    a regular file, cannot be read, or is larger than limits.TRIAGE_FILE."""
    f, size = open_input(path, DumpError)
    with f:
        if size > limits.TRIAGE_FILE.value():
            raise DumpError("%s: %s is far larger than any triage dump (at most %s; %s)"
                            % (path, size_text(size), limits.TRIAGE_FILE.text(), limits.TRIAGE_FILE.hint()))
        return read_exactly(f, size, path, DumpError)


def sniff_header(data, label="dump"):
    """Check the signature; return (Layout, dump type). DumpError for a file
    that is empty, too short, or not a Windows kernel dump."""
    n = len(data)
    if n == 0:
        raise DumpError("%s: empty file (0 bytes): not a Windows kernel dump" % label)
    if n < 8 or bytes(data[:4]) != b"PAGE":
        raise DumpError("%s: not a Windows kernel dump (signature %r, expected 'PAGE')" % (label, bytes(data[:min(4, n)])))
    valid = bytes(data[4:8])
    if valid == b"DU64":
        lay = Layout(64)
    elif valid == b"DUMP":
        lay = Layout(32)
    else:
        raise DumpError("%s: unknown kernel dump flavour %r after 'PAGE' (expected 'DU64' or 'DUMP')" % (label, valid))
    if n < lay.header_size:
        raise DumpError("%s: truncated: %d bytes, but the %d-bit dump header alone is 0x%x bytes"
                        % (label, n, lay.bits, lay.header_size))
    return lay, _u32(data, lay.dump_type)


class TriageDump(object):
    """A parsed, validated triage dump. ``data`` is the whole file."""

    def __init__(self, data, path=None):
        self.data = data
        self.path = path
        self.label = path or "dump"
        self.notes = []
        n = len(data)
        self.file_size = n
        lay, dump_type = sniff_header(data, self.label)
        self.layout = lay
        self.dump_type = dump_type
        if dump_type != 4:
            raise DumpError("%s: DumpType %d (%s) is not a triage dump" % (self.label, dump_type,
                                                                            DUMP_TYPES.get(dump_type, "unknown")))
        self._parse_header()
        self._parse_triage()

    # -- helpers -----------------------------------------------------------
    def _check(self, off, size, what):
        """Raise DumpError unless ``[off, off+size)`` lies inside the file."""
        if off < 0 or size < 0 or off + size > self.file_size:
            raise DumpError("%s: %s at file offset 0x%x (+0x%x) runs past the end of the file (%d bytes): "
                            "truncated or corrupt" % (self.label, what, off, size, self.file_size))

    # -- DUMP_HEADER --------------------------------------------------------
    def _parse_header(self):
        d = self.data
        lay = self.layout
        self.major_version = _u32(d, 0x8)
        self.build = _u32(d, 0xC)
        if lay.bits == 64:
            (self.directory_table_base, self.pfn_database, self.ps_loaded_module_list,
             self.ps_active_process_head) = struct.unpack_from("<4Q", d, 0x10)
            self.machine, self.processors, code = struct.unpack_from("<3I", d, 0x30)
            params = struct.unpack_from("<4Q", d, 0x40)
            self.kd_debugger_data_block = _u64(d, 0x80)
        else:
            (self.directory_table_base, self.pfn_database, self.ps_loaded_module_list,
             self.ps_active_process_head) = struct.unpack_from("<4I", d, 0x10)
            self.machine, self.processors, code = struct.unpack_from("<3I", d, 0x20)
            params = struct.unpack_from("<4I", d, 0x2C)
            self.kd_debugger_data_block = _u32(d, 0x60)
        self.bugcheck_code = code
        self.bugcheck_parameters = list(params)
        self.mini_dump_fields = _u32(d, lay.mini_dump_fields)
        arch = MACHINES.get(self.machine)
        if arch is None:
            raise DumpError("%s: machine type 0x%x (%s) is not supported (x64, ARM64 and x86 are)"
                            % (self.label, self.machine, MACHINE_NAMES.get(self.machine, "unknown")))
        if (arch == "x86") != (lay.bits == 32):
            raise DumpError("%s: machine type 0x%x does not match a %d-bit dump header"
                            % (self.label, self.machine, lay.bits))
        self.arch = arch
        if self.processors > 4096:
            raise DumpError("%s: absurd processor count %d" % (self.label, self.processors))

    def _fields_say(self, bit):
        """Whether MiniDumpFields marks a part valid (0 = no information)."""
        return self.mini_dump_fields == 0 or bool(self.mini_dump_fields & bit)

    # -- TRIAGE_DUMP --------------------------------------------------------
    def _parse_triage(self):
        d = self.data
        lay = self.layout
        self._check(lay.triage, lay.triage_size, "the triage header")
        t = dict(zip(TRIAGE_FIELDS, struct.unpack_from("<18I", d, lay.triage)))
        if lay.bits == 64:
            t["TopOfStack"] = _u64(d, 0x2048)
            t["DataPageAddress"] = _u64(d, 0x2060)
            rest = struct.unpack_from("<6I", d, 0x2068)
        else:
            t["TopOfStack"] = _u32(d, 0x1048)
            t["DataPageAddress"] = _u32(d, 0x104C)
            rest = struct.unpack_from("<6I", d, 0x1050)
        for k, v in zip(("DataPageOffset", "DataPageSize", "DebuggerDataOffset", "DebuggerDataSize",
                         "DataBlocksOffset", "DataBlocksCount"), rest):
            t[k] = v
        self.triage = t
        size_of_dump = t["SizeOfDump"]
        if size_of_dump > self.file_size:
            raise DumpError("%s: truncated: the triage header says the dump is %d bytes, the file has %d"
                            % (self.label, size_of_dump, self.file_size))
        if size_of_dump and size_of_dump < lay.header_size + lay.triage_size:
            raise DumpError("%s: corrupt triage header: SizeOfDump %d is smaller than the headers"
                            % (self.label, size_of_dump))
        vo = t["ValidOffset"]
        if vo and vo + 4 <= self.file_size:
            if bytes(d[vo:vo + 4]) != TRIAGE_DUMP_VALID:
                self.notes.append("the triage dump's validity marker at 0x%x is missing (the dump may be incomplete)" % vo)
        elif vo:
            raise DumpError("%s: ValidOffset 0x%x lies past the end of the file (%d bytes): truncated or corrupt"
                            % (self.label, vo, self.file_size))
        self._parse_context()
        self._parse_drivers()
        self._parse_memory()
        self._parse_blobs()

    def _parse_context(self):
        lay = self.layout
        off = self.triage["ContextOffset"] or lay.context
        self.context = {}
        self.registers = {}
        self.context_offset = None
        size = {"x64": 0x4D0, "arm64": 0x390, "x86": 0x2CC}[self.arch]
        if off + size > self.file_size:
            self.notes.append("the context record at 0x%x is not in the file" % off)
            return
        self.context_offset = off
        d = self.data
        if self.arch == "x64":
            regs = (("rsp", 0x98), ("rbp", 0xA0), ("rip", 0xF8))
            fmt = "<Q"
        elif self.arch == "arm64":
            regs = (("fp", 0xF0), ("lr", 0xF8), ("sp", 0x100), ("pc", 0x108))
            fmt = "<Q"
        else:
            regs = (("ebp", 0xB4), ("eip", 0xB8), ("esp", 0xC4))
            fmt = "<I"
        for name, o in regs:
            self.context[name] = struct.unpack_from(fmt, d, off + o)[0]
        self.registers = context_registers(self.arch, d, off)

    def _parse_drivers(self):
        t = self.triage
        lay = self.layout
        self.drivers = []
        count = t["DriverCount"]
        if not count:
            return
        if count > MAX_DRIVERS:
            raise DumpError("%s: absurd driver count %d in the triage header" % (self.label, count))
        off = t["DriverListOffset"]
        need = count * lay.driver_stride
        if off + need > self.file_size:
            raise DumpError("%s: absurd driver count %d: the list at 0x%x would need 0x%x bytes, the file has %d"
                            % (self.label, count, off, need, self.file_size))
        d = self.data
        pool_lo = t["StringPoolOffset"]
        pool_hi = pool_lo + t["StringPoolSize"]
        if not (pool_lo and pool_hi <= self.file_size):
            pool_lo, pool_hi = 0, self.file_size
        for i in range(count):
            e = off + i * lay.driver_stride
            name_off = _u32(d, e)
            ldr = e + lay.ldr
            fmt = "<Q" if lay.bits == 64 else "<I"
            base = struct.unpack_from(fmt, d, ldr + lay.ldr_base)[0]
            size = _u32(d, ldr + lay.ldr_size)
            ts = _u32(d, ldr + lay.ldr_timestamp)
            cks = _u32(d, ldr + lay.ldr_checksum)
            path = self._pool_string(name_off, pool_lo, pool_hi, i)
            if base + size > (1 << (8 * lay.ptr)):
                raise DumpError("%s: driver %d (%s) at 0x%x+0x%x runs past the top of the address space"
                                % (self.label, i, path, base, size))
            self.drivers.append(DumpDriver(i, path, base, size, ts, cks))

    def _pool_string(self, off, lo, hi, index):
        if off < lo or off + 4 > hi:
            raise DumpError("%s: driver %d: its name at 0x%x is outside the string pool (0x%x-0x%x)"
                            % (self.label, index, off, lo, hi))
        chars = _u32(self.data, off)
        if chars > MAX_NAME_CHARS or off + 4 + 2 * chars > hi:
            raise DumpError("%s: driver %d: absurd name length %d at 0x%x" % (self.label, index, chars, off))
        raw = bytes(self.data[off + 4:off + 4 + 2 * chars])
        return raw.decode("utf-16-le", "replace").split("\0", 1)[0]

    # -- memory -------------------------------------------------------------
    def _parse_memory(self):
        """Collect the saved memory as (va, file offset, size, source)."""
        t = self.triage
        d = self.data
        top = 1 << (8 * self.layout.ptr)
        segs = []
        count = t["DataBlocksCount"]
        self.data_blocks = 0
        if count and self._fields_say(TRIAGE_DUMP_DATA_BLOCKS):
            off = t["DataBlocksOffset"]
            if count > MAX_BLOCKS or off + 16 * count > self.file_size:
                raise DumpError("%s: absurd data block count %d: the table at 0x%x would need 0x%x bytes, the file has %d"
                                % (self.label, count, off, 16 * count, self.file_size))
            total = 0
            for i in range(count):
                va, foff, size = struct.unpack_from("<QII", d, off + 16 * i)
                if not size:
                    continue
                self._check(foff, size, "data block %d (0x%x, %d bytes)" % (i, va, size))
                if va + size > top:
                    raise DumpError("%s: data block %d at 0x%x+0x%x runs past the top of the address space"
                                    % (self.label, i, va, size))
                total += size
                if total > 2 * self.file_size:
                    raise DumpError("%s: absurd data blocks: they claim more than twice the file's %d bytes"
                                    % (self.label, self.file_size))
                segs.append((va, foff, size, 0))
            self.data_blocks = len(segs)
        # the call stack: TopOfStack is the lowest saved address (the stack
        # pointer side); SizeOfCallStack bytes up from there
        cs_off, cs_size, tos = t["CallStackOffset"], t["SizeOfCallStack"], t["TopOfStack"]
        if cs_off and cs_size and tos and self._fields_say(TRIAGE_DUMP_STACK):
            self._check(cs_off, cs_size, "the call stack")
            if tos + cs_size <= top:
                segs.append((tos, cs_off, cs_size, 1))
        dd_off, dd_size = t["DebuggerDataOffset"], t["DebuggerDataSize"]
        self.kdbg = None
        if dd_off and dd_size and self._fields_say(TRIAGE_DUMP_DEBUGGER_DATA):
            self._check(dd_off, dd_size, "the debugger data block")
            self.kdbg = (dd_off, dd_size)
            kd = self.kd_debugger_data_block
            if kd and kd + dd_size <= top:
                segs.append((kd, dd_off, dd_size, 2))
        segs.extend(self._thread_process_copies(top))
        dp_addr, dp_off, dp_size = t["DataPageAddress"], t["DataPageOffset"], t["DataPageSize"]
        if dp_addr and dp_off and dp_size and self._fields_say(TRIAGE_DUMP_DATAPAGE):
            self._check(dp_off, dp_size, "the data page")
            if dp_addr + dp_size <= top:
                segs.append((dp_addr, dp_off, dp_size, 3))
        self.segments = segs

    def _thread_process_copies(self, top):
        """The crashing thread's KTHREAD copy (``ThreadOffset``) and its
        process's EPROCESS copy (``ProcessOffset``) as memory at their
        addresses, as the debugger shows them, x64 only: the thread is
        KPRCB.CurrentThread of the PRCB copy (+0x8), the process
        KTHREAD.Process (+0x220 [pdb] 14393-22000, and in the 26100 dump),
        taken only when KTHREAD.ApcState.Process (+0x98+0x20) agrees. Each
        copy runs to the next part of the file (at most a page); priority 4:
        a saved data block at the same address wins."""
        t = self.triage
        d = self.data
        if self.arch != "x64":
            return []
        prcb, to, po = t.get("PrcbOffset") or 0, t.get("ThreadOffset") or 0, t.get("ProcessOffset") or 0
        if not (prcb and to and po) or prcb + 0x10 > self.file_size or to + 0x228 > self.file_size:
            return []
        thread = _u64(d, prcb + 0x8)
        process = _u64(d, to + 0x220)
        if not thread or not process or process != _u64(d, to + 0x98 + 0x20):
            return []
        starts = sorted(v for k, v in t.items() if k.endswith("Offset") and isinstance(v, int) and v)
        out = []
        for va, off in ((thread, to), (process, po)):
            nxt = [v for v in starts if v > off] + [self.file_size]
            size = min(nxt[0] - off, PAGE_SIZE, self.file_size - off)
            if size > 0 and va + size <= top:
                out.append((va, off, size, 4))
        return out

    # -- secondary data -----------------------------------------------------
    def _parse_blobs(self):
        """Secondary dump data after SizeOfDump; malformed blobs end the
        walk with a note (the primary dump is still good)."""
        self.blobs = []
        d = self.data
        start = self.triage["SizeOfDump"]
        if not start:
            return
        pos = None
        for cand in (start, (start + 7) & ~7):
            if cand + 16 <= self.file_size and bytes(d[cand:cand + 8]) == b"DumpBlob":
                pos = cand
                break
        if pos is None:
            return
        hsize = _u32(d, pos + 8)
        if hsize < 16 or hsize > 0x1000:
            self.notes.append("secondary dump data: bad file header size %d" % hsize)
            return
        off = pos + hsize
        while off + 0x20 <= self.file_size:
            if len(self.blobs) >= MAX_BLOBS:
                self.notes.append("secondary dump data: stopped after %d blobs" % MAX_BLOBS)
                return
            h = _u32(d, off)
            if h < 0x20 or h > 0x1000:
                self.notes.append("secondary dump data: bad blob header size %d at 0x%x" % (h, off))
                return
            tag = uuid.UUID(bytes_le=bytes(d[off + 4:off + 20]))
            size, pre, post = struct.unpack_from("<3I", d, off + 20)
            data_off = off + h + pre
            end = data_off + size + post
            if data_off + size > self.file_size:
                self.notes.append("secondary dump data: blob %s at 0x%x runs past the end of the file" % (tag, off))
                return
            self.blobs.append(Blob(tag, data_off, size))
            off = end

    def blob_bytes(self, blob):
        return bytes(self.data[blob.offset:blob.offset + blob.size])

    def kmdf_driver_table(self):
        """KMDF's driver-info table (``WdfDumpGuid2``), list of
        :class:`KmdfDriverEntry`; entry 0 is the framework."""
        out = []
        esz = self.layout.kmdf_entry
        ptr = self.layout.ptr
        for b in self.blobs:
            if b.tag != WDF_DUMP_GUID2:
                continue
            raw = self.blob_bytes(b)
            for i in range(len(raw) // esz):
                e = raw[i * esz:(i + 1) * esz]
                g = struct.unpack_from("<Q" if ptr == 8 else "<I", e, 0)[0]
                ver = struct.unpack_from("<3I", e, ptr)
                name = e[ptr + 12:ptr + 12 + 32].split(b"\0", 1)[0].decode("latin-1")
                if not name:
                    continue
                out.append(KmdfDriverEntry(g, ver, name))
            break
        return out

    def kmdf_ifr_logs(self):
        """Names of the drivers whose KMDF in-flight recorder log was saved
        (``WdfDumpGuid``): list of (name, size)."""
        out = []
        name_off = 0x24 if self.layout.ptr == 8 else 0x20
        for b in self.blobs:
            if b.tag == WDF_DUMP_GUID and b.size >= name_off + 32:
                raw = self.blob_bytes(b)
                out.append((raw[name_off:name_off + 32].split(b"\0", 1)[0].decode("latin-1"), b.size))
        return out

    def kdbg_symbols(self):
        """``nt!`` symbols from the saved KDDEBUGGER_DATA64 copy."""
        out = {}
        if not self.kdbg:
            return out
        off, size = self.kdbg
        d = self.data
        if size < 0x18 or bytes(d[off + 0x10:off + 0x14]) != b"KDBG":
            return out
        for name, o in KDBG_SYMBOLS:
            if o + 8 <= size:
                v = _u64(d, off + o)
                if v and name != "KernBase":
                    out["nt!%s" % name] = v
        return out


class DumpSymbols(object):
    """Symbols of a dump backend without PDBs: what ``derived_symbols()``
    finds (header pointers, FxLibraryGlobals), computed once; only exact
    addresses have names."""

    _symbols = None
    _symtab = None

    def derived_symbols(self):
        return {}

    def _symbol_map(self):
        if self._symbols is None:
            self._symbols = self.derived_symbols()
            self._symtab = SymbolTable(self._symbols)
        return self._symbols

    def symbol(self, name):
        self._symbol_map()
        return self._symtab.lookup(name)

    def symbol_at(self, address):
        self._symbol_map()
        hit = self._symtab.at(address)
        return hit if hit is not None and hit[1] == 0 else None

    def symbols(self):
        return dict(self._symbol_map())


class MinidumpBackend(DumpSymbols, Backend):
    """Reads a triage dump: the saved data blocks (and call stack, KDBG copy,
    data page) are the readable memory; everything else is unreadable."""

    kind = "minidump"
    origin = "dump"

    def __init__(self, dump):
        self.dump = dump
        self.path = dump.path
        self.arch = dump.arch
        self.pointer_size = dump.layout.ptr
        self.page_size = PAGE_SIZE
        self.os_build = dump.build
        self.description = "triage dump (DumpType 4)"
        self.notes = list(dump.notes)
        self._kmdf_table = dump.kmdf_driver_table()
        self.kmdf_version = None
        for e in self._kmdf_table:
            if e.name.lower() == "wdf01000":
                self.kmdf_version = e.version_string()
                break
        self._modules = [Module(dr.name, dr.base, dr.size, dr.path, dr.timestamp) for dr in dump.drivers]
        self._build_index()

    # -- memory ---------------------------------------------------------------
    def _build_index(self):
        """page address -> list of (lo, hi, file offset of lo, priority),
        and the merged readable ranges."""
        index = {}
        ps = PAGE_SIZE
        spans = []
        for va, foff, size, prio in self.dump.segments:
            spans.append((va, va + size))
            a = va
            end = va + size
            while a < end:
                pa = a - (a % ps)
                hi = min(end, pa + ps)
                index.setdefault(pa, []).append((a - pa, hi - pa, foff + (a - va), prio))
                a = hi
        for lst in index.values():
            lst.sort(key=lambda s: -s[3])   # lowest priority first, highest last (wins)
        self._index = index
        spans.sort()
        merged = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                if hi > merged[-1][1]:
                    merged[-1][1] = hi
            else:
                merged.append([lo, hi])
        self._ranges = [(lo, hi - lo) for lo, hi in merged]

    def read_page(self, page_address):
        segs = self._index.get(page_address)
        if not segs:
            raise ReadError(page_address, reason="not captured in the triage dump")
        data = self.dump.data
        ps = PAGE_SIZE
        if len(segs) == 1 and segs[0][0] == 0 and segs[0][1] == ps:
            foff = segs[0][2]
            return Page(memoryview(data)[foff:foff + ps])
        buf = bytearray(ps)
        cover = []
        for lo, hi, foff, _prio in segs:
            buf[lo:hi] = data[foff:foff + (hi - lo)]
            cover.append((lo, hi))
        cover.sort()
        valid = []
        for lo, hi in cover:
            if valid and lo <= valid[-1][1]:
                if hi > valid[-1][1]:
                    valid[-1] = (valid[-1][0], hi)
            else:
                valid.append((lo, hi))
        if valid == [(0, ps)]:
            return Page(bytes(buf))
        return Page(bytes(buf), tuple(valid))

    def ranges(self):
        return list(self._ranges)

    def captured_bytes(self):
        return sum(s for _, s in self._ranges)

    # -- description --------------------------------------------------------
    def modules(self):
        return list(self._modules)

    def module(self, name):
        low = name.lower()
        for m in self._modules:
            if m.name.lower() == low:
                return m
        return None

    def bugcheck(self):
        return Bugcheck(self.dump.bugcheck_code, self.dump.bugcheck_parameters)

    def crash_registers(self):
        """The saved context's integer registers (``context_registers``)."""
        return dict(self.dump.registers)

    def crash_thread(self):
        """``KPRCB.CurrentThread`` of the crashing processor: the triage
        header's ``PrcbOffset`` is a copy of that processor's KPRCB, and
        CurrentThread is at +0x8 on x64 (after ULONG MxCsr and four UCHARs;
        [pdb] nt!_KPRCB, [dump] 0xffffc08bde9e1640 in triage_x64.dmp). Other
        architectures: None (their KPRCB offset is unverified)."""
        off = self.dump.triage.get("PrcbOffset") or 0
        if self.arch != "x64" or not off or off + 0x10 > self.dump.file_size:
            return None
        return _u64(self.dump.data, off + 0x8) or None

    def kmdf_drivers(self):
        """KMDF's own driver table from the dump's secondary data:
        list of :class:`KmdfDriverEntry` (the framework is entry 0)."""
        return list(self._kmdf_table)

    # -- symbols -----------------------------------------------------------
    def derived_symbols(self):
        syms = header_symbols(self.dump)
        for k, v in self.dump.kdbg_symbols().items():
            syms.setdefault(k, v)
        lib = find_library_globals(self)
        if lib is not None:
            syms["Wdf01000!FxLibraryGlobals"] = lib
        return syms

    def close(self):
        pass


# -- deriving FxLibraryGlobals ------------------------------------------------
# FX_DRIVER_GLOBALS (kmdf.md §9, checked on both real dumps): WdfHandleMask at
# 0x38 is ~7 and LibraryGlobals points at Wdf01000!FxLibraryGlobals: 0x58 on
# 1607..20H2, 0x60 on Windows 11 (x64 and ARM64 alike).
GLOBALS_MASK_OFFSET = 0x38
LIBRARY_GLOBALS_OFFSETS = (0x58, 0x60)
FULL_MASK64 = 0xFFFFFFFFFFFFFFF8


def _read_q(backend, addr):
    pa = addr - (addr % PAGE_SIZE)
    off = addr - pa
    if off + 8 > PAGE_SIZE:
        return None
    try:
        page = backend.read_page(pa)
    except ReadError:
        return None
    if page.valid is not None and page.first_invalid(off, off + 8) is not None:
        return None
    return struct.unpack_from("<Q", page.data, off)[0]


def candidate_globals(backend):
    """Addresses that are FX_DRIVER_GLOBALS blocks: from KMDF's driver table
    when the dump has it, plus every captured 16-aligned block whose
    WdfHandleMask is ~7."""
    out = []
    seen = set()
    for e in backend.kmdf_drivers():
        if e.globals and e.globals not in seen and _read_q(backend, e.globals + GLOBALS_MASK_OFFSET) == FULL_MASK64:
            seen.add(e.globals)
            out.append(e.globals)
    mask = struct.pack("<Q", FULL_MASK64)
    data = backend.dump.data
    for va, foff, size, prio in backend.dump.segments:
        if prio != 0:
            continue
        blk = memoryview(data)[foff:foff + size]
        raw = bytes(blk)
        i = raw.find(mask)
        while i >= 0:
            g = va + i - GLOBALS_MASK_OFFSET
            if g % 16 == 0 and g not in seen:
                seen.add(g)
                out.append(g)
            i = raw.find(mask, i + 1)
    return out


def header_symbols(header):
    """The kernel symbols a dump header names (any object with
    ``ps_loaded_module_list``, ``ps_active_process_head`` and
    ``kd_debugger_data_block``): name -> address, zeros left out."""
    syms = {}
    for name, attr in (("nt!PsLoadedModuleList", "ps_loaded_module_list"),
                       ("nt!PsActiveProcessHead", "ps_active_process_head"),
                       ("nt!KdDebuggerDataBlock", "kd_debugger_data_block")):
        v = getattr(header, attr, None)
        if v:
            syms[name] = v
    return syms


def find_library_globals(backend):
    """``Wdf01000!FxLibraryGlobals`` from the LibraryGlobals pointer of the
    captured driver globals: it must point inside Wdf01000's image, and all
    candidates must agree. None when it cannot be derived (32-bit dumps: the
    x86 globals layout is unverified)."""
    if backend.pointer_size != 8:
        return None
    wdf = backend.module("Wdf01000")
    if wdf is None:
        return None
    votes = {}
    for g in candidate_globals(backend):
        for off in LIBRARY_GLOBALS_OFFSETS:
            v = _read_q(backend, g + off)
            if v is not None and wdf.base < v < wdf.base + wdf.size and v % 8 == 0:
                votes[v] = votes.get(v, 0) + 1
    if len(votes) != 1:
        return None
    return next(iter(votes))


def open_minidump(path, data=None):
    """Parse the triage dump at ``path`` (or ``data``) into a backend."""
    if data is None:
        data = read_file(path)
    return MinidumpBackend(TriageDump(data, path))


MAX_TABLE = 4096


def kmdf_driver_table(backend):
    """KMDF's driver-info table for any backend: a triage dump's own
    (:meth:`MinidumpBackend.kmdf_drivers`), or the ``kmdf_drivers`` key a
    converted snapshot keeps; wrappers (recording, ``--types``) are looked
    through. Untrusted snapshot entries are checked; bad ones are skipped.
    Returns a list of :class:`KmdfDriverEntry` (may be empty)."""
    seen = 0
    while backend is not None and seen < 8:
        seen += 1
        getter = getattr(type(backend), "kmdf_drivers", None)
        if getter is not None:
            try:
                return list(backend.kmdf_drivers())
            except Exception:  # an optional source of names
                return []
        snap = getattr(backend, "snap", None)
        doc = getattr(snap, "doc", None)
        if isinstance(doc, dict):
            return _table_from_doc(doc.get("kmdf_drivers"))
        backend = getattr(backend, "inner", None)
    return []


def _table_from_doc(entries):
    from wdfdbg.sources.snapshot import parse_hex
    out = []
    if not isinstance(entries, list):
        return out
    for e in entries[:MAX_TABLE]:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"]:
            continue
        g = parse_hex(e.get("globals"))
        if g is None:
            continue
        ver = (0, 0, 0)
        v = e.get("version")
        if isinstance(v, str):
            parts = v.split(".")
            if 1 <= len(parts) <= 3 and all(p.isdigit() and len(p) <= 9 for p in parts):
                ver = tuple(int(p) for p in parts) + (0,) * (3 - len(parts))
        out.append(KmdfDriverEntry(g, ver, e["name"][:64]))
    return out
