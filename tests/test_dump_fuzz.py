"""Dump files are untrusted input.

* Truncated, zero-length, wrong-signature and absurd-count files give exit
  code 2 and one clear line on stderr, never a traceback.
* A property test mutates dump headers, triage fields, the driver list and
  the data block table: the only exception that may escape the reader is
  the clear :class:`~wdfdbg.errors.InputError` (DumpError), and nothing is
  read past the end of the file (the file's bytes are wrapped so that any
  slice past its end fails the test).
"""

import os
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from hostile import FUZZ_SEED
from test_minidump import X64, build_bitmap_dump, build_triage_dump, need_x64
from wdfdbg.errors import InputError, ReadError
from wdfdbg.sources import minidump

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = build_triage_dump()
BASE32 = build_triage_dump(bits=32, drivers=[("\\SystemRoot\\system32\\ntkrnlpa.exe", 0x82000000, 0x400000, 1),
                                             ("\\SystemRoot\\system32\\drivers\\Wdf01000.sys", 0x8b000000, 0xc0000, 2)],
                           blocks=[(0x8a000000, b"\x11" * 0x140), (0x8a000ff0, b"\x22" * 0x20)])


class PastEnd(AssertionError):
    pass


class StrictBytes(bytes):
    """bytes whose slices must lie inside the file: a reader that slices
    past the end (and would silently get short data) fails the test."""

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop = key.start, key.stop
            n = len(self)
            if (stop is not None and stop > n) or (start is not None and start > n):
                raise PastEnd("slice %r past the end of a %d-byte file" % (key, n))
        return bytes.__getitem__(self, key)


def exercise(data):
    """Parse ``data`` and use everything the backend offers. Returns the
    backend, or None when the dump was refused with an InputError."""
    try:
        dump = minidump.TriageDump(StrictBytes(data), "fuzz.dmp")
    except InputError as e:
        assert "\n" not in str(e) and str(e)
        return None
    n = len(data)
    for va, foff, size, _prio in dump.segments:
        assert 0 <= foff and foff + size <= n
    b = minidump.MinidumpBackend(dump)
    ps = b.page_size
    for pa in list(b._index)[:2000]:
        page = b.read_page(pa)
        assert len(page.data) == ps
        if page.valid is not None:
            assert all(0 <= s < e <= ps for s, e in page.valid)
    try:
        b.read_page(0)
    except ReadError:
        pass
    b.ranges()
    b.modules()
    b.bugcheck()
    b.symbol("Wdf01000!FxLibraryGlobals")
    b.symbol_at(0xfffff80479950000)
    b.kmdf_drivers()
    dump.kmdf_ifr_logs()
    dump.kdbg_symbols()
    return b


def test_base_files_parse():
    assert exercise(BASE) is not None
    assert exercise(BASE32) is not None


# fields worth mutating: (offset, struct format)
HEADER64_FIELDS = [(0, "<I"), (4, "<I"), (0x8, "<I"), (0xC, "<I"), (0x30, "<I"), (0x34, "<I"), (0x38, "<I"),
                   (0x80, "<Q"), (0xF98, "<I"), (0x1038, "<I")] + \
                  [(0x2000 + 4 * i, "<I") for i in range(18)] + \
                  [(0x2048, "<Q"), (0x2060, "<Q")] + [(0x2068 + 4 * i, "<I") for i in range(6)]
HEADER32_FIELDS = [(0, "<I"), (4, "<I"), (0x20, "<I"), (0x24, "<I"), (0x60, "<I"), (0xF88, "<I"), (0xF8C, "<I")] + \
                  [(0x1000 + 4 * i, "<I") for i in range(26)]


