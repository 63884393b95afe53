"""The HTML report of the real triage_x64.dmp agrees with itself: its "Top
problems" are the JSON triage's top problems (never "No problems to put
first" next to a problems card), the crashing driver's tree comes first,
and the report command prints the file's size in KB or MB, not hex."""

import os

import pytest

from test_html_report import REAL_X64, embedded, load, make_report, page_text
from test_html_report import browser  # noqa: F401  (the module-scoped Chromium fixture)
from wdfdbg.report import file_size_text


def need_x64():
    if not os.path.exists(REAL_X64):
        pytest.skip("../shared/dumps/triage_x64.dmp is absent")
    return REAL_X64


def test_file_size_text():
    assert file_size_text(512) == "0.5 KB"
    assert file_size_text(92730) == "90.6 KB"
    assert file_size_text(3 << 20) == "3.0 MB"


def test_report_line_says_size_in_kb_not_hex(tmp_path):
    from wdfdbg import report
    out = str(tmp_path / "r.html")
    code, line = report.execute(None, report.parse_args([need_x64(), "-o", out]))
    size = os.path.getsize(out)
    assert line.endswith(", %s" % file_size_text(size)) and "0x" not in line.split(": ", 1)[1]


def test_top_problems_and_crashing_driver_first(browser, tmp_path):  # noqa: F811
    _, out = make_report(need_x64(), tmp_path / "x64.html")
    doc = embedded(page_text(out))
    top = doc["triage"]["top_problems"]
    assert top and top[0]["code"] == "LOCK_HELD_BY_CRASHING_THREAD"
    page = load(browser, out)
    tops = page.evaluate("Array.from(document.querySelectorAll('#headline .top-problems li'), e => e.textContent)")
    assert [t.split()[1] for t in tops] == [p["code"] for p in top]
    assert "No problems to put first" not in page.evaluate("document.getElementById('headline').textContent")
    sections = page.evaluate("Array.from(document.querySelectorAll('#trees section.drv'), e => e.dataset.driver)")
    assert sections[0] == doc["triage"]["fault"]["kmdf_driver"]["name"] == "AmdPPM"
    assert len(sections) == 8
    summary = page.evaluate("Array.from(document.querySelectorAll('#drivers h3'), e => e.textContent)")
    assert summary and "AmdPPM" in summary[0]
    assert page.console_errors() == []
