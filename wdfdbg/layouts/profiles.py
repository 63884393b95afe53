"""Built-in layout profiles: KMDF and kernel types as ISF, from the fact
sheet (``shared/reference/kmdf.md``) when no symbols are available.

Each profile is a pair of ISF documents (``Wdf01000`` and ``nt``) built in
code. x64 tables are PDB-derived; the x86 profile is computed from the
source with an 8-byte MxLock and is marked unverified, as is arm64 (the x64
LLP64 layout, unverified).

Type names follow the debugger (``FxObject``, ``_FX_DRIVER_GLOBALS``,
``_MDL``); C++ classes are flattened with ``__vfptr`` at 0.
"""

import copy

ISF_FORMAT = "6.2.0"


# -- ISF type constructors -------------------------------------------------
def B(name):
    return {"kind": "base", "name": name}


U8, I8, U16, I16, U32, I32, U64, I64 = (B("unsigned char"), B("char"), B("unsigned short"), B("short"),
                                        B("unsigned long"), B("long"), B("unsigned long long"), B("long long"))
CHAR = B("char")
BOOLEAN = U8
VOID = B("void")


def P(sub=None):
    return {"kind": "pointer", "subtype": sub if sub is not None else VOID}


def S(name):
    return {"kind": "struct", "name": name}


def C(name):
    return {"kind": "class", "name": name}


def U(name):
    return {"kind": "union", "name": name}


def A(count, sub):
    return {"kind": "array", "count": count, "subtype": sub}


def E(name):
    return {"kind": "enum", "name": name}


def T(size, fields, kind="struct"):
    return {"kind": kind, "size": size,
            "fields": {n: {"offset": o, "type": t} for n, (o, t) in fields.items()}}


BASE_TYPES = {
    "char": {"kind": "char", "size": 1, "signed": True, "endian": "little"},
    "unsigned char": {"kind": "int", "size": 1, "signed": False, "endian": "little"},
    "short": {"kind": "int", "size": 2, "signed": True, "endian": "little"},
    "unsigned short": {"kind": "int", "size": 2, "signed": False, "endian": "little"},
    "long": {"kind": "int", "size": 4, "signed": True, "endian": "little"},
    "unsigned long": {"kind": "int", "size": 4, "signed": False, "endian": "little"},
    "long long": {"kind": "int", "size": 8, "signed": True, "endian": "little"},
    "unsigned long long": {"kind": "int", "size": 8, "signed": False, "endian": "little"},
    "void": {"kind": "void", "size": 0, "signed": False, "endian": "little"},
    "pointer": {"kind": "int", "size": 8, "signed": False, "endian": "little"},
}


def _base_types(ptr):
    bt = copy.deepcopy(BASE_TYPES)
    bt["pointer"]["size"] = ptr
    return bt


