"""KMDF type codes (``FxObject::m_Type``, FX_TYPE_*), their DDI names, the
Fx class a code names, and the object flag and state names (kmdf.md §2, §3).

Sources: the code list is ``fxtypes.h`` [src]; which class constructs with
which code is each class's constructor and KMDF's own class table
``FxObjectsInfo[]`` (``kmdf/src/fxtosharedinterface/fxobject/
fxobjectinfodatakm.hpp``, which also says which classes are internal and
which DDI type each external one has) [src]; class sizes that tell the
members of one code apart are PDB-derived (github:can1357/selene
``resources/sdk/fx/*.hpp``, x64, identical on 1607, 2004, 20H2, Windows 11)
[pdb].

Classifying an object (:func:`choose_class`), strongest evidence first:

1. the vtable symbol (``Wdf01000!FxWaitLock::`vftable'``) when the class it
   names can carry the object's m_Type: ``class_source`` "vtable";
2. m_Type when exactly one class constructs with that code (0x1023 is
   always FxWaitLock): "type-code". This also overrules a vtable symbol
   that names a class of another code, because the linker folds identical
   vtables: Wdf01000+0x967a0 is both FxWaitLock's and FxResourceCm's in the
   real dump (kmdf.md §12), so one of the two symbols is wrong for half the
   objects that point there;
3. the object's shape (memory and lookaside classes share m_Type 0x1000 and
   0x1009; ``decoders/memory.py`` tells them apart): "shape";
4. m_Type with m_ObjectSize where the code has a few classes of different
   sizes (0x1200 FxIoTarget 0x160 / FxIoTargetRemote 0x200 on x64), else
   the common base class those classes derive from (0x1200 -> FxIoTarget,
   0x1401 -> FxDmaTransactionBase): "type-code".

A vtable *address* without a symbol never names a class: several classes
may share it (step 2's example), and nothing in a dump says which.
"""

FX_TYPE_OBJECT = 0x1000
FX_TYPE_DRIVER = 0x1001
FX_TYPE_DEVICE = 0x1002
FX_TYPE_QUEUE = 0x1003
FX_TYPE_REQUEST = 0x1008
FX_TYPE_LOOKASIDE = 0x1009
FX_TYPE_USEROBJECT = 0x100C
FX_TYPE_RESOURCE_CM = 0x1017
FX_TYPE_MEMORY_PREALLOCATED = 0x1022
FX_TYPE_WAIT_LOCK = 0x1023
FX_TYPE_SPIN_LOCK = 0x1024
FX_TYPE_WORKITEM = 0x1025
FX_TYPE_TIMER = 0x1028
FX_TYPE_REQUEST_MEMORY = 0x1032
FX_TYPE_CM_RES_LIST = 0x1036
FX_TYPE_IO_TARGET = 0x1200
FX_TYPE_DMA_ENABLER = 0x1400
FX_TYPE_DMA_TRANSACTION = 0x1401
FX_TYPE_COMMON_BUFFER = 0x1402
FX_TYPE_NONE = 0xFFFF

