"""Generate ``wdfdbg/data/bugcheck_codes.json`` (read by
``wdfdbg/decoders/bugcheck_codes.py``) from Microsoft's bug check code
reference (the windows-driver-docs repository, CC BY 4.0).

    git clone https://github.com/MicrosoftDocs/windows-driver-docs
    python scripts/make_bugcheck_codes.py windows-driver-docs > wdfdbg/data/bugcheck_codes.json

Reads ``windows-driver-docs-pr/debugger/bug-check-code-reference2.md`` (the
list of codes, names and pages) and, for each code, its page: the one-line
meaning (the page's ``description``), each parameter's meaning (the
"Parameters" table, Markdown or HTML) and, where the page tables parameter 1
values (a "Parameter 1 | ... | Cause" table, or a ``0xN : cause`` text block),
what each value means and what parameters 2-4 hold for it. A page this
script cannot parse gives its name and meaning only; nothing is guessed.
"""

import html
import json
import os
import re
import subprocess
import sys

DEBUGGER = "windows-driver-docs-pr/debugger"
MAX_TEXT = 240


def clean(text, limit=MAX_TEXT):
    """Markdown/HTML cell text as one plain line, cut near ``limit``."""
    text = re.sub(r"<br\s*/?>|</br>|</p>|</li>", "; ", text, flags=re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("\\_", "_").replace("**", "").replace("`", "")
    text = re.sub(r"(?<![A-Za-z0-9])\*([^*]+)\*", r"\1", text)
    text = html.unescape(text).replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"\s+", " ", text).strip(" ;")
    text = re.sub(r"(;\s*)+", "; ", text)
    if limit and len(text) > limit:
        cut = text[:limit]
        dot = cut.rfind(". ")
        text = cut[:dot + 1] if dot > 60 else cut.rstrip() + "..."
    return text


def meaning_of(desc, body):
    """The page's one-line meaning: the first sentence of its description or
    opening paragraphs that says what the bug check indicates."""
    m = re.search(r"^# .*?$(.*?)(?=^#|\Z)", body, re.S | re.M)
    text = clean(desc, 0) + " " + clean(re.sub(r"^>.*$", "", m.group(1), flags=re.M) if m else "", 0)
    for sentence in re.split(r"(?<=[.])\s*(?=[A-Z])", text):
        hit = re.search(r"\b(?:indicates|means|occurs when|occurs if)\b(?: that)?\s+(.*)", sentence)
        if hit and len(hit.group(1)) > 10:
            d = clean(hit.group(1))
            d = d[0].upper() + d[1:]
            return d if d.endswith(".") else d + "."
    return None


def front_matter(text):
    m = re.match(r"---\n(.*?)\n---", text, re.S)
    out = {}
    if m:
        for line in m.group(1).splitlines():
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip().strip('"')
    return out


def parameters_section(text):
    m = re.search(r"^#{2,3} [^\n]*[Pp]arameters?\s*$(.*?)(?=^## |\Z)", text, re.S | re.M)
    return m.group(1) if m else ""


def md_rows(block):
    """Markdown tables in a block: a list of (header cells, rows of cells)."""
    tables, header, rows = [], None, []
    for line in block.splitlines() + [""]:
        s = line.strip()
        if s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if header is None:
                header = cells
            elif all(re.match(r"^:?-+:?$", c) for c in cells if c):
                continue
            else:
                rows.append(cells)
        elif header is not None:
            tables.append((header, rows))
            header, rows = None, []
    return tables


def html_rows(block):
    tables = []
    for t in re.findall(r"<table.*?</table>", block, re.S | re.I):
        rows = []
        for tr in re.findall(r"<tr.*?</tr>", t, re.S | re.I):
            cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S | re.I)
            rows.append(cells)
        if rows:
            tables.append((rows[0], rows[1:]))
    return tables


def values(cell):
    out = []
    for v in re.split(r"<br\s*/?>|</br>|,|\bor\b|\s+", clean(cell).replace(";", " ")):
        v = v.strip().rstrip(".")
        if re.match(r"^0x[0-9A-Fa-f]+$", v):
            out.append(int(v, 16))
        elif re.match(r"^\d+$", v):
            out.append(int(v))
    return out


