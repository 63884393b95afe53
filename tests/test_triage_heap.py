"""A small hand-laid KMDF heap for the triage tests (synthetic, in the
style of ``tests/minisnap.py``): FxObjects, context headers and type infos,
locks, exception records, laid out per kmdf.md, with holes that stand for
memory a dump did not capture. Also where the real dump is found.

The real dump is looked up at ``../shared/dumps`` from the project root
(``conftest.DUMPS``); tests that need it skip when it is absent.
"""

import copy
import os
import struct

import pytest

from conftest import DUMPS
from wdfdbg.layouts import Layouts
from wdfdbg.layouts.profiles import PROFILE_BY_NAME
from wdfdbg.session import Session
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Bugcheck, Module, Target

REAL_X64 = os.path.join(DUMPS, "triage_x64.dmp")
need_real = pytest.mark.skipif(not os.path.exists(REAL_X64), reason="real dump %s is absent" % REAL_X64)

BASE = 0xffffc08b20000000
WDF = 0xfffff80479950000
WDF_SIZE = 0xd1000
DRV = 0xfffff8048b580000          # the client driver's image ("TriDrv")
DRV_SIZE = 0x10000
GLOBALS = BASE + 0x100
VT = WDF + 0x967a0                 # one vtable for everything: as folded as it gets


class Heap(object):
    """Bytes at BASE (``size``) and in the driver image; ``cut(lo, hi)``
    makes a range not captured."""

    def __init__(self, size=0x8000):
        self.mem = bytearray(size)
        self.image = bytearray(DRV_SIZE)
        self.holes = []
        self.extra = {}
        self.bugcheck = None
        w = self.w
        w(GLOBALS + 0x38, "Q", 0xFFFFFFFFFFFFFFF8)

    def w(self, addr, fmt, *values):
        if BASE <= addr < BASE + len(self.mem):
            struct.pack_into("<" + fmt, self.mem, addr - BASE, *values)
        elif DRV <= addr < DRV + DRV_SIZE:
            struct.pack_into("<" + fmt, self.image, addr - DRV, *values)
        else:
            raise ValueError("0x%x is outside the heap" % addr)

    def obj(self, addr, fx_type, size, parent=0, flags=0x8, state=1, refs=1, device=0, header=True):
        """An FxObject header (empty child list) and, for objects with a
        handle, the inline FxContextHeader's back pointer."""
        self.w(addr, "QHHiQHH", VT, fx_type, size, refs, GLOBALS, flags, state)
        self.w(addr + 0x20, "QQ", addr + 0x20, addr + 0x20)
        self.w(addr + 0x40, "Q", parent)
        self.w(addr + 0x60, "Q", device)
        if size and header:
            self.w(addr + size, "Q", addr)
        return addr

    def context(self, header, obj, type_info=0, next_header=0, cleanup=0):
        """A FxContextHeader {Object, NextHeader, Cleanup, Destroy, TypeInfo}."""
        self.w(header, "QQQQQ", obj, next_header, cleanup, 0, type_info)
        return header + 0x30

    def type_info(self, addr, name, size):
        """WDF_OBJECT_CONTEXT_TYPE_INFO in the driver image, name after it."""
        self.w(addr, "IIQQQQ", 0x28, 0, addr + 0x40, size, addr, 0)
        raw = name.encode("latin-1") + b"\0"
        self.image[addr - DRV + 0x40:addr - DRV + 0x40 + len(raw)] = raw
        return addr

    def cut(self, lo, hi):
        self.holes.append((lo, hi))

    def document(self):
        ranges = []
        for base, data in ((BASE, self.mem), (DRV, self.image)):
            pieces = [(base, base + len(data))]
            for lo, hi in self.holes:
                nxt = []
                for a, b in pieces:
                    if hi <= a or lo >= b:
                        nxt.append((a, b))
                        continue
                    if a < lo:
                        nxt.append((a, lo))
                    if hi < b:
                        nxt.append((hi, b))
                pieces = nxt
            for a, b in pieces:
                ranges.append((a, bytes(data[a - base:b - base])))
        types = copy.deepcopy(PROFILE_BY_NAME["win10-19041-x64"].documents())
        doc = snapfmt.build_document(
            "synthetic", "x64", 8, ranges, os_build=19041, description="synthetic: tests/test_triage_heap.py",
            bugcheck=self.bugcheck, modules=[Module("Wdf01000", WDF, WDF_SIZE), Module("TriDrv", DRV, DRV_SIZE)],
            symbols={}, types=types)
        doc.update(self.extra)
        return doc

    def session(self):
        return session_for(self.document())


def session_for(doc):
    snap = snapfmt.loads(snapfmt.dumps(doc))
    t = Target(snapfmt.SnapshotBackend(snap))
    return Session(t, Layouts(t), "snapshot", None, snap.origin)


def header_of(session, address):
    from wdfdbg.decoders.objects import read_object
    return read_object(session, address)


def node_of(session, address, driver="TriDrv"):
    from wdfdbg.decoders.handles import handle_of
    from wdfdbg.decoders.objects import ObjectNode
    h = header_of(session, address)
    return ObjectNode(h, h.parent or None, 0, driver, handle_of(address, 8, h.object_size))


# -- the builder keeps its promises ---------------------------------------------
def test_heap_lays_out_objects_and_holes():
    heap = Heap()
    a = heap.obj(BASE + 0x1000, 0x100C, 0x80)
    heap.cut(BASE + 0x2000, BASE + 0x3000)
    s = heap.session()
    h = header_of(s, a)
    assert (h.fx_type, h.object_size, h.globals) == (0x100C, 0x80, GLOBALS)
    assert s.target.read_pointer(a + 0x80) == a
    assert not s.target.is_readable(BASE + 0x2000, 1)
    assert s.target.is_readable(BASE + 0x1fff, 1) and s.target.is_readable(BASE + 0x3000, 1)
    assert s.target.module_of(DRV + 0x10).name == "TriDrv"


def test_heap_bugcheck_and_extra_keys_reach_the_session():
    heap = Heap()
    heap.bugcheck = Bugcheck(0x7E, [0xC0000005, DRV + 0x10, BASE + 0x10, 0])
    heap.extra["crash_thread"] = "0x%x" % (BASE + 0x40)
    doc = heap.document()
    assert doc["crash_thread"] == "0x%x" % (BASE + 0x40)
    s = session_for(doc)
    assert s.target.bugcheck().code == 0x7E
