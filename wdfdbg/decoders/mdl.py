"""MDLs: one ``_MDL``, a chain through ``Next``, and the framework's own MDL
list of a driver with the verifier on (kmdf.md §7, §9).

C types: ``nt!_MDL`` (x64 0x30 / x86 0x1C bytes, then one PFN_NUMBER per
page spanned), ``Wdf01000!FxDriverGlobalsDebugExtension``,
``FxAllocatedMdls`` and ``FxMdlDebugInfo``.

* :func:`decode_mdl` decodes one MDL (header in one read, then its PFN
  array) and checks it: ``Size`` against ``sizeof(MDL) + sizeof(PFN_NUMBER)
  * pages spanned`` (a partial MDL may be larger than it needs, never
  smaller), a mapped flag (MAPPED_TO_SYSTEM_VA, SOURCE_IS_NONPAGED_POOL,
  PARTIAL_HAS_BEEN_MAPPED) without a ``MappedSystemVa``, a
  ``MappedSystemVa`` whose page offset differs from ``ByteOffset``,
  ``ByteOffset`` of a page or more, a ``StartVa`` that is not page aligned,
  PARTIAL_HAS_BEEN_MAPPED without PARTIAL.
* :func:`for_each_mdl` walks ``Next`` iteratively with cycle detection and a
  bound; :func:`validate_mdl_chain` raises on the first problem.
* :func:`driver_mdls` lists ``DebugExtension->AllocatedMdls``.

Problem address conventions: MDL_INCONSISTENT at the MDL; MDL_CHAIN_CYCLE
at the first MDL of the chain as referenced (whose ``Next`` walk comes back
to an MDL already seen);
UNREADABLE at the first address that could not be read.
"""

from wdfdbg.decoders.common import validate_walk
from wdfdbg.errors import LayoutError, ReadError

MDL_TYPE = "nt!_MDL"
MAX_CHAIN = 4096
MAX_PFNS = 4096
MAX_ALLOCATED_BLOCKS = 65536
MDLS_PER_BLOCK = 16

MDL_FLAGS = [
    (0x0001, "MAPPED_TO_SYSTEM_VA"), (0x0002, "PAGES_LOCKED"), (0x0004, "SOURCE_IS_NONPAGED_POOL"),
    (0x0008, "ALLOCATED_FIXED_SIZE"), (0x0010, "PARTIAL"), (0x0020, "PARTIAL_HAS_BEEN_MAPPED"),
    (0x0040, "IO_PAGE_READ"), (0x0080, "WRITE_OPERATION"), (0x0100, "LOCKED_PAGE_TABLES"),
    (0x0200, "FREE_EXTRA_PTES"), (0x0400, "DESCRIBES_AWE"), (0x0800, "IO_SPACE"),
    (0x1000, "NETWORK_HEADER"), (0x2000, "MAPPING_CAN_FAIL"), (0x4000, "PAGE_CONTENTS_INVARIANT"),
    (0x8000, "INTERNAL"),
]
MDL_MAPPED_TO_SYSTEM_VA = 0x1
MDL_SOURCE_IS_NONPAGED_POOL = 0x4
MDL_PARTIAL = 0x10
MDL_PARTIAL_HAS_BEEN_MAPPED = 0x20
MAPPED_FLAGS = MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL_HAS_BEEN_MAPPED


def hx(v):
    return None if v is None else "0x%x" % v


def px(v):
    """A pointer as JSON: NULL (or unknown) is null."""
    return "0x%x" % v if v else None


def flag_names(value):
    """MdlFlags -> list of names (``MDL_`` prefix dropped); unknown bits as hex."""
    if value is None:
        return []
    value &= 0xFFFF
    names = [n for bit, n in MDL_FLAGS if value & bit]
    return names


def pages_spanned(va, size, page_size=4096):
    """ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, size)."""
    if size is None or va is None:
        return None
    return ((va & (page_size - 1)) + size + page_size - 1) // page_size


def mdl_layout(session):
    return session.layouts.get(MDL_TYPE)


