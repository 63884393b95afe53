"""volatility3's object model walking a driver's FxObject child list: the
reference side of ``bench_memtree.py --vol3-python PY``.

Run with the Python of a venv that has volatility3 (it is not a dependency
of wdfdbg)::

    python3 -m venv /tmp/vol3 && /tmp/vol3/bin/pip install volatility3
    /tmp/vol3/bin/python benchmarks/bench_vol3.py SNAPSHOT.wdfsnap.json.gz

Same bytes, same types: the snapshot's memory ranges become a volatility3
data layer, its Wdf01000 ISF document (with the snapshot's symbols added to
its ``symbols`` section) a volatility3 IntermediateSymbolTable. The walk is
what memtree does for each object of the first driver on
``FxLibraryGlobals.FxDriverGlobalsList``, through volatility3 objects
(``context.object`` on templates looked up once, member access): the
class from the vtable symbol through a map filled once per vtable, the
handle, the driver, parent and depth (the child entry's Blink checked),
and for a memory class its length, inline buffer and the pool tag through
FX_POOL_HEADER.Base; one JSON line per object to a null sink: what
wdfdbg's record holds of those, and much less than the rest of it. Only
``FxMemoryBuffer`` and plain objects are decoded as memtree decodes them:
the benchmark heap holds nothing else.

Prints one JSON line: ``{"objects", "walk_seconds", "load_seconds",
"volatility3"}``.
"""

import bisect
import gzip
import json
import os
import sys
import tempfile
import time


def load_snapshot(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw.decode("utf-8"))


def make_layer_class():
    import base64
    from volatility3.framework import exceptions, interfaces

    class SnapshotLayer(interfaces.layers.DataLayerInterface):
        """The snapshot's ranges as one volatility3 data layer; an address
        outside them is invalid, as it is for wdfdbg."""

        def __init__(self, context, config_path, name, ranges, metadata=None):
            super().__init__(context=context, config_path=config_path, name=name, metadata=metadata)
            self._starts = [a for a, _ in ranges]
            self._data = [d for _, d in ranges]

        @classmethod
        def from_document(cls, context, name, doc):
            ranges = sorted((int(r["address"], 16), base64.b64decode(r["data"])) for r in doc["memory"])
            return cls(context, "layer_" + name, name, ranges)

        @property
        def maximum_address(self):
            return self._starts[-1] + len(self._data[-1]) - 1

        @property
        def minimum_address(self):
            return self._starts[0]

        def _find(self, offset, length):
            i = bisect.bisect_right(self._starts, offset) - 1
            if i < 0:
                return None
            start = self._starts[i]
            if offset + length > start + len(self._data[i]):
                return None
            return i, offset - start

        def is_valid(self, offset, length=1):
            return self._find(offset, length) is not None

        def read(self, offset, length, pad=False):
            hit = self._find(offset, length)
            if hit is None:
                if pad:
                    return b"\0" * length
                raise exceptions.InvalidAddressException(self.name, offset, "not in the snapshot")
            i, off = hit
            return self._data[i][off:off + length]

        def write(self, offset, data):
            raise exceptions.LayerException(self.name, "read-only snapshot layer")

        @classmethod
        def get_requirements(cls):
            return []

    return SnapshotLayer


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: bench_vol3.py SNAPSHOT\n")
        return 2
    t0 = time.perf_counter()
    from volatility3.framework import contexts
    from volatility3.framework.symbols import intermed
    doc = load_snapshot(argv[0])
    ctx = contexts.Context()
    layer = make_layer_class().from_document(ctx, "snap", doc)
    ctx.add_layer(layer)
    isf = dict(doc["types"]["Wdf01000"])
    isf["symbols"] = dict((k.split("!", 1)[1], {"address": int(v, 16)}) for k, v in doc["symbols"].items()
                          if k.startswith("Wdf01000!"))
    with tempfile.TemporaryDirectory() as tmp:  # volatility3 loads ISF from a URL
        isf_path = os.path.join(tmp, "wdf01000.json")
        with open(isf_path, "w") as f:
            json.dump(isf, f)
        table = intermed.IntermediateSymbolTable(ctx, "wdf", "wdf", "file://" + isf_path)
    ctx.symbol_space.append(table)
    load_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    n = walk(ctx, table, doc)
    walk_s = time.perf_counter() - t1
    from volatility3.framework import constants
    print(json.dumps({"objects": n, "walk_seconds": walk_s, "load_seconds": load_s,
                      "volatility3": getattr(constants, "PACKAGE_VERSION", None)}))
    return 0


