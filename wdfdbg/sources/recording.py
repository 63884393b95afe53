"""Record what an analysis reads, and save it as a snapshot that replays the
same analysis offline.

:class:`RecordingBackend` wraps any backend (pykd, a dump file, a snapshot)
and forwards every call, keeping:

- the pages read (whole pages, or the readable ranges of partial ones);
  unreadable pages are left out, so they stay unreadable on replay;
- the types looked up, per module, as ISF: the answers to every
  ``user_type``/``base_type``/``enum`` question the analysis asked, plus the
  types those embed (so the ISF validates), nothing else. A name a
  module's types use but do not define is looked up as a replay will look
  it up (``shared/spec/snapshot-format.md``, "Types: ISF", and
  :class:`wdfdbg.layouts.ChainedTypes`): the module's own types, then nt's,
  then the other modules' in the order the source lists them. It is
  recorded in the module that supplied it, and the document lists the
  modules in the source's order, so a replay finds it in the same place;
- the symbols resolved: ``symbol(name)`` results, and for every
  ``symbol_at(address)`` the exact symbol returned, at its own address
  (``address - displacement``);
- modules, bugcheck, arch, pointer and page size, OS build, KMDF version.

:meth:`RecordingBackend.to_document` builds the snapshot document. A replay
only knows the recorded symbols, and :class:`~wdfdbg.sources.base.SymbolTable`
answers ``symbol_at`` with the nearest *recorded* symbol at or below an
address; :meth:`RecordingBackend.symbol_mismatches` lists the lookups whose
replay answer would differ from the live one (for example an address with
no symbol live, above some recorded symbol), and ``to_document`` keeps them
in :attr:`RecordingBackend.warnings`.
"""

from wdfdbg.errors import ReadError
from wdfdbg.sources.base import Backend, SymbolTable
from wdfdbg.sources.isf import BUILTIN_BASE, resolution_order
from wdfdbg.sources.snapshot import ORIGINS, build_document

ISF_FORMAT = "6.2.0"
MAX_CLOSURE = 100000
MAX_WRAPPERS = 8


class RecordingTypeSource(object):
    """Forwards a type source and remembers every answer."""

    def __init__(self, inner, module):
        self.inner = inner
        self.module = module
        self.user_types = {}
        self.base_types = {}
        self.enums = {}
        self.dropped = []

    def user_type(self, name):
        if name not in self.user_types:
            self.user_types[name] = self.inner.user_type(name)
        return self.user_types[name]

    def base_type(self, name):
        if name not in self.base_types:
            self.base_types[name] = self.inner.base_type(name)
        return self.base_types[name]

    def enum(self, name):
        if name not in self.enums:
            self.enums[name] = self.inner.enum(name)
        return self.enums[name]

    def isf(self, producer_version, others=()):
        """The ISF document of what was asked and what that embeds, or None
        when nothing was found. ``others``: the sources after this one in
        resolution order (:meth:`RecordingBackend.close_types` asked them
        for the names this module borrows); a member whose type none of them
        gives is left out (listed in :attr:`dropped`)."""
        uts = self.found("user_types")
        ens = self.found("enums")
        bts = self.found("base_types")
        if not uts and not ens:
            return None
        self.dropped = _drop_unresolved(uts, ens, bts, [(o.found("user_types"), o.found("enums"),
                                                         o.found("base_types")) for o in others])
        return {
            "metadata": {"format": ISF_FORMAT, "producer": {"name": "wdfdbg-recorder", "version": producer_version}},
            "base_types": dict(sorted(bts.items())),
            "user_types": dict(sorted(uts.items())),
            "enums": dict(sorted(ens.items())),
            "symbols": {},
        }

    def found(self, section):
        """``{name: entry}`` of the answers in ``section`` that were not None."""
        return dict((k, v) for k, v in getattr(self, section).items() if v is not None)


