"""Buffer alignment, and the DMA alignment a device asks for.

WDF's "Aligning Buffers" rule: DMA and contiguous buffers must start on the
boundary the device needs (drivers round with ``WDF_ALIGN_SIZE_UP/DOWN``).
A buffer's *alignment* here is the largest power of two dividing its
address, capped at the page size (:func:`alignment_of`).

Where a requirement can be read (x64 offsets; selene is
github:can1357/selene ``resources/sdk``, PDB-derived):

* ``FxDeviceBase.m_DeviceObject`` 0x90 (an ``MxDeviceObject`` whose first
  member is the ``PDEVICE_OBJECT``) [pdb fx/device_base_t, every FxDevice]
  [dump: AmdPPM's FxDevice 0xffffc08be450c550 -> DEVICE_OBJECT
  0xffffc08be450cd80, Type 3, Size 0x178] -> ``_DEVICE_OBJECT.
  AlignmentRequirement`` 0x98 (ULONG) [pdb nt/device_object_t]. It is a
  mask (``FILE_WORD_ALIGNMENT`` is 1): the boundary is mask + 1. The
  DEVICE_OBJECT is trusted only when its ``Type`` (0x0, CSHORT) is 3
  (IO_TYPE_DEVICE).
* ``FxDmaEnabler.m_CommonBufferAlignment`` 0x180 (ULONG mask; the larger of
  the FDO's AlignmentRequirement and the adapter's DMA alignment - 1,
  fxdmaenabler.cpp) [pdb fx/dma_enabler_t]; ``m_FDO`` 0xA8.
* ``FxCommonBuffer``: ``m_BufferRawVA`` 0x78, ``m_BufferAlignedVA`` 0x80,
  ``m_BufferAlignedLA`` 0x88, ``m_DmaEnabler`` 0x98, ``m_Length`` 0xA0,
  ``m_Alignment`` 0xB0 (size_t mask, the enabler's unless the driver gave
  one) [pdb fx/common_buffer_t] [dump: 0xffffc08be51fa250, VA
  0xffffc08be4677000, LA 0x806a77000, mask 0]. fxcommonbuffer.cpp aligns
  both addresses up to the mask; past PAGE_SIZE - 1 only the logical
  address is guaranteed, so only it is checked then.
* ``FxDmaTransactionBase``: ``m_State`` 0x78, ``m_DmaEnabler`` 0x80,
  ``m_StartMdl`` 0xB0, ``m_StartOffset`` 0xC0 [pdb fx/dma_transaction_base_t];
  the buffer is the MDL's virtual address (``StartVa + ByteOffset``, nt
  ``_MDL`` from the session's layouts) plus m_StartOffset. Checked only in
  the states where the MDL is the transaction's (Initialized, Transfer,
  TransferCompleted, TransferFailed; fxdmatransactionbase.hpp
  FxDmaTransactionStateXxx = 3..6).

32-bit offsets: not known from a PDB layout here; 32-bit targets get no
requirement (None) rather than a guess. ARM64 uses the x64 table,
**unverified**.

Problem BUFFER_MISALIGNED (warning: the DMA may read or write the wrong
bytes, but the structure is intact) at the common buffer or transaction
whose address does not meet the strictest requirement that could be read.
"""

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.facts import (NOT_CAPTURED, SCHEMA_HEX, SCHEMA_POINTER, captured, hex_json, plain_json,
                                   read_fields)
from wdfdbg.errors import LayoutError

IO_TYPE_DEVICE = 3
DMA_LIVE_STATES = (3, 4, 5, 6)
DEVICE_BASE = ("m_DeviceBase", 0x60)         # FxObject [pdb][dump]

_DEVICE_OBJECT_64 = {"Type": (0x0, 2), "AlignmentRequirement": (0x98, 4)}
_FXDEVICE_64 = {"m_DeviceObject": (0x90, 8)}
_ENABLER_64 = {"m_FDO": (0xA8, 8), "m_CommonBufferAlignment": (0x180, 4)}
_COMMON_BUFFER_64 = {"m_BufferRawVA": (0x78, 8), "m_BufferAlignedVA": (0x80, 8), "m_BufferAlignedLA": (0x88, 8),
                     "m_DmaEnabler": (0x98, 8), "m_Length": (0xA0, 8), "m_Alignment": (0xB0, 8)}
_TRANSACTION_64 = {"m_State": (0x78, 4), "m_DmaEnabler": (0x80, 8), "m_StartMdl": (0xB0, 8), "m_StartOffset": (0xC0, 8)}


