"""Named scenarios: each a function returning a :class:`~wdfdbg.testing.heap.built.Built`.

* ``typical``: one driver (AmdPPM, 'AmdP', verifier and object debug on):
  WDFDRIVER -> WDFDEVICE -> 2 queues -> requests, a WDFMEMORY of every class,
  every lookaside kind, work item, spin lock, a wait lock held by the
  crashing thread, user object, a WDFCMRESLIST with one FxResourceCm
  (0x1017), an FxIoTarget (0x1200), MDL chains, descriptors, AllocatedMdls,
  bugcheck 0x10D/0x5. The bundled sample.
* ``two_drivers``: AmdPPM ('AmdP') and Wdfsample ('Wsmp', verifier on), each
  with its own tree; their pool blocks interleave.
* ``leak``: 10,000 small FxMemoryBuffer (tag 'Leak') under one WDFDRIVER.
* ``corrupt``: every corruption wdfdbg must report (see ``expected_problems``).
* ``bulk``: ``n_objects`` framework objects in total, for benchmarks.

``build(name, **params)`` runs one; ``FIXTURES`` lists what
``scripts/make_fixtures.py`` commits.
"""

from wdfdbg.testing.heap import PAGE, HeapBuilder

SAMPLE_SCENARIO = "typical"


def _b(name, params, description, arch="x64", profile=None, seed=0x5EED):
    p = dict(params)
    if arch != "x64":
        p["arch"] = arch
    if profile:
        p["profile"] = profile
    if seed != 0x5EED:
        p["seed"] = seed
    return HeapBuilder(name, arch=arch, profile=profile, seed=seed, description=description, params=p)


def _lookaside_typical(b, la, label, allocs):
    """Run an allocate/free script on a lookaside: 'a' allocates, 'f' frees
    the oldest live object, 'F' the newest."""
    live = []
    n = 0
    for op in allocs:
        if op == "a":
            n += 1
            live.append(b.lookaside_allocate(la, label="%s #%d" % (label, n)))
        elif op == "f":
            b.lookaside_free(la, live.pop(0))
        elif op == "F":
            b.lookaside_free(la, live.pop())
    return live


