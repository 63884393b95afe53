"""Symbols found as the debugger finds them: each module's PDB by its
identity, through a symbol path (``--symbols``, else ``_NT_SYMBOL_PATH``).

A module's identity is its image's TimeDateStamp and SizeOfImage (the image
file's symbol-store key) and the image's CodeView RSDS record: PDB name,
GUID, age (the PDB's key). A snapshot may carry all of it
(``modules[i].pdb``); a dump's module list has the first two, and the RSDS
record comes from the image in the dump when its header and debug-directory
pages were captured, else from the image file found on the symbol path.

:func:`with_symbols` wraps a backend: for the modules wdfdbg reads types and
symbols from (``Wdf01000`` and ``nt``) it finds and reads the PDB, then
answers ``type_source(module)`` from the PDB's types when the source has
none for that module (types from a PDB win over the built-in profile;
``--types`` files win over both) and ``symbol`` / ``symbol_at`` from its
public symbols where the source has no answer. ``notes`` say which PDB
(name, GUID, age) supplied what, and why a PDB was not used.
"""

import os

from wdfdbg.errors import InputError, ReadError
from wdfdbg.sources.base import ForwardingBackend, IsfSource, SymbolTable
from wdfdbg.sources.pe import PeImage, file_reader, image_key
from wdfdbg.sources.symsrv import SymbolPath, pdb_key

# modules whose PDB wdfdbg reads (lower-case module name -> PE file names to try)
WANTED = {"wdf01000": ("Wdf01000.sys",), "nt": ("ntkrnlmp.exe", "ntoskrnl.exe")}
KERNEL_NAMES = ("nt", "ntkrnlmp", "ntoskrnl", "ntkrnlpa", "ntkrpamp")


def symbol_path_text(explicit=None, environ=None):
    """``--symbols`` when given, else ``_NT_SYMBOL_PATH`` (then
    ``_NT_ALT_SYMBOL_PATH`` before it, as the debugger orders them)."""
    if explicit is not None:
        return explicit
    env = os.environ if environ is None else environ
    parts = [env.get("_NT_ALT_SYMBOL_PATH", ""), env.get("_NT_SYMBOL_PATH", "")]
    return ";".join(p for p in parts if p.strip())


def _wanted_key(module):
    low = module.name.lower()
    return "nt" if low in KERNEL_NAMES else low


class PdbTypes(IsfSource):
    """A type source over a read PDB: the same answers an ISF file gives,
    each type flattened when first asked for."""

    def __init__(self, pdb, module):
        IsfSource.__init__(self, {}, label="pdb:%s %s" % (pdb.name, pdb_key(pdb.guid, pdb.age)))
        self.module = module
        self.pdb = pdb
        self._cache = {}

    def _get(self, what, name):
        key = (what, name)
        if key not in self._cache:
            self._cache[key] = getattr(self.pdb.builder, what)(name)
        return self._cache[key]

    def user_type(self, name):
        return self._get("user_type", name)

    def base_type(self, name):
        return self._get("base_type", name)

    def enum(self, name):
        return self._get("enum", name)


def image_identity(read, mapped=True):
    """(timestamp, size_of_image, (pdb_name, guid, age) or None) of the PE
    image ``read`` reads; InputError / ReadError when it cannot be read."""
    pe = PeImage(read, mapped=mapped)
    return pe.timestamp, pe.size_of_image, pe.codeview()


def memory_reader(backend_read, base):
    """``read(offset, size)`` over a module mapped at ``base`` in a target."""
    def read(offset, size):
        return backend_read(base + offset, size)
    return read


def identify(module, read_memory, path, notes):
    """Fill ``module.pdb`` (and ``timestamp`` when missing) from the image's
    header in memory, else from the image file on ``path``; a note when
    neither has it."""
    if module.pdb:
        return module
    try:
        ts, size, cv = image_identity(memory_reader(read_memory, module.base))
        if module.timestamp is None:
            module.timestamp = ts
        if cv:
            module.pdb = cv
            return module
    except (ReadError, InputError):
        pass
    if module.timestamp is None or not path:
        notes.append("symbols for %s: no PDB identity (the image header is not in the source%s)"
                     % (module.name, "" if module.timestamp is None else ", and no symbol path"))
        return module
    key = image_key(module.timestamp, module.image_size or module.size)
    names = [module.file] if module.file else list(WANTED.get(_wanted_key(module), (module.name + ".sys",)))
    for name in names:
        found = path.find(name, key, magic=b"MZ")
        if not found:
            continue
        try:
            ts, size, cv = image_identity(file_reader(found), mapped=False)
        except (ReadError, InputError) as e:
            notes.append("symbols for %s: %s: %s" % (module.name, found, e))
            continue
        if image_key(ts, size) != key:
            notes.append("symbols for %s: %s is image %s, not %s" % (module.name, found, image_key(ts, size), key))
            continue
        if cv:
            module.pdb = cv
            return module
    notes.append("symbols for %s: no PDB identity (image %s not found on the symbol path)"
                 % (module.name, "/".join("%s/%s" % (n, key) for n in names)))
    return module


