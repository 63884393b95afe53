"""The crash's call stack as the triage headline tells it: the frames
(``decoders/stack.py``), the module that called KeBugCheckEx, the crashing
process (``sources/process.py``) and the KMDF context of the crash.

The KMDF context: a frame in a KMDF client driver whose caller is a frame
in Wdf01000 is a framework callback. Which one is told by the name of
Wdf01000's frame (``CALLBACKS``: its PDB's publics, when the source has
them); without a name it says so. Objects are tied to the callback when a
register of the saved context (frame 0 only: the other frames' volatile
registers are not known) or a stack word between the driver's frame and
the framework's holds the address or the handle of an object the analysis
found (a request, its queue, a memory object): the bytes show them, nothing
is guessed.
"""

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.stack import walk_crash_stack
from wdfdbg.errors import ReadError
from wdfdbg.sources.minidump import kmdf_driver_table
from wdfdbg.sources.process import crashing_process

FRAMEWORK = "wdf01000"
MAX_TIED_WORDS = 512           # stack words looked at between a callback's frames
# Wdf01000 function names (substrings, first match wins) -> the callback
# they call; names from KMDF's source (github:microsoft/Windows-Driver-Frameworks,
# src/framework/shared/irphandlers/io/fxioqueue.cpp, fxpkgpnp.cpp, ...)
CALLBACKS = (
    ("DispatchRequestToDriver", "a queue's I/O callback (EvtIoRead/EvtIoWrite/EvtIoDeviceControl/EvtIoDefault), "
                                "from FxIoQueue::DispatchRequestToDriver"),
    ("FxIoQueueIo", "a queue's I/O callback (FxIoQueueIo*::Invoke)"),
    ("CanceledOnQueue", "a queue's EvtIoCanceledOnQueue"),
    ("FxRequestBase::CompleteSubmitted", "an I/O completion routine (EvtRequestCompletionRoutine)"),
    ("CompletionRoutine", "an I/O completion routine (EvtRequestCompletionRoutine)"),
    ("FxPkgPnp", "a PnP or power callback (FxPkgPnp state machine)"),
    ("PowerPolicy", "a power policy callback"),
    ("FxPnpDevice", "a PnP callback"),
    ("FxPowerDevice", "a power callback (EvtDeviceD0Entry/D0Exit and kin)"),
    ("FxPrepareHardware", "EvtDevicePrepareHardware"),
    ("FxReleaseHardware", "EvtDeviceReleaseHardware"),
    ("FxDriverDeviceAdd", "EvtDriverDeviceAdd"),
    ("FxDriver::AddDevice", "EvtDriverDeviceAdd"),
    ("FxInterrupt", "an interrupt callback (EvtInterruptIsr/EvtInterruptDpc)"),
    ("FxDpc", "EvtDpcFunc"),
    ("FxTimer", "EvtTimerFunc"),
    ("FxWorkItem", "EvtWorkItem"),
    ("FxFileObject", "a file object callback (EvtDeviceFileCreate/EvtFileClose/EvtFileCleanup)"),
    ("FxObject", "an object callback (EvtCleanupCallback/EvtDestroyCallback)"),
)
# the object types a callback is tied to
TIED_TYPES = (fxt.FX_TYPE_REQUEST, fxt.FX_TYPE_QUEUE, fxt.FX_TYPE_MEMORY_PREALLOCATED, fxt.FX_TYPE_REQUEST_MEMORY,
              fxt.FX_TYPE_OBJECT)


class KnownObjects(object):
    """The objects a walk found (requests, queues, memory objects) whose
    address or handle is one of ``wanted`` (the words of the crash's stack
    and registers, :func:`stack_words`): bounded by the stack, never by the
    object count."""

    def __init__(self, wanted=()):
        self.wanted = frozenset(wanted)
        self.by_value = {}

    def feed(self, node):
        if not self.wanted:
            return
        handle = node.handle if isinstance(node.handle, int) else None
        if node.header.address not in self.wanted and handle not in self.wanted:
            return
        code = node.header.fx_type
        if code not in TIED_TYPES:
            return
        name = fxt.ddi_name(code, getattr(node.header, "cls", None)) or fxt.type_name(code) or "object"
        if code == fxt.FX_TYPE_OBJECT and name != "WDFMEMORY":
            return
        entry = (name, node.header.address, handle, node.driver)
        self.by_value[node.header.address] = entry
        if handle:
            self.by_value[handle] = entry


