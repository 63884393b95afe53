"""``--sample`` names the SOURCE (the snapshot bundled in the package), so a
lone positional is the handle: ``memory --sample H``, ``lookaside --sample
H`` and ``memtree --sample H`` decode H in the sample; SOURCE and --sample
together stay a usage error."""

import pytest

from cmdhelpers import run
from wdfdbg import command, lookaside, memory, memtree
from wdfdbg.errors import UsageError
from wdfdbg.session import sample_path

MEMORY = "0x3f74ffff6fa8"      # the sample's FxMemoryPagedBufferFromPool (AmdPPM)
LOOKASIDE = "0x3f74ffff6da8"   # the sample's FxNPagedLookasideList


def test_memory_sample_handle():
    args = memory.parse_args(["--sample", MEMORY])
    assert args.root == MEMORY and args.source is None
    code, out = run(memory, ["--sample", MEMORY])
    assert code == 0
    assert "WDFMEMORY %s  dt FxMemoryPagedBufferFromPool" % MEMORY in out


def test_lookaside_sample_handle():
    code, out = run(lookaside, ["--sample", LOOKASIDE])
    assert code == 0
    assert "WDFLOOKASIDE %s  dt FxNPagedLookasideList" % LOOKASIDE in out


def test_memtree_sample_handle():
    args = memtree.parse_args(["--sample", MEMORY])
    assert args.root == MEMORY and args.source is None
    code, out = run(memtree, ["--sample", MEMORY])
    assert code == 0
    body = out.split("Driver AmdPPM", 1)[1]
    assert body.splitlines()[1].startswith("WDFMEMORY %s" % MEMORY)


def test_source_and_sample_together_is_usage_error():
    args = memory.parse_args([sample_path(), MEMORY, "--sample"])
    with pytest.raises(UsageError) as e:
        command.source_path(args)
    assert str(e.value) == "give SOURCE or --sample, not both"
