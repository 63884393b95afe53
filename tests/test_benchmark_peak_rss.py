"""The benchmarks' peak RSS is the child's own (``bench_memtree.process_peak``,
from its ``VmHWM``), not ``ru_maxrss``, which Linux carries from the parent
into the child over fork and exec: a parent holding a large heap (as the
benchmarks do after building a 10^6-object snapshot) must not show as the
child's peak. A memory figure, not a timing."""

import os
import resource
import sys

import pytest

from cmdhelpers import ROOT, fixture

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import bench_memtree  # noqa: E402

PARENT_BYTES = 160 << 20
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="no /proc/self/status (VmHWM)")


@needs_proc
def test_a_childs_peak_is_its_own_not_the_parents():
    ballast = bytearray(b"\x01") * PARENT_BYTES   # touched pages: resident in this parent
    try:
        r, _wall = bench_memtree.child([sys.executable, bench_memtree.__file__, "--one",
                                        fixture("typical", "wdfsnap.json.gz")])
    finally:
        del ballast
    peak = bench_memtree.process_peak(r)
    assert r["objects"] > 0 and peak and r["load_peak"] and r["end_peak"]
    # what ru_maxrss would have said: the parent's ballast came with the fork
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 >= PARENT_BYTES
    assert peak >= max(r["load_peak"], r["end_peak"])
    assert peak < PARENT_BYTES // 2, "the child's peak (%d MB) carries the parent's heap" % (peak >> 20)