# The JSON Schema of an object record's ``dma_alignment`` (report schema
# 1.2; report.schema.json $defs/dma_alignment holds the same)
ALIGNMENT_SCHEMA = {
    "type": "object",
    "required": ["kind", "buffer", "logical", "alignment", "logical_alignment", "required", "required_by",
                 "requirements", "ok", "notes"],
    "properties": {
        "kind": {"enum": ["WDFCOMMONBUFFER", "WDFDMATRANSACTION"]},
        "buffer": SCHEMA_POINTER, "logical": SCHEMA_POINTER, "alignment": SCHEMA_POINTER,
        "logical_alignment": SCHEMA_POINTER, "required": {"anyOf": [SCHEMA_HEX, {"type": "null"}]},
        "required_by": {"type": ["string", "null"]},
        "requirements": {"type": "array", "items": {"type": "object", "required": ["boundary", "source"],
                                                    "properties": {"boundary": SCHEMA_HEX,
                                                                   "source": {"type": "string"}}}},
        "ok": {"type": ["boolean", "null"]}, "notes": {"type": "array", "items": {"type": "string"}},
    },
}


def alignment_of(address, page_size=4096):
    """Largest power of two dividing ``address``, at most ``page_size``;
    None for NULL, NOT_CAPTURED passed through."""
    if not captured(address):
        return NOT_CAPTURED
    if not address:
        return None
    return min(address & -address, page_size)


class Requirement(object):
    """A DMA alignment requirement: ``mask`` (boundary - 1) and ``source``
    (the C field it came from, with its address)."""

    __slots__ = ("mask", "source")

    def __init__(self, mask, source):
        self.mask = mask
        self.source = source

    @property
    def boundary(self):
        return self.mask + 1


class AlignmentCheck(object):
    """A DMA buffer checked against its device: ``object`` (FxCommonBuffer
    or FxDmaTransactionBase), ``kind``, ``buffer`` (virtual address),
    ``logical`` (device-visible address, common buffers only), ``alignment``
    and ``logical_alignment`` (see :func:`alignment_of`), ``requirements``
    (every :class:`Requirement` read), ``required`` (the strictest, or
    None), ``ok`` (True/False, None when nothing could be compared)."""

    __slots__ = ("object", "kind", "buffer", "logical", "alignment", "logical_alignment", "requirements",
                 "required", "ok", "notes")

    def __init__(self, address, kind):
        self.object = address
        self.kind = kind
        self.buffer = NOT_CAPTURED
        self.logical = None
        self.alignment = NOT_CAPTURED
        self.logical_alignment = None
        self.requirements = []
        self.required = None
        self.ok = None
        self.notes = []

    def to_json(self):
        return {"kind": self.kind, "buffer": hex_json(self.buffer), "logical": hex_json(self.logical),
                "alignment": hex_json(self.alignment), "logical_alignment": hex_json(self.logical_alignment),
                "required": hex_json(self.required.boundary) if self.required else None,
                "required_by": self.required.source if self.required else None,
                "requirements": [{"boundary": hex_json(r.boundary), "source": r.source} for r in self.requirements],
                "ok": self.ok, "notes": list(self.notes)}


def _supported(session):
    return session.target.pointer_size == 8


def device_requirement(session, device):
    """The :class:`Requirement` of an FxDevice's WDM DEVICE_OBJECT, or None
    when it cannot be read (or is not a DEVICE_OBJECT)."""
    if not device or not captured(device) or not _supported(session):
        return None
    t = session.target
    f = read_fields(t, device, [(n, o, s) for n, (o, s) in _FXDEVICE_64.items()])
    return wdm_requirement(session, f["m_DeviceObject"], "FxDevice 0x%x" % device)


def wdm_requirement(session, devobj, via):
    if not devobj or not captured(devobj):
        return None
    f = read_fields(session.target, devobj, [(n, o, s) for n, (o, s) in _DEVICE_OBJECT_64.items()])
    if f["Type"] != IO_TYPE_DEVICE or not captured(f["AlignmentRequirement"]):
        return None
    return Requirement(f["AlignmentRequirement"], "DEVICE_OBJECT 0x%x.AlignmentRequirement (%s)" % (devobj, via))


def enabler_requirements(session, enabler):
    """Requirements a DMA enabler gives: its common-buffer alignment and
    its FDO's AlignmentRequirement."""
    out = []
    if not enabler or not captured(enabler) or not _supported(session):
        return out
    f = read_fields(session.target, enabler, [(n, o, s) for n, (o, s) in _ENABLER_64.items()])
    if captured(f["m_CommonBufferAlignment"]):
        out.append(Requirement(f["m_CommonBufferAlignment"],
                               "FxDmaEnabler 0x%x.m_CommonBufferAlignment" % enabler))
    r = wdm_requirement(session, f["m_FDO"], "FxDmaEnabler 0x%x.m_FDO" % enabler)
    if r is not None:
        out.append(r)
    return out


def _strictest(check):
    if check.requirements:
        check.required = max(check.requirements, key=lambda r: r.mask)