class NullSink(object):
    def __init__(self):
        self.chars = 0

    def write(self, s):
        self.chars += len(s)


def walk(ctx, table, doc):
    """Every object below the first driver's FxDriver, pre-order, one JSON
    line each to a null sink; returns the count.

    Written as volatility3's best users write a hot loop: the types looked
    up once as templates (``table.get_type``) and handed to
    ``context.object`` (no symbol-space lookup per object), one FxObject
    object per object (made while following its parent's child list, used
    again when it is emitted), the class from the vtable through a map
    filled once per vtable, members read once each, the pool tag's four
    bytes read straight from the layer."""
    lay = "snap"
    layer = ctx.layers[lay]
    out = NullSink()
    fxobject = table.get_type("FxObject")
    fxmemory = table.get_type("FxMemoryBuffer")
    fx_pool_header = table.get_type("FX_POOL_HEADER")
    globals_type = table.get_type("_FX_DRIVER_GLOBALS")
    lib = table.get_symbol("FxLibraryGlobals").address
    libg = ctx.object(table.get_type("FxLibraryGlobalsType"), lay, lib)
    link_off = globals_type.relative_child_offset("Linkage")
    first = int(libg.FxDriverGlobalsList.Flink) - link_off   # the first driver's FX_DRIVER_GLOBALS
    g = ctx.object(globals_type, lay, first)
    name_off = table.get_type("_WDF_DRIVER_GLOBALS").relative_child_offset("DriverName")
    driver_name = layer.read(g.Public.vol.offset + name_off, 32).split(b"\0", 1)[0].decode("latin-1")
    root = int(g.Driver)
    head_off = fxobject.relative_child_offset("m_ChildListHead")
    entry_off = fxobject.relative_child_offset("m_ChildEntry")
    inline_off = (fxmemory.size + 15) & ~15
    fph_off = fx_pool_header.relative_child_offset("AllocationStart")
    mask = 0xFFFFFFFFFFFFFFF8
    classes = {}
    count = 0
    dumps = json.dumps
    stack = [(ctx.object(fxobject, lay, root), None, 0)]
    seen = set([root])
    while stack:
        obj, parent, depth = stack.pop()
        addr = obj.vol.offset
        vt = int(obj.member("__vfptr"))
        try:
            cls = classes[vt]
        except KeyError:
            names = list(table.get_symbols_by_location(vt))
            cls = classes[vt] = names[0].split("::`vftable'", 1)[0] if names else None
        size = int(obj.m_ObjectSize)
        rec = {"address": hex(addr), "handle": hex(addr ^ mask) if size else None, "class": cls,
               "driver": driver_name,   # the walk's driver, as memtree's records name it
               "parent": hex(parent) if parent else None, "depth": depth, "memory": None}
        if cls == "FxMemoryBuffer":
            length = int(ctx.object(fxmemory, lay, addr).m_BufferSize)
            base = int(ctx.object(fx_pool_header, lay, addr - fph_off).Base)
            tag = layer.read(base - 12, 4).decode("latin-1") if base == addr - fph_off else None
            rec["memory"] = {"buffer": hex(addr + inline_off), "length": length, "origin": "inline",
                             "pool_tag": tag}
        out.write(dumps(rec) + "\n")
        count += 1
        children = []
        list_head = addr + head_off
        entry = int(obj.m_ChildListHead.Flink)
        prev = list_head
        while entry != list_head and entry:
            child = ctx.object(fxobject, lay, entry - entry_off)
            link = child.m_ChildEntry
            if int(link.Blink) != prev:
                break
            if entry - entry_off not in seen:
                seen.add(entry - entry_off)
                children.append(child)
            prev = entry
            entry = int(link.Flink)
        for c in reversed(children):
            stack.append((c, addr, depth + 1))
    return count


if __name__ == "__main__":
    sys.exit(main())
