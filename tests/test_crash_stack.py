"""The crash's call stack: frames with how each was found, the KeBugCheckEx
caller, the crashing process, the KMDF callback context, and the batch
signature's FRAME field.

On the real triage dumps (``../shared/dumps``, skipped without it): frames
start at the saved context, every further frame's return address is the
word the saved stack holds at its slot, the 26100 dump names ibthfp.sys as
KeBugCheckEx's caller, each dump names its crashing process, triage_x64
starts at amdppm+0x334c. On a synthetic bitmap kernel dump holding an
image clang and lld-link built (tests/stack/unwind.c, build.sh) the
unwinder follows a stack laid as the image's UNWIND_INFO says, where
llvm-readobj (unwind.txt) and llvm-objdump (disasm.txt) say it, not
wdfdbg. Loops and unsaved stack pages end the walk with a note.
"""

import json
import os
import re
import struct
import subprocess
import sys

import pytest

from conftest import DUMPS, ROOT
from wdfdbg.analysis.crash_stack import stack_triage
from wdfdbg.batch.signature import signature, signature_frame
from wdfdbg.decoders.stack import MAX_FRAMES, Walker
from wdfdbg.errors import ReadError
from wdfdbg.sources.base import Module
from wdfdbg.sources.pe import PeImage, file_reader

STACK_DIR = os.path.join(ROOT, "tests", "stack")
# the process each real dump's EPROCESS copy names (checked by eye with a hex
# view of the copy: ImageFileName at the build's offset)
PROCESSES = {"DAIMUVG_102622-12000-01.dmp": "System", "DAIMUVG_102622-15671-01.dmp": "svchost.exe",
             "FrancoTrone64_AX200_082325-12593-01.dmp": "System", "NoamHuang_dell_033124-5078-01.dmp": "System",
             "NoamHuang_dell_040124-5515-01.dmp": "MemCompression", "ProxyRule_011620-8250-01.dmp": "System",
             "ojusha_help_100623-6156-01.dmp": "System", "triage_arm64.dmp": "System", "triage_x64.dmp": "System"}


def _dumps():
    if not os.path.isdir(DUMPS):
        return []
    return sorted(n for n in os.listdir(DUMPS) if n.endswith(".dmp"))


needs_dumps = pytest.mark.skipif(not _dumps(), reason="../shared/dumps is absent (real triage dumps)")


def _open(name):
    from wdfdbg.session import open_session
    return open_session(os.path.join(DUMPS, name))


# -- the real dumps ---------------------------------------------------------------
@needs_dumps
@pytest.mark.parametrize("name", _dumps() or ["none"])
def test_real_dump_frames_start_at_context_and_follow_the_saved_stack(name):
    s = _open(name)
    dump = s.target.backend.dump
    got = stack_triage(s)
    frames = got["stack"]
    assert frames, got["stack_end"]
    ip, sp = ("rip", "rsp") if dump.arch == "x64" else ("pc", "sp")
    assert frames[0]["trust"] == "context"
    assert int(frames[0]["address"], 16) == dump.registers[ip] == dump.context[ip]
    assert int(frames[0]["sp"], 16) == dump.registers[sp]
    # the saved call stack, straight from the file (TopOfStack, SizeOfCallStack)
    t = dump.triage
    lo, hi = t["TopOfStack"], t["TopOfStack"] + t["SizeOfCallStack"]
    raw = bytes(dump.data[t["CallStackOffset"]:t["CallStackOffset"] + t["SizeOfCallStack"]])
    last = None
    modules = s.target.modules()
    for f in frames[1:]:
        slot = int(f["slot"], 16)
        assert lo <= slot < hi, (name, f)
        word = struct.unpack_from("<Q", raw, slot - lo)[0]
        assert word == int(f["address"], 16), (name, f)
        owner = [m.name for m in modules if m.base <= word < m.base + m.size]
        assert owner == [f["module"]] and f["where"].startswith(f["module"] + "+")
        assert last is None or slot > last    # strictly up the stack
        last = slot
        assert f["trust"] in ("cfi", "frame-pointer", "scan")
    assert len(frames) <= MAX_FRAMES and got["stack_end"]