def typical(arch="x64", profile=None, seed=0x5EED):
    b = _b("typical", {}, "One KMDF driver (AmdPPM) with a device, two queues, requests (IOCTL METHOD_BUFFERED with "
           "offset-handle buffers, METHOD_NEITHER with a probed FxRequestMemory, READ with a direct-I/O MDL), a "
           "WDFMEMORY of every class, the three lookaside kinds with allocated and freed entries, a work item, locks, "
           "a user object, a CM resource list, an I/O target, MDL chains, memory descriptors, verifier AllocatedMdls and "
           "bugcheck 0x10D/0x5 with a wait lock held by the crashing thread.",
           arch=arch, profile=profile, seed=seed)
    d = b.add_driver("AmdPPM", "AmdP", verifier=True, object_debug=True, version=(1, 15, 0))
    drv = d.fxdriver
    ctx = lambda name, size: b.ctx_type(d, name, size)  # noqa: E731
    dev = b.device(d, ctx=ctx("DEVICE_CONTEXT", 0x40))
    q1 = b.queue(dev, ctx=ctx("QUEUE_CONTEXT", 0x18))
    q2 = b.queue(dev)
    b.new_object("FxSystemWorkItem", q1, internal=True, label="queue system work item (internal, no handle)")
    b.new_object("FxWorkItem", dev, ctx=ctx("WORKITEM_CONTEXT", 0x10), refcnt=2, label="work item")
    b.new_object("FxSpinLock", dev, label="spin lock")
    wait_lock = b.new_object("FxWaitLock", drv, label="wait lock (held by the crashing thread)")
    uo = b.user_object(drv, ctx=ctx("USER_CONTEXT", 0x20), cleanup=b.code_address(d, 3), label="user object")
    # requests
    r1 = b.request(q1, "ioctl-buffered", ctx=ctx("REQUEST_CONTEXT", 0x18), input_length=0x40, output_length=0x80,
                   irp_refs=1, label="IOCTL METHOD_BUFFERED", text="IOCTL INPUT->OUTPUT ")
    b.request(q2, "read-direct", parented=False, read_length=0x1800, label="READ direct I/O (presented, unparented)")
    r3 = b.request(q1, "ioctl-neither", input_length=0x100, label="IOCTL METHOD_NEITHER")
    rmem = b.request_memory(r3, 0x100, read_only=True, label="probed input buffer")
    # memory of every class
    m_inline = b.memory_buffer(drv, 0x20, "MemI", label="inline 0x20")
    b.memory_create(drv, 0xF80, "MemG", label="inline 0xf80 (page-aligned, no pool header)")
    m_paged = b.memory_create(drv, 0x300, "MemP", paged=True, label="paged pool, driver parent")
    m_large = b.memory_create(drv, 0x2400, "MemL", label="large nonpaged pool")
    b.memory_create(dev, 0x180, "MemQ", paged=True, label="paged pool, device parent")
    prebuf = b.image_alloc(d, 0x40)
    b._fill(prebuf, 0x40, "PREALLOCATED STATIC ")
    b.memory_preallocated(drv, prebuf, 0x40, label="preallocated (driver image buffer)")
    # lookasides: allocate 7 (all miss), free 6 (4 pushed, 2 freed to pool), allocate 2 (hits), free 1
    la1 = b.lookaside(drv, "npaged", 0x60, "LaNP", mem_ctx=ctx("LOOKASIDE_ENTRY_CONTEXT", 0x10), label="npaged")
    _lookaside_typical(b, la1, "npaged entry", "aaaaaaaffffffaaF")
    la2 = b.lookaside(drv, "npaged-from-pool", 0x1400, "LaFP", label="npaged from pool")
    _lookaside_typical(b, la2, "npaged-from-pool entry", "aaaffa")
    la3 = b.lookaside(drv, "paged-from-pool", 0x200, "LaPG", mem_parent=dev, label="paged from pool")
    _lookaside_typical(b, la3, "paged-from-pool entry", "aaafaFF")
    # MDLs: a chain (single page -> multi-page), a partial, 13 more to overflow one AllocatedMdls block
    chain_a = b.mdl(m_inline.info["buffer"], 0x20, 0xC, label="chain[0]: nonpaged inline buffer")
    big = m_large.info["buffer"]
    chain_b = b.mdl(big, 0x2400, 0xC, label="chain[1]: multi-page nonpaged buffer")
    b.mdl_link(chain_a, chain_b)
    part = b.partial_mdl(chain_b, big + 0x1100, 0x800, label="partial of chain[1]")
    rm_mdl = [m for m in b.mdls if m.addr == rmem.info["mdl"]][0]
    b.track_mdl(d, rm_mdl, rmem, 0)
    b.track_mdl(d, chain_a, m_inline, 1)
    b.track_mdl(d, chain_b, m_large, 2)
    b.track_mdl(d, part, m_large, 3)
    for i in range(13):
        m = b.mdl(big + 0x100 * i, 0x100, 0xC, label="scatter #%d" % i)
        b.track_mdl(d, m, uo, 4 + i)
    # descriptors
    b.descriptors_block(d, [
        {"type": "buffer", "buffer": m_inline.info["buffer"], "length": 0x20, "label": "buffer"},
        {"type": "mdl", "mdl": chain_a, "length": 0x20, "label": "mdl"},
        {"type": "handle", "memory": m_paged, "offsets": (0x10, 0x40), "label": "handle with offsets"},
        {"type": "handle", "memory": m_inline, "offsets": None, "label": "handle, whole buffer"},
        {"type": "handle", "memory": m_inline, "offsets": (0x10, 0x20), "label": "handle, offsets past the end",
         "expected_problem": "MEMORY_OUT_OF_BOUNDS"},
    ])
    # placed last, so that every object above keeps its address: what the
    # real dump shows (kmdf.md §12) of resources, I/O targets and locks
    res = b.new_object("FxCmResList", dev, label="WDFCMRESLIST (translated resources)")
    b.new_object("FxResourceCm", res, internal=True, label="one CM resource (m_Type 0x1017, vtable folded with "
                 "FxWaitLock's)")
    b.new_object("FxIoTarget", dev, label="the device's default I/O target (m_Type 0x1200)")
    thread = b.kernel_thread()
    b.set_crash_thread(thread)
    b.hold_lock(wait_lock, thread)
    b.expect("LOCK_HELD_BY_CRASHING_THREAD", wait_lock.addr, found_by="triage", severity="warning",
             note="the wait lock's m_OwningThread is the crashing processor's current thread")
    b.finalize()
    # bugcheck 0x10D/0x5: P2 the handle of a freed lookaside entry (use after free)
    gl = la1.info["la"]["object_list"]
    entry = gl.slist[-1]
    stale = entry + b.FXHDR + (b.DBG if d.object_debug else 0)
    p2 = b.handle(stale)
    b.set_bugcheck(0x10D, [0x5, p2, 0x1000, d.globals],
                   {"name": "WDF_VIOLATION", "subcode": "INVALID_HANDLE", "p2_decodes_to": "0x%x" % stale,
                    "p2_target": "stale FxMemoryBufferFromLookaside on lookaside 0x%x's free list (state 12)" % la1.addr,
                    "p4_driver": d.name})
    b.expect("BAD_HANDLE", stale, found_by="triage", note="0x10D/0x5 P2 decodes to a freed lookaside entry")
    b.expect("BUGCHECK", d.globals, found_by="triage", note="0x10D P4 names the driver", required=False,
             severity="info")
    assert r1.info["input"]["length"] == 0x40
    return b.built()