def _named_types(ut):
    """``(kind, name)`` of the types the members of the ISF user type ``ut``
    embed by value, through arrays and bit fields: ``"user"``, ``"enum"`` or
    ``"base"`` (the base names every debugger knows left out)."""
    for fd in (ut.get("fields") or {}).values():
        t = fd.get("type") if isinstance(fd, dict) else None
        depth = 0
        while isinstance(t, dict) and depth < 32:
            depth += 1
            kind = t.get("kind")
            if kind == "array":
                t = t.get("subtype")
                continue
            if kind == "bitfield":
                t = t.get("type")
                continue
            name = t.get("name")
            if isinstance(name, str):
                if kind in ("struct", "union", "class"):
                    yield "user", name
                elif kind == "enum":
                    yield "enum", name
                elif kind == "base" and name not in BUILTIN_BASE:
                    yield "base", name
            break


def _listed_type_modules(backend):
    """The modules ``backend`` (or what it wraps) lists types for, in its
    order; [] when it cannot list them. The walk
    :func:`wdfdbg.layouts.listed_type_modules` makes, which a replay uses."""
    seen = 0
    while backend is not None and seen < MAX_WRAPPERS:
        seen += 1
        if getattr(type(backend), "type_modules", None) is not None:
            try:
                return [m for m in backend.type_modules() if isinstance(m, str)]
            except Exception:  # an optional listing; without it only the own module and nt resolve
                return []
        backend = getattr(backend, "inner", None)
    return []


