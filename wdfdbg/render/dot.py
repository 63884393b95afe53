"""The object tree as a Graphviz graph (``memtree --format dot|svg``).

One node per object (labelled with its type, class and handle, or its
address when it has no handle), filled by type (:mod:`wdfdbg.render.palette`),
outlined in red when it has an error or warning problem; edges parent ->
child; one cluster per driver. It consumes report object records
(``shared/spec/report-json.md``) as they stream, and keeps one int and one
byte per record, never the records.

A big tree is collapsed so that ``dot`` can lay it out and a person can read
it: objects deeper than ``depth`` and the children of one parent after the
first ``max_children`` become one count node under their nearest shown
ancestor ("+9,950 objects: 9,950 WDFMEMORY"), red when it hides problems. A
child with a problem is always shown while its parent is.
"""

import copy
import shutil
import subprocess

from wdfdbg.errors import InputError, UsageError
from wdfdbg.analysis.objtree import TreeIndex
from wdfdbg.render.palette import PROBLEM, type_colour
from wdfdbg.render.files import UNENCODABLE  # a non-UTF-8 file name in a label: U+FFFD, not an error
from wdfdbg.render.reportreader import ReportReader

MAX_CHILDREN = 50
DOT_TIMEOUT = 300  # seconds for `dot -Tsvg`


def quote(text):
    """A DOT double-quoted string (backslash first: it starts \\N, \\l)."""
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _serious(rec):
    return any(isinstance(p, dict) and p.get("severity") in ("error", "warning") for p in rec.get("problems") or ())


def node_label(rec):
    """Type, class, handle (or address), then a memory fact and problem codes."""
    lines = [rec.get("wdf_type") or ("FX_TYPE %s" % (rec.get("fx_type") or "unknown"))]
    lines.append(rec.get("class") or "class unknown")
    if rec.get("handle"):
        lines.append(rec["handle"])
    else:
        lines.append("object %s" % (rec.get("address") or "unknown"))
    mem = rec.get("memory")
    if isinstance(mem, dict):
        length = mem.get("length")
        fact = "length 0x%x" % length if isinstance(length, int) else "length unknown"
        if mem.get("pool_tag"):
            fact += " '%s'" % mem["pool_tag"]
        lines.append(fact)
    codes = sorted(set(p.get("code") for p in rec.get("problems") or () if isinstance(p, dict) and p.get("code")))
    if codes:
        lines.append("! " + ", ".join(codes))
    return "\n".join(lines)


