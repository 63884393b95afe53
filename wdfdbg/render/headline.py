"""The triage headline as short text for people: the first lines of
``memtree`` and ``info`` on a dump (the dict comes from
``analysis/headline.py``; this module only formats it).

    Crash: SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (0x1000007e): a system thread raised ...
      at amdppm+0x334c, in AmdPPM, a KMDF 1.15 driver (FX_DRIVER_GLOBALS 0xffffc08be52e6690)
      exception: access violation (0xc0000005 STATUS_ACCESS_VIOLATION): write to 0xffffffffffffffff
      the crashing thread 0xffffc08bde9e1640 holds WDFWAITLOCK 0x3f741af8f1c8 (object 0x...) of AmdPPM
      top problems: ...
      this source: a triage dump (Windows' small memory dump)
        it holds: ...
        it cannot show: ...

Words follow style.md: ``NULL`` for a NULL value, ``not captured`` for
bytes the dump did not keep, ``unknown`` for what wdfdbg cannot tell.
Links (handles, objects) go through the markup object.
"""

from wdfdbg.decoders.bugcheck import code_text
from wdfdbg.render.markup import PLAIN

INDENT = "  "
MAX_MESSAGE = 160


def _hexint(s):
    return int(s, 16) if isinstance(s, str) and s.startswith("0x") else None


def _fault_line(fault, m):
    drv = fault.get("kmdf_driver")
    where = fault.get("where") or fault.get("address")
    if where is None and drv:
        line = "driver %s, a KMDF %sdriver (FX_DRIVER_GLOBALS %s, named by %s)" % (
            drv["name"], "%s " % drv["kmdf_version"] if drv.get("kmdf_version") else "", drv.get("globals"),
            drv.get("matched_by"))
        return m.text(line)
    line = "at %s" % where
    if drv:
        version = drv.get("kmdf_version")
        line += ", in %s, a KMDF %sdriver" % (drv["name"], "%s " % version if version else "")
        if drv.get("globals"):
            line += " (FX_DRIVER_GLOBALS %s)" % drv["globals"]
    elif fault.get("module"):
        line += ", in %s (not a KMDF driver this source knows)" % fault["module"]
    else:
        line += " (in no loaded module)"
    return m.text(line)


def _exception_line(exc, m):
    if exc.get("code") == "not captured":
        return m.text("exception: not captured")
    what = exc.get("meaning") or "exception"
    label = exc["code"] + (" " + exc["name"] if exc.get("name") else "")
    line = "exception: %s (%s)" % (what, label)
    if exc.get("access"):
        prep = {"read": "from", "write": "to", "execute": "at"}[exc["access"]]
        target = exc.get("target")
        line += ": %s %s %s" % (exc["access"], prep, target if target else "an address not captured")
    if not exc.get("record_captured") and exc.get("record"):
        line += " (exception record %s not captured)" % exc["record"]
    return m.text(line)


def _lock_phrase(lock, m):
    handle = _hexint(lock.get("handle"))
    label = "%s %s" % (lock["kind"], lock["handle"]) if handle is not None else "%s object" % lock["kind"]
    head = m.handle_link(label, handle) if handle is not None else m.text(label)
    cls = "FxWaitLock" if lock["kind"] == "WDFWAITLOCK" else "FxSpinLock"
    obj = m.object_link(lock["object"], cls, _hexint(lock["object"]))
    tail = " of %s" % lock["driver"] if lock.get("driver") else ""
    return head + m.text(" (object ") + obj + m.text(")" + tail)


TOP_FRAMES = 8
TOP_CALLBACKS = 3