class RecordingBackend(Backend):
    """Forwards ``inner`` and records what was read (see the module doc)."""

    def __init__(self, inner):
        self.inner = inner
        for attr in ("arch", "pointer_size", "page_size", "os_build", "kmdf_version", "kind", "path", "origin",
                     "description"):
            setattr(self, attr, getattr(inner, attr, getattr(Backend, attr, None)))
        self.interrupt_check = getattr(inner, "interrupt_check", None)
        self.notes = getattr(inner, "notes", [])
        self.pages = {}             # page address -> [(offset, bytes)] of its readable runs
        self.unreadable = set()     # page addresses that failed
        self.symbols = {}           # name -> address (symbol() hits)
        self.missing_symbols = set()
        self.lookups = {}           # address -> (name, disp) or None (symbol_at)
        self.type_sources = {}      # module lower -> RecordingTypeSource or None
        self._modules = None
        self.ranges_unlisted = False  # the analysis asked for ranges the source cannot list
        self.warnings = []

    # -- forwarding with recording ---------------------------------------
    def read_page(self, page_address):
        try:
            page = self.inner.read_page(page_address)
        except ReadError:
            self.unreadable.add(page_address)
            raise
        self._keep(page_address, page)
        return page

    def _keep(self, page_address, page):
        # only the readable runs: a huge, sparsely captured page costs its bytes
        self.pages[page_address] = page.runs()
        self.unreadable.discard(page_address)

    @property
    def readahead(self):
        return getattr(self.inner, "readahead", 0)

    def known_readable(self, page_address, max_pages):
        return self.inner.known_readable(page_address, max_pages)

    def read_run(self, page_address, max_pages):
        """Forwarded, so a recording costs the round trips the source costs;
        every page that comes back is recorded."""
        try:
            pages = self.inner.read_run(page_address, max_pages)
        except ReadError:
            self.unreadable.add(page_address)
            raise
        for i, page in enumerate(pages):
            self._keep(page_address + i * self.page_size, page)
        return pages

    def symbol(self, name):
        addr = self.inner.symbol(name)
        if addr is None:
            self.missing_symbols.add(name)
        else:
            self.symbols[name] = addr
        return addr

    def symbol_at(self, address):
        res = self.inner.symbol_at(address)
        self.lookups[address] = res
        return res

    def modules(self):
        if self._modules is None:
            self._modules = list(self.inner.modules())
        return list(self._modules)

    def type_source(self, module):
        key = module.lower()
        if key not in self.type_sources:
            src = self.inner.type_source(module)
            self.type_sources[key] = (module, RecordingTypeSource(src, module) if src is not None else None)
        return self.type_sources[key][1]

    def bugcheck(self):
        return self.inner.bugcheck()

    def ranges(self):
        r = self.inner.ranges()
        if r is None:
            self.ranges_unlisted = True
        return r

    def close(self):
        self.inner.close()

    # -- results ---------------------------------------------------------
    def recorded_symbols(self):
        """name -> address: symbol() hits and the exact symbols symbol_at
        returned (at ``address - displacement``)."""
        out = dict(self.symbols)
        for addr, res in sorted(self.lookups.items()):
            if res is None:
                continue
            name, disp = res
            at = addr - disp
            if name in out and out[name] != at:
                self._warn("symbol %s was found at 0x%x and at 0x%x; the replay keeps 0x%x"
                           % (name, out[name], at, out[name]))
                continue
            out[name] = at
        return out

    def symbol_mismatches(self, symbols=None):
        """The symbol_at lookups a replay would answer differently:
        a list of (address, live answer, replay answer)."""
        from wdfdbg.sources.snapshot import nearest_in_module
        table = SymbolTable(self.recorded_symbols() if symbols is None else symbols)
        modules = self.modules()
        out = []
        for addr, res in sorted(self.lookups.items()):
            replay = nearest_in_module(table, modules, addr)   # as a replay answers (sources/snapshot.py)
            if replay != res:
                out.append((addr, res, replay))
        return out

    def memory(self):
        """(address, bytes) ranges of everything read."""
        out = []
        for pa in sorted(self.pages):
            for off, data in self.pages[pa]:
                out.append((pa + off, data))
        return out

    def snapshot_origin(self):
        """``recorded`` when read through a debugger (pykd); a snapshot's own
        origin when re-recording one; ``converted`` for other dump readers."""
        if self.kind == "pykd":
            return "recorded"
        if self.origin in ORIGINS:
            return self.origin
        return "converted"

    def _warn(self, text):
        if text not in self.warnings:
            self.warnings.append(text)

    def _chain(self, module):
        """The recording type sources a name ``module``'s types use is
        looked up in, own first (:func:`~wdfdbg.sources.isf.resolution_order`
        over the modules the source lists)."""
        out = []
        for m in resolution_order(module, _listed_type_modules(self.inner)):
            src = self.type_source(m)
            if src is not None:
                out.append(src)
        return out

    def close_types(self):
        """Ask for every type a recorded type embeds (by value, through
        arrays and bit fields) where a replay will look for it: the first
        source of the embedding module's chain that has it, which records
        it. Bounded by :data:`MAX_CLOSURE` members in all. Returns
        ``{module key: chain}``."""
        chains = {}

        def chain(src):
            key = src.module.lower()
            if key not in chains:
                chains[key] = self._chain(src.module)
            return chains[key]
        todo = [(src, name, ut) for _, (_, src) in sorted(self.type_sources.items()) if src is not None
                for name, ut in sorted(src.found("user_types").items())]
        done = set((src.module.lower(), name) for src, name, _ in todo)
        budget = MAX_CLOSURE
        while todo and budget > 0:
            src, _, ut = todo.pop()
            for kind, name in _named_types(ut):
                budget -= 1
                if kind == "base":
                    if src.base_type(name) is None:  # own base types first: a C name means one thing
                        for other in chain(src)[1:]:
                            if other.base_type(name) is not None:
                                break
                    continue
                for other in chain(src):
                    found = other.user_type(name) if kind == "user" else other.enum(name)
                    if found is not None:
                        if kind == "user" and (other.module.lower(), name) not in done:
                            done.add((other.module.lower(), name))
                            todo.append((other, name, found))
                        break
        for _, src in list(self.type_sources.values()):
            if src is not None:
                chain(src)
        return chains

    def _type_order(self):
        """The recorded modules' keys in the order the source lists them
        (the order a replay resolves names across modules), then the rest
        by name."""
        listed = [m.lower() for m in _listed_type_modules(self.inner)]
        rank = dict((m, i) for i, m in reversed(list(enumerate(listed))))
        return sorted(self.type_sources, key=lambda k: (rank.get(k, len(rank)), k))

    def to_document(self, description=None, origin=None):
        """The snapshot document of everything recorded so far."""
        from wdfdbg import __version__
        chains = self.close_types()
        types = {}
        for key in self._type_order():
            module, src = self.type_sources[key]
            if src is None:
                continue
            isf = src.isf(__version__, chains.get(key, [src])[1:])
            if isf is not None:
                types[module] = isf
                for f in src.dropped:
                    self._warn("%s!%s: its type is unknown; left out of the recorded types" % (module, f))
        symbols = self.recorded_symbols()
        for addr, live, replay in self.symbol_mismatches(symbols):
            self._warn("symbol at 0x%x: this source finds %s, a replay would find %s" % (addr, _sym(live), _sym(replay)))
        if self.ranges_unlisted:
            self._warn("the analysis asked for the readable memory ranges, which this source cannot list; "
                       "a replay lists the recorded pages instead and may show more")
        if description is None:
            description = self.description
        doc = build_document(origin or self.snapshot_origin(), self.arch, self.pointer_size, self.memory(),
                             page_size=self.page_size, os_build=self.os_build, kmdf_version=self.kmdf_version,
                             description=description, bugcheck=self.inner.bugcheck(), modules=self.modules(),
                             symbols=symbols, types=types)
        # the crashing processor's current thread, as a snapshot cut from a dump keeps it (sources/convert.py)
        from wdfdbg.sources.base import CRASH_THREAD_KEY, backend_crash_thread
        thread = backend_crash_thread(self.inner)
        if thread:
            doc[CRASH_THREAD_KEY] = "0x%x" % thread
        # the saved context and a triage dump's EPROCESS copy (not memory), for the stack walk and the
        # crashing process of a replay (analysis/crash_stack.py)
        from wdfdbg.sources.base import CRASH_REGISTERS_KEY, backend_crash_registers
        from wdfdbg.sources.process import CRASH_PROCESS_KEY, triage_process
        regs = backend_crash_registers(self.inner)
        if regs:
            doc[CRASH_REGISTERS_KEY] = dict((k, "0x%x" % v) for k, v in sorted(regs.items()))
        proc = triage_process(self.inner)
        if proc is not None:
            doc[CRASH_PROCESS_KEY] = proc
        return doc

    def stats(self):
        mem = self.memory()
        return {"pages": len(self.pages), "bytes": sum(len(d) for _, d in mem), "unreadable_pages": len(self.unreadable),
                "symbols": len(self.recorded_symbols()),
                "types": sum(len([v for v in s.user_types.values() if v is not None])
                             for _, s in self.type_sources.values() if s is not None)}


