// C++ declarations with the shapes of the KMDF classes and kernel types
// wdfdbg reads, for the Windows 10 2004 (19041) x64 build: the offsets are
// the built-in profile's (wdfdbg/layouts/profiles.py, "19041") and the
// static_asserts below hold them. Shapes as the real PDBs give them
// (shared/reference/types/2004): classes with base classes and vtables,
// multiple inheritance for the memory classes (FxObject + IFxMemory),
// anonymous unions, unions, bitfields, enums, nested and unnamed types, a
// derived class redeclaring a base member (FxSpinLock::m_SpinLock).
// Members named m_Filler* stand for real members wdfdbg does not read.
// Synthetic test input, built by build.sh into kmdf_shapes.sys/.pdb.
typedef unsigned char UCHAR, BOOLEAN;
typedef char CHAR;
typedef unsigned short USHORT;
typedef short CSHORT;
typedef unsigned long ULONG;
typedef long LONG;
typedef unsigned long long ULONGLONG, ULONG_PTR, SIZE_T;
typedef long long LONGLONG;
typedef void* PVOID;
#define OFF(T, m, v) static_assert(__builtin_offsetof(T, m) == v, #T "." #m)
#define SIZE(T, v) static_assert(sizeof(T) == v, "sizeof " #T)

// ---- kernel types (nt) ---------------------------------------------------
struct _LIST_ENTRY { _LIST_ENTRY* Flink; _LIST_ENTRY* Blink; };
struct _SINGLE_LIST_ENTRY { _SINGLE_LIST_ENTRY* Next; };
union __declspec(align(16)) _SLIST_HEADER {
    struct { ULONGLONG Alignment; ULONGLONG Region; };
    struct { ULONGLONG Depth : 16; ULONGLONG Sequence : 48; ULONGLONG Reserved : 4; ULONGLONG NextEntry : 60; } HeaderX64;
};
enum _POOL_TYPE { NonPagedPool = 0, PagedPool = 1, NonPagedPoolMustSucceed = 2, DontUseThisType = 3,
                  NonPagedPoolCacheAligned = 4, PagedPoolCacheAligned = 5, NonPagedPoolCacheAlignedMustS = 6,
                  MaxPoolType = 7, NonPagedPoolNx = 512 };
