"""KMDF type codes (``FxObject::m_Type``, FX_TYPE_*), their DDI names, and
the object flag and state names (kmdf.md §2, §3)."""

FX_TYPES = {
    0x1000: ("OBJECT", "WDFOBJECT"), 0x1001: ("DRIVER", "WDFDRIVER"), 0x1002: ("DEVICE", "WDFDEVICE"),
    0x1003: ("QUEUE", "WDFQUEUE"), 0x1004: ("WMI_PROVIDER", "WDFWMIPROVIDER"), 0x1006: ("REG_KEY", "WDFKEY"),
    0x1007: ("STRING", "WDFSTRING"), 0x1008: ("REQUEST", "WDFREQUEST"), 0x1009: ("LOOKASIDE", "WDFLOOKASIDE"),
    0x100B: ("IRPQUEUE", "WDFIRPQUEUE"), 0x100C: ("USEROBJECT", "WDFOBJECT"), 0x100E: ("COLLECTION", "WDFCOLLECTION"),
    0x1012: ("VERIFIERLOCK", "WDFVERIFIERLOCK"), 0x1013: ("SYSTEMTHREAD", "WDFSYSTEMTHREAD"),
    0x1014: ("MP_DEVICE", "WDFMPDEVICE"), 0x1015: ("DPC", "WDFDPC"), 0x1016: ("RESOURCE_IO", "WDFIORESLIST"),
    0x1017: ("RESOURCE_CM", "WDFCMRESLIST"), 0x1018: ("FILEOBJECT", "WDFFILEOBJECT"),
    0x1021: ("RELATED_DEVICE", "WDFRELATEDDEVICE"), 0x1022: ("MEMORY_PREALLOCATED", "WDFMEMORY"),
    0x1023: ("WAIT_LOCK", "WDFWAITLOCK"), 0x1024: ("SPIN_LOCK", "WDFSPINLOCK"), 0x1025: ("WORKITEM", "WDFWORKITEM"),
    0x1026: ("CLEANUPLIST", "WDFCLEANUPLIST"), 0x1027: ("INTERRUPT", "WDFINTERRUPT"), 0x1028: ("TIMER", "WDFTIMER"),
    0x1029: ("CHILD_LIST", "WDFCHILDLIST"), 0x1030: ("DEVICE_BASE", "WDFDEVICE"),
    0x1031: ("SYSTEMWORKITEM", "WDFSYSTEMWORKITEM"), 0x1032: ("REQUEST_MEMORY", "WDFMEMORY"),
    0x1033: ("DISPOSELIST", "WDFDISPOSELIST"), 0x1034: ("WMI_INSTANCE", "WDFWMIINSTANCE"),
    0x1035: ("IO_RES_LIST", "WDFIORESLIST"), 0x1036: ("CM_RES_LIST", "WDFCMRESLIST"),
    0x1037: ("IO_RES_REQ_LIST", "WDFIORESREQLIST"), 0x1038: ("COMPANION_TARGET", "WDFCOMPANIONTARGET"),
    0x1039: ("COMPANION", "WDFCOMPANION"), 0x1040: ("TASK_QUEUE", "WDFTASKQUEUE"),
    0x1100: ("PACKAGE_IO", "WDFPACKAGE"), 0x1101: ("PACKAGE_FDO", "WDFPACKAGE"), 0x1102: ("PACKAGE_PDO", "WDFPACKAGE"),
    0x1103: ("WMI_IRP_HANDLER", "WDFPACKAGE"), 0x1104: ("PACKAGE_GENERAL", "WDFPACKAGE"),
    0x1105: ("DEFAULT_IRP_HANDLER", "WDFPACKAGE"), 0x1106: ("WMI_TRACING_IRP_HANDLER", "WDFPACKAGE"),
    0x1200: ("IO_TARGET", "WDFIOTARGET"), 0x1201: ("IO_TARGET_REMOTE", "WDFIOTARGET"),
    0x1202: ("IO_TARGET_USB_DEVICE", "WDFUSBDEVICE"), 0x1203: ("IO_TARGET_USB_PIPE", "WDFUSBPIPE"),
    0x1204: ("USB_INTERFACE", "WDFUSBINTERFACE"), 0x1205: ("IO_TARGET_SELF", "WDFIOTARGET"),
    0x1400: ("DMA_ENABLER", "WDFDMAENABLER"), 0x1401: ("DMA_TRANSACTION", "WDFDMATRANSACTION"),
    0x1402: ("COMMON_BUFFER", "WDFCOMMONBUFFER"), 0xFFFF: ("NONE", None),
}

FX_TYPE_OBJECT = 0x1000
FX_TYPE_DRIVER = 0x1001
FX_TYPE_DEVICE = 0x1002
FX_TYPE_QUEUE = 0x1003
FX_TYPE_REQUEST = 0x1008
FX_TYPE_LOOKASIDE = 0x1009
FX_TYPE_MEMORY_PREALLOCATED = 0x1022
FX_TYPE_REQUEST_MEMORY = 0x1032

# Concrete classes that make a 0x1000 (or 0x1022/0x1032) object a WDFMEMORY.
MEMORY_CLASSES = (
    "FxMemoryObject", "FxMemoryBuffer", "FxMemoryBufferFromPool", "FxMemoryPagedBufferFromPool",
    "FxMemoryBufferFromLookaside", "FxMemoryBufferFromPoolLookaside", "FxMemoryPagedBufferFromPoolLookaside",
    "FxMemoryBufferPreallocated", "FxRequestMemory",
)
LOOKASIDE_CLASSES = ("FxLookasideList", "FxNPagedLookasideList", "FxNPagedLookasideListFromPool",
                     "FxPagedLookasideListFromPool")

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
    WDFMEMORY for 0x1000 objects); None when the code is unknown."""
    if cls in MEMORY_CLASSES:
        return "WDFMEMORY"
    if cls in LOOKASIDE_CLASSES:
        return "WDFLOOKASIDE"
    t = FX_TYPES.get(code)
    return t[1] if t else None


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


def is_known_type(code):
    return code in FX_TYPES and code != 0xFFFF