def _resolvable(t, uts, ens, bts, others):
    """Does the ISF type ``t`` name a type the module defines (``uts``,
    ``ens``, ``bts``) or the ``others`` after it in resolution order give
    (``[(uts, ens, bts)]``)?"""
    depth = 0
    while isinstance(t, dict) and depth < 32:
        depth += 1
        kind = t.get("kind")
        if kind == "array":
            t = t.get("subtype")
        elif kind == "bitfield":
            t = t.get("type")
        elif kind in ("struct", "union", "class"):
            return any(t.get("name") in u for u, _, _ in [(uts, ens, bts)] + others)
        elif kind == "enum":
            return any(t.get("name") in e for _, e, _ in [(uts, ens, bts)] + others)
        elif kind == "base":
            return t.get("name") in BUILTIN_BASE or any(t.get("name") in b for _, _, b in [(uts, ens, bts)] + others)
        else:
            return True
    return False


def _drop_unresolved(uts, ens, bts, others=()):
    """Remove members whose type neither the module nor the ``others``
    after it in resolution order could give (a replay would refuse the
    type once an analysis needs it); returns ``["Type.field", ...]``
    removed."""
    others = list(others)
    dropped = []
    for name in sorted(uts):
        ut = uts[name]
        fields = ut.get("fields") or {}
        bad = [f for f, fd in fields.items() if not _resolvable(fd.get("type"), uts, ens, bts, others)]
        if bad:
            ut = dict(ut)
            ut["fields"] = dict((f, fd) for f, fd in fields.items() if f not in bad)
            uts[name] = ut
            dropped.extend("%s.%s" % (name, f) for f in bad)
    return dropped


def _sym(res):
    if res is None:
        return "no symbol"
    name, disp = res
    return name if not disp else "%s+0x%x" % (name, disp)