@needs_dumps
@pytest.mark.parametrize("name", _dumps() or ["none"])
def test_real_dump_names_its_crashing_process(name):
    got = stack_triage(_open(name))
    proc = got["process"]
    assert proc["name"] == PROCESSES[name], proc
    assert "ImageFileName at +0x" in proc["source"]


@needs_dumps
def test_26100_dump_names_ibthfp_as_the_caller_of_kebugcheckex():
    s = _open("FrancoTrone64_AX200_082325-12593-01.dmp")
    got = stack_triage(s)
    assert got["bugcheck_caller"]["where"] == "ibthfp+0x25bc9"
    assert got["bugcheck_caller"]["module"] == "ibthfp"
    assert "KeBugCheckEx" in got["bugcheck_caller"]["how"]
    assert [f["trust"] for f in got["stack"][:2]] == ["context", "cfi"]
    # the 24H2 offset: the nearest PDB build's (0x5a8) fails the bytes first, and says so
    assert "+0x338" in got["process"]["source"] and "+0x5a8 holds no image name" in got["process"]["source"]


@needs_dumps
def test_triage_x64_starts_at_amdppm_and_says_what_names_the_callback():
    got = stack_triage(_open("triage_x64.dmp"))
    assert got["stack"][0]["where"] == "amdppm+0x334c" and got["stack"][0]["trust"] == "context"
    assert got["bugcheck_caller"] is None     # the context is the exception's, not KeBugCheckEx's entry
    ctx = got["kmdf_context"]
    assert ctx and all(c["driver"] == "AmdPPM" for c in ctx)
    # no Wdf01000 symbols in a triage dump: which callback cannot be told, and it says so
    assert all(c["callback"] is None and "no symbol name" in c["missing"] for c in ctx)


@needs_dumps
def test_headline_json_and_text_on_the_26100_dump(tmp_path):
    out = subprocess.run([sys.executable, "-m", "wdfdbg", "memtree", "--json",
                          os.path.join(DUMPS, "FrancoTrone64_AX200_082325-12593-01.dmp")],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    doc = json.loads(out.stdout)
    tri = doc["triage"]
    assert tri["bugcheck_caller"]["where"] == "ibthfp+0x25bc9" and tri["process"]["name"] == "System"
    import jsonschema
    from wdfdbg.render.report import load_schema
    jsonschema.validate(doc, load_schema())
    text = subprocess.run([sys.executable, "-m", "wdfdbg", "memtree",
                           os.path.join(DUMPS, "FrancoTrone64_AX200_082325-12593-01.dmp")],
                          capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT)).stdout
    assert "KeBugCheckEx was called from ibthfp+0x25bc9" in text
    assert "#1 ibthfp+0x25bc9 [cfi]" in text and "crashing process: System" in text


# -- a synthetic bitmap kernel dump with an image whose .pdata is in memory ---------
PAGE = 0x1000
IMAGE_BASE = 0xfffff80412340000
OTHER_BASE = 0xfffff80499990000      # a module whose image is not in the dump
STACK_PAGE = 0xffff850429890000


def _readobj_functions():
    """{name: (start rva, [pushed registers in push order], alloc size)} from
    llvm-readobj --unwind (unwind.txt) and the symbol names of disasm.txt."""
    text = open(os.path.join(STACK_DIR, "unwind.txt")).read()
    dis = open(os.path.join(STACK_DIR, "disasm.txt")).read()
    names = dict((int(a, 16), n) for a, n in re.findall(r"^([0-9a-f]+) <(\w+)>:", dis, re.M))
    out = {}
    for block in text.split("RuntimeFunction {")[1:]:
        start = int(re.search(r"StartAddress: \((0x[0-9A-Fa-f]+)\)", block).group(1), 16)
        codes = re.findall(r"0x[0-9A-F]+: (\w+) (?:size|reg)=(\w+)", block)
        pushes = [v.lower() for op, v in reversed(codes) if op == "PUSH_NONVOL"]
        alloc = sum(int(v) for op, v in codes if op.startswith("ALLOC"))
        out[names[start]] = (start - 0x180000000, pushes, alloc)
    return out


