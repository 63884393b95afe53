"""The HTML triage report: one self-contained file (``wdfdbg report``).

:class:`HtmlReport` consumes a ``wdfdbg.report/1`` document as it streams
(``on_key``/``on_object`` from :class:`~wdfdbg.render.reportreader.ReportReader`,
and its text through ``embed``), keeps aggregates (per driver: types,
memory origins, pool tags; the treemap's groups; which object holds which
problem; parent indexes), and spools the report's text to a temporary file
that the page embeds as ``<script type="application/json">``. Memory stays
bounded: no record is kept.

The page is rendered with jinja2 from ``render/templates/`` (``report.html``,
``report.css``, ``report.js``: hand-written, no library) and loads nothing:
its Content-Security-Policy allows no source but the page's own inline
script and style, named by their SHA-256.
"""

import base64
import hashlib
import io
import json
import os
import tempfile
import uuid

from wdfdbg import __version__
from wdfdbg.analysis.footprint import owned_bytes, pool_tag
from wdfdbg.decoders.bugcheck import code_text
from wdfdbg.errors import UsageError
from wdfdbg.render import files, treemap
from wdfdbg.render.html_headline import Links, headline_view
from wdfdbg.analysis.objtree import TreeIndex, parse_hex
from wdfdbg.render.palette import type_colour

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
SPOOL_MEMORY = 16 << 20   # report text kept in memory before it spills to a temporary file
MAX_PROBLEM_ROWS = 2000   # rows in the page's problems table (the embedded JSON has them all)
TOP_PROBLEMS = 5

# What each kind of source can and cannot show, for reports without a triage key (its source says it better).
SOURCE_LIMITS = {
    "snapshot": "A snapshot holds the bytes a recording read (or, with origin synthetic, a heap built for tests): "
                "what was reachable when it was recorded, nothing else.",
    "minidump": "A kernel minidump (triage dump) holds only memory near the crash: the stack and a few pages around "
                "the addresses it references. The driver list is usually not captured, so objects are found by "
                "scanning what was; parents, children and buffers outside the captured pages cannot be shown.",
    "kernel-dump": "A kernel memory dump holds kernel memory at the crash: every driver's tree can be walked; "
                   "paged-out pool and user-mode memory are absent.",
    "pykd": "A live target: everything readable now; values can change while the walk runs.",
}


