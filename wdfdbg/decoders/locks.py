"""WDFWAITLOCK and WDFSPINLOCK: held or free, and by which thread.

C types and where each offset comes from (64-bit; selene is
github:can1357/selene ``resources/sdk/fx/*.hpp``, PDB-derived, identical on
1607, 2004, 20H2 and Windows 11):

* ``FxWaitLock : FxObject, FxWaitLockInternal`` (m_Type 0x1023, size 0x90):
  ``MxEvent m_Event`` 0x68 = ``{ KEVENT m_Event 0x0; BOOLEAN
  m_DbgFlagIsInitialized 0x18 }`` [pdb wait_lock_t, mx/event_t][dump], so the
  KEVENT's ``Header.Type`` is at 0x68, ``Header.SignalState`` (LONG) at 0x6C,
  ``Header.WaitListHead`` at 0x70, the initialised flag at 0x80 (one byte of
  an 8-byte slot; the rest is padding); ``MxThread m_OwningThread`` 0x88
  [pdb][dump]. Semantics [src fxwaitlock.hpp, FxWaitLockInternal]: the event
  is a synchronization event created signalled; AcquireLock waits on it (the
  wait resets it to 0) and then stores the current thread in
  m_OwningThread; ReleaseLock clears m_OwningThread, then sets the event.
  So SignalState 0 means held, and m_OwningThread names the holder.
* ``FxSpinLock : FxObject`` (m_Type 0x1024, size 0x80): ``MxLock m_SpinLock``
  0x68 = ``{ BOOLEAN m_DbgFlagIsInitialized 0x0; KSPIN_LOCK m_Lock 0x8 }``
  [pdb spin_lock_t, mx/lock_t], ``KIRQL m_Irql`` 0x78, ``BOOLEAN
  m_InterruptLock`` 0x79 [pdb]; seen in the dump (three free locks, m_Lock
  0). A KSPIN_LOCK taken by KeAcquireSpinLock is non-zero while held and
  records no owner. With the driver's verifier lock tracking on
  (``FxVerifierLock``, fxspinlockapi.cpp) the object carries an
  ``FX_SPIN_LOCK_HISTORY`` after itself at object + 0x80 (present when
  m_ObjectSize is not 0x80; fxspinlock.hpp GetHistory): ``{ OwningThread 0x0;
  CurrentHistory 0x8; FX_SPIN_LOCK_HISTORY_ENTRY History[10] 0x10 }``, each
  entry ``{ CallersAddress 0x0; AcquiredAtTime 0x8; LockedDuraction 0x10 }``
  (0x18) [pdb spin_lock_history_t] -- not seen in a real dump: **unverified**.

32-bit offsets are laid out from the source by hand (FxObject 0x38, KEVENT
0x10, 4-byte MxLock lock word) [computed] and marked unverified in every
record; ARM64 uses the 64-bit table, also unverified. Where the session's
symbols define ``Wdf01000!FxWaitLock`` / ``FxSpinLock`` their offsets win.

The crashing thread is the KPRCB.CurrentThread of the crashing processor
(``Backend.crash_thread``: a triage dump's PrcbOffset; a snapshot cut from
one keeps it under the top-level key ``crash_thread``).

Problems, both warnings (a held lock is a correct structure, not a broken
one: errors mean corruption and exit code 1; the crash inside a locked
region is a triage fact that the headline puts first):

* LOCK_HELD_BY_CRASHING_THREAD at the lock: held, and its recorded owner is
  the crashing thread.
* LOCK_HELD at the lock: held by another thread, or by an owner the lock
  does not record.
"""

from wdfdbg.decoders import types as fxt
from wdfdbg.decoders.facts import (NOT_CAPTURED, SCHEMA_HEX, SCHEMA_POINTER, UNKNOWN, captured, hex_json, known,
                                   plain_json, pointer_json, pointer_text, read_fields, schema_value)
from wdfdbg.errors import LayoutError, ReadError
from wdfdbg.sources.base import backend_crash_thread

MAX_WAITERS = 256
HISTORY_ENTRIES = 10   # FX_SPIN_LOCK_NUM_HISTORY_ENTRIES [src fxspinlock.hpp; pdb array of 10]

