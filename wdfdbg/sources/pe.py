"""A small, bounded reader of PE images (``.sys``, ``.dll``, ``.exe``): the
headers, the section table, the data directories and the CodeView debug
record that names an image's PDB.

The image comes as a ``read(offset, size) -> bytes`` callable. With
``mapped=True`` (an image as the loader laid it out in memory: a module in a
dump, or through the debugger) offsets are RVAs; with ``mapped=False`` (an
image file on disk, or from a symbol store) RVAs are translated through the
section table to file offsets. ``read`` raises :class:`wdfdbg.errors.ReadError`
when the bytes are not there; that error passes through unchanged, so a caller
can tell "not captured" from "malformed".

Every count and size taken from the image is checked before it is used; a
malformed image raises :class:`PeFormatError` with one clear line.

Layouts from the PE/COFF specification (Microsoft, "PE Format",
``IMAGE_DOS_HEADER``, ``IMAGE_FILE_HEADER``, ``IMAGE_OPTIONAL_HEADER32/64``,
``IMAGE_SECTION_HEADER``, ``IMAGE_DEBUG_DIRECTORY``) and the CodeView
``RSDS`` record (``CV_INFO_PDB70``) the Microsoft linker and lld-link write.
"""

import struct

from wdfdbg.errors import InputError

IMAGE_DOS_SIGNATURE = b"MZ"
IMAGE_NT_SIGNATURE = b"PE\0\0"
PE32_MAGIC = 0x10B
PE32_PLUS_MAGIC = 0x20B

IMAGE_DIRECTORY_ENTRY_EXCEPTION = 3
IMAGE_DIRECTORY_ENTRY_DEBUG = 6
IMAGE_DEBUG_TYPE_CODEVIEW = 2

MAX_SECTIONS = 96            # the PE specification's loader limit
MAX_DATA_DIRECTORIES = 16    # IMAGE_NUMBEROF_DIRECTORY_ENTRIES
MAX_HEADER_OFFSET = 0x10000  # e_lfanew beyond 64 KiB is no real image
MAX_DEBUG_ENTRIES = 64       # a real image has a handful
MAX_CODEVIEW_SIZE = 0x1000   # RSDS + a PDB path (MAX_PATH-ish, with room)
MAX_IMAGE_SIZE = 1 << 31     # SizeOfImage: kernel images are far smaller

_SECTION = struct.Struct("<8sIIIIIIHHI")       # IMAGE_SECTION_HEADER, 40 bytes
_DEBUG_DIR = struct.Struct("<IIHHIIII")        # IMAGE_DEBUG_DIRECTORY, 28 bytes


class PeFormatError(InputError):
    """A PE image is malformed (bad signature, a count or size out of bounds)."""