def _hash(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _escape_json_text(text):
    """Make report JSON text safe inside ``<script>``: ``<``, ``>`` and
    ``&`` only occur inside JSON strings, where ``\\u003c`` means the same."""
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _type_class(wdf_type):
    return "t-" + "".join(ch for ch in (wdf_type or "unknown") if ch.isalnum())


class _Driver(object):
    __slots__ = ("name", "objects", "types", "origins", "tags", "nbytes", "problems")

    def __init__(self, name):
        self.name = name
        self.objects = 0
        self.types = {}
        self.origins = {}
        self.tags = {}
        self.nbytes = 0
        self.problems = 0


def _add(table, key, nbytes=0):
    row = table.get(key)
    if row is None:
        row = table[key] = [0, 0]
    row[0] += 1
    row[1] += nbytes


def _crashing_driver(triage):
    """The KMDF driver the triage headline's fault names, or None."""
    fault = triage.get("fault") if isinstance(triage, dict) else None
    drv = fault.get("kmdf_driver") if isinstance(fault, dict) else None
    name = drv.get("name") if isinstance(drv, dict) else None
    return name if isinstance(name, str) and name else None


class HtmlReport(object):
    """Aggregates for the page, filled as a report streams; :meth:`write`
    renders it."""

    def __init__(self, driver=None):
        try:  # say so before the walk, not after it
            import jinja2  # noqa: F401
        except ImportError:
            raise UsageError("wdfdbg report needs jinja2 (pip install jinja2)")
        self.driver = driver
        self.head = {}
        self.tree = TreeIndex()
        self.drivers = {}
        self.groups = {}      # (driver, type, tag) -> [objects, bytes, largest object's bytes, its index]
        self.problem_at = {}  # (code, address, message) -> object index
        self.types = set()
        self.objects = 0
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, mode="w+", encoding="utf-8")

    # -- the stream ----------------------------------------------------------
    def embed(self, text):
        self._spool.write(_escape_json_text(text))

    def on_key(self, key, value):
        self.head[key] = value

    def on_object(self, rec):
        i, _ = self.tree.add(rec)
        self.objects += 1
        name = rec.get("driver") if isinstance(rec.get("driver"), str) else None
        d = self.drivers.get(name)
        if d is None:
            d = self.drivers[name] = _Driver(name)
        wdf_type = rec.get("wdf_type") if isinstance(rec.get("wdf_type"), str) else None
        self.types.add(wdf_type)
        nbytes = owned_bytes(rec)
        tag = pool_tag(rec)
        d.objects += 1
        d.nbytes += nbytes
        _add(d.types, wdf_type, nbytes)
        mem = rec.get("memory")
        if isinstance(mem, dict):
            length = mem.get("length") if isinstance(mem.get("length"), int) else 0
            _add(d.origins, mem.get("origin"), length)
            _add(d.tags, tag, length)
        g = self.groups.get((name, wdf_type, tag))
        if g is None:
            g = self.groups[(name, wdf_type, tag)] = [0, 0, -1, i]
        g[0] += 1
        g[1] += nbytes
        if nbytes > g[2]:
            g[2], g[3] = nbytes, i
        for p in rec.get("problems") or ():
            if isinstance(p, dict):
                d.problems += 1
                self.problem_at.setdefault((p.get("code"), p.get("address"), p.get("message")), i)

    def object_at(self, address):
        """The element index of the record at ``address`` ("0x..."), or None."""
        return self.tree.index_of(parse_hex(address))

    def problem_object(self, p):
        """The element index of the record that holds problem ``p``: the
        record listing it, else the record at its address, else None."""
        i = self.problem_at.get((p.get("code"), p.get("address"), p.get("message")))
        return i if i is not None else self.object_at(p.get("address"))

    def problem_count(self):
        problems = self.head.get("problems")
        return len(problems) if isinstance(problems, list) else 0

    # -- the page ------------------------------------------------------------
    def context(self):
        head = self.head
        problems = [p for p in head.get("problems") or () if isinstance(p, dict)]
        rank = {"error": 0, "warning": 1, "info": 2}
        rows = []
        for p in problems[:MAX_PROBLEM_ROWS]:
            rows.append({"p": p, "object": self.problem_object(p)})
        top = sorted(problems, key=lambda p: rank.get(p.get("severity"), 3))[:TOP_PROBLEMS]
        top = [p for p in top if p.get("severity") in ("error", "warning")]
        source = head.get("source") if isinstance(head.get("source"), dict) else {}
        order = []
        crashing = _crashing_driver(head.get("triage"))
        if crashing:   # the crashing driver first, as the tree puts it (report.js)
            order.append(crashing)
        for d in head.get("drivers") or ():
            if isinstance(d, dict) and d.get("name") not in order:
                order.append(d.get("name"))
        listed = [self.drivers[n] for n in order if n in self.drivers]
        listed += [d for n, d in sorted(self.drivers.items(), key=lambda kv: kv[0] or "") if n not in order]
        # with --driver the others were not walked: they are not "drivers without objects"
        empty = [] if self.driver else [n for n in order if n not in self.drivers]
        anchors = dict((d.name, "driver-%d" % k) for k, d in enumerate(listed) if d.name)
        triage = head.get("triage")
        headline = headline_view(triage, Links(self.object_at, self.problem_object, anchors.get))
        return {
            "version": __version__,
            "title": "wdfdbg report: %s" % (source.get("path") or "live target"),
            "driver_filter": self.driver,
            "source": source,
            "source_limits": SOURCE_LIMITS.get(source.get("kind"),
                                               "A source of kind %s." % (source.get("kind") or "unknown")),
            "notes": [n for n in head.get("notes") or () if isinstance(n, str)],
            "triage": triage if isinstance(triage, dict) else None,
            "headline": headline,
            "bugcheck": head.get("bugcheck") if isinstance(head.get("bugcheck"), dict) else None,
            "top_problems": top,
            "summary": head.get("summary") if isinstance(head.get("summary"), dict) else {},
            "objects": self.objects,
            "drivers": listed,
            "empty_drivers": empty,
            "problems": rows,
            "problem_total": len(problems),
            "treemap": treemap.render_svg(treemap.build(self.groups)),
            "hx": lambda n: "0x%x" % n if isinstance(n, int) else "unknown",
            "num": lambda n: "{:,}".format(n) if isinstance(n, int) else "unknown",
            "sorted_rows": lambda table: sorted(table.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0] or "")),
        }

    def write(self, out):
        """Write the page to the text stream ``out``."""
        import jinja2
        self.tree.finish()
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters["tclass"] = _type_class
        env.filters["bugcheck_code"] = code_text
        script = _read("report.js")
        style = _read("report.css") + _type_css(self.types)
        for name, text in (("report.js", script), ("report.css", style)):
            low = text.lower()
            if "</script" in low or "</style" in low or "<!--" in low:  # would end or confuse the element
                raise AssertionError("%s must not contain '</script', '</style' or '<!--'" % name)
        ctx = self.context()
        ctx["script"] = _markup(script)
        ctx["style"] = _markup(style)
        # single quotes only, so it stands unescaped in the attribute (a reader can check it by eye)
        ctx["csp"] = _markup("default-src 'none'; script-src %s; style-src %s; img-src data:; base-uri 'none'; "
                             "form-action 'none'" % (_hash(script), _hash(style)))
        # where the report text goes: a token no text in the page can hold by chance
        marker = "@@wdfdbg-report-%s@@" % uuid.uuid4().hex
        ctx["marker"] = marker
        ctx["tree_json"] = _markup(_escape_json_text(json.dumps({"parents": list(self.tree.parents)},
                                                                separators=(",", ":"))))
        page = env.get_template("report.html").render(**ctx)
        before, after = page.split(marker, 1)
        out.write(before)
        self._spool.seek(0)
        while True:
            piece = self._spool.read(1 << 20)
            if not piece:
                break
            out.write(piece)
        out.write(after)
        self._spool.close()


