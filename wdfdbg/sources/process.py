"""The crashing process: its image name (``_EPROCESS.ImageFileName``, 15
characters, NUL-padded).

A triage dump saves a copy of the crashing thread's process
(``TRIAGE_DUMP.ProcessOffset``, kmdf.md §11); other sources are read
through the crashing thread: ``_KTHREAD.Process`` (+0x220 on x64 in every
build below) then the name in that EPROCESS.

Offsets, by architecture and build:

* x64 14393, 17763, 19041, 22000: ``nt!_EPROCESS.ImageFileName`` from the
  volatility3 ISF of each build's real ntkrnlmp.pdb
  (``shared/reference/types/nt-pdb``): 0x450, 0x450, 0x5a8, 0x5a8;
  ``_KTHREAD.Process`` 0x220 in all four.
* x64 26100 (Windows 11 24H2): no PDB-derived layout is at hand. The
  nearest build's offset (22000: 0x5a8) is tried first and checked against
  the bytes; in the real 24H2 dump it holds zeros, so the 24H2 offset the
  public Vergilius Project tables give (0x338, unverified against a PDB
  here) is tried next, again checked against the bytes.
* ARM64: ``ImageFileName`` at 0x560 in the ARM64 ``_EPROCESS`` of build
  19569 (public ntdiff/headers, ``Win10_20H2_19569/ARM64``), the nearest
  ARM64 layout to 22000; checked against the bytes.

"Checked against the bytes": 1-15 printable ASCII characters, then NUL
padding to the end of the 15-byte field. A name that fails the check is
never printed; the answer is then ``unknown`` with the reason.
"""

import struct

from wdfdbg.errors import ReadError

IMAGE_NAME_SIZE = 15
CRASH_PROCESS_KEY = "crash_process"
MAX_TEXT = 400
KTHREAD_PROCESS_X64 = 0x220
# (arch, build) -> ImageFileName offset, with where it comes from
IMAGE_FILE_NAME = {
    ("x64", 14393): (0x450, "nt!_EPROCESS of build 14393 (ntkrnlmp.pdb)"),
    ("x64", 17763): (0x450, "nt!_EPROCESS of build 17763 (ntkrnlmp.pdb)"),
    ("x64", 19041): (0x5a8, "nt!_EPROCESS of build 19041 (ntkrnlmp.pdb)"),
    ("x64", 22000): (0x5a8, "nt!_EPROCESS of build 22000 (ntkrnlmp.pdb)"),
    ("arm64", 19569): (0x560, "the ARM64 _EPROCESS of build 19569 (ntdiff/headers)"),
}
# tried after the nearest build's offset failed the bytes: public tables, no PDB at hand
UNVERIFIED = {
    ("x64", 26100): (0x338, "the public Windows 11 24H2 layout (Vergilius Project), unverified against a PDB"),
}
_PRINTABLE = frozenset(range(0x20, 0x7F))


def image_name(raw):
    """The name in a 15-byte ImageFileName field, or None when the bytes
    are not one (see the module docstring)."""
    raw = bytes(raw[:IMAGE_NAME_SIZE])
    if len(raw) != IMAGE_NAME_SIZE:
        return None
    text, _sep, pad = raw.partition(b"\0")
    if not text or any(c not in _PRINTABLE for c in text) or pad.strip(b"\0"):
        return None
    return text.decode("ascii")


def candidates(arch, build):
    """``[(offset, source)]`` to try, best first: this build's, else the
    nearest known build's and then the others of the architecture, each
    source saying which build it was derived from."""
    exact = IMAGE_FILE_NAME.get((arch, build))
    if exact is not None:
        return [exact]
    known = sorted(b for a, b in IMAGE_FILE_NAME if a == arch)
    known.sort(key=lambda b: (abs(b - (build or 0)), -b))
    out = []
    for b in known:
        off, src = IMAGE_FILE_NAME[(arch, b)]
        if all(off != o for o, _ in out):
            out.append((off, "%s; no layout for build %s: derived from build %d, checked against the bytes"
                        % (src, build, b)))
    late = UNVERIFIED.get((arch, build))
    if late is not None and all(late[0] != o for o, _ in out):
        out.append((late[0], "%s, checked against the bytes" % late[1]))
    return out