def _return_after_call(caller, callee):
    """The RVA after ``callq <callee>`` inside ``caller`` (llvm-objdump)."""
    dis = open(os.path.join(STACK_DIR, "disasm.txt")).read()
    body = dis.split("<%s>:" % caller, 1)[1].split("\n\n", 1)[0]
    lines = [l for l in body.splitlines() if re.match(r"\s*[0-9a-f]+:", l)]
    for i, l in enumerate(lines):
        if "callq" in l and "<%s>" % callee in l:
            return int(lines[i + 1].split(":")[0], 16) - 0x180000000
    raise AssertionError("no call to %s in %s" % (callee, caller))


def _mapped_image():
    """unwind.sys laid out as the loader maps it (sections at their RVAs),
    through pe.py's section table: {page va: bytes}."""
    path = os.path.join(STACK_DIR, "unwind.sys")
    raw = open(path, "rb").read()
    img = PeImage(file_reader(path), mapped=False)
    size = (img.size_of_image + PAGE - 1) // PAGE * PAGE
    mem = bytearray(size)
    head = raw[:min(PAGE, img.sections[0][3] if img.sections else PAGE)]
    mem[:len(head)] = head
    for _n, rva, vsize, roff, rsize, _c in img.sections:
        part = raw[roff:roff + min(vsize or rsize, rsize)]
        mem[rva:rva + len(part)] = part
    return dict((IMAGE_BASE + o, bytes(mem[o:o + PAGE])) for o in range(0, size, PAGE)), size


def _lay_stack(funcs, chain, start):
    """Stack words for frames ``chain`` [(function, return address)] from
    ``start`` (the innermost frame's RSP after its prolog): each frame's
    allocation, then its pushes (last pushed lowest), then the return
    address. Returns ({address: value}, the registers each unwind restores,
    the slots of the return addresses)."""
    words = {}
    restored = []
    slots = []
    sp = start
    for n, (fname, ret) in enumerate(chain):
        _rva, pushes, alloc = funcs[fname]
        sp += alloc
        regs = {}
        for reg in reversed(pushes):
            value = 0x1111000000000000 + (n << 16) + len(regs)
            words[sp] = value
            regs[reg] = value
            sp += 8
        words[sp] = ret
        slots.append(sp)
        restored.append(regs)
        sp += 8
    return words, restored, slots


def _bitmap_dump(tmp_path, regs, words, extra_pages=()):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from test_minidump import build_bitmap_dump
    mem, size = _mapped_image()
    pages = {}
    for a, v in words.items():
        pa = a & ~0xFFF
        page = pages.setdefault(pa, bytearray(PAGE))
        struct.pack_into("<Q", page, a - pa, v)
    for pa in extra_pages:
        pages.setdefault(pa, bytearray(PAGE))
    for pa, page in pages.items():
        mem[pa] = bytes(page)
    mods = [("\\SystemRoot\\system32\\ntoskrnl.exe", 0xfffff80470000000, 0x100000),
            ("\\SystemRoot\\system32\\drivers\\unwind.sys", IMAGE_BASE, size),
            ("\\SystemRoot\\system32\\drivers\\other.sys", OTHER_BASE, 0x20000)]
    data = bytearray(build_bitmap_dump(mem, modules=mods, bugcheck=(0x7E, (0xC0000005, 0, 0, 0))))
    names = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
             "r14", "r15", "rip")
    for i, n in enumerate(names):       # CONTEXT at 0x348: Rax at +0x78 .. Rip at +0xF8 (winnt.h)
        struct.pack_into("<Q", data, 0x348 + 0x78 + 8 * i, regs.get(n, 0))
    p = tmp_path / "unwind.dmp"
    p.write_bytes(bytes(data))
    from wdfdbg.session import open_session
    return open_session(str(p))


def _kdmp():
    pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed (pip install kdmp-parser)")