def identify_modules(target, modules):
    """What a dump itself knows of the modules wdfdbg reads symbols for,
    kept on each Module for a snapshot to write: the module list's
    TimeDateStamp and SizeOfImage (``image_size``), the image file name,
    and the CodeView record when the image's header pages are captured
    (read through ``target``, so a recording keeps those pages too)."""
    for module in modules:
        if _wanted_key(module) not in WANTED:
            continue
        if module.timestamp is not None and module.image_size is None:
            module.image_size = module.size
        if module.file is None and module.path:
            module.file = module.path.replace("\\", "/").rsplit("/", 1)[-1] or None
        if module.pdb:
            continue
        try:
            ts, size, cv = image_identity(memory_reader(target.read, module.base))
        except (ReadError, InputError):
            continue
        if module.timestamp is None:
            module.timestamp, module.image_size = ts, size
        if cv and ts == module.timestamp:
            module.pdb = cv
    return modules


def load_pdb(module, path, pointer_size, notes):
    """The module's PDB (a PdbInfo) from ``path``, or None with a note."""
    from wdfdbg.sources.pdb import PdbFormatError, read_pdb
    name, guid, age = module.pdb
    key = pdb_key(guid, age)
    read = {}

    def accept(candidate):
        try:
            pdb = read_pdb(candidate, pointer_size)
        except (PdbFormatError, InputError) as e:
            return str(e)
        if not pdb.matches(guid, age):
            return "GUID/age %s%x does not match the image's %s" % (pdb.guid, pdb.age, key)
        read[candidate] = pdb
        return None

    found = path.find(name, key, accept=accept)
    path.cleanup()
    if not found:
        where = "; ".join(e.text for e in path.elements)
        notes.append("symbols for %s: %s %s not found (looked in %s)" % (module.name, name, key, where))
        return None
    return read[found]


class SymbolsBackend(ForwardingBackend):
    """Forwards ``inner``; types and public symbols from the modules' PDBs
    fill in what the source does not have."""

    def __init__(self, inner, pdbs, notes):
        ForwardingBackend.__init__(self, inner)
        self.pdbs = pdbs                      # module name -> (Module, PdbInfo)
        self._types = dict((m.lower(), PdbTypes(p, m)) for m, (_mod, p) in pdbs.items())
        symbols = {}
        for mname, (mod, pdb) in pdbs.items():
            for name, rva in pdb.publics.items():
                symbols.setdefault("%s!%s" % (mname, name), mod.base + rva)
        self._symtab = SymbolTable(symbols)
        self.notes = list(getattr(inner, "notes", None) or []) + list(notes)

    def symbol(self, name):
        addr = self.inner.symbol(name)
        if addr is None:
            addr = self._symtab.lookup(name)
        return addr

    def symbol_at(self, address):
        own = self.inner.symbol_at(address)
        if own is not None and own[1] == 0:
            return own
        exact = self._symtab.exact.get(address)
        if exact is not None:
            return exact, 0
        if own is not None:
            return own
        for mname, (mod, _pdb) in self.pdbs.items():
            if mod.contains(address):
                hit = self._symtab.at(address)
                if hit is not None and hit[0].lower().startswith(mname.lower() + "!"):
                    return hit
        return None

    def type_source(self, module):
        own = self.inner.type_source(module)
        if own is not None:
            return own
        return self._types.get(module.lower())

    def type_modules(self):
        inner = getattr(type(self.inner), "type_modules", None)
        out = list(self.inner.type_modules()) if inner is not None else []
        for m in self.pdbs:
            if m.lower() not in (o.lower() for o in out):
                out.append(m)
        return out



def _read_memory(backend):
    from wdfdbg.sources.base import Target

    target = Target(backend, cache_pages=64)
    return target.read


def with_symbols(backend, symbol_path=None, progress=None, opener=None):
    """Wrap ``backend`` with the PDBs its modules' identities name on
    ``symbol_path`` (text; None: the environment's). Returns ``backend``
    itself when there is no symbol path or nothing to add."""
    text = symbol_path_text(symbol_path)
    path = SymbolPath(text, progress=progress, opener=opener)
    if not path:
        return backend
    notes = []
    pdbs = {}
    try:
        modules = list(backend.modules())
    except Exception:  # a backend whose module list cannot be read: no symbols, never a failed analysis
        modules = []
    wanted = [m for m in modules if _wanted_key(m) in WANTED]
    if not wanted:
        return backend
    read = None
    for module in wanted:
        if backend.type_source(module.name) is not None and not module.pdb:
            continue   # the source's own types (a recording keeps the debugger's)
        if not module.pdb:
            if read is None:
                read = _read_memory(backend)
            identify(module, read, path, notes)
        if not module.pdb:
            continue
        pdb = load_pdb(module, path, backend.pointer_size, notes)
        if pdb is not None:
            pdbs[module.name] = (module, pdb)
            notes.append("symbols for %s from %s (GUID %s, age %d)" % (module.name, pdb.name, pdb.guid, pdb.age))
    path.cleanup()
    notes.extend(path.notes)
    if not pdbs and not notes:
        return backend
    return SymbolsBackend(backend, pdbs, notes)