def crashing_process(target, backend, arch, build, thread=None):
    """``{name, address, source}`` of the crashing process (``name`` is
    ``"unknown"`` with a ``reason`` when it cannot be told), or None when
    the source has neither a saved EPROCESS copy nor a crashing thread. A
    snapshot recorded from a triage dump answers what the dump's copy said
    (its ``crash_process`` key: the copy is not memory, so a replay could
    not read it)."""
    kept = _snapshot_process(backend)
    if kept is not None:
        return kept
    dump = _triage_dump(backend)
    copy = None
    address = None
    if dump is not None:
        t = dump.triage
        po, to = t.get("ProcessOffset") or 0, t.get("ThreadOffset") or 0
        if po and po < dump.file_size:
            end = to if po < to <= dump.file_size else min(dump.file_size, po + 0x1000)
            copy = bytes(dump.data[po:end])
            if arch == "x64" and to and to + KTHREAD_PROCESS_X64 + 8 <= dump.file_size:
                address = struct.unpack_from("<Q", dump.data, to + KTHREAD_PROCESS_X64)[0] or None
    elif thread and arch == "x64":
        try:
            address = target.read_u64(thread + KTHREAD_PROCESS_X64)
        except ReadError:
            return {"name": "unknown", "address": None, "source": None,
                    "reason": "the crashing thread's KTHREAD is not captured"}
    if copy is None and address is None:
        return None
    tried = []
    for off, src in candidates(arch, build):
        if copy is not None:
            raw = copy[off:off + IMAGE_NAME_SIZE]
            where = "the EPROCESS copy the triage dump saves"
        else:
            try:
                raw = target.read(address + off, IMAGE_NAME_SIZE)
            except ReadError:
                tried.append("+0x%x not captured" % off)
                continue
            where = "the crashing thread's EPROCESS (KTHREAD.Process)"
        name = image_name(raw)
        if name is not None:
            source = "%s, ImageFileName at +0x%x (%s)" % (where, off, src)
            if tried:
                source += "; tried first: %s" % "; ".join(tried)
            return {"name": name, "address": "0x%x" % address if address else None, "source": source}
        tried.append("+0x%x holds no image name" % off)
    reason = ("no ImageFileName offset is known for %s build %s" % (arch, build)) if not tried else \
        "ImageFileName: %s" % "; ".join(tried)
    return {"name": "unknown", "address": "0x%x" % address if address else None, "source": None, "reason": reason}


def triage_process(backend):
    """What a triage dump's own EPROCESS copy says (for a recording to keep
    under ``crash_process``), or None for other sources."""
    dump = _triage_dump(backend)
    if dump is None:
        return None
    return crashing_process(None, backend, dump.arch, dump.build)


def _snapshot_process(backend):
    """The ``crash_process`` key of a snapshot in the wrapper chain, checked
    (an untrusted document): None when absent or malformed."""
    for _ in range(8):
        if backend is None:
            return None
        doc = getattr(getattr(backend, "snap", None), "doc", None)
        if isinstance(doc, dict):
            p = doc.get(CRASH_PROCESS_KEY)
            if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                return None
            name = p["name"]
            if name != "unknown" and image_name(name.encode("latin-1", "replace").ljust(IMAGE_NAME_SIZE, b"\0")) != name:
                return None
            out = {"name": name, "address": _hex_or_none(p.get("address")),
                   "source": p["source"][:MAX_TEXT] if isinstance(p.get("source"), str) else None}
            if name == "unknown":
                out["reason"] = p["reason"][:MAX_TEXT] if isinstance(p.get("reason"), str) else "not recorded"
            return out
        backend = getattr(backend, "inner", None)
    return None


def _hex_or_none(text):
    from wdfdbg.sources.snapshot import parse_hex
    v = parse_hex(text)
    return "0x%x" % v if v else None


def _triage_dump(backend):
    for _ in range(8):
        if backend is None:
            return None
        dump = getattr(backend, "dump", None)
        if dump is not None and hasattr(dump, "triage"):
            return dump
        backend = getattr(backend, "inner", None)
    return None