def test_cfi_unwinds_through_an_image_whose_pdata_is_in_memory(tmp_path):
    _kdmp()
    funcs = _readobj_functions()
    assert set(funcs) == {"inner", "middle", "outer"}
    ret_inner = _return_after_call("middle", "inner")       # middle's first call to inner
    ret_middle = _return_after_call("outer", "middle")
    rip = IMAGE_BASE + funcs["inner"][0] + 0x30             # inside inner's body, past its prolog
    start = STACK_PAGE + 0x100
    chain = [("inner", IMAGE_BASE + ret_inner), ("middle", IMAGE_BASE + ret_middle), ("outer", OTHER_BASE + 0x2345)]
    words, restored, slots = _lay_stack(funcs, chain, start)
    s = _bitmap_dump(tmp_path, {"rip": rip, "rsp": start, "rcx": 1}, words)
    walk = Walker(s.target, "x64").walk({"rip": rip, "rsp": start})
    got = [(f.where, f.trust) for f in walk.frames]
    assert got[:4] == [("unwind+0x%x" % (funcs["inner"][0] + 0x30), "context"),
                       ("unwind+0x%x" % ret_inner, "cfi"), ("unwind+0x%x" % ret_middle, "cfi"),
                       ("other+0x2345", "cfi")], got
    assert [f.slot for f in walk.frames[1:4]] == slots
    # the pushed non-volatile registers come back as the unwind data says
    for n in range(3):
        for reg, value in restored[n].items():
            assert walk.frames[n + 1].regs[reg] == value, (n, reg)
    # other.sys has no image in the dump: the walk goes on by scanning and ends on the unsaved page
    assert "not captured" in walk.end or "no further return address" in walk.end


def test_cfi_in_a_prolog_and_in_a_leaf_function(tmp_path):
    _kdmp()
    funcs = _readobj_functions()
    ret_inner = _return_after_call("middle", "inner")
    # inner+0x1: only "push rsi" has run; the return address is one word up
    start = STACK_PAGE + 0x200
    words = {start: 0x5151, start + 8: IMAGE_BASE + ret_inner}
    s = _bitmap_dump(tmp_path, {}, words)
    walk = Walker(s.target, "x64", max_frames=2).walk({"rip": IMAGE_BASE + funcs["inner"][0] + 1, "rsp": start})
    assert [(f.where, f.trust) for f in walk.frames] == [("unwind+0x1001", "context"),
                                                         ("unwind+0x%x" % ret_inner, "cfi")]
    assert walk.frames[1].regs["rsi"] == 0x5151
    # the helper at inner+0x60 has no RUNTIME_FUNCTION (llvm-readobj lists three): a leaf, return address at RSP
    text = open(os.path.join(STACK_DIR, "unwind.txt")).read()
    ranges = [(int(a, 16) - 0x180000000, int(b, 16) - 0x180000000)
              for a, b in re.findall(r"StartAddress: \((0x[0-9A-F]+)\)\s+EndAddress: \((0x[0-9A-F]+)\)", text)]
    leaf = 0x1060      # sink, merged after inner by the linker (disasm.txt: "movl %edx, (%rcx); retq")
    assert len(ranges) == 3 and not any(a <= leaf < b for a, b in ranges)
    walk = Walker(s.target, "x64", max_frames=2).walk({"rip": IMAGE_BASE + leaf, "rsp": start + 8})
    assert walk.frames[1].address == IMAGE_BASE + ret_inner and walk.frames[1].trust == "cfi"
    assert walk.frames[1].slot == start + 8 and "leaf" in walk.frames[1].note


# -- bounds -------------------------------------------------------------------------
class LoopTarget(object):
    """A stand-in target: a stack that is a loop of frame pointers into a
    module whose code is not saved (every read outside the stack fails, as
    Target.read raises ReadError for memory a dump did not keep)."""

    def __init__(self, words, modules):
        self.words = words
        self._modules = modules

    def read_u64(self, address):
        if address not in self.words:
            raise ReadError(address, reason="not captured")
        return self.words[address]

    def read(self, address, size):
        raise ReadError(address, size, reason="not captured")

    def module_of(self, address):
        return next((m for m in self._modules if m.contains(address)), None)

    def symbol_at(self, address):
        return None