def mdl_system_address(rec):
    """The system VA an MDL is mapped at (``MmGetSystemAddressForMdlSafe``
    without mapping anything), or None: MappedSystemVa when a mapped flag is
    set."""
    if not rec:
        return None
    flags = rec.get("flags_value") or 0
    msva = rec.get("mapped_system_va")
    if flags & MAPPED_FLAGS and msva:
        return int(msva, 16)
    return None


class MdlInfo(object):
    """A decoded MDL: ``record`` (the contract's dict) and raw ints."""

    __slots__ = ("address", "record", "next", "flags", "byte_count", "byte_offset", "start_va", "mapped_system_va",
                 "size", "pages", "problems")

    def __init__(self, address):
        self.address = address
        self.record = None
        self.next = None
        self.flags = None
        self.byte_count = None
        self.byte_offset = None
        self.start_va = None
        self.mapped_system_va = None
        self.size = None
        self.pages = None
        self.problems = []


def empty_record(address):
    return {"address": hx(address), "next": None, "size": None, "flags": [], "flags_value": None, "process": None,
            "mapped_system_va": None, "start_va": None, "byte_count": None, "byte_offset": None, "pfns": None}


def decode_mdl(session, address, problems, max_pfns=MAX_PFNS):
    """Decode the MDL at ``address``: a :class:`MdlInfo` (its ``record`` is
    the contract's mdl dict plus ``pages``, ``expected_size`` and
    ``system_address``). Problems go to ``problems``; raises ReadError only
    when the MDL header itself is unreadable."""
    target = session.target
    lay = mdl_layout(session)
    rec = lay.decode(target.read(address, lay.extent))
    ptr = target.pointer_size
    ps = target.page_size
    info = MdlInfo(address)
    size = rec.get("Size")
    flags = rec.get("MdlFlags")
    if flags is not None:
        flags &= 0xFFFF
    start_va = rec.get("StartVa")
    byte_count = rec.get("ByteCount")
    byte_offset = rec.get("ByteOffset")
    msva = rec.get("MappedSystemVa")
    info.next = rec.get("Next")
    info.flags = flags
    info.size = size
    info.start_va = start_va
    info.byte_count = byte_count
    info.byte_offset = byte_offset
    info.mapped_system_va = msva
    pages = None
    if start_va is not None and byte_offset is not None and byte_count is not None:
        pages = pages_spanned(start_va + byte_offset, byte_count, ps)
    info.pages = pages
    expected = None if pages is None else lay.size + ptr * pages
    out = {
        "address": hx(address), "next": px(info.next), "size": size, "flags": flag_names(flags),
        "flags_value": flags, "process": px(rec.get("Process")), "mapped_system_va": px(msva),
        "start_va": px(start_va), "byte_count": byte_count, "byte_offset": byte_offset, "pfns": None,
        # extensions
        "pages": pages, "expected_size": expected, "system_address": None, "pfns_truncated": False,
    }
    bad = []
    if size is not None and size < lay.size:
        bad.append("Size %d is smaller than the MDL header (%d)" % (size, lay.size))
    elif size is not None and expected is not None:
        if size < expected:
            bad.append("Size %d describes %d PFN(s) but ByteOffset 0x%x + ByteCount 0x%x span %d page(s) (Size %d expected)" % (
                size, (size - lay.size) // ptr, byte_offset, byte_count, pages, expected))
        elif size > expected and not (flags or 0) & MDL_PARTIAL:
            bad.append("Size %d does not match ByteOffset 0x%x + ByteCount 0x%x: %d page(s), Size %d expected" % (
                size, byte_offset, byte_count, pages, expected))
        elif (size - lay.size) % ptr:
            bad.append("Size %d is not the header plus whole PFN entries" % size)
    if flags is not None and flags & MAPPED_FLAGS and not msva:
        names = [n for bit, n in MDL_FLAGS if flags & bit & MAPPED_FLAGS]
        bad.append("%s set but MappedSystemVa is NULL" % "|".join(names))
    if flags is not None and flags & MDL_PARTIAL_HAS_BEEN_MAPPED and not flags & MDL_PARTIAL:
        bad.append("PARTIAL_HAS_BEEN_MAPPED without PARTIAL")
    if byte_offset is not None and byte_offset >= ps:
        bad.append("ByteOffset 0x%x is not inside a page" % byte_offset)
    if start_va is not None and start_va & (ps - 1):
        bad.append("StartVa 0x%x is not page aligned" % start_va)
    if (msva and flags is not None and flags & MAPPED_FLAGS and byte_offset is not None and byte_offset < ps
            and (msva & (ps - 1)) != byte_offset):
        bad.append("MappedSystemVa 0x%x is not at ByteOffset 0x%x in its page" % (msva, byte_offset))
    for msg in bad:
        info.problems.append(problems.add("MDL_INCONSISTENT", address, "MDL 0x%x: %s" % (address, msg)))
    out["system_address"] = hx(msva) if (flags or 0) & MAPPED_FLAGS and msva else None
    # PFN array: as many entries as pages spanned (bounded by Size and max_pfns)
    n = pages
    if n is not None and size is not None and size >= lay.size:
        n = min(n, (size - lay.size) // ptr)
    if n is not None and n >= 0:
        if n > max_pfns:
            out["pfns_truncated"] = True
            n = max_pfns
        try:
            raw = target.read(address + lay.size, n * ptr) if n else b""
            pfns = [int.from_bytes(raw[i * ptr:(i + 1) * ptr], "little") for i in range(n)]
            out["pfns"] = [hx(p) for p in pfns]
        except ReadError as e:
            info.problems.append(problems.add("UNREADABLE", e.address, "MDL 0x%x: its PFN array (%d entries) is unreadable" % (address, n)))
    info.record = out
    return info


def for_each_mdl(session, address, problems, limit=MAX_CHAIN):
    """Yield :class:`MdlInfo` for each MDL on the chain starting at
    ``address`` (through ``Next``), recording problems; never raises for bad
    memory. A cycle stops the walk with MDL_CHAIN_CYCLE at ``address``
    (the chain as referenced)."""
    target = session.target
    seen = set()
    prev = None
    cur = address
    count = 0
    while cur:
        if cur in seen:
            problems.add("MDL_CHAIN_CYCLE", address, "MDL chain at 0x%x: Next of 0x%x leads back to 0x%x" % (address, prev, cur))
            return
        if count >= limit:
            problems.add("WALK_LIMIT", address, "MDL chain at 0x%x: stopped after %d MDLs" % (address, limit))
            return
        target.check_interrupt()
        seen.add(cur)
        count += 1
        try:
            info = decode_mdl(session, cur, problems)
        except ReadError as e:
            if prev is None:
                problems.add("UNREADABLE", e.address, "MDL 0x%x is unreadable" % cur)
            else:
                problems.add("UNREADABLE", e.address, "MDL 0x%x (Next of 0x%x) is unreadable" % (cur, prev))
            return
        yield info
        prev = cur
        cur = info.next


def mdl_chain(session, address, problems, limit=MAX_CHAIN):
    """The chain as a list of contract records."""
    return [i.record for i in for_each_mdl(session, address, problems, limit)]


def validate_mdl_chain(session, address, limit=MAX_CHAIN):
    """Like :func:`mdl_chain` but raise CorruptionError on the first
    problem (drgn-style ``validate_*``)."""
    return [info.record for info in validate_walk(lambda log: for_each_mdl(session, address, log, limit))]


def chain_byte_count(records):
    return sum((r.get("byte_count") or 0) for r in records)


def _module_offset(target, address):
    """``module+0xN`` for a code address (no symbol lookup: a nearest-symbol
    search answers differently live and on replay)."""
    if not address:
        return None
    mod = target.module_of(address)
    return None if mod is None else "%s+0x%x" % (mod.name, address - mod.base)


def for_each_tracked_mdl(session, driver_info, problems, max_blocks=MAX_ALLOCATED_BLOCKS):
    """Yield the entries of a driver's ``DebugExtension->AllocatedMdls``
    (verifier only) without decoding their MDLs: ``{mdl, owner, caller,
    caller_symbol, block, record, chain}`` with ``record`` None and
    ``chain`` empty until :func:`decode_tracked_mdl` fills them. The block
    chain is checked as it goes (cycle, bound, unreadable, Count). Nothing
    when the verifier is off or the debug extension is missing; LayoutError
    when the layouts lack the types."""
    if not driver_info or not driver_info.verifier_on or not driver_info.debug_extension:
        return
    target = session.target
    try:
        ext = session.layouts.get("Wdf01000!FxDriverGlobalsDebugExtension")
        blk = session.layouts.get("Wdf01000!FxAllocatedMdls")
        info_lay = session.layouts.get("Wdf01000!FxMdlDebugInfo")
    except LayoutError as e:
        problems.add("UNREADABLE", driver_info.debug_extension, "AllocatedMdls cannot be decoded: %s" % e)
        return
    block = driver_info.debug_extension + ext.offset("AllocatedMdls")
    info_off = blk.offset("Info")
    count_off = blk.offset("Count")
    next_off = blk.offset("Next")
    seen = set()
    nblocks = 0
    while block:
        if block in seen:
            problems.add("MDL_CHAIN_CYCLE", block, "driver %s: FxAllocatedMdls chain comes back to block 0x%x" % (driver_info.label(), block))
            break
        if nblocks >= max_blocks:
            problems.add("WALK_LIMIT", block, "driver %s: stopped after %d FxAllocatedMdls blocks" % (driver_info.label(), max_blocks))
            break
        seen.add(block)
        nblocks += 1
        try:
            raw = target.read(block, blk.extent)
        except ReadError as e:
            problems.add("UNREADABLE", e.address, "driver %s: FxAllocatedMdls block 0x%x is unreadable" % (driver_info.label(), block))
            break
        count = int.from_bytes(raw[count_off:count_off + 4], "little")
        nxt = int.from_bytes(raw[next_off:next_off + target.pointer_size], "little")
        if count > MDLS_PER_BLOCK:
            problems.add("MDL_INCONSISTENT", block, "driver %s: FxAllocatedMdls block 0x%x has Count %d (at most %d)" % (
                driver_info.label(), block, count, MDLS_PER_BLOCK))
            count = MDLS_PER_BLOCK
        for i in range(MDLS_PER_BLOCK):
            base = info_off + i * info_lay.size
            d = info_lay.decode(raw, base)
            mdl = d.get("Mdl")
            if not mdl:
                continue
            caller = d.get("Caller")
            yield {"mdl": hx(mdl), "owner": px(d.get("Owner")), "caller": px(caller),
                   "caller_symbol": _module_offset(target, caller), "block": hx(block), "record": None, "chain": []}
        block = nxt


def decode_tracked_mdl(session, entry, problems):
    """Decode the MDL chain of one :func:`for_each_tracked_mdl` entry
    (problems recorded): sets its ``chain`` and ``record`` and returns it."""
    mdl = int(entry["mdl"], 16)
    chain = [i.record for i in for_each_mdl(session, mdl, problems)]
    if chain and chain[0]["address"] == entry["mdl"]:
        entry["record"] = chain[0]
    entry["chain"] = chain
    return entry


def driver_mdls(session, driver_info, problems, max_blocks=MAX_ALLOCATED_BLOCKS, owners=None):
    """The framework's own MDL list of a driver (verifier only): a list of
    ``{mdl, owner, caller, caller_symbol, block, record, chain}`` where
    ``record`` is the decoded MDL (contract shape) or None when unreadable
    and ``chain`` the records of its whole ``Next`` chain (checked for
    cycles). ``owners``: a set of owner addresses to keep (None: all).
    Empty when the verifier is off or the debug extension is missing."""
    out = []
    for entry in for_each_tracked_mdl(session, driver_info, problems, max_blocks):
        if owners is not None and (int(entry["owner"], 16) if entry["owner"] else 0) not in owners:
            continue
        out.append(decode_tracked_mdl(session, entry, problems))
    return out
