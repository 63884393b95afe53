"""Layouts: types as data, from the debugger's symbols, a snapshot's ISF, or
a built-in profile.

:class:`Layouts` resolves ``"Wdf01000!FxObject"``: the target's own types win
(symbols), then the built-in profile chosen by option, OS build or probe.
Every report names the source through :meth:`Layouts.describe`.
"""

from wdfdbg.errors import LayoutError
from wdfdbg.layouts.model import StructLayout, TypeCompiler  # noqa: F401
from wdfdbg.layouts.profiles import PROFILE_BY_NAME, PROFILES, choose_profile  # noqa: F401
from wdfdbg.sources.base import IsfSource  # noqa: F401  (re-exported: layouts compile from it)


def split_name(qualified, default_module="Wdf01000"):
    if "!" in qualified:
        mod, name = qualified.split("!", 1)
        return mod, name
    return default_module, qualified


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
                comp = TypeCompiler(src, self.target.pointer_size, label) if src is not None else None
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
            except (LayoutError, ValueError, TypeError, AttributeError):
                layout = None
            if layout is not None:
                break
        self._cache[qualified] = layout
        if layout is not None:
            self.used[qualified] = layout.source
        return layout

    def get(self, qualified):
        layout = self.find(qualified)
        if layout is None:
            raise LayoutError("no layout for %s in symbols or profile %s" % (qualified, self.profile.name))
        return layout

    def read(self, qualified, address):
        """Read and decode a whole struct at ``address`` (one read)."""
        layout = self.get(qualified)
        return layout.decode(self.target.read(address, layout.size))

    def describe(self):
        """What the report says about where types came from."""
        sources = sorted(set(self.used.values()))
        if not sources:
            self.find("Wdf01000!FxObject")
            sources = sorted(set(self.used.values()))
        symbols = any(not s.startswith("profile:") for s in sources)
        profile_used = any(s.startswith("profile:") for s in sources)
        return {
            "types": "symbols" if symbols and not profile_used else ("mixed" if symbols else "profile"),
            "profile": self.profile.name if (profile_used or not symbols) else None,
            "sources": sources,
        }