# name -> (offset, size), per pointer size
_WAIT_64 = {"Type": (0x68, 1), "Size": (0x6A, 1), "SignalState": (0x6C, 4), "WaitListHead.Flink": (0x70, 8),
            "WaitListHead.Blink": (0x78, 8), "Initialized": (0x80, 1), "m_OwningThread": (0x88, 8)}
_WAIT_32 = {"Type": (0x38, 1), "Size": (0x3A, 1), "SignalState": (0x3C, 4), "WaitListHead.Flink": (0x40, 4),
            "WaitListHead.Blink": (0x44, 4), "Initialized": (0x48, 1), "m_OwningThread": (0x4C, 4)}
_SPIN_64 = {"Initialized": (0x68, 1), "m_Lock": (0x70, 8), "m_Irql": (0x78, 1), "m_InterruptLock": (0x79, 1)}
_SPIN_32 = {"Initialized": (0x38, 1), "m_Lock": (0x3C, 4), "m_Irql": (0x40, 1), "m_InterruptLock": (0x41, 1)}
_SPIN_RAW_SIZE = {8: 0x80, 4: 0x48}    # COMPUTE_RAW_OBJECT_SIZE(sizeof(FxSpinLock)): where the history starts
_HISTORY = {8: (0x0, 0x8, 0x10, 0x18), 4: (0x0, 0x4, 0x8, 0x18)}  # OwningThread, CurrentHistory, History, entry size

EVENT_TYPES = {0: "notification", 1: "synchronization"}

# The JSON Schema of an object record's ``lock`` (report schema 1.2;
# report.schema.json $defs/lock holds the same)
LOCK_SCHEMA = {
    "type": "object",
    "required": ["kind", "state", "owner", "owner_source", "owner_is_crashing_thread", "initialized",
                 "offsets_verified", "notes"],
    "properties": {
        "kind": {"enum": ["WDFWAITLOCK", "WDFSPINLOCK"]},
        "state": {"enum": ["held", "free", "not captured", "unknown"]},
        "owner": SCHEMA_POINTER, "owner_source": {"type": ["string", "null"]},
        "owner_is_crashing_thread": {"type": ["boolean", "null"]},
        "initialized": schema_value("boolean"), "offsets_verified": {"type": "boolean"},
        "notes": {"type": "array", "items": {"type": "string"}},
        "event": {"type": "object", "required": ["type", "signal_state", "waiters"],
                  "properties": {"type": schema_value("string", "integer"), "signal_state": schema_value("integer"),
                                 "waiters": schema_value("integer")}},
        "lock_value": {"anyOf": [SCHEMA_HEX, {"const": "not captured"}]},
        "irql": schema_value("integer"), "interrupt_lock": schema_value("boolean"),
        "history": {"anyOf": [{"type": "null"}, {"type": "array", "items": {
            "type": "object", "required": ["caller", "caller_symbol", "acquired_at_ticks", "locked_ticks", "current"],
            "properties": {"caller": SCHEMA_HEX, "caller_symbol": {"type": ["string", "null"]},
                           "acquired_at_ticks": schema_value("integer"), "locked_ticks": schema_value("integer"),
                           "current": {"type": "boolean"}}}}]},
    },
}


