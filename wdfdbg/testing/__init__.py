"""Synthetic KMDF heaps for tests and benchmarks.

    from wdfdbg.testing import build, load_truth
    built = build("typical")                 # or "two_drivers", "leak", "corrupt", "bulk"
    doc = built.document(types=True)         # snapshot dict (types=False: symbol-less "types": {})
    backend = built.backend()                # SnapshotBackend straight from memory
    truth = built.truth()                    # ground truth dict
    truth = load_truth("fixtures/leak.truth.json")   # a committed truth, runs expanded

See :mod:`wdfdbg.testing.heap` for the layout rules (one module per thing
laid out) and :mod:`wdfdbg.testing.heap.truth` for the address conventions
of the ground truth.
"""

from wdfdbg.testing.heap import (Built, HeapBuilder, compact_objects, expand_objects, load_truth,  # noqa: F401
                                 make_truth)
from wdfdbg.testing.scenarios import FIXTURES, SAMPLE_SCENARIO, SCENARIOS, build, build_scenario  # noqa: F401

__all__ = ["Built", "HeapBuilder", "compact_objects", "expand_objects", "load_truth", "make_truth", "FIXTURES",
           "SAMPLE_SCENARIO", "SCENARIOS", "build", "build_scenario"]
