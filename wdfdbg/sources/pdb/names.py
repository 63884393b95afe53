"""Just enough of MSVC name demangling to name public symbols as the
debugger does where wdfdbg looks them up: vtables, global variables, and the
qualified name (without the signature) of a function.

``??_7FxMemoryBuffer@@6B@``               -> ``FxMemoryBuffer::`vftable'``
``??_7FxMemoryBuffer@@6BIFxMemory@@@``    -> ``FxMemoryBuffer::`vftable'{for `IFxMemory'}``
``?FxLibraryGlobals@@3UFxLibraryGlobalsType@@A`` -> ``FxLibraryGlobals``
``?Dispose@FxObject@@UEAAXXZ``            -> ``FxObject::Dispose``
``g_WdfTriageInfo`` (C linkage)           -> itself

The grammar is Microsoft's decorated-name scheme as LLVM's
``llvm/lib/Demangle/MicrosoftDemangle.cpp`` reads it. Names using
back-references or templates (``?$``) keep their decorated spelling: wdfdbg
never looks those up.
"""



def _qualifiers(text, at):
    """``Name@Outer@@`` from ``at`` -> ([Name, Outer], index after ``@@``), or
    (None, at) when the spelling is one this reader does not follow."""
    parts = []
    while at < len(text):
        if text.startswith("@", at):
            return parts, at + 1
        if text[at] in "?$0123456789":
            return None, at
        end = text.find("@", at)
        if end < 0:
            return None, at
        parts.append(text[at:end])
        at = end + 1
    return None, at


def _scoped(parts):
    return "::".join(reversed(parts))


def demangle(name):
    """The debugger's spelling of public ``name`` (see the module docstring)."""
    if not name.startswith("?"):
        return name
    if name.startswith("??_7"):
        parts, at = _qualifiers(name, 4)
        if not parts or name[at:at + 2] != "6B":
            return name
        cls = _scoped(parts)
        rest = name[at + 2:]
        if rest == "@":
            return "%s::`vftable'" % cls
        base, at2 = _qualifiers(rest, 0)
        if base and rest[at2:] == "@":
            return "%s::`vftable'{for `%s'}" % (cls, _scoped(base))
        return name
    if name.startswith("??0") or name.startswith("??1"):
        parts, _at = _qualifiers(name, 3)
        if not parts:
            return name
        cls = _scoped(parts)
        short = parts[0]
        return "%s::%s%s" % (cls, "~" if name[2] == "1" else "", short)
    if name.startswith("??"):
        return name
    parts, _at = _qualifiers(name, 1)
    if not parts:
        return name
    return _scoped(parts)
