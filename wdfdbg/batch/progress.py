"""Progress of a batch on stderr: a tqdm bar when stderr is a terminal
(and tqdm is installed: the ``batch`` or ``dask`` extra), and one summary
line at the end in every case:

    wdfdbg batch: 12 done, 5 ok, 3 problems, 2 unreadable, 1 timeout, 1 crashed, 4 already recorded, 2 skipped (not a dump or snapshot); 14.2 s, 0.85 dumps/s
"""

import sys
import time

from wdfdbg.batch.record import STATUSES


class Progress(object):
    def __init__(self, total, stream=None, bar=None):
        self.stream = stream if stream is not None else sys.stderr
        self.counts = dict((s, 0) for s in STATUSES)
        self.done = 0
        self.skipped = 0
        self.not_inputs = 0  # files in folders that are neither dumps nor snapshots
        self.started = time.monotonic()
        self.bar = None
        if bar is None:
            bar = bool(getattr(self.stream, "isatty", lambda: False)())
        if bar and total:
            try:
                import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                # no monitor thread: the local engine forks workers from this process
                tqdm.tqdm.monitor_interval = 0
                self.bar = tqdm.tqdm(total=total, file=self.stream, unit="dump", dynamic_ncols=True, leave=True)

    def add(self, status):
        self.done += 1
        self.counts[status] = self.counts.get(status, 0) + 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(", ".join("%s %d" % (s, self.counts[s]) for s in STATUSES if self.counts[s]),
                                     refresh=False)

    def summary(self):
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = ["%d done" % self.done] + ["%d %s" % (self.counts[s], s) for s in STATUSES]
        if self.skipped:
            parts.append("%d already recorded" % self.skipped)
        if self.not_inputs:
            parts.append("%d skipped (not a dump or snapshot)" % self.not_inputs)
        return "wdfdbg batch: %s; %.1f s, %.2f dumps/s" % (", ".join(parts), elapsed, rate)

    def close(self, summary=True):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if summary:
            self.stream.write(self.summary() + "\n")
            self.stream.flush()
