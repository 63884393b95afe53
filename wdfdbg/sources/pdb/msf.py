"""The MSF 7.00 container of a PDB: a superblock, a stream directory, and
streams made of fixed-size blocks.

Layout from LLVM's documentation of the format (``llvm/docs/PDB/MsfFile.rst``)
and Microsoft's ``microsoft-pdb`` sources (``PDB/msf/msf.cpp``). Every count,
size and block number read from the file is checked against the file itself
before use; a malformed file raises :class:`PdbFormatError` with one line.
"""

import struct

from wdfdbg.errors import InputError

MSF_MAGIC = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0"
BLOCK_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768)
MAX_STREAMS = 0x10000          # a stream index is 16 bits in the DBI header
NIL_STREAM = 0xFFFFFFFF


class PdbFormatError(InputError):
    """A PDB is malformed or of a kind wdfdbg does not read."""


class MsfFile(object):
    """The streams of one MSF file, from its bytes. ``stream(i)`` returns
    stream ``i``'s bytes (b"" for a nil or absent stream)."""

    def __init__(self, data, name="PDB"):
        self.data = data
        self.name = name
        if len(data) < 56 or data[:32] != MSF_MAGIC:
            raise PdbFormatError("%s: not a PDB (no MSF 7.00 signature)" % name)
        (self.block_size, _fpm, self.num_blocks, dir_bytes, _unknown,
         block_map_addr) = struct.unpack_from("<6I", data, 32)
        if self.block_size not in BLOCK_SIZES:
            raise PdbFormatError("%s: block size %d" % (name, self.block_size))
        if self.num_blocks * self.block_size > len(data) + self.block_size:
            raise PdbFormatError("%s: %d blocks of %d bytes but the file has %d bytes"
                                 % (name, self.num_blocks, self.block_size, len(data)))
        if dir_bytes < 4 or dir_bytes > (MAX_STREAMS * 8 + 4) or dir_bytes > len(data):
            raise PdbFormatError("%s: stream directory of %d bytes" % (name, dir_bytes))
        dir_blocks = -(-dir_bytes // self.block_size)
        map_bytes = self._block(block_map_addr)[:dir_blocks * 4]
        if len(map_bytes) != dir_blocks * 4:
            raise PdbFormatError("%s: the stream directory's block map is cut short" % name)
        directory = self._assemble(struct.unpack("<%dI" % dir_blocks, map_bytes), dir_bytes)
        (count,) = struct.unpack_from("<I", directory, 0)
        if count > MAX_STREAMS or 4 + 4 * count > dir_bytes:
            raise PdbFormatError("%s: %d streams in a directory of %d bytes" % (name, count, dir_bytes))
        sizes = struct.unpack_from("<%dI" % count, directory, 4)
        at = 4 + 4 * count
        self._streams = []
        for size in sizes:
            if size == NIL_STREAM:
                self._streams.append(((), 0))
                continue
            n = -(-size // self.block_size)
            if at + 4 * n > dir_bytes:
                raise PdbFormatError("%s: the stream directory is cut short" % name)
            self._streams.append((struct.unpack_from("<%dI" % n, directory, at), size))
            at += 4 * n

    def _block(self, index):
        if index >= self.num_blocks:
            raise PdbFormatError("%s: block %d beyond the %d blocks of the file" % (self.name, index, self.num_blocks))
        start = index * self.block_size
        return self.data[start:start + self.block_size]

    def _assemble(self, blocks, size):
        out = b"".join(self._block(b) for b in blocks)[:size]
        if len(out) != size:
            raise PdbFormatError("%s: a stream is cut short (%d of %d bytes)" % (self.name, len(out), size))
        return out

    @property
    def stream_count(self):
        return len(self._streams)

    def stream(self, index):
        if index < 0 or index >= len(self._streams):
            return b""
        blocks, size = self._streams[index]
        return self._assemble(blocks, size) if size else b""
