"""Step ``import:T``: T.load + the CSV + the database → the loaded table and its stamp.

Reads the generated ``.load`` file, the CSV (through pgloader, or csv2pg's own COPY stream;
csv2pg's own row count comes from sample.json), the previous stamp (``mode = "append"``) and
the database; writes the table ``<schema>.<table>``, ``work_dir/rejects.jsonl`` (every row
that did not load: ``csv2pg.rejects``) and, for pgloader, its log and reject files under
``work_dir/pgloader/``. Returns the import stamp document (import.json without
``schema_version``); the caller writes it.

The semantics every engine shares (DESIGN.md, principle 2):

1. The engine fills ``<table>__csv2pg_staging``, typed as the schema says, without
   constraints (pgloader: created by the .load file's BEFORE LOAD; ``copy``: by csv2pg); the
   live table stays readable meanwhile. ``engine = "pgloader"`` falls back to ``copy``, with
   a notice in the stamp, when pgloader is not installed, when the profile found rows with the
   wrong number of fields (pgloader would pad or cut them silently), and when pgloader's
   numbers do not add up although it exited by itself (rows lost without a reject entry).
2. Every refused row goes to rejects.jsonl with its file, line, text and reason: rows with
   the wrong number of fields (csv2pg's parse, before any engine), rows PostgreSQL refused,
   and rows pgloader lost without a reject entry (counted, not named).
3. Three numbers must agree: the file's data rows as csv2pg parsed them (minus the rejected
   rows, when at most ``max_rejects``), the rows the engine says it imported, and
   ``count(*)`` of the staging table. Anything else drops the staging table, leaves the live
   table as it was and raises ImportFailedError.
4. ``replace``: one transaction sets NOT NULL where the schema says ``nullable: false``,
   drops the live table and renames the staging table to it (``db.swap_in``). ``append`` and
   ``upsert`` insert the staging rows into the live table instead (``stages/modes.py``).
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from csv2pg.db import (
    Database,
    SwapOptions,
    connected,
    connection_identity,
    count_rows,
    drop_table,
    ensure_schema,
    staging_name,
    swap_in,
)
from csv2pg.dialect import Dialect
from csv2pg.engines.copy import CopyLoader, create_staging, default_streams, plan_copy
from csv2pg.engines.pgloader import (
    PgloaderResult,
    pgloader_available,
    pgloader_rejects,
    run_pgloader,
)
from csv2pg.errors import DatabaseError, DataError, ImportFailedError
from csv2pg.hashing import hash_value
from csv2pg.identifiers import quote_ident
from csv2pg.normalize import NORMALIZED_MARKER, remove_normalized, write_normalized
from csv2pg.rejects import REJECTS_NAME, RejectsFile
from csv2pg.stages import modes
from csv2pg.state import record_import
from csv2pg.transforms import RowTransform, row_transformer

NORMALIZED_NAME = "normalized.csv"
APPEND_NAME = "appended.csv"
STAMP_NAME = "import.json"


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
                 csv_files: Sequence[Path] | None = None,
                 engine: str = "pgloader", mode: str = "replace",
                 swap_options: SwapOptions | None = None) -> dict[str, Any]:
    """Load one table through ``engine``, verify it, swap it in; the import stamp.

    ``csv_files`` are all the table's files (default: ``csv_path`` alone). For pgloader, when
    the .load file was rendered for a normalized source (``NORMALIZED_MARKER``), they are
    first written as one UTF-8 copy, ``<work_dir>/normalized.csv``, which pgloader reads
    instead (deleted after a successful import; kept after a failure, with its line map, to
    trace rejected rows). ``copy`` streams the files itself (``csv2pg.engines.copy``). When
    pgloader is not installed, ``copy`` is used and the stamp's ``notice`` says so.

    Every refused row is written to ``<work_dir>/rejects.jsonl`` (``REJECTS_NAME``).
    ``mode`` is ``replace`` (swap the new table in), ``append`` (only the records added to
    the end of the file since the last import) or ``upsert`` (insert or update on the
    primary key); see ``csv2pg.stages.modes``.
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
    ragged = any(p.get("kind") == "ragged_rows" for p in sample.get("problems", []))
    engine, notice = choose_engine(engine, ragged)
    transform = row_transformer(table_schema["columns"])
    rejects = RejectsFile(Path(work_dir) / REJECTS_NAME)
    plan = modes.plan_mode(mode, Path(work_dir) / STAMP_NAME, files, table_schema, rows,
                           table_name)

    with connected(database) as conn:
        _run_sql(lambda: ensure_schema(conn, db_schema), database, table_name,
                 f"cannot create the schema {db_schema!r}")
        # A staging table left by an interrupted run must not be counted as this run's.
        _run_sql(lambda: drop_table(conn, db_schema, staging), database, table_name,
                 f"cannot drop the old staging table {staging!r}")
        identity = connection_identity(conn)
        plan = modes.check_live(conn, plan, db_schema, live, hash_value(table_schema))

    try:
        if engine == "copy":
            outcome = _load_copy(files, sample, table_schema, load_text, staging, database,
                                 rejects, transform, plan, on_progress, table_name)
        else:
            outcome = _load_pgloader(files, sample, table_schema, load_file, load_text,
                                     staging_sql, csv_path, database, work_dir, rejects,
                                     transform, plan, stall_timeout, on_progress, table_name)
            lost = plan.expected_rows(rows) - outcome.imported - outcome.named
            if lost and not outcome.stopped:
                # pgloader said it succeeded but lost rows without a reject entry (tech.md
                # 3.4-3.5: a decoding or parse error stops it mid-file with exit status 0):
                # load again with the engine that names every row it refuses. A pgloader that
                # failed, was killed or hung fails the import instead.
                notice = "; ".join(n for n in (notice, (
                    f"pgloader loaded {outcome.imported} and rejected {outcome.named} of the "
                    f"file's {plan.expected_rows(rows)} rows without saying what happened to "
                    "the others, so csv2pg loaded the table again with its built-in engine"))
                    if n)
                if outcome.normalized is not None:
                    remove_normalized(outcome.normalized)
                rejects.close()
                rejects = RejectsFile(Path(work_dir) / REJECTS_NAME)
                engine = "copy"
                outcome = _load_copy(files, sample, table_schema, load_text, staging, database,
                                     rejects, transform, plan, on_progress, table_name)
    finally:
        rejects.close()

    expected = plan.expected_rows(rows)
    source = plan.source_stamp(rows)
    with connected(database) as conn:
        try:
            loaded = count_rows(conn, db_schema, staging)
            problem = _verify(expected, outcome, max_rejects, loaded, rejects)
            if problem is None:
                record = {"csv": csv_hash, "schema": hash_value(table_schema), "load": load_hash,
                          "rows": loaded, "rejects": outcome.rejected, "engine": engine,
                          "started_at": started_at, "source": source,
                          "project": swap_options.project if swap_options else ""}
                if plan.merge:
                    modes.merge_in(conn, plan, db_schema, staging, live, table_schema)
                    record["rows"] = count_rows(conn, db_schema, live) or 0
                    with conn.transaction():   # csv2pg's record of the table (state.py)
                        record_import(conn, db_schema, live, record)
                else:
                    not_null = [str(c["column"]) for c in table_schema["columns"]
                                if c.get("nullable") is False]
                    swap_in(conn, db_schema, staging, live, not_null,
                            [str(c) for c in table_schema.get("primary_key", [])],
                            record=record, options=swap_options)
        except DatabaseError:   # not csv2pg's table, or a dependent object it cannot carry over
            _drop_quietly(conn, db_schema, staging)
            raise
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
                f"it was{outcome.details}", table=table_name, path=csv_path,
                hint=outcome.hint if outcome.rejected <= max_rejects else _reject_hint(rejects))
        live_rows = count_rows(conn, db_schema, live) if plan.merge else loaded

    assert loaded is not None and live_rows is not None
    if outcome.normalized is not None:
        remove_normalized(outcome.normalized)
    stamp: dict[str, Any] = {
        "table": qualified,
        "inputs": {"csv": csv_hash, "load": load_hash, "schema": hash_value(table_schema),
                   "database": hash_value(identity)},
        "rows": live_rows,
        "rejects": outcome.rejected,
        "engine": engine,
        "database": identity,
        "started_at": started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration_s": round(time.monotonic() - clock, 3),
        "csv2pg_version": csv2pg_version(),
        "mode": plan.mode,
        "source": source,
    }
    if outcome.rejected:
        stamp["rejects_file"] = REJECTS_NAME
    notes = [n for n in (notice, plan.notice) if n]
    if notes:
        stamp["notice"] = "; ".join(notes)
    if plan.merge:
        stamp["loaded"] = loaded
    return stamp


