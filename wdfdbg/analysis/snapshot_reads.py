"""What a snapshot cut from a dump must hold: the reads of an analysis.

:func:`read_for_snapshot` runs the analyses through a recording session
(the driver-list walk, or a scan of memory when there is no list, with
memory, lookaside, MDL and context decoding; and what ``info`` reads), so
that ``memtree`` / ``scan`` / ``info`` replay offline on the snapshot.
"""

from wdfdbg.analysis.info import gather_info
from wdfdbg.analysis.scanned import annotate_found
from wdfdbg.decoders import drivers as drv
from wdfdbg.decoders import objects as fxo
from wdfdbg.errors import ReadError
from wdfdbg.problems import ProblemLog


def read_for_snapshot(session, recorder, problems):
    """Run the analysis through the recording ``session`` (whose backend is
    ``recorder``)."""
    target = session.target
    # symbols the source knows, so the replay resolves the same names
    names = getattr(recorder.inner, "symbols", None)
    if callable(names):
        for name in sorted(names()):
            target.symbol(name)
    log = ProblemLog()
    listed = list(drv.for_each_driver(session, log))
    if listed and not log.has_errors():
        # memtree's own analysis, as memtree runs it with no arguments
        from wdfdbg.analysis import tree
        tree.collect(session, tree.TreeOptions())
    else:
        _read_scanned(session, recorder, problems)
    try:
        gather_info(session, allow_scan=False, bugcheck=False)
    except ReadError:
        pass
    # the exception record behind the bugcheck (the triage headline reads it)
    from wdfdbg.decoders.exception import decode_exception
    decode_exception(session)


def _read_scanned(session, recorder, problems):
    """No driver list: find the objects on an unrecorded view (a scan reads
    all memory, which is not what the analysis needs), then decode them
    (headers, globals, memory, contexts) through the recording."""
    from wdfdbg.decoders.scan import scan
    target = session.target
    res = scan(plain_session(recorder, session), ProblemLog())
    for d in res.drivers:
        try:
            drv.read_driver(session, d.globals)
        except MemoryError:
            raise
        except Exception:  # reading for the record only: what fails stays out of it
            pass
    try:
        mask_off = session.layouts.get("Wdf01000!_FX_DRIVER_GLOBALS").offset("WdfHandleMask")
    except MemoryError:
        raise
    except Exception:  # no globals layout: the scan could not have verified masks either
        mask_off = None
    nodes = []
    for n in res.nodes:
        hdr = n.header
        cap = (n.extra.get("scan") or {}).get("captured_bytes") or 0
        try:
            target.read(hdr.address, cap)
        except ReadError:
            pass
        try:
            hdr2 = fxo.read_object(session, hdr.address)
        except ReadError:
            hdr2 = hdr
        node = fxo.ObjectNode(hdr2, n.parent, n.depth, n.driver, n.handle)
        node.extra = dict(n.extra)
        nodes.append(node)
        if hdr.globals and mask_off is not None:
            try:
                target.read_pointer(hdr.globals + mask_off)
            except ReadError:
                pass
    annotate_found(session, nodes, problems, contexts=True)


def plain_session(recorder, session):
    """A session over the same source without the recording."""
    from wdfdbg.layouts import Layouts
    from wdfdbg.session import Session
    from wdfdbg.sources.base import Target
    target = Target(recorder.inner)
    layouts = Layouts(target, profile=session.layouts._explicit, use_symbols=session.layouts.use_symbols)
    plain = Session(target, layouts, recorder.kind, session.path, recorder.origin)
    plain.shape_classifier = getattr(session, "shape_classifier", None)
    return plain
