"""A bounded, seeded fuzz campaign over whole commands (issue 10, "a fuzz
suite in tests/"). ``tests/test_fuzz_campaign.py`` runs it in a child under
a 2 GiB address-space cap; it can also be run by hand:

    python tests/fuzzcampaign.py --kind isf --seed 20261201 --cases 60
    python tests/fuzzcampaign.py --kind dump --only 17      # replay one case

Kinds: ``dump`` (mutations of the real triage dump: header and triage
fields, the data block and driver tables, lying bytes inside captured
memory, truncation), ``snapshot`` (mutated JSON values, lying memory,
split, overlapping and moved ranges, page sizes), ``isf`` (mutated base
types, struct sizes, field offsets and types, array counts, types removed
or moved between modules), ``bomb`` (gzip bombs of every shape, member
floods, range floods, deep nesting, item floods), ``records`` (a batch's
record file mutated: values of every type in every key, cut and joined
lines, lines without newlines, non-UTF-8 bytes, gzip, a dump's header, fed
to ``corpus``) and ``settings`` (``batch`` with hostile ``--timeout``,
``--memory-cap``, ``--jobs`` and ``WDFDBG_MAX_...`` values: inf, nan, 1e308,
1e30, negative, ``1.5G`` typos; a bad setting must be exit 2 before any
record, a good one must never record the valid input ``unreadable``).

Every case writes its input file, runs ``wdfdbg.cli.main`` in this process
under a per-case alarm, and fails on: an exit code other than 0, 1, 2; a
traceback or "internal error"; exit 2 without exactly one stderr line; a
report with text on stderr; a timeout; an input whose SHA-256 changed.
Case ``i`` of kind ``k`` draws from ``random.Random("seed:k:i")``, so any
failure replays alone with ``--only i``. Prints one JSON summary line.
"""