struct __declspec(align(64)) _GENERAL_LOOKASIDE {
    union { _SLIST_HEADER ListHead; _SINGLE_LIST_ENTRY SingleListHead; };
    USHORT Depth;
    USHORT MaximumDepth;
    ULONG TotalAllocates;
    union { ULONG AllocateMisses; ULONG AllocateHits; };
    ULONG TotalFrees;
    union { ULONG FreeMisses; ULONG FreeHits; };
    _POOL_TYPE Type;
    ULONG Tag;
    ULONG Size;
    union { PVOID (*AllocateEx)(_POOL_TYPE, SIZE_T, ULONG, _GENERAL_LOOKASIDE*); PVOID (*Allocate)(_POOL_TYPE, SIZE_T, ULONG); };
    union { void (*FreeEx)(PVOID, _GENERAL_LOOKASIDE*); void (*Free)(PVOID); };
    _LIST_ENTRY ListEntry;
    ULONG LastTotalAllocates;
    union { ULONG LastAllocateMisses; ULONG LastAllocateHits; };
    ULONG Future[2];
};
struct __declspec(align(64)) _NPAGED_LOOKASIDE_LIST { _GENERAL_LOOKASIDE L; };
struct __declspec(align(64)) _PAGED_LOOKASIDE_LIST { _GENERAL_LOOKASIDE L; };
struct _EPROCESS;
struct _MDL {
    _MDL* Next; CSHORT Size; CSHORT MdlFlags; USHORT AllocationProcessorNumber; USHORT Reserved;
    _EPROCESS* Process; PVOID MappedSystemVa; PVOID StartVa; ULONG ByteCount; ULONG ByteOffset;
};
struct _IO_STATUS_BLOCK { union { LONG Status; PVOID Pointer; }; ULONG_PTR Information; };
struct _IO_STACK_LOCATION;
struct _IRP {
    CSHORT Type; USHORT Size; USHORT AllocationProcessorNumber; USHORT Reserved;
    _MDL* MdlAddress;
    ULONG Flags;
    union { _IRP* MasterIrp; LONG IrpCount; PVOID SystemBuffer; } AssociatedIrp;
    _LIST_ENTRY ThreadListEntry;
    _IO_STATUS_BLOCK IoStatus;
    CHAR RequestorMode; UCHAR PendingReturned; CHAR StackCount; CHAR CurrentLocation;
    UCHAR Cancel; UCHAR CancelIrql; CHAR ApcEnvironment; UCHAR AllocationFlags;
    _IO_STATUS_BLOCK* UserIosb;
    PVOID UserEvent;
    union { struct { PVOID UserApcRoutine; PVOID UserApcContext; } AsynchronousParameters; LONGLONG AllocationSize; } Overlay;
    PVOID CancelRoutine;
    PVOID UserBuffer;
    union {
        struct {
            union { struct { PVOID DriverContext[4]; }; UCHAR DeviceQueueEntry[0x18]; };
            PVOID Thread;
            CHAR* AuxiliaryBuffer;
            struct {
                _LIST_ENTRY ListEntry;
                union { _IO_STACK_LOCATION* CurrentStackLocation; ULONG PacketType; };
            };
            PVOID OriginalFileObject;
            PVOID IrpExtension;
        } Overlay;
        PVOID CompletionKey;
    } Tail;
};
struct _IO_STACK_LOCATION {
    UCHAR MajorFunction; UCHAR MinorFunction; UCHAR Flags; UCHAR Control;
    union {
        struct { ULONG Length; __declspec(align(8)) ULONG Key; LONGLONG ByteOffset; } Read;
        struct { ULONG Length; __declspec(align(8)) ULONG Key; LONGLONG ByteOffset; } Write;
        struct { ULONG OutputBufferLength; __declspec(align(8)) ULONG InputBufferLength;
                 __declspec(align(8)) ULONG IoControlCode; PVOID Type3InputBuffer; } DeviceIoControl;
        struct { PVOID Argument1; PVOID Argument2; PVOID Argument3; PVOID Argument4; } Others;
    } Parameters;
    PVOID DeviceObject; PVOID FileObject; PVOID CompletionRoutine; PVOID Context;
};
struct _POOL_HEADER { union { struct { USHORT PreviousSize : 8; USHORT PoolIndex : 8; USHORT BlockSize : 8; USHORT PoolType : 8; }; ULONG Ulong1; };
                      ULONG PoolTag; union { _EPROCESS* ProcessBilled; struct { USHORT AllocatorBackTraceIndex; USHORT PoolTagHash; }; }; };

OFF(_GENERAL_LOOKASIDE, Type, 0x24); OFF(_GENERAL_LOOKASIDE, ListEntry, 0x40); OFF(_GENERAL_LOOKASIDE, Future, 0x58);
SIZE(_GENERAL_LOOKASIDE, 0x80); SIZE(_NPAGED_LOOKASIDE_LIST, 0x80); SIZE(_MDL, 0x30);
OFF(_IRP, AssociatedIrp, 0x18); OFF(_IRP, UserBuffer, 0x70); OFF(_IRP, Tail.Overlay.CurrentStackLocation, 0xB8); SIZE(_IRP, 0xD0);
OFF(_IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength, 0x10);
OFF(_IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode, 0x18); SIZE(_IO_STACK_LOCATION, 0x48);
SIZE(_POOL_HEADER, 0x10);

// ---- public WDF structs --------------------------------------------------
enum _WDF_MEMORY_DESCRIPTOR_TYPE { WdfMemoryDescriptorTypeInvalid = 0, WdfMemoryDescriptorTypeBuffer,
                                   WdfMemoryDescriptorTypeMdl, WdfMemoryDescriptorTypeHandle };