class LockRecord(object):
    """One decoded lock.

    ``address``, ``kind`` (``WDFWAITLOCK`` / ``WDFSPINLOCK``), ``handle``,
    ``driver``; ``state`` "held", "free", NOT_CAPTURED, or UNKNOWN (the
    bytes do not look like an initialised lock); ``owner`` (the
    holder's KTHREAD, 0 for none, NOT_CAPTURED, or UNKNOWN for a held spin
    lock without verifier history: a KSPIN_LOCK names no owner);
    ``owner_source`` (the field the owner came from, None when none did);
    ``crashing_thread`` (True/False when both threads are known, else None);
    wait locks: ``signal_state``, ``event_type``, ``waiters`` (threads
    queued on the event's wait list); spin locks: ``lock_value``, ``irql``,
    ``interrupt_lock``, ``history`` (list of dicts, or None without one);
    ``initialized``; ``verified`` (False where the offsets are not checked
    against a real dump of this architecture); ``notes`` (short phrases)."""

    __slots__ = ("address", "kind", "handle", "driver", "state", "owner", "owner_source", "crashing_thread",
                 "signal_state", "event_type", "waiters", "lock_value", "irql", "interrupt_lock", "history",
                 "initialized", "verified", "notes")

    def __init__(self, address, kind):
        self.address = address
        self.kind = kind
        self.handle = None
        self.driver = None
        self.state = NOT_CAPTURED
        self.owner = None
        self.owner_source = None
        self.crashing_thread = None
        self.signal_state = None
        self.event_type = None
        self.waiters = None
        self.lock_value = None
        self.irql = None
        self.interrupt_lock = None
        self.history = None
        self.initialized = NOT_CAPTURED
        self.verified = False
        self.notes = []

    @property
    def held(self):
        return self.state == "held"

    def to_json(self):
        d = {"kind": self.kind, "state": plain_json(self.state), "owner": pointer_json(self.owner),
             "owner_source": self.owner_source, "owner_is_crashing_thread": self.crashing_thread,
             "initialized": plain_json(self.initialized), "offsets_verified": self.verified,
             "notes": list(self.notes)}
        if self.kind == "WDFWAITLOCK":
            d["event"] = {"type": plain_json(self.event_type), "signal_state": plain_json(self.signal_state),
                          "waiters": plain_json(self.waiters)}
        else:
            d["lock_value"] = hex_json(self.lock_value)
            d["irql"] = plain_json(self.irql)
            d["interrupt_lock"] = plain_json(self.interrupt_lock)
            d["history"] = self.history
        return d

    def text(self):
        """One phrase for people: ``held by thread 0x... (the crashing
        thread)``, ``free``, ``state not captured``."""
        if self.state is NOT_CAPTURED:
            return "lock state not captured"
        if self.state is UNKNOWN:
            return "lock state unknown (%s)" % "; ".join(self.notes) if self.notes else "lock state unknown"
        if self.state != "held":
            return "free"
        if self.owner is UNKNOWN:
            return "held (the lock does not record its owner)"
        if self.owner is NOT_CAPTURED:
            return "held, owner not captured"
        if not self.owner:
            return "held, no owner recorded"
        who = "held by thread %s" % pointer_text(self.owner)
        if self.crashing_thread:
            who += " (the crashing thread)"
        return who


# -- the crashing thread -------------------------------------------------------
def crash_thread(session):
    """The crashing processor's current KTHREAD, or None."""
    return backend_crash_thread(getattr(session.target, "backend", None))


# -- offsets -------------------------------------------------------------------
def _table(session, qualified, fallback, names):
    """Offsets by field name: the session's symbols when they define the
    class (``m_Event`` / ``m_SpinLock`` members), else ``fallback``. Each
    member is the lock class's own, past FxObject (FxSpinLock redeclares
    FxObject's ``m_SpinLock``: :meth:`StructLayout.own_member`)."""
    lay = session.layouts.find(qualified)
    if lay is None or not (lay.source or "").startswith("symbols"):
        return dict(fallback), False
    out = dict(fallback)
    try:
        base_end = session.layouts.get("Wdf01000!FxObject").size
        for name, (member, delta) in names.items():
            out[name] = (lay.own_member(member, base_end).offset + delta, fallback[name][1])
    except LayoutError:  # a symbol layout without these members: keep the table
        return dict(fallback), False
    return out, True


def _verified(session):
    return session.target.arch == "x64"


def _fields(table):
    return [(name, off, size) for name, (off, size) in table.items()]


