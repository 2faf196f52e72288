"""What every step of one build run shares, and where each step's artifact lives.

``BuildContext`` holds the project's settings, the hash cache, the database (resolved once;
its record of loaded tables and its list of tables read once per run) and the LLM advisor.
The ``*_path`` functions name the artifacts of the build graph (DESIGN.md); ``column_names``
gives a table's columns before its sample step runs, so that the graph knows its chunk steps.

Imports no doit (``graph`` does).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from csv2pg.artifacts import try_read_artifact
from csv2pg.db import Database, connected, connection_identity, resolve_database
from csv2pg.dialect import detect_dialect, read_header
from csv2pg.errors import Csv2pgError, DataError
from csv2pg.hashing import HashCache, files_hash, hash_value
from csv2pg.identifiers import unique_identifiers
from csv2pg.llm.advisor import Advisor
from csv2pg.settings import Project, TableSettings
from csv2pg.state import TableRecord, read_records


def sample_path(project: Project, name: str) -> Path:
    return project.table_build_dir(name) / "sample.json"


def chunk_path(project: Project, name: str, chunk: int) -> Path:
    return project.table_build_dir(name) / f"chunk_{chunk}.types.json"


def schema_path(project: Project, name: str) -> Path:
    return project.schemas_dir / f"{name}.schema.json"


def load_path(project: Project, name: str) -> Path:
    return project.table_build_dir(name) / f"{name}.load"


def script_path(project: Project, name: str) -> Path:
    return project.table_build_dir(name) / f"{name}_import.sh"


def stamp_path(project: Project, name: str) -> Path:
    return project.table_build_dir(name) / "import.json"


# ---------------------------------------------------------------------------------------------
# Context shared by the steps of one run


@dataclass
class BuildContext:
    """What every step of one run shares: settings, the hash cache, the database."""

    project: Project
    hashes: HashCache
    start_database: bool = True
    force: bool = False            # replace tables csv2pg did not create (build --force)
    locked: bool = False           # use the committed schemas as they are (build --locked)
    # (table, total bytes) → (on_progress(bytes so far), done): report.ImportBars.table
    progress: Callable[[str, int], tuple[Callable[[int], None], Callable[[], None]]] | None = None
    errors: dict[str, Csv2pgError] = field(default_factory=dict)
    _database: Database | None = None
    _identity: dict[str, str] | None = None
    _tables: set[tuple[str, str]] | None = None
    _records: dict[tuple[str, str], TableRecord] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _advisor: Advisor | None = None

    @classmethod
    def for_project(cls, project: Project, *, start_database: bool = True, force: bool = False,
                    locked: bool = False) -> BuildContext:
        return cls(project, HashCache(project.build_dir / "hashes.json"), start_database,
                   force, locked)

    def can_ask_database(self) -> bool:
        """False when asking would start the embedded server (``plan``, ``status`` start none)."""
        return self.start_database or not self.database.embedded or bool(self.database.status()["running"])

    def records(self) -> dict[tuple[str, str], TableRecord] | None:
        """The database's own record (``csv2pg.tables``), read once per run; None when the
        database cannot be asked without starting a server."""
        with self._lock:
            if self._records is not None:
                return self._records
        if not self.can_ask_database():
            return None
        with connected(self.database) as conn:
            records = read_records(conn)
            identity = connection_identity(conn)
        with self._lock:
            self._records = records
            self._identity = self._identity or identity
        return records

    @property
    def advisor(self) -> Advisor:
        """The LLM advisor of this run (answers cached in <build>/llm-cache)."""
        with self._lock:
            if self._advisor is None:
                self._advisor = Advisor(self.project.build_dir / "llm-cache")
            return self._advisor

    @property
    def database(self) -> Database:
        with self._lock:
            if self._database is None:
                self._database = resolve_database(self.project.database, self.project.build_dir)
            return self._database

    def identity_hash(self) -> str | None:
        """The hash of the database's identity (system identifier + database), or None if unknown."""
        with self._lock:
            cached = self._identity
        if cached is None:
            cached = self.database.identity(start=self.start_database)
            if cached is None:
                return None
            with self._lock:
                self._identity = cached
        return hash_value(cached)

    def live_tables(self) -> set[tuple[str, str]] | None:
        """(schema, table) of every table in the database, or None when it cannot be asked
        without starting a server (``plan`` and ``status`` start none)."""
        with self._lock:
            if self._tables is not None:
                return self._tables
        if not self.can_ask_database():
            return None
        with connected(self.database) as conn:
            rows = conn.execute("SELECT schemaname, tablename FROM pg_tables").fetchall()
        tables = {(str(a), str(b)) for a, b in rows}
        with self._lock:
            self._tables = tables
        return tables

    def csv_hash(self, table: TableSettings) -> str:
        if not table.sources:
            raise DataError(f"no file matches source = {table.source_text!r}", path=table.source,
                            table=table.name, hint=f"fix source in [tables.{table.name}]")
        try:
            return files_hash(self.hashes, table.files)
        except FileNotFoundError as error:
            raise DataError("the CSV file disappeared during the build", path=error.filename,
                            table=table.name) from None

    def file_hash(self, path: Path) -> str | None:
        try:
            return self.hashes.file_hash(path)
        except FileNotFoundError:
            return None


def column_names(ctx: BuildContext, table: TableSettings) -> list[str]:
    """The columns, known when the graph is built, so chunk tasks exist from the start.

    An up-to-date sample.json answers without touching the CSV; otherwise the header is read.
    """
    sample = try_read_artifact("sample", sample_path(ctx.project, table.name))
    if sample is not None and sample["inputs"]["csv"] == ctx.csv_hash(table):
        return [c["column"] for c in sample["columns"]]
    dialect = detect_dialect(table.source, table.dialect)
    return unique_identifiers(read_header(table.source, dialect))
