"""``wdfdbg report``: the self-contained HTML page, checked statically (CSP,
nothing remote, the embedded report is memtree's, data cannot break out of
its script element) and in a real browser: Debian's headless Chromium
driven over the DevTools protocol (tests/chromium.py), loaded from
``file://``. The rendered DOM must hold one ``data-address`` element per
object of ``memtree --json``; search filters, collapsing hides, the keyboard
moves, problem rows lead to their object; nothing is requested but the page
itself. Screenshots go to the test's tmp folder and their paths are printed.
Skipped, with the reason, where Chromium is not installed."""

import gzip
import json
import os
import re
import subprocess
import sys

import pytest

from chromium import Browser, BrowserError, chromium_path
from cmdhelpers import fixture, run
from wdfdbg import memtree
from wdfdbg import report as reportcmd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_X64 = os.path.join(os.path.dirname(ROOT), "shared", "dumps", "triage_x64.dmp")
RENDERED = "document.documentElement.dataset.wdfdbgRendered === 'complete'"


def make_report(source, out, *extra):
    code, line = reportcmd.execute(None, reportcmd.parse_args([source, "-o", str(out)] + list(extra)))
    assert line.startswith("wrote %s: " % out) and os.path.getsize(str(out)) > 0
    return code, str(out)


def page_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def embedded(html, name="wdfdbg-report"):
    m = re.search(r'<script type="application/json" id="%s">(.*?)</script>' % name, html, re.S)
    assert m, name
    return json.loads(m.group(1))


def memtree_json(source, *extra):
    _, text = run(memtree, [source, "--json"] + list(extra))
    return json.loads(text)


@pytest.fixture(scope="module")
def typical(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "typical.html"
    make_report(fixture("typical", "wdfsnap.json.gz"), out)
    return str(out)


@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    try:
        b = Browser()
    except (BrowserError, OSError) as e:
        pytest.skip("chromium cannot start here: %s" % e)
    yield b
    b.close()


def show(capsys, record_property, what, path):
    record_property(what, path)
    with capsys.disabled():
        sys.stdout.write("\n[screenshot] %s: %s\n" % (what, path))


def load(browser, path, scheme="light", height=1000):
    page = browser.new_page(width=1280, height=height, scheme=scheme)
    page.goto("file://" + os.path.abspath(path))
    page.wait_for(RENDERED, timeout=120)
    return page


# -- the file itself ---------------------------------------------------------------
def test_page_is_self_contained(typical):
    html = page_text(typical)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html).group(1)
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "style-src 'sha256-" in csp
    assert html.index("Content-Security-Policy") < html.index("<style>")
    assert not re.search(r'\b(src|href|action|poster|data)\s*=\s*["\']?\s*(https?:|//|ftp:)', html, re.I)
    assert "@import" not in html and not re.search(r"url\(\s*['\"]?(https?:|//)", html)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts == [' type="application/json" id="wdfdbg-report"', ' type="application/json" id="wdfdbg-tree"', ""]
    assert "<link" not in html and "<iframe" not in html


def test_embedded_report_is_memtrees(typical):
    doc = embedded(page_text(typical))
    assert doc == memtree_json(fixture("typical", "wdfsnap.json.gz"))
    parents = embedded(page_text(typical), "wdfdbg-tree")["parents"]
    index = dict((o["address"], i) for i, o in enumerate(doc["objects"]))
    assert [index.get(o["parent"], -1) for o in doc["objects"]] == parents


def hostile_report(tmp_path):
    doc = memtree_json(fixture("typical", "wdfsnap.json.gz"))
    evil = "</script><script>window.pwned=1</script><!-- & </SCRIPT >"
    doc["problems"][0]["message"] = evil
    doc["objects"][3]["class"] = evil
    doc["triage"] = {"headline": ["Bugcheck 0x10d: " + evil, "second line"], "faulting_module": "amdppm+0x334c"}
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    return doc, evil, str(path)


def test_data_cannot_break_out_and_triage_is_shown(tmp_path):
    doc, evil, src = hostile_report(tmp_path)
    _, out = make_report(src, tmp_path / "hostile.html")
    html = page_text(out)
    assert "<script>window.pwned" not in html and html.count("</script>") == 3
    assert embedded(html) == doc
    assert "Bugcheck 0x10d: &lt;/script&gt;" in html and "faulting module" in html and "amdppm+0x334c" in html


