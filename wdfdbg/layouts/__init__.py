"""Layouts: types as data, from the debugger's symbols, a snapshot's ISF, or
a built-in profile.

:class:`Layouts` resolves ``"Wdf01000!FxObject"``: the target's own types win
(symbols), then the built-in profile chosen by option, OS build or probe.
A name a module's types use but do not define (a hand-made Wdf01000 ISF
naming nt's ``_LIST_ENTRY``) resolves as a debugger resolves it: the
module's own types, then nt's, then the other modules' in the order the
source lists them (``shared/spec/snapshot-format.md``, "Types: ISF").
Every report names the sources through :meth:`Layouts.describe`, with
``resolved_types`` saying which module supplied each borrowed type.
"""

from wdfdbg.errors import InputError, LayoutError
from wdfdbg.layouts.model import StructLayout, TypeCompiler, TypeTooLargeError, UnresolvedTypeError, fit_shapes, shape_problem  # noqa: F401
from wdfdbg.layouts.profiles import PROFILE_BY_NAME, PROFILES, choose_profile  # noqa: F401
from wdfdbg.sources.base import IsfSource  # noqa: F401  (re-exported: layouts compile from it)
from wdfdbg.sources.isf import BUILTIN_BASE, resolution_order

MAX_WRAPPERS = 8


def split_name(qualified, default_module="Wdf01000"):
    if "!" in qualified:
        mod, name = qualified.split("!", 1)
        return mod, name
    return default_module, qualified


class ChainedTypes(object):
    """The type source names used by ``module``'s types resolve through:
    ``chain`` is ``[(module, source), ...]`` in resolution order, own module
    first. ``resolved`` records ``name -> module`` for every user type or
    enum another module supplied. Base types: the module's own, then the
    C names every debugger knows, then the other modules'."""

    def __init__(self, module, chain, resolved):
        self.module = module
        self.chain = [(m, s) for m, s in chain if s is not None]
        self.resolved = resolved

    def _find(self, what, name, others=True):
        for i, (mod, src) in enumerate(self.chain):
            if i and not others:
                break
            value = getattr(src, what)(name)
            if value is not None:
                if i:
                    self.resolved.setdefault(name, mod)
                return value
        return None

    def user_type(self, name):
        return self._find("user_type", name)

    def enum(self, name):
        return self._find("enum", name)

    def base_type(self, name):
        own = self._find("base_type", name, others=False)
        if own is not None or name in BUILTIN_BASE:
            return own
        return self._find("base_type", name)


def listed_type_modules(backend):
    """The modules a backend (or what it wraps) lists types for, in its
    order; [] when it cannot list them (a live debugger answers any)."""
    seen = 0
    while backend is not None and seen < MAX_WRAPPERS:
        seen += 1
        lister = getattr(type(backend), "type_modules", None)
        if lister is not None:
            try:
                return [m for m in backend.type_modules() if isinstance(m, str)]
            except Exception:  # an optional listing; without it only own module and nt resolve
                return []
        backend = getattr(backend, "inner", None)
    return []