def choose_engine(requested: str, ragged: bool = False) -> tuple[str, str | None]:
    """(engine to use, a one-line notice when it is not the one asked for)."""
    if requested == "pgloader" and not pgloader_available():
        return "copy", ("pgloader is not installed, so csv2pg loaded the table with its "
                        "built-in engine (engine = \"copy\")")
    if requested == "pgloader" and ragged:
        # pgloader pads or truncates such rows without a word (notes/perf.md 5).
        return "copy", ("the file has rows with the wrong number of fields, which pgloader "
                        "would pad or cut silently, so csv2pg loaded the table with its "
                        "built-in engine, which rejects them")
    return requested, None


@dataclass
class Outcome:
    """What an engine did: the importer's verification reads only this."""

    engine: str
    read: int
    imported: int
    rejected: int
    named: int = 0       # rejected rows the engine named (pgloader: the rows of its reject files)
    stopped: bool = False  # the engine did not end by itself with success (killed, hung, failed)
    details: str = ""
    hint: str = "csv2pg and the engine parse the file differently; check the dialect in sample.json"
    normalized: Path | None = None


def _load_copy(files: tuple[Path, ...], sample: dict[str, Any], table_schema: dict[str, Any],
               load_text: str, staging: str, database: Database, rejects: RejectsFile,
               transform: RowTransform | None, plan: modes.ModePlan,
               on_progress: Callable[[int], None] | None, table_name: str) -> Outcome:
    dialect = Dialect.from_dict(sample["dialect"])
    columns = table_schema["columns"]
    db_schema = str(table_schema["db_schema"])
    ragged = any(p.get("kind") == "ragged_rows" for p in sample.get("problems", []))
    how = plan_copy(files, dialect, columns, normalized=NORMALIZED_MARKER in load_text,
                    transform=transform, ragged=ragged, seen=sample.get("columns") or None)
    with connected(database) as conn:
        _run_sql(lambda: create_staging(conn, db_schema, staging, columns), database,
                 table_name, f"cannot create the staging table {staging!r}")
        loader = CopyLoader(conn, db_schema, staging, columns, rejects.add, on_progress)
        try:
            if how.raw:
                loader.load_raw(files[0], dialect, skip_bytes=plan.skip_bytes,
                                streams=default_streams(),
                                connect=lambda: database.connect(autocommit=True))
            else:
                loader.load_parsed(files, dialect, transform, skip_records=plan.skip_records)
        except psycopg.Error as exc:
            _drop_quietly(conn, db_schema, staging)
            raise DatabaseError(f"COPY into {db_schema}.{staging} failed in "
                                f"{database.describe()}: {_message(exc)}", table=table_name,
                                hint="nothing was replaced; check the database's message, "
                                     "then run `csv2pg build` again") from None
        except BaseException:
            _drop_quietly(conn, db_schema, staging)   # e.g. undecodable bytes in the file
            raise
    result = loader.result
    return Outcome("copy", result.read, result.imported, result.rejected,
                   details=f"\n  rejected rows: {rejects.path}" if result.rejected else "",
                   hint="csv2pg read a different number of records than the profile counted; "
                        "the file changed since it was profiled: run `csv2pg build` again")


