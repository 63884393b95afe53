"""The analysis behind ``scan``: FxObjects found in all readable memory by
their shape (:func:`wdfdbg.decoders.scan.scan`), then given the memory,
lookaside, MDL and context facts a walked tree gets."""

from wdfdbg.analysis.headline import TriageFeed
from wdfdbg.analysis.info import bugcheck_facts
from wdfdbg.decoders import objects as fxo
from wdfdbg.decoders import scan as fxscan
from wdfdbg.decoders.annotate import annotate_nodes
from wdfdbg.problems import problem_log_for


class ScanFindings(object):
    """What ``scan`` found: the KMDF drivers known, the objects (ObjectNodes
    in scan order, annotated), the problems, the scan's statistics
    (:class:`~wdfdbg.decoders.scan.ScanStats`) and the decoded bugcheck."""

    __slots__ = ("drivers", "nodes", "problems", "stats", "bugcheck")

    def __init__(self, drivers, nodes, problems, stats, bugcheck):
        self.drivers = drivers
        self.nodes = nodes
        self.problems = problems
        self.stats = stats
        self.bugcheck = bugcheck


def annotate_found(session, nodes, problems, contexts=True):
    """Memory, lookaside, MDL and (unless ``contexts`` is false) context
    facts on every node: the annotation memtree gives a walked tree."""
    if contexts:
        for n in nodes:
            n.contexts = fxo.read_contexts(session, n.header)
    annotate_nodes(session, nodes, problems)


def analyse_scan(session, max_objects=fxscan.MAX_OBJECTS, include_destroyed=False, contexts=True):
    problems = problem_log_for(session)
    res = fxscan.scan(session, problems, max_objects=max_objects, include_destroyed=include_destroyed)
    annotate_found(session, res.nodes, problems, contexts=contexts)
    # the per-object triage memtree runs (locks held, DMA alignment, objects
    # piling up): scan reports the same problems on the same objects
    feed = TriageFeed(session, problems)
    for n in res.nodes:
        feed.feed(n)
    feed.finish()
    return ScanFindings(res.drivers, res.nodes, problems, res.stats, bugcheck_facts(session))
