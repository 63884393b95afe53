"""A built-in profile chosen for an OS build it was not derived from says
so: the report's source names the build the layout came from and that it
is unverified for the dump's (ProxyRule: 17763 on the 1607 profile;
FrancoTrone64: 26100 on the Windows 11 profile); a dump of the build the
profile came from (triage_x64, 19041) gets no such note."""

import os

import pytest

from cmdhelpers import run, run_json
from conftest import DUMPS
from wdfdbg import info, memtree
from wdfdbg.layouts.profiles import PROFILE_BY_NAME, choose_profile


def need(name):
    path = os.path.join(DUMPS, name)
    if not os.path.exists(path):
        pytest.skip("../shared/dumps/%s is absent" % name)
    return path


def test_fit_note_by_build():
    assert choose_profile("x64", 17763).name == "win10-1607-x64"
    assert PROFILE_BY_NAME["win10-1607-x64"].fit_note(14393) is None
    assert PROFILE_BY_NAME["win10-1607-x64"].fit_note(17763) == "derived from build 14393, unverified for build 17763"
    assert PROFILE_BY_NAME["win10-19041-x64"].fit_note(19045) is None
    assert PROFILE_BY_NAME["win10-19041-x64"].fit_note(20348) == "derived from build 19041 to 19045, unverified for build 20348"
    assert PROFILE_BY_NAME["win11-x64"].fit_note(26100) == "derived from build 22000, unverified for build 26100"
    assert PROFILE_BY_NAME["win11-x64"].fit_note(None) is None
    assert "unverified" in PROFILE_BY_NAME["win11-arm64"].fit_note(22000)


@pytest.mark.parametrize("name, profile, derived, build", [
    ("ProxyRule_011620-8250-01.dmp", "win10-1607-x64", "14393", 17763),
    ("FrancoTrone64_AX200_082325-12593-01.dmp", "win11-x64", "22000", 26100),
])
def test_source_says_which_build_the_profile_came_from(name, profile, derived, build):
    path = need(name)
    note = "derived from build %s, unverified for build %d" % (derived, build)
    code, out = run(memtree, [path])
    assert code == 0
    assert "types from the built-in profile %s (%s)" % (profile, note) in out
    code, doc = run_json(memtree, [path])
    assert doc["source"]["profile"] == profile and doc["source"]["profile_note"] == note
    code, out = run(info, [path])
    assert "layout:      built-in profile %s, %s" % (profile, note) in out


def test_no_note_for_the_build_the_profile_came_from():
    code, doc = run_json(memtree, [need("triage_x64.dmp")])
    assert doc["source"]["profile"] == "win10-19041-x64" and "profile_note" not in doc["source"]
    code, out = run(info, [need("triage_x64.dmp")])
    assert "layout:" not in out
