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


def triage_schema():
    """TRIAGE_SCHEMA with the report schema's $defs (its $refs)."""
    import copy
    from wdfdbg.analysis.headline import TRIAGE_SCHEMA
    from wdfdbg.render.report import load_schema
    full = load_schema()
    doc = copy.deepcopy(TRIAGE_SCHEMA)
    doc["$schema"], doc["$defs"] = full.get("$schema"), full["$defs"]
    return doc


def typical_triage(doc):
    """A ``triage`` key shaped by TRIAGE_SCHEMA for the typical fixture's
    report, checked against the schema. Synthetic, like the fixture: its lock
    is the fixture's own FxWaitLock record, said to be held by a made-up
    crashing thread, and its pile is the fixture's WDFDEVICE."""
    import jsonschema
    lock = [o for o in doc["objects"] if o["class"] == "FxWaitLock"][0]
    dev = [o for o in doc["objects"] if o["wdf_type"] == "WDFDEVICE"][0]
    thread = "0xffffc08bde9e1640"
    tri = {"bugcheck": {"code": "0x10d", "name": "WDF_VIOLATION", "meaning": "the framework (KMDF) caught a driver error"},
           "fault": {"address": None, "where": None, "module": None,
                     "kmdf_driver": {"name": "AmdPPM", "kmdf_version": "1.15", "globals": doc["drivers"][0]["globals"],
                                     "matched_by": "bugcheck 0x10D parameter 4"}},
           "exception": None, "crash_thread": thread,
           "locks_held_by_crashing_thread": [
               {"kind": "WDFWAITLOCK", "handle": lock["handle"], "object": lock["address"], "driver": "AmdPPM",
                "owner": thread, "state": "held by thread %s (the crashing thread)" % thread}],
           "locks_held": [],
           "top_problems": [
               {"code": "LOCK_HELD_BY_CRASHING_THREAD", "severity": "warning", "address": lock["address"],
                "message": "said by the lock line"},
               {"code": "OBJECTS_PILING_UP", "severity": "warning", "address": dev["address"],
                "message": "WDFDEVICE %s holds 2 WDFQUEUE children" % dev["address"]}],
           "source": {"kind": "snapshot", "description": "a synthetic snapshot (built by a program, not from a real machine)",
                      "can_show": ["the memory an analysis read when it was made (the same answers, offline)"],
                      "cannot_show": ["anything that analysis did not read"]},
           "piling_up": [{"parent": dev["address"], "driver": "AmdPPM", "parent_type": "WDFDEVICE",
                          "child_type": "WDFQUEUE", "count": 2, "bytes": 0x300}]}
    jsonschema.validate(tri, triage_schema())
    return tri, lock, dev


def hostile_report(tmp_path):
    doc = memtree_json(fixture("typical", "wdfsnap.json.gz"))
    evil = "</script><script>window.pwned=1</script><!-- & </SCRIPT >"
    doc["problems"][0]["message"] = evil
    doc["objects"][3]["class"] = evil
    tri, _, _ = typical_triage(doc)
    tri["bugcheck"]["meaning"] = evil
    tri["locks_held_by_crashing_thread"][0]["driver"] = evil
    tri["source"]["cannot_show"].append(evil)
    tri["top_problems"][1]["message"] = evil
    doc["triage"] = tri
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    return doc, evil, str(path)


def test_data_cannot_break_out_and_triage_is_shown(tmp_path):
    doc, evil, src = hostile_report(tmp_path)
    _, out = make_report(src, tmp_path / "hostile.html")
    html = page_text(out)
    assert "<script>window.pwned" not in html and html.count("</script>") == 3
    assert embedded(html) == doc
    assert "Crash: WDF_VIOLATION (<code>0x10D</code>)</strong>: &lt;/script&gt;" in html


def test_a_triage_key_of_another_shape_is_shown_as_facts_and_none_as_the_bugcheck(tmp_path):
    doc = memtree_json(fixture("typical", "wdfsnap.json.gz"))
    _, plain = make_report(fixture("typical", "wdfsnap.json.gz"), tmp_path / "plain.html")
    html = page_text(plain)
    # the report's own triage key: the headline first, the source as its triage facts describe it
    assert "<strong>Crash: WDF_VIOLATION (<code>0x10D</code>)</strong>" in html
    assert "This source is a synthetic snapshot (built by a program, not from a real machine)." in html
    doc["triage"] = {"headline": ["a list of lines, not TRIAGE_SCHEMA"], "faulting_module": "amdppm+0x334c"}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(doc))
    _, out = make_report(str(path), tmp_path / "other.html")
    html = page_text(out)
    assert "faulting module" in html and "a list of lines, not TRIAGE_SCHEMA" in html
    assert "Crash: WDF_VIOLATION" not in html  # not read as TRIAGE_SCHEMA: no headline made up from it
    assert "<strong>Bugcheck 0x10D WDF_VIOLATION</strong>" in html and "A snapshot holds the bytes" in html
    assert "None" not in html.split('id="wdfdbg-report"')[0]


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