def two_drivers(arch="x64", profile=None, seed=0x5EED):
    b = _b("two_drivers", {}, "Two KMDF drivers (AmdPPM 'AmdP' without verifier, Wdfsample 'Wsmp' with verifier and "
           "object debug), each with its own tree; their pool blocks interleave.", arch=arch, profile=profile, seed=seed)
    a = b.add_driver("AmdPPM", "AmdP", version=(1, 15, 0))
    w = b.add_driver("Wdfsample", "Wsmp", verifier=True, object_debug=True, version=(1, 31, 0))
    da = b.device(a, ctx=b.ctx_type(a, "FDO_DATA", 0x30))
    dw = b.device(w, ctx=b.ctx_type(w, "DEVICE_EXTENSION", 0x58))
    qa = b.queue(da)
    qw1 = b.queue(dw, ctx=b.ctx_type(w, "QUEUE_CONTEXT", 0x10))
    qw2 = b.queue(dw)
    b.memory_buffer(a.fxdriver, 0x20, "AmdM", label="AmdPPM inline")
    b.memory_buffer(w.fxdriver, 0x40, "WsmM", label="Wdfsample inline")
    b.memory_create(a.fxdriver, 0x200, "AmdQ", paged=True, label="AmdPPM paged pool")
    b.memory_buffer(dw, 0x10, "WsmN", label="Wdfsample inline, device parent")
    b.request(qa, "ioctl-buffered", input_length=0x10, output_length=0x10, label="AmdPPM IOCTL")
    b.request(qw2, "read-direct", read_length=0x400, label="Wdfsample READ (parented)")
    b.new_object("FxSpinLock", da, label="AmdPPM spin lock")
    b.new_object("FxWaitLock", w.fxdriver, label="Wdfsample wait lock")
    b.user_object(w.fxdriver, ctx=b.ctx_type(w, "SAMPLE_CONTEXT", 0x20), cleanup=b.code_address(w, 2),
                  label="Wdfsample user object")
    la = b.lookaside(a.fxdriver, "npaged", 0x40, "AmdL", label="AmdPPM npaged")
    _lookaside_typical(b, la, "AmdPPM entry", "aaafa")
    lw = b.lookaside(w.fxdriver, "paged-from-pool", 0x100, "WsmL", mem_parent=qw1, label="Wdfsample paged")
    _lookaside_typical(b, lw, "Wdfsample entry", "aafaf")
    m = b.mdl(b.memory_buffer(w.fxdriver, 0x30, "WsmO", label="Wdfsample MDL target").info["buffer"], 0x30, 0xC,
              label="Wdfsample tracked MDL")
    b.track_mdl(w, m, w.fxdriver, 0)
    return b.built()


def leak(n=10000, arch="x64", profile=None, seed=0x5EED):
    params = {} if n == 10000 else {"n": n}
    b = _b("leak", params, "One KMDF driver (LeakDrv) holding %d small FxMemoryBuffer objects (tag 'Leak') under its "
           "WDFDRIVER: the classic per-request allocation parented to the driver." % n,
           arch=arch, profile=profile, seed=seed)
    d = b.add_driver("LeakDrv", "LkDv")
    dev = b.device(d, ctx=b.ctx_type(d, "DEVICE_CONTEXT", 0x20))
    b.queue(dev)
    seg = b.segment(d.fxdriver, [{"cls": "FxMemoryBuffer", "tag": "Leak", "text": "LEAKED REQUEST BUFFER "}])
    for _ in range(n):
        b.segment_add(seg, 0, 0x20)
    return b.built()


