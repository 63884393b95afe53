"""Each input analysed in its own worker process, with a wall-clock
timeout and a memory cap; a worker that hangs, runs out of memory or dies
is killed and recorded (``timeout`` / ``crashed``), and the batch goes on.

How a worker starts (measured by ``benchmarks/bench_batch.py``):

* ``fork`` where the OS has it and the caller is single-threaded (the
  local engine): the child is a copy of a parent that has already imported
  wdfdbg and analysed the bundled sample once (:mod:`wdfdbg.batch.warm`);
* ``forkserver`` from a threaded process (a Dask worker: forking a process
  with threads can copy a held lock), the server preloaded and warmed
  (:mod:`wdfdbg.batch.warm`);
* ``spawn`` elsewhere (Windows), a fresh interpreter per input;
* a subprocess (``python -m wdfdbg.batch.isolate``) when the caller is a
  daemonic process, which multiprocessing forbids to have children (Dask
  workers are daemonic unless ``distributed.worker.daemon`` is False).

The memory cap is ``resource.setrlimit(RLIMIT_AS)`` in the child where the
OS has it (not on Windows: there the cap is not enforced). The child opens
its input once, hashes it through the open descriptor and sends ("hash",
sha256, size, file) first, then ("record", record), so a record of a
killed worker still names its input's content; the analysis reads the
same open file (``analyse.py``). A worker dies with its parent and ends
itself past its deadline (:func:`guard_worker`), so a killed batch leaves
no worker behind.

Test-only fault hook: ``WDFDBG_BATCH_FAULT=ACTION:TEXT[,ACTION:TEXT...]``
makes a worker whose input's file name contains TEXT ``kill`` itself
(SIGKILL), ``hang``, or ``oom`` (allocate until the cap stops it).
"""

import json
import math
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import wait

from wdfdbg.batch.inputs import file_stat, open_hashed
from wdfdbg.batch.record import empty_record
from wdfdbg.render.streams import printable

FAULT_ENV = "WDFDBG_BATCH_FAULT"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MEMORY_CAP = 2 << 30
REAP_S = 5.0  # how long a child that sent its record may take to exit before it is killed


class Settings(object):
    """What a worker needs to know (picklable: it travels to Dask workers)."""

    __slots__ = ("timeout", "memory_cap")

    def __init__(self, timeout=DEFAULT_TIMEOUT, memory_cap=DEFAULT_MEMORY_CAP):
        self.timeout = timeout or None
        self.memory_cap = memory_cap or None

    def __getstate__(self):
        return (self.timeout, self.memory_cap)

    def __setstate__(self, state):
        self.timeout, self.memory_cap = state


# -- the child -------------------------------------------------------------
def limit_memory(cap):
    if not cap:
        return
    try:
        import resource
    except ImportError:
        return  # Windows: no RLIMIT_AS
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError, AttributeError):
        pass