enum _WDF_EXECUTION_LEVEL { WdfExecutionLevelInvalid = 0, WdfExecutionLevelInheritFromParent, WdfExecutionLevelPassive,
                            WdfExecutionLevelDispatch };
enum _WDF_SYNCHRONIZATION_SCOPE { WdfSynchronizationScopeInvalid = 0, WdfSynchronizationScopeInheritFromParent,
                                  WdfSynchronizationScopeDevice, WdfSynchronizationScopeQueue, WdfSynchronizationScopeNone };
struct _WDFMEMORY_OFFSET { SIZE_T BufferOffset; SIZE_T BufferLength; };
struct _WDF_MEMORY_DESCRIPTOR {
    _WDF_MEMORY_DESCRIPTOR_TYPE Type;
    union {
        struct { PVOID Buffer; ULONG Length; } BufferType;
        struct { _MDL* Mdl; ULONG BufferLength; } MdlType;
        struct { PVOID Memory; _WDFMEMORY_OFFSET* Offsets; } HandleType;
    } u;
};
struct _WDF_OBJECT_CONTEXT_TYPE_INFO { ULONG Size; const CHAR* ContextName; SIZE_T ContextSize;
                                      const _WDF_OBJECT_CONTEXT_TYPE_INFO* UniqueType; PVOID EvtDriverGetUniqueContextType; };
struct _WDF_OBJECT_ATTRIBUTES {
    ULONG Size; PVOID EvtCleanupCallback; PVOID EvtDestroyCallback;
    _WDF_EXECUTION_LEVEL ExecutionLevel; _WDF_SYNCHRONIZATION_SCOPE SynchronizationScope;
    PVOID ParentObject; SIZE_T ContextSizeOverride; const _WDF_OBJECT_CONTEXT_TYPE_INFO* ContextTypeInfo;
};
struct _WDF_DRIVER_GLOBALS { PVOID Driver; ULONG DriverFlags; ULONG DriverTag; CHAR DriverName[32]; BOOLEAN DisplaceDriverUnload; };
struct _WDF_VERSION { ULONG Major; ULONG Minor; ULONG Build; };
SIZE(_WDF_MEMORY_DESCRIPTOR, 0x18); SIZE(_WDF_OBJECT_ATTRIBUTES, 0x38); SIZE(_WDF_DRIVER_GLOBALS, 0x38);

// ---- the framework's own types --------------------------------------------
struct _FX_DRIVER_GLOBALS;
struct _FX_DUMP_DRIVER_INFO_ENTRY { _FX_DRIVER_GLOBALS* FxDriverGlobals; _WDF_VERSION Version; CHAR DriverName[32]; };
class MxLock { public: BOOLEAN m_DbgFlagIsInitialized; ULONG_PTR m_Lock; };
class FxDeviceBase;
class FxDevice;

class FxObject {
public:
    virtual ~FxObject();
    virtual void DeleteObject();
    virtual BOOLEAN Dispose();
    USHORT m_Type;
    USHORT m_ObjectSize;
    LONG m_Refcnt;
    _FX_DRIVER_GLOBALS* m_Globals;
    union {
        USHORT m_ObjectFlags;
        struct {
            USHORT IsPassiveDisposeState : 1; USHORT IsPassiveCallbacksState : 1; USHORT ForceDisposeThread : 1;
            USHORT IsCommitted : 1; USHORT DeleteCalled : 1; USHORT HasDebug : 1; USHORT UnusedFlag : 10;
        } m_ObjectFlagsByName;
    };
    USHORT m_ObjectState;
    _LIST_ENTRY m_ChildListHead;
    MxLock m_SpinLock;
    FxObject* m_ParentObject;
    _LIST_ENTRY m_ChildEntry;
    _SINGLE_LIST_ENTRY m_DisposeSingleEntry;
    union { FxDeviceBase* m_DeviceBase; FxDevice* m_Device; };
};
OFF(FxObject, m_ObjectFlags, 0x18); OFF(FxObject, m_ChildListHead, 0x20); OFF(FxObject, m_SpinLock, 0x30);
OFF(FxObject, m_DeviceBase, 0x60); SIZE(FxObject, 0x68);

