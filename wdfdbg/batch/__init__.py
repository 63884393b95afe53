"""Pipelines: ``wdfdbg batch`` analyses many dumps, one JSON record each
(``wdfdbg.dumprecord/1``), each in an isolated worker, on this machine or
on Dask; ``wdfdbg corpus`` adds the records up. See ``docs/batch.md``.

    inputs.py        which files, and their sha256
    analyse.py       one input through the single-dump contract (memtree --jsonl)
    report_stream.py memtree's JSONL stream read line by line
    record.py        the record builder; signature.py its bucket id
    isolate.py       worker processes: timeout, memory cap, fault hook; warm.py
    engines.py       local engine; dask_engine.py the Dask one
    writer.py        OUT: checks, appends, resume index
    progress.py      tqdm bar or a summary line
    pipeline.py      all of it in order; cli.py the command
    aggregate.py     the corpus summary (``wdfdbg corpus``); tables.py its text
"""


def main(argv=None):
    from wdfdbg.batch.cli import main as _main
    return _main(argv)
