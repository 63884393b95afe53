"""A finished heap as tests and tools take it: a snapshot document, an
in-memory :class:`~wdfdbg.sources.snapshot.SnapshotBackend` or
:class:`~wdfdbg.sources.base.Target`, and the ground truth.

No C type is laid out here: the snapshot is the builder's readable ranges
(holes cut out) plus the profile's types, in the order
``shared/spec/snapshot-format.md`` gives; ``origin`` is always
"synthetic".
"""

import base64
import copy

from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import Target
from wdfdbg.testing.heap.space import PAGE
from wdfdbg.testing.heap.truth import bugcheck_record, hx, make_truth, module_records
from wdfdbg.testing.heap.truth_file import compact_objects


class Built(object):
    """A finished heap: ``document()``, ``backend()``, ``target()``,
    ``truth()``, ``memory()``."""

    def __init__(self, builder):
        self.b = builder
        self.scenario = builder.scenario
        self.params = builder.params
        self._truth_cache = {}

    # snapshot ----------------------------------------------------------------
    def memory(self):
        """Readable ranges as (address, memoryview), sorted, holes removed."""
        return self.b.heap.ranges()

    def _description(self):
        b = self.b
        text = b.description or ""
        return ("Synthetic KMDF heap built by wdfdbg.testing from scenario '%s'%s. %s"
                % (b.scenario, self._param_text(), text)).strip()

    def _param_text(self):
        if not self.params:
            return ""
        return " (" + ", ".join("%s=%s" % (k, self.params[k]) for k in sorted(self.params)) + ")"

    def _head(self, types=True, symbols=True):
        b = self.b
        target = {"arch": b.arch, "pointer_size": b.ptr, "page_size": PAGE, "os_build": b.os_build,
                  "kmdf_version": b.kmdf_version}
        doc = {"format": snapfmt.FORMAT, "version": snapfmt.VERSION, "origin": "synthetic",
               "description": self._description(), "target": target}
        doc["bugcheck"] = bugcheck_record(b)
        if b.crash_thread:
            doc["crash_thread"] = hx(b.crash_thread)   # readers that do not know it ignore it
        doc["modules"] = module_records(b)
        syms = b.symbols if symbols else {}
        doc["symbols"] = dict((k, hx(v)) for k, v in sorted(syms.items(), key=lambda kv: (kv[1], kv[0])))
        doc["types"] = copy.deepcopy(b.profile.documents()) if types else {}
        return doc

    def document(self, types=True, symbols=True):
        """The snapshot document (a dict, spec key order). ``types=False``:
        ``types: {}`` as a symbol-less recording; ``symbols=False`` also
        drops the symbol table."""
        doc = self._head(types, symbols)
        doc["memory"] = [{"address": hx(a), "data": base64.b64encode(d).decode("ascii")}
                         for a, d in self.memory()]
        return doc

    def dumps(self, types=True, symbols=True, compress=True):
        return snapfmt.dumps(self.document(types, symbols), compress=compress)

    def snapshot(self, types=True, symbols=True):
        """A validated :class:`~wdfdbg.sources.snapshot.Snapshot` built
        straight from memory (no JSON, no base64)."""
        doc = self._head(types, symbols)
        doc["memory"] = []
        problems, _ = snapfmt.validate(doc)
        if problems:
            raise ValueError("builder produced an invalid snapshot: %s" % "; ".join(problems))
        mem = [(a, d) for a, d in self.memory() if len(d)]
        return snapfmt.Snapshot(doc, mem, path=None)

    def backend(self, types=True, symbols=True):
        return snapfmt.SnapshotBackend(self.snapshot(types, symbols))

    def target(self, types=True, symbols=True, cache_pages=65536):
        return Target(self.backend(types, symbols), cache_pages=cache_pages)

    def summary(self):
        b = self.b
        n = sum(1 for o in b.objects if o.alive) + sum(len(s) for s in b.segments)
        return {"scenario": b.scenario, "objects": n, "memory_bytes": sum(len(d) for _, d in self.memory()),
                "drivers": len(b.drivers), "mdls": len(b.mdls)}

    # truth -------------------------------------------------------------------
    def truth(self, compact=False, objects=True):
        """Ground truth (a dict of JSON values). ``compact=True`` folds runs
        of objects that differ only by address (see :func:`compact_objects`);
        ``objects=False`` leaves the per-object records out (``objects``:
        null) for bounded memory on huge bulk heaps."""
        key = (bool(compact), bool(objects))
        if key not in self._truth_cache:
            t = make_truth(self.b, objects=objects)
            if compact and objects:
                t = dict(t)
                t["objects"] = compact_objects(t["objects"], self.b.mask)
            self._truth_cache[key] = t
        return self._truth_cache[key]
