"""Where the isolated workers run: this machine (``local``) or a Dask
cluster (``dask``, :mod:`wdfdbg.batch.dask_engine`). Each engine is a
context manager whose :meth:`results` yields one record per path as it
finishes; the same writer takes them whatever the engine."""

import os

from wdfdbg.batch import isolate


def default_jobs():
    return max(1, os.cpu_count() or 1)


class LocalEngine(object):
    """``jobs`` workers at a time, forked from this (single-threaded) process."""

    name = "local"

    def __init__(self, settings, jobs=None):
        self.settings = settings
        self.jobs = jobs or default_jobs()

    def __enter__(self):
        import wdfdbg.batch.warm  # noqa: F401  (imported and warmed once here, inherited by every forked worker)
        return self

    def __exit__(self, *exc):
        return False

    def results(self, paths):
        return isolate.run_many(paths, self.settings, self.jobs)


def make_engine(name, settings, jobs=None, scheduler=None):
    if name == "dask":
        from wdfdbg.batch.dask_engine import DaskEngine
        return DaskEngine(settings, jobs=jobs, scheduler=scheduler)
    return LocalEngine(settings, jobs=jobs)
