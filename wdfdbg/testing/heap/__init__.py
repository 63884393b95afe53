"""Deterministic synthetic KMDF kernel heaps: snapshots plus ground truth.

:class:`HeapBuilder` lays out a fake kernel address space the way the real
binaries do (``shared/reference/kmdf.md``): nt ``_POOL_HEADER`` ->
``FX_POOL_HEADER`` {self-base, globals} -> optional ``FxObjectDebugExtension``
('FxOD') -> the C++ object at the profile's offsets -> inline extra ->
``FxContextHeader`` at ``object + m_ObjectSize`` -> context bytes. Handles use
the real encoding, child lists really link, the driver globals hang off
``Wdf01000!FxLibraryGlobals``. Scenarios (:mod:`wdfdbg.testing.scenarios`)
drive it; :class:`~wdfdbg.testing.heap.built.Built` turns the result into a
snapshot document, an in-memory backend and a ground-truth dict, all
deterministic (no clock, only a seeded ``random.Random``).

One module per thing laid out (each docstring names its C types and where
their offsets come from):

==============  ===============================================================
``space``       regions, holes, struct packing (no C type)
``core``        arch constants, layouts, regions and modules, nt _POOL_HEADER
``objects``     FX_POOL_HEADER, debug extension, FxObject, handles, child
                lists, FxContextHeader, context type infos
``bulk``        millions of objects in one child list, without an Obj each
``memory``      WDFMEMORY classes, WDF_MEMORY_DESCRIPTOR
``requests``    FxRequest, its IRP and request buffers, FxRequestMemory
``lookaside``   WDFLOOKASIDE classes, _GENERAL_LOOKASIDE, SLISTs
``mdl``         _MDL and PFN arrays, chains, partial MDLs
``drivers``     FX_DRIVER_GLOBALS, FxLibraryGlobals, driver list and info
                table, verifier AllocatedMdls, vtable symbols
``truth``       the ground truth (records, walks, expected problems)
``truth_file``  compact object runs, expand, load_truth
``built``       the finished heap: snapshot, backend, target, truth
==============  ===============================================================

Why mixins and not collaborator objects: every part writes into the same
address space through the same layout cache and pool, and the parts call
each other constantly (a lookaside allocates FxObjects and sets memory
tails; a request builds MDLs; every object header needs a vtable symbol).
Scenarios and tests speak to one flat builder (``b.memory_create``,
``b.mdl``, ``built.b.objects``: some 40 names). As mixins over
:class:`~wdfdbg.testing.heap.core.HeapCore`, each part is one class in its
own module that adds its own state in ``_init_<part>`` (and, where it has
one, its own finalize step), and every call site stays as it was;
collaborators would need either a forwarding method per name or a rewrite of
every scenario, plus a back-reference to the core in each part.
:class:`HeapBuilder` below is the whole composition: the order of the
``_init_*`` calls and of the finalize steps is explicit there.
"""

from wdfdbg.testing.heap.built import Built
from wdfdbg.testing.heap.bulk import BulkBuilder
from wdfdbg.testing.heap.core import HeapCore
from wdfdbg.testing.heap.drivers import DriverBuilder
from wdfdbg.testing.heap.lookaside import LookasideBuilder
from wdfdbg.testing.heap.mdl import MdlBuilder
from wdfdbg.testing.heap.memory import MemoryBuilder
from wdfdbg.testing.heap.objects import ObjectBuilder
from wdfdbg.testing.heap.requests import RequestBuilder
from wdfdbg.testing.heap.space import PAGE
from wdfdbg.testing.heap.truth import make_truth
from wdfdbg.testing.heap.truth_file import compact_objects, expand_objects, load_truth


class HeapBuilder(DriverBuilder, RequestBuilder, LookasideBuilder, MemoryBuilder, MdlBuilder, BulkBuilder,
                  ObjectBuilder, HeapCore):
    """Lays out drivers, objects, memory, lookasides, requests and MDLs.

    ``HeapBuilder(scenario="custom", arch="x64", profile=None, seed=0x5EED,
    os_build=None, kmdf_version="1.31", description=None, params=None)``:
    see :class:`~wdfdbg.testing.heap.core.HeapCore`."""

    def _init_parts(self):
        # no part allocates pool here; the two that take memory (FxLibraryGlobals
        # in Wdf01000's data, the kernel lookaside list heads in nt's) have a
        # region each, so this order changes no byte
        self._init_objects()
        self._init_mdls()
        self._init_memory()
        self._init_drivers()
        self._init_lookasides()
        self._init_bulk()
        self._init_requests()

    def finalize(self):
        """Write what depends on everything being placed: child lists,
        lookaside counters and SLIST headers, kernel lookaside lists, driver
        list, bugcheck driver info, AllocatedMdls blocks (in that order:
        the last two allocate pool)."""
        if self.finalized:
            return
        self.finalized = True
        self._link_child_lists()
        self._finalize_lookasides()
        self._finalize_drivers()

    def built(self):
        self.finalize()
        mods = sorted(self.modules, key=lambda m: m.base)
        for m1, m2 in zip(mods, mods[1:]):
            if m1.base + m1.size > m2.base:
                raise ValueError("builder: modules %s and %s overlap" % (m1.name, m2.name))
        for r in self.heap.regions:
            r.trim()
        return Built(self)


__all__ = ["Built", "HeapBuilder", "PAGE", "compact_objects", "expand_objects", "load_truth", "make_truth"]