class FxNonPagedObject : public FxObject { public: BOOLEAN Dispose() override; };
class FxSpinLock : public FxNonPagedObject { public: ~FxSpinLock() override; MxLock m_SpinLock; UCHAR m_Irql; };
class FxWaitLock : public FxObject { public: ~FxWaitLock() override; UCHAR m_Event[0x18]; PVOID m_OwningThread; };
class FxDeviceBase : public FxNonPagedObject { public: ~FxDeviceBase() override; PVOID m_DriverObject; PVOID m_DeviceObject; };
class FxDevice : public FxDeviceBase { public: ~FxDevice() override; _LIST_ENTRY m_FileObjectListHead; };
class FxDriver : public FxNonPagedObject { public: ~FxDriver() override; PVOID m_DriverObject; PVOID m_DriverUnload; };
class FxIoQueue : public FxNonPagedObject { public: ~FxIoQueue() override; _LIST_ENTRY m_Queue; ULONG m_Type; };
class FxUserObject : public FxNonPagedObject { public: ~FxUserObject() override; };

class IFxMemory {
public:
    virtual PVOID GetBuffer() = 0;
    virtual SIZE_T GetBufferSize() = 0;
};
class FxMemoryObject : public FxObject, public IFxMemory {
public:
    SIZE_T GetBufferSize() override;
    SIZE_T m_BufferSize;
};
class FxMemoryBuffer : public FxMemoryObject { public: ~FxMemoryBuffer() override; PVOID GetBuffer() override; };
class FxMemoryBufferFromPool : public FxMemoryObject { public: ~FxMemoryBufferFromPool() override; PVOID GetBuffer() override; PVOID m_Pool; };
class FxMemoryPagedBufferFromPool : public FxMemoryBufferFromPool { public: ~FxMemoryPagedBufferFromPool() override; };
class FxLookasideList;
class FxMemoryBufferFromLookaside : public FxMemoryObject { public: ~FxMemoryBufferFromLookaside() override; PVOID GetBuffer() override; FxLookasideList* m_pLookaside; };
class FxMemoryBufferFromPoolLookaside : public FxMemoryBufferFromLookaside { public: ~FxMemoryBufferFromPoolLookaside() override; PVOID m_Pool; };
class FxMemoryPagedBufferFromPoolLookaside : public FxMemoryBufferFromPoolLookaside { public: ~FxMemoryPagedBufferFromPoolLookaside() override; };
class FxMemoryBufferPreallocated : public FxMemoryObject { public: ~FxMemoryBufferPreallocated() override; PVOID GetBuffer() override; PVOID m_pBuffer; };
class FxRequest;
class FxRequestMemory : public FxMemoryBufferPreallocated { public: ~FxRequestMemory() override; FxRequest* m_Request; _MDL* m_Mdl; USHORT m_Flags; };
OFF(FxMemoryBuffer, m_BufferSize, 0x70); SIZE(FxMemoryBuffer, 0x78); SIZE(FxMemoryBufferFromPool, 0x80);
OFF(FxMemoryBufferFromPoolLookaside, m_Pool, 0x80); SIZE(FxMemoryBufferFromPoolLookaside, 0x88);
OFF(FxRequestMemory, m_Request, 0x80); OFF(FxRequestMemory, m_Flags, 0x90); SIZE(FxRequestMemory, 0x98);
OFF(FxSpinLock, m_SpinLock, 0x68);

