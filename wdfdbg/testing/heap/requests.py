"""Requests: FxRequest with its IRP, and the memory a request hands out.

C types laid out here:

* ``FxRequest``: m_Irp, m_SystemBufferOffset / m_OutputBufferOffset (each
  holding its own offset, which makes the offset handles of kmdf.md §1
  work), m_IrpReferenceCount, m_IoQueue, the embedded
  ``FxRequestSystemBuffer`` / ``FxRequestOutputBuffer`` (vfptr and
  m_Buffer/m_Mdl), m_Presented (kmdf.md §5 "Request buffers", x64 [pdb]).
* ``FxRequestMemory`` (m_pBuffer, m_Request, m_Mdl, m_Flags; kmdf.md §5
  [pdb]) over a probed and locked user buffer, with its MDL.
* nt ``_IRP`` (MdlAddress, AssociatedIrp.SystemBuffer, UserBuffer,
  CurrentStackLocation) and ``_IO_STACK_LOCATION`` (MajorFunction, Read and
  DeviceIoControl parameters): public kernel types, offsets from the
  profile; the few the profiles do not name (StackCount, CurrentLocation,
  Type3InputBuffer, DeviceObject) are per-arch constants in
  :data:`~wdfdbg.testing.heap.core.ARCHES`.
* A stand-in ``DEVICE_OBJECT`` (Type 3, Size) for the stack location.
"""

import struct

IRP_MJ_READ = 3
IRP_MJ_DEVICE_CONTROL = 0xE
IO_TYPE_DEVICE, IO_TYPE_IRP = 3, 6       # CSHORT Type of DEVICE_OBJECT and IRP (wdm.h)
MDL_FLAGS_LOCKED = 0x8 | 0x2 | 0x1       # ALLOCATED_FIXED_SIZE | PAGES_LOCKED | MAPPED_TO_SYSTEM_VA
MDL_WRITE_OPERATION = 0x80
REQUEST_MEMORY_READ_ONLY = 1             # IFxMemoryFlagReadOnly [src]


def _buffer(buffer, mdl, length):
    return {"buffer": buffer, "mdl": mdl, "length": length}


