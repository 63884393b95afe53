"""A corpus of varied inputs for ``wdfdbg batch`` tests and benchmarks.

    from wdfdbg.testing.corpus import generate
    entries = generate("/tmp/corpus", n=100)      # writes the files, returns Entry list

Every input says what a correct batch must record for it: ``expect`` (the
status, or ``skipped``: a file a folder walk leaves out, having no dump or
snapshot magic) and ``family`` (which bug it shows: inputs of one family must share
one signature, inputs of different families must not). Kinds:

* ``clean``: one or two KMDF drivers of 20 to 2,000 objects, no problem;
* ``leak``: a driver holding 1,000+ WDFMEMORY under its WDFDRIVER (LIKELY_LEAK);
* ``cycle``, ``blink``: a child list with a cycle / with a broken Blink;
* ``10d-*``: bugcheck 0x10D WDF_VIOLATION variants: INVALID_HANDLE on a
  freed lookaside entry asked as WDFMEMORY, INVALID_HANDLE on a live
  WDFMEMORY asked as WDFREQUEST, OBJECT_ERROR, REQUEST_FATAL_ERROR;
* ``garbage``: random bytes, a fake dump or minidump header, gzip of noise,
  JSON that is not a snapshot, empty files;
* ``truncated``: a snapshot cut short; the real triage dump cut short;
* ``big``: one snapshot of ``big_objects`` objects (150,000 by default),
  too big for a short ``--timeout``;
* ``real``: the real triage dumps from ``../shared/dumps`` when present.

Within a family the heaps differ (driver size, extra objects, the list's
length, freed entries, the RNG seed, so every address), which is what a
signature must not see. All snapshots are synthetic (their ``origin``
says so); like a snapshot that ``wdfdbg snapshot`` cut from a dump they
carry the KMDF driver table (``kmdf_drivers``) with each driver's version,
the same table the builder writes into ``FxLibraryGlobals.BugCheckDriverInfo``.
Built with the public builder API only (:class:`HeapBuilder`, ``build``).
"""

import gzip
import json
import os
import random
import shutil

from wdfdbg.batch.inputs import looks_analysable
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.testing import HeapBuilder, build

# (name, pool tag, KMDF version): one version per driver, so a family is one bucket
DRIVERS = [("AmdPPM", "AmdP", (1, 15, 0)), ("Wdfsample", "Wsmp", (1, 31, 0)), ("UsbHubX", "UHbX", (1, 33, 0)),
           ("NetAdptr", "NtAd", (1, 27, 0)), ("SerCxTwo", "SrC2", (1, 19, 0))]
# kind -> weight in a corpus of n inputs (after the fixed real, truncated-real and big ones)
WEIGHTS = [("clean", 30), ("leak", 6), ("cycle", 8), ("blink", 7), ("10d-handle-memory", 6),
           ("10d-handle-request", 5), ("10d-object-error", 5), ("10d-request-fatal", 4), ("garbage", 17),
           ("truncated", 12)]
IFX_TYPE_MEMORY = 0x100A   # what WdfMemory* DDIs ask for (kmdf.md §2)
FX_TYPE_REQUEST = 0x1008
GROUP = 400  # objects per group in ordinary content


class Entry(object):
    """One input: ``path``, ``kind``, ``expect`` (status), ``family`` (or None)."""

    __slots__ = ("path", "kind", "expect", "family")

    def __init__(self, path, kind, expect, family):
        self.path = path
        self.kind = kind
        self.expect = expect
        self.family = family

    def to_json(self):
        return {"path": self.path, "kind": self.kind, "expect": self.expect, "family": self.family}


# -- writing ---------------------------------------------------------------
def snapshot_bytes(built, versions=True, compress=True):
    """The snapshot file of ``built``, with the KMDF driver table."""
    doc = built.document()
    if versions:
        doc["kmdf_drivers"] = [{"name": d["name"], "globals": d["globals"], "version": "%d.%d.%d" % tuple(d["version"])}
                               for d in built.truth(objects=False)["drivers"]]
    return snapfmt.dumps(doc, compress=compress)


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


# -- heaps -----------------------------------------------------------------
def _builder(kind, rng, drivers, description):
    b = HeapBuilder("corpus-%s" % kind, seed=rng.randrange(1 << 30), description=description,
                    params={"kind": kind})
    out = []
    for name, tag, version in drivers:
        out.append(b.add_driver(name, tag, verifier=rng.random() < 0.5, version=version))
    return b, out