# code: (FX_TYPE_* name, label, internal). The label is the DDI handle type
# for external objects (FxObjectsInfo's third column); internal objects have
# no DDI type and keep wdfdbg's WDF-prefixed label, which reports print as
# "WDF INTERNAL <label>". 0x1016/0x1017 are one I/O or CM resource
# descriptor (FxResourceIo/FxResourceCm), members of the WDFIORESLIST and
# WDFCMRESLIST collections (0x1035/0x1036), never those lists.
FX_TYPES = {
    0x1000: ("OBJECT", "WDFOBJECT", False),
    0x1001: ("DRIVER", "WDFDRIVER", False),
    0x1002: ("DEVICE", "WDFDEVICE", False),
    0x1003: ("QUEUE", "WDFQUEUE", False),
    0x1004: ("WMI_PROVIDER", "WDFWMIPROVIDER", False),
    0x1006: ("REG_KEY", "WDFKEY", False),
    0x1007: ("STRING", "WDFSTRING", False),
    0x1008: ("REQUEST", "WDFREQUEST", False),
    0x1009: ("LOOKASIDE", "WDFLOOKASIDE", False),
    0x100B: ("IRPQUEUE", "WDFIRPQUEUE", True),
    0x100C: ("USEROBJECT", "WDFOBJECT", False),
    0x100E: ("COLLECTION", "WDFCOLLECTION", False),
    0x1012: ("VERIFIERLOCK", "WDFVERIFIERLOCK", True),
    0x1013: ("SYSTEMTHREAD", "WDFSYSTEMTHREAD", True),
    0x1014: ("MP_DEVICE", "WDFDEVICE", False),
    0x1015: ("DPC", "WDFDPC", False),
    0x1016: ("RESOURCE_IO", "WDFIORESOURCE", True),
    0x1017: ("RESOURCE_CM", "WDFCMRESOURCE", True),
    0x1018: ("FILEOBJECT", "WDFFILEOBJECT", False),
    0x1021: ("RELATED_DEVICE", "WDFRELATEDDEVICE", True),
    0x1022: ("MEMORY_PREALLOCATED", "WDFMEMORY", False),
    0x1023: ("WAIT_LOCK", "WDFWAITLOCK", False),
    0x1024: ("SPIN_LOCK", "WDFSPINLOCK", False),
    0x1025: ("WORKITEM", "WDFWORKITEM", False),
    0x1026: ("CLEANUPLIST", "WDFCLEANUPLIST", True),
    0x1027: ("INTERRUPT", "WDFINTERRUPT", False),
    0x1028: ("TIMER", "WDFTIMER", False),
    0x1029: ("CHILD_LIST", "WDFCHILDLIST", False),
    0x1030: ("DEVICE_BASE", "WDFDEVICE", False),
    0x1031: ("SYSTEMWORKITEM", "WDFSYSTEMWORKITEM", True),
    0x1032: ("REQUEST_MEMORY", "WDFMEMORY", False),
    0x1033: ("DISPOSELIST", "WDFDISPOSELIST", True),
    0x1034: ("WMI_INSTANCE", "WDFWMIINSTANCE", False),
    0x1035: ("IO_RES_LIST", "WDFIORESLIST", False),
    0x1036: ("CM_RES_LIST", "WDFCMRESLIST", False),
    0x1037: ("IO_RES_REQ_LIST", "WDFIORESREQLIST", False),
    0x1038: ("COMPANION_TARGET", "WDFCOMPANIONTARGET", False),
    0x1039: ("COMPANION", "WDFCOMPANION", False),
    0x1040: ("TASK_QUEUE", "WDFTASKQUEUE", False),
    0x1100: ("PACKAGE_IO", "WDFPACKAGE", True),
    0x1101: ("PACKAGE_FDO", "WDFPACKAGE", True),
    0x1102: ("PACKAGE_PDO", "WDFPACKAGE", True),
    0x1103: ("WMI_IRP_HANDLER", "WDFPACKAGE", True),
    0x1104: ("PACKAGE_GENERAL", "WDFPACKAGE", True),
    0x1105: ("DEFAULT_IRP_HANDLER", "WDFPACKAGE", True),
    0x1106: ("WMI_TRACING_IRP_HANDLER", "WDFPACKAGE", True),
    0x1200: ("IO_TARGET", "WDFIOTARGET", False),
    0x1201: ("IO_TARGET_REMOTE", "WDFIOTARGET", False),
    0x1202: ("IO_TARGET_USB_DEVICE", "WDFUSBDEVICE", False),
    0x1203: ("IO_TARGET_USB_PIPE", "WDFUSBPIPE", False),
    0x1204: ("USB_INTERFACE", "WDFUSBINTERFACE", False),
    0x1205: ("IO_TARGET_SELF", "WDFIOTARGET", False),
    0x1400: ("DMA_ENABLER", "WDFDMAENABLER", False),
    0x1401: ("DMA_TRANSACTION", "WDFDMATRANSACTION", False),
    0x1402: ("COMMON_BUFFER", "WDFCOMMONBUFFER", False),
    0xFFFF: ("NONE", None, True),
}

# Codes only ever passed to QueryInterface / FxObjectHandleGetPtr, never
# stored in m_Type by a constructor [src]: FxMemoryBufferPreallocated and
# FxRequestMemory construct as FX_TYPE_OBJECT (fxmemoryobject.cpp),
# FxIoTargetRemote as FX_TYPE_IO_TARGET (fxiotargetremote.cpp), FxDevice
# and FxMpDevice pass their own codes to FxDeviceBase. 0x100A
# (IFX_TYPE_MEMORY) is an interface id and not in the table at all.
QUERY_ONLY_TYPES = frozenset((0x1022, 0x1030, 0x1032, 0x1201))

