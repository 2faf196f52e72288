"""The exception hierarchy. Exit codes are chosen here, once.

Every expected failure is a ``Csv2pgError``: it carries where it happened (path, line, key,
table, column) and the exit code the CLI uses (2 for usage or configuration, 1 for data or
database). Anything else that escapes is a bug and shows a traceback.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_DATA = 1
EXIT_CONFIG = 2


class Csv2pgError(Exception):
    """An expected failure with a message that teaches the fix."""

    exit_code = EXIT_DATA

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
        table: str | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.key = key
        self.table = table
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        text = where + self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(Csv2pgError):
    """A bad manifest, option or environment variable (exit 2)."""

    exit_code = EXIT_CONFIG


class UsageError(Csv2pgError):
    """A bad command line (exit 2)."""

    exit_code = EXIT_CONFIG


class DataError(Csv2pgError):
    """A CSV that cannot be read or loaded as asked (exit 1)."""


class DatabaseError(Csv2pgError):
    """The database is unreachable or refused a statement (exit 1)."""


class ImportFailedError(Csv2pgError):
    """An import ran but its result does not add up (exit 1)."""


class ArtifactError(Csv2pgError):
    """A build artifact is missing, corrupt or of an incompatible version (exit 1)."""