class FxLookasideList : public FxObject {
public:
    ~FxLookasideList() override;
    _WDF_OBJECT_ATTRIBUTES m_MemoryAttributes;
    SIZE_T m_BufferSize;
    SIZE_T m_MemoryObjectSize;
    ULONG m_PoolTag;
};
class FxNPagedLookasideList : public FxLookasideList { public: ~FxNPagedLookasideList() override; _NPAGED_LOOKASIDE_LIST m_ObjectLookaside; };
class FxNPagedLookasideListFromPool : public FxLookasideList {
public: ~FxNPagedLookasideListFromPool() override; _NPAGED_LOOKASIDE_LIST m_ObjectLookaside; _NPAGED_LOOKASIDE_LIST m_PoolLookaside; };
class FxPagedLookasideListFromPool : public FxLookasideList {
public:
    ~FxPagedLookasideListFromPool() override;
    SIZE_T m_RawBufferSize; FxDeviceBase* m_MemoryDeviceBase;
    _NPAGED_LOOKASIDE_LIST m_ObjectLookaside; _PAGED_LOOKASIDE_LIST m_PoolLookaside;
};
OFF(FxLookasideList, m_BufferSize, 0xA0); OFF(FxLookasideList, m_PoolTag, 0xB0); SIZE(FxLookasideList, 0xB8);
OFF(FxNPagedLookasideList, m_ObjectLookaside, 0xC0); SIZE(FxNPagedLookasideList, 0x140);
OFF(FxNPagedLookasideListFromPool, m_PoolLookaside, 0x140); SIZE(FxNPagedLookasideListFromPool, 0x1C0);
OFF(FxPagedLookasideListFromPool, m_MemoryDeviceBase, 0xC0); OFF(FxPagedLookasideListFromPool, m_ObjectLookaside, 0x100);
OFF(FxPagedLookasideListFromPool, m_PoolLookaside, 0x180); SIZE(FxPagedLookasideListFromPool, 0x200);

class FxIrp { public: _IRP* m_Irp; };
class FxRequestBuffer : public IFxMemory { public: union { PVOID m_Buffer; _MDL* m_Mdl; }; };
class FxRequestSystemBuffer : public FxRequestBuffer { public: PVOID GetBuffer() override; SIZE_T GetBufferSize() override; };
class FxRequestOutputBuffer : public FxRequestBuffer { public: PVOID GetBuffer() override; SIZE_T GetBufferSize() override; };
class FxRequestBase : public FxNonPagedObject {
public:
    ~FxRequestBase() override;
    UCHAR m_FillerRequestBase[0x98 - 0x68];
    FxIrp m_Irp;
    UCHAR m_FillerIrp[0xD6 - 0xA0];
    BOOLEAN m_Completed;
    USHORT m_SystemBufferOffset;
    LONG m_IrpReferenceCount;
    UCHAR m_FillerReference[0xE8 - 0xE0];
    USHORT m_OutputBufferOffset;
    UCHAR m_FillerOutputOffset[0xF8 - 0xEA];
};
class FxRequest : public FxRequestBase {
public:
    ~FxRequest() override;
    FxIoQueue* m_IoQueue;
    FxRequestSystemBuffer m_SystemBuffer;
    FxRequestOutputBuffer m_OutputBuffer;
    UCHAR m_FillerOutput[0x160 - 0x120];
    BOOLEAN m_Presented;
};
OFF(FxRequest, m_Irp, 0x98); OFF(FxRequest, m_Completed, 0xD6); OFF(FxRequest, m_SystemBufferOffset, 0xD8);
OFF(FxRequest, m_IrpReferenceCount, 0xDC); OFF(FxRequest, m_OutputBufferOffset, 0xE8); OFF(FxRequest, m_IoQueue, 0xF8);
OFF(FxRequest, m_SystemBuffer, 0x100); OFF(FxRequest, m_OutputBuffer, 0x110); OFF(FxRequest, m_Presented, 0x160);
SIZE(FxRequest, 0x168);

struct __declspec(align(16)) FX_POOL_HEADER { PVOID Base; _FX_DRIVER_GLOBALS* FxDriverGlobals; ULONGLONG AllocationStart[1]; };
struct FxObjectDebugExtension { PVOID TagTracker; PVOID VerifierLock; UCHAR StateHistory[8]; LONG StateHistoryIndex;
                                ULONG Reserved; ULONG Signature; ULONG Reserved2[3]; ULONGLONG AllocationStart[1]; };