def headline_lines(page):
    return page.evaluate("Array.from(document.querySelectorAll('#headline ul.headline > li'), e => e.textContent)")


def follow(page, link_selector):
    """Click the link; the address of the tree element it selected."""
    page.evaluate("document.querySelector('%s').click()" % link_selector)
    assert page.evaluate("document.activeElement.getAttribute('aria-selected')") == "true"
    return page.evaluate("document.activeElement.dataset.address")


def test_triage_headline_in_chromium(browser, tmp_path):
    doc = memtree_json(fixture("typical", "wdfsnap.json.gz"))
    tri, lock, dev = typical_triage(doc)
    doc["triage"] = tri
    src = tmp_path / "typical-triage.json"
    src.write_text(json.dumps(doc))
    _, out = make_report(str(src), tmp_path / "typical-triage.html")
    page = load(browser, out)
    g = tri["fault"]["kmdf_driver"]["globals"]
    assert headline_lines(page) == [
        "Crash: WDF_VIOLATION (0x10D): the framework (KMDF) caught a driver error",
        "driver AmdPPM, a KMDF 1.15 driver (FX_DRIVER_GLOBALS %s, named by bugcheck 0x10D parameter 4)" % g,
        "the crashing thread 0xffffc08bde9e1640 holds WDFWAITLOCK %s (object %s) of AmdPPM" % (lock["handle"],
                                                                                            lock["address"]),
        "2 WDFQUEUE under WDFDEVICE %s of AmdPPM (0x300 bytes)" % dev["address"]]
    # the top problems as the JSON triage ranks them (the lock one too); the piling one links to its object
    tops = page.evaluate("Array.from(document.querySelectorAll('#headline .top-problems li'), e => e.textContent)")
    assert [t.split()[1] for t in tops] == [p["code"] for p in tri["top_problems"]]
    piling = [t for t in tops if t.startswith("warning OBJECTS_PILING_UP")]
    assert len(piling) == 1 and piling[0].endswith("object %s" % dev["address"])
    assert follow(page, "#headline li.lock a[data-i]") == lock["address"]
    assert follow(page, "#headline li.piling a[data-i]") == dev["address"]
    assert follow(page, "#headline .top-problems li:last-child a[data-i]") == dev["address"]
    anchor = page.evaluate("document.querySelector('#headline li.fault a, #headline li:nth-child(2) a').getAttribute('href')")
    assert "AmdPPM" in page.evaluate("document.querySelector('%s h3').textContent" % anchor)
    shown = page.evaluate("Array.from(document.querySelectorAll('#source .can li'), e => e.textContent)")
    assert shown == tri["source"]["can_show"] + tri["source"]["cannot_show"]
    assert page.console_errors() == []


def test_treemap_by_keyboard(browser, typical):
    doc = memtree_json(fixture("typical", "wdfsnap.json.gz"))
    page = load(browser, typical)
    boxes = page.evaluate("Array.from(document.querySelectorAll('svg.treemap g[data-i]'), g => [g.getAttribute('role'),"
                          " g.getAttribute('tabindex'), g.getAttribute('aria-label'), +g.dataset.i, g.dataset.q || null])")
    assert len(boxes) > 5 and all(b[0] == "button" and b[2] for b in boxes)
    assert [b[1] for b in boxes].count("0") == 1 and boxes[0][1] == "0"
    assert page.evaluate("document.querySelector('svg.treemap').getAttribute('role')") == "group"
    # Tab from the focusable element before the treemap lands on its first box
    page.evaluate("""(() => {
      const all = Array.from(document.querySelectorAll('a[href], button, input, [tabindex="0"]'));
      const svg = document.querySelector('svg.treemap');
      const before = all.filter(e => !svg.contains(e) && (svg.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_PRECEDING));
      before[before.length - 1].focus();
    })()""")
    page.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == boxes[0][2]
    page.press("ArrowRight")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == boxes[1][2]
    assert page.evaluate("document.querySelectorAll('svg.treemap g[tabindex=\"0\"]').length") == 1
    # Enter selects the box's largest object (and searches for its type or tag)
    page.press("Enter")
    picked = doc["objects"][boxes[1][3]]
    assert page.evaluate("document.querySelector('li[aria-selected=true]').dataset.address") == picked["address"]
    assert picked["address"] in page.evaluate("document.getElementById('details-body').textContent")
    if boxes[1][4]:
        assert page.evaluate("document.getElementById('search').value") == boxes[1][4]
    # Space on a tag box (back in the treemap: End, then Space)
    page.evaluate("document.querySelector('svg.treemap g[tabindex=\"0\"]').focus()")
    page.press("End")
    page.press(" ", code="Space")
    last = doc["objects"][boxes[-1][3]]
    assert page.evaluate("document.querySelector('li[aria-selected=true]').dataset.address") == last["address"]
    # the box's largest object is one of the box's: its type (or tag) is what the box searched for
    assert boxes[-1][4] in json.dumps([last["wdf_type"], (last.get("memory") or {}).get("pool_tag")])
    assert page.console_errors() == []


