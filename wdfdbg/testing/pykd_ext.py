"""Run a wdfdbg command the way WinDbg's ``!py`` runs it, for tests.

A stand-in for the pykd bootstrapper (github:ivellioscolin/pykd-ext), as
strict as it where wdfdbg depends on it. Each rule and its source:

- Arguments: ``!py [-g|--global|-l|--local|-2|-3|-3.x]... [-h|-m] ARGS`` is
  split on spaces and tabs, ``"`` quoting, no escape character, empty
  tokens dropped (``sources/arglist.cpp``: ``boost::escaped_list_separator``
  with ``""``, ``" \\t"``, ``"\\""``); version and namespace options come
  first, then ``-h``/``-m``; anything else ends option parsing.
- ``!py -m MODULE ARGS``: ``sys.argv`` is ``["", ARGS...]`` (argv[0] is the
  empty script name for a module), then
  ``runpy.run_module("MODULE", run_name='__main__', alter_sys=True)``
  (``sources/windbgext.cpp`` ``py``); runpy sets ``argv[0]`` to the
  module's file while it runs.
- Before that: ``sys.setrecursionlimit(500)``; ``sys.stdout`` and
  ``sys.stderr`` are ``dbgout`` objects and ``sys.stdin`` a ``dbgin``
  (``windbgext.cpp``).
- ``dbgout.write(s)`` / ``writedml(s)`` copy ``s`` into a fixed buffer of
  0x10000 wide characters (``PyUnicode_AsWideChar`` in ``convert_from_python``,
  ``sources/pyclass.h``) and send it with ``ControlledOutputWide(..., L"%ws")``
  (``sources/dbgout.h``): only the first 65,536 UTF-16 code units arrive,
  the rest is dropped without an error; a NUL ends the text (``%ws``). A
  ``bytes`` argument is decoded as ANSI up to its first NUL; anything else
  raises ``TypeError`` (real pykd-ext throws a C++ exception there that no
  Python code can catch). ``flush()`` does nothing, ``encoding`` is
  ``"ascii"``, ``closed`` False, ``isatty()`` False. ``cut`` models an
  engine that keeps less (16K in some debugger builds).
- ``SystemExit`` is swallowed without a word; any other exception is
  printed as a traceback on the debugger's error output (``handleException``
  in ``windbgext.cpp``).
- A ``!py`` started while another runs fails with "can not run !py command
  recursive" (``recursiveGuard``).
- Interpreters: every ``!py`` runs in a sub-interpreter made with
  ``Py_NewInterpreter``, a new one each time, or with ``-g`` one kept for
  the session (``sources/pyinterpret.cpp``: ``PythonInterpreter`` and
  ``getInterpreter``); pykd-ext picks the newest Python 3 installed unless
  ``-3.x`` or ``!select`` says otherwise (``getDefaultPythonVersion``).
- Ctrl+Break: pykd-ext's watch thread polls ``GetInterrupt`` and posts
  ``SystemExit("CTRL+BREAK")`` with ``Py_AddPendingCall`` after
  ``PyGILState_Ensure`` (``InterruptWatch`` in ``windbgext.cpp``), that is
  into the *main* interpreter. Since CPython 3.9 pending calls belong to
  the interpreter they were added to (bpo-39984, ``Python/ceval.c``
  ``Py_AddPendingCall`` and ``_PyEval_AddPendingCall(interp, ...)``), so a
  sub-interpreter never sees it, the watch thread waits forever for the
  call to run, and the debugger hangs when the command ends; on 3.8 pending
  calls are process-wide and the break arrives. ``-g`` does not help: the
  "global" interpreter is a sub-interpreter too. :func:`run` models it with
  ``ctrl_break_after``: on 3.8 ``SystemExit("CTRL+BREAK")`` is raised in the
  write after that many writes; on 3.9+ nothing is raised and the result
  says ``hung``.

The in-process runner cannot make a real sub-interpreter: the module run
is imported afresh, the rest of wdfdbg stays imported between runs (a real
``!py`` imports everything again).
"""

import runpy
import sys
import traceback

BUFFER = 0x10000     # wide characters pykd-ext copies out of each write
CUT_16K = 0x4000


def _utf16_prefix(s, units):
    """The longest prefix of ``s`` that fits ``units`` UTF-16 code units."""
    if len(s) <= units // 2:
        return s
    n = 0
    for i, ch in enumerate(s):
        n += 2 if ord(ch) > 0xFFFF else 1
        if n > units:
            return s[:i]
    return s


class Interrupt(object):
    """A Ctrl+Break pressed after ``after`` writes (see the module doc)."""

    def __init__(self, after, python):
        self.after = after
        self.python = python
        self.writes = 0
        self.pressed = False
        self.delivered = False

    def tick(self):
        self.writes += 1
        if self.after is not None and not self.pressed and self.writes > self.after:
            self.pressed = True
            if self.python < (3, 9):
                self.delivered = True
                raise SystemExit("CTRL+BREAK")