def _markup(text):
    from markupsafe import Markup
    return Markup(text)


def _read(name):
    with io.open(os.path.join(TEMPLATES, name), "r", encoding="utf-8") as f:
        return f.read()


def _type_css(types):
    rules = []
    for t in sorted(types, key=lambda t: t or ""):
        rules.append(".%s{background:%s}" % (_type_class(t), type_colour(t)))
    return "\n" + "\n".join(rules) + "\n"


def check_output(path, inputs=()):
    """Check OUT.html before any work (:func:`~wdfdbg.render.files.check_output_path`):
    its folder exists and is writable, it is absent or a regular file, and
    it is none of ``inputs`` (the SOURCE, ``--types`` files). An existing
    OUT.html is replaced, as it always was (``report`` has no ``--force``:
    the page is a product, not an input). Returns the path to write."""
    return files.check_output_path(path, inputs, force=True)


def write_atomically(path, write):
    """Write ``path`` (checked with :func:`check_output`) through
    ``write(stream)`` with :func:`~wdfdbg.render.files.atomic_output`: a
    temporary file beside it renamed into place once the whole page is
    written, so a failure (a full disk) leaves no half page. Returns the
    size written."""
    with files.atomic_output(path, "w") as f:
        write(f)
    return os.path.getsize(os.path.realpath(path))
