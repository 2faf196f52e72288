"""Step ``import:T``: T.load + the CSV + the database → the loaded table and its stamp.

Reads the generated ``.load`` file, the CSV (through pgloader only; csv2pg's own row count
comes from sample.json), and the database; writes the table ``<schema>.<table>`` and, under
``work_dir/pgloader/``, pgloader's log and reject files. Returns the import stamp document
(import.json without ``schema_version``); the caller writes it.

The semantics every engine shares (DESIGN.md, principle 2):

1. pgloader fills ``<table>__csv2pg_staging`` (created by the .load file's BEFORE LOAD);
   the live table stays readable meanwhile.
2. Three numbers must agree: the file's data rows as csv2pg parsed them (minus the rows
   pgloader rejected, when at most ``max_rejects``), the rows pgloader says it imported, and
   ``count(*)`` of the staging table. Rejected rows are ``read - imported`` or the rows in
   pgloader's reject files, whichever is larger. Anything else drops the staging table,
   leaves the live table as it was and raises ImportFailedError.
3. One transaction sets NOT NULL where the schema says ``nullable: false``, drops the live
   table and renames the staging table to it.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from csv2pg.db import (
    Database,
    connected,
    connection_identity,
    count_rows,
    drop_table,
    ensure_schema,
    staging_name,
    swap_in,
)
from csv2pg.dialect import Dialect
from csv2pg.engines.pgloader import PgloaderResult, run_pgloader
from csv2pg.errors import DatabaseError, DataError, ImportFailedError
from csv2pg.hashing import hash_value
from csv2pg.identifiers import quote_ident
from csv2pg.normalize import NORMALIZED_MARKER, remove_normalized, write_normalized

ENGINE = "pgloader"
NORMALIZED_NAME = "normalized.csv"


def csv2pg_version() -> str:
    try:
        return importlib.metadata.version("csv2pg")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def build_import(*, table_name: str, table_schema: dict[str, Any], sample: dict[str, Any],
                 load_file: Path, csv_path: Path, csv_hash: str, load_hash: str,
                 database: Database, work_dir: Path, max_rejects: int,
                 stall_timeout: float = 120,
                 on_progress: Callable[[int], None] | None = None,
                 csv_files: Sequence[Path] | None = None) -> dict[str, Any]:
    """Load one table through pgloader, verify it, swap it in; the import stamp.

    ``csv_files`` are all the table's files (default: ``csv_path`` alone). When the .load file
    was rendered for a normalized source (``NORMALIZED_MARKER``), they are first written as
    one UTF-8 copy, ``<work_dir>/normalized.csv``, which pgloader reads instead (deleted after
    a successful import; kept after a failure, with its line map, to trace rejected rows).
    """
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    db_schema, live = str(table_schema["db_schema"]), str(table_schema["table"])
    staging = staging_name(live)
    qualified = f"{db_schema}.{live}"
    staging_sql = f"{quote_ident(db_schema)}.{quote_ident(staging)}"
    load_text = _check_load_file(load_file, staging_sql, table_name)
    rows = int(sample["rows"])
    files = tuple(csv_files) if csv_files else (Path(csv_path),)
    normalized: Path | None = None
    if NORMALIZED_MARKER in load_text:
        normalized = Path(work_dir) / NORMALIZED_NAME
        _normalize(files, sample, normalized, rows, table_name)

    with connected(database) as conn:
        _run_sql(lambda: ensure_schema(conn, db_schema), database, table_name,
                 f"cannot create the schema {db_schema!r}")
        # A staging table left by an interrupted run must not be counted as this run's.
        _run_sql(lambda: drop_table(conn, db_schema, staging), database, table_name,
                 f"cannot drop the old staging table {staging!r}")
        identity = connection_identity(conn)
    target, extra_env = database.pgloader_target()
    source = _source_path(normalized or csv_path, work_dir)
    env = {"CSV2PG_SOURCE": source, "CSV2PG_TARGET": target, **extra_env}
    result = run_pgloader(load_file, work_dir, env, stall_timeout=stall_timeout,
                          on_progress=on_progress, table=staging_sql)

    rejects = max(result.rejected, result.rejects_logged)
    with connected(database) as conn:
        try:
            loaded = count_rows(conn, db_schema, staging)
            problem = _verify(rows, rejects, max_rejects, result, loaded)
            if problem is None:
                not_null = [str(c["column"]) for c in table_schema["columns"]
                            if c.get("nullable") is False]
                swap_in(conn, db_schema, staging, live, not_null,
                        [str(c) for c in table_schema.get("primary_key", [])])
        except psycopg.Error as exc:
            _drop_quietly(conn, db_schema, staging)
            raise ImportFailedError(
                f"could not swap the loaded rows into {qualified}: {_message(exc)}; the table "
                "was left as it was", table=table_name, path=csv_path,
                hint=_swap_hint(exc)) from None
        if problem is not None:
            _drop_quietly(conn, db_schema, staging)
            raise ImportFailedError(
                f"the import of {qualified} does not add up: {problem}; {qualified} was left as "
                f"it was{_details(result)}", table=table_name, path=csv_path,
                hint=_hint(result, rejects, max_rejects))

    assert loaded is not None
    if normalized is not None:
        remove_normalized(normalized)
    return {
        "table": qualified,
        "inputs": {"csv": csv_hash, "load": load_hash, "schema": hash_value(table_schema),
                   "database": hash_value(identity)},
        "rows": loaded,
        "rejects": rejects,
        "engine": ENGINE,
        "database": identity,
        "started_at": started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration_s": round(time.monotonic() - clock, 3),
        "csv2pg_version": csv2pg_version(),
    }


def _verify(rows: int, rejects: int, max_rejects: int, result: PgloaderResult,
            loaded: int | None) -> str | None:
    """What does not add up, or None."""
    if loaded is None:
        return (f"pgloader did not create the staging table (it read {result.read} rows, "
                f"imported {result.imported}, exit status {result.returncode})")
    if rejects > max_rejects:
        return (f"pgloader rejected {rejects} of the file's {rows} data rows (max_rejects = "
                f"{max_rejects}); it imported {result.imported}, the staging table holds {loaded}")
    expected = rows - rejects
    if not (result.imported == expected == loaded):
        allowance = f" minus {rejects} rejected" if rejects else ""
        return (f"the file has {rows} data rows{allowance} (csv2pg's parse), pgloader read "
                f"{result.read} and imported {result.imported}, the staging table holds {loaded}")
    return None


def _details(result: PgloaderResult) -> str:
    text = f"\n  {result.stopped}" if result.stopped else ""
    if result.messages:
        text += "\n  pgloader said: " + "\n  pgloader said: ".join(result.messages[:3])
    for dat in result.reject_files[:3]:
        text += f"\n  rejected rows: {dat}"
    text += f"\n  pgloader log: {result.log_path}"
    return text


def _hint(result: PgloaderResult, rejects: int, max_rejects: int) -> str:
    if rejects > max_rejects:
        return ("the reject file lists each refused row after pgloader's transformation, its "
                ".log the reason; fix those values, override the column's type, or raise "
                "max_rejects")
    if result.read == 0 and result.imported == 0:
        return ("pgloader loaded nothing: a wrong encoding or a CSV parse error stops it "
                "without a failing exit status; check the dialect in sample.json")
    return "pgloader and csv2pg parse the file differently; check the dialect in sample.json"


def _swap_hint(exc: psycopg.Error) -> str:
    if isinstance(exc, psycopg.errors.DependentObjectsStillExist):
        return "views or foreign keys depend on the table; drop them, build, and recreate them"
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return ("the primary key's columns have duplicate values; fix the rows, or change "
                "primary_key in the table's [tables.NAME] entry")
    if isinstance(exc, psycopg.errors.NotNullViolation):
        return "a column the schema marks nullable: false has empty values; fix the schema"
    return "see the database's message above"


def _normalize(files: tuple[Path, ...], sample: dict[str, Any], out: Path, rows: int,
               table_name: str) -> None:
    """Write the UTF-8 copy pgloader reads; it must hold exactly the profile's records."""
    dialect = Dialect.from_dict(sample["dialect"])
    written = write_normalized(files, dialect, out)
    if written != rows:
        remove_normalized(out)
        raise DataError(
            f"csv2pg read {written} data records while writing the normalized copy, but the "
            f"profile counted {rows}", path=files[0], table=table_name,
            hint="the file changed since it was profiled, or the dialect in sample.json does "
                 "not describe it; run `csv2pg build` again, or set the dialect in its "
                 "[tables.NAME] entry")