def _tables(data, bits):
    """(offset, fmt) of the driver list entries and data block table."""
    out = []
    lay = minidump.Layout(bits)
    t = lay.triage
    dl, dc = struct.unpack_from("<II", data, t + 12 * 4)
    for i in range(dc):
        e = dl + i * lay.driver_stride
        out += [(e, "<I"), (e + lay.ldr + lay.ldr_base, "<Q" if bits == 64 else "<I"),
                (e + lay.ldr + lay.ldr_size, "<I")]
    bo, bc = struct.unpack_from("<II", data, 0x2078 if bits == 64 else 0x1060)
    for i in range(bc):
        out += [(bo + 16 * i, "<Q"), (bo + 16 * i + 8, "<I"), (bo + 16 * i + 12, "<I")]
    return out


FIELDS64 = HEADER64_FIELDS + _tables(BASE, 64)
FIELDS32 = HEADER32_FIELDS + _tables(BASE32, 32)
VALUES = st.one_of(st.sampled_from([0, 1, 4, 0x10, 0x1000, 0x2000, 0x7fffffff, 0xffffffff, 0xffffffffffffffff,
                                    0xfffff80479950000, len(BASE), len(BASE) - 1, len(BASE) + 1]),
                   st.integers(min_value=0, max_value=(1 << 64) - 1))


def mutate(data, fields, choices, values, cut, flips):
    buf = bytearray(data)
    for idx, v in zip(choices, values):
        off, fmt = fields[idx % len(fields)]
        width = struct.calcsize(fmt)
        struct.pack_into(fmt, buf, off, v & ((1 << (8 * width)) - 1))
    for pos, byte in flips:
        buf[pos % len(buf)] = byte
    if cut is not None:
        buf = buf[:cut % (len(buf) + 1)]
    return bytes(buf)


FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@seed(FUZZ_SEED)
@given(choices=st.lists(st.integers(min_value=0, max_value=10000), min_size=1, max_size=6),
       values=st.lists(VALUES, min_size=6, max_size=6),
       cut=st.one_of(st.none(), st.integers(min_value=0, max_value=len(BASE))),
       flips=st.lists(st.tuples(st.integers(min_value=0, max_value=len(BASE)), st.integers(0, 255)), max_size=4))
def test_fuzz_triage64(choices, values, cut, flips):
    exercise(mutate(BASE, FIELDS64, choices, values, cut, flips))


@FUZZ
@seed(FUZZ_SEED)
@given(choices=st.lists(st.integers(min_value=0, max_value=10000), min_size=1, max_size=6),
       values=st.lists(VALUES, min_size=6, max_size=6),
       cut=st.one_of(st.none(), st.integers(min_value=0, max_value=len(BASE32))),
       flips=st.lists(st.tuples(st.integers(min_value=0, max_value=len(BASE32)), st.integers(0, 255)), max_size=4))
def test_fuzz_triage32(choices, values, cut, flips):
    exercise(mutate(BASE32, FIELDS32, choices, values, cut, flips))


@settings(max_examples=200, deadline=None, database=None)
@seed(FUZZ_SEED)
@given(data=st.binary(max_size=0x2100), prefix=st.sampled_from([b"", b"PAGEDU64", b"PAGEDUMP", b"PAGE"]))
def test_fuzz_random_bytes(data, prefix):
    blob = prefix + data
    if len(blob) >= 0xF9C and prefix == b"PAGEDU64":
        blob = blob[:0xF98] + struct.pack("<I", 4) + blob[0xF9C:]
    exercise(blob)


@need_x64
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@seed(FUZZ_SEED)
@given(choices=st.lists(st.integers(min_value=0, max_value=10000), min_size=1, max_size=4),
       values=st.lists(VALUES, min_size=4, max_size=4))
def test_fuzz_real_dump_header(choices, values):
    with open(X64, "rb") as f:
        real = f.read()
    fields = HEADER64_FIELDS + _tables(real, 64)[:300]
    exercise(mutate(real, fields, choices, values, None, []))


