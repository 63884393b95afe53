"""A treemap of bytes (driver -> object type -> pool tag) as inline SVG.

Squarified layout (Bruls, Huizing and van Wijk, "Squarified Treemaps",
2000): children, largest first, are laid in rows along the shorter side of
the free rectangle, a row growing while that improves its worst aspect
ratio. Every rectangle carries a ``<title>`` (the tooltip and what a screen
reader reads) and ``data-q``, the search the HTML report runs when it is
clicked. Hand-written, no library: the page must load nothing.
"""

from xml.sax.saxutils import escape, quoteattr

from wdfdbg.render.palette import type_colour

HEADER = 16     # px: a driver's or type's label strip
MIN_LABEL_W = 46
MIN_LABEL_H = 14


class Box(object):
    """A node of the tree: a name, its bytes and objects, children."""
    __slots__ = ("name", "level", "nbytes", "objects", "children", "query", "colour")

    def __init__(self, name, level, query=None, colour=None):
        self.name = name
        self.level = level
        self.nbytes = 0
        self.objects = 0
        self.children = {}
        self.query = query
        self.colour = colour

    def child(self, key, name, level, query=None, colour=None):
        c = self.children.get(key)
        if c is None:
            c = self.children[key] = Box(name, level, query, colour)
        return c


def build(groups):
    """``groups``: {(driver, wdf type, pool tag): [objects, bytes]} ->
    the root :class:`Box`."""
    root = Box("all drivers", 0)
    for (driver, wdf_type, tag), (objects, nbytes) in groups.items():
        d = root.child(driver, driver or "driver unknown", 1, query=None)
        t = d.child(wdf_type, wdf_type or "type unknown", 2, query=wdf_type, colour=type_colour(wdf_type))
        g = t.child(tag, ("tag '%s'" % tag) if tag else "no pool tag", 3, query=tag or wdf_type,
                    colour=type_colour(wdf_type))
        for box in (root, d, t, g):
            box.nbytes += nbytes
            box.objects += objects
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
    out = ['<svg class="treemap" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="treemap-title" '
           'preserveAspectRatio="xMinYMin meet">' % (width, height),
           '<title id="treemap-title">Bytes by driver, object type and pool tag: %s in %s objects</title>'
           % (_bytes_text(root.nbytes), "{:,}".format(root.objects))]
    budget = [max_boxes]

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
            attrs = ' class="%s"' % cls
            if c.query:
                attrs += " data-q=%s" % quoteattr(c.query)
            fill = c.colour or "none"
            out.append('<g%s><title>%s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                       % (attrs, escape(_title(p, c)), cx, cy, cw, ch, fill))
            label_h = HEADER if c.level < 3 else 0
            leaf = c.level == 3 or (c.level == 2 and list(c.children) == [None])
            if cw >= MIN_LABEL_W and ch >= MIN_LABEL_H:
                text = "%s %s" % (c.name, _bytes_text(c.nbytes)) if leaf else c.name
                chars = int((cw - 6) / 6.2)
                if len(text) > chars:
                    text = text[:max(chars - 1, 1)] + "\u2026"
                out.append('<text x="%.1f" y="%.1f">%s</text>' % (cx + 3, cy + 12, escape(text)))
            out.append("</g>")
            if not leaf and ch > label_h + 4 and cw > 8:
                place(c, p, cx + 2, cy + label_h, cw - 4, ch - label_h - 2)

    place(root, [], 0, 0, width, height)
    out.append("</svg>")
    return "".join(out)