struct __declspec(align(16)) FxContextHeader { FxObject* Object; FxContextHeader* NextHeader; PVOID EvtCleanupCallback; PVOID EvtDestroyCallback;
                         const _WDF_OBJECT_CONTEXT_TYPE_INFO* ContextTypeInfo; PVOID Reserved; ULONG_PTR Context[1]; };
struct FxMdlDebugInfo { _MDL* Mdl; FxObject* Owner; PVOID Caller; };
struct FxAllocatedMdls { FxMdlDebugInfo Info[16]; ULONG Count; FxAllocatedMdls* Next; };
struct FxDriverGlobalsDebugExtension { PVOID ObjectDebugInfo; FxAllocatedMdls AllocatedMdls; UCHAR m_Filler[0x1C0 - 0x198]; };
SIZE(FX_POOL_HEADER, 0x20); SIZE(FxContextHeader, 0x40); OFF(FxObjectDebugExtension, Signature, 0x20); OFF(FxObjectDebugExtension, AllocationStart, 0x30);
OFF(FxContextHeader, Context, 0x30); OFF(FxAllocatedMdls, Count, 0x180); SIZE(FxAllocatedMdls, 0x190);
SIZE(FxDriverGlobalsDebugExtension, 0x1C0);

struct FxLibraryGlobalsType;
struct _FX_DRIVER_GLOBALS {
    _LIST_ENTRY Linkage;
    LONG Refcnt;
    UCHAR m_Filler0[0x38 - 0x14];
    ULONG_PTR WdfHandleMask;
    LONG WdfVerifierAllocateFailCount;
    ULONG Tag;
    FxDriver* Driver;
    FxDriverGlobalsDebugExtension* DebugExtension;
    FxLibraryGlobalsType* LibraryGlobals;
    PVOID WdfLogHeader;
    UCHAR m_Filler1[0x108 - 0x68];
    BOOLEAN FxPoolTrackingOn;
    UCHAR m_Filler2[0x128 - 0x109];
    PVOID WdfBindInfo;
    PVOID ImageAddress;
    ULONG ImageSize;
    BOOLEAN FxVerifierOn;
    UCHAR m_Filler3[0x1B0 - 0x13D];
    _WDF_DRIVER_GLOBALS Public;
    ULONG m_FillerEnd[2];
};
struct FxLibraryGlobalsType {
    UCHAR m_Filler[0x1E0];
    _LIST_ENTRY FxDriverGlobalsList;
    ULONG BugCheckDriverInfoIndex;
    _FX_DUMP_DRIVER_INFO_ENTRY* BugCheckDriverInfo;
};
OFF(_FX_DRIVER_GLOBALS, Tag, 0x44); OFF(_FX_DRIVER_GLOBALS, Driver, 0x48); OFF(_FX_DRIVER_GLOBALS, ImageSize, 0x138);
OFF(_FX_DRIVER_GLOBALS, FxVerifierOn, 0x13C); OFF(_FX_DRIVER_GLOBALS, Public, 0x1B0); SIZE(_FX_DRIVER_GLOBALS, 0x1F0);
OFF(FxLibraryGlobalsType, BugCheckDriverInfo, 0x1F8); SIZE(_FX_DUMP_DRIVER_INFO_ENTRY, 0x38);

struct _WDF_TRIAGE_INFO { ULONG WdfMajorVersion; ULONG WdfMinorVersion; PVOID TriageInfo; };