def test_hostile_data_stays_text(browser, tmp_path):
    doc, evil, src = hostile_report(tmp_path)
    _, out = make_report(src, tmp_path / "hostile.html")
    page = load(browser, out)
    assert page.evaluate("window.pwned === undefined")
    assert len(dom_addresses(page)) == len(doc["objects"])
    assert evil in page.evaluate("document.body.textContent")


def real_triage(path):
    """memtree --json of the real dump with its ``triage`` key: memtree's own
    when it writes one, else ``analysis/headline.py build_triage`` of the
    same analysis (what memtree adds)."""
    doc = memtree_json(path)
    if "triage" not in doc:
        from wdfdbg.analysis.headline import TriageFeed, build_triage
        from wdfdbg.session import open_session
        s = open_session(path)
        drivers, nodes, problems = memtree.collect(s, memtree.parse_args([]))
        feed = TriageFeed(s, problems)
        for n in nodes:
            feed.feed(n)
        feed.finish()
        doc["triage"] = build_triage(s, drivers, problems, feed)
    return doc


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

    # the headline, from the triage key
    doc = real_triage(REAL_X64)
    import jsonschema
    jsonschema.validate(doc["triage"], triage_schema())
    src = tmp_path / "triage_x64.json"
    src.write_text(json.dumps(doc))
    _, out = make_report(str(src), tmp_path / "triage_x64-headline.html")
    page = load(browser, out)
    lines = headline_lines(page)
    assert lines[0] == ("Crash: SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M (0x1000007E): "
                        "a system thread raised an exception that no handler caught")
    assert lines[1] == "at amdppm+0x334c, in AmdPPM, a KMDF 1.15 driver (FX_DRIVER_GLOBALS 0xffffc08be52e6690)"
    assert lines[2] == "exception: access violation (0xc0000005 STATUS_ACCESS_VIOLATION): write to 0xffffffffffffffff"
    assert lines[3] == ("the crashing thread 0xffffc08bde9e1640 holds WDFWAITLOCK 0x3f741af8f1c8 "
                        "(object 0xffffc08be5070e30) of AmdPPM")
    assert follow(page, "#headline li.lock a[data-i]") == "0xffffc08be5070e30"
    shown = page.evaluate("Array.from(document.querySelectorAll('#source .can li'), e => e.textContent)")
    assert shown == doc["triage"]["source"]["can_show"] + doc["triage"]["source"]["cannot_show"]
    assert page.console_errors() == [] and page.requests() == ["file://" + os.path.abspath(out)]
    page.evaluate("window.scrollTo(0, 0)")
    shot = page.screenshot(str(tmp_path / "triage_x64-headline.png"))
    show(capsys, record_property, "triage_x64 report with its triage headline", shot)


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


# -- saved memtree --jsonl streams (JsonlReader) ------------------------------------
def memtree_jsonl(source):
    _, text = run(memtree, [source, "--jsonl"])
    return text + "\n"


def same_but_sources(rebuilt, doc):
    """The JSONL report line is written before the walk, so its
    ``source.sources`` lacks the modules whose types the walk borrowed
    later (``symbols:nt``); everything else is the document's."""
    doc = json.loads(json.dumps(doc))
    doc["source"]["sources"] = rebuilt["source"]["sources"]
    return rebuilt == doc


