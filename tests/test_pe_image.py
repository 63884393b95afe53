"""wdfdbg.sources.pe on a real image that clang and lld-link made
(tests/pdb/build.sh), checked against llvm-readobj as the independent
reader, as a file and as the loader maps it, and on malformed images."""

import os
import re
import shutil
import struct
import subprocess

import pytest

from wdfdbg.errors import ReadError
from wdfdbg.sources.pe import PeFormatError, PeImage, bytes_reader, file_reader, image_key

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pdb")
IMAGE = os.path.join(HERE, "minimal.sys")


def _file_bytes():
    with open(IMAGE, "rb") as f:
        return f.read()


def _mapped(data, pe):
    """Lay the file out as the loader does: headers, then each section at its RVA."""
    image = bytearray(pe.size_of_image)
    first = min(s[1] for s in pe.sections)
    image[:first] = data[:first]
    for _name, rva, vsize, raw_offset, raw_size, _chars in pe.sections:
        chunk = data[raw_offset:raw_offset + min(raw_size, vsize or raw_size)]
        image[rva:rva + len(chunk)] = chunk
    return bytes(image)


def _readobj():
    tool = shutil.which("llvm-readobj")
    if not tool:
        pytest.skip("llvm-readobj (Debian llvm) is not installed")
    return subprocess.run([tool, "--file-headers", "--coff-debug-directory", "--sections", IMAGE],
                          check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout


def test_headers_match_llvm_readobj():
    out = _readobj()
    pe = PeImage(file_reader(IMAGE), mapped=False)
    assert pe.machine == int(re.search(r"Machine: \S+ \((0x[0-9A-F]+)\)", out).group(1), 16)
    assert pe.timestamp == int(re.search(r"TimeDateStamp: .*\((0x[0-9A-F]+)\)", out).group(1), 16)
    assert pe.size_of_image == int(re.search(r"SizeOfImage: (\d+)", out).group(1))
    assert pe.is_pe32_plus == ("Magic: 0x20B" in out)
    names = re.findall(r"Name: (\S+) \(", out)
    assert [s[0] for s in pe.sections] == names
    rvas = [int(v, 16) for v in re.findall(r"VirtualAddress: (0x[0-9A-F]+)", out)]
    assert [s[1] for s in pe.sections] == rvas
    exc_rva = int(re.search(r"ExceptionTableRVA: (0x[0-9A-F]+)", out).group(1), 16)
    exc_size = int(re.search(r"ExceptionTableSize: (0x[0-9A-F]+)", out).group(1), 16)
    assert pe.exception_directory() == (exc_rva, exc_size)


def test_codeview_matches_llvm_readobj():
    out = _readobj()
    pe = PeImage(file_reader(IMAGE), mapped=False)
    name, guid, age = pe.codeview()
    raw = bytes(int(b, 16) for b in re.search(r"PDBGUID: \(([0-9A-F ]+)\)", out).group(1).split())
    d1, d2, d3 = struct.unpack_from("<IHH", raw)
    assert guid == "%08X%04X%04X%s" % (d1, d2, d3, raw[8:].hex().upper())
    assert age == int(re.search(r"PDBAge: (\d+)", out).group(1))
    assert name == os.path.basename(re.search(r"PDBFileName: (\S+)", out).group(1))


def test_mapped_image_reads_the_same_as_the_file():
    data = _file_bytes()
    from_file = PeImage(bytes_reader(data), mapped=False)
    mapped = PeImage(bytes_reader(_mapped(data, from_file)), mapped=True)
    assert mapped.codeview() == from_file.codeview()
    assert mapped.sections == from_file.sections
    rva, size = mapped.exception_directory()
    assert size and mapped.read_rva(rva, size) == from_file.read_rva(rva, size)
    assert image_key(mapped.timestamp, mapped.size_of_image) == "%08X%x" % (from_file.timestamp, from_file.size_of_image)


def test_read_errors_pass_through():
    data = _file_bytes()

    def read(offset, size):
        if offset >= 0x400:
            raise ReadError(0xfffff80000000000 + offset, size, "not captured")
        return data[offset:offset + size]
    pe = PeImage(read, mapped=True)          # headers are in the first page
    with pytest.raises(ReadError):
        pe.read_rva(pe.sections[0][1], 16)


@pytest.mark.parametrize("damage, words", [
    (lambda d: b"ZM" + d[2:], "no MZ signature"),
    (lambda d: d[:0x3C] + struct.pack("<I", 0x7FFFFFF0) + d[0x40:], "e_lfanew"),
    (lambda d: d[:0x80], "cut short"),
    (lambda d: _patch16(d, 6, 0xFFFF), "sections"),
    (lambda d: _patch16(d, 0x18, 0x1234), "magic"),
    (lambda d: _patch32(d, 0x18 + 56, 0), "SizeOfImage"),
])
def test_malformed_images_raise_one_error(damage, words):
    data = damage(_file_bytes())
    with pytest.raises(PeFormatError) as info:
        PeImage(bytes_reader(data), mapped=False).codeview()
    assert words in str(info.value)


def test_codeview_record_beyond_the_image_is_refused():
    data = bytearray(_file_bytes())
    pe = PeImage(bytes_reader(bytes(data)), mapped=False)
    rva, _size = pe.data_directory(6)
    entry = pe._file_offset(rva, 28)
    struct.pack_into("<I", data, entry + 20, 0x7FFFFF00)   # AddressOfRawData
    with pytest.raises(PeFormatError) as info:
        PeImage(bytes_reader(bytes(data)), mapped=False).codeview()
    assert "beyond SizeOfImage" in str(info.value)


def _lfanew(d):
    return struct.unpack_from("<I", d, 0x3C)[0]


def _patch16(d, off, value):
    at = _lfanew(d) + off
    return d[:at] + struct.pack("<H", value) + d[at + 2:]


def _patch32(d, off, value):
    at = _lfanew(d) + off
    return d[:at] + struct.pack("<I", value) + d[at + 4:]
