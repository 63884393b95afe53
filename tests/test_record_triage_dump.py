"""`record` of a real triage dump replays byte for byte (docs/windbg.md):
drivers named and versioned from KMDF's table in the dump, the same problem
severities (the snapshot says which kind of dump it was cut from), and no
symbol warning where the dump and the replay both have no symbol; `snapshot`
of the arm64 dump prints no such warning either."""

import os

import pytest

from cmdhelpers import strip_source
from conftest import DUMPS
from wdfdbg import memtree, record, snapshot

X64 = os.path.join(DUMPS, "triage_x64.dmp")
ARM64 = os.path.join(DUMPS, "triage_arm64.dmp")
HIDI2C = os.path.join(DUMPS, "DAIMUVG_102622-15671-01.dmp")


def need(path):
    if not os.path.exists(path):
        pytest.skip("../shared/dumps/%s is absent" % os.path.basename(path))
    return path


@pytest.mark.parametrize("dump, argv", [(X64, ["--driver", "AmdPPM"]), (X64, []), (HIDI2C, [])])
def test_record_replays_byte_for_byte(dump, argv, tmp_path, capsys):
    out = str(tmp_path / "rec.wdfsnap.json.gz")
    code = record.main([out, "--", "memtree", need(dump)] + argv)
    live, err = capsys.readouterr()
    assert "warning" not in err and "None" not in err
    code2 = memtree.main([out] + argv)
    replay, _ = capsys.readouterr()
    assert code == code2 == 0
    assert strip_source(live) == strip_source(replay)
    if dump == X64:
        assert "in AmdPPM, a KMDF 1.15 driver" in replay
        assert "Driver <globals" not in replay


def test_snapshot_of_arm64_prints_no_symbol_warning(tmp_path, capsys):
    out = str(tmp_path / "arm64.wdfsnap.json.gz")
    code = snapshot.main([need(ARM64), "-o", out])
    said, err = capsys.readouterr()
    assert code == 0
    assert said.startswith("wrote ") and "warning" not in said + err
