"""The PDB info stream (GUID, age), the DBI stream's header (where the
symbol records and the section headers are) and the public symbols.

Layouts from LLVM's ``llvm/docs/PDB/PdbStream.rst``, ``DbiStream.rst`` and
``PublicStream.rst`` and Microsoft's ``microsoft-pdb`` ``PDB/dbi/dbi.h``
(``NewDBIHdr``) and ``include/cvinfo.h`` (``PUBSYM32``).
"""

import struct

from wdfdbg.sources.pdb.msf import PdbFormatError
from wdfdbg.sources.pe import guid_key

STREAM_INFO = 1
STREAM_TPI = 2
STREAM_DBI = 3
DBI_HEADER = struct.Struct("<iIIHHHHHHiiiiiIiiHHI")     # NewDBIHdr, 64 bytes
DEBUG_HEADER_SECTION_HDR = 5                          # DbgHeaderType::SectionHdr
S_PUB32 = 0x110E
MAX_SECTIONS = 96


def read_info(data):
    """PDB info stream -> (guid, age): SymStore's GUID spelling."""
    if len(data) < 28:
        raise PdbFormatError("PDB info stream of %d bytes" % len(data))
    _version, _signature, age = struct.unpack_from("<III", data, 0)
    return guid_key(data[12:28]), age


class DbiHeader(object):
    """What wdfdbg needs from the DBI stream: ``age``, ``symbol_records``
    (stream index), ``public_stream``, ``machine`` and ``section_headers``
    (stream index, or None)."""

    def __init__(self, data):
        if len(data) < DBI_HEADER.size:
            raise PdbFormatError("DBI stream of %d bytes" % len(data))
        f = DBI_HEADER.unpack_from(data, 0)
        (signature, _version, self.age, _globals, _build, self.public_stream, _dllver,
         self.symbol_records, _rbld, modinfo, seccontrib, secmap, srcinfo, tsmap, _mfc,
         dbghdr, ecinfo, _flags, self.machine, _pad) = f
        if signature != -1:
            raise PdbFormatError("DBI stream: signature %d (an old PDB format)" % signature)
        sizes = (modinfo, seccontrib, secmap, srcinfo, tsmap, ecinfo, dbghdr)
        if any(s < 0 for s in sizes) or DBI_HEADER.size + sum(sizes) > len(data):
            raise PdbFormatError("DBI stream: substreams larger than the stream")
        at = DBI_HEADER.size + sum(sizes[:-1])
        self.section_headers = None
        if dbghdr >= 2 * (DEBUG_HEADER_SECTION_HDR + 1):
            (idx,) = struct.unpack_from("<H", data, at + 2 * DEBUG_HEADER_SECTION_HDR)
            if idx != 0xFFFF:
                self.section_headers = idx


def section_rvas(data):
    """IMAGE_SECTION_HEADER array -> [VirtualAddress, ...] (section 1 first)."""
    count = len(data) // 40
    if count > MAX_SECTIONS:
        raise PdbFormatError("section headers stream: %d sections" % count)
    return [struct.unpack_from("<I", data, 40 * i + 12)[0] for i in range(count)]


def read_publics(data, rvas):
    """Every S_PUB32 record of the symbol record stream -> {name: rva}
    (records of other kinds skipped by their length)."""
    out = {}
    at = 0
    n = len(data)
    while at + 4 <= n:
        length, kind = struct.unpack_from("<HH", data, at)
        if length < 2 or at + 2 + length > n:
            raise PdbFormatError("symbol record stream: a record runs past the stream at 0x%x" % at)
        if kind == S_PUB32 and length >= 12:
            _flags, offset, segment = struct.unpack_from("<IIH", data, at + 4)
            end = data.find(b"\0", at + 14, at + 2 + length)
            name = data[at + 14:end if end >= 0 else at + 2 + length].decode("utf-8", "replace")
            if 1 <= segment <= len(rvas) and name:
                out.setdefault(name, rvas[segment - 1] + offset)
        at += 2 + length
    return out