# -- kernel types ----------------------------------------------------------
def nt_types(ptr):
    """Public kernel types (kmdf.md §5, §7), x64 or x86 by pointer size."""
    x64 = ptr == 8
    ut = {}
    ut["_LIST_ENTRY"] = T(2 * ptr, {"Flink": (0, P(S("_LIST_ENTRY"))), "Blink": (ptr, P(S("_LIST_ENTRY")))})
    ut["_SINGLE_LIST_ENTRY"] = T(ptr, {"Next": (0, P(S("_SINGLE_LIST_ENTRY")))})
    if x64:
        ut["_SLIST_HEADER"] = T(16, {"Alignment": (0, U64), "Region": (8, U64)}, kind="union")
    else:
        ut["_SLIST_HEADER"] = T(8, {"Next": (0, P(S("_SINGLE_LIST_ENTRY"))), "Depth": (4, U16),
                                    "CpuId": (6, U16)}, kind="union")
    o = (lambda a, b: a if x64 else b)
    gl = {
        "ListHead": (0, U("_SLIST_HEADER")), "Depth": (o(0x10, 0x8), U16), "MaximumDepth": (o(0x12, 0xA), U16),
        "TotalAllocates": (o(0x14, 0xC), U32), "AllocateMisses": (o(0x18, 0x10), U32),
        "TotalFrees": (o(0x1C, 0x14), U32), "FreeMisses": (o(0x20, 0x18), U32),
        "Type": (o(0x24, 0x1C), E("_POOL_TYPE")), "Tag": (o(0x28, 0x20), U32), "Size": (o(0x2C, 0x24), U32),
        "AllocateEx": (o(0x30, 0x28), P()), "FreeEx": (o(0x38, 0x2C), P()),
        "ListEntry": (o(0x40, 0x30), S("_LIST_ENTRY")), "LastTotalAllocates": (o(0x50, 0x38), U32),
        "LastAllocateMisses": (o(0x54, 0x3C), U32), "Future": (o(0x58, 0x40), A(2, U32)),
    }
    ut["_GENERAL_LOOKASIDE"] = T(o(0x80, 0x80), gl)
    ut["_GENERAL_LOOKASIDE_POOL"] = T(o(0x60, 0x48), gl)
    ut["_NPAGED_LOOKASIDE_LIST"] = T(o(0x80, 0x80), {"L": (0, S("_GENERAL_LOOKASIDE"))})
    ut["_PAGED_LOOKASIDE_LIST"] = T(o(0x80, 0x80), {"L": (0, S("_GENERAL_LOOKASIDE"))})
    ut["_MDL"] = T(o(0x30, 0x1C), {
        "Next": (0, P(S("_MDL"))), "Size": (o(8, 4), I16), "MdlFlags": (o(0xA, 6), I16),
        "Process": (o(0x10, 8), P()), "MappedSystemVa": (o(0x18, 0xC), P()), "StartVa": (o(0x20, 0x10), P()),
        "ByteCount": (o(0x28, 0x14), U32), "ByteOffset": (o(0x2C, 0x18), U32)})
    ut["_IRP"] = T(o(0xD0, 0x70), {
        "Type": (0, I16), "Size": (2, U16), "MdlAddress": (o(8, 4), P(S("_MDL"))),
        "AssociatedIrp": (o(0x18, 0xC), P()),
        "UserBuffer": (o(0x70, 0x3C), P()), "CurrentStackLocation": (o(0xB8, 0x60), P(S("_IO_STACK_LOCATION")))})
    ut["_IO_STACK_LOCATION"] = T(o(0x48, 0x24), {
        "MajorFunction": (0, U8), "MinorFunction": (1, U8), "Flags": (2, U8), "Control": (3, U8),
        "Parameters": (o(8, 4), A(o(0x20, 0x10), U8)),
        "ReadWriteLength": (o(8, 4), U32), "OutputBufferLength": (o(8, 4), U32),
        "InputBufferLength": (o(0x10, 8), U32), "IoControlCode": (o(0x18, 0xC), U32)})
    ut["_POOL_HEADER"] = T(o(0x10, 8), {"Ulong1": (0, U32), "PoolTag": (4, U32)})
    enums = {"_POOL_TYPE": {"size": 4, "base": "long", "constants": {
        "NonPagedPool": 0, "PagedPool": 1, "NonPagedPoolMustSucceed": 2, "DontUseThisType": 3,
        "NonPagedPoolCacheAligned": 4, "PagedPoolCacheAligned": 5, "NonPagedPoolCacheAlignedMustS": 6,
        "MaxPoolType": 7, "NonPagedPoolNx": 512}}}
    return ut, enums


