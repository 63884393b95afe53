"""The one writer every command goes through (wdfdbg.render.output)."""

from wdfdbg.render.dml import DML
from wdfdbg.render.output import Capture, Output


def test_pieces_are_bounded_and_add_up():
    cap = Capture()
    out = Output(cap, limit=100)
    text = "".join("line %d\n" % i for i in range(100)) + "x" * 1000
    out.write(text)
    out.close()
    assert "".join(cap.pieces) == text + "\n"
    assert max(len(p) for p in cap.pieces) <= 100
    # pieces end at line ends where the text has them
    assert all(p.endswith("\n") for p in cap.pieces[:5])


def test_many_small_writes_are_joined():
    cap = Capture()
    out = Output(cap, limit=1000)
    for i in range(5000):
        out.write("%d," % i)
    out.close()
    assert "".join(cap.pieces) == "".join("%d," % i for i in range(5000)) + "\n"
    assert len(cap.pieces) == out.pieces <= 25


def test_dml_pieces_never_cut_a_tag_or_entity():
    cap = Capture()
    out = Output(cap, DML, limit=100)
    text = '<link cmd="!py -m wdfdbg.memory 0x10">0x10</link> &amp; ' * 50
    out.write(text)
    out.close()
    assert "".join(cap.pieces) == text + "\n"
    for p in cap.pieces:
        assert len(p) <= 100
        assert p.count("<") == p.count(">")
        assert p.count("&") == p.count(";")


def test_empty_output_writes_nothing():
    cap = Capture()
    out = Output(cap)
    out.close()
    assert cap.pieces == []