class RequestBuilder(object):
    """Part of :class:`~wdfdbg.testing.heap.HeapBuilder`: FxRequest and
    FxRequestMemory. Relies on the object, memory, MDL and driver
    (``vtable``) parts."""

    def _init_requests(self):
        self.requests = []
        self._device_object = None

    def device_object(self):
        """The one DEVICE_OBJECT every stack location names."""
        if self._device_object is None:
            a, _ = self.pool(0x150, "Devi")
            self.heap.write(a, struct.pack("<hH", IO_TYPE_DEVICE, 0x150))
            self._device_object = a
        return self._device_object

    def _ioctl_stack(self, cur, code, input_length, output_length):
        self.put(cur, "_IO_STACK_LOCATION", {"MajorFunction": IRP_MJ_DEVICE_CONTROL,
                                             "OutputBufferLength": output_length,
                                             "InputBufferLength": input_length, "IoControlCode": code})

    def request(self, queue, kind, parented=True, ctx=None, input_length=0, output_length=0, ioctl=None,
                read_length=0, irp_refs=0, label=None, user_va=None, text=None):
        """An FxRequest with its IRP. ``kind``: "ioctl-buffered",
        "ioctl-neither" or "read-direct". ``parented``: in the queue's
        child list (else m_ParentObject NULL, presented by the queue)."""
        R = self.new_object("FxRequest", queue if parented else None, driver=queue.driver, ctx=ctx, label=label)
        irp_l = self.t("_IRP")
        stk = self.t("_IO_STACK_LOCATION")
        irp, _ = self.pool(irp_l.size + stk.size, "Irp ")
        cur = irp + irp_l.size
        self.heap.write(irp, struct.pack("<hH", IO_TYPE_IRP, irp_l.size + stk.size))
        self.heap.put(irp + self.A["irp_stack_count"], 1, 1)
        self.heap.put(irp + self.A["irp_current_location"], 1, 1)
        self.put(irp, "_IRP", {"CurrentStackLocation": cur})
        self.heap.put(cur + self.A["stack_device"], self.ptr, self.device_object())
        user_va = user_va if user_va is not None else self.A["user"] + 0x1000 * (len(self.requests) * 4 + 1) + 0x200
        info = {"kind": "request", "irp": irp, "stack": cur, "request_kind": kind, "queue": queue.addr,
                "parented": parented, "user_buffer": None, "system_buffer": None, "mdl": None,
                "input": None, "output": None, "irp_refs": irp_refs}
        sb_buf = 0
        ob_buf = 0
        if kind == "ioctl-buffered":
            code = ioctl if ioctl is not None else 0x222000
            sysbuf, _ = self.pool(max(input_length, output_length, 1), "IoSB")
            self._fill(sysbuf, max(input_length, output_length), text or "IOCTL SYSBUF ")
            self.put(irp, "_IRP", {"AssociatedIrp": sysbuf, "UserBuffer": user_va})
            self._ioctl_stack(cur, code, input_length, output_length)
            sb_buf = ob_buf = sysbuf
            info.update(major=IRP_MJ_DEVICE_CONTROL, ioctl=code, system_buffer=sysbuf, user_buffer=user_va,
                        input=_buffer(sysbuf, None, input_length), output=_buffer(sysbuf, None, output_length))
        elif kind == "ioctl-neither":
            code = ioctl if ioctl is not None else 0x222003
            self.put(irp, "_IRP", {"UserBuffer": user_va + 0x800})
            self._ioctl_stack(cur, code, input_length, output_length)
            self.heap.put(cur + self.A["type3_input"], self.ptr, user_va)
            info.update(major=IRP_MJ_DEVICE_CONTROL, ioctl=code, user_buffer=user_va + 0x800, type3_input=user_va,
                        input=_buffer(None, None, input_length), output=_buffer(None, None, output_length))
        elif kind == "read-direct":
            mdl = self.mdl(user_va, read_length, MDL_FLAGS_LOCKED | MDL_WRITE_OPERATION, process=self.eprocess(),
                           text=text or "READ DIRECT DATA ", label=(label or "request") + " MdlAddress")
            self.put(irp, "_IRP", {"MdlAddress": mdl.addr, "UserBuffer": user_va})
            self.put(cur, "_IO_STACK_LOCATION", {"MajorFunction": IRP_MJ_READ, "ReadWriteLength": read_length})
            sb_buf = mdl.addr
            mdl.referenced_by.append(("request", R.addr))
            info.update(major=IRP_MJ_READ, ioctl=None, mdl=mdl.addr, user_buffer=user_va,
                        input=_buffer(mdl.mapped, mdl.addr, read_length), output=None)
        else:
            raise ValueError("unknown request kind %r" % kind)
        rq = "FxRequest"
        self.put(R.addr, rq, {"m_Irp": irp, "m_SystemBufferOffset": self.off(rq, "m_SystemBufferOffset"),
                              "m_IrpReferenceCount": irp_refs,
                              "m_OutputBufferOffset": self.off(rq, "m_OutputBufferOffset"),
                              "m_IoQueue": queue.addr, "m_SystemBuffer.__vfptr": self.vtable("FxRequestSystemBuffer"),
                              "m_SystemBuffer.m_Buffer": sb_buf,
                              "m_OutputBuffer.__vfptr": self.vtable("FxRequestOutputBuffer"),
                              "m_OutputBuffer.m_Buffer": ob_buf, "m_Presented": 1})
        R.info = info
        self.requests.append(R)
        return R

    def request_memory(self, R, length, read_only=True, text=None, label=None):
        """FxRequestMemory from WdfRequestProbeAndLockUserBufferForRead/Write
        of a METHOD_NEITHER request: parent the request, MDL owned."""
        info = R.info
        va = info.get("type3_input") or info.get("user_buffer")
        flags = MDL_FLAGS_LOCKED | (0 if read_only else MDL_WRITE_OPERATION)
        mdl = self.mdl(va, length, flags, process=self.eprocess(), text=text or "PROBED USER DATA ",
                       label=(label or "request memory") + " MDL")
        o = self.new_object("FxRequestMemory", R, label=label)
        rm = "FxRequestMemory"
        self.put(o.addr, rm, {"m_pBuffer": mdl.mapped, "m_Request": R.addr, "m_Mdl": mdl.addr,
                              "m_Flags": REQUEST_MEMORY_READ_ONLY if read_only else 0})
        self._set_memory(o, mdl.mapped, length, "request", None, None, mdl=mdl.addr, read_only=read_only)
        mdl.owner = o.addr
        mdl.referenced_by.append(("FxRequestMemory", o.addr))
        return o
