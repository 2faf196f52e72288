"""The database's own record of what csv2pg loaded into it: the table ``csv2pg.tables``.

Contract: part of the database layer (with ``db.py``); it touches PostgreSQL through the
connections it is given and never commits on its own: ``record_import`` runs inside the
swap's transaction, so the record and the table it describes change together.

One row per table csv2pg swapped in: the schema and table, the table's oid (the ownership
mark: a table is csv2pg's when a row names it *and* the oid still matches, so a table that
was dropped and re-created by hand is no longer csv2pg's), the hashes of the CSV, the
committed schema and the .load file it was built from, rows, rejects, the engine, when the
import started and how long it took, and the csv2pg version. The build directory's
``import.json`` is a cache of this row: a fresh clone with an empty build directory asks the
database, and re-imports only tables whose CSV or schema changed.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

STATE_SCHEMA = "csv2pg"
STATE_TABLE = "tables"
_LOCK_KEY = 0x63737632   # pg_advisory_xact_lock key: creating the state table, once at a time

_DDL = """
CREATE TABLE IF NOT EXISTS csv2pg.tables (
    db_schema       text NOT NULL,
    table_name      text NOT NULL,
    table_oid       oid NOT NULL,
    csv_hash        text NOT NULL,
    schema_hash     text NOT NULL,
    load_hash       text NOT NULL,
    engine          text NOT NULL,
    rows            bigint NOT NULL,
    rejects         bigint NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_s      double precision NOT NULL,
    imported_at     timestamptz NOT NULL DEFAULT now(),
    csv2pg_version  text NOT NULL,
    project         text NOT NULL DEFAULT '',
    source          jsonb,
    PRIMARY KEY (db_schema, table_name)
)"""
# Columns added since the first version of the table, added to an older one when it is met.
_ADDED = {"source": "jsonb"}
_COMMENT = ("what csv2pg loaded into this database, one row per table it created "
            "(the row is its ownership mark); written in the transaction that swaps the table in")


def csv2pg_version() -> str:
    try:
        return importlib.metadata.version("csv2pg")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class TableRecord:
    """One row of ``csv2pg.tables``, with the oid the table has now (None: it is gone)."""

    db_schema: str
    table: str
    table_oid: int
    live_oid: int | None
    csv_hash: str
    schema_hash: str
    load_hash: str
    engine: str
    rows: int
    rejects: int
    started_at: datetime
    duration_s: float
    imported_at: datetime
    csv2pg_version: str
    project: str = ""
    # mode = "append": the file's bytes, hash, records and last byte at that import
    # (``modes.ModePlan.source_stamp``), so that a fresh clone appends too; else None.
    source: dict[str, Any] | None = None

    @property
    def qualified(self) -> str:
        return f"{self.db_schema}.{self.table}"

    @property
    def present(self) -> bool:
        """The table csv2pg loaded is still there (not dropped, nor replaced by hand)."""
        return self.live_oid is not None and self.live_oid == self.table_oid


def state_exists(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass('csv2pg.tables') IS NOT NULL").fetchone()
    return bool(row and row[0])


def ensure_state_table(conn: psycopg.Connection[Any]) -> None:
    """Create ``csv2pg.tables`` unless it exists (or add the columns an older one lacks);
    call inside a transaction."""
    if state_exists(conn):
        for name, ddl_type in _ADDED.items():
            if conn.execute("SELECT 1 FROM pg_attribute WHERE attrelid = 'csv2pg.tables'::regclass "
                            "AND attname = %s AND NOT attisdropped", (name,)).fetchone() is None:
                conn.execute(sql.SQL("ALTER TABLE csv2pg.tables ADD COLUMN IF NOT EXISTS {} {}").format(
                    sql.Identifier(name), sql.SQL(ddl_type)))
        return
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    if state_exists(conn):   # another build created it while we waited
        return
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (STATE_SCHEMA,)).fetchone()
    if exists is None:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(STATE_SCHEMA)))
    conn.execute(_DDL)
    conn.execute(sql.SQL("COMMENT ON TABLE csv2pg.tables IS {}").format(sql.Literal(_COMMENT)))


def read_records(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], TableRecord]:
    """Every row of ``csv2pg.tables`` by (schema, table); empty when there is none yet."""
    if not state_exists(conn):
        return {}
    rows = conn.execute(
        "SELECT db_schema, table_name, table_oid::bigint, "
        "to_regclass(format('%I.%I', db_schema, table_name))::oid::bigint, csv_hash, schema_hash, "
        "load_hash, engine, rows, rejects, started_at, duration_s, imported_at, csv2pg_version, "
        # to_jsonb: NULL rather than an error where an older table lacks the column
        "project, to_jsonb(t) -> 'source' FROM csv2pg.tables AS t "
        "ORDER BY db_schema, table_name").fetchall()
    records = {}
    for row in rows:
        record = TableRecord(str(row[0]), str(row[1]), int(row[2]),
                             None if row[3] is None else int(row[3]), str(row[4]), str(row[5]),
                             str(row[6]), str(row[7]), int(row[8]), int(row[9]), row[10],
                             float(row[11]), row[12], str(row[13]), str(row[14]),
                             row[15] if isinstance(row[15], dict) else None)
        records[(record.db_schema, record.table)] = record
    return records


def record_import(conn: psycopg.Connection[Any], db_schema: str, table: str,
                  details: dict[str, Any]) -> None:
    """Insert or replace the row for ``db_schema.table`` (which must exist: its oid is kept).

    ``details``: csv, schema, load (hashes), rows, rejects, engine, started_at (a datetime or
    an ISO 8601 text), and optionally project (``project.name``) and source (append's facts
    of the file, ``TableRecord.source``).
    """
    ensure_state_table(conn)
    started = details["started_at"]
    if isinstance(started, str):
        started = datetime.fromisoformat(started.replace("Z", "+00:00"))
    duration = max(0.0, (datetime.now(UTC) - started).total_seconds())
    conn.execute(
        "INSERT INTO csv2pg.tables AS t (db_schema, table_name, table_oid, csv_hash, schema_hash, "
        "load_hash, engine, rows, rejects, started_at, duration_s, imported_at, csv2pg_version, "
        "project, source) "
        "VALUES (%(schema)s, %(table)s, to_regclass(format('%%I.%%I', %(schema)s::text, "
        "%(table)s::text))::oid, %(csv)s, %(schema_hash)s, %(load)s, %(engine)s, %(rows)s, "
        "%(rejects)s, %(started)s, %(duration)s, now(), %(version)s, %(project)s, %(source)s) "
        "ON CONFLICT (db_schema, table_name) DO UPDATE SET table_oid = EXCLUDED.table_oid, "
        "csv_hash = EXCLUDED.csv_hash, schema_hash = EXCLUDED.schema_hash, "
        "load_hash = EXCLUDED.load_hash, engine = EXCLUDED.engine, rows = EXCLUDED.rows, "
        "rejects = EXCLUDED.rejects, started_at = EXCLUDED.started_at, "
        "duration_s = EXCLUDED.duration_s, imported_at = now(), "
        "csv2pg_version = EXCLUDED.csv2pg_version, project = EXCLUDED.project, "
        "source = EXCLUDED.source",
        {"schema": db_schema, "table": table, "csv": details["csv"], "schema_hash": details["schema"],
         "load": details["load"], "engine": details["engine"], "rows": int(details["rows"]),
         "rejects": int(details["rejects"]), "started": started, "duration": round(duration, 3),
         "version": csv2pg_version(), "project": str(details.get("project") or ""),
         "source": Jsonb(details["source"]) if details.get("source") else None})


def forget(conn: psycopg.Connection[Any], db_schema: str, table: str) -> None:
    if state_exists(conn):
        conn.execute("DELETE FROM csv2pg.tables WHERE db_schema = %s AND table_name = %s",
                     (db_schema, table))


def ownership(conn: psycopg.Connection[Any], db_schema: str, table: str) -> str:
    """"absent" (no such table), "ours" (csv2pg's record names it) or "foreign"."""
    row = conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))::oid::bigint",
                       (db_schema, table)).fetchone()
    live = None if row is None or row[0] is None else int(row[0])
    if live is None:
        return "absent"
    record = read_records(conn).get((db_schema, table))
    return "ours" if record is not None and record.table_oid == live else "foreign"
