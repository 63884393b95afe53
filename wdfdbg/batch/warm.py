"""Imported to warm a process that workers are forked from (the local
engine's parent, the forkserver a Dask worker starts): one analysis of
the bundled sample snapshot loads every module an analysis imports lazily
and fills the caches it builds on first use (layout profiles, type
compilers), so each forked worker starts with them instead of paying for
them per input (about 100 ms each on the benchmark corpus)."""

from wdfdbg.batch.analyse import analyse_file


def warm_up():
    try:
        from wdfdbg.session import sample_path
        analyse_file(sample_path(), None, None)
    except Exception:  # warming is an optimisation: a failure here only costs time later
        pass


warm_up()