# -- KMDF types ------------------------------------------------------------
def _fxobject_fields(x64):
    if x64:
        return {
            "__vfptr": (0, P()), "m_Type": (8, U16), "m_ObjectSize": (0xA, U16), "m_Refcnt": (0xC, I32),
            "m_Globals": (0x10, P(S("_FX_DRIVER_GLOBALS"))), "m_ObjectFlags": (0x18, U16),
            "m_ObjectState": (0x1A, U16), "m_ChildListHead": (0x20, S("_LIST_ENTRY")),
            "m_SpinLock": (0x30, C("MxLock")), "m_ParentObject": (0x40, P(C("FxObject"))),
            "m_ChildEntry": (0x48, S("_LIST_ENTRY")), "m_DisposeSingleEntry": (0x58, S("_SINGLE_LIST_ENTRY")),
            "m_DeviceBase": (0x60, P()),
        }
    return {
        "__vfptr": (0, P()), "m_Type": (4, U16), "m_ObjectSize": (6, U16), "m_Refcnt": (8, I32),
        "m_Globals": (0xC, P(S("_FX_DRIVER_GLOBALS"))), "m_ObjectFlags": (0x10, U16),
        "m_ObjectState": (0x12, U16), "m_ChildListHead": (0x14, S("_LIST_ENTRY")),
        "m_SpinLock": (0x1C, C("MxLock")), "m_ParentObject": (0x24, P(C("FxObject"))),
        "m_ChildEntry": (0x28, S("_LIST_ENTRY")), "m_DisposeSingleEntry": (0x30, S("_SINGLE_LIST_ENTRY")),
        "m_DeviceBase": (0x34, P()),
    }


def _derive(base, size, extra, kind="class"):
    f = dict(base)
    f.update(extra)
    return T(size, f, kind=kind)


# FX_DRIVER_GLOBALS per build (kmdf.md §9): field -> offset
GLOBALS_X64 = {
    "1607": {"WdfHandleMask": 0x38, "Tag": 0x44, "Driver": 0x48, "DebugExtension": 0x50, "LibraryGlobals": 0x58,
             "WdfLogHeader": 0x60, "FxPoolTrackingOn": 0x108, "WdfBindInfo": 0x128, "ImageAddress": 0x130,
             "ImageSize": 0x138, "FxVerifierOn": 0x13C, "Public": 0x1A0},
    "19041": {"WdfHandleMask": 0x38, "Tag": 0x44, "Driver": 0x48, "DebugExtension": 0x50, "LibraryGlobals": 0x58,
              "WdfLogHeader": 0x60, "FxPoolTrackingOn": 0x108, "WdfBindInfo": 0x128, "ImageAddress": 0x130,
              "ImageSize": 0x138, "FxVerifierOn": 0x13C, "Public": 0x1B0},
    "win11": {"WdfHandleMask": 0x38, "Tag": 0x44, "DriverObject": 0x48, "Driver": 0x50, "DebugExtension": 0x58,
              "LibraryGlobals": 0x60, "WdfLogHeader": 0x68, "FxPoolTrackingOn": 0x110, "WdfBindInfo": 0x130,
              "ImageAddress": 0x138, "ImageSize": 0x140, "FxVerifierOn": 0x144, "Public": 0x1C0},
}
# x86: computed from the source (kmdf-source-notes.md), unverified.
GLOBALS_X86 = {"WdfHandleMask": 0x20, "Tag": 0x24, "Driver": 0x2C, "DebugExtension": 0x30, "LibraryGlobals": 0x34,
               "WdfLogHeader": 0x38, "FxPoolTrackingOn": 0x90, "WdfBindInfo": 0x9C, "ImageAddress": 0xA0,
               "ImageSize": 0xA4, "FxVerifierOn": 0xA8, "Public": 0xF0}
LIBRARY_GLOBALS_X64 = {"1607": {"FxDriverGlobalsList": 0x1D8, "BugCheckDriverInfoIndex": 0x1E8, "BugCheckDriverInfo": 0x1F0},
                       "19041": {"FxDriverGlobalsList": 0x1E0, "BugCheckDriverInfoIndex": 0x1F0, "BugCheckDriverInfo": 0x1F8},
                       "win11": {"FxDriverGlobalsList": 0x1E0, "BugCheckDriverInfoIndex": 0x1F0, "BugCheckDriverInfo": 0x1F8}}
LIBRARY_GLOBALS_X86 = {"FxDriverGlobalsList": 0xC0, "BugCheckDriverInfoIndex": 0xC8, "BugCheckDriverInfo": 0xCC}

