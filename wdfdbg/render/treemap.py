"""A treemap of bytes (driver -> object type -> pool tag) as inline SVG.

Squarified layout (Bruls, Huizing and van Wijk, "Squarified Treemaps",
2000): children, largest first, are laid in rows along the shorter side of
the free rectangle, a row growing while that improves its worst aspect
ratio. Hand-written, no library: the page must load nothing.

Every box is a ``<g role="button">`` with a ``<title>`` (the tooltip) and
the same words as its ``aria-label`` (what a screen reader reads), ``data-i``,
the element index of its largest object, which the HTML report selects
when the box is clicked or chosen with Enter or Space, and ``data-q``, the
search it runs first (the type or pool tag). The boxes are one tab stop
(roving ``tabindex``: the first box 0, the others -1; the page's script
moves it with the arrow keys, in the order the boxes are drawn).
"""

from xml.sax.saxutils import escape, quoteattr

from wdfdbg.render.palette import type_colour

HEADER = 16     # px: a driver's or type's label strip
MIN_LABEL_W = 46
MIN_LABEL_H = 14
CHAR_W = 6.4        # px per character of an 11 px label (DejaVu Sans, the widest common fallback)
CHAR_W_BOLD = 7.2   # the same, bold (driver and type labels)


class Box(object):
    """A node of the tree: a name, its bytes and objects, children, and its
    largest object (``pick``: element index, ``pick_bytes``)."""
    __slots__ = ("name", "level", "nbytes", "objects", "children", "query", "colour", "pick", "pick_bytes")

    def __init__(self, name, level, query=None, colour=None):
        self.name = name
        self.level = level
        self.nbytes = 0
        self.objects = 0
        self.children = {}
        self.query = query
        self.colour = colour
        self.pick = None
        self.pick_bytes = -1

    def child(self, key, name, level, query=None, colour=None):
        c = self.children.get(key)
        if c is None:
            c = self.children[key] = Box(name, level, query, colour)
        return c


def build(groups):
    """``groups``: {(driver, wdf type, pool tag): [objects, bytes, largest
    object's bytes, its element index]} -> the root :class:`Box`."""
    root = Box("all drivers", 0)
    for (driver, wdf_type, tag), row in sorted(groups.items(), key=lambda kv: kv[1][3]):
        objects, nbytes, pick_bytes, pick = row[0], row[1], row[2], row[3]
        d = root.child(driver, driver or "driver unknown", 1, query=None)
        t = d.child(wdf_type, wdf_type or "type unknown", 2, query=wdf_type, colour=type_colour(wdf_type))
        g = t.child(tag, ("tag '%s'" % tag) if tag else "no pool tag", 3, query=tag or wdf_type,
                    colour=type_colour(wdf_type))
        for box in (root, d, t, g):
            box.nbytes += nbytes
            box.objects += objects
            if pick_bytes > box.pick_bytes:  # ties: the first in the report (groups taken in that order)
                box.pick, box.pick_bytes = pick, pick_bytes
    return root


def _worst(row, length):
    s = sum(row)
    if s <= 0 or length <= 0:
        return float("inf")
    big, small = max(row), min(row)
    return max(length * length * big / (s * s), (s * s) / (length * length * small))


def squarify(values, x, y, w, h):
    """Rectangles (x, y, w, h) for ``values`` (positive, sorted largest
    first) filling the rectangle; same order as ``values``."""
    rects = []
    total = float(sum(values))
    if total <= 0 or w <= 0 or h <= 0:
        return [(x, y, 0, 0) for _ in values]
    scale = w * h / total
    areas = [v * scale for v in values]
    i = 0
    while i < len(areas):
        length = min(w, h)
        row = [areas[i]]
        j = i + 1
        while j < len(areas) and _worst(row + [areas[j]], length) <= _worst(row, length):
            row.append(areas[j])
            j += 1
        s = sum(row)
        if w >= h:  # a column along the left
            cw = s / h if h else 0
            cy = y
            for a in row:
                rh = a / cw if cw else 0
                rects.append((x, cy, cw, rh))
                cy += rh
            x, w = x + cw, w - cw
        else:  # a row along the top
            rh = s / w if w else 0
            cx = x
            for a in row:
                rw = a / rh if rh else 0
                rects.append((cx, y, rw, rh))
                cx += rw
            y, h = y + rh, h - rh
        i = j
    return rects


def _bytes_text(n):
    return "0x%x bytes" % n


def _title(path, box):
    return "%s: %s in %s object%s" % (" / ".join(path), _bytes_text(box.nbytes), "{:,}".format(box.objects),
                                     "" if box.objects == 1 else "s")


def render_svg(root, width=960, height=420, max_boxes=400):
    """The treemap as an ``<svg>`` string (empty string without bytes)."""
    if root.nbytes <= 0:
        return ""
    out = ['<svg class="treemap" viewBox="0 0 %d %d" width="100%%" role="group" aria-labelledby="treemap-title" '
           'aria-describedby="treemap-help" preserveAspectRatio="xMinYMin meet">' % (width, height),
           '<title id="treemap-title">Bytes by driver, object type and pool tag: %s in %s objects</title>'
           % (_bytes_text(root.nbytes), "{:,}".format(root.objects))]
    budget = [max_boxes]
    stops = [0]  # boxes drawn: the first is the tab stop

    def place(box, path, x, y, w, h):
        kids = sorted((c for c in box.children.values() if c.nbytes > 0), key=lambda c: (-c.nbytes, c.name))
        if not kids:
            return
        rects = squarify([c.nbytes for c in kids], x, y, w, h)
        for c, (cx, cy, cw, ch) in zip(kids, rects):
            if budget[0] <= 0 or cw < 1 or ch < 1:
                continue
            budget[0] -= 1
            p = path + [c.name]
            cls = "tm-l%d" % c.level
            title = _title(p, c)
            attrs = ' class="%s"' % cls
            if c.pick is not None:
                attrs += ' role="button" tabindex="%d" aria-label=%s data-i="%d"' % (
                    0 if not stops[0] else -1, quoteattr(title), c.pick)
                stops[0] += 1
            if c.query:
                attrs += " data-q=%s" % quoteattr(c.query)
            fill = c.colour or "none"
            out.append('<g%s><title>%s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                       % (attrs, escape(title), cx, cy, cw, ch, fill))
            label_h = HEADER if c.level < 3 else 0
            leaf = c.level == 3 or (c.level == 2 and list(c.children) == [None])
            if cw >= MIN_LABEL_W and ch >= MIN_LABEL_H:
                text = "%s %s" % (c.name, _bytes_text(c.nbytes)) if leaf else c.name
                chars = int((cw - 6) / (CHAR_W_BOLD if c.level < 3 else CHAR_W))
                if len(text) > chars:
                    text = text[:max(chars - 1, 1)] + "\u2026"
                out.append('<text x="%.1f" y="%.1f">%s</text>' % (cx + 3, cy + 12, escape(text)))
            out.append("</g>")
            if not leaf and ch > label_h + 4 and cw > 8:
                place(c, p, cx + 2, cy + label_h, cw - 4, ch - label_h - 2)

    place(root, [], 0, 0, width, height)
    out.append("</svg>")
    return "".join(out)
