"""``wdfdbg memusage`` against the scenario ground truth: WDFMEMORY
objects and bytes by driver, pool tag, origin and class, with totals, and
the lookaside summary, in text and JSON (schema-validated)."""


import pytest


from cmdhelpers import FIXTURES, ROOT, fixture, load_truth, run, run_json  # noqa: F401


def expected_tables(truth, driver=None):
    """The tables from the truth's objects that the walk reaches."""
    groups = {"by_driver": {}, "by_pool_tag": {}, "by_origin": {}, "by_class": {}}
    total = [0, 0]
    for o in truth["objects"]:
        if not o.get("memory") or not o.get("in_tree"):
            continue
        if driver and o["driver"] != driver:
            continue
        m = o["memory"]
        keys = {"by_driver": o["driver"], "by_pool_tag": m["pool_tag"], "by_origin": m["origin"], "by_class": o["class"]}
        for g, k in keys.items():
            row = groups[g].setdefault("-" if k is None else k, [0, 0])
            row[0] += 1
            row[1] += m["length"]
        total[0] += 1
        total[1] += m["length"]
    out = {}
    for g, rows in groups.items():
        out[g] = dict((k, tuple(v)) for k, v in rows.items())
    return out, tuple(total)


def as_dict(rows):
    return dict((r["key"], (r["objects"], r["bytes"])) for r in rows)


@pytest.mark.parametrize("name", ("typical", "two_drivers", "corrupt"))
def test_tables_match_truth(name):
    import wdfdbg.memusage as mu
    truth = load_truth(name)
    code, doc = run_json(mu, [fixture(name, "wdfsnap.json.gz")])
    usage = doc["memusage"]
    want, total = expected_tables(truth)
    for g in ("by_driver", "by_pool_tag", "by_origin", "by_class"):
        assert as_dict(usage[g]) == want[g], g
        rows = usage[g]
        assert rows == sorted(rows, key=lambda r: (-r["bytes"], r["key"]))
    assert (usage["total"]["objects"], usage["total"]["bytes"]) == total
    assert doc["summary"]["memory_objects"] == total[0]
    assert doc["summary"]["memory_bytes"] == total[1]
    los = [o for o in truth["objects"] if o.get("lookaside") and o["in_tree"]]
    assert len(usage["lookasides"]) == len(los)
    by = dict((r["address"], r) for r in usage["lookasides"])
    for o in los:
        r = by[o["address"]]
        la = o["lookaside"]
        assert (r["kind"], r["pool_tag"], r["buffer_size"]) == (la["kind"], la["pool_tag"], la["buffer_size"])
        live = [x for x in la["live_memory"]]
        assert r["allocated"] == len(live)
        assert r["allocated_bytes"] == len(live) * la["buffer_size"]
        assert r["free_entries"] == la["list"]["free_entry_count"]


def test_truth_counts_agree_on_sound_fixtures():
    import wdfdbg.memusage as mu
    for name in ("typical", "two_drivers", "leak"):
        truth = load_truth(name)
        if name == "leak":
            _, doc = run_json(mu, [fixture(name, "wdfsnap.json.gz")])
            u = doc["memusage"]
            assert (u["total"]["objects"], u["total"]["bytes"]) == (truth["counts"]["memory_objects"], truth["counts"]["memory_bytes"])
            assert as_dict(u["by_pool_tag"]) == {"Leak": (10000, truth["counts"]["memory_bytes"])}
            assert as_dict(u["by_origin"]) == {"inline": (10000, truth["counts"]["memory_bytes"])}


def test_driver_filter():
    import wdfdbg.memusage as mu
    truth = load_truth("two_drivers")
    path = fixture("two_drivers", "wdfsnap.json.gz")
    for d in truth["drivers"]:
        _, doc = run_json(mu, [path, "--driver", d["name"].lower()])
        want, total = expected_tables(truth, driver=d["name"])
        assert as_dict(doc["memusage"]["by_driver"]) == want["by_driver"]
        assert (doc["memusage"]["total"]["objects"], doc["memusage"]["total"]["bytes"]) == total
        assert [x["name"] for x in doc["drivers"]] == [d["name"]]
    assert mu.main([path, "--driver", "NoSuchDriver"]) == 2


def test_text_tables():
    import wdfdbg.memusage as mu
    truth = load_truth("typical")
    code, text = run(mu, [fixture("typical", "wdfsnap.json.gz")])
    want, total = expected_tables(truth)
    for header in ("driver", "pool tag", "origin", "class"):
        assert "%s " % header in text
    from wdfdbg.render.usage import NO_KEY
    for key, (n, b) in want["by_pool_tag"].items():
        words = (NO_KEY["by_pool_tag"] if key == "-" else key).split() + [str(n), str(b)]   # a row without a tag says so
        assert any(line.split()[:len(words)] == words for line in text.splitlines()), key
    assert sum(1 for line in text.splitlines() if line.split()[:3] == ["total", str(total[0]), str(total[1])]) == 4
    for o in truth["objects"]:
        if o.get("lookaside"):
            assert "WDFLOOKASIDE %s" % o["handle"] in text
    # the exit code follows the error problems the walk (and triage) report
    assert code == (1 if "\nerror " in text else 0)