import argparse
import base64
import binascii
import copy
import gzip
import hashlib
import io
import json
import os
import random
import signal
import struct
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (ROOT, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import hostile  # noqa: E402  (tests/ on the path first)

DEFAULT_SEED = 20261201
CASE_SECONDS = 20
KINDS = ("dump", "snapshot", "isf", "bomb", "records", "settings")
INTERESTING = [0, 1, 2, 4, 7, 8, 0x10, 0x68, 0xFF, 0x1000, 0x2000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF, 1 << 32, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFF8, 0xfffff80479950000, 0xffffc08b00000000]


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_command(argv, seconds=CASE_SECONDS):
    """``wdfdbg ARGV`` in this process: (exit code, stdout, stderr, timed out)."""
    from wdfdbg.cli import main
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    timed_out = False
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        rc = main(list(argv))
    except Timeout:
        rc, timed_out = None, True
    except SystemExit as e:
        rc = e.code
    except BaseException as e:  # noqa: B902  (anything escaping main is a finding)
        rc = None
        err.write("escaped main: %s: %s\n" % (type(e).__name__, e))
    finally:
        signal.alarm(0)
        sys.stdout, sys.stderr = saved
    return rc, out.getvalue(), err.getvalue(), timed_out


def verdict(rc, out, err, timed_out):
    """None when the run kept the contract, else why not."""
    if timed_out:
        return "no answer within %d s" % CASE_SECONDS
    if "Traceback" in err or "internal error" in err or "escaped main" in err:
        return "crashed: %s" % err.strip()[-300:]
    if rc not in (0, 1, 2):
        return "exit code %r" % (rc,)
    lines = err.splitlines()
    if rc == 2 and (len(lines) != 1 or out):
        return "exit 2 with %d stderr lines and %d bytes on stdout" % (len(lines), len(out))
    if rc in (0, 1) and (err or not out):
        return "a report with %d bytes on stderr and %d on stdout" % (len(err), len(out))
    return None


def verdict_batch(rc, out, err, timed_out):
    """:func:`verdict` for ``batch``, which writes no report: stdout empty,
    stderr one line (the error, or the summary line)."""
    if timed_out:
        return "no answer within %d s" % CASE_SECONDS
    if "Traceback" in err or "internal error" in err or "escaped main" in err:
        return "crashed: %s" % err.strip()[-300:]
    if rc not in (0, 1, 2):
        return "exit code %r" % (rc,)
    if out or len(err.splitlines()) != 1:
        return "exit %s with %d stderr lines and %d bytes on stdout" % (rc, len(err.splitlines()), len(out))
    return None


# -- the real dump --------------------------------------------------------------------
def dump_tables(data):
    """(offset, struct format) of the fields worth mutating in a 64-bit triage dump."""
    fields = [(0, "<I"), (4, "<I"), (0x8, "<I"), (0xC, "<I"), (0x30, "<I"), (0x34, "<I"), (0x38, "<I"),
              (0x80, "<Q"), (0xF98, "<I"), (0x1038, "<I")]
    fields += [(0x2000 + 4 * i, "<I") for i in range(18)] + [(0x2048, "<Q"), (0x2060, "<Q")]
    fields += [(0x2068 + 4 * i, "<I") for i in range(6)]
    dl, dc = struct.unpack_from("<II", data, 0x2000 + 12 * 4)
    for i in range(min(dc, 200)):
        e = dl + i * 0x90
        fields += [(e, "<I"), (e + 8 + 0x30, "<Q"), (e + 8 + 0x40, "<I")]
    bo, bc = struct.unpack_from("<II", data, 0x2078)
    blocks = []
    for i in range(bc):
        va, foff, size = struct.unpack_from("<QII", data, bo + 16 * i)
        blocks.append((va, foff, size))
        fields += [(bo + 16 * i, "<Q"), (bo + 16 * i + 8, "<I"), (bo + 16 * i + 12, "<I")]
    return fields, blocks


def mutate_dump(rng, data, fields, blocks):
    buf = bytearray(data)
    notes = []
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        if op < 0.35:
            off, fmt = rng.choice(fields)
            v = rng.choice(INTERESTING + [len(data), len(data) - 1, rng.getrandbits(64)])
            if off + struct.calcsize(fmt) <= len(buf):
                struct.pack_into(fmt, buf, off, v & ((1 << (8 * struct.calcsize(fmt))) - 1))
                notes.append("field 0x%x=%#x" % (off, v))
        elif op < 0.85:
            # memory that lies: pointers into other captured blocks, junk, zeros
            va, foff, size = rng.choice(blocks)
            at = foff + (rng.randrange(size) & ~7)
            other = rng.choice(blocks)
            word = rng.choice([0, 0xFFFFFFFFFFFFFFFF, other[0] + rng.randrange(max(1, other[2])), va,
                               rng.getrandbits(64)])
            if at + 8 <= len(buf):
                struct.pack_into("<Q", buf, at, word)
            notes.append("memory 0x%x=%#x" % (va + at - foff, word))
        elif op < 0.95:
            pos = rng.randrange(max(1, len(buf)))
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
            buf[pos:pos + len(junk)] = junk
            notes.append("junk at 0x%x" % pos)
        else:
            cut = rng.randrange(max(1, len(buf)))
            del buf[cut:]
            notes.append("cut at 0x%x" % cut)
    return bytes(buf), notes


def dump_cases(rng, workdir, state):
    if "dump" not in state:
        with open(state["dump_path"], "rb") as f:
            data = f.read()
        state["dump"] = (data,) + dump_tables(data)
    data, fields, blocks = state["dump"]
    mutated, notes = mutate_dump(rng, data, fields, blocks)
    path = os.path.join(workdir, "case.dmp")
    with open(path, "wb") as f:
        f.write(mutated)
    argv = rng.choice([["info"], ["memtree", "--json"], ["memtree"], ["scan", "--json"], ["memusage"]])
    return [argv[0], path] + argv[1:], notes


# -- snapshots and their types ------------------------------------------------------
LEAVES = [None, True, -1, 0, 1, 4096, 1 << 21, 1 << 64, -2 ** 70, "", "0x", "0xffffffffffffffff", "AAAA", "!!",
          {}, [], [0], {"kind": "struct"}]


def _paths(doc, limit=600):
    out = []
    stack = [((), doc)]
    while stack and len(out) < limit:
        path, v = stack.pop()
        out.append(path)
        if isinstance(v, dict):
            for k in list(v)[:25]:
                stack.append((path + (k,), v[k]))
        elif isinstance(v, list):
            for i in range(min(len(v), 6)):
                stack.append((path + (i,), v[i]))
    return out


def _set(doc, path, value, delete=False):
    cur = doc
    for k in path[:-1]:
        try:
            cur = cur[k]
        except (KeyError, IndexError, TypeError):
            return
    try:
        if delete and isinstance(cur, dict):
            cur.pop(path[-1], None)
        else:
            cur[path[-1]] = value
    except (TypeError, IndexError, KeyError):
        pass


def _ranges(doc):
    return [(r, bytearray(base64.b64decode(r["data"]))) for r in doc["memory"]]


def mutate_snapshot(rng, base):
    doc = copy.deepcopy(base)
    notes = []
    for _ in range(rng.randint(1, 4)):
        try:
            _snapshot_step(rng, doc, notes)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, binascii.Error):
            notes.append("(a step that an earlier one made moot)")
    return doc, notes