_GLOBALS_TYPES = {"WdfHandleMask": None, "Tag": U32, "DriverObject": None, "Driver": P(C("FxDriver")),
                  "DebugExtension": P(S("FxDriverGlobalsDebugExtension")), "LibraryGlobals": P(S("FxLibraryGlobalsType")),
                  "WdfLogHeader": P(), "FxPoolTrackingOn": BOOLEAN, "WdfBindInfo": P(), "ImageAddress": P(),
                  "ImageSize": U32, "FxVerifierOn": BOOLEAN, "Public": S("_WDF_DRIVER_GLOBALS")}


def wdf_types(ptr, build):
    """Wdf01000 types for ``build`` ("1607", "19041", "win11", "x86")."""
    x64 = ptr == 8
    o = (lambda a, b: a if x64 else b)
    ut = {}
    obj = _fxobject_fields(x64)
    fxsize = o(0x68, 0x38)
    ut["MxLock"] = T(o(0x10, 8), {"m_DbgFlagIsInitialized": (0, BOOLEAN), "m_Lock": (o(8, 4), U64 if x64 else U32)}, kind="class")
    ut["FxObject"] = T(fxsize, obj, kind="class")
    ut["FX_POOL_HEADER"] = T(o(0x10, 8) + o(0x10, 8), {"Base": (0, P()), "FxDriverGlobals": (ptr, P(S("_FX_DRIVER_GLOBALS"))),
                                                          "AllocationStart": (2 * ptr, A(1, U8))})
    ut["FX_POOL_HEADER"]["size"] = o(0x20, 0x10)
    # 1607 x64 packs Signature right after StateHistoryIndex (0x1C) and
    # starts the object at 0x20; 2004 and later put ObjectCounted at 0x1C,
    # Signature at 0x20 and the object at 0x30 (kmdf.md §4, [pdb])
    sig, start = (0x1C, 0x20) if (x64 and build == "1607") else (o(0x20, 0x18), o(0x30, 0x20))
    ut["FxObjectDebugExtension"] = T(o(0x30, 0x20), {"TagTracker": (0, P()), "VerifierLock": (ptr, P()),
                                                     "Signature": (sig, U32),
                                                     "AllocationStart": (start, A(1, U8))})
    ut["FxContextHeader"] = T(o(0x40, 0x20), {
        "Object": (0, P(C("FxObject"))), "NextHeader": (ptr, P(S("FxContextHeader"))),
        "EvtCleanupCallback": (2 * ptr, P()), "EvtDestroyCallback": (3 * ptr, P()),
        "ContextTypeInfo": (4 * ptr, P(S("_WDF_OBJECT_CONTEXT_TYPE_INFO"))), "Context": (o(0x30, 0x18), A(1, U64 if x64 else U32))})
    ut["_WDF_OBJECT_CONTEXT_TYPE_INFO"] = T(5 * ptr, {
        "Size": (0, U32), "ContextName": (ptr, P(CHAR)), "ContextSize": (2 * ptr, U64 if x64 else U32),
        "UniqueType": (3 * ptr, P()), "EvtDriverGetUniqueContextType": (4 * ptr, P())})
    # memory classes (kmdf.md §5)
    ifx = o(0x68, 0x38)
    mem = dict(obj)
    mem.update({"__vfptr_IFxMemory": (ifx, P()), "m_BufferSize": (ifx + ptr, U64 if x64 else U32)})
    msize = ifx + 2 * ptr
    ut["FxMemoryObject"] = T(msize, mem, kind="class")
    ut["FxMemoryBuffer"] = T(msize, mem, kind="class")
    ut["FxMemoryBufferFromPool"] = _derive(mem, msize + ptr, {"m_Pool": (msize, P())})
    ut["FxMemoryPagedBufferFromPool"] = _derive(mem, msize + ptr, {"m_Pool": (msize, P())})
    ut["FxMemoryBufferFromLookaside"] = _derive(mem, msize + ptr, {"m_pLookaside": (msize, P(C("FxLookasideList")))})
    fpl = {"m_pLookaside": (msize, P(C("FxLookasideList"))), "m_Pool": (msize + ptr, P())}
    ut["FxMemoryBufferFromPoolLookaside"] = _derive(mem, msize + 2 * ptr, fpl)
    ut["FxMemoryPagedBufferFromPoolLookaside"] = _derive(mem, msize + 2 * ptr, fpl)
    ut["FxMemoryBufferPreallocated"] = _derive(mem, msize + ptr, {"m_pBuffer": (msize, P())})
    ut["FxRequestMemory"] = _derive(mem, o(0x98, 0x54), {"m_pBuffer": (msize, P()), "m_Request": (msize + ptr, P(C("FxRequest"))),
                                                         "m_Mdl": (msize + 2 * ptr, P(S("_MDL"))), "m_Flags": (msize + 3 * ptr, U16)})
    # lookaside classes (kmdf.md §6; x86 unverified)
    la = dict(obj)
    la.update({"m_MemoryAttributes": (o(0x68, 0x38), A(o(0x38, 0x20), U8)), "m_BufferSize": (o(0xA0, 0x58), U64 if x64 else U32),
               "m_MemoryObjectSize": (o(0xA8, 0x5C), U64 if x64 else U32), "m_PoolTag": (o(0xB0, 0x60), U32)})
    ut["FxLookasideList"] = T(o(0xB8, 0x64), la, kind="class")
    ut["FxNPagedLookasideList"] = _derive(la, o(0x140, 0x100), {"m_ObjectLookaside": (o(0xC0, 0x80), S("_NPAGED_LOOKASIDE_LIST"))})
    ut["FxNPagedLookasideListFromPool"] = _derive(la, o(0x1C0, 0x180), {
        "m_ObjectLookaside": (o(0xC0, 0x80), S("_NPAGED_LOOKASIDE_LIST")), "m_PoolLookaside": (o(0x140, 0x100), S("_NPAGED_LOOKASIDE_LIST"))})
    ut["FxPagedLookasideListFromPool"] = _derive(la, o(0x200, 0x180), {
        "m_RawBufferSize": (o(0xB8, 0x64), U64 if x64 else U32), "m_MemoryDeviceBase": (o(0xC0, 0x68), P()),
        "m_ObjectLookaside": (o(0x100, 0x80), S("_NPAGED_LOOKASIDE_LIST")), "m_PoolLookaside": (o(0x180, 0x100), S("_PAGED_LOOKASIDE_LIST"))})
    # requests (kmdf.md §5, request buffers); x86 unverified
    ut["FxRequestSystemBuffer"] = T(2 * ptr, {"__vfptr": (0, P()), "m_Buffer": (ptr, P()), "m_Mdl": (ptr, P(S("_MDL")))})
    ut["FxRequestOutputBuffer"] = T(2 * ptr, {"__vfptr": (0, P()), "m_Buffer": (ptr, P()), "m_Mdl": (ptr, P(S("_MDL")))})
    req = dict(obj)
    if x64:
        req.update({"m_Irp": (0x98, P(S("_IRP"))), "m_Completed": (0xD6, BOOLEAN), "m_SystemBufferOffset": (0xD8, U16),
                    "m_IrpReferenceCount": (0xDC, I32), "m_OutputBufferOffset": (0xE8, U16), "m_IoQueue": (0xF8, P()),
                    "m_SystemBuffer": (0x100, S("FxRequestSystemBuffer")), "m_OutputBuffer": (0x110, S("FxRequestOutputBuffer")),
                    "m_Presented": (0x160, BOOLEAN)})
        ut["FxRequest"] = T(0x168, req, kind="class")
    else:
        req.update({"m_Irp": (0x50, P(S("_IRP"))), "m_Completed": (0x6E, BOOLEAN), "m_SystemBufferOffset": (0x70, U16),
                    "m_IrpReferenceCount": (0x74, I32), "m_OutputBufferOffset": (0x78, U16), "m_IoQueue": (0x80, P()),
                    "m_SystemBuffer": (0x84, S("FxRequestSystemBuffer")), "m_OutputBuffer": (0x8C, S("FxRequestOutputBuffer")),
                    "m_Presented": (0xAC, BOOLEAN)})
        ut["FxRequest"] = T(0xB0, req, kind="class")
    # driver globals (kmdf.md §9)
    gl = GLOBALS_X64[build] if x64 else GLOBALS_X86
    gf = {"Linkage": (0, S("_LIST_ENTRY"))}
    for name, off in gl.items():
        t = _GLOBALS_TYPES[name]
        if t is None:
            t = U64 if (x64 and name == "WdfHandleMask") else (U32 if name == "WdfHandleMask" else P())
        gf[name] = (off, t)
    pub_size = o(0x38, 0x34)
    ut["_FX_DRIVER_GLOBALS"] = T((gl["Public"] + pub_size + 15) & ~15, gf)
    ut["_WDF_DRIVER_GLOBALS"] = T(pub_size, {"Driver": (0, P()), "DriverFlags": (ptr, U32), "DriverTag": (ptr + 4, U32),
                                             "DriverName": (ptr + 8, A(32, CHAR)), "DisplaceDriverUnload": (ptr + 40, BOOLEAN)})
    lg = LIBRARY_GLOBALS_X64[build] if x64 else LIBRARY_GLOBALS_X86
    ut["FxLibraryGlobalsType"] = T(lg["BugCheckDriverInfo"] + ptr, {
        "FxDriverGlobalsList": (lg["FxDriverGlobalsList"], S("_LIST_ENTRY")),
        "BugCheckDriverInfoIndex": (lg["BugCheckDriverInfoIndex"], U32),
        "BugCheckDriverInfo": (lg["BugCheckDriverInfo"], P(S("_FX_DUMP_DRIVER_INFO_ENTRY")))})
    ut["_FX_DUMP_DRIVER_INFO_ENTRY"] = T(o(0x38, 0x34), {"FxDriverGlobals": (0, P(S("_FX_DRIVER_GLOBALS"))),
                                                         "Version": (ptr, A(3, U32)), "DriverName": (ptr + 12, A(32, CHAR))})
    ut["FxMdlDebugInfo"] = T(3 * ptr, {"Mdl": (0, P(S("_MDL"))), "Owner": (ptr, P(C("FxObject"))), "Caller": (2 * ptr, P())})
    ut["FxAllocatedMdls"] = T(o(0x190, 0xC8), {"Info": (0, A(16, S("FxMdlDebugInfo"))), "Count": (o(0x180, 0xC0), U32),
                                               "Next": (o(0x188, 0xC4), P(S("FxAllocatedMdls")))})
    ut["FxDriverGlobalsDebugExtension"] = T(o(0x1C0, 0xE0), {"ObjectDebugInfo": (0, P()),
                                                             "AllocatedMdls": (ptr, S("FxAllocatedMdls"))})
    # public WDF structs (kmdf.md §8)
    ut["_WDF_MEMORY_DESCRIPTOR"] = T(o(0x18, 0xC), {"Type": (0, E("_WDF_MEMORY_DESCRIPTOR_TYPE")),
                                                    "u": (ptr, A(2 * ptr, U8)),
                                                    "BufferBuffer": (ptr, P()), "BufferLength": (2 * ptr, U32),
                                                    "MdlMdl": (ptr, P(S("_MDL"))), "MdlBufferLength": (2 * ptr, U32),
                                                    "HandleMemory": (ptr, P()), "HandleOffsets": (2 * ptr, P(S("_WDFMEMORY_OFFSET")))})
    ut["_WDFMEMORY_OFFSET"] = T(2 * ptr, {"BufferOffset": (0, U64 if x64 else U32), "BufferLength": (ptr, U64 if x64 else U32)})
    # kernel types used by the classes above are part of this module's ISF too
    nt_ut, nt_enums = nt_types(ptr)
    for name in ("_LIST_ENTRY", "_SINGLE_LIST_ENTRY", "_SLIST_HEADER", "_GENERAL_LOOKASIDE", "_NPAGED_LOOKASIDE_LIST",
                 "_PAGED_LOOKASIDE_LIST", "_MDL", "_IRP", "_IO_STACK_LOCATION"):
        ut[name] = copy.deepcopy(nt_ut[name])
    enums = dict(nt_enums)
    enums["_WDF_MEMORY_DESCRIPTOR_TYPE"] = {"size": 4, "base": "long", "constants": {
        "WdfMemoryDescriptorTypeInvalid": 0, "WdfMemoryDescriptorTypeBuffer": 1,
        "WdfMemoryDescriptorTypeMdl": 2, "WdfMemoryDescriptorTypeHandle": 3}}
    return ut, enums


