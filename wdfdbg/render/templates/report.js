/* wdfdbg report page: the object tree, search, details. Hand-written, no library.
   Data: #wdfdbg-report (the memtree --json report) and #wdfdbg-tree (parent index per record).
   Every object becomes one <li role="treeitem" data-address=...>. The first levels are drawn at
   once; the rest is drawn in slices of a few milliseconds (so the page answers while a 10^5-object
   tree fills in), collapsed; opening or searching draws what it needs first. When everything is
   drawn, <html data-wdfdbg-rendered="complete"> and window.wdfdbgTiming hold the figures. */
(function () {
  "use strict";
  var T0 = performance.now();
  var doc = JSON.parse(document.getElementById("wdfdbg-report").textContent);
  var parents = JSON.parse(document.getElementById("wdfdbg-tree").textContent).parents;
  var objs = doc.objects || [];
  var n = objs.length;
  var T1 = performance.now();
  var OPEN_LEVELS = 2;     // levels open at load
  var SLICE_MS = 12;       // drawing time per slice
  var CHUNK = 500;         // children drawn per step of one big group

  // children lists by counting sort (records are in pre-order, so children keep walk order)
  var nkids = new Int32Array(n), first = new Int32Array(n + 1), kids = new Int32Array(n);
  var i, p;
  for (i = 0; i < n; i++) { p = parents[i]; if (p >= 0) nkids[p]++; }
  for (i = 0; i < n; i++) first[i + 1] = first[i] + nkids[i];
  var fill = first.slice(0, n);
  for (i = 0; i < n; i++) { p = parents[i]; if (p >= 0) kids[fill[p]++] = i; }
  var drawn = new Int32Array(n);   // children of i drawn so far
  var scratch = document.createElement("template");
  var level = new Int32Array(n);

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function hx(v) { return typeof v === "number" ? "0x" + v.toString(16) : "unknown"; }
  function typeClass(t) { return "t-" + String(t || "unknown").replace(/[^A-Za-z0-9]/g, ""); }
  function serious(r) {
    var ps = r.problems || [];
    for (var k = 0; k < ps.length; k++) if (ps[k].severity === "error" || ps[k].severity === "warning") return true;
    return false;
  }

  function facts(r, idx) {
    var f = [];  // one span of facts: fewer elements to build for 10^5 rows
    if (r.refcount !== null && r.refcount !== undefined) f.push("ref " + esc(r.refcount));
    if (r.state) f.push(esc(r.state));
    var m = r.memory;
    if (m) {
      f.push("len " + hx(m.length) + " " + esc(m.origin || "origin unknown") +
        (m.pool_tag ? " '" + esc(m.pool_tag) + "'" : "") + (m.read_only ? " read-only" : ""));
    }
    var la = r.lookaside;
    if (la) {
      var l = la.list || {};
      f.push(esc(la.kind || "lookaside") + " buffer " + hx(la.buffer_size) +
        (la.pool_tag ? " '" + esc(la.pool_tag) + "'" : "") +
        (l.depth !== undefined && l.depth !== null ? " depth " + esc(l.depth) + "/" + esc(l.max_depth) : "") +
        (l.free_entries !== undefined && l.free_entries !== null ? " free " + esc(l.free_entries) : ""));
    }
    var mdls = r.mdls || [];
    if (mdls.length) f.push(mdls.length + " MDL" + (mdls.length > 1 ? "s" : "") + " ByteCount " + hx(mdls[0].byte_count));
    var out = f.length ? '<span class="f">' + f.join(" \u00b7 ") + "</span>" : "";
    var ps = r.problems || [];
    for (var k = 0; k < ps.length; k++) {
      out += '<span class="pb sev sev-' + esc(ps[k].severity) + '" title="' + esc(ps[k].message) + '">' + esc(ps[k].code) + "</span>";
    }
    if (parents[idx] < 0 && r.parent) out += '<span class="orphan">parent ' + esc(r.parent) + " not in this report</span>";
    return out;
  }


  function rowHtml(idx, lvl, open) {
    var r = objs[idx];
    level[idx] = lvl;
    var has = nkids[idx] > 0;
    // lean markup: 10^5 of these are parsed; tabindex and aria-selected are set when needed
    var h = '<li role="treeitem" id="o-' + idx + '" data-address="' + esc(r.address || "") + '"' +
      (r.handle ? ' data-handle="' + esc(r.handle) + '"' : "") + ' aria-level="' + lvl + '"' +
      (has ? ' aria-expanded="' + (open ? "true" : "false") + '"' : "") + (serious(r) ? ' class="bad"' : "") + ">" +
      '<div class="row">' + (has ? '<span class="tw" aria-hidden="true"></span>' : "") +
      '<span class="ty ' + typeClass(r.wdf_type) + '">' + esc(r.wdf_type || "type " + (r.fx_type || "unknown")) + "</span> " +
      '<span class="cl">' + esc(r.class || "class unknown") + "</span> " +
      '<code class="h">' + (r.handle ? esc(r.handle) : "no handle") + "</code> " +
      '<code class="a">' + esc(r.address || "") + "</code>" + facts(r, idx) + "</div>";
    if (has) h += '<ul role="group"' + (open ? "" : " hidden") + "></ul>";
    return h + "</li>";
  }

  function li(idx) { return document.getElementById("o-" + idx); }
  function groupOf(idx) { var e = li(idx); return e ? e.lastElementChild : null; }

  // draw up to `limit` more children of idx; true when all are drawn
  function drawKids(idx, limit) {
    var ul = groupOf(idx);
    if (!ul) return true;
    var start = first[idx] + drawn[idx], end = Math.min(first[idx + 1], start + limit);
    if (start >= end) return true;
    var lvl = level[idx] + 1, html = [];
    for (var k = start; k < end; k++) {
      var c = kids[k];
      var open = lvl <= OPEN_LEVELS - 1 && nkids[c] > 0;
      html.push(rowHtml(c, lvl, open));
    }
    // parsed in an inert template document (no style or layout work), then moved in at once
    scratch.innerHTML = html.join("");
    ul.appendChild(scratch.content);
    for (k = start; k < end; k++) if (nkids[kids[k]] > 0) queue.push(kids[k]);
    drawn[idx] += end - start;
    return first[idx] + drawn[idx] >= first[idx + 1];
  }
  function drawAllKids(idx) { while (!drawKids(idx, 1 << 30)) { /* all at once */ } }

  // per-driver trees
  var trees = document.getElementById("trees");
  if (n > 5000) trees.classList.add("big");  // skip layout of rows off screen (content-visibility)
  var roots = {}, order = [], seen = {};
  // the crashing driver's tree first (the triage headline's fault)
  var fault = doc.triage && doc.triage.fault, crashing = fault && fault.kmdf_driver && fault.kmdf_driver.name;
  if (typeof crashing === "string") { seen[crashing] = 1; order.push(crashing); }
  (doc.drivers || []).forEach(function (d) { var k = d.name === null ? "\u0000" : String(d.name); if (!seen[k]) { seen[k] = 1; order.push(k); } });
  for (i = 0; i < n; i++) {
    if (parents[i] >= 0) continue;
    var key = objs[i].driver === null || objs[i].driver === undefined ? "\u0000" : String(objs[i].driver);
    if (!roots[key]) roots[key] = [];
    roots[key].push(i);
    if (!seen[key]) { seen[key] = 1; order.push(key); }
  }
  var queue = [], qhead = 0, sections = [];
  var html = [];
  order.forEach(function (key, k) {
    var rs = roots[key];
    if (!rs) return;
    var name = key === "\u0000" ? "driver unknown" : key, count = 0;
    html.push('<section class="drv" data-driver="' + esc(name) + '" aria-labelledby="drv-h-' + k + '"><h3 id="drv-h-' + k + '">Driver ' +
      esc(name) + ' <small id="drv-c-' + k + '"></small></h3><ul role="tree" aria-labelledby="drv-h-' + k + '" data-k="' + k + '">');
    rs.forEach(function (r) { html.push(rowHtml(r, 1, nkids[r] > 0 && OPEN_LEVELS > 1)); if (nkids[r] > 0) queue.push(r); });
    html.push("</ul></section>");
    sections.push({ k: k, roots: rs });
  });
  trees.insertAdjacentHTML("beforeend", html.join(""));
  // object counts per driver section (subtree sizes)
  var size = new Int32Array(n);
  for (i = n - 1; i >= 0; i--) { size[i] += 1; if (parents[i] >= 0) size[parents[i]] += size[i]; }
  sections.forEach(function (s) {
    var c = 0; s.roots.forEach(function (r) { c += size[r]; });
    document.getElementById("drv-c-" + s.k).textContent = c.toLocaleString("en-US") + " object" + (c === 1 ? "" : "s");
  });
  // one tab stop per tree (roving tabindex)
  Array.prototype.forEach.call(trees.querySelectorAll('ul[role="tree"]'), function (t) {
    if (t.firstElementChild) t.firstElementChild.tabIndex = 0;
  });
  var T2 = performance.now();
  var status = document.getElementById("status");
  var complete = false;

  // the next slice as soon as the browser has handled input and painted (a message, not
  // setTimeout, whose nested calls are clamped to 4 ms)
  var channel = new MessageChannel();
  channel.port1.onmessage = pump;
  function pump() {
    var t = performance.now();
    while (qhead < queue.length && performance.now() - t < SLICE_MS) {
      if (drawKids(queue[qhead], CHUNK)) qhead++;
    }
    if (qhead < queue.length) { channel.port2.postMessage(0); return; }
    finish();
  }
  function drawEverything() { while (qhead < queue.length) { if (drawKids(queue[qhead], 1 << 30)) qhead++; } finish(); }
  function finish() {
    if (complete) return;
    complete = true;
    var T3 = performance.now();
    window.wdfdbgTiming = { objects: n, parse_ms: T1 - T0, first_draw_ms: T2 - T0, complete_ms: T3 - T0, script_start_ms: T0 };
    status.textContent = n.toLocaleString("en-US") + " objects";
    document.documentElement.setAttribute("data-wdfdbg-rendered", "complete");
    if (location.hash) reveal(location.hash);
  }

  // open / close
  function setOpen(idx, open) {
    var e = li(idx);
    if (!e || nkids[idx] === 0) return;
    if (open) drawAllKids(idx);
    e.setAttribute("aria-expanded", open ? "true" : "false");
    e.lastElementChild.hidden = !open;
  }
  function isOpen(e) { return e.getAttribute("aria-expanded") === "true"; }
  function shown(e) { return e.getClientRects().length > 0; }

  // selection and focus (one tab stop per tree: roving tabindex)
  var selected = -1;
  function focusItem(e) {
    if (!e) return;
    var tree = e.closest('ul[role="tree"]');
    var old = tree.querySelector('li[tabindex="0"]');
    if (old && old !== e) old.removeAttribute("tabindex");
    e.tabIndex = 0;
    e.focus({ preventScroll: false });
  }
  function select(idx) {
    if (selected >= 0) { var o = li(selected); if (o) o.removeAttribute("aria-selected"); }
    selected = idx;
    var e = li(idx);
    if (e) e.setAttribute("aria-selected", "true");
    showDetails(idx);
  }

  // keyboard: the WAI-ARIA tree pattern
  function nextShown(e) {
    if (isOpen(e) && e.lastElementChild.tagName === "UL") {
      var c = e.lastElementChild.firstElementChild;
      while (c && !shown(c)) c = c.nextElementSibling;
      if (c) return c;
    }
    while (e) {
      var s = e.nextElementSibling;
      while (s && !shown(s)) s = s.nextElementSibling;
      if (s) return s;
      var up = e.parentElement.closest('li[role="treeitem"]');
      if (!up || !e.parentElement.closest('ul[role="tree"]').contains(up)) return null;
      e = up;
    }
    return null;
  }
  function lastShownIn(e) {
    while (isOpen(e) && e.lastElementChild.tagName === "UL") {
      var c = e.lastElementChild.lastElementChild;
      while (c && !shown(c)) c = c.previousElementSibling;
      if (!c) break;
      e = c;
    }
    return e;
  }
  function prevShown(e) {
    var s = e.previousElementSibling;
    while (s && !shown(s)) s = s.previousElementSibling;
    if (s) return lastShownIn(s);
    return e.parentElement.closest('li[role="treeitem"]');
  }
  trees.addEventListener("keydown", function (ev) {
    var e = ev.target.closest && ev.target.closest('li[role="treeitem"]');
    if (!e) return;
    var idx = +e.id.slice(2), to = null, tree = e.closest('ul[role="tree"]');
    switch (ev.key) {
      case "ArrowDown": to = nextShown(e); break;
      case "ArrowUp": to = prevShown(e); break;
      case "ArrowRight":
        if (nkids[idx] > 0 && !isOpen(e)) setOpen(idx, true);
        else if (nkids[idx] > 0) to = nextShown(e);
        break;
      case "ArrowLeft":
        if (nkids[idx] > 0 && isOpen(e)) setOpen(idx, false);
        else to = e.parentElement.closest('li[role="treeitem"]');
        break;
      case "Home": to = tree.firstElementChild; break;
      case "End": to = lastShownIn(tree.lastElementChild); break;
      case "Enter": case " ": select(idx); break;
      default: return;
    }
    ev.preventDefault();
    if (to) focusItem(to);
  });
  trees.addEventListener("click", function (ev) {
    var e = ev.target.closest('li[role="treeitem"]');
    if (!e) return;
    var idx = +e.id.slice(2);
    if (ev.target.classList.contains("tw")) setOpen(idx, !isOpen(e));
    focusItem(e);
    select(idx);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && !/^(INPUT|TEXTAREA)$/.test(ev.target.tagName)) { ev.preventDefault(); search.focus(); }
  });
  document.getElementById("expand-all").addEventListener("click", function () {
    drawEverything();
    for (var k = 0; k < n; k++) if (nkids[k] > 0) setOpen(k, true);
  });
  document.getElementById("collapse-all").addEventListener("click", function () {
    for (var k = 0; k < n; k++) if (nkids[k] > 0 && parents[k] >= 0) setOpen(k, false);
  });

  // search by handle, address, type, class or pool tag
  var search = document.getElementById("search");
  var hay = null, marked = [], timer = 0;
  function haystack(k) {
    var r = objs[k], m = r.memory || {}, la = r.lookaside || {};
    return [r.address, r.handle, r.wdf_type, r.class, m.pool_tag, la.pool_tag, m.buffer].join(" ").toLowerCase();
  }
  function clearMarks() {
    marked.forEach(function (e) { e.classList.remove("match"); e.classList.remove("anc"); });
    marked = [];
    trees.classList.remove("filtering");
    Array.prototype.forEach.call(trees.querySelectorAll(".drv.nomatch"), function (s) { s.classList.remove("nomatch"); });
  }
  function runSearch() {
    var q = search.value.trim().toLowerCase().replace(/`/g, "");
    clearMarks();
    if (!q) { status.textContent = n.toLocaleString("en-US") + " objects"; return; }
    drawEverything();
    if (!hay) { hay = new Array(n); for (var k = 0; k < n; k++) hay[k] = haystack(k); }
    var anc = new Uint8Array(n), hits = 0;
    for (k = 0; k < n; k++) {
      if (hay[k].indexOf(q) < 0) continue;
      hits++;
      var e = li(k);
      e.classList.add("match"); marked.push(e);
      for (var a = parents[k]; a >= 0 && !anc[a]; a = parents[a]) {
        anc[a] = 1; setOpen(a, true);
        var ae = li(a); ae.classList.add("anc"); marked.push(ae);
      }
    }
    trees.classList.add("filtering");
    Array.prototype.forEach.call(trees.querySelectorAll(".drv"), function (s) {
      if (!s.querySelector("li.match")) s.classList.add("nomatch");
    });
    status.textContent = hits.toLocaleString("en-US") + " of " + n.toLocaleString("en-US") + " objects match \u201c" + search.value.trim() + "\u201d";
  }
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(runSearch, n > 20000 ? 250 : 60); });
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") { clearTimeout(timer); runSearch(); var m = trees.querySelector("li.match"); if (m) focusItem(m); }
    if (ev.key === "Escape") { search.value = ""; runSearch(); }
  });
  window.wdfdbgSearch = function (q) { search.value = q; runSearch(); return marked.filter(function (e) { return e.classList.contains("match"); }).length; };

  // go to an object (problem rows, treemap, #o-N links)
  function reveal(target) {
    var m = /^#?o-(\d+)$/.exec(String(target));
    if (!m) return;
    var idx = +m[1];
    if (idx >= n) return;
    drawEverything();
    var e = li(idx);
    if (trees.classList.contains("filtering") && !e.classList.contains("match") && !e.classList.contains("anc")) { search.value = ""; clearMarks(); }
    for (var a = parents[idx]; a >= 0; a = parents[a]) setOpen(a, true);
    focusItem(e);
    select(idx);
    e.scrollIntoView({ block: "center" });
  }
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-i]");
    if (a) { ev.preventDefault(); history.replaceState(null, "", "#o-" + a.getAttribute("data-i")); reveal("o-" + a.getAttribute("data-i")); return; }
    var g = ev.target.closest && ev.target.closest("svg.treemap g[data-i]");
    if (g) chooseBox(g);
  });
  window.addEventListener("hashchange", function () { reveal(location.hash); });

  // the treemap: a box searches for its type or tag and selects its largest object (data-i);
  // one tab stop, the arrow keys move it through the boxes in drawing order
  function chooseBox(g) {
    var q = g.getAttribute("data-q");
    if (q) { search.value = q; runSearch(); } else if (search.value) { search.value = ""; runSearch(); }
    reveal("o-" + g.getAttribute("data-i"));
  }
  var treemap = document.querySelector("svg.treemap");
  if (treemap) treemap.addEventListener("keydown", function (ev) {
    var g = ev.target.closest && ev.target.closest("g[data-i]");
    if (!g) return;
    var boxes = treemap.querySelectorAll("g[data-i]"), k = Array.prototype.indexOf.call(boxes, g), to = -1;
    switch (ev.key) {
      case "ArrowRight": case "ArrowDown": to = Math.min(k + 1, boxes.length - 1); break;
      case "ArrowLeft": case "ArrowUp": to = Math.max(k - 1, 0); break;
      case "Home": to = 0; break;
      case "End": to = boxes.length - 1; break;
      case "Enter": case " ": ev.preventDefault(); chooseBox(g); return;
      default: return;
    }
    ev.preventDefault();
    g.setAttribute("tabindex", "-1");
    boxes[to].setAttribute("tabindex", "0");
    boxes[to].focus();
  });

  // details of one object: every key of its record, generically
  // sizes and lengths read as hex, like the rest of wdfdbg
  var SIZE_KEYS = { length: 1, size: 1, object_size: 1, byte_count: 1, byte_offset: 1, buffer_size: 1,
    memory_object_size: 1, buffer_capacity: 1, expected_size: 1, raw_buffer_size: 1 };
  function valueHtml(v, key) {
    if (typeof v === "number" && SIZE_KEYS[key] && v >= 0 && Math.floor(v) === v) return "0x" + v.toString(16);
    if (v === null || v === undefined) return '<span class="unset">not set</span>';
    if (v === true) return "yes";
    if (v === false) return "no";
    if (Array.isArray(v)) {
      if (!v.length) return "none";
      if (typeof v[0] === "object" && v[0] !== null && !Array.isArray(v[0])) return listHtml(v);
      return v.map(function (x) { return esc(typeof x === "object" ? JSON.stringify(x) : x); }).join(", ");
    }
    if (typeof v === "object") return dlHtml(v);
    return esc(v);
  }
  function dlHtml(o) {
    var h = '<dl class="facts">';
    Object.keys(o).forEach(function (k) { h += "<dt>" + esc(k.replace(/_/g, " ")) + "</dt><dd>" + valueHtml(o[k], k) + "</dd>"; });
    return h + "</dl>";
  }
  function listHtml(items) {  // records in a list (MDLs, problems, contexts): one block each
    return '<ol class="recs">' + items.map(function (r) { return "<li>" + valueHtml(r) + "</li>"; }).join("") + "</ol>";
  }
  function showDetails(idx) {
    var r = objs[idx], body = document.getElementById("details-body");
    var head = "<p><strong>" + esc(r.wdf_type || "type unknown") + "</strong> " + esc(r.class || "class unknown") +
      " <code>" + esc(r.handle || "no handle") + "</code></p><p>" + nkids[idx] + " child object" + (nkids[idx] === 1 ? "" : "s") +
      (parents[idx] >= 0 ? '; parent <a href="#o-' + parents[idx] + '" data-i="' + parents[idx] + '">' + esc(objs[parents[idx]].address) + "</a>" : "") + "</p>";
    body.innerHTML = head + dlHtml(r);
  }

  status.textContent = "Drawing " + n.toLocaleString("en-US") + " objects\u2026";
  channel.port2.postMessage(0);
})();