def _stack_lines(triage, m):
    """The crashing process, the KeBugCheckEx caller, the top frames with
    how each was found, and the KMDF callback the crash was in."""
    out = []
    proc = triage.get("process")
    if isinstance(proc, dict) and proc.get("name"):
        if proc["name"] == "unknown":
            out.append(m.text("crashing process: unknown (%s)" % (proc.get("reason") or "no image name")))
        else:
            tail = " (EPROCESS %s)" % proc["address"] if proc.get("address") else ""
            out.append(m.text("crashing process: %s%s" % (proc["name"], tail)))
    caller = triage.get("bugcheck_caller")
    if isinstance(caller, dict) and caller.get("where"):
        out.append(m.text("KeBugCheckEx was called from %s (module %s)" % (caller["where"],
                                                                          caller.get("module") or "unknown")))
    frames = [f for f in triage.get("stack") or [] if isinstance(f, dict)]
    if frames:
        out.append(m.text("stack (each frame says how it was found: context, cfi, frame-pointer, scan):"))
        for f in frames[:TOP_FRAMES]:
            out.append(INDENT + m.text("#%d %s [%s]" % (f.get("index", 0), f.get("where") or f.get("address"),
                                                        f.get("trust"))))
        if len(frames) > TOP_FRAMES:
            out.append(INDENT + m.text("... %d more frames (--json: triage.stack)" % (len(frames) - TOP_FRAMES)))
        elif triage.get("stack_end"):
            out.append(INDENT + m.text("(%s)" % triage["stack_end"]))
    elif triage.get("stack_end"):
        out.append(m.text("stack: none (%s)" % triage["stack_end"]))
    for c in (triage.get("kmdf_context") or [])[:TOP_CALLBACKS]:
        if not isinstance(c, dict):
            continue
        trust = dict((f.get("index"), f.get("trust")) for f in frames)
        head = "framework callback: %s frame #%s [%s] was called from Wdf01000 frame #%s [%s]" % (
            c.get("driver") or "unknown", c.get("driver_frame"), trust.get(c.get("driver_frame"), "unknown"),
            c.get("framework_frame"), trust.get(c.get("framework_frame"), "unknown"))
        head += ": %s" % c["callback"] if c.get("callback") else ": %s" % (c.get("missing") or "unknown")
        out.append(m.text(head))
        for o in c.get("objects") or []:
            label = "%s %s" % (o.get("type"), o.get("handle") or o.get("object"))
            out.append(INDENT + m.text("%s (object %s) found in %s" % (label, o.get("object"), o.get("found_in"))))
    return out


def _short(msg):
    return msg if len(msg) <= MAX_MESSAGE else msg[:MAX_MESSAGE - 3].rstrip() + "..."


def headline_lines(triage, m=PLAIN):
    """The headline as a list of lines (markup applied)."""
    if not triage:
        return []
    out = []
    bc = triage.get("bugcheck")
    if bc:
        name = bc.get("name") or "bugcheck"
        line = "Crash: %s (%s)" % (name, code_text(bc["code"]))
        if bc.get("meaning"):
            line += ": %s" % bc["meaning"]
        out.append(m.bold(m.text(line)))
    else:
        out.append(m.bold(m.text("No bugcheck in this source.")))
    if triage.get("fault"):
        out.append(INDENT + _fault_line(triage["fault"], m))
    if triage.get("exception"):
        out.append(INDENT + _exception_line(triage["exception"], m))
    thread = triage.get("crash_thread")
    mine = triage.get("locks_held_by_crashing_thread") or []
    for lock in mine:
        out.append(INDENT + m.text("the crashing thread %s holds " % thread) + _lock_phrase(lock, m))
    others = triage.get("locks_held") or []
    for lock in others:
        out.append(INDENT + _lock_phrase(lock, m) + m.text(" is %s" % lock["state"]))
    if thread and not mine:
        out.append(INDENT + m.text("crashing thread %s: holds no WDF lock found in this source" % thread))
    out.extend(INDENT + line for line in _stack_lines(triage, m))
    # a lock problem is already told by the lock lines above
    said = ("LOCK_HELD_BY_CRASHING_THREAD", "LOCK_HELD") if (mine or others) else ()
    top = [p for p in triage.get("top_problems") or [] if p["code"] not in said]
    if top:
        out.append(INDENT + m.text("top problems:"))
        for p in top:
            out.append(INDENT * 2 + m.text("%s %s: %s" % (p["severity"], p["code"], _short(p["message"]))))
    src = triage.get("source") or {}
    if src:
        out.append(INDENT + m.text("this source: %s" % src.get("description", src.get("kind"))))
        if src.get("can_show"):
            out.append(INDENT * 2 + m.text("it holds: %s" % "; ".join(src["can_show"])))
        if src.get("cannot_show"):
            out.append(INDENT * 2 + m.text("it cannot show: %s" % "; ".join(src["cannot_show"])))
    return out


def render_headline(triage, m=PLAIN):
    """The headline as one string (no trailing newline)."""
    return "\n".join(headline_lines(triage, m))
