"""DML output: escaping, links, the debugger's preference, output through
pykd.dprint(text, True), and command links that parse with the linked
command's own argument parser."""

import glob
import importlib
import os
import re
import sys

import pytest

from minisnap import document
from wdfdbg.render.dml import DML, DmlMarkup, debugger_wants_dml, dml_sink, escape, unescape
from wdfdbg.render.markup import PLAIN, PY
from wdfdbg.render.output import Output
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.testing import pykd_ext
from wdfdbg.testing.fake_pykd import fake_pykd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_FILES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "*.wdfsnap.json*")))
M = DmlMarkup()


def test_escape_text():
    assert M.text('a < b & c > "d"') == "a &lt; b &amp; c &gt; &quot;d&quot;"
    assert M.text("tab\tnl\n") == "tab\tnl\n"
    assert M.text("bell\x07") == "bell\\x07"
    assert unescape(escape('<&>"x')) == '<&>"x'
    assert M.text("&amp;") == "&amp;amp;"  # text is never trusted as markup


def test_link_escapes_label_and_command():
    s = M.link('dt <x> & "y"', 'dt Wdf01000!FxObject 0x1 "a<b"')
    assert s == '<link cmd="dt Wdf01000!FxObject 0x1 &quot;a&lt;b&quot;">dt &lt;x&gt; &amp; &quot;y&quot;</link>'
    assert M.bold("<b>") == "<b>&lt;b&gt;</b>"
    assert M.dml is True and PLAIN.dml is False


def test_link_helpers_make_commands():
    import sys
    py = "!py -%d.%d -m " % sys.version_info[:2]   # the running interpreter, as pykd-ext's -3.x takes it
    assert PY == py
    assert M.handle_link("WDFDEVICE 0x10", 0x10) == '<link cmd="%swdfdbg.memtree --handle 0x10">WDFDEVICE 0x10</link>' % py
    assert 'cmd="%swdfdbg.memory 0x20"' % py in M.memory_link("m", 0x20)
    assert 'cmd="%swdfdbg.mdl 0x30"' % py in M.mdl_link("m", 0x30)
    assert 'cmd="%swdfdbg.lookaside 0x40"' % py in M.lookaside_link("l", 0x40)
    assert 'cmd="!lookaside 0x50"' in M.kernel_lookaside_link("k", 0x50)
    assert 'cmd="dt Wdf01000!FxMemoryBuffer 0x60"' in M.object_link("o", "FxMemoryBuffer", 0x60)


def test_debugger_wants_dml():
    import sys
    sys.modules["pykd"] = None
    try:
        assert debugger_wants_dml() is False  # no pykd
    finally:
        del sys.modules["pykd"]
    with fake_pykd(document()) as pk:
        assert debugger_wants_dml() is False  # pykd outside WinDbg (no writedml on stdout: --engine pykd)
        with pykd_ext.debugger_output():
            assert debugger_wants_dml() is True
            assert pk.fake.calls.get("getDebugOptions")   # decided by the engine option, not by parsing text
            assert pk.fake.commands == []
            pk.dbgCommand(".prefer_dml 0")
            assert debugger_wants_dml() is False
    with fake_pykd(document(), prefer_dml=False):
        with pykd_ext.debugger_output():
            assert debugger_wants_dml() is False


def test_dml_goes_through_dprint_to_writedml(capsys):
    with fake_pykd(document()) as pk:
        with pykd_ext.debugger_output() as res:
            out = Output(dml_sink(), DML)
            out.write("<b>x</b>")
            out.close()
        assert pk.fake.output == [("<b>x</b>\n", True)]
        assert res.parts == [("out", "<b>x</b>\n", True)]
    assert capsys.readouterr()[0] == ""
    out = Output(dml_sink(), DML)  # no pykd: as is on stdout
    out.write("<b>y</b>")
    out.close()
    assert capsys.readouterr()[0] == "<b>y</b>\n"


def test_long_dml_arrives_in_pieces_at_lines():
    text = "".join("line %04d <link cmd=\"x\">y</link>\n" % i for i in range(2000))
    with fake_pykd(document()):
        with pykd_ext.debugger_output() as res:
            out = Output(dml_sink(), DML)
            out.write(text)
            out.close()
    assert res.text() == text and len(res.parts) > 1
    assert all(dml and len(t) <= 8000 and t.endswith("\n") for _, t, dml in res.parts)


def test_markup_for_and_emit_under_the_debugger(tmp_path):
    memtree = pytest.importorskip("wdfdbg.memtree")
    from wdfdbg import command
    from wdfdbg.session import open_session
    mini = str(tmp_path / "mini.wdfsnap.json")
    snapfmt.save(document(), mini)   # a dump file the debugger names in '||' (partly captured pages)
    with fake_pykd(mini):
        with pykd_ext.debugger_output():
            s = open_session(None)
            args = memtree.parse_args([])
            m = command.markup_for(args, s)
            assert getattr(m, "dml", False)
            assert not getattr(command.markup_for(memtree.parse_args(["--dml", "off"]), s), "dml", False)
            assert not getattr(command.markup_for(memtree.parse_args(["--json"]), s), "dml", False)
        res = pykd_ext.run("-m wdfdbg.memtree")
        assert res.parts and all(dml for c, _, dml in res.parts if c == "out")
        assert "<link cmd=" in res.text()
    with fake_pykd(mini, prefer_dml=False):
        with pykd_ext.debugger_output():
            s = open_session(None)
            assert not getattr(command.markup_for(memtree.parse_args([]), s), "dml", False)
        res = pykd_ext.run("-m wdfdbg.memtree")
        assert res.text() and not any(dml for _, _, dml in res.parts)