def _snapshot_step(rng, doc, notes):
    op = rng.random()
    if op < 0.3:
        path = rng.choice(_paths(doc))
        if path:
            value = rng.choice(LEAVES)
            _set(doc, path, value, delete=rng.random() < 0.3)
            notes.append("%s=%r" % ("/".join(map(str, path)), value))
    elif op < 0.7:
        rngs = _ranges(doc)
        r, data = rng.choice(rngs)
        if data:
            at = rng.randrange(len(data)) & ~7
            other = rng.choice(rngs)[0]
            word = rng.choice([0, 0xFFFFFFFFFFFFFFFF, int(other["address"], 16) + 8 * rng.randrange(64),
                               int(r["address"], 16) + at, rng.getrandbits(64)])
            data[at:at + 8] = struct.pack("<Q", word)[:len(data) - at]
            r["data"] = base64.b64encode(bytes(data)).decode()
            notes.append("memory %s+0x%x=%#x" % (r["address"], at, word))
    elif op < 0.85:
        rngs = doc["memory"]
        i = rng.randrange(len(rngs))
        r = rngs[i]
        data = base64.b64decode(r["data"])
        choice = rng.random()
        if choice < 0.4 and len(data) > 2:
            cut = rng.randrange(1, len(data))
            a = int(r["address"], 16)
            rngs[i:i + 1] = [{"address": r["address"], "data": base64.b64encode(data[:cut]).decode()},
                             {"address": "0x%x" % (a + cut), "data": base64.b64encode(data[cut:]).decode()}]
            notes.append("split range %d" % i)
        elif choice < 0.7:
            rngs.append(copy.deepcopy(r))
            notes.append("duplicated range %d" % i)
        else:
            del rngs[i]
            notes.append("dropped range %d" % i)
    else:
        ps = rng.choice([256, 512, 1024, 4096, 8192, 65536, 1 << 21, 1 << 22, 3000])
        doc["target"]["page_size"] = ps
        notes.append("page_size %d" % ps)


BASE_NAMES = ["unsigned long", "unsigned short", "long", "char", "unsigned char", "long long",
              "unsigned long long", "pointer", "void", "float", "double", "wchar", "bool", "NOWHERE", "HALF"]


def _random_type(rng, isf):
    uts = list(isf.get("user_types", {}))
    r = rng.random()
    if r < 0.3:
        return {"kind": "base", "name": rng.choice(BASE_NAMES)}
    if r < 0.5:
        return {"kind": rng.choice(["struct", "class", "union"]), "name": rng.choice(uts + ["Nowhere", "_LIST_ENTRY"])}
    if r < 0.65:
        return {"kind": "array", "count": rng.choice([0, 1, 2, 16, 1000, 1 << 20, 1 << 32, -1]),
                "subtype": {"kind": "base", "name": rng.choice(BASE_NAMES)}}
    if r < 0.8:
        return {"kind": "bitfield", "bit_position": rng.choice([0, 3, 31, 63, 64]),
                "bit_length": rng.choice([0, 1, 8, 33]), "type": {"kind": "base", "name": rng.choice(BASE_NAMES)}}
    if r < 0.9:
        return {"kind": "enum", "name": rng.choice(["_POOL_TYPE", "Nowhere"])}
    return {"kind": "pointer", "subtype": {"kind": "struct", "name": rng.choice(uts or ["X"])}}