@pytest.mark.parametrize("name", ["typical", "corrupt", "leak", "two_drivers"])
def test_jsonl_reads_as_the_json_document(name, tmp_path):
    """Keys in the document's order, the records with their late problems
    (corrupt: a CHILD_LIST_CYCLE found after its list head's line) and
    lookasides' whole allocated lists, and ``tee`` the document's text."""
    import random
    from wdfdbg.render.reportreader import JsonlReader, read_file, report_format
    src = fixture(name, "wdfsnap.json.gz")
    doc = memtree_json(src)
    text = memtree_jsonl(src)
    rng = random.Random(len(name))
    for _ in range(5):
        keys, objs, tee = [], [], []
        r = JsonlReader(lambda k, v: keys.append((k, v)), objs.append, tee=tee.append)
        i = 0
        while i < len(text):
            n = rng.choice([1, 13, 900, 70000])
            r.write(text[i:i + n])
            i += n
        r.close()
        rebuilt = json.loads("".join(tee))
        assert same_but_sources(rebuilt, doc)
        assert objs == rebuilt["objects"] and r.objects == len(doc["objects"])
        assert keys == [(k, v) for k, v in rebuilt.items() if k != "objects"]
    path = tmp_path / (name + ".jsonl.gz")
    path.write_bytes(gzip.compress(text.encode()))
    assert report_format(str(path)) == "jsonl" and report_format(fixture(name, "wdfsnap.json.gz")) is None
    objs = []
    read_file(str(path), lambda k, v: None, objs.append, chunk=4096)
    assert objs == rebuilt["objects"]


def test_jsonl_tee_is_memtrees_json_text_when_the_sources_agree(tmp_path):
    src = REAL_X64 if os.path.exists(REAL_X64) else fixture("typical", "wdfsnap.json.gz")
    _, want = run(memtree, [src, "--json"])
    tee = []
    path = tmp_path / "r.jsonl"
    path.write_text(memtree_jsonl(src))
    from wdfdbg.render.reportreader import read_file
    read_file(str(path), lambda k, v: None, lambda o: None, tee=tee.append)
    got = "".join(tee)
    if os.path.exists(REAL_X64):  # a dump's types come from one profile: the report line's source is final
        assert got == want + "\n"
    else:
        assert same_but_sources(json.loads(got), json.loads(want))


def test_report_from_a_saved_jsonl(tmp_path):
    src = fixture("corrupt", "wdfsnap.json.gz")
    path = tmp_path / "corrupt.jsonl"
    path.write_text(memtree_jsonl(src))
    code, out = make_report(str(path), tmp_path / "c.html")
    assert code == 1 and same_but_sources(embedded(page_text(out)), memtree_json(src))


@pytest.mark.parametrize("text,why", [
    ('{"record": "report", "schema": "wdfdbg.report/1"}\n{"record": "object", "a"', "ends inside a line"),
    ('{"record": "report", "schema": "wdfdbg.report/1"}\n{"record": "object", "address": "0x1"}\n', "no summary line"),
    ('{"record": "report", "schema": "wdfdbg.report/1"}\nnot json\n', "line 2 is not JSON"),
    ('{"record": "report", "schema": "wdfdbg.report/1"}\n{"record": "object", "a": }\n{"record": "summary"}\n',
     "an object line is not JSON"),
    ('{"record": "report", "schema": "other/1"}\n', "not a wdfdbg.report/1 JSONL report line"),
    ('{"record": "report", "schema": "wdfdbg.report/1"}\n[1]\n', "no \"record\" key"),
    ("", "no JSONL report line"),
])
def test_jsonl_reader_refuses_what_is_not_a_stream(text, why):
    from wdfdbg.errors import InputError
    from wdfdbg.render.reportreader import JsonlReader
    r = JsonlReader(lambda k, v: None, lambda o: None, what="x.jsonl")
    with pytest.raises(InputError) as e:
        r.write(text)
        r.close()
    msg = str(e.value)
    assert msg.startswith("x.jsonl: ") and why in msg and "\n" not in msg, msg


def test_saved_reports_that_are_fifos_or_corrupt_gzip_are_one_line(tmp_path):
    """A FIFO named as a saved report is refused, not opened (it would block
    for ever); a gzip stream corrupt in the middle is one line, not zlib's
    exception."""
    text = memtree_jsonl(fixture("typical", "wdfsnap.json.gz")).encode()
    packed = bytearray(gzip.compress(text * 4))
    mid = len(packed) // 2
    packed[mid:mid + 64] = bytes(range(64))
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(bytes(packed))
    sources = [str(bad)]
    if hasattr(os, "mkfifo"):
        os.mkfifo(str(tmp_path / "pipe.json"))
        sources.append(str(tmp_path / "pipe.json"))
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("WDFDBG_DEBUG", None)
    for src in sources:
        for argv in (["report", src, "-o", str(tmp_path / "out.html")], ["diff", src, src]):
            p = subprocess.run([sys.executable, "-m", "wdfdbg.cli"] + argv, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            err = p.stderr.decode().strip()
            assert p.returncode == 2 and len(err.splitlines()) == 1 and "internal error" not in err, (argv, err)
            assert err.startswith("wdfdbg: error: %s: " % src), err


def test_same_input_same_page(tmp_path, typical):
    _, again = make_report(fixture("typical", "wdfsnap.json.gz"), tmp_path / "again.html")
    assert open(again, "rb").read() == open(typical, "rb").read()
