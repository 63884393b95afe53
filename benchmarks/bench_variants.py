"""Benchmark: the same heap through the ways real offline input comes.

    python benchmarks/bench_variants.py [--children 20000,200000] [--bulk 1000000] [--keep DIR]

For each size of the ``leak`` scenario (one driver holding N WDFMEMORY
children) it writes the heap four ways and runs ``memtree --jsonl`` on each
in its own process (``bench_memtree.py --one``), whole process measured
from the parent:

* ``symbols``: a snapshot with types and every symbol (vtables included);
* ``no-vtables``: the same snapshot without the vtable symbols (memory
  classes decided by shape, ``class_source`` ``shape``);
* ``scan``: no types and no symbols (the built-in profile; no driver list,
  so the objects are found by the scan);
* ``bitmap``: the heap's pages as an x64 bitmap kernel dump (DumpType 5,
  written by the test suite's bitmap writer, ``tests/test_minidump.py``),
  read through kdmp-parser, no symbols;
* ``binary``: the ``symbols`` snapshot as a binary container
  (``docs/snapshot-binary.md``: the same JSON metadata, the memory as raw
  bytes read through mmap).

``--bulk`` sizes run the ``bulk`` scenario (groups of 1,000 objects under
one driver) with the variants named in ``--bulk-variants``: how walk time
and peak RSS grow up to 10^6 objects.

Each row: walk seconds, whole-process wall seconds (measured by the
parent), objects/s, round trips per object, peak RSS of the whole process
(the child's ``VmHWM``, ``bench_memtree.process_peak``: the larger of its
peak while loading and its peak during the analysis; not ``ru_maxrss``,
which Linux carries over a fork and exec from this parent, whose heaps
are large) and the ratios to
the ``symbols`` row of the same size; a calibration figure (CPU seconds
for 10^7 empty loop iterations) beside each, since the machine is shared.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench_memtree import BIG_SNAPSHOTS, process_peak  # noqa: E402

VARIANTS = ("symbols", "no-vtables", "scan", "bitmap", "binary")


def _vtable_symbol(name):
    return "`vftable'" in name


def write_variants(directory, scenario, n, variants):
    """Write the heap once per variant; {variant: path}."""
    from wdfdbg.sources import snapshot as snapfmt
    from wdfdbg.testing import build
    key = "%s-%d" % (scenario, n)
    paths = {}
    for v in variants:
        ext = {"bitmap": ".dmp", "binary": ".wdfsnap.bin"}.get(v, ".wdfsnap.json.gz")
        paths[v] = os.path.join(directory, "%s-%s%s" % (key, v, ext))
    todo = [v for v in variants if not os.path.exists(paths[v])]
    if not todo:
        return paths
    t0 = time.perf_counter()
    built = build(scenario, n=n) if scenario == "leak" else build(scenario, n_objects=n)
    for v in todo:
        if v == "bitmap":
            with open(paths[v], "wb") as f:
                f.write(bitmap_dump(built))
            continue
        if v == "binary":
            from wdfdbg.sources import snapshot_binary
            snapshot_binary.save(built.snapshot().doc, built.memory(), paths[v])
            continue
        if v == "scan":
            doc = built.document(types=False, symbols=False)
        else:
            doc = built.document(types=True, symbols=True)
            if v == "no-vtables":
                doc["symbols"] = dict((k, a) for k, a in doc["symbols"].items() if not _vtable_symbol(k))
        snapfmt.save(doc, paths[v])
        doc = None
    sys.stderr.write("built %s (%s) in %.0f s\n" % (key, ", ".join(todo), time.perf_counter() - t0))
    return paths


def bitmap_dump(built):
    """The heap's readable pages (whole pages, zero-filled holes) and its
    modules as an x64 bitmap kernel dump."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from test_minidump import build_bitmap_dump
    from wdfdbg.testing.heap.truth import module_records
    pages = {}
    for a, d in built.memory():
        d = bytes(d)
        pos = 0
        while pos < len(d):
            va = a + pos
            pa = va & ~0xFFF
            page = pages.get(pa)
            if page is None:
                page = pages[pa] = bytearray(0x1000)
            n = min(len(d) - pos, pa + 0x1000 - va)
            page[va - pa:va - pa + n] = d[pos:pos + n]
            pos += n
    mods = [("\\SystemRoot\\system32\\%s.%s" % (m["name"] if m["name"] != "nt" else "ntoskrnl",
                                                "exe" if m["name"] == "nt" else "sys"),
             int(m["base"], 16), m["size"]) for m in module_records(built.b)]
    return build_bitmap_dump(dict((a, bytes(p)) for a, p in pages.items()), modules=mods)