def mutate_isf(rng, base):
    doc = copy.deepcopy(base)
    notes = []
    for _ in range(rng.randint(1, 4)):
        try:
            _isf_step(rng, doc, notes)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            notes.append("(a step that an earlier one made moot)")
    return doc, notes


def _isf_step(rng, doc, notes):
    types = doc["types"]
    mod = rng.choice(list(types))
    isf = types[mod]
    op = rng.random()
    if op < 0.2:
        name = rng.choice(list(isf["base_types"]) + ["HALF"])
        bt = isf["base_types"].setdefault(name, {"kind": "int", "size": 4, "signed": False, "endian": "little"})
        key = rng.choice(["kind", "size", "signed", "endian"])
        value = {"kind": rng.choice(["int", "float", "char", "bool", "void", "pointer"]),
                 "size": rng.choice([0, 1, 2, 3, 4, 6, 8, 10, 16, 32]),
                 "signed": rng.choice([True, False, 1, "no"]),
                 "endian": rng.choice(["little", "big"])}[key]
        bt[key] = value
        notes.append("%s base %s.%s=%r" % (mod, name, key, value))
    elif op < 0.4:
        name = rng.choice(list(isf["user_types"]))
        size = rng.choice([0, 1, 0x40, 0x1000, (1 << 20), (1 << 20) + 1, 1 << 32, -1])
        isf["user_types"][name]["size"] = size
        notes.append("%s %s.size=%#x" % (mod, name, size))
    elif op < 0.6:
        name = rng.choice(list(isf["user_types"]))
        fields = isf["user_types"][name]["fields"]
        if fields:
            fname = rng.choice(list(fields))
            if rng.random() < 0.4:
                off = rng.choice([0, 4, 8, 0x60, 0x68, 0x100, 1 << 20, -8])
                fields[fname]["offset"] = off
                notes.append("%s %s.%s offset %#x" % (mod, name, fname, off))
            else:
                t = _random_type(rng, isf)
                fields[fname]["type"] = t
                notes.append("%s %s.%s type %s" % (mod, name, fname, json.dumps(t)))
    elif op < 0.8:
        # types removed: the cross-module resolution, or nowhere at all
        name = rng.choice(list(isf["user_types"]))
        for m in ([mod] if rng.random() < 0.7 else list(types)):
            types[m]["user_types"].pop(name, None)
        notes.append("removed %s from %s" % (name, mod))
    elif op < 0.9:
        # another module in front of nt, defining some types differently
        other = {"metadata": {"format": "6.2.0"}, "base_types": {}, "enums": {}, "symbols": {},
                 "user_types": dict((n, {"kind": "struct", "size": rng.choice([8, 16, 0x1000]), "fields": {}})
                                    for n in rng.sample(sorted(isf["user_types"]), min(3, len(isf["user_types"]))))}
        doc["types"] = dict([("zz", other)] + list(types.items()))
        notes.append("module zz first")
    else:
        doc["types"] = dict(reversed(list(types.items())))
        notes.append("types reversed")


def snapshot_cases(rng, workdir, state, kind):
    if "fixture" not in state:
        with open(state["fixture_path"], "rb") as f:
            state["fixture"] = json.loads(gzip.decompress(f.read()))
    doc, notes = (mutate_snapshot if kind == "snapshot" else mutate_isf)(rng, state["fixture"])
    path = os.path.join(workdir, "case.wdfsnap.json")
    raw = json.dumps(doc).encode()
    if rng.random() < 0.5:
        raw = gzip.compress(raw, 1)
        path += ".gz"
    with open(path, "wb") as f:
        f.write(raw)
    argv = rng.choice([["memtree"], ["memtree", "--json"], ["info"], ["memusage"], ["scan"]])
    return [argv[0], path] + argv[1:], notes