def fault_hook(path):
    """Test-only faults (see the module docstring)."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name = os.path.basename(path)
    for item in spec.split(","):
        action, _, text = item.partition(":")
        if not text or text not in name:
            continue
        if action == "kill":
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
            time.sleep(60)
        elif action == "hang":
            while True:
                time.sleep(1)
        elif action == "oom":
            hog = []
            while True:
                hog.append(bytearray(64 << 20))


GRACE_S = 5.0  # a worker outlives its --timeout by this much at most, parent or not
WATCH_S = 0.5  # how often a worker looks for its parent


def guard_worker(settings):
    """Make this worker die with its parent and end at its own deadline, so
    that a killed batch never leaves a hung worker holding its stdout and
    stderr:

    * Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (the kernel kills the
      worker when its parent dies, whatever killed it), and ``alarm()`` at
      ``--timeout`` plus GRACE_S with SIGALRM's default action (the process
      ends even inside a long C call);
    * other systems with ``setitimer``: SIGALRM every WATCH_S, whose handler
      ends the process once ``os.getppid()`` changed (the parent is gone) or
      the deadline passed;
    * Windows: a daemon thread doing the same.

    Not a thread where a signal will do: glibc gives a thread that allocates
    an arena of its own (64 MiB of address space), which the memory cap
    (RLIMIT_AS) would count against the analysis."""
    parent = os.getppid()
    linux = sys.platform.startswith("linux") and _pdeathsig()
    if os.getppid() != parent or parent == 1:
        os._exit(ORPHAN_EXIT)  # the parent died before the guard was armed
    deadline = time.monotonic() + settings.timeout + GRACE_S if settings.timeout else None
    if linux:
        if deadline is not None:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(math.ceil(settings.timeout + GRACE_S)))
        return

    def check(*_):
        if os.getppid() != parent:
            os._exit(ORPHAN_EXIT)
        if deadline is not None and time.monotonic() > deadline:
            os._exit(DEADLINE_EXIT)
    if hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, check)
        signal.setitimer(signal.ITIMER_REAL, WATCH_S, WATCH_S)
        return

    def watch():
        while True:
            time.sleep(WATCH_S)
            check()
    import threading
    threading.Thread(target=watch, name="wdfdbg-worker-watchdog", daemon=True).start()


def _pdeathsig():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # PR_SET_PDEATHSIG = 1 (linux/prctl.h)
    except (OSError, AttributeError):
        return False


ORPHAN_EXIT = 125
DEADLINE_EXIT = 124


def child_work(path, settings, send):
    """Everything a worker does once guarded (:func:`guard_worker`, which
    the worker's entry points call first); ``send(message)`` reports to the
    parent. The input is opened once: hashed through the open descriptor,
    then analysed from that same open file (``analyse.analyse_file``)."""
    limit_memory(settings.memory_cap)
    try:
        try:
            opened = open_hashed(path)
        except OSError as e:
            send(("record", empty_record(path, None, None, "unreadable", None,
                                         "wdfdbg: error: %s: cannot read: %s"
                                         % (printable(path), e.strerror or e))))
            return
        try:
            send(("hash", opened.sha256, opened.size, file_stat(opened.stat)))
            fault_hook(path)
            from wdfdbg.batch.analyse import analyse_file
            send(("record", analyse_file(path, opened)))
        finally:
            opened.close()
    except MemoryError:
        send(("oom",))


def _mp_child(conn, path, settings):
    try:
        guard_worker(settings)
        child_work(path, settings, conn.send)
    finally:
        conn.close()


# -- starting workers ------------------------------------------------------
_PRELOADED = []


def choose_method(threaded=False):
    methods = multiprocessing.get_all_start_methods()
    if not threaded and "fork" in methods:
        return "fork"
    if "forkserver" in methods:
        return "forkserver"
    return "spawn"


def context(method):
    ctx = multiprocessing.get_context(method)
    if method == "spawn":
        _python_for_spawn(ctx)
    if method == "forkserver" and not _PRELOADED:
        # (no "__main__": CPython's forkserver never gets the main path to preload it,
        # multiprocessing/forkserver.py ensure_running keeps only "main_path", which
        # get_preparation_data never sets; a main script is re-run per child regardless)
        ctx.set_forkserver_preload(["wdfdbg.batch.warm"])
        _PRELOADED.append(True)
    return ctx


def _python_for_spawn(ctx):
    """Under WinDbg (``!py -m wdfdbg.batch``) ``sys.executable`` is the
    debugger, which spawn would start: point it at the Python beside it."""
    exe = os.path.basename(sys.executable or "").lower()
    if exe.startswith("python"):
        return
    for name in ("python.exe", "python3", "python"):
        candidate = os.path.join(sys.exec_prefix, name)
        if os.path.isfile(candidate):
            ctx.set_executable(candidate)
            return


class Job(object):
    """One worker at work on one input."""

    __slots__ = ("path", "process", "conn", "started", "deadline", "sha256", "size", "file", "record", "oom", "eof",
                 "done_at")

    def __init__(self, ctx, path, settings):
        self.path = path
        self.sha256 = self.size = self.file = self.record = None
        self.oom = self.eof = False
        self.done_at = None
        reader, writer = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_mp_child, args=(writer, path, settings), name="wdfdbg-batch-worker")
        self.process.daemon = True
        self.started = time.monotonic()
        self.deadline = self.started + settings.timeout if settings.timeout else None
        self.process.start()
        writer.close()
        self.conn = reader

    def waitables(self):
        return [self.conn, self.process.sentinel]

    def _drain(self):
        try:
            while not self.eof and self.conn.poll():
                take(self, self.conn.recv())
        except (EOFError, OSError):
            self.eof = True

    def poll(self, now, timeout):
        """The finished record, or None while the worker is still at work."""
        rec = self._result(now, timeout)
        if rec is not None:
            self.done_at = time.monotonic()
        return rec

    def _result(self, now, timeout):
        self._drain()
        if self.record is not None:
            return finish(self, time.monotonic())  # reaped later: its exit is not the input's time
        if self.eof or not self.process.is_alive():
            self.process.join(REAP_S)
            self._drain()
            if self.record is not None:
                return finish(self, time.monotonic())
            return finish(self, time.monotonic(), died=describe_exit(self.process.exitcode, self.oom))
        if self.deadline is not None and now >= self.deadline:
            self.kill()
            return finish(self, now, timed_out=timeout)
        return None

    def kill(self):
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()

    def exited(self, now):
        """Reap a worker that sent its record: True once it is gone (one
        that lingers REAP_S after its record is killed)."""
        if self.process.is_alive() and now < self.done_at + REAP_S:
            return False
        self.kill()
        return True


def take(job, msg):
    if msg[0] == "hash":
        job.sha256, job.size = msg[1], msg[2]
        job.file = msg[3] if len(msg) > 3 else None
    elif msg[0] == "record":
        job.record = msg[1]
    elif msg[0] == "oom":
        job.oom = True


def describe_exit(code, oom=False):
    if oom:
        return "out of memory: the analysis needed more than the memory cap"
    if code is None:
        return "the worker vanished"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "signal %d" % -code
        extra = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
        return "the worker died: killed by %s%s" % (name, extra)
    if code == DEADLINE_EXIT or (hasattr(signal, "SIGALRM") and code == -signal.SIGALRM):
        return "the worker ended itself %g s past its timeout" % GRACE_S
    return "the worker died: exit code %d without a record" % code


def finish(job, now, died=None, timed_out=None):
    """The job's record: the child's, or one saying how it ended (with the
    hash the child sent before it started the analysis; null if it sent
    none: the parent does not read the input)."""
    rec = job.record
    if rec is None:
        if timed_out is not None:
            rec = empty_record(job.path, job.sha256, job.size, "timeout", None,
                               "no result within %g s: the worker was killed" % timed_out, job.file)
        else:
            rec = empty_record(job.path, job.sha256, job.size, "crashed", None, died, job.file)
    rec["elapsed_s"] = round(now - job.started, 3)
    return rec


def run_many(paths, settings, jobs=1, method=None):
    """Yield the record of every path as it finishes, ``jobs`` at a time."""
    ctx = context(method or choose_method())
    pending = iter(paths)
    running = []
    exiting = []  # sent their record, not yet reaped
    try:
        while True:
            while len(running) < jobs:
                path = next(pending, None)
                if path is None:
                    break
                running.append(Job(ctx, path, settings))
            if not running:
                break
            deadlines = [j.deadline for j in running if j.deadline is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            wait([w for j in running for w in j.waitables()], timeout)
            now = time.monotonic()
            still = []
            for j in running:
                rec = j.poll(now, settings.timeout)
                if rec is None:
                    still.append(j)
                else:
                    exiting.append(j)
                    yield rec
            running = still
            exiting = [j for j in exiting if not j.exited(now)]
    finally:
        for j in running + exiting:  # done or interrupted: no orphan keeps running
            if j.done_at is not None:
                j.process.join(REAP_S)
            j.kill()


def run_isolated(path, settings):
    """One input, from any process (a Dask task): its record."""
    proc = multiprocessing.current_process()
    if getattr(proc, "daemon", False):
        return run_subprocess(path, settings)
    return next(run_many([path], settings, 1, choose_method(threaded=True)))


# -- the subprocess worker (for daemonic callers) ---------------------------
def run_subprocess(path, settings):
    import subprocess
    started = time.monotonic()
    cmd = [sys.executable, "-m", "wdfdbg.batch.isolate", path, json.dumps(settings.__getstate__())]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    job = _Finished(path, started)
    try:
        out, _ = proc.communicate(timeout=settings.timeout)
        timed_out = None
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        timed_out = settings.timeout
    for line in out.splitlines():
        try:
            take(job, json.loads(line.decode("utf-8")))
        except ValueError:
            continue
    if job.record is not None:
        return finish(job, time.monotonic())
    if timed_out is not None:
        return finish(job, time.monotonic(), timed_out=timed_out)
    return finish(job, time.monotonic(), died=describe_exit(proc.returncode, job.oom))


class _Finished(object):
    __slots__ = ("path", "started", "sha256", "size", "file", "record", "oom")

    def __init__(self, path, started):
        self.path, self.started = path, started
        self.sha256 = self.size = self.file = self.record = None
        self.oom = False


def _subprocess_main(argv):
    # Messages go to the real stdout as JSON lines; fd 1 itself is pointed at
    # the null device so that nothing else written there can corrupt them.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)

    def send(msg):
        channel.write(json.dumps(list(msg)) + "\n")
        channel.flush()
    settings = Settings()
    settings.__setstate__(json.loads(argv[1]))
    guard_worker(settings)
    child_work(argv[0], settings, send)
    return 0


if __name__ == "__main__":
    sys.exit(_subprocess_main(sys.argv[1:]))
