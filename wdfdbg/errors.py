"""Exceptions shared by every layer.

Decoders raise :class:`ReadError` only from the target; they catch it and
turn it into an ``UNREADABLE`` problem. Input errors (a bad snapshot, a bad
dump, bad arguments) are :class:`InputError` and become exit code 2 with one
clear line.
"""


class WdfdbgError(Exception):
    """Base of every wdfdbg exception."""


class ReadError(WdfdbgError):
    """Memory at ``address`` could not be read (paged out, not captured)."""

    def __init__(self, address, size=None, reason="not readable"):
        self.address = address
        self.size = size
        self.reason = reason
        if size is None:
            msg = "memory at 0x%x is %s" % (address, reason)
        else:
            msg = "memory at 0x%x (%d bytes) is %s" % (address, size, reason)
        super().__init__(msg)


class InputError(WdfdbgError):
    """Untrusted input (snapshot, dump, types file, argument) is unusable."""


class SnapshotError(InputError):
    """A snapshot failed validation. ``problems`` lists ``path: message``."""

    def __init__(self, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "invalid snapshot"
        more = len(self.problems) - 1
        msg = first if more <= 0 else "%s (and %d more problem%s)" % (first, more, "s" if more > 1 else "")
        super().__init__(msg)


class DumpError(InputError):
    """A dump file is malformed or of an unsupported kind."""


class UsageError(InputError):
    """Bad command-line usage (unknown handle format, missing argument)."""


class ArgumentError(UsageError):
    """A command's arguments are wrong: the message is the whole line
    (``wdfdbg memtree: error: ...``, as argparse words it)."""


class OutputError(WdfdbgError):
    """The report or the output file cannot be written (a full disk, a
    closed or read-only standard output, a file-size limit)."""


class LayoutError(WdfdbgError):
    """A type is missing or malformed in every available layout source."""


class CorruptionError(WdfdbgError):
    """Raised by ``validate_*`` helpers when a structure is corrupt.

    ``problem`` is the :class:`wdfdbg.problems.Problem` found.
    """

    def __init__(self, problem):
        self.problem = problem
        super().__init__("%s at 0x%x: %s" % (problem.code, problem.address or 0, problem.message))