# Exactly one class constructs with each of these codes [src constructors,
# FxObjectsInfo]. 0x1012 FxVerifierLock is not an FxObject but lays out
# m_Type at the same offset.
CLASS_BY_TYPE = {
    0x1001: "FxDriver", 0x1002: "FxDevice", 0x1003: "FxIoQueue", 0x1004: "FxWmiProvider",
    0x1006: "FxRegKey", 0x1007: "FxString", 0x100C: "FxUserObject", 0x100E: "FxCollection",
    0x1012: "FxVerifierLock", 0x1013: "FxSystemThread", 0x1014: "FxMpDevice", 0x1015: "FxDpc",
    0x1016: "FxResourceIo", 0x1017: "FxResourceCm", 0x1018: "FxFileObject", 0x1021: "FxRelatedDevice",
    0x1023: "FxWaitLock", 0x1024: "FxSpinLock", 0x1025: "FxWorkItem", 0x1027: "FxInterrupt",
    0x1028: "FxTimer", 0x1029: "FxChildList", 0x1031: "FxSystemWorkItem", 0x1033: "FxDisposeList",
    0x1035: "FxIoResList", 0x1036: "FxCmResList", 0x1037: "FxIoResReqList", 0x1038: "FxCompanionTarget",
    0x1100: "FxPkgIo", 0x1101: "FxPkgFdo", 0x1102: "FxPkgPdo", 0x1103: "FxWmiIrpHandler",
    0x1104: "FxPkgGeneral", 0x1105: "FxDefaultIrpHandler",
    0x1202: "FxUsbDevice", 0x1203: "FxUsbPipe", 0x1204: "FxUsbInterface", 0x1205: "FxIoTargetSelf",
    0x1400: "FxDmaEnabler", 0x1402: "FxCommonBuffer",
}

# Concrete classes that make a 0x1000 (or 0x1022/0x1032) object a WDFMEMORY.
MEMORY_CLASSES = (
    "FxMemoryObject", "FxMemoryBuffer", "FxMemoryBufferFromPool", "FxMemoryPagedBufferFromPool",
    "FxMemoryBufferFromLookaside", "FxMemoryBufferFromPoolLookaside", "FxMemoryPagedBufferFromPoolLookaside",
    "FxMemoryBufferPreallocated", "FxRequestMemory",
)
LOOKASIDE_CLASSES = ("FxLookasideList", "FxNPagedLookasideList", "FxNPagedLookasideListFromPool",
                     "FxPagedLookasideListFromPool")

# Codes several classes construct with: (common base, every class) [src].
SHARED_TYPES = {
    0x1000: ("FxObject", ("FxObject",) + MEMORY_CLASSES),
    0x1008: ("FxRequestBase", ("FxRequest", "FxRequestFromLookaside", "FxSyncRequest")),
    0x1009: ("FxLookasideList", LOOKASIDE_CLASSES),
    0x1034: ("FxWmiInstance", ("FxWmiInstanceExternal", "FxWmiInstanceInternal")),
    0x1200: ("FxIoTarget", ("FxIoTarget", "FxIoTargetRemote")),
    0x1401: ("FxDmaTransactionBase", ("FxDmaPacketTransaction", "FxDmaScatterGatherTransaction",
                                      "FxDmaSystemTransaction")),
}

# Members of a shared code told apart by m_ObjectSize (= sizeof rounded up
# to 16) on 64-bit builds [pdb: io_target_t 0x158, io_target_remote_t
# 0x1f8, wmi_instance_external_t 0xb8, wmi_instance_internal_t 0xb0].
# FxSyncRequest is embedded (constructed with object size 0, no handle;
# fxsyncrequest.cpp) on every architecture; FxRequestFromLookaside is an
# FxRequest of the same size, so "FxRequest" is true of both.
SIZE_CLASSES_64 = {
    0x1200: {0x160: "FxIoTarget", 0x200: "FxIoTargetRemote"},
    0x1034: {0xC0: "FxWmiInstanceExternal", 0xB0: "FxWmiInstanceInternal"},
}