def isf_document(user_types, enums, ptr, producer="wdfdbg-profile"):
    from wdfdbg import __version__
    return {
        "metadata": {"format": ISF_FORMAT, "producer": {"name": producer, "version": __version__}},
        "base_types": _base_types(ptr),
        "user_types": user_types,
        "enums": enums,
        "symbols": {},
    }


class Profile(object):
    """A named built-in profile: ISF documents for Wdf01000 and nt."""

    def __init__(self, name, arch, build_key, builds, verified, note, derived_from=()):
        self.name = name
        self.arch = arch
        self.build_key = build_key
        self.builds = builds  # (low, high) OS build range it is chosen for
        self.verified = verified
        self.note = note
        # the OS builds whose PDBs and dumps the layout was read from (kmdf.md)
        self.derived_from = tuple(derived_from)
        self._docs = None

    def fit_note(self, os_build):
        """None when this profile's layout was derived from ``os_build`` (or
        the build is unknown); else a sentence saying which build it was
        derived from and that it is unverified for this one."""
        if os_build is None or os_build in self.derived_from:
            return None
        if not self.derived_from:
            return self.note
        return "derived from build %s, unverified for build %d" % (
            " to ".join(str(b) for b in sorted(set((self.derived_from[0], self.derived_from[-1])))), os_build)

    @property
    def pointer_size(self):
        return 4 if self.arch == "x86" else 8

    def documents(self):
        if self._docs is None:
            ptr = self.pointer_size
            wut, wen = wdf_types(ptr, self.build_key)
            nut, nen = nt_types(ptr)
            self._docs = {"Wdf01000": isf_document(wut, wen, ptr), "nt": isf_document(nut, nen, ptr)}
        return self._docs

    def label(self):
        return "profile:%s%s" % (self.name, "" if self.verified else " (unverified)")