def corrupt(arch="x64", profile=None, seed=0x5EED):
    b = _b("corrupt", {}, "One KMDF driver (Corrupt) with every corruption wdfdbg reports: a child-list cycle, a broken "
           "Blink, a parent mismatch, a missing page in a child list, an MDL Next cycle, an MDL with a wrong Size, a "
           "mapped MDL without a mapping, lookaside SLISTs with a cycle and with a wrong depth, and a memory "
           "descriptor whose offsets run past the buffer.", arch=arch, profile=profile, seed=seed)
    d = b.add_driver("Corrupt", "Crpt", verifier=True)
    drv = d.fxdriver
    uctx = b.ctx_type(d, "NODE_CONTEXT", 0x10)
    dev = b.device(d)
    b.queue(dev)
    # (a) child-list cycle: c3.Flink -> c1
    A = b.user_object(drv, ctx=uctx, label="A: list with a cycle")
    c = [b.user_object(A, ctx=uctx, label="A.c%d" % (i + 1)) for i in range(3)]
    # (b) broken Blink: d2.Blink -> d3's entry
    B = b.user_object(drv, ctx=uctx, label="B: list with a broken Blink")
    dd = [b.user_object(B, ctx=uctx, label="B.d%d" % (i + 1)) for i in range(3)]
    # (c) parent mismatch: e1 in C's list, m_ParentObject = D
    C = b.user_object(drv, ctx=uctx, label="C: holds a child of D")
    D = b.user_object(drv, ctx=uctx, label="D: parent named by C's child")
    e1 = b.memory_buffer(C, 0x10, "Crpm", label="C.e1 (m_ParentObject = D)")
    e1.parent_value = D.addr
    b.user_object(C, ctx=uctx, label="C.e2")
    # (d) a missing page: f3 alone on its page, then the page is removed
    E = b.user_object(drv, ctx=uctx, label="E: list through a missing page")
    f = []
    for i in range(5):
        if i == 2:
            b.nonpaged.page_break()
        f.append(b.user_object(E, ctx=uctx, label="E.f%d" % (i + 1)))
        if i == 2:
            b.nonpaged.page_break()
    # MDLs
    owner = b.user_object(drv, label="MDL owner")
    buf = b.memory_create(drv, 0x3000, "CrpB", label="MDL target buffer")
    base = buf.info["buffer"]
    m1 = b.mdl(base, 0x100, 0xC, label="cycle m1 (m1 -> m2 -> m1)")
    m2 = b.mdl(base + 0x100, 0x100, 0xC, label="cycle m2")
    b.mdl_link(m1, m2)
    b.mdl_link(m2, m1)
    m3 = b.mdl(base + 0x800, 0x1000, 0xC, size=b.MDL_HDR + b.ptr, label="wrong Size (spans 2 pages, Size for 1)")
    m4 = b.mdl(b.A["user"] + 0x40000, 0x200, 0x8 | 0x2 | 0x1, process=b.eprocess(), mapped=0,
               label="MAPPED_TO_SYSTEM_VA with MappedSystemVa 0")
    ok = b.mdl(base + 0x2000, 0x80, 0xC, label="a sound MDL")
    for i, m in enumerate((m1, m3, m4, ok)):
        b.track_mdl(d, m, owner, i)
    m1.problems.append("MDL_CHAIN_CYCLE")
    m3.problems.append("MDL_INCONSISTENT")
    m4.problems.append("MDL_INCONSISTENT")
    # lookasides: LC1 with a cycle among its free entries, LC2 with a header depth that disagrees
    lc1 = b.lookaside(drv, "npaged", 0x30, "CrL1", label="SLIST cycle")
    _lookaside_typical(b, lc1, "LC1 entry", "aaaaffffa")
    lc2 = b.lookaside(drv, "npaged", 0x30, "CrL2", label="SLIST depth 5, 3 entries")
    _lookaside_typical(b, lc2, "LC2 entry", "aaaaffffa")
    # descriptors
    b.descriptors_block(d, [
        {"type": "buffer", "buffer": e1.info["buffer"], "length": 0x10, "label": "sound buffer descriptor"},
        {"type": "handle", "memory": e1, "offsets": (0x8, 0x10), "label": "offsets past the end",
         "expected_problem": "MEMORY_OUT_OF_BOUNDS"},
    ])
    b.finalize()
    en = b.off_entry
    he = b.off_head
    p = b.ptr
    # (a) cycle
    b.wptr(c[2].addr + en, c[0].addr + en)
    g = b.expect("CHILD_LIST_CYCLE", A.addr + he, note="A's list: c3.Flink -> c1")
    b.expect("CHILD_LIST_CORRUPT", c[0].addr + en, group=g, note="c1 re-entered from c3 (Blink is the head)")
    b.expect("CHILD_LIST_CORRUPT", c[2].addr + en, group=g, note="c3.Flink->Blink is not c3")
    # (b) broken Blink
    b.wptr(dd[1].addr + en + p, dd[2].addr + en)
    g = b.expect("CHILD_LIST_CORRUPT", dd[1].addr + en, note="d2.Blink points at d3's entry, not d1's")
    b.expect("CHILD_LIST_CORRUPT", dd[0].addr + en, group=g, note="d1.Flink->Blink is not d1")
    # (c) parent mismatch (written by finalize through parent_value)
    b.expect("PARENT_MISMATCH", e1.addr, note="in C's list, m_ParentObject = D")
    # (d) missing page
    page = b.remove_page(f[2].addr)
    g = b.expect("UNREADABLE", f[2].addr + en, note="f2.Flink leads into a page missing from the snapshot")
    b.expect("UNREADABLE", f[2].addr, group=g, note="the object on the missing page")
    b.expect("UNREADABLE", page, group=g, note="the missing page's base (what a page-granular reader names)")
    # MDLs
    b.expect("MDL_CHAIN_CYCLE", m1.addr, note="m1 -> m2 -> m1")
    b.expect("MDL_INCONSISTENT", m3.addr, note="Size 0x%x, needs 0x%x" % (m3.size, b.MDL_HDR + 2 * b.ptr))
    b.expect("MDL_INCONSISTENT", m4.addr, note="MAPPED_TO_SYSTEM_VA set, MappedSystemVa 0")
    # lookasides
    gl1 = lc1.info["la"]["object_list"]
    x = list(reversed(gl1.slist))      # SLIST order: top first
    b.wptr(x[2], x[1])                 # x1 -> x2 -> x3 -> x2
    b.expect("LOOKASIDE_INCONSISTENT", lc1.addr, note="free entries loop (%s)" % " -> ".join(hex(v) for v in x + [x[1]]))
    gl2 = lc2.info["la"]["object_list"]
    depth, seq, first = b.read_slist_header(gl2.addr)
    b.write_slist_header(gl2.addr, 5, seq, first)
    b.expect("LOOKASIDE_INCONSISTENT", lc2.addr, note="SLIST header depth 5, 3 entries linked")
    return b.built()


