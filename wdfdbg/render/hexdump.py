"""Hex + ASCII dump in the style of WinDbg's ``db``::

    ffffc08b`00003080  41 42 43 44 45 46 47 48-49 4a 4b 4c 4d 4e 4f 50  ABCDEFGHIJKLMNOP

Unreadable bytes show as ``??`` (as ``db`` does). Input is a list of
``(address, size, bytes or None)`` chunks (``decoders.memory.read_preview``).
"""


def format_address(address, pointer_size=8):
    if pointer_size == 8:
        s = "%016x" % address
        return s[:8] + "`" + s[8:]
    return "%08x" % address


def hexdump_lines(chunks, pointer_size=8, width=16):
    """Lines of a ``db`` dump of ``chunks``; rows start at multiples of
    ``width`` (a first row that starts mid-row is padded with blanks)."""
    if not chunks:
        return []
    cells = {}
    start = chunks[0][0]
    end = start
    for addr, size, data in chunks:
        end = max(end, addr + size)
        if data is not None:
            for i, b in enumerate(bytearray(data)):
                cells[addr + i] = b
    lines = []
    row = start - (start % width)
    half = width // 2
    while row < end:
        hexes = []
        text = []
        for i in range(width):
            a = row + i
            if a < start or a >= end:
                hexes.append("  ")
                text.append(" ")
            elif a in cells:
                b = cells[a]
                hexes.append("%02x" % b)
                text.append(chr(b) if 32 <= b < 127 else ".")
            else:
                hexes.append("??")
                text.append("?")
        sep = "-" if (start <= row + half - 1 and row + half < end) else " "
        line = "%s  %s%s%s  %s" % (format_address(row, pointer_size), " ".join(hexes[:half]), sep,
                                   " ".join(hexes[half:]), "".join(text))
        lines.append(line.rstrip())
        row += width
    return lines


def hexdump(chunks, pointer_size=8, width=16):
    return "\n".join(hexdump_lines(chunks, pointer_size, width))