class dbgout(object):
    """pykd-ext's ``sys.stdout``/``sys.stderr`` (``sources/dbgout.h``)."""

    def __init__(self, log, channel, limit=BUFFER, interrupt=None):
        self._log = log
        self._channel = channel
        self._limit = limit
        self._interrupt = interrupt

    def _take(self, s, dml):
        if isinstance(s, bytes):
            s = s.split(b"\0", 1)[0].decode("latin-1")
        elif not isinstance(s, str):
            raise TypeError("failed convert argument")
        self._log.calls.append((self._channel, len(s), dml))
        text = _utf16_prefix(s, self._limit).split("\0", 1)[0]
        self._log.parts.append((self._channel, text, dml))
        if len(text) < len(s):
            self._log.dropped += len(s) - len(text)
        if self._interrupt is not None:
            self._interrupt.tick()

    def write(self, s):
        self._take(s, False)

    def writedml(self, s):
        self._take(s, True)

    def flush(self):
        pass

    @property
    def encoding(self):
        return "ascii"

    @property
    def closed(self):
        return False

    def isatty(self):
        return False


class dbgin(object):
    def readline(self):
        return "\n"

    @property
    def closed(self):
        return False

    @property
    def encoding(self):
        return "ascii"

    def isatty(self):
        return False


class Result(object):
    """What one ``!py`` showed: ``parts`` are ``(channel, text, dml)`` in
    order (``channel`` "out", "err", or "error" for pykd-ext's own error
    output); ``calls`` are ``(channel, characters asked, dml)`` per write."""

    def __init__(self):
        self.parts = []
        self.calls = []
        self.dropped = 0
        self.hung = False
        self.interrupted = False
        self.argv = None

    def text(self, channel="out"):
        return "".join(t for c, t, _ in self.parts if c == channel)

    def longest_write(self):
        return max([n for _, n, _ in self.calls] or [0])


_RUNNING = []


def parse(args):
    """``(options, args)`` as ``sources/arglist.cpp`` builds them."""
    tokens = []
    cur = []
    quoted = False
    have = False
    for ch in args:
        if ch == '"':
            quoted = not quoted
            have = True
        elif ch in " \t" and not quoted:
            if cur or have:
                tokens.append("".join(cur))
            cur, have = [], False
        else:
            cur.append(ch)
    if cur or have:
        tokens.append("".join(cur))
    tokens = [t for t in tokens if t != ""]
    opts = {"global": False, "version": None, "module": False, "help": False}
    global_by_default = True
    while tokens:
        t = tokens[0]
        if t in ("-g", "--global"):
            opts["global"], global_by_default = True, False
        elif t in ("-l", "--local"):
            opts["global"], global_by_default = False, False
        elif len(t) >= 2 and t[0] == "-" and t[1] in "23" and (len(t) == 2 or (t[2] == "." and t[3:].isdigit())):
            opts["version"] = t[1:]
        else:
            break
        tokens.pop(0)
    if not tokens and global_by_default:
        opts["global"] = True
    while tokens:
        if tokens[0] in ("-h", "--help"):
            opts["help"] = True
        elif tokens[0] in ("-m", "--module"):
            opts["module"] = True
        else:
            break
        tokens.pop(0)
    return opts, tokens


def run(args, cut=BUFFER, python=None, ctrl_break_after=None):
    """Run ``!py ARGS`` (only ``-m MODULE ...`` is supported) and return a
    :class:`Result`. ``python``: the interpreter version to model for
    Ctrl+Break (default: the running one)."""
    res = Result()
    if _RUNNING:
        res.parts.append(("error", "can not run !py command recursive\n", False))
        return res
    opts, tokens = parse(args)
    if not opts["module"] or not tokens:
        raise ValueError("the runner models !py -m MODULE ARGS only")
    python = tuple(python or sys.version_info[:2])
    interrupt = Interrupt(ctrl_break_after, python)
    saved = (sys.stdout, sys.stderr, sys.stdin, sys.argv, sys.getrecursionlimit())
    _RUNNING.append(True)
    try:
        sys.stdout = dbgout(res, "out", cut, interrupt)
        sys.stderr = dbgout(res, "err", cut, interrupt)
        sys.stdin = dbgin()
        sys.setrecursionlimit(500)
        sys.argv = [""] + tokens[1:]
        res.argv = list(sys.argv)
        # a new sub-interpreter imports the module afresh (runpy warns otherwise)
        stale = sys.modules.pop(tokens[0], None)
        try:
            runpy.run_module(tokens[0], run_name="__main__", alter_sys=True)
        except SystemExit as e:
            res.interrupted = e.args == ("CTRL+BREAK",)
        except BaseException:
            res.parts.append(("error", "\n\n" + "".join(traceback.format_exception(*sys.exc_info())), False))
        if stale is not None:
            sys.modules[tokens[0]] = stale
    finally:
        sys.stdout, sys.stderr, sys.stdin, sys.argv, limit = saved
        sys.setrecursionlimit(limit)
        _RUNNING.pop()
    res.hung = interrupt.pressed and not interrupt.delivered
    return res


class debugger_output(object):
    """``with debugger_output() as res:`` makes ``sys.stdout``/``sys.stderr``
    pykd-ext ``dbgout`` objects (as inside ``!py``) for code called directly;
    what they received is in ``res`` (a :class:`Result`)."""

    def __init__(self, cut=BUFFER):
        self.cut = cut
        self.result = Result()

    def __enter__(self):
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = dbgout(self.result, "out", self.cut)
        sys.stderr = dbgout(self.result, "err", self.cut)
        return self.result

    def __exit__(self, *exc):
        sys.stdout, sys.stderr = self._saved
        return False