# -- kdmp-parser front: the header checks run before the C++ parser ---------------
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@seed(FUZZ_SEED)
@given(field=st.sampled_from([(0x88, "<I"), (0x98, "<Q"), (0xA0, "<Q"), (0x2020, "<Q"), (0x2028, "<Q"),
                              (0x2030, "<Q"), (0x2000, "<I"), (0x2004, "<I"), (0xF98, "<I"), (0x30, "<I"),
                              (0x348 + 0x34, "<I"), (0x2010, "<Q"), (0x2018, "<Q")]),
       value=VALUES, cut=st.one_of(st.none(), st.integers(min_value=0, max_value=0x8000)))
def test_fuzz_kdmp_header(tmp_path_factory, field, value, cut):
    pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed")
    from wdfdbg.sources.dumpfile import open_dump
    data = bytearray(build_bitmap_dump({0xffffc08b00000000: b"A" * 0x1000}))
    off, fmt = field
    struct.pack_into(fmt, data, off, value & ((1 << (8 * struct.calcsize(fmt))) - 1))
    if cut is not None:
        data = data[:cut]
    p = tmp_path_factory.mktemp("k") / "k.dmp"
    p.write_bytes(bytes(data))
    try:
        b = open_dump(str(p))
    except InputError as e:
        assert "\n" not in str(e)
        return
    for va in (0xffffc08b00000000, 0, 0xfffff80400000000):
        try:
            b.read_page(va)
        except ReadError:
            pass
    b.modules()
    b.ranges()


# -- the command line: exit 2 and one line -------------------------------------------
def _run(path):
    env = dict(os.environ)
    env.pop("WDFDBG_DEBUG", None)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-m", "wdfdbg.info", path], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def bad_files():
    good = bytearray(BASE)
    absurd_drivers = bytearray(good)
    struct.pack_into("<I", absurd_drivers, 0x2000 + 13 * 4, 0xFFFFFFF0)
    absurd_blocks = bytearray(good)
    struct.pack_into("<I", absurd_blocks, 0x207C, 0x7FFFFFFF)
    block_past_end = bytearray(good)
    bo = struct.unpack_from("<I", good, 0x2078)[0]
    struct.pack_into("<I", block_past_end, bo + 8, len(good) - 4)
    wrong_type = bytearray(good)
    struct.pack_into("<I", wrong_type, 0xF98, 0x77)
    return {
        "zero-length": (b"", "empty file"),
        "truncated-header": (bytes(good[:0x1800]), "truncated"),
        "truncated-data": (bytes(good[:0x2400]), "truncated"),
        "wrong-signature": (b"ELF\x7f" + bytes(good[4:]), "not a"),
        "user-minidump": (b"MDMP" + bytes(good[4:]), "user-mode minidump"),
        "absurd-driver-count": (bytes(absurd_drivers), "absurd driver count"),
        "absurd-block-count": (bytes(absurd_blocks), "absurd data block count"),
        "block-past-end": (bytes(block_past_end), "runs past the end"),
        "unknown-dump-type": (bytes(wrong_type), "DumpType"),
    }


@pytest.mark.parametrize("name", sorted(bad_files()))
def test_bad_files_exit_2_with_one_line(tmp_path, name):
    data, words = bad_files()[name]
    p = tmp_path / (name + ".dmp")
    p.write_bytes(data)
    rc, out, err = _run(str(p))
    assert rc == 2, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("wdfdbg: error: ") and words in lines[0]
    assert "Traceback" not in err


def test_bad_bitmap_dump_exits_2(tmp_path):
    pytest.importorskip("kdmp_parser", reason="kdmp-parser is not installed")
    data = bytearray(build_bitmap_dump({0xffffc08b00000000: b"A" * 0x1000}))
    struct.pack_into("<Q", data, 0x2030, 1 << 62)
    p = tmp_path / "bmp.dmp"
    p.write_bytes(bytes(data))
    rc, out, err = _run(str(p))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "absurd page count" in err