def stack_words(target, walk):
    """The values an object may be tied by: frame 0's registers and the
    stack words from frame 0's SP to the last frame's (at most
    ``MAX_TIED_WORDS`` per frame)."""
    out = set()
    frames = walk.frames
    if not frames:
        return out
    out.update(v for v in frames[0].regs.values() if v)
    for i in range(len(frames) - 1):
        lo, hi = frames[i].sp, frames[i + 1].sp
        for n in range(min(MAX_TIED_WORDS, max(0, (hi - lo) // 8))):
            try:
                v = target.read_u64(lo + 8 * n)
            except ReadError:
                break
            if v:
                out.add(v)
    return out


def crash_walk(session):
    """The crashing thread's :class:`~wdfdbg.decoders.stack.StackWalk`."""
    target = session.target
    try:
        bc = target.bugcheck()
    except (ReadError, ValueError):
        bc = None
    return walk_crash_stack(target, getattr(target, "backend", None), bc)


def _callback_name(where):
    if not where or "!" not in where:
        return None
    for key, what in CALLBACKS:
        if key in where:
            return what
    return None


def _tied(target, walk, i, j, known):
    """Objects whose address or handle is in frame 0's registers (when the
    driver frame is frame 0) or on the stack from the driver frame's SP up
    to the framework frame's."""
    out = []
    seen = set()
    if known is None or not known.by_value:
        return out
    frames = walk.frames
    if i == 0:
        for reg, value in sorted(frames[0].regs.items()):
            hit = known.by_value.get(value)
            if hit is not None and (hit[1], reg) not in seen:
                seen.add((hit[1], reg))
                out.append(_object_json(hit, "register %s" % reg, value))
    lo, hi = frames[i].sp, frames[j].sp
    if lo is None or hi is None:
        return out
    for n in range(min(MAX_TIED_WORDS, max(0, (hi - lo) // 8))):
        slot = lo + 8 * n
        try:
            value = target.read_u64(slot)
        except ReadError:
            break
        hit = known.by_value.get(value)
        if hit is not None and hit[1] not in seen:
            seen.add(hit[1])
            out.append(_object_json(hit, "stack 0x%x" % slot, value))
    return out


def _object_json(hit, where, value):
    name, address, handle, driver = hit
    return {"type": name, "object": "0x%x" % address, "handle": "0x%x" % handle if handle else None,
            "driver": driver, "found_in": where, "as": "handle" if value == handle and value != address else "object"}


def kmdf_context(target, walk, kmdf_modules, known=None):
    """``[{driver_frame, framework_frame, driver, callback, missing, objects}]``:
    one per driver frame called from a Wdf01000 frame; ``missing`` says
    what the source lacks to name the callback (None when named)."""
    out = []
    frames = walk.frames
    for i in range(len(frames) - 1):
        f, caller = frames[i], frames[i + 1]
        if not f.module or not caller.module:
            continue
        if f.module.lower() not in kmdf_modules or f.module.lower() == FRAMEWORK or \
                caller.module.lower() != FRAMEWORK:
            continue
        name = _callback_name(caller.where)
        missing = None
        if name is None:
            missing = ("Wdf01000's frame %s has no symbol name: which framework callback this is cannot be told "
                       "(give Wdf01000's symbols)" % caller.where) if "!" not in (caller.where or "") else \
                "Wdf01000's frame %s is not a callback dispatcher wdfdbg knows" % caller.where
        out.append({"driver_frame": f.index, "framework_frame": caller.index, "driver": kmdf_modules[f.module.lower()],
                    "callback": name, "missing": missing, "objects": _tied(target, walk, i, i + 1, known)})
    return out


def stack_triage(session, kmdf_names=None, known=None, drivers=(), walk=None):
    """The ``stack``, ``stack_end``, ``bugcheck_caller``, ``process`` and
    ``kmdf_context`` keys of the triage (see ``TRIAGE_SCHEMA``).
    ``kmdf_names``: the KMDF drivers' names (default: KMDF's driver table in
    the source); ``walk``: the stack walk when the caller has it."""
    target = session.target
    backend = getattr(target, "backend", None)
    if kmdf_names is None:
        kmdf_names = [e.name for e in kmdf_driver_table(backend)]
    if walk is None:
        walk = crash_walk(session)
    out = {"stack": [f.to_json() for f in walk.frames], "stack_end": walk.end, "bugcheck_caller": None}
    caller = walk.caller_of_bugcheck()
    if caller is not None:
        out["bugcheck_caller"] = {"address": "0x%x" % caller.address, "where": caller.where, "module": caller.module,
                                  "how": walk.entry}
    arch = _attr(backend, "arch")
    build = _attr(backend, "os_build")
    from wdfdbg.sources.base import backend_crash_thread
    thread = backend_crash_thread(backend)
    out["process"] = crashing_process(target, backend, arch, build, thread) if arch else None
    modules = {}
    for name in kmdf_names:
        if name:
            modules[name.lower()] = name
    for d in drivers or ():
        img = getattr(d, "image_address", None)
        mod = target.module_of(img) if img else None
        if mod is not None and getattr(d, "name", None):
            modules[mod.name.lower()] = d.name
    out["kmdf_context"] = kmdf_context(target, walk, modules, known)
    return out


def _attr(backend, name):
    for _ in range(8):
        if backend is None:
            return None
        v = getattr(backend, name, None)
        if v is not None:
            return v
        backend = getattr(backend, "inner", None)
    return None
