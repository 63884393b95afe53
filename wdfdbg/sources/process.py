"""The crashing process: its image name (``_EPROCESS.ImageFileName``, 15
characters, NUL-padded).

Read through the crashing thread: ``_KTHREAD.Process`` (+0x220 on x64 in
every build below) then the name in that EPROCESS. A triage dump saves
copies of both (``TRIAGE_DUMP.ThreadOffset``/``ProcessOffset``, kmdf.md
§11), which its reader shows at their addresses; on ARM64, where the
thread's address is not known, the EPROCESS copy is read directly.

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
    the source has neither a crashing thread nor a saved EPROCESS copy.

    In order: through the crashing thread's ``KTHREAD.Process`` in memory
    (x64; a triage dump shows its KTHREAD and EPROCESS copies there,
    ``sources/minidump.py``, so a recording and the debugger read the same
    bytes); else a triage dump's own EPROCESS copy (ARM64: no thread
    address); else the ``crash_process`` key a snapshot recorded from a
    triage dump keeps."""
    got = None
    if thread and arch == "x64" and target is not None:
        got = _through_thread(target, arch, build, thread)
        if got is not None and got["name"] != "unknown":
            return got
    dump = _triage_dump(backend)
    if dump is not None:
        copied = _from_copy(dump, arch, build)
        if copied is not None:
            return copied
    kept = _snapshot_process(backend)
    return kept if kept is not None else got


def _through_thread(target, arch, build, thread):
    try:
        address = target.read_u64(thread + KTHREAD_PROCESS_X64)
    except ReadError:
        return {"name": "unknown", "address": None, "source": None,
                "reason": "the crashing thread's KTHREAD is not captured"}
    if not address:
        return None

    def read(off):
        try:
            return target.read(address + off, IMAGE_NAME_SIZE)
        except ReadError:
            return None
    return _name_at(read, arch, build, address, "EPROCESS 0x%x (KTHREAD.Process of the crashing thread)" % address)


def _from_copy(dump, arch, build):
    t = dump.triage
    po, to = t.get("ProcessOffset") or 0, t.get("ThreadOffset") or 0
    if not po or po >= dump.file_size:
        return None
    end = to if po < to <= dump.file_size else min(dump.file_size, po + 0x1000)
    copy = bytes(dump.data[po:end])

    def read(off):
        raw = copy[off:off + IMAGE_NAME_SIZE]
        return raw if len(raw) == IMAGE_NAME_SIZE else None
    return _name_at(read, arch, build, None, "the EPROCESS copy the triage dump saves")


def _name_at(read, arch, build, address, where):
    tried = []
    for off, src in candidates(arch, build):
        raw = read(off)
        if raw is None:
            tried.append("+0x%x not captured" % off)
            continue
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
    return _from_copy(dump, dump.arch, dump.build)


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
            padded = name.encode("latin-1", "replace").ljust(IMAGE_NAME_SIZE, b"\0")
            if name != "unknown" and image_name(padded) != name:
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