def _load_pgloader(files: tuple[Path, ...], sample: dict[str, Any], table_schema: dict[str, Any],
                   load_file: Path, load_text: str, staging_sql: str, csv_path: Path,
                   database: Database, work_dir: Path, rejects: RejectsFile,
                   transform: RowTransform | None, plan: modes.ModePlan, stall_timeout: float,
                   on_progress: Callable[[int], None] | None, table_name: str) -> Outcome:
    rows = int(sample["rows"])
    normalized: Path | None = None
    tail: Path | None = None
    if NORMALIZED_MARKER in load_text:
        normalized = Path(work_dir) / NORMALIZED_NAME
        _normalize(files, sample, normalized, rows, table_name, transform,
                   skip_records=plan.skip_records)
    elif plan.skip_bytes:
        # mode = "append": pgloader reads the header and only the bytes added since.
        tail = Path(work_dir) / APPEND_NAME
        _write_tail(Path(files[0]), int(sample["dialect"]["header_lines"]), plan.skip_bytes, tail)
    target, extra_env = database.pgloader_target()
    source = _source_path(normalized or tail or csv_path, work_dir)
    env = {"CSV2PG_SOURCE": source, "CSV2PG_TARGET": target, **extra_env}
    try:
        result = run_pgloader(load_file, work_dir, env, stall_timeout=stall_timeout,
                              on_progress=on_progress, table=staging_sql)
    finally:
        if tail is not None:
            tail.unlink(missing_ok=True)
    rejected = max(result.rejected, result.rejects_logged)
    if result.rejects_logged:
        pgloader_rejects(result, files, Dialect.from_dict(sample["dialect"]),
                         table_schema["columns"], transform, rejects.add)
    missing = rejected - result.rejects_logged
    if missing > 0:
        rejects.add(None, None, "", f"pgloader read {missing} more rows than it loaded or "
                    "rejected, and did not say which (tech.md 3.4); engine = \"copy\" names them")
    details = _details(result)
    if rejected:
        details += f"\n  rejected rows: {rejects.path}"
    return Outcome("pgloader", result.read, result.imported, rejected,
                   named=result.rejects_logged,
                   stopped=result.stopped is not None or result.returncode != 0,
                   details=details, hint=_hint(result),
                   normalized=normalized)