class Layouts(object):
    """Resolves type names to :class:`StructLayout` for one target.

    ``profile``: a profile name, or None to choose by the target's OS build
    (and by probing the driver globals list when the build is unknown).
    ``use_symbols``: False ignores the target's own types (for comparison).
    """

    def __init__(self, target, profile=None, use_symbols=True):
        self.target = target
        self.use_symbols = use_symbols
        self._explicit = profile
        self._profile = None
        self._compilers = {}
        self._cache = {}
        self.used = {}  # qualified name -> source label
        self.resolved = {}  # type name -> module that supplied it to another module's types

    @property
    def profile(self):
        if self._profile is None:
            if self._explicit:
                self._profile = choose_profile(self.target.arch, name=self._explicit)
            elif self.target.os_build:
                self._profile = choose_profile(self.target.arch, self.target.os_build)
            else:
                from wdfdbg.layouts.probe import probe_profile
                self._profile = probe_profile(self.target)
        return self._profile

    def _compiler(self, module, symbols):
        key = (module.lower(), symbols)
        comp = self._compilers.get(key)
        if comp is None and key not in self._compilers:
            if symbols:
                src = self.target.type_source(module) if self.use_symbols else None
                label = getattr(src, "label", None) or "symbols:%s" % module
                comp = TypeCompiler(src, self.target.pointer_size, label, self._chain(module, src)) \
                    if src is not None else None
            else:
                docs = self.profile.documents()
                doc = None
                for m, d in docs.items():
                    if m.lower() == module.lower():
                        doc = d
                if doc is None:
                    doc = docs["Wdf01000"] if module.lower() not in ("nt", "ntkrnlmp", "ntoskrnl") else docs["nt"]
                comp = TypeCompiler(IsfSource(doc), self.target.pointer_size, self.profile.label())
            self._compilers[key] = comp
        return comp

    def _chain(self, module, own):
        listed = listed_type_modules(getattr(self.target, "backend", None))
        chain = [(module, own)]
        for m in resolution_order(module, listed)[1:]:
            chain.append((m, self.target.type_source(m)))
        return ChainedTypes(module, chain, self.resolved)

    def find(self, qualified):
        """The layout for ``module!Type`` or None."""
        if qualified in self._cache:
            return self._cache[qualified]
        module, name = split_name(qualified)
        layout = None
        for symbols in (True, False):
            comp = self._compiler(module, symbols)
            if comp is None:
                continue
            try:
                layout = comp.compile(name)
            except UnresolvedTypeError as e:
                if symbols and isinstance(comp.source, IsfSource):
                    # the snapshot's or a --types file's ISF uses a name no
                    # module defines: refuse it now that the analysis needs it
                    looked = ", ".join(m for m, _ in getattr(comp.refs, "chain", ())) or module
                    raise InputError("%s!%s (looked in the types of %s)" % (module, e, looked))
                layout = None
            except TypeTooLargeError as e:
                if symbols and isinstance(comp.source, IsfSource):
                    # declared in the snapshot's or a --types file's ISF,
                    # where only a type that is read is held to the bound
                    what = e.why() if e.type_name == name else "embeds %s, which %s" % (e.type_name, e.why())
                    raise InputError("%s!%s (types from %s): %s" % (module, name, comp.label, what))
                layout = None
            except (LayoutError, ValueError, TypeError, AttributeError):
                layout = None
            if layout is not None:
                if symbols:
                    layout = self._fit_shapes(module, name, layout, comp)
                break
        self._cache[qualified] = layout
        if layout is not None:
            self.used[qualified] = layout.source
        return layout

    def _fit_shapes(self, module, name, layout, comp):
        """The symbols' layout answering every field the built-in profile
        also has in the shape the decoders read it (:func:`fit_shapes`):
        offsets and sizes may differ by build, and a member may be a
        struct, union or class where the profile has bytes or a pointer.
        An ISF document (a snapshot's types, a --types file) whose field
        no build could lay out that way (a float where an integer is read,
        a member too small) is refused: InputError naming the field. A
        debugger's symbols are taken as they are."""
        try:
            ref = self._compiler(module, False).compile(name)
        except (LayoutError, ValueError, TypeError, AttributeError):
            ref = None
        if ref is None:
            return layout
        fitted = fit_shapes(layout, ref)
        if isinstance(fitted, StructLayout):
            return fitted
        if isinstance(comp.source, IsfSource):
            dotted, why = fitted
            raise InputError("%s!%s.%s: %s (types from %s)" % (module, name, dotted, why, comp.label))
        return layout

    def get(self, qualified):
        layout = self.find(qualified)
        if layout is None:
            raise LayoutError("no layout for %s in symbols or profile %s" % (qualified, self.profile.name))
        return layout

    def read(self, qualified, address):
        """Read and decode a whole struct at ``address`` (one read of the
        bytes its fields cover, ``layout.extent``)."""
        layout = self.get(qualified)
        return layout.decode(self.target.read(address, layout.extent))

    def describe(self):
        """What the report says about where types came from."""
        sources = sorted(set(self.used.values()))
        if not sources:
            self.find("Wdf01000!FxObject")
            sources = sorted(set(self.used.values()))
        symbols = any(not s.startswith("profile:") for s in sources)
        profile_used = any(s.startswith("profile:") for s in sources)
        out = {
            "types": "symbols" if symbols and not profile_used else ("mixed" if symbols else "profile"),
            "profile": self.profile.name if (profile_used or not symbols) else None,
            "sources": sources,
        }
        if out["profile"] is not None:
            fit = self.profile.fit_note(self.target.os_build)
            if fit:
                out["profile_note"] = fit
        if self.resolved:
            out["resolved_types"] = dict(sorted(self.resolved.items()))
        return out