// ---- the image's globals and virtual functions (bodies do nothing) --------
FxLibraryGlobalsType FxLibraryGlobals;
extern "C" _WDF_TRIAGE_INFO g_WdfTriageInfo = {1, 31, 0};
FxObject::~FxObject() {}
void FxObject::DeleteObject() {}
BOOLEAN FxObject::Dispose() { return 1; }
BOOLEAN FxNonPagedObject::Dispose() { return 1; }
FxSpinLock::~FxSpinLock() {}
FxWaitLock::~FxWaitLock() {}
FxDeviceBase::~FxDeviceBase() {}
FxDevice::~FxDevice() {}
FxDriver::~FxDriver() {}
FxIoQueue::~FxIoQueue() {}
FxUserObject::~FxUserObject() {}
SIZE_T FxMemoryObject::GetBufferSize() { return m_BufferSize; }
FxMemoryBuffer::~FxMemoryBuffer() {}
PVOID FxMemoryBuffer::GetBuffer() { return this + 1; }
FxMemoryBufferFromPool::~FxMemoryBufferFromPool() {}
PVOID FxMemoryBufferFromPool::GetBuffer() { return m_Pool; }
FxMemoryPagedBufferFromPool::~FxMemoryPagedBufferFromPool() {}
FxMemoryBufferFromLookaside::~FxMemoryBufferFromLookaside() {}
PVOID FxMemoryBufferFromLookaside::GetBuffer() { return this + 1; }
FxMemoryBufferFromPoolLookaside::~FxMemoryBufferFromPoolLookaside() {}
FxMemoryPagedBufferFromPoolLookaside::~FxMemoryPagedBufferFromPoolLookaside() {}
FxMemoryBufferPreallocated::~FxMemoryBufferPreallocated() {}
PVOID FxMemoryBufferPreallocated::GetBuffer() { return m_pBuffer; }
FxRequestMemory::~FxRequestMemory() {}
FxLookasideList::~FxLookasideList() {}
FxNPagedLookasideList::~FxNPagedLookasideList() {}
FxNPagedLookasideListFromPool::~FxNPagedLookasideListFromPool() {}
FxPagedLookasideListFromPool::~FxPagedLookasideListFromPool() {}
PVOID FxRequestSystemBuffer::GetBuffer() { return m_Buffer; }
SIZE_T FxRequestSystemBuffer::GetBufferSize() { return 0; }
PVOID FxRequestOutputBuffer::GetBuffer() { return m_Buffer; }
SIZE_T FxRequestOutputBuffer::GetBufferSize() { return 0; }
FxRequestBase::~FxRequestBase() {}
FxRequest::~FxRequest() {}

void* operator new(SIZE_T, void* where) noexcept { return where; }

// Every type reaches the PDB through this function's parameter list; its
// body makes each class's vtable and constructor part of the image.
extern "C" ULONG_PTR f(_POOL_HEADER* a, _IRP* b, _IO_STACK_LOCATION* c, _WDF_MEMORY_DESCRIPTOR* d, FX_POOL_HEADER* e,
                       FxObjectDebugExtension* g, FxContextHeader* h, _FX_DRIVER_GLOBALS* i, _PAGED_LOOKASIDE_LIST* j,
                       FxAllocatedMdls* k, FxMdlDebugInfo* l)
{
    FxObject* objs[] = {
        new (a) FxSpinLock, new (a) FxWaitLock, new (a) FxDevice, new (a) FxDriver, new (a) FxIoQueue,
        new (a) FxUserObject, new (a) FxMemoryBuffer, new (a) FxMemoryPagedBufferFromPool,
        new (a) FxMemoryPagedBufferFromPoolLookaside, new (a) FxRequestMemory, new (a) FxNPagedLookasideList,
        new (a) FxNPagedLookasideListFromPool, new (a) FxPagedLookasideListFromPool, new (a) FxRequest,
    };
    return (ULONG_PTR)objs[0] + (ULONG_PTR)b + (ULONG_PTR)c + (ULONG_PTR)d + (ULONG_PTR)e + (ULONG_PTR)g
           + (ULONG_PTR)h + (ULONG_PTR)i + (ULONG_PTR)j + (ULONG_PTR)k + (ULONG_PTR)l;
}

// No C runtime: what the compiler calls.
void operator delete(void*) noexcept {}
void operator delete(void*, SIZE_T) noexcept {}
extern "C" int _purecall() { return 0; }
extern "C" int atexit(void (*)(void)) { return 0; }