OBJECT_FLAGS = [
    (0x1, "PASSIVE_CALLBACKS"), (0x2, "NODELETEDDI"), (0x4, "DELETECALLED"), (0x8, "COMMITTED"),
    (0x10, "PASSIVE_DISPOSE"), (0x20, "FORCE_DISPOSE_THREAD"), (0x80, "HAS_DEBUG"),
    (0x100, "EARLY_DISPOSED_EXT"), (0x200, "TRACE_STATE"), (0x400, "HAS_CLEANUP"), (0x800, "DISPOSE_OVERRIDE"),
]
FLAG_HAS_DEBUG = 0x80

OBJECT_STATES = ["Invalid", "Created", "Disposed", "DisposingEarly", "DisposingDisposeChildren", "DeferedDisposing",
                 "DeferedDeleting", "WaitingForEarlyDispose", "WaitingForParentDeleteAndDisposed",
                 "DeletedDisposing", "DeletedAndDisposed", "DeferedDestroy", "Destroyed"]


def type_name(code):
    """FX_TYPE_* short name or None."""
    t = FX_TYPES.get(code)
    return t[0] if t else None


def ddi_name(code, cls=None):
    """The DDI-facing name for a type code (and class, which decides
    WDFMEMORY for 0x1000 objects); None when the code is unknown. Internal
    types answer their WDF-prefixed label (see FX_TYPES)."""
    if cls in MEMORY_CLASSES:
        return "WDFMEMORY"
    if cls in LOOKASIDE_CLASSES:
        return "WDFLOOKASIDE"
    t = FX_TYPES.get(code)
    return t[1] if t else None


def is_internal(code):
    """True for codes of framework-internal objects (no DDI handle type)."""
    t = FX_TYPES.get(code)
    return bool(t and t[2])


def is_known_type(code):
    return code in FX_TYPES and code != FX_TYPE_NONE


def class_of_type(code, object_size=None, pointer_size=8):
    """The Fx class m_Type names, or None: the one class of an unambiguous
    code, else the member m_ObjectSize picks (64-bit sizes), else the
    common base class of a shared code (0x1200 -> FxIoTarget). 0x1000 and
    0x1009 give None: their shape decides (``decoders/memory.py``)."""
    if code in CLASS_BY_TYPE:
        return CLASS_BY_TYPE[code]
    if code == FX_TYPE_REQUEST:
        return "FxSyncRequest" if object_size == 0 else "FxRequest"
    if code in (FX_TYPE_OBJECT, FX_TYPE_LOOKASIDE):
        return None
    if pointer_size == 8 and object_size:
        hit = SIZE_CLASSES_64.get(code, {}).get(object_size)
        if hit:
            return hit
    shared = SHARED_TYPES.get(code)
    return shared[0] if shared else None


def classes_of_type(code):
    """Every class that constructs with ``code`` (a tuple, maybe empty)."""
    if code in CLASS_BY_TYPE:
        return (CLASS_BY_TYPE[code],)
    shared = SHARED_TYPES.get(code)
    return shared[1] if shared else ()


def vtable_class_fits(code, cls):
    """Whether a class named by a vtable symbol can carry m_Type ``code``.
    Codes with no known class list (unknown, internal 0x1000 objects)
    accept any class; query-only codes accept none (they are never stored,
    so the object or its m_Type is not what it seems)."""
    if code in QUERY_ONLY_TYPES:
        return False
    candidates = classes_of_type(code)
    if code == FX_TYPE_OBJECT or not candidates:
        return True
    return cls in candidates or cls == SHARED_TYPES.get(code, (None,))[0]


def choose_class(code, object_size, vtable_cls=None, shape_cls=None, pointer_size=8):
    """``(class, class_source)`` by the order in the module docstring;
    ``(None, None)`` when nothing names the class."""
    if vtable_cls and vtable_class_fits(code, vtable_cls):
        return vtable_cls, "vtable"
    if code in CLASS_BY_TYPE or code == FX_TYPE_REQUEST:
        return class_of_type(code, object_size, pointer_size), "type-code"
    if shape_cls:
        return shape_cls, "shape"
    cls = class_of_type(code, object_size, pointer_size)
    if cls:
        return cls, "type-code"
    return None, None


def flag_names(flags):
    names = [n for bit, n in OBJECT_FLAGS if flags & bit]
    rest = flags & ~sum(bit for bit, _ in OBJECT_FLAGS)
    if rest:
        names.append("0x%x" % rest)
    return names


def state_name(state):
    if 0 <= state < len(OBJECT_STATES):
        return OBJECT_STATES[state]
    return "0x%x" % state