def bulk(n_objects=10000, group_size=1000, arch="x64", profile=None, seed=0x5EED):
    """``n_objects`` framework objects in total (driver, device and queue
    included): groups of ``group_size`` (a user object under the driver
    plus its children; 0 = everything directly under the driver) of mixed
    WDFMEMORY (inline and paged pool) and user objects with contexts."""
    params = {"n_objects": n_objects, "group_size": group_size}
    b = _b("bulk", params, "A scaling heap of %d framework objects for benchmarks." % n_objects,
           arch=arch, profile=profile, seed=seed)
    d = b.add_driver("BulkDrv", "Bulk")
    dev = b.device(d, ctx=b.ctx_type(d, "DEVICE_CONTEXT", 0x20))
    b.queue(dev)
    count = 3
    uctx = b.ctx_type(d, "ITEM_CONTEXT", 0x10)
    gctx = b.ctx_type(d, "GROUP_CONTEXT", 0x18)
    specs = [{"cls": "FxMemoryBuffer", "tag": "BlkM", "text": "BULK INLINE "},
             {"cls": "FxUserObject", "ctx": uctx},
             {"cls": "FxMemoryBufferFromPool", "tag": "BlkP", "paged": True, "text": "BULK PAGED "}]
    lengths = (0x10, 0x20, 0x40, 0x18)
    seg = None
    members = 0
    i = 0
    while count < n_objects:
        if seg is None or (group_size and members >= group_size - 1):
            if group_size:
                g = b.user_object(d.fxdriver, ctx=gctx, label="group %d" % (count,))
                count += 1
                seg = b.segment(g, specs)
            else:
                seg = b.segment(d.fxdriver, specs)
            members = 0
            continue
        k = i % 10
        if k < 6:
            b.segment_add(seg, 0, lengths[i % 4])
        elif k < 8:
            b.segment_add(seg, 1)
        else:
            b.segment_add(seg, 2, 0x40)
        i += 1
        members += 1
        count += 1
    return b.built()


SCENARIOS = {"typical": typical, "two_drivers": two_drivers, "leak": leak, "corrupt": corrupt, "bulk": bulk}

# committed fixtures: name -> (scenario, params, compact truth)
FIXTURES = [("typical", {}, False), ("two_drivers", {}, False), ("leak", {}, True), ("corrupt", {}, False)]


def build(name, **params):
    """Build scenario ``name`` with ``params``; returns a Built."""
    fn = SCENARIOS.get(name)
    if fn is None:
        raise KeyError("unknown scenario %r (known: %s)" % (name, ", ".join(sorted(SCENARIOS))))
    return fn(**params)


def build_scenario(name, **params):
    """Alias of :func:`build`."""
    return build(name, **params)


__all__ = ["build", "build_scenario", "SCENARIOS", "FIXTURES", "SAMPLE_SCENARIO", "PAGE"]
