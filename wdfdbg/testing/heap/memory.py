"""WDFMEMORY: the memory classes and WDF_MEMORY_DESCRIPTORs.

C types laid out here:

* ``FxMemoryObject``'s tail, shared by every memory class: the IFxMemory
  vfptr and m_BufferSize (kmdf.md §5, x64 [pdb], x86 computed; offsets from
  the profile). m_Type is 0x1000 for all of them [src].
* ``FxMemoryBuffer`` (buffer inline at object + sizeof, aligned),
  ``FxMemoryBufferFromPool`` / ``FxMemoryPagedBufferFromPool`` (``m_Pool``,
  a separate pool block with the caller's tag) and
  ``FxMemoryBufferPreallocated`` (``m_pBuffer``, not owned), chosen the way
  ``WdfMemoryCreate`` does [src] (kmdf.md §5).
* ``_WDF_MEMORY_DESCRIPTOR`` and ``_WDFMEMORY_OFFSET`` (kmdf.md §8 [src];
  public struct, offsets from the profile).

Memory from lookasides is in :mod:`~wdfdbg.testing.heap.lookaside`, request
buffers and FxRequestMemory in :mod:`~wdfdbg.testing.heap.requests`.
"""

from wdfdbg.testing.heap.objects import F_COMMITTED, F_PASSIVE, device_ancestor
from wdfdbg.testing.heap.space import PAGE, StructWriter, align, tag_value

DESC_BUFFER, DESC_MDL, DESC_HANDLE = 1, 2, 3     # WDF_MEMORY_DESCRIPTOR_TYPE [src]


def memory_info(buffer, length, origin, pool_tag, requested_tag, lookaside=None, mdl=None, read_only=False):
    """What a memory object's ``info`` records (read back by the ground truth)."""
    return {"kind": "memory", "buffer": buffer, "length": length, "origin": origin, "pool_tag": pool_tag,
            "requested_tag": requested_tag, "lookaside": lookaside, "mdl": mdl, "read_only": read_only}


