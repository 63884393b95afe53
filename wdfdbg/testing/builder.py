"""The scenario builder's old home: :class:`HeapBuilder` and friends now live
in :mod:`wdfdbg.testing.heap` (one module per thing laid out; the layout
rules are in its docstring, the truth's address conventions in
:mod:`wdfdbg.testing.heap.truth`). These names stay importable from here."""

from wdfdbg.testing.heap import (PAGE, Built, HeapBuilder, compact_objects, expand_objects, load_truth,  # noqa: F401
                                 make_truth)

__all__ = ["Built", "HeapBuilder", "PAGE", "compact_objects", "expand_objects", "load_truth", "make_truth"]
