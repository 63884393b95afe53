"""Regenerate ``docs/report-triage.png``: the HTML report of the real
``../shared/dumps/triage_x64.dmp`` in Debian's headless Chromium (driven as
the tests drive it, ``tests/chromium.py``), its headline lock followed, a
1280x900 viewport capture scrolled back to the top (docs/report-html.md).

    python scripts/make_report_triage_png.py [OUT.png]
"""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from chromium import Browser  # noqa: E402  (tests/chromium.py, stdlib only)
from wdfdbg import report  # noqa: E402

DUMP = os.path.join(os.path.dirname(ROOT), "shared", "dumps", "triage_x64.dmp")
RENDERED = "document.documentElement.dataset.wdfdbgRendered === 'complete'"


def main(argv):
    out = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(ROOT, "docs", "report-triage.png"))
    if not os.path.exists(DUMP):
        sys.stderr.write("make_report_triage_png: %s is absent\n" % DUMP)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        html = os.path.join(tmp, "triage_x64.html")
        here = os.getcwd()
        os.chdir(os.path.dirname(DUMP))   # the page names the dump as given: its file name, not this machine's path
        try:
            code, line = report.execute(None, report.parse_args([os.path.basename(DUMP), "-o", html]))
        finally:
            os.chdir(here)
        print(line)
        with Browser() as b:
            page = b.new_page(width=1280, height=900, scheme="light")
            page.goto("file://" + html)
            page.wait_for(RENDERED, timeout=120)
            page.evaluate("document.querySelector('#headline li.lock a[data-i]').click()")
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(out)
    print("wrote %s (%d bytes)" % (out, os.path.getsize(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
