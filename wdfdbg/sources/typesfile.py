"""User-supplied types: ``--types Wdf01000=FILE`` or ``--types FILE`` (the
module named by the file: ``Wdf01000.json``, ``Wdf01000.isf.json.gz``,
``nt.json``).

A file is an ISF document (volatility3's Intermediate Symbol Format, the
same shape a snapshot's ``types`` hold), optionally gzip- or xz-compressed
(volatility3 ships its symbol tables as ``.json.xz``), told by magic bytes. It is
validated with :func:`wdfdbg.sources.snapshot.validate_isf` before use and
then answers ``type_source(module)`` for its module, ahead of the source's
own types. See ``docs/types.md`` for making one from a PDB.
"""

import os

from wdfdbg.errors import InputError
from wdfdbg.sources import snapshot as snapfmt
from wdfdbg.sources.base import ForwardingBackend, IsfSource
from wdfdbg.sources.inputfile import open_input

KERNEL_ALIASES = ("ntoskrnl", "ntkrnlmp", "ntkrnlpa", "ntkrpamp")


class IsfFileSource(IsfSource):
    """A type source over one validated ISF file."""

    def __init__(self, doc, module, path):
        IsfSource.__init__(self, doc, label="types-file:%s=%s" % (module, path))
        self.module = module
        self.path = path


def module_from_filename(path):
    """``/x/Wdf01000.isf.json.gz`` -> ``Wdf01000``; kernel images -> ``nt``."""
    base = os.path.basename(path)
    stem = base.split(".", 1)[0]
    if stem.lower() in KERNEL_ALIASES:
        return "nt"
    return stem


def parse_spec(spec):
    """``MODULE=FILE`` or ``FILE`` -> (module, path)."""
    spec = str(spec)
    if "=" in spec and not os.path.exists(spec):
        mod, path = spec.split("=", 1)
        mod = mod.strip()
        if not mod or not path:
            raise InputError("--types %s: expected MODULE=FILE or FILE" % spec)
        if mod.lower() in KERNEL_ALIASES:
            mod = "nt"
        return mod, path
    return module_from_filename(spec), spec


def load_types_file(path, pointer_size, module=None):
    """Read, decompress (bounded) and validate an ISF file; InputError with
    the first problems when it is not usable. Only a regular file is read,
    and no more than its real size (``limits.JSON_BYTES`` and the gzip
    ratio bound it like a snapshot)."""
    try:
        f, size = open_input(path, InputError)
    except InputError as e:
        raise InputError("--types %s" % e)
    try:
        with f:
            doc = snapfmt.parse_text(snapfmt.read_text(f, size, xz=True))
    except InputError as e:
        raise InputError("--types %s: %s" % (path, str(e).replace("$: ", "", 1)))
    if not isinstance(doc, dict):
        raise InputError("--types %s: not an ISF document (a JSON object)" % path)
    problems = snapfmt.validate_isf(doc, "$", pointer_size)
    if problems:
        more = "" if len(problems) == 1 else " (and %d more problem%s)" % (len(problems) - 1,
                                                                        "s" if len(problems) > 2 else "")
        raise InputError("--types %s: invalid ISF: %s%s" % (path, problems[0], more))
    return IsfFileSource(doc, module or module_from_filename(path), path)


class TypesBackend(ForwardingBackend):
    """Forwards ``inner``; ``type_source(module)`` answers from the user's
    files first."""

    def __init__(self, inner, sources):
        ForwardingBackend.__init__(self, inner)
        self.sources = dict((m.lower(), s) for m, s in sources.items())
        self.order = list(sources)
        self.types_files = dict((s.module, s.path) for s in sources.values())
        notes = list(getattr(inner, "notes", None) or [])
        for s in sources.values():
            notes.append("types for %s from %s (user-supplied ISF)" % (s.module, s.path))
        self.notes = notes

    def type_source(self, module):
        src = self.sources.get(module.lower())
        if src is not None:
            return src
        return self.inner.type_source(module)

    def type_modules(self):
        """The user's files' modules (command-line order), then the ones
        the wrapped source lists: the order names resolve across modules."""
        out = list(self.order)
        inner = getattr(type(self.inner), "type_modules", None)
        for m in (self.inner.type_modules() if inner is not None else []):
            if m.lower() not in (o.lower() for o in out):
                out.append(m)
        return out

    def type_source_label(self, module):
        src = self.sources.get(module.lower())
        return src.label if src is not None else None



def with_types(backend, files):
    """Wrap ``backend`` so that the ISF ``files`` (``MODULE=FILE`` or
    ``FILE`` specs) answer its type questions."""
    sources = {}
    for spec in files or ():
        module, path = parse_spec(spec)
        if module.lower() in (m.lower() for m in sources):
            raise InputError("--types: two files for module %s" % module)
        sources[module] = load_types_file(path, backend.pointer_size, module)
    if not sources:
        return backend
    return TypesBackend(backend, sources)