class DotGraph(object):
    """Streams a ``digraph`` to ``write`` from report keys and records
    (``on_key``/``on_object``, the :class:`ReportReader` callbacks)."""

    def __init__(self, write, depth=None, max_children=MAX_CHILDREN, title="wdfdbg memtree"):
        self.write = write
        self.depth = depth
        self.max_children = max_children
        self.title = title
        self.tree = TreeIndex()
        self.shown = bytearray()
        self.anchor = []          # hidden record -> its nearest shown ancestor
        self.children = {}        # shown index -> children shown so far
        self.hidden = {}          # shown index -> {type: count}
        self.hidden_problems = {}  # shown index -> hidden objects with problems
        self.tags = {}
        self.nodes = 0
        self._started = False
        self._cluster = None
        self._clusters = {}
        self._edges = []  # written after the clusters: an edge inside one would pull its nodes in

    def on_key(self, key, value):
        if key == "drivers" and isinstance(value, list):
            for d in value:
                if isinstance(d, dict) and d.get("name"):
                    self.tags[d["name"]] = d.get("tag")

    def _start(self):
        if not self._started:
            self._started = True
            self.write("digraph wdfdbg {\n  graph [rankdir=LR, ordering=out, fontname=\"Helvetica\", label=%s, labelloc=t];\n"
                       "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
                       "  edge [color=\"#666666\"];\n" % quote(self.title))

    def _enter_cluster(self, driver):
        if driver == self._cluster:
            return
        if self._cluster is not None:
            self.write("  }\n")
        self._cluster = driver
        k = self._clusters.setdefault(driver, len(self._clusters))
        label = "driver %s" % driver if driver else "objects without a driver"
        if self.tags.get(driver):
            label += " (tag '%s')" % self.tags[driver]
        # the same cluster name again adds to it (driver runs can interleave in a scan)
        self.write("  subgraph cluster_%d {\n    label=%s; style=rounded; color=\"#888888\";\n" % (k, quote(label)))

    def on_object(self, rec):
        self._start()
        i, p = self.tree.add(rec)
        depth = rec.get("depth") if isinstance(rec.get("depth"), int) else 0
        show = True
        if p >= 0 and not self.shown[p]:
            show = False
        elif self.depth is not None and depth > self.depth:
            show = False
        elif p >= 0 and self.children.get(p, 0) >= self.max_children and not _serious(rec):
            show = False
        self.shown.append(1 if show else 0)
        if not show:
            a = self.anchor[p] if p >= 0 and not self.shown[p] else p
            self.anchor.append(a)
            counts = self.hidden.setdefault(a, {})
            t = rec.get("wdf_type") or "unknown type"
            counts[t] = counts.get(t, 0) + 1
            if _serious(rec):
                self.hidden_problems[a] = self.hidden_problems.get(a, 0) + 1
            return
        self.anchor.append(i)
        if p >= 0:
            self.children[p] = self.children.get(p, 0) + 1
        self._enter_cluster(rec.get("driver"))
        attrs = ["label=%s" % quote(node_label(rec)), "fillcolor=%s" % quote(type_colour(rec.get("wdf_type")))]
        if _serious(rec):
            attrs.append("color=%s, penwidth=2.5, fontcolor=%s" % (quote(PROBLEM), quote(PROBLEM)))
        self.write("    o%d [%s];\n" % (i, ", ".join(attrs)))
        if p >= 0:
            self._edges.append((p, i))
        self.nodes += 1

    def close(self):
        self._start()
        if self._cluster is not None:
            self.write("  }\n")
        for p, i in self._edges:
            self.write("  o%d -> o%d;\n" % (p, i))
        for i, p in self.tree.finish():
            if self.shown[i] and self.shown[p]:
                self.write("  o%d -> o%d [style=dashed];\n" % (p, i))  # a parent found by address (scan)
        for a in sorted(self.hidden):
            counts = self.hidden[a]
            total = sum(counts.values())
            kinds = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            text = ", ".join("{:,} {}".format(n, t) for t, n in kinds[:3])
            if len(kinds) > 3:
                text += ", ..."
            label = "+{:,} objects\n{}".format(total, text)
            attrs = ["label=%s" % quote(label), "shape=note", "fillcolor=\"#ffffff\""]
            if self.hidden_problems.get(a):
                label += "\n{:,} with problems".format(self.hidden_problems[a])
                attrs[0] = "label=%s" % quote(label)
                attrs.append("color=%s, fontcolor=%s, penwidth=2.5" % (quote(PROBLEM), quote(PROBLEM)))
            name = "more%d" % a if a >= 0 else "more_roots"
            self.write("  %s [%s];\n" % (name, ", ".join(attrs)))
            if a >= 0:
                self.write("  o%d -> %s [style=dotted];\n" % (a, name))
        self.write("}\n")


def dot_path():
    return shutil.which("dot")


def to_svg(dot_text, timeout=DOT_TIMEOUT):
    """Lay out DOT text with Graphviz's ``dot -Tsvg``; the SVG text."""
    exe = dot_path()
    if exe is None:
        raise UsageError("--format svg needs Graphviz's 'dot' on PATH (install graphviz); "
                         "--format dot writes the graph source instead")
    try:
        done = subprocess.run([exe, "-Tsvg"], input=dot_text.encode("utf-8", UNENCODABLE), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise InputError("dot -Tsvg did not finish in %d s; use --depth to collapse the tree" % timeout)
    except OSError as e:
        raise InputError("cannot run %s: %s" % (exe, e.strerror or e))
    if done.returncode != 0:
        first = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[0]
        raise InputError("dot -Tsvg failed (exit %d): %s" % (done.returncode, first))
    return done.stdout.decode("utf-8", "replace")


def graph_command(execute, session, args):
    """``memtree --format dot|svg``: run memtree's JSON report through
    ``execute(session, args, out=stream)`` into a :class:`DotGraph`.
    The walk goes below ``--depth`` so that the count nodes are right."""
    fmt = args.format
    a = copy.copy(args)
    a.json, a.format, a.depth = True, None, None
    pieces = []
    title = "wdfdbg memtree: %s" % (session.path or "live target")
    graph = DotGraph(pieces.append, depth=args.depth, title=title)
    reader = ReportReader(graph.on_key, graph.on_object, what="memtree report")
    code, _ = execute(session, a, out=reader)
    reader.close()
    graph.close()
    text = "".join(pieces)
    if fmt == "svg":
        text = to_svg(text)
    return code, text