def test_output_errors_are_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("WDFDBG_DEBUG", None)
    src = fixture("typical", "wdfsnap.json.gz")
    copy = tmp_path / "in.wdfsnap.json.gz"
    copy.write_bytes(open(src, "rb").read())
    for out in (str(tmp_path), str(copy), str(tmp_path / "missing-dir" / "x.html")):
        p = subprocess.run([sys.executable, "-m", "wdfdbg.cli", "report", str(copy), "-o", out], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        err = p.stderr.decode().strip()
        assert p.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert copy.read_bytes() == open(src, "rb").read()  # the input is untouched
    assert sorted(os.listdir(str(tmp_path))) == ["in.wdfsnap.json.gz"]  # no temporary file left


def test_driver_filter(tmp_path):
    _, out = make_report(fixture("two_drivers", "wdfsnap.json.gz"), tmp_path / "w.html", "--driver", "wdfsample")
    doc = embedded(page_text(out))
    assert doc["objects"] and set(o["driver"] for o in doc["objects"]) == {"Wdfsample"}


def test_gzip_report_json_source(tmp_path):
    doc = memtree_json(fixture("corrupt", "wdfsnap.json.gz"))
    src = tmp_path / "corrupt.json.gz"
    src.write_bytes(gzip.compress(json.dumps(doc).encode()))
    code, out = make_report(str(src), tmp_path / "c.html")
    assert code == 1 and embedded(page_text(out)) == doc  # error problems: exit 1, like memtree


# -- in the browser ----------------------------------------------------------------
def dom_addresses(page):
    return page.evaluate("Array.from(document.querySelectorAll('[data-address]'), e => e.dataset.address)")


def visible(page, selector="li[role=treeitem]"):
    return page.evaluate("Array.from(document.querySelectorAll('%s')).filter(e => e.getClientRects().length)"
                         ".map(e => e.dataset.address)" % selector)


def test_typical_in_chromium(browser, typical, tmp_path, capsys, record_property):
    doc = memtree_json(fixture("typical", "wdfsnap.json.gz"))
    objects = doc["objects"]
    page = load(browser, typical)
    # one data-address element per object of memtree --json
    assert sorted(dom_addresses(page)) == sorted(o["address"] for o in objects)
    handles = page.evaluate("Array.from(document.querySelectorAll('[data-handle]'), e => e.dataset.handle)")
    assert sorted(handles) == sorted(o["handle"] for o in objects if o["handle"])
    assert page.requests() == ["file://" + os.path.abspath(typical)]
    assert page.console_errors() == []
    assert page.evaluate("document.querySelectorAll('svg.treemap rect').length") > 5

    # search by handle: the match and its ancestors only
    target = [o for o in objects if o["class"] == "FxRequestMemory"][0]
    page.evaluate("(() => { const s = document.getElementById('search'); s.value = '%s';"
                  " s.dispatchEvent(new Event('input')); })()" % target["handle"])
    page.wait_for("document.getElementById('status').textContent.indexOf('1 of %d') === 0" % len(objects), timeout=10)
    chain, a = [], target["address"]
    by_addr = dict((o["address"], o) for o in objects)
    while a:
        chain.append(a)
        a = by_addr[a]["parent"]
    assert sorted(visible(page)) == sorted(chain)
    # by pool tag, by class, by type
    for q, expect in (("LaNP", [o for o in objects if "LaNP" in json.dumps([o.get("memory"), o.get("lookaside")])]),
                      ("fxspinlock", [o for o in objects if o["class"] == "FxSpinLock"]),
                      ("WDFLOOKASIDE", [o for o in objects if o["wdf_type"] == "WDFLOOKASIDE"])):
        assert page.evaluate("wdfdbgSearch('%s')" % q) == len(expect) > 0
        shown = set(visible(page, "li.match"))
        assert shown == set(o["address"] for o in expect), q
    assert page.evaluate("wdfdbgSearch('')") == 0
    assert len(visible(page)) > 10

    # collapsing: the WDFDEVICE's descendants disappear, aria-expanded says so
    dev = [o for o in objects if o["wdf_type"] == "WDFDEVICE"][0]
    sel = "li[data-address=\"%s\"]" % dev["address"]
    page.evaluate("document.querySelector('%s > .row > .tw').click()" % sel)
    assert page.evaluate("document.querySelector('%s').getAttribute('aria-expanded')" % sel) == "false"
    under = [o["address"] for o in objects if o["parent"] == dev["address"]]
    assert under and not set(under) & set(visible(page))
    page.evaluate("document.querySelector('%s > .row > .tw').click()" % sel)
    assert set(under) <= set(visible(page))

    # keyboard: click the root, Down moves, Left on the device closes it, Right opens it
    page.evaluate("document.querySelector('li[role=treeitem] > .row > .cl').click()")
    assert page.evaluate("document.activeElement.dataset.address") == objects[0]["address"]
    page.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.address") == dev["address"]
    page.press("ArrowLeft")
    assert page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "false"
    page.press("ArrowRight")
    assert page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "true"
    page.press("Enter")
    assert dev["address"] in page.evaluate("document.getElementById('details-body').textContent")
    assert page.evaluate("document.querySelectorAll('li[tabindex=\"0\"]').length") == 1

    # a problem row leads to its object
    bad = [o for o in objects if o["problems"]]
    if bad:
        page.evaluate("document.querySelector('table.problems a[data-i]').click()")
        assert page.evaluate("document.activeElement.getAttribute('aria-selected')") == "true"

    page.evaluate("document.querySelector('[data-handle=\"%s\"] > .row').click()" % target["handle"])
    light = page.screenshot(str(tmp_path / "typical-light.png"), full_page=True)
    show(capsys, record_property, "typical report (light)", light)
    dark_page = load(browser, typical, scheme="dark")
    assert dark_page.evaluate("getComputedStyle(document.documentElement).backgroundColor") != \
        page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    dark = dark_page.screenshot(str(tmp_path / "typical-dark.png"))
    show(capsys, record_property, "typical report (dark)", dark)


def test_hostile_data_stays_text(browser, tmp_path):
    doc, evil, src = hostile_report(tmp_path)
    _, out = make_report(src, tmp_path / "hostile.html")
    page = load(browser, out)
    assert page.evaluate("window.pwned === undefined")
    assert len(dom_addresses(page)) == len(doc["objects"])
    assert evil in page.evaluate("document.body.textContent")


def test_triage_dump_in_chromium(browser, tmp_path, capsys, record_property):
    if not os.path.exists(REAL_X64):
        pytest.skip("../shared/dumps/triage_x64.dmp is absent")
    _, out = make_report(REAL_X64, tmp_path / "triage_x64.html")
    doc = memtree_json(REAL_X64)
    assert embedded(page_text(out)) == doc
    page = load(browser, out)
    assert sorted(dom_addresses(page)) == sorted(o["address"] for o in doc["objects"])
    assert page.requests() == ["file://" + os.path.abspath(out)]
    assert "minidump" in page.evaluate("document.getElementById('source').textContent")
    shot = page.screenshot(str(tmp_path / "triage_x64.png"), full_page=True)
    show(capsys, record_property, "triage_x64 report", shot)


# -- reading reports as they stream (wdfdbg/render/reportreader.py) ----------------
def test_report_reader_any_chunking_same_document():
    import random
    from wdfdbg.render.reportreader import ReportReader
    doc = memtree_json(fixture("corrupt", "wdfsnap.json.gz"))
    doc["problems"] = doc["problems"] * 50  # a long top-level array, read element by element
    text = json.dumps(doc)
    rng = random.Random(13)
    for _ in range(20):
        keys, objs = [], []
        r = ReportReader(lambda k, v: keys.append((k, v)), objs.append)
        i = 0
        while i < len(text):
            n = rng.choice([1, 7, 100, 4096, 70000])
            r.write(text[i:i + n])
            i += n
        r.close()
        assert objs == doc["objects"] and r.objects == len(doc["objects"])
        assert keys == [(k, v) for k, v in doc.items() if k != "objects"]


@pytest.mark.parametrize("text", ["", "{", '{"a": 1', '{"objects": 3}', "[1]", '{"a": 1} x', '{"objects": [1]}',
                                  '{"a" 1}', '{"a": 1,, "b": 2}', '{"objects": [{}, ]}', "\x00"])
def test_report_reader_refuses_what_is_not_a_report(text):
    from wdfdbg.errors import InputError
    from wdfdbg.render.reportreader import ReportReader
    r = ReportReader(lambda k, v: None, lambda o: None, what="x.json")
    with pytest.raises(InputError) as e:
        r.write(text)
        r.close()
    assert str(e.value).startswith("x.json: ") and "\n" not in str(e.value)


def test_same_input_same_page(tmp_path, typical):
    _, again = make_report(fixture("typical", "wdfsnap.json.gz"), tmp_path / "again.html")
    assert open(again, "rb").read() == open(typical, "rb").read()