# -- wait locks ----------------------------------------------------------------
def decode_wait_lock(session, address):
    """A :class:`LockRecord` for the FxWaitLock at ``address``."""
    ptr = session.target.pointer_size
    base = _WAIT_64 if ptr == 8 else _WAIT_32
    ev = ptr * 2 + 8 if ptr == 8 else 0x10   # KEVENT size: WaitListHead ends it
    table, from_symbols = _table(session, "Wdf01000!FxWaitLock", base, {
        "Type": ("m_Event", 0), "Size": ("m_Event", 2), "SignalState": ("m_Event", 4), "WaitListHead.Flink": ("m_Event", 8),
        "WaitListHead.Blink": ("m_Event", 8 + ptr), "Initialized": ("m_Event", ev),
        "m_OwningThread": ("m_OwningThread", 0)})
    rec = LockRecord(address, "WDFWAITLOCK")
    rec.verified = from_symbols or _verified(session)
    f = read_fields(session.target, address, _fields(table))
    rec.event_type = EVENT_TYPES.get(f["Type"], f["Type"]) if captured(f["Type"]) else NOT_CAPTURED
    sig = f["SignalState"]
    if captured(sig):
        sig = sig - (1 << 32) if sig & 0x80000000 else sig   # a LONG
    rec.signal_state = sig
    rec.initialized = bool(f["Initialized"]) if captured(f["Initialized"]) else NOT_CAPTURED
    rec.owner = f["m_OwningThread"]
    rec.owner_source = "m_OwningThread"
    if captured(f["Type"]) and captured(f["Size"]) and (f["Type"] != 1 or f["Size"] * 4 != ev):
        # KeInitializeEvent(SynchronizationEvent) writes Type 1 and Size
        # sizeof(KEVENT)/4: anything else is not an initialised lock event
        rec.state = UNKNOWN
        rec.notes.append("its KEVENT is not an initialised synchronization event (Type 0x%x, Size 0x%x)"
                         % (f["Type"], f["Size"]))
    elif captured(sig):
        rec.state = "held" if sig == 0 else "free"
    if rec.state == "free" and captured(rec.owner) and rec.owner:
        rec.notes.append("the event is signalled but m_OwningThread still names a thread (released without "
                         "clearing the owner, or a torn read)")
    if rec.state == "held" and captured(rec.owner) and not rec.owner:
        rec.notes.append("the event is reset but no owner is recorded (acquired a moment ago, or the event was "
                         "reset outside the lock)")
    head = address + table["WaitListHead.Flink"][0]
    rec.waiters = _count_list(session.target, head, f["WaitListHead.Flink"])
    return rec


def _count_list(target, head, flink):
    """Entries on a LIST_ENTRY list (the event's wait blocks), bounded and
    cycle-safe; NOT_CAPTURED when a link cannot be read."""
    if not captured(flink):
        return NOT_CAPTURED
    seen = set()
    entry = flink
    while entry != head:
        if not entry or entry in seen or len(seen) >= MAX_WAITERS:
            return len(seen)   # a broken list: count what was walked
        seen.add(entry)
        try:
            entry = target.read_pointer(entry)
        except ReadError:
            return NOT_CAPTURED
    return len(seen)


# -- spin locks ----------------------------------------------------------------
def decode_spin_lock(session, address, object_size=None):
    """A :class:`LockRecord` for the FxSpinLock at ``address``;
    ``object_size`` (m_ObjectSize) says whether a verifier history follows."""
    target = session.target
    ptr = target.pointer_size
    base = _SPIN_64 if ptr == 8 else _SPIN_32
    table, from_symbols = _table(session, "Wdf01000!FxSpinLock", base, {
        "Initialized": ("m_SpinLock", 0), "m_Lock": ("m_SpinLock", ptr), "m_Irql": ("m_Irql", 0),
        "m_InterruptLock": ("m_InterruptLock", 0)})
    rec = LockRecord(address, "WDFSPINLOCK")
    rec.verified = from_symbols or _verified(session)
    f = read_fields(target, address, _fields(table))
    rec.lock_value = f["m_Lock"]
    rec.irql = f["m_Irql"]
    rec.interrupt_lock = bool(f["m_InterruptLock"]) if captured(f["m_InterruptLock"]) else NOT_CAPTURED
    rec.initialized = bool(f["Initialized"]) if captured(f["Initialized"]) else NOT_CAPTURED
    if captured(rec.lock_value):
        rec.state = "held" if rec.lock_value else "free"
    raw = _SPIN_RAW_SIZE[ptr]
    if object_size and object_size > raw:
        _read_history(session, rec, address + raw, ptr)
    elif rec.state == "held":
        rec.owner = UNKNOWN    # a KSPIN_LOCK names no owner
    elif rec.state == "free":
        rec.owner = 0          # nobody holds it
    else:
        rec.owner = NOT_CAPTURED
    return rec