# -- bombs -------------------------------------------------------------------------------
def bomb_cases(rng, workdir, state):
    path = os.path.join(workdir, "bomb.wdfsnap.json.gz")
    shape = rng.choice(["blanks", "members", "ranges", "nesting", "items", "types"])
    plain = False
    if shape == "blanks":
        mib = rng.choice([65, 100, 300, 700, 1500, 3000])
        raw = hostile.blanks_gzip(mib, rng.choice([b" ", b"0", b"\0", b"{", b"["]))
        note = "%d MiB of one byte" % mib
    elif shape == "members":
        count, each = rng.choice([(2, 40), (30, 10), (300, 17), (1000, 1)])
        raw = hostile.gzip_members(count, each)
        note = "%d members of %d MiB" % (count, each)
    elif shape == "ranges":
        count = rng.choice([300000, 1500000, 2200000])
        # stride 2 packs 2,048 ranges in a page: a flood the reader refuses
        # (1.5 M and more), or a slow scan (Page.first_invalid is linear
        # in a page's segments), so the accepted counts use wider strides
        hostile.write_ranges(path, count, stride=rng.choice([64, 4096] if count < 1000000 else [2, 64]))
        return ["info", path], ["%d one-byte ranges" % count]
    elif shape == "nesting":
        n = rng.choice([2000, 100000, 3000000])
        opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
        raw = (opener * n + "1" + closer * n).encode()
        note = "%d levels of %s" % (n, opener)
    elif shape == "items":
        n = rng.choice([1000000, 20000000])
        raw = ('{"format": "wdfdbg-snapshot", "version": 1, "x": [' + "0," * n + '0]}').encode()
        note = "%d items" % n
    else:
        n = rng.choice([100000, 2000000])
        fields = ",".join('"f%d": {"offset": 0, "type": {"kind": "base", "name": "char"}}' % i for i in range(n))
        raw = ('{"format": "wdfdbg-snapshot", "version": 1, "origin": "synthetic", "target": {"arch": "x64", '
               '"pointer_size": 8}, "memory": [], "types": {"Wdf01000": {"metadata": {"format": "6.2.0"}, '
               '"base_types": {}, "enums": {}, "symbols": {}, "user_types": {"FxObject": {"kind": "class", '
               '"size": 104, "fields": {%s}}}}}}' % fields).encode()
        note = "a type of %d fields" % n
    if shape in ("nesting", "items", "types"):
        plain = rng.random() < 0.3
        if not plain:
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            raw = c.compress(raw) + c.flush()
    if plain:
        path = path[:-3]
    with open(path, "wb") as f:
        f.write(raw)
    return [rng.choice(["info", "memtree"]), path], [note + (" (plain)" if plain else "")]


# -- record files (corpus) -----------------------------------------------------------
RECORD_VALUES = [None, True, 0, -1, 1 << 70, 1.5, float("inf"), "", "x", "\x1b[2J\n", "\udcff", [], [None], [1, "a"],
                 {}, {"a": None}, {"name": 7}, [{"name": None, "objects": -3, "problem_counts": {"X": "y"}}]]


def base_records(state, workdir):
    """A real record file: the batch of three fixtures, made once."""
    if "records" not in state:
        from wdfdbg.batch.pipeline import run_batch
        folder = os.path.join(workdir, "records-in")
        os.makedirs(folder, exist_ok=True)
        for name in ("typical", "corrupt", "two_drivers"):
            with open(os.path.join(ROOT, "fixtures", name + ".wdfsnap.json.gz"), "rb") as f:
                data = f.read()
            with open(os.path.join(folder, name + ".wdfsnap.json.gz"), "wb") as f:
                f.write(data)
        out = os.path.join(workdir, "base.jsonl")
        run_batch([folder], out, jobs=1, timeout=60, memory_cap=0, progress_stream=io.StringIO(), bar=False)
        with open(out, "rb") as f:
            state["records"] = f.read().splitlines()
    return state["records"]


