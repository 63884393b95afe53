"""Sources: where bytes, types and symbols come from (the CLI's SOURCE).

:class:`~wdfdbg.sources.base.Target` is the one interface decoders see. It
wraps a *backend* (snapshot replay, a dump file, pykd) behind a page cache:
the backend is asked for whole pages, each page once, and every backend call
is counted in :attr:`Target.backend_reads`.
"""

from wdfdbg.sources.base import Backend, Bugcheck, Module, Page, Target  # noqa: F401