def check_common_buffer(session, hdr):
    """An :class:`AlignmentCheck` for an FxCommonBuffer (ObjectHeader)."""
    check = AlignmentCheck(hdr.address, "WDFCOMMONBUFFER")
    if not _supported(session):
        check.notes.append("FxCommonBuffer offsets are known for 64-bit builds only")
        return check
    t = session.target
    ps = t.page_size
    f = read_fields(t, hdr.address, [(n, o, s) for n, (o, s) in _COMMON_BUFFER_64.items()])
    check.buffer = f["m_BufferAlignedVA"]
    check.logical = f["m_BufferAlignedLA"]
    check.alignment = alignment_of(check.buffer, ps)
    check.logical_alignment = alignment_of(check.logical, ps)
    if captured(f["m_Alignment"]):
        check.requirements.append(Requirement(f["m_Alignment"], "FxCommonBuffer 0x%x.m_Alignment" % hdr.address))
    check.requirements.extend(enabler_requirements(session, f["m_DmaEnabler"]))
    r = device_requirement(session, hdr.device_base)
    if r is not None:
        check.requirements.append(r)
    _strictest(check)
    _judge(check, ps, logical_only=check.required is not None and check.required.mask > ps - 1)
    return check


def check_transaction(session, hdr):
    """An :class:`AlignmentCheck` for a DMA transaction (ObjectHeader)."""
    check = AlignmentCheck(hdr.address, "WDFDMATRANSACTION")
    if not _supported(session):
        check.notes.append("DMA transaction offsets are known for 64-bit builds only")
        return check
    t = session.target
    f = read_fields(t, hdr.address, [(n, o, s) for n, (o, s) in _TRANSACTION_64.items()])
    if not captured(f["m_State"]) or f["m_State"] not in DMA_LIVE_STATES:
        check.notes.append("not in a state that owns its MDL (state %s)" % plain_json(f["m_State"]))
        return check
    check.buffer = _mdl_va(session, f["m_StartMdl"], f["m_StartOffset"])
    check.alignment = alignment_of(check.buffer, t.page_size)
    check.requirements.extend(enabler_requirements(session, f["m_DmaEnabler"]))
    r = device_requirement(session, hdr.device_base)
    if r is not None:
        check.requirements.append(r)
    _strictest(check)
    _judge(check, t.page_size, logical_only=False)
    return check


def _mdl_va(session, mdl, offset):
    if not captured(mdl) or not captured(offset) or not mdl:
        return NOT_CAPTURED if not captured(mdl) or not captured(offset) else None
    try:
        lay = session.layouts.get("nt!_MDL")
    except LayoutError:
        return NOT_CAPTURED
    ptr = session.target.pointer_size
    f = read_fields(session.target, mdl, [("StartVa", lay.offset("StartVa"), ptr),
                                          ("ByteOffset", lay.offset("ByteOffset"), 4)])
    if not captured(f["StartVa"]) or not captured(f["ByteOffset"]):
        return NOT_CAPTURED
    return f["StartVa"] + f["ByteOffset"] + offset


def _judge(check, page_size, logical_only):
    req = check.required
    if req is None:
        return
    addrs = []
    if not logical_only and captured(check.buffer) and check.buffer:
        addrs.append(check.buffer)
    if check.logical is not None and captured(check.logical) and check.logical:
        addrs.append(check.logical)
    if not addrs:
        return
    check.ok = all(a & req.mask == 0 for a in addrs)


def check_node(session, node, problems=None):
    """The :class:`AlignmentCheck` of a common buffer or DMA transaction
    node (None for other objects); BUFFER_MISALIGNED into ``problems``."""
    hdr = node.header
    if hdr.fx_type == fxt.FX_TYPE_COMMON_BUFFER:
        check = check_common_buffer(session, hdr)
    elif hdr.fx_type == fxt.FX_TYPE_DMA_TRANSACTION:
        check = check_transaction(session, hdr)
    else:
        return None
    if check.ok is False and problems is not None:
        bad = check.buffer if captured(check.buffer) and check.buffer & check.required.mask else check.logical
        problems.add("BUFFER_MISALIGNED", hdr.address,
                     "%s 0x%x: buffer 0x%x is aligned to 0x%x but %s requires 0x%x"
                     % (check.kind, hdr.address, bad, alignment_of(bad), check.required.source,
                        check.required.boundary))
    return check


def memory_alignment(session, memory):
    """The alignment of a decoded WDFMEMORY record's buffer (the dict
    ``decoders/memory.py`` makes, buffer as hex), for "every memory record
    states its buffer's alignment"; None without a buffer."""
    buf = (memory or {}).get("buffer")
    if not isinstance(buf, str):
        return None
    try:
        value = int(buf, 16)
    except ValueError:
        return None
    return alignment_of(value, session.target.page_size)
