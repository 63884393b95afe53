"""Benchmark: debugger round trips under a latency model (issue 9 item 3).

Every pykd call costs ``--latency`` milliseconds (2 ms: a KDNET or serial
kernel debugger). The target is the strict pykd stand-in
(``wdfdbg.testing.fake_pykd``: all-or-nothing ``loadBytes``) over the
``bulk`` scenario with ``--objects`` children of one driver (contiguous).
Rows:

- ``wdfdbg, read-ahead``: ``memtree --json`` as shipped (one ``loadBytes``
  brings up to 64 KiB), dump target (readable ranges known) and live
  target (speculative windows);
- ``wdfdbg, one page per call``: the same with read-ahead off;
- ``naive typedVar script``: a script that walks the child list and reads
  each member it prints through ``typedVar`` (``obj.m_Type`` and so on):
  kdlib reads each member from the target when it is accessed, one
  ``ReadVirtual`` each. The stand-in has no ``typedVar``, so its calls are
  *counted*, not made: 10 FxObject members per object (``__VFN_table``,
  ``m_Type``, ``m_ObjectSize``, ``m_Refcnt``, ``m_ObjectFlags``,
  ``m_ObjectState``, ``m_Globals``, ``m_ParentObject``,
  ``m_ChildListHead.Flink``, ``m_ChildEntry.Flink``) plus 3 for a WDFMEMORY
  (buffer, size, tag), plus one ``typedVar`` per object.

Simulated wall time = measured CPU time + round trips x latency. With
``--sleep`` the latency is slept for real on every call instead (slow).

    python benchmarks/bench_roundtrips.py [--objects 10000] [--latency 2] [--sleep]
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wdfdbg import memtree  # noqa: E402
from wdfdbg.layouts import Layouts  # noqa: E402
from wdfdbg.session import Session  # noqa: E402
from wdfdbg.sources import snapshot as snapfmt  # noqa: E402
from wdfdbg.sources.base import Target  # noqa: E402
from wdfdbg.testing import build  # noqa: E402
from wdfdbg.testing.fake_pykd import fake_pykd  # noqa: E402

MEMORY_FIELDS = 13   # 10 FxObject members + buffer, size, tag
OBJECT_FIELDS = 10
PYKD_CALLS = ("loadBytes", "isValid", "isVaRegionValid", "findMemoryRegion", "typeInfo", "findSymbolAndDisp",
              "getDebugOptions")


def sleepy(module, latency):
    """Make every memory/symbol call of the stand-in module sleep."""
    for name in PYKD_CALLS:
        fn = getattr(module, name, None)
        if fn is None:
            continue

        def wrap(*a, _fn=fn, **k):
            time.sleep(latency)
            return _fn(*a, **k)
        setattr(module, name, wrap)


def run(path, live, readahead, latency, sleep):
    with fake_pykd(path, live=live) as pk:
        if sleep:
            sleepy(pk, latency)
        from wdfdbg.sources.pykd_target import live_backend
        be = live_backend()
        t = Target(be, readahead=None if readahead else 0)
        s = Session(t, Layouts(t), be.kind, None, be.origin)
        out = io.StringIO()
        t0 = time.perf_counter()
        c0 = time.process_time()
        memtree.execute(s, memtree.parse_args(["--json", "--max-objects", str(10 ** 7)]), out=out)
        cpu = time.process_time() - c0
        wall = time.perf_counter() - t0
        calls = sum(pk.fake.calls.get(n, 0) for n in PYKD_CALLS)
        loads = pk.fake.calls.get("loadBytes", 0)
    doc = json.loads(out.getvalue())
    simulated = wall if sleep else cpu + calls * latency
    return {"calls": calls, "loads": loads, "round_trips": t.backend_reads, "pages": t.pages_fetched,
            "seconds": simulated, "objects": len(doc["objects"]), "doc": doc}


def naive(doc, latency):
    objs = doc["objects"]
    mem = sum(1 for o in objs if o.get("wdf_type") == "WDFMEMORY")
    calls = len(objs) * (1 + OBJECT_FIELDS) + mem * (MEMORY_FIELDS - OBJECT_FIELDS)
    return {"calls": calls, "seconds": calls * latency}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", type=int, default=10000)
    p.add_argument("--latency", type=float, default=2.0, help="milliseconds per pykd call")
    p.add_argument("--sleep", action="store_true", help="sleep the latency for real on every call")
    a = p.parse_args(argv)
    latency = a.latency / 1000.0
    built = build("bulk", n_objects=a.objects, group_size=0)
    tmp = tempfile.mkdtemp(prefix="wdfdbg-bench-")
    path = os.path.join(tmp, "bulk.wdfsnap.json")
    snapfmt.save(built.document(), path)
    ref = Target(snapfmt.SnapshotBackend(snapfmt.load(path)))
    s = Session(ref, Layouts(ref), "snapshot", None, "synthetic")
    memtree.execute(s, memtree.parse_args(["--json", "--max-objects", str(10 ** 7)]), out=io.StringIO())
    pages = ref.backend_reads
    print("%d objects, %d distinct pages touched, %.1f ms per pykd call (%s)"
          % (a.objects, pages, a.latency, "slept" if a.sleep else "simulated"))
    print("%-38s %10s %10s %12s %12s %10s" % ("", "pykd calls", "loadBytes", "loadBytes/pg", "seconds", "objects/s"))
    rows = []
    for label, live, ra in (("wdfdbg, read-ahead, dump", False, True), ("wdfdbg, read-ahead, live", True, True),
                            ("wdfdbg, one page per call, dump", False, False),
                            ("wdfdbg, one page per call, live", True, False)):
        r = run(path, live, ra, latency, a.sleep)
        rows.append((label, r))
        print("%-38s %10d %10d %12.3f %12.2f %10.0f" % (label, r["calls"], r["loads"], r["loads"] / float(pages),
                                                        r["seconds"], r["objects"] / r["seconds"]))
    nv = naive(rows[0][1]["doc"], latency)
    print("%-38s %10d %10s %12s %12.2f %10.0f" % ("naive typedVar script (counted)", nv["calls"], "-", "-",
                                                  nv["seconds"], a.objects / nv["seconds"]))
    best = rows[0][1]["seconds"]
    print()
    print("read-ahead (dump) vs naive typedVar: x%.0f faster; vs one page per call: x%.1f"
          % (nv["seconds"] / best, rows[2][1]["seconds"] / best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
