"""Benchmark: ``wdfdbg report`` on big synthetic heaps, then the page in
headless Chromium (Debian's package, driven over the DevTools pipe by
``tests/chromium.py``).

Prints, per size: the time to write the HTML (walk + aggregates + page) and
its size and peak memory (tracemalloc); in the browser, the script's own
figures (JSON parse, first draw, every object drawn: ``window.wdfdbgTiming``,
milliseconds since navigation start), the load event, the DOM size, the JS
heap, and the time of a search and of expanding everything. It checks that
the DOM holds one ``data-address`` element per object.

    python benchmarks/bench_report.py [--sizes 10000,100000] [--keep DIR]
"""

import argparse
import os
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from wdfdbg import memtree  # noqa: E402
from wdfdbg.layouts import Layouts  # noqa: E402
from wdfdbg.render.html import HtmlReport, write_atomically  # noqa: E402
from wdfdbg.render.reportreader import ReportReader  # noqa: E402
from wdfdbg.session import Session  # noqa: E402
from wdfdbg.sources.base import Target  # noqa: E402
from wdfdbg.testing import build  # noqa: E402

RENDERED = "document.documentElement.dataset.wdfdbgRendered === 'complete'"


def write_report(n, path, trace):
    backend = build("bulk", n_objects=n).backend()
    target = Target(backend)
    session = Session(target, Layouts(target), "snapshot", "bulk-%d (in memory)" % n, "synthetic")
    args = memtree.parse_args(["--json", "--max-objects", str(10 ** 7)])
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    page = HtmlReport()
    reader = ReportReader(page.on_key, page.on_object, tee=page.embed)
    memtree.execute(session, args, out=reader)
    reader.close()
    size = write_atomically(path, page.write)
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return dt, size, peak, page.objects


def browse(path, n):
    from chromium import Browser
    with Browser(timeout=600) as b:
        page = b.new_page(width=1280, height=900)
        t0 = time.perf_counter()
        page.goto("file://" + os.path.abspath(path), timeout=600)
        load_s = time.perf_counter() - t0
        page.wait_for(RENDERED, timeout=600, poll=0.2)
        wall_s = time.perf_counter() - t0
        timing = page.evaluate("window.wdfdbgTiming")
        nav = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        count = page.evaluate("document.querySelectorAll('[data-address]').length")
        nodes = page.evaluate("document.getElementsByTagName('*').length")
        page.send("Performance.enable")
        metrics = dict((m["name"], m["value"]) for m in page.send("Performance.getMetrics")["metrics"])
        t = page.evaluate("(() => { const t = performance.now(); const k = wdfdbgSearch('blkp');"
                          " return [performance.now() - t, k]; })()")
        page.evaluate("wdfdbgSearch('')")
        e = page.evaluate("(() => { const t = performance.now(); document.getElementById('expand-all').click();"
                          " return performance.now() - t; })()")
    return {"load_s": load_s, "wall_s": wall_s, "timing": timing, "load_event_ms": nav, "count": count,
            "nodes": nodes, "heap_mb": metrics.get("JSHeapUsedSize", 0) / 1e6, "search_ms": t[0], "search_hits": t[1],
            "expand_ms": e}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--keep", help="leave the HTML files in this folder")
    p.add_argument("--no-memory", action="store_true", help="skip the tracemalloc figure (faster)")
    a = p.parse_args(argv)
    folder = a.keep or tempfile.mkdtemp(prefix="wdfdbg-bench-report-")
    if not os.path.isdir(folder):
        os.makedirs(folder)
    print("%9s %9s %9s %9s | %9s %9s %11s %9s %9s %9s %9s %9s %10s" % (
        "objects", "write s", "HTML MB", "peak MB", "parse ms", "first ms", "complete ms", "load ms", "DOM el",
        "JS MB", "search ms", "expand ms", "data-addr"))
    for n in [int(s) for s in a.sizes.split(",")]:
        path = os.path.join(folder, "bulk-%d.html" % n)
        dt, size, peak, objects = write_report(n, path, trace=not a.no_memory)
        r = browse(path, objects)
        t = r["timing"]
        print("%9d %9.1f %9.1f %9s | %9.0f %9.0f %11.0f %9.0f %9d %9.0f %9.0f %9.0f %10s" % (
            objects, dt, size / 1e6, "%.0f" % (peak / 1e6) if peak else "-", t["parse_ms"], t["first_draw_ms"],
            t["complete_ms"], r["load_event_ms"], r["nodes"], r["heap_mb"], r["search_ms"], r["expand_ms"],
            "ok" if r["count"] == objects else "%d != %d" % (r["count"], objects)))
        sys.stdout.flush()
        if not a.keep:
            os.remove(path)
    if not a.keep:
        os.rmdir(folder)
    print("times in ms from navigation start (parse: the embedded JSON parsed; first: the first levels drawn; "
          "complete: every object drawn, collapsed below level 2); write s: walk + aggregates + page")


if __name__ == "__main__":
    main()