def _populate(b, d, rng, size):
    """A device, a queue and about ``size`` objects of ordinary content."""
    dev = b.device(d, ctx=b.ctx_type(d, "DEVICE_CONTEXT", 0x20))
    q = b.queue(dev)
    if rng.random() < 0.5:
        b.request(q, "ioctl-buffered", input_length=0x20, output_length=0x40, label="IOCTL")
    b.memory_create(d.fxdriver, 0x100 + 0x10 * rng.randrange(16), "Mpol", paged=rng.random() < 0.5)
    specs = [{"cls": "FxMemoryBuffer", "tag": "Mbuf", "text": "CORPUS "},
             {"cls": "FxUserObject", "ctx": b.ctx_type(d, "ITEM_CONTEXT", 0x10)}]
    seg = None
    for i in range(max(0, size - 5)):
        if i % GROUP == 0:  # groups of GROUP under user objects: no parent holds 1,000 WDFMEMORY (a leak)
            seg = b.segment(b.user_object(d.fxdriver, label="group %d" % (i // GROUP)), specs)
        b.segment_add(seg, 0 if i % 3 else 1, 0x10 * (1 + i % 4))
    return dev, q


def _pick_driver(rng):
    return DRIVERS[rng.randrange(len(DRIVERS))]


def clean(rng):
    n = 1 + (rng.random() < 0.3)
    chosen = rng.sample(DRIVERS, n)
    b, ds = _builder("clean", rng, chosen, "Clean KMDF heap of %s." % " and ".join(c[0] for c in chosen))
    for d in ds:
        _populate(b, d, rng, rng.choice((20, 60, 200, 600, 2000)))
    return b.built(), "clean"


def leak(rng):
    drv = _pick_driver(rng)
    b, (d,) = _builder("leak", rng, [drv], "%s leaks WDFMEMORY under its WDFDRIVER." % drv[0])
    _populate(b, d, rng, rng.choice((20, 100)))
    seg = b.segment(d.fxdriver, [{"cls": "FxMemoryBuffer", "tag": "Leak", "text": "LEAKED "}])
    for _ in range(1000 + rng.randrange(600)):
        b.segment_add(seg, 0, 0x20)
    return b.built(), "leak:%s" % drv[0]


def _list_owner(b, d, rng, children):
    owner = b.user_object(d.fxdriver, label="list owner")
    kids = [b.user_object(owner, label="child %d" % i) for i in range(children)]
    return owner, kids


def cycle(rng):
    drv = _pick_driver(rng)
    b, (d,) = _builder("cycle", rng, [drv], "%s: a child list whose last Flink points back at its first entry." % drv[0])
    _populate(b, d, rng, rng.choice((20, 60, 200)))
    owner, kids = _list_owner(b, d, rng, 3 + rng.randrange(6))
    b.finalize()
    b.wptr(kids[-1].addr + b.off_entry, kids[0].addr + b.off_entry)
    return b.built(), "cycle:%s" % drv[0]


def blink(rng):
    drv = _pick_driver(rng)
    b, (d,) = _builder("blink", rng, [drv], "%s: a child list with a Blink that skips an entry." % drv[0])
    _populate(b, d, rng, rng.choice((20, 60, 200)))
    owner, kids = _list_owner(b, d, rng, 3 + rng.randrange(6))
    b.finalize()
    i = 1 + rng.randrange(len(kids) - 2)
    b.wptr(kids[i].addr + b.off_entry + b.ptr, kids[i + 1].addr + b.off_entry)
    return b.built(), "blink:%s" % drv[0]


def wdf_violation(rng, kind):
    drv = _pick_driver(rng)
    b, (d,) = _builder(kind, rng, [drv], "%s: bugcheck 0x10D WDF_VIOLATION (%s)." % (drv[0], kind))
    dev, q = _populate(b, d, rng, rng.choice((20, 60, 200)))
    if kind == "10d-handle-memory":
        la = b.lookaside(d.fxdriver, "npaged", 0x40 + 0x10 * rng.randrange(4), "LaCp", label="lookaside")
        live = [b.lookaside_allocate(la) for _ in range(3 + rng.randrange(4))]
        for o in live[:2 + rng.randrange(2)]:
            b.lookaside_free(la, o)
        b.finalize()
        entry = la.info["la"]["object_list"].slist[-1]
        stale = entry + b.FXHDR + (b.DBG if d.object_debug else 0)
        params = [0x5, b.handle(stale), IFX_TYPE_MEMORY, d.globals]
    elif kind == "10d-handle-request":
        mem = b.memory_buffer(d.fxdriver, 0x20, "MemR", label="a WDFMEMORY passed as a WDFREQUEST")
        b.finalize()
        params = [0x5, b.handle(mem.addr), FX_TYPE_REQUEST, d.globals]
    elif kind == "10d-object-error":
        obj = b.user_object(dev, label="object with a bad reference count")
        b.finalize()
        params = [0x7, b.handle(obj.addr), obj.addr, d.globals]
    else:  # 10d-request-fatal: WDF_REQUEST_FATAL_ERROR_REQUEST_ALREADY_SENT
        r = b.request(q, "ioctl-buffered", input_length=0x10, output_length=0x10, label="sent twice")
        b.finalize()
        params = [0x6, 0x3, b.handle(r.addr), d.globals]
    b.set_bugcheck(0x10D, params)
    return b.built(), "%s:%s" % (kind, drv[0])


def big(n_objects):
    return build("bulk", n_objects=n_objects)


# -- unreadable inputs -------------------------------------------------------
def garbage(rng):
    choice = rng.randrange(6)
    size = rng.randrange(1, 64 << 10)
    noise = bytes(rng.getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096 + 1)
    noise = noise[:size]
    if choice == 0:
        return noise, "bin"
    if choice == 1:
        return b"PAGEDU64" + noise, "dmp"          # a dump signature, then noise
    if choice == 2:
        return b"MDMP" + noise, "dmp"              # a user-mode minidump header
    if choice == 3:
        return gzip.compress(noise, 1, mtime=0), "gz"
    if choice == 4:
        return json.dumps({"format": "not-a-snapshot", "n": rng.randrange(100)}).encode(), "json"
    return b"", "txt"


def truncated_snapshot(rng):
    built, _ = clean(rng)
    data = snapshot_bytes(built, compress=rng.random() < 0.5)
    return data[:max(1, int(len(data) * (0.2 + 0.6 * rng.random())))]


# -- the corpus ----------------------------------------------------------------
def _plan(n, rng):
    total = sum(w for _, w in WEIGHTS)
    kinds = []
    for kind, w in WEIGHTS:
        kinds.extend([kind] * max(1, round(n * w / total)))
    rng.shuffle(kinds)
    return kinds[:n]


def generate(folder, n=100, seed=1, real_dumps=None, big_objects=150000):
    """Write about ``n`` inputs into ``folder`` (created); return their
    :class:`Entry` list. ``real_dumps``: the folder of the real triage dumps
    (default ``../shared/dumps`` beside the project, used when present);
    ``big_objects``: the size of the one big snapshot (0: none)."""
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    entries = []

    def add(name, data, kind, expect, family):
        path = _write(os.path.join(folder, name), data)
        entries.append(Entry(path, kind, expect, family))

    if real_dumps is None:
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        real_dumps = os.path.join(os.path.dirname(here), "shared", "dumps")
    fixed = 0
    if real_dumps and os.path.isdir(real_dumps):
        for name in sorted(os.listdir(real_dumps)):
            if name.endswith(".dmp"):
                src = os.path.join(real_dumps, name)
                dst = os.path.join(folder, "real-" + name)
                shutil.copyfile(src, dst)
                entries.append(Entry(dst, "real", "ok", "real:%s" % name))
                with open(src, "rb") as f:
                    head = f.read(64 << 10)
                add("truncated-" + name, head, "truncated", "unreadable", None)
                fixed += 2
    if big_objects:
        add("big-%d.wdfsnap.json.gz" % big_objects, snapshot_bytes(big(big_objects)), "big", "timeout", None)
        fixed += 1
    makers = {"clean": clean, "leak": leak, "cycle": cycle, "blink": blink}
    for i, kind in enumerate(_plan(max(0, n - fixed), rng)):
        if kind == "garbage":
            data, ext = garbage(rng)
            name = "%04d-garbage.%s" % (i, ext)
            add(name, data, kind, "unreadable", None)
            if not looks_analysable(entries[-1].path):
                entries[-1].expect = "skipped"  # in a folder: no dump or snapshot magic, never recorded
        elif kind == "truncated":
            add("%04d-truncated.wdfsnap" % i, truncated_snapshot(rng), kind, "unreadable", None)
        else:
            built, family = makers[kind](rng) if kind in makers else wdf_violation(rng, kind)
            expect = "problems" if kind in ("cycle", "blink") else "ok"
            add("%04d-%s.wdfsnap.json.gz" % (i, kind), snapshot_bytes(built), kind, expect, family)
    return entries


def write_manifest(entries, path):
    with open(path, "w") as f:
        json.dump([e.to_json() for e in entries], f, indent=1)


__all__ = ["Entry", "generate", "snapshot_bytes", "write_manifest", "DRIVERS"]
