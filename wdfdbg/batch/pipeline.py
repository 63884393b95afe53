"""The batch itself: inputs -> (resume) -> engine -> writer -> progress.

Exit code: 0 every input analysed and none with error-level problems
(inputs already recorded count with their recorded status); 1 some have
problems or could not be analysed (their records say why); 2 bad usage,
or OUT cannot be written (checked before any work starts).
"""

import os

from wdfdbg import __version__
from wdfdbg.batch import inputs as inp
from wdfdbg.batch import writer as out
from wdfdbg.batch.engines import make_engine
from wdfdbg.batch.isolate import Settings
from wdfdbg.batch.progress import Progress
from wdfdbg.errors import UsageError
from wdfdbg.render.files import check_output_path, same_file


class Plan(object):
    """What a run will do: ``todo`` paths to analyse, ``skipped`` already
    recorded (their statuses), and OUT's unreadable lines."""

    __slots__ = ("todo", "skipped", "bad_lines")

    def __init__(self):
        self.todo = []
        self.skipped = []
        self.bad_lines = 0


def plan(specs, output, redo=False):
    check_output_path(output, append=True)  # before any work; never an input: below, once expanded
    found = inp.expand(specs)
    result = Plan()
    index, result.bad_lines = ({}, 0) if redo else out.read_index(output, __version__)
    for item in found:
        if same_file(item.path, output):
            if item.explicit:
                raise UsageError("-o %s is also an input: the records would be analysed as a dump" % output)
            continue  # OUT inside an input folder is not a candidate
        known = index.get(item.path)
        if known is not None and known.sha256 and _unchanged(item.path, known):
            result.skipped.append(known.status)
        else:
            result.todo.append(item.path)
    return result


def _unchanged(path, known):
    """Is ``path`` still the content ``known`` recorded? The size is
    compared first so that only same-sized files are hashed again."""
    try:
        if known.size is not None and os.stat(path).st_size != known.size:
            return False
        sha, _ = inp.file_digest(path)
    except OSError:
        return False
    return sha == known.sha256


def run_batch(specs, output, jobs=None, timeout=None, memory_cap=None, engine="local", scheduler=None, redo=False,
              progress_stream=None, bar=None):
    """Analyse, write, report progress; returns the exit code."""
    p = plan(specs, output, redo=redo)
    settings = Settings(timeout=timeout, memory_cap=memory_cap)
    statuses = list(p.skipped)
    progress = Progress(len(p.todo), stream=progress_stream, bar=bar)  # its clock includes starting a cluster
    progress.skipped = len(p.skipped)
    if not p.todo:  # everything is recorded already: no workers, no cluster
        progress.close()
        return _exit_code(statuses)
    eng = make_engine(engine, settings, jobs=jobs, scheduler=scheduler)
    try:
        eng.__enter__()
        writer = out.RecordWriter(output)
        try:
            for rec in eng.results(p.todo):
                writer.write(rec)
                progress.add(rec["status"])
                statuses.append(rec["status"])
        finally:
            writer.close()
    except UsageError:  # no dask, no scheduler, OUT stopped taking records: the one line is the error's
        progress.close(summary=False)
        raise
    except KeyboardInterrupt:  # what was done is recorded; say how far it got
        progress.close()
        raise
    finally:
        eng.__exit__(None, None, None)
    progress.close()
    return _exit_code(statuses)


def _exit_code(statuses):
    return 0 if all(s == "ok" for s in statuses) else 1
