"""A small reader of Microsoft PDB files (MSF 7.00): the types (TPI), the
public symbols (DBI and its symbol record stream) and the identity (the PDB
info stream's GUID and age), turned into what wdfdbg's type path already
reads: an ISF document and a ``name -> RVA`` map.

``read_pdb(path, pointer_size)`` -> :class:`PdbInfo`. Bounded: the file size
(``limits``), stream sizes and counts, type-reference depth; a corrupt PDB is
one :class:`~wdfdbg.sources.pdb.msf.PdbFormatError` line.
"""

import os
import struct

from wdfdbg.sources import limits
from wdfdbg.sources.pdb import dbi, isf, tpi
from wdfdbg.sources.pdb.msf import MsfFile, PdbFormatError
from wdfdbg.sources.pdb.names import demangle

__all__ = ["PdbInfo", "PdbFormatError", "read_pdb", "demangle"]


class PdbInfo(object):
    """One read PDB: ``name`` (file name), ``guid``, ``age``, ``machine``,
    ``isf`` (the ISF document), ``publics`` (demangled name -> RVA),
    ``problems`` (what was skipped, for notes)."""

    def __init__(self, name, guid, age, dbi_age, machine, builder, publics):
        self.name = name
        self.guid = guid
        self.age = age
        self.dbi_age = dbi_age
        self.machine = machine
        self.builder = builder      # answers user_type / enum / base_type one type at a time
        self.publics = publics
        self._isf = None

    @property
    def isf(self):
        """The whole ISF document (every type flattened: what a types file
        would hold); an analysis asks ``builder`` for the types it needs."""
        if self._isf is None:
            from wdfdbg import __version__
            doc = self.builder.document(__version__)
            for sym in ("FxLibraryGlobals", "g_WdfTriageInfo"):
                if sym in self.publics:
                    doc["symbols"][sym] = {"address": self.publics[sym]}
            self._isf = doc
        return self._isf

    @property
    def problems(self):
        return self.builder.problems

    def matches(self, guid, age):
        """Whether this PDB is the one an image's RSDS (guid, age) names."""
        return self.guid.upper() == str(guid).upper() and age in (self.age, self.dbi_age)


def parse_pdb(data, name="PDB", pointer_size=8):
    msf = MsfFile(data, name)
    try:
        guid, age = dbi.read_info(msf.stream(dbi.STREAM_INFO))
        header = dbi.DbiHeader(msf.stream(dbi.STREAM_DBI))
        types = tpi.TypeStream(msf.stream(dbi.STREAM_TPI))
        rvas = dbi.section_rvas(msf.stream(header.section_headers)) if header.section_headers is not None else []
        raw = dbi.read_publics(msf.stream(header.symbol_records), rvas) if header.symbol_records != 0xFFFF else {}
    except struct.error:
        raise PdbFormatError("%s: a stream is cut short" % name)
    except PdbFormatError as e:
        raise PdbFormatError("%s: %s" % (name, e) if not str(e).startswith(name) else str(e))
    builder = isf.IsfBuilder(types, pointer_size)
    publics = {}
    for mangled, rva in raw.items():
        publics.setdefault(demangle(mangled), rva)
    return PdbInfo(name, guid, age, header.age, header.machine, builder, publics)


def read_pdb(path, pointer_size=8):
    """Read the PDB file at ``path`` (PdbFormatError when unusable)."""
    limit = limits.PDB_BYTES.value()
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise PdbFormatError("%s: cannot read: %s" % (path, e.strerror or e))
    if len(data) > limit:
        raise PdbFormatError("%s: larger than %s (%s)" % (path, limits.PDB_BYTES.text(), limits.PDB_BYTES.hint()))
    return parse_pdb(data, os.path.basename(path), pointer_size)
