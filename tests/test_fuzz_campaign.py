"""The bounded fuzz campaign in CI (issue 10): ``tests/fuzzcampaign.py`` runs
each kind in one child under a 2 GiB address-space cap with a fixed seed and
a fixed number of cases (a 20 s alarm per case, and a timeout for the whole
child), and must find nothing. The seed and budget are printed at the end
of the session (``conftest.py``). ``WDFDBG_FUZZ_SEED`` picks another seed,
``WDFDBG_FUZZ_SCALE`` multiplies the budget (``=10`` for a longer campaign
by hand); a failure prints the case, which replays alone with
``python tests/fuzzcampaign.py --kind KIND --seed SEED --only CASE``."""

import json
import os
import shutil
import subprocess
import sys

import pytest

import hostile
from conftest import DUMPS

X64 = os.path.join(DUMPS, "triage_x64.dmp")
HERE = os.path.dirname(os.path.abspath(__file__))
# cases per kind: about 15 s of the suite in all on a shared 2-core runner
BUDGET = {"isf": 150, "snapshot": 150, "dump": 80, "bomb": 6, "records": 80, "settings": 60}


def campaign(kind, extra=()):
    cases = max(1, int(BUDGET[kind] * hostile.FUZZ_SCALE))
    cmd = [sys.executable, os.path.join(HERE, "fuzzcampaign.py"), "--kind", kind, "--seed", str(hostile.FUZZ_SEED),
           "--cases", str(cases), "--seconds", str(600 * hostile.FUZZ_SCALE)] + list(extra)
    if shutil.which("prlimit"):
        cmd = ["prlimit", "--as=%d" % hostile.AS_2G] + cmd
    p = subprocess.run(cmd, cwd=hostile.ROOT, env=hostile.child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=900 * hostile.FUZZ_SCALE)
    assert p.stdout.strip(), "the campaign printed nothing (exit %d): %s" % (p.returncode, p.stderr[-2000:])
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    hostile.note_summary("%-8s %3d of %3d cases in %5.1f s, exits %s, %d failures" % (
        kind, summary["ran"], cases, summary["seconds"], summary["exits"], len(summary["failures"])))
    assert summary["failures"] == [], json.dumps(summary["failures"], indent=1)
    assert p.returncode == 0, p.stderr[-2000:]
    assert summary["ran"] == cases
    return summary


@pytest.mark.skipif(not os.path.exists(X64), reason="real dump %s is absent" % X64)
def test_campaign_mutated_real_dump():
    campaign("dump", ["--dump", X64])


def test_campaign_mutated_snapshots():
    campaign("snapshot")


def test_campaign_mutated_isf_types():
    campaign("isf")


def test_campaign_decompression_bombs():
    campaign("bomb")


def test_campaign_mutated_record_files():
    campaign("records")


def test_campaign_batch_settings():
    campaign("settings")