def parse_page(text):
    block = parameters_section(text)
    params = [None] * 4
    subs = {}
    for header, rows in md_rows(block) + html_rows(block):
        head = [clean(h).lower() for h in header]
        if head and head[0] == "parameter" and len(head) >= 2:
            for r in rows:
                if len(r) >= 2 and clean(r[0]) in ("1", "2", "3", "4"):
                    params[int(clean(r[0])) - 1] = clean(r[1]) or None
        elif head and head[0].startswith("parameter 1"):
            cols = {}
            for i, h in enumerate(head):
                m = re.match(r"parameter ([234])", h)
                if m:
                    cols[int(m.group(1))] = i
                elif "cause" in h or "description" in h or "meaning" in h:
                    cols["cause"] = i
            for r in rows:
                if not r:
                    continue
                vs = values(r[0])
                cause = clean(r[cols["cause"]]) if "cause" in cols and cols["cause"] < len(r) else None
                p = tuple((clean(r[cols[n]]) or None) if n in cols and cols[n] < len(r) else None for n in (2, 3, 4))
                for v in vs:
                    subs.setdefault(v, (cause, p))
    # "0xN : cause" lines, each followed by "   2 - meaning" lines (0x1C7 and others)
    cur = None
    for line in block.splitlines():
        m = re.match(r"^\s*(0x[0-9A-Fa-f]+)\s*:\s*(.+)$", line)
        if m:
            cur = int(m.group(1), 16)
            subs.setdefault(cur, (clean(m.group(2)), (None, None, None)))
            continue
        m = re.match(r"^\s+([234])\s*-\s*(.+)$", line)
        if m and cur is not None and cur in subs:
            cause, p = subs[cur]
            p = list(p)
            p[int(m.group(1)) - 2] = clean(m.group(2))
            subs[cur] = (cause, tuple(p))
    return params, subs


def show(path, root, rev):
    if rev:
        return subprocess.run(["git", "-C", root, "show", "%s:%s" % (rev, path)], check=True,
                              stdout=subprocess.PIPE).stdout.decode("utf-8", "replace")
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        return f.read()


def main(argv):
    root = argv[1] if len(argv) > 1 else "windows-driver-docs"
    rev = argv[2] if len(argv) > 2 else None
    commit = subprocess.run(["git", "-C", root, "rev-parse", rev or "HEAD"], stdout=subprocess.PIPE,
                            check=False).stdout.decode().strip() or "unknown"
    ref = show(DEBUGGER + "/bug-check-code-reference2.md", root, rev)
    entries = []
    for m in re.finditer(r"^\|\s*(0x[0-9A-Fa-f]+)\s*\|\s*\[\*\*([^*]+)\*\*\]\(([^)]+)\)", ref, re.M):
        code, name, page = int(m.group(1), 16), m.group(2).replace("\\_", "_"), m.group(3)
        try:
            text = show(DEBUGGER + "/" + page, root, rev)
        except (subprocess.CalledProcessError, OSError):
            entries.append((code, name, None, [None] * 4, {}))
            continue
        fm = front_matter(text)
        params, subs = parse_page(text)
        entries.append((code, name, meaning_of(fm.get("description", ""), text), params, subs))
    table = {
        "origin": "GENERATED by scripts/make_bugcheck_codes.py from Microsoft's bug check code reference "
                  "(github.com/MicrosoftDocs/windows-driver-docs, commit %s, "
                  "windows-driver-docs-pr/debugger/bug-check-*.md; CC BY 4.0, texts shortened). "
                  "Do not edit by hand: rerun the script." % commit,
        "codes": {},
    }
    for code, name, meaning, params, subs in entries:
        table["codes"]["0x%X" % code] = {
            "name": name, "meaning": meaning, "parameters": params,
            "by_parameter1": {"0x%X" % v: {"cause": subs[v][0], "parameters": list(subs[v][1])}
                              for v in sorted(subs)}}
    json.dump(table, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