def record_cases(rng, workdir, state):
    lines = [json.loads(line) for line in base_records(state, workdir)]
    notes = []
    for _ in range(rng.randrange(1, 5)):
        rec = rng.choice(lines)
        key = rng.choice(sorted(rec))
        sub = rec
        if isinstance(rec[key], dict) and rec[key] and rng.random() < 0.5:
            sub, key = rec[key], rng.choice(sorted(rec[key]))
        elif isinstance(rec[key], list) and rec[key] and isinstance(rec[key][0], dict) and rng.random() < 0.5:
            sub = rec[key][0]
            key = rng.choice(sorted(sub))
        value = rng.choice(RECORD_VALUES)
        sub[key] = copy.deepcopy(value)
        notes.append("%s=%r" % (key, value))
    raw = b"\n".join(json.dumps(r).encode("utf-8", "surrogatepass") for r in lines) + b"\n"
    shape = rng.choice(["json", "json", "cut", "no-newlines", "junk", "gzip", "dump", "long", "empty"])
    if shape == "cut":
        raw = raw[:rng.randrange(len(raw))]
    elif shape == "no-newlines":
        raw = raw.replace(b"\n", b" ")
    elif shape == "junk":
        at = rng.randrange(len(raw))
        raw = raw[:at] + bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 64))) + raw[at:]
    elif shape == "gzip":
        raw = gzip.compress(raw, 1)
    elif shape == "dump":
        raw = b"PAGEDU64" + raw
    elif shape == "long":
        raw += b"{" * rng.choice([1000, 20 << 20]) + b"\n" + raw
    elif shape == "empty":
        raw = rng.choice([b"", b"\n\n", b"   "])
    notes.append(shape)
    path = os.path.join(workdir, "records.jsonl")
    with open(path, "wb") as f:
        f.write(raw)
    return ["corpus", path] + rng.choice([[], ["--json"], ["--by", "driver"], ["--by", "signature"]]), notes


# -- batch settings ------------------------------------------------------------------
TIMEOUTS = ["inf", "-inf", "nan", "1e308", "1e30", "-1", "0", "1e-9", "0.5", "30", "1.5G", "abc", ""]
CAPS = ["inf", "nan", "1e308", "1e30", "-1", "-1G", "0", "1.5G", "2G", "20M", "1.5Q", "0x10", "", "1e-300"]
LIMIT_VALUES = ["1.5G", "-1", "0", "inf", "nan", "1e30", "256M", "abc", "0x100000", " "]
LIMIT_NAMES = ["WDFDBG_MAX_JSON_BYTES", "WDFDBG_MAX_GZIP_RATIO", "WDFDBG_MAX_JSON_MEMORY", "WDFDBG_MAX_RANGES",
               "WDFDBG_MAX_TRIAGE_BYTES", "WDFDBG_MAX_STRUCT_BYTES"]


def settings_cases(rng, workdir, state):
    folder = os.path.join(workdir, "settings-in")
    if not os.path.isdir(folder):
        os.makedirs(folder)
        with open(os.path.join(ROOT, "fixtures", "typical.wdfsnap.json.gz"), "rb") as f:
            data = f.read()
        with open(os.path.join(folder, "good.wdfsnap.json.gz"), "wb") as f:
            f.write(data)
    out = os.path.join(workdir, "settings.jsonl")
    if os.path.exists(out):
        os.unlink(out)
    argv = ["batch", folder, "-o", out]
    notes = []
    if rng.random() < 0.7:
        argv += ["--timeout", rng.choice(TIMEOUTS)]
    if rng.random() < 0.7:
        argv += ["--memory-cap", rng.choice(CAPS)]
    if rng.random() < 0.2:
        argv += ["--jobs", rng.choice(["0", "-1", "1", "2", "1e3"])]
    env = {}
    if rng.random() < 0.5:
        env[rng.choice(LIMIT_NAMES)] = rng.choice(LIMIT_VALUES)
    notes.append(" ".join(argv[4:]) + (" " + " ".join("%s=%s" % kv for kv in env.items()) if env else ""))
    return argv, notes, env