class PeImage(object):
    """One PE image's headers, read once at construction.

    ``machine``, ``timestamp`` (IMAGE_FILE_HEADER.TimeDateStamp),
    ``size_of_image`` (OptionalHeader.SizeOfImage), ``is_pe32_plus`` and
    ``sections``: a list of ``(name, rva, virtual_size, raw_offset, raw_size,
    characteristics)``.
    """

    def __init__(self, read, mapped=True):
        self._read = read
        self.mapped = mapped
        dos = self._header_bytes(0, 0x40, "the DOS header")
        if dos[:2] != IMAGE_DOS_SIGNATURE:
            raise PeFormatError("not a PE image: no MZ signature")
        (lfanew,) = struct.unpack_from("<I", dos, 0x3C)
        if lfanew < 0x40 or lfanew > MAX_HEADER_OFFSET:
            raise PeFormatError("not a PE image: e_lfanew 0x%x is out of bounds" % lfanew)
        nt = self._header_bytes(lfanew, 4 + 20 + 2, "the NT headers")
        if nt[:4] != IMAGE_NT_SIGNATURE:
            raise PeFormatError("not a PE image: no PE signature at 0x%x" % lfanew)
        (self.machine, nsections, self.timestamp, _sym, _nsym,
         opt_size, _chars) = struct.unpack_from("<HHIIIHH", nt, 4)
        (magic,) = struct.unpack_from("<H", nt, 24)
        if magic == PE32_PLUS_MAGIC:
            self.is_pe32_plus = True
            dd_offset = 112
        elif magic == PE32_MAGIC:
            self.is_pe32_plus = False
            dd_offset = 96
        else:
            raise PeFormatError("not a PE image: optional header magic 0x%x" % magic)
        if nsections > MAX_SECTIONS:
            raise PeFormatError("malformed PE image: %d sections (at most %d)" % (nsections, MAX_SECTIONS))
        if opt_size < dd_offset or opt_size > 0x1000:
            raise PeFormatError("malformed PE image: optional header size 0x%x" % opt_size)
        opt_start = lfanew + 24
        opt = self._header_bytes(opt_start, opt_size, "the optional header")
        (self.size_of_image,) = struct.unpack_from("<I", opt, 56)
        if self.size_of_image == 0 or self.size_of_image > MAX_IMAGE_SIZE:
            raise PeFormatError("malformed PE image: SizeOfImage 0x%x" % self.size_of_image)
        (ndirs,) = struct.unpack_from("<I", opt, dd_offset - 4)
        ndirs = min(ndirs, MAX_DATA_DIRECTORIES, (opt_size - dd_offset) // 8)
        self._directories = [struct.unpack_from("<II", opt, dd_offset + 8 * i) for i in range(ndirs)]
        table = self._header_bytes(opt_start + opt_size, nsections * _SECTION.size, "the section table")
        self.sections = []
        for i in range(nsections):
            (raw_name, vsize, rva, raw_size, raw_offset,
             _r, _l, _nr, _nl, chars) = _SECTION.unpack_from(table, i * _SECTION.size)
            name = raw_name.split(b"\0", 1)[0].decode("latin-1")
            if rva >= self.size_of_image:
                raise PeFormatError("malformed PE image: section %s at RVA 0x%x beyond SizeOfImage 0x%x"
                                    % (name or "#%d" % i, rva, self.size_of_image))
            self.sections.append((name, rva, vsize, raw_offset, raw_size, chars))

    def _header_bytes(self, offset, size, what):
        data = self._read(offset, size)
        if len(data) != size:
            raise PeFormatError("malformed PE image: %s is cut short (%d of %d bytes at 0x%x)"
                                % (what, len(data), size, offset))
        return data

    def data_directory(self, index):
        """``(rva, size)`` of data directory ``index``; ``(0, 0)`` when absent."""
        if 0 <= index < len(self._directories):
            return self._directories[index]
        return (0, 0)

    def exception_directory(self):
        """``(rva, size)`` of the exception directory (x64 RUNTIME_FUNCTION table)."""
        return self.data_directory(IMAGE_DIRECTORY_ENTRY_EXCEPTION)

    def _file_offset(self, rva, size):
        if rva + size <= (self.sections[0][1] if self.sections else self.size_of_image):
            return rva  # the headers: mapped at their file offsets
        for _name, srva, vsize, raw_offset, raw_size, _chars in self.sections:
            span = max(vsize, raw_size)
            if srva <= rva and rva + size <= srva + span:
                if rva + size > srva + raw_size:
                    raise PeFormatError("malformed PE image: RVA 0x%x (0x%x bytes) lies beyond the file data of its section"
                                        % (rva, size))
                return raw_offset + (rva - srva)
        raise PeFormatError("malformed PE image: RVA 0x%x (0x%x bytes) is in no section" % (rva, size))

    def read_rva(self, rva, size):
        """``size`` bytes at ``rva``; bounded by SizeOfImage."""
        if rva < 0 or size < 0 or rva + size > self.size_of_image:
            raise PeFormatError("malformed PE image: RVA 0x%x (0x%x bytes) beyond SizeOfImage 0x%x"
                                % (rva, size, self.size_of_image))
        offset = rva if self.mapped else self._file_offset(rva, size)
        data = self._read(offset, size)
        if len(data) != size:
            raise PeFormatError("malformed PE image: %d of 0x%x bytes at RVA 0x%x" % (len(data), size, rva))
        return data

    def codeview(self):
        """``(pdb_name, guid, age)`` from the CodeView RSDS debug record, or
        None when the image has none. ``guid`` is upper-case hex without
        dashes in the order SymStore keys use (Data1, Data2, Data3 as
        numbers, Data4 as bytes); ``pdb_name`` is the file name without its
        directory."""
        rva, size = self.data_directory(IMAGE_DIRECTORY_ENTRY_DEBUG)
        if rva == 0 or size == 0:
            return None
        count = size // _DEBUG_DIR.size
        if count > MAX_DEBUG_ENTRIES:
            raise PeFormatError("malformed PE image: %d debug directory entries" % count)
        table = self.read_rva(rva, count * _DEBUG_DIR.size)
        for i in range(count):
            (_c, _t, _maj, _min, kind, data_size, data_rva, data_ptr) = _DEBUG_DIR.unpack_from(table, i * _DEBUG_DIR.size)
            if kind != IMAGE_DEBUG_TYPE_CODEVIEW:
                continue
            if data_size < 24 or data_size > MAX_CODEVIEW_SIZE:
                raise PeFormatError("malformed PE image: CodeView record of 0x%x bytes" % data_size)
            if data_rva:
                record = self.read_rva(data_rva, data_size)
            elif not self.mapped:
                record = self._read(data_ptr, data_size)
                if len(record) != data_size:
                    raise PeFormatError("malformed PE image: CodeView record cut short")
            else:
                continue
            if record[:4] != b"RSDS":
                continue  # NB10 (PDB 2.0) and others: not what a symbol store keys on
            return parse_rsds(record)
        return None


def guid_key(guid_bytes):
    """The 16 bytes of a GUID as stored on disk (Data1..3 little-endian) ->
    SymStore's upper-case hex without dashes."""
    d1, d2, d3 = struct.unpack_from("<IHH", guid_bytes, 0)
    return "%08X%04X%04X%s" % (d1, d2, d3, guid_bytes[8:16].hex().upper())


def parse_rsds(record):
    """``CV_INFO_PDB70``: 'RSDS', GUID (16), Age (4), NUL-terminated path."""
    if len(record) < 25 or record[:4] != b"RSDS":
        raise PeFormatError("malformed CodeView record: no RSDS signature")
    guid = guid_key(record[4:20])
    (age,) = struct.unpack_from("<I", record, 20)
    path = record[24:].split(b"\0", 1)[0].decode("utf-8", "replace")
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        raise PeFormatError("malformed CodeView record: empty PDB name")
    return (name, guid, age)


def image_key(timestamp, size_of_image):
    """SymStore's key for an image file: TimeDateStamp ``%08X``, SizeOfImage ``%x``."""
    return "%08X%x" % (timestamp, size_of_image)


def file_reader(path):
    """A ``read(offset, size)`` over a file on disk (for ``mapped=False``);
    the returned callable holds the whole file, bounded by MAX_IMAGE_SIZE."""
    with open(path, "rb") as f:
        data = f.read(MAX_IMAGE_SIZE + 1)
    if len(data) > MAX_IMAGE_SIZE:
        raise PeFormatError("%s: larger than 0x%x bytes" % (path, MAX_IMAGE_SIZE))
    return bytes_reader(data)


def bytes_reader(data):
    """A ``read(offset, size)`` over bytes; reads past the end come back short."""
    def read(offset, size):
        return data[offset:offset + size]
    return read