class MemoryBuilder(object):
    """Part of :class:`~wdfdbg.testing.heap.HeapBuilder`: WDFMEMORY objects
    and memory descriptors. Relies on the object part (``new_object``) and
    the driver part (``vtable``)."""

    def _init_memory(self):
        mem = self.t("FxMemoryObject")
        self._memw = StructWriter(mem, ["__vfptr_IFxMemory", "m_BufferSize"])
        self.off_ifx = mem.offset("__vfptr_IFxMemory")
        self.descriptors = []

    def _set_memory(self, o, buffer, length, origin, pool_tag, requested_tag, lookaside=None, mdl=None,
                    read_only=False):
        """Write the FxMemoryObject tail and record what ``o`` describes."""
        o.info = memory_info(buffer, length, origin, pool_tag, requested_tag, lookaside, mdl, read_only)
        self._memw.pack(self.heap, o.addr, self.vtable(o.cls, iface=True), length)

    def memory_buffer(self, parent, length, tag, ctx=None, label=None, text=None):
        """WdfMemoryCreate below PAGE_SIZE, nonpaged: FxMemoryBuffer with the
        buffer inline at object + sizeof (aligned)."""
        o = self.new_object("FxMemoryBuffer", parent, extra=length, ctx=ctx, tag=tag, label=label)
        buf = o.addr + align(self.class_size("FxMemoryBuffer"), self.maa)
        self._fill(buf, length, text or ("%s inline " % (label or "WDFMEMORY")))
        self._set_memory(o, buf, length, "inline", o.pool_tag, tag_value(tag))
        return o

    def memory_create(self, parent, length, tag, paged=False, ctx=None, label=None, text=None):
        """WdfMemoryCreate: picks the class as the framework does (kmdf.md §5)."""
        if length < PAGE and not paged:
            return self.memory_buffer(parent, length, tag, ctx=ctx, label=label, text=text)
        dev = device_ancestor(parent)
        cls = "FxMemoryPagedBufferFromPool" if (paged and dev is not None) else "FxMemoryBufferFromPool"
        flags = F_COMMITTED | (F_PASSIVE if paged else 0)
        o = self.new_object(cls, parent, ctx=ctx, flags=flags, label=label)
        buf, hdr = self.pool(length, tag, paged=paged)
        self._fill(buf, length, text or ("%s pool " % (label or "WDFMEMORY")))
        self.wptr(o.addr + self.off(cls, "m_Pool"), buf)
        self._set_memory(o, buf, length, "pool", tag_value(tag) if hdr is not None else None, tag_value(tag))
        o.info["buffer_pool_header"] = hdr
        o.info["buffer_paged"] = paged
        return o

    def memory_preallocated(self, parent, buffer, length, label=None, ctx=None):
        """WdfMemoryCreatePreallocated over ``buffer`` (not owned)."""
        o = self.new_object("FxMemoryBufferPreallocated", parent, ctx=ctx, label=label)
        self.wptr(o.addr + self.off("FxMemoryBufferPreallocated", "m_pBuffer"), buffer)
        self._set_memory(o, buffer, length, "preallocated", None, None)
        return o

    def descriptors_block(self, drv, specs):
        """WDF_MEMORY_DESCRIPTORs in one pool block (driver tag). ``specs``:
        dicts {type: "buffer"|"mdl"|"handle", ...}; handle ones may carry
        ``offsets`` (BufferOffset, BufferLength) stored right after."""
        dl = self.t("_WDF_MEMORY_DESCRIPTOR")
        ol = self.t("_WDFMEMORY_OFFSET")
        n_off = sum(1 for s in specs if s.get("offsets") is not None)
        size = dl.size * len(specs) + ol.size * n_off
        base, _ = self.pool(size, drv.tagv)
        opos = base + align(dl.size * len(specs), 8)
        out = []
        for i, s in enumerate(specs):
            a = base + i * dl.size
            rec = {"address": a, "label": s.get("label"), "expected_problem": s.get("expected_problem")}
            if s["type"] == "buffer":
                self.put(a, "_WDF_MEMORY_DESCRIPTOR", {"Type": DESC_BUFFER, "BufferBuffer": s["buffer"],
                                                       "BufferLength": s["length"]})
                rec.update(type=DESC_BUFFER, type_name="WdfMemoryDescriptorTypeBuffer", buffer=s["buffer"],
                           length=s["length"])
            elif s["type"] == "mdl":
                self.put(a, "_WDF_MEMORY_DESCRIPTOR", {"Type": DESC_MDL, "MdlMdl": s["mdl"].addr,
                                                       "MdlBufferLength": s["length"]})
                s["mdl"].referenced_by.append(("descriptor", a))
                rec.update(type=DESC_MDL, type_name="WdfMemoryDescriptorTypeMdl", mdl=s["mdl"].addr,
                           length=s["length"])
            else:
                mem = s["memory"]
                offp = 0
                offsets = s.get("offsets")
                if offsets is not None:
                    offp = opos
                    opos += ol.size
                    self.put(offp, "_WDFMEMORY_OFFSET", {"BufferOffset": offsets[0], "BufferLength": offsets[1]})
                self.put(a, "_WDF_MEMORY_DESCRIPTOR", {"Type": DESC_HANDLE, "HandleMemory": self.handle(mem.addr),
                                                       "HandleOffsets": offp})
                length = mem.info["length"]
                rec.update(type=DESC_HANDLE, type_name="WdfMemoryDescriptorTypeHandle", memory=self.handle(mem.addr),
                           memory_object=mem.addr, memory_length=length, offsets=offp or None,
                           buffer_offset=offsets[0] if offsets else None,
                           buffer_length=offsets[1] if offsets else None,
                           in_bounds=(offsets is None or offsets[0] + offsets[1] <= length))
            out.append(rec)
            self.descriptors.append(rec)
            if s.get("expected_problem"):
                self.expect(s["expected_problem"], a, found_by="descriptor",
                            note="WDF_MEMORY_DESCRIPTOR %s" % (s.get("label") or ""))
        return out
