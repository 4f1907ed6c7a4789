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


class SchemaDriftError(SiloSyncError):
    """A column the silo's mapping relies on has disappeared from the source."""

    def __init__(self, message: str, silo: str, table: str, column: str):
        super().__init__(message, silo, table)
        self.column = column