def settings_verdict(argv, rc, err, out_path):
    """A bad setting: exit 2, one line, nothing recorded. A good one: the
    valid snapshot is never recorded unreadable, nor crashed by wdfdbg."""
    if rc == 2:
        if os.path.exists(out_path) and os.path.getsize(out_path):
            return "exit 2 after recording"
        return None
    if rc not in (0, 1):
        return "exit code %r" % (rc,)
    with open(out_path) as f:
        recs = [json.loads(line) for line in f]
    if len(recs) != 1:
        return "%d records of one input" % len(recs)
    rec = recs[0]
    if rec["status"] == "unreadable" or "internal error" in (rec["error"] or "") or "Error" in (rec["error"] or ""):
        return "the valid input recorded %s: %s" % (rec["status"], rec["error"])
    return None


def one_case(kind, i, seed, workdir, state):
    rng = random.Random("%d:%s:%d" % (seed, kind, i))
    env = {}
    if kind == "dump":
        argv, notes = dump_cases(rng, workdir, state)
    elif kind == "bomb":
        argv, notes = bomb_cases(rng, workdir, state)
    elif kind == "records":
        argv, notes = record_cases(rng, workdir, state)
    elif kind == "settings":
        argv, notes, env = settings_cases(rng, workdir, state)
    else:
        argv, notes = snapshot_cases(rng, workdir, state, kind)
    path = argv[1] if kind != "settings" else os.path.join(argv[1], "good.wdfsnap.json.gz")
    before = sha256(path)
    started = time.time()
    saved = dict((k, os.environ.get(k)) for k in env)
    os.environ.update(env)
    try:
        rc, out, err, timed_out = run_command(argv)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if kind == "settings":
        why = verdict_batch(rc, out, err, timed_out) or (None if timed_out else settings_verdict(argv, rc, err, argv[3]))
    else:
        why = verdict(rc, out, err, timed_out)
    if why is None and sha256(path) != before:
        why = "the input changed"
    if kind != "settings":
        os.unlink(path)
    return {"kind": kind, "case": i, "argv": argv[:1] + argv[2:], "mutations": notes, "exit": rc,
            "seconds": round(time.time() - started, 2), "problem": why}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--seed", type=int, default=int(os.environ.get("WDFDBG_FUZZ_SEED", DEFAULT_SEED)))
    p.add_argument("--cases", type=int, default=40)
    p.add_argument("--seconds", type=float, default=60.0, help="stop starting cases after this long")
    p.add_argument("--only", type=int, default=None, help="run only this case number")
    p.add_argument("--dump", default=os.path.join(os.path.dirname(ROOT), "shared", "dumps", "triage_x64.dmp"))
    p.add_argument("--fixture", default=os.path.join(ROOT, "fixtures", "typical.wdfsnap.json.gz"))
    p.add_argument("--workdir", default=None)
    args = p.parse_args(argv)
    os.environ.pop("WDFDBG_DEBUG", None)
    import tempfile
    workdir = args.workdir or tempfile.mkdtemp(prefix="wdfdbg-fuzz-")
    state = {"dump_path": args.dump, "fixture_path": args.fixture}
    cases = [args.only] if args.only is not None else range(args.cases)
    started = time.time()
    results = []
    for i in cases:
        if time.time() - started > args.seconds:
            break
        results.append(one_case(args.kind, i, args.seed, workdir, state))
    failures = [r for r in results if r["problem"]]
    exits = {}
    for r in results:
        exits[str(r["exit"])] = exits.get(str(r["exit"]), 0) + 1
    summary = {"kind": args.kind, "seed": args.seed, "budget": args.cases, "ran": len(results),
               "seconds": round(time.time() - started, 1), "exits": exits, "failures": failures}
    sys.stdout.write(json.dumps(summary) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
