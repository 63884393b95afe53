"""``--engine dask``: the same per-input function on a Dask cluster.

Dask's documented pattern for many files is ``from_sequence(paths).map(f)``
(or ``client.map``); here each input is one task, :func:`analyse_task`,
submitted through a ``distributed.Client`` with a bounded number in flight
(``as_completed``), so a million paths never sit in the scheduler at once
and each record streams back to the writer as it finishes. Every task
still runs the analysis in a subprocess with the same timeout and memory
cap (:func:`wdfdbg.batch.isolate.run_isolated`).

Without ``--scheduler`` a ``distributed.LocalCluster`` is started on the
loopback interface: one worker process with ``--jobs`` threads (each
thread only waits for its subprocess, so one process is enough and leaves
the cores to the analyses), non-daemonic so that it may start them. With
``--scheduler tcp://HOST:PORT`` the tasks go to that cluster; its workers
need wdfdbg installed and the input paths readable, and run the
subprocess fallback when they are daemonic.

dask and distributed are imported only here (``pip install wdfdbg[dask]``).
"""

import logging

from wdfdbg.errors import UsageError

WINDOW_PER_THREAD = 4  # tasks in flight per worker thread


def analyse_task(path, settings):
    """The task: one input's record (runs on a Dask worker)."""
    from wdfdbg.batch.isolate import run_isolated
    return run_isolated(path, settings)


def _import():
    try:
        import dask
        import distributed
    except ImportError as e:
        raise UsageError("--engine dask needs dask and distributed (pip install 'wdfdbg[dask]'): %s" % e)
    return dask, distributed


class DaskEngine(object):
    name = "dask"

    def __init__(self, settings, jobs=None, scheduler=None):
        from wdfdbg.batch.engines import default_jobs
        self.settings = settings
        self.jobs = jobs or default_jobs()
        self.scheduler = scheduler
        self.cluster = None
        self.client = None

    def __enter__(self):
        dask, distributed = _import()
        try:
            if self.scheduler:
                self.client = distributed.Client(self.scheduler, timeout="10s", set_as_default=False)
            else:
                with dask.config.set({"distributed.worker.daemon": False}):
                    self.cluster = distributed.LocalCluster(
                        n_workers=1, threads_per_worker=self.jobs, processes=True, host="127.0.0.1",
                        dashboard_address=None, silence_logs=logging.ERROR, memory_limit=0)
                self.client = distributed.Client(self.cluster, set_as_default=False)
        except (OSError, ValueError, TimeoutError) as e:
            self.__exit__()
            where = self.scheduler or "a LocalCluster"
            raise UsageError("--engine dask: cannot reach %s: %s" % (where, e))
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        return False

    def threads(self):
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # a scheduler that does not answer yet: a guess is enough for a window
            return self.jobs

    def results(self, paths):
        from distributed import as_completed
        from wdfdbg.batch.isolate import finish
        client = self.client
        pending = iter(paths)
        started = {}  # future key -> (path, submitted at)

        def submit():
            path = next(pending, None)
            if path is None:
                return None
            fut = client.submit(analyse_task, path, self.settings, pure=False)
            started[fut.key] = (path, _now())
            return fut
        first = [f for f in (submit() for _ in range(WINDOW_PER_THREAD * self.threads())) if f is not None]
        if not first:
            return
        queue = as_completed(first, loop=client.loop)
        for fut in queue:
            path, t0 = started.pop(fut.key)
            try:
                rec = fut.result()
            except Exception as e:  # the task itself failed (a worker lost: KilledWorker)
                rec = finish(_Lost(path, t0), _now(), died="dask: %s: %s" % (type(e).__name__, e))
            fut.release()
            nxt = submit()
            if nxt is not None:
                queue.add(nxt)
            yield rec


def _now():
    import time
    return time.monotonic()


class _Lost(object):
    """A task that never returned: its record is made here."""

    def __init__(self, path, started):
        self.path = path
        self.started = started
        self.sha256 = self.size = self.file = self.record = None