def _read_history(session, rec, at, ptr):
    """FX_SPIN_LOCK_HISTORY (verifier lock tracking; unverified offsets)."""
    o_owner, o_cur, o_hist, esize = _HISTORY[ptr]
    target = session.target
    rec.owner_source = "FX_SPIN_LOCK_HISTORY.OwningThread"
    rec.notes.append("verifier lock history (offsets from the PDB layout, not checked on a real dump)")
    f = read_fields(target, at, [("OwningThread", o_owner, ptr), ("CurrentHistory", o_cur, ptr)])
    rec.owner = f["OwningThread"]
    entries = []
    for i in range(HISTORY_ENTRIES):
        e = at + o_hist + i * esize
        g = read_fields(target, e, [("CallersAddress", 0, ptr), ("AcquiredAtTime", 8, 8), ("LockedDuraction", 0x10, 8)])
        if not captured(g["CallersAddress"]):
            break
        if not g["CallersAddress"]:
            continue
        try:
            where = target.describe_address(g["CallersAddress"])
        except Exception:  # naming an address must never fail the decode
            where = None
        entries.append({"caller": hex_json(g["CallersAddress"]), "caller_symbol": where,
                        "acquired_at_ticks": plain_json(g["AcquiredAtTime"]),
                        "locked_ticks": plain_json(g["LockedDuraction"]),
                        "current": captured(f["CurrentHistory"]) and f["CurrentHistory"] == e})
    rec.history = entries


# -- dispatch and checks -------------------------------------------------------
LOCK_TYPES = (fxt.FX_TYPE_WAIT_LOCK, fxt.FX_TYPE_SPIN_LOCK)


def is_lock(hdr):
    # by m_Type only: a vtable symbol can name FxWaitLock on an FxResourceCm
    # (folded vtables, decoders/types.py)
    return hdr.fx_type in LOCK_TYPES


def decode_lock(session, node, thread=None):
    """The :class:`LockRecord` of an ObjectNode (None when it is not a
    lock); ``thread`` is the crashing thread (or None) to compare the
    owner with."""
    hdr = node.header
    if not is_lock(hdr):
        return None
    if hdr.fx_type == fxt.FX_TYPE_WAIT_LOCK:
        rec = decode_wait_lock(session, hdr.address)
    else:
        rec = decode_spin_lock(session, hdr.address, hdr.object_size)
    rec.handle = node.handle
    rec.driver = node.driver
    if thread and known(rec.owner) and rec.owner:
        rec.crashing_thread = rec.owner == thread
    return rec


def check_lock(rec, problems):
    """LOCK_HELD / LOCK_HELD_BY_CRASHING_THREAD for a held lock."""
    if not rec.held:
        return
    what = "%s 0x%x (object 0x%x%s)" % (rec.kind, rec.handle, rec.address, ", driver %s" % rec.driver
                                        if rec.driver else "") if rec.handle is not None else \
        "%s object 0x%x" % (rec.kind, rec.address)
    if rec.crashing_thread:
        problems.add("LOCK_HELD_BY_CRASHING_THREAD", rec.address,
                     "%s is held by thread 0x%x, the thread that was running on the crashing processor"
                     % (what, rec.owner))
    else:
        problems.add("LOCK_HELD", rec.address, "%s is %s" % (what, rec.text()))


def for_each_lock(session, nodes, problems=None, thread=None):
    """Yield ``(node, LockRecord)`` for the locks among ``nodes``, checking
    each into ``problems`` when given. ``thread`` defaults to the session's
    crashing thread."""
    if thread is None:
        thread = crash_thread(session)
    for node in nodes:
        rec = decode_lock(session, node, thread)
        if rec is None:
            continue
        if problems is not None:
            check_lock(rec, problems)
        yield node, rec