PROFILES = [
    Profile("win10-1607-x64", "x64", "1607", (14393, 18999), True, "PDB-derived, Windows 10 1607", (14393,)),
    # 2004 and 20H2 [pdb]; 21H1-22H2 (19043-19045) ship the same kernel and Wdf01000 builds of the family
    Profile("win10-19041-x64", "x64", "19041", (19000, 21999), True, "PDB-derived, Windows 10 2004/20H2 (19041 family)",
            (19041, 19042, 19043, 19044, 19045)),
    Profile("win11-x64", "x64", "win11", (22000, 10 ** 9), True, "PDB-derived, Windows 11", (22000,)),
    Profile("win11-arm64", "arm64", "win11", (22000, 10 ** 9), False, "x64 layout assumed for ARM64 (LLP64), unverified"),
    Profile("win10-19041-arm64", "arm64", "19041", (0, 21999), False, "x64 19041 layout assumed for ARM64, unverified"),
    Profile("win10-x86", "x86", "x86", (0, 10 ** 9), False, "computed from the KMDF source with an 8-byte MxLock, unverified"),
]
PROFILE_BY_NAME = dict((p.name, p) for p in PROFILES)


def choose_profile(arch, os_build=None, name=None):
    """The profile named ``name``, else the one for ``arch`` and ``os_build``
    (19041 family for x64 when the build is unknown)."""
    if name:
        p = PROFILE_BY_NAME.get(name)
        if p is None:
            from wdfdbg.errors import UsageError
            raise UsageError("unknown profile %r (known: %s)" % (name, ", ".join(sorted(PROFILE_BY_NAME))))
        return p
    cands = [p for p in PROFILES if p.arch == arch]
    if not cands:
        cands = [PROFILE_BY_NAME["win10-19041-x64"]]
    if os_build:
        for p in cands:
            if p.builds[0] <= os_build <= p.builds[1]:
                return p
    for p in cands:
        if p.build_key == "19041":
            return p
    return cands[0]