def run(path):
    """One child: (figures, whole-process wall seconds, child CPU seconds, peak RSS bytes or None)."""
    import resource
    me = os.path.join(HERE, "bench_memtree.py")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(BIG_SNAPSHOTS)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, me, "--one", path, "--jsonl"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, env=env)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        sys.stderr.write(err)
        raise SystemExit("%s failed (%d)" % (path, p.returncode))
    import json
    line = [x for x in out.splitlines() if x.startswith("{")][-1]
    r = json.loads(line)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return r, wall, cpu, process_peak(r)


def table(paths_by_n, variants, label):
    print(label)
    print("%9s %-11s %8s %8s %9s %8s %8s %9s %7s %7s %6s" % (
        "objects", "variant", "walk s", "process", "obj/s", "trips", "peak", "time", "RSS", "exit", "calib"))
    print("%9s %-11s %8s %8s %9s %8s %8s %9s %7s %7s %6s" % (
        "", "", "", "wall s", "(walk)", "/obj", "MB", "vs sym", "vs sym", "", "s"))
    rows = {}
    for n, paths in sorted(paths_by_n.items()):
        base = None
        for v in variants:
            r, wall, cpu, rss = run(paths[v])
            rows[(n, v)] = (r, wall, rss)
            objs = r["objects"] or 1
            if v == "symbols":
                base = (r, wall, rss)
            rt = "%8.2fx" % (r["seconds"] / base[0]["seconds"]) if base else "-"
            rr = "%6.2fx" % (rss / float(base[2])) if base and rss and base[2] else "-"
            print("%9d %-11s %8.2f %8.2f %9.0f %8.4f %8.0f %9s %7s %7d %6.2f" % (
                r["objects"], v, r["seconds"], wall, objs / r["seconds"], r["round_trips"] / float(objs),
                (rss or 0) / 1e6, rt, rr, r["exit"], r["calibration"]))
            sys.stdout.flush()
    ns = sorted(paths_by_n)
    if len(ns) > 1:
        a, b = ns[0], ns[-1]
        print()
        for v in variants:
            ra, wa, sa = rows[(a, v)]
            rb, wb, sb = rows[(b, v)]
            print("growth %-11s x%g objects: walk x%.1f, whole process x%.1f, peak RSS x%.2f (%.0f -> %.0f MB)" % (
                v, rb["objects"] / float(ra["objects"] or 1), rb["seconds"] / ra["seconds"], wb / wa,
                (sb or 0) / float(sa or 1), (sa or 0) / 1e6, (sb or 0) / 1e6))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--children", default="20000,200000", help="leak scenario sizes")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--bulk", default="", help="bulk scenario sizes, e.g. 10000,1000000")
    p.add_argument("--bulk-variants", default="symbols,no-vtables,binary")
    p.add_argument("--keep", help="keep the inputs in this directory (reused by later runs)")
    a = p.parse_args(argv)
    directory = a.keep or tempfile.mkdtemp(prefix="wdfdbg-variants-")
    if a.keep:
        os.makedirs(directory, exist_ok=True)
    variants = [v for v in a.variants.split(",") if v]
    try:
        sizes = [int(s) for s in a.children.split(",") if s]
        if sizes:
            paths = dict((n, write_variants(directory, "leak", n, variants)) for n in sizes)
            table(paths, variants, "memtree --jsonl, leak scenario (one driver, N WDFMEMORY children), "
                                   "one process per run")
        bulk = [int(s) for s in a.bulk.split(",") if s]
        if bulk:
            bv = [v for v in a.bulk_variants.split(",") if v]
            paths = dict((n, write_variants(directory, "bulk", n, bv)) for n in bulk)
            print()
            table(paths, bv, "memtree --jsonl, bulk scenario (groups of 1,000 under one driver)")
    finally:
        if not a.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