def _verify(rows: int, outcome: Outcome, max_rejects: int, loaded: int | None,
            rejects: RejectsFile) -> str | None:
    """What does not add up, or None."""
    if loaded is None:
        return (f"{outcome.engine} did not create the staging table (it read {outcome.read} "
                f"rows, imported {outcome.imported})")
    if outcome.rejected > max_rejects:
        return (f"{outcome.rejected} of the file's {rows} data rows were rejected (max_rejects = "
                f"{max_rejects}), the first at {rejects.first}; {outcome.engine} imported "
                f"{outcome.imported}, the staging table holds {loaded}")
    expected = rows - outcome.rejected
    if not (outcome.imported == expected == loaded):
        allowance = f" minus {outcome.rejected} rejected" if outcome.rejected else ""
        return (f"the file has {rows} data rows{allowance} (csv2pg's parse), {outcome.engine} "
                f"read {outcome.read} and imported {outcome.imported}, the staging table holds "
                f"{loaded}")
    return None


def _details(result: PgloaderResult) -> str:
    text = f"\n  {result.stopped}" if result.stopped else ""
    if result.messages:
        text += "\n  pgloader said: " + "\n  pgloader said: ".join(result.messages[:3])
    text += f"\n  pgloader log: {result.log_path}"
    return text


def _reject_hint(rejects: RejectsFile) -> str:
    return (f"{rejects.path} lists each refused row with its file, line and reason; fix those "
            "rows, override the column's type, or raise max_rejects in [tables.NAME]")


def _hint(result: PgloaderResult) -> str:
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


def _write_tail(path: Path, header_lines: int, skip_bytes: int, out: Path) -> None:
    """``path``'s header lines followed by its bytes after ``skip_bytes``."""
    with open(path, "rb") as source, open(out, "wb") as target:
        for _ in range(header_lines):
            target.write(source.readline())
        source.seek(skip_bytes)
        while block := source.read(1 << 20):
            target.write(block)


def _normalize(files: tuple[Path, ...], sample: dict[str, Any], out: Path, rows: int,
               table_name: str, transform: RowTransform | None = None,
               skip_records: int = 0) -> None:
    """Write the UTF-8 copy pgloader reads; it must hold exactly the profile's records
    (after the first ``skip_records``, for an append)."""
    dialect = Dialect.from_dict(sample["dialect"])
    written = write_normalized(files, dialect, out, transform=transform,
                               skip_records=skip_records)
    if written != rows - skip_records:
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
