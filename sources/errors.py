"""Errors raised by the silo layer; each message names the silo (or file), the place and the fix."""
from __future__ import annotations


class SiloConfigError(Exception):
    """A silo YAML file is malformed, incomplete or refers to a missing environment variable."""


class SiloSyncError(Exception):
    """A silo could not be synced (unreachable, authentication refused, bad data ...)."""

    def __init__(self, message: str, silo: str, table: str | None = None):
        super().__init__(message)
        self.silo = silo
        self.table = table


class MalformedFileError(ValueError):
    """A silo file that cannot be parsed in its format (a CSV line with more fields than the header)."""


class SchemaDriftError(SiloSyncError):
    """A column the silo's mapping relies on has disappeared from the source."""

    def __init__(self, message: str, silo: str, table: str, column: str):
        super().__init__(message, silo, table)
        self.column = column


def root_cause(exc: BaseException) -> BaseException:
    """The exception the chain started from, as a traceback shows it: through `raise ... from`,
    and through implicit context unless suppressed (`from None`) or only a generator's
    StopIteration, which says nothing of what went wrong."""
    while True:
        nxt = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if nxt is None or isinstance(nxt, (StopIteration, GeneratorExit)):
            return exc
        exc = nxt
