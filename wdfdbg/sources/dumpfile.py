"""Open a Windows kernel dump file by its header's DumpType.

* DumpType 4 (triage, "small memory dump"): :mod:`wdfdbg.sources.minidump`.
* Full (1), bitmap (5, 6) and RDMP kernel/complete (8, 9, 10) 64-bit dumps:
  :mod:`wdfdbg.sources.kdmp` through the optional ``kdmp-parser`` package.

Every refusal is a :class:`~wdfdbg.errors.DumpError` with one clear line
(not a regular file, empty, truncated, wrong signature, absurd counts,
unsupported kind).
"""

from wdfdbg.errors import DumpError
from wdfdbg.sources import minidump
from wdfdbg.sources.inputfile import open_input

KDMP_TYPES = (1, 5, 6, 8, 9, 10)


def open_dump(path):
    """Return a backend for the dump at ``path``."""
    f, size = open_input(path, DumpError)
    with f:
        try:
            head = f.read(0x2000)
        except OSError as e:
            raise DumpError("%s: cannot read: %s" % (path, e.strerror or e))
    if size == 0:
        raise DumpError("%s: empty file (0 bytes): not a Windows kernel dump" % path)
    if len(head) < 8 or head[:4] != b"PAGE":
        raise DumpError("%s: not a Windows kernel dump (signature %r, expected 'PAGE')" % (path, head[:4]))
    lay, dump_type = minidump.sniff_header(head, path)
    if dump_type == 4:
        return minidump.open_minidump(path)
    name = minidump.DUMP_TYPES.get(dump_type, "unknown")
    if dump_type in KDMP_TYPES:
        if lay.bits != 64:
            raise DumpError("%s: a 32-bit %s dump (DumpType %d): only 64-bit full and kernel dumps are supported"
                            % (path, name, dump_type))
        from wdfdbg.sources.kdmp import open_kdmp
        return open_kdmp(path)
    raise DumpError("%s: DumpType %d (%s) is not a dump kind wdfdbg reads (triage 4; full 1; bitmap 5, 6; "
                    "kernel/complete 8, 9, 10)" % (path, dump_type, name))
