"""Helpers shared by decoders: whole-struct reads, partial reads of structs
that a dump captured only in part, pool tags, the ``validate_*`` twin of a
``for_each_*`` walk."""

from wdfdbg.errors import CorruptionError, ReadError
from wdfdbg.problems import ProblemLog


def validate_walk(walk):
    """The ``validate_*`` twin of a ``for_each_*`` iterator (drgn's
    ``validate_list_for_each_entry``): ``walk(problems)`` is the iterator
    over a fresh problem log; return what it yields, as a list, or raise
    CorruptionError naming the first problem it records (the items yielded
    after it are not returned)."""
    log = ProblemLog()
    out = []
    for item in walk(log):
        if len(log):
            break
        out.append(item)
    if len(log):
        raise CorruptionError(log.items[0])
    return out


def read_record_partial(session, qualified, address):
    """Decode what is readable of a struct: ``(record, first_unreadable)``.

    Reads no more than the fields cover (``layout.extent``: a type may
    declare a size far past its last field, and sizes are bounded by
    ``limits.STRUCT_SIZE``), page by page; fields whose bytes are all
    readable are decoded, the others are left out. ``first_unreadable`` is
    None when all of it was readable. Raises ReadError only when nothing at
    all was readable.
    """
    layout = session.layouts.get(qualified)
    target = session.target
    size = layout.extent
    try:
        return layout.decode(target.read(address, size)), None
    except ReadError as e:
        first_bad = e.address
    ps = target.page_size
    buf = bytearray(size)
    ok = []
    pos = 0
    while pos < size:
        n = min(size - pos, ps - ((address + pos) % ps))
        try:
            buf[pos:pos + n] = target.read(address + pos, n)
            ok.append((pos, pos + n))
        except ReadError:
            # try 16-byte granules inside a partly captured page
            sub = 0
            while sub < n:
                m = min(16 - ((address + pos + sub) % 16), n - sub)
                try:
                    buf[pos + sub:pos + sub + m] = target.read(address + pos + sub, m)
                    ok.append((pos + sub, pos + sub + m))
                except ReadError:
                    pass
                sub += m
        pos += n
    if not ok:
        raise ReadError(address, size)
    full = layout.decode(bytes(buf))
    out = {}
    for name, f in layout.flat.items():
        if name in full and _covered(ok, f.offset, f.offset + max(f.size, 1)):
            out[name] = full[name]
    return out, first_bad


def _covered(ok, start, end):
    pos = start
    for s, e in ok:
        if s <= pos < e:
            pos = e
            if pos >= end:
                return True
    return pos >= end


def tag_string(value):
    """A ULONG pool tag as its 4 characters ('AmdP'); non-printables as '.'."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None   # not captured, or not an integer (types that lie)
    b = int(value & 0xFFFFFFFF).to_bytes(4, "little")
    return "".join(chr(c) if 32 <= c < 127 else "." for c in b)


def cstring(raw):
    """Bytes of a CHAR array up to the first NUL, Latin-1."""
    if raw is None:
        return None
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw).split(b"\0", 1)[0].decode("latin-1")
    return str(raw)
