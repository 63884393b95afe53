"""Problems: every inconsistency found is recorded, never raised.

Codes are stable identifiers (``shared/spec/report-json.md``). A decoder
appends :class:`Problem` objects to a :class:`ProblemLog` and goes on.
Like ``errors.py``, this is vocabulary every layer shares (decoders record
problems, analysis adds its own, renderers print them), so it sits at the
top of the package, below none of them.
"""

ERROR = "error"
WARNING = "warning"
INFO = "info"

CODES = {
    "UNREADABLE": ERROR,
    "BAD_HANDLE": ERROR,
    "NOT_AN_OBJECT": ERROR,
    "CHILD_LIST_CYCLE": ERROR,
    "CHILD_LIST_CORRUPT": ERROR,
    "PARENT_MISMATCH": ERROR,
    "WALK_LIMIT": WARNING,
    "MDL_CHAIN_CYCLE": ERROR,
    "MDL_INCONSISTENT": ERROR,
    "LOOKASIDE_INCONSISTENT": ERROR,
    "MEMORY_OUT_OF_BOUNDS": ERROR,
    "DESCRIPTOR_INVALID": ERROR,
    "DRIVER_LIST_CORRUPT": ERROR,
    "NO_DRIVERS": WARNING,
    "SCAN_FALLBACK": INFO,
    "LIKELY_LEAK": WARNING,
    "LOOKASIDE_ALWAYS_MISSES": WARNING,
    "UNKNOWN_TYPE": WARNING,
    "BUGCHECK": INFO,
    # issue 11 (triage): decoders/contexts.py, decoders/locks.py,
    # analysis/piling.py, decoders/alignment.py
    "CONTEXT_CHAIN_CORRUPT": ERROR,
    "LOCK_HELD": WARNING,
    "LOCK_HELD_BY_CRASHING_THREAD": WARNING,
    "OBJECTS_PILING_UP": WARNING,
    "BUFFER_MISALIGNED": WARNING,
}


class Problem(object):
    """``code``, ``severity``, ``address`` (int or None), ``message``."""

    __slots__ = ("code", "severity", "address", "message")

    def __init__(self, code, address, message, severity=None):
        self.code = code
        self.severity = severity or CODES.get(code, ERROR)
        self.address = address
        self.message = message

    def to_json(self):
        return {"code": self.code, "severity": self.severity,
                "address": None if self.address is None else "0x%x" % self.address,
                "message": self.message}

    def key(self):
        return (self.code, self.address, self.message)

    def __repr__(self):
        return "Problem(%s, %s, %r)" % (self.code, "None" if self.address is None else "0x%x" % self.address, self.message)


_RANK = {ERROR: 0, WARNING: 1, INFO: 2}
# Dump kinds that save only part of memory (session.dump_type()): bytes they
# did not save are an expected gap, not a broken structure.
PARTIAL_DUMP_TYPES = ("triage",)


class ProblemLog(object):
    """An ordered, de-duplicated list of problems. ``gaps``: the severity an
    UNREADABLE problem takes at most (:func:`problem_log_for`)."""

    def __init__(self, gaps=None):
        self.items = []
        self._seen = set()
        self.gaps = gaps

    def add(self, code, address, message, severity=None):
        if code == "UNREADABLE" and self.gaps is not None:
            if _RANK.get(severity or CODES[code], 0) < _RANK[self.gaps]:
                severity = self.gaps
        p = Problem(code, address, message, severity)
        k = p.key()
        if k not in self._seen:
            self._seen.add(k)
            self.items.append(p)
        return p

    def extend(self, problems):
        for p in problems:
            k = p.key()
            if k not in self._seen:
                self._seen.add(k)
                self.items.append(p)

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)

    def has_errors(self):
        return any(p.severity == ERROR for p in self.items)


def is_partial_dump(session):
    """True for a source that saves only part of memory by design (a triage
    dump: ``session.dump_type()``)."""
    for kind in ("dump_type", "cut_from"):   # the dump, or a snapshot cut from one (its replay says the same)
        get = getattr(session, kind, None)
        if get is not None and get() in PARTIAL_DUMP_TYPES:
            return True
    return False


def problem_log_for(session):
    """A :class:`ProblemLog` for an analysis of ``session``: on a triage dump
    memory it did not save is what this kind of dump cannot show, so an
    UNREADABLE problem there is a warning at most, never an error."""
    return ProblemLog(gaps=WARNING if is_partial_dump(session) else None)
