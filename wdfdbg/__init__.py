"""wdfdbg: look inside Windows KMDF memory (WDFMEMORY, WDFLOOKASIDE, MDLs).

Layers, data flowing one way:
target (bytes, types, symbols) -> layouts (types as data) -> decoders
(pure functions over a target) -> analysis (triage) -> render -> commands.
Only :mod:`wdfdbg.sources.pykd_target` imports pykd.
"""

__version__ = "0.1.0"
