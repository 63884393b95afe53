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
from wdfdbg.render.streams import say


class Plan(object):
    """What a run will do: ``todo`` paths to analyse, ``skipped`` already
    recorded (their statuses), ``not_inputs`` files in folders that are
    neither dumps nor snapshots, ``unlisted`` folders that could not be
    listed, and OUT's unreadable lines."""

    __slots__ = ("todo", "skipped", "not_inputs", "unlisted", "bad_lines")

    def __init__(self):
        self.todo = []
        self.skipped = []
        self.not_inputs = 0
        self.unlisted = []
        self.bad_lines = 0


def plan(specs, output, out_fd, redo=False):
    """The :class:`Plan` of a batch on the open, locked OUT ``out_fd``."""
    found = inp.expand(specs, output)
    result = Plan()
    result.not_inputs = found.skipped
    result.unlisted = found.unlisted
    index = out.Index() if redo else out.read_index(out_fd, __version__)
    result.bad_lines = index.bad_lines
    for item in found.inputs:
        status = _recorded(item.path, index)
        if status is not None:
            result.skipped.append(status)
        else:
            result.todo.append(item.path)
    return result


def _recorded(path, index):
    """The status OUT holds for ``path``'s current content, or None when it
    must be analysed: not recorded, changed, or recorded ``timeout`` or
    ``crashed`` fewer than RETRIES times (transient: a rerun tries again).
    An unchanged size, mtime, inode and device is trusted without hashing
    (as rsync trusts size and mtime); otherwise the file is hashed and its
    content looked up, under this path or under a path that no longer
    exists (a renamed file)."""
    known = index.paths.get(path)
    if known is not None and known.status in out.RETRIED and known.attempts < out.RETRIES:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None  # a missing input: analysed, so that its record says so
    if known is not None and known.sha256 and known.size == st.st_size and known.file == inp.file_stat(st):
        return known.status
    if known is None and not index.contents:
        return None
    try:
        sha, _ = inp.file_digest(path)
    except OSError:
        return None
    if known is not None and sha == known.sha256:
        return known.status
    status, where = index.contents.get(out.content_key(sha), (None, None))
    if where is not None and where != path and not os.path.lexists(where):
        return status  # renamed: its record is there under the old name (a copy beside it is analysed)
    return None


def run_batch(specs, output, jobs=None, timeout=None, memory_cap=None, engine="local", scheduler=None, redo=False,
              progress_stream=None, bar=None):
    """Analyse, write, report progress; returns the exit code."""
    if output == "-":
        raise UsageError("-o -: batch appends records to a file it can read back (resume); standard output is not one")
    output = check_output_path(output, append=True)  # before any work; never an input: inputs.expand
    for spec in specs:  # a file named as an input: said so before OUT's content is looked at
        if not spec.startswith("@") and same_file(spec, output):
            raise UsageError("-o %s is also an input: the records would be analysed as a dump" % output)
    fd = out.open_out(output)
    try:
        return _run(specs, output, fd, jobs, timeout, memory_cap, engine, scheduler, redo, progress_stream, bar)
    finally:
        out.close_out(fd)


def _run(specs, output, fd, jobs, timeout, memory_cap, engine, scheduler, redo, progress_stream, bar):
    p = plan(specs, output, fd, redo=redo)
    settings = Settings(timeout=timeout, memory_cap=memory_cap)
    statuses = list(p.skipped)
    progress = Progress(len(p.todo), stream=progress_stream, bar=bar)  # its clock includes starting a cluster
    progress.skipped = len(p.skipped)
    progress.not_inputs = p.not_inputs
    for folder, reason in p.unlisted:
        say("wdfdbg batch: %s: cannot list the folder: %s (its files are left out)" % (folder, reason))
    failed = 1 if p.unlisted else 0
    if not p.todo:  # everything is recorded already: no workers, no cluster
        progress.close()
        return max(failed, _exit_code(statuses))
    eng = make_engine(engine, settings, jobs=jobs, scheduler=scheduler)
    try:
        eng.__enter__()
        writer = out.RecordWriter(output, fd)
        for rec in eng.results(p.todo):
            writer.write(rec)
            progress.add(rec["status"])
            statuses.append(rec["status"])
    except UsageError:  # no dask, no scheduler, OUT stopped taking records: the one line is the error's
        progress.close(summary=False)
        raise
    except KeyboardInterrupt:  # what was done is recorded; say how far it got
        progress.close()
        raise
    finally:
        eng.__exit__(None, None, None)
    progress.close()
    return max(failed, _exit_code(statuses))


def _exit_code(statuses):
    return 0 if all(s == "ok" for s in statuses) else 1