# -- well-formed DML and links that parse -------------------------------------
_TOKEN = re.compile(r'<link cmd="([^"<>]*)">|</link>|<b>|</b>|<[^>]*>?|&[^;\s]*;?|[^<&]+', re.S)
_ENTITY = re.compile(r"&(amp|lt|gt|quot);$")


def check_dml(text):
    """Well-formed DML as wdfdbg writes it; returns the link commands."""
    cmds = []
    in_link = in_bold = False
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if m.group(1) is not None:
            assert not in_link, "nested link"
            in_link = True
            cmd = m.group(1)
            for ent in re.findall(r"&[^;]*;?", cmd):
                assert _ENTITY.match(ent), "bad entity %r in cmd" % ent
            cmds.append(unescape(cmd))
        elif tok == "</link>":
            assert in_link, "stray </link>"
            in_link = False
        elif tok == "<b>":
            assert not in_bold
            in_bold = True
        elif tok == "</b>":
            assert in_bold
            in_bold = False
        elif tok.startswith("<"):
            raise AssertionError("unknown or unescaped markup %r in %r" % (tok, text[max(0, m.start() - 40):m.end() + 40]))
        elif tok.startswith("&"):
            assert _ENTITY.match(tok), "unescaped & in %r" % text[max(0, m.start() - 40):m.end() + 40]
        else:
            assert ">" not in tok and '"' not in tok, "unescaped > or \" in %r" % tok
    assert not in_link and not in_bold
    return cmds


def bootstrapper_args(cmd):
    """Split like pykd-ext's !py (boost escaped_list_separator: blanks
    separate, double quotes group, no escape character)."""
    out, cur, quoted, have = [], [], False, False
    for ch in cmd:
        if ch == '"':
            quoted = not quoted
            have = True
        elif ch in " \t" and not quoted:
            if cur or have:
                out.append("".join(cur))
            cur, have = [], False
        else:
            cur.append(ch)
    if cur or have:
        out.append("".join(cur))
    return [a for a in out if a != ""]


def parse_py_link(cmd):
    """Parse a ``!py -m wdfdbg.X ARGS`` (or ``!py wdfdbg.X ARGS``) link with
    module X's own parser; returns the module name, or None when X does not
    exist yet."""
    toks = bootstrapper_args(cmd)
    assert toks[0] == "!py"
    opts, toks = pykd_ext.parse(" ".join(toks[1:]))
    assert opts["module"] and opts["version"] == "%d.%d" % sys.version_info[:2], cmd
    modname = toks[0]
    assert modname.startswith("wdfdbg."), cmd
    try:
        mod = importlib.import_module(modname)
    except ImportError:
        return None
    parse = getattr(mod, "parse_args", None) or mod.make_parser().parse_args
    parse(toks[1:])  # raises UsageError on a bad link
    return modname


def _dml_sources(tmp_path):
    out = []
    p = str(tmp_path / "mini.wdfsnap.json")
    snapfmt.save(document(), p)
    out.append(p)
    return out + FIXTURE_FILES


def test_memtree_dml_is_well_formed_and_links_parse(tmp_path):
    memtree = pytest.importorskip("wdfdbg.memtree")
    from wdfdbg.session import open_session
    parsed = set()
    per_module = {}
    for path in _dml_sources(tmp_path):
        s = open_session(path)
        for extra in ([], ["--no-contexts"]):
            _, text = memtree.execute(s, memtree.parse_args([path] + extra), DmlMarkup())
            cmds = check_dml(text)
            assert cmds, "no links in memtree output for %s" % path
            for c in sorted(set(cmds)):
                if c.startswith("!py"):
                    key = bootstrapper_args(c)[:4]
                    per_module[tuple(key)] = per_module.get(tuple(key), 0) + 1
                    if per_module[tuple(key)] > 40:
                        continue  # enough of this command's links
                    name = parse_py_link(c)
                    if name:
                        parsed.add(name)
                elif c.startswith("dt "):
                    assert re.match(r"^dt \w+!\w+ 0x[0-9a-f]+$", c), c
                elif c.startswith("!lookaside "):
                    assert re.match(r"^!lookaside 0x[0-9a-f]+$", c), c
    assert "wdfdbg.memtree" in parsed


def test_other_commands_dml_links_parse(tmp_path):
    """Every command module that exists renders well-formed DML whose
    wdfdbg links parse (run with its default arguments on the sample)."""
    from wdfdbg.cli import COMMANDS
    from wdfdbg.record import takes_markup
    from wdfdbg.session import open_session
    p = str(tmp_path / "mini.wdfsnap.json")
    snapfmt.save(document(), p)
    ran = 0
    for name, _ in COMMANDS:
        if name in ("record", "snapshot"):
            continue
        try:
            mod = importlib.import_module("wdfdbg.%s" % name)
        except ImportError:
            continue
        execute = getattr(mod, "execute", None)
        parse = getattr(mod, "parse_args", None)
        if execute is None or parse is None or not takes_markup(execute):
            continue  # a command without markup writes plain text
        try:
            args = parse([p])
        except Exception:
            continue  # needs more arguments (a handle, an address)
        _, text = execute(open_session(p), args, DmlMarkup())
        for c in check_dml(text):
            if c.startswith("!py"):
                parse_py_link(c)
        ran += 1
    assert ran >= 1