def _check_load_file(load_file: Path, staging_sql: str, table_name: str) -> str:
    try:
        text = Path(load_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read the pgloader command file: {exc.strerror}", path=load_file,
                        table=table_name, hint="run `csv2pg build` to regenerate it") from None
    if f"TARGET TABLE {staging_sql}\n" not in text:
        raise DataError(f"the pgloader command file does not load into {staging_sql}",
                        path=load_file, table=table_name,
                        hint="it was edited or is stale; `csv2pg build` regenerates it")
    return text


def _source_path(csv_path: Path, work_dir: Path) -> str:
    """The CSV's absolute path, as pgloader can read it inside ``FROM '...'``.

    A single quote would end pgloader's string (it has no escape), so such a file is reached
    through a symbolic link in the work directory.
    """
    path = Path(csv_path).absolute()
    if "'" not in str(path):
        return str(path)
    link = Path(work_dir).absolute() / "source.csv"
    if "'" in str(link):
        raise DataError("pgloader cannot read a file whose path contains a single quote",
                        path=path, hint="rename the file or its directory, or use engine = \"copy\"")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(path)
    return str(link)


def _run_sql(action: Callable[[], None], database: Database, table_name: str, what: str) -> None:
    try:
        action()
    except psycopg.Error as exc:
        raise DatabaseError(f"{what} in {database.describe()}: {_message(exc)}",
                            table=table_name) from None


def _drop_quietly(conn: psycopg.Connection[Any], db_schema: str, staging: str) -> None:
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        drop_table(conn, db_schema, staging)
    except psycopg.Error:
        pass   # the next run's BEFORE LOAD drops it anyway


def _message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return " ".join(str(primary or exc).split())