def test_frame_pointer_loops_and_unsaved_pages_end_the_walk():
    mod = Module("drv", 0xfffff80400000000, 0x100000)
    sp = 0xffff800000001000
    # an ARM64 x29 chain pointing back at itself: fp -> fp
    words = {sp: sp, sp + 8: mod.base + 0x2000}
    walk = Walker(LoopTarget(words, [mod]), "arm64").walk({"pc": mod.base + 0x1800, "sp": sp, "fp": sp})
    assert len(walk.frames) <= MAX_FRAMES
    sps = [f.sp for f in walk.frames]
    assert sps == sorted(set(sps))          # strictly increasing
    assert "not captured" in walk.end or "not above" in walk.end
    # a stack of nothing but return addresses: bounded by MAX_FRAMES
    words = dict((sp + 8 * i, mod.base + 0x2000 + i) for i in range(4 * MAX_FRAMES))
    walk = Walker(LoopTarget(words, [mod]), "x64").walk({"rip": mod.base + 0x1800, "rsp": sp})
    assert len(walk.frames) == MAX_FRAMES and walk.end == "stopped after %d frames" % MAX_FRAMES
    # the context's stack page is not saved: frame 0 only, and the reason
    walk = Walker(LoopTarget({}, [mod]), "x64").walk({"rip": mod.base + 0x1800, "rsp": sp})
    assert len(walk.frames) == 1 and "not captured" in walk.end


# -- signatures -------------------------------------------------------------------
def test_signature_frame_buckets_one_function_together_and_another_apart():
    bc = {"code": "0x65", "parameters": ["0x0"] * 4}
    entry = {"where": "nt+0x4febf0", "module": "nt", "trust": "context", "note": "at the entry of the bugcheck routine"}

    def frames(top):
        return [entry, {"where": top, "module": "ibthfp", "trust": "cfi", "note": None},
                {"where": "Wdf01000!FxIoQueue::DispatchRequestToDriver+0x1a0", "module": "Wdf01000", "trust": "scan",
                 "note": None}]
    a = signature(bc, [], [], None, frames("ibthfp!HandleIo+0x10"))
    b = signature(bc, [], [], None, frames("ibthfp!HandleIo+0x42"))
    c = signature(bc, [], [], None, frames("ibthfp!OtherFunction+0x10"))
    assert a == b == "0x65/-/ibthfp/-/-/ibthfp!HandleIo"
    assert c != a
    # without symbols: module+offset; Wdf01000 and dispatch frames are skipped
    assert signature_frame([entry, {"where": "Wdf01000+0x1234", "module": "Wdf01000", "trust": "scan"},
                            {"where": "nt!KiExceptionDispatch+0x12", "module": "nt", "trust": "scan"},
                            {"where": "ibthfp+0x25bc9", "module": "ibthfp", "trust": "scan"}]) == \
        ("ibthfp+0x25bc9", "ibthfp")
    # no stack in the record: the five fields as before
    assert signature(bc, [], []) == "0x65/-/-/-/-"


@needs_dumps
def test_html_report_shows_the_stack_with_frames_linked_to_their_driver(tmp_path):
    out = tmp_path / "r.html"
    subprocess.run([sys.executable, "-m", "wdfdbg", "report", os.path.join(DUMPS, "triage_x64.dmp"), "-o", str(out)],
                   capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), check=True)
    page = out.read_text()
    stack = re.search(r'<li class="stack">(.*?)</ol>', page, re.S).group(1)
    first = re.search(r'<li>(.*?)</li>', stack).group(1)
    anchor = re.search(r'<a href="#([^"]+)"><code>amdppm\+0x334c</code></a> <span class="trust trust-context">', first)
    assert anchor, first
    assert 'id="%s"' % anchor.group(1) in page        # the link goes to AmdPPM's table on the page
    assert '<li class="process">crashing process: <code>System</code>' in page


@needs_dumps
def test_record_of_a_triage_dump_replays_the_same_stack_and_process(tmp_path):
    dump = os.path.join(DUMPS, "FrancoTrone64_AX200_082325-12593-01.dmp")
    snap = str(tmp_path / "rec.wdfsnap.json.gz")
    env = dict(os.environ, PYTHONPATH=ROOT)
    live = subprocess.run([sys.executable, "-m", "wdfdbg", "record", snap, "--", "memtree", "--json", dump],
                          capture_output=True, text=True, cwd=ROOT, env=env, check=True).stdout
    replay = subprocess.run([sys.executable, "-m", "wdfdbg", "memtree", "--json", snap],
                            capture_output=True, text=True, cwd=ROOT, env=env).stdout
    a, b = json.loads(live)["triage"], json.loads(replay)["triage"]
    for key in ("stack", "stack_end", "bugcheck_caller", "process", "kmdf_context"):
        assert a[key] == b[key], key
    assert b["bugcheck_caller"]["where"] == "ibthfp+0x25bc9" and b["process"]["name"] == "System"
