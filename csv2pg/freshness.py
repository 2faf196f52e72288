"""Why each build step must run again (None: it is up to date), decided from the files.

Every artifact records the hashes of its inputs and options; each ``*_reason`` compares them
with the inputs as they are now and says, in a sentence for ``csv2pg plan``, what changed.
``import_reason`` asks the database's own record (``csv2pg.tables``) and, where the database
cannot be asked without starting a server, the build directory's stamp; a fresh clone gets
its stamp back from the record. ``graph`` turns the reasons into doit's ``uptodate``.

Imports no doit.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

from csv2pg.artifacts import try_read_artifact, validation_errors, write_artifact
from csv2pg.context import (
    BuildContext,
    chunk_path,
    load_path,
    sample_path,
    schema_path,
    script_path,
    stamp_path,
)
from csv2pg.errors import Csv2pgError, DataError
from csv2pg.hashing import hash_value
from csv2pg.settings import Project, TableSettings
from csv2pg.stages.schema import facts_hash, overrides_hash, types_hash
from csv2pg.state import TableRecord

RENDER_VERSION = 2
INPUTS_PREFIX = "-- csv2pg-inputs: "


def sample_reason(ctx: BuildContext, table: TableSettings) -> str | None:
    doc = try_read_artifact("sample", sample_path(ctx.project, table.name))
    if doc is None:
        return "no sample.json yet"
    if doc["inputs"]["csv"] != ctx.csv_hash(table):
        return f"the CSV changed ({table.source_text})"
    if doc["inputs"]["options"] != hash_value(table.sample_options()):
        return "dialect, null-token or sampling options changed"
    return None


def chunk_reason(ctx: BuildContext, table: TableSettings, chunk: int) -> str | None:
    doc = try_read_artifact("types", chunk_path(ctx.project, table.name, chunk))
    if doc is None:
        return f"no chunk_{chunk}.types.json yet"
    if doc["inputs"]["sample"] != ctx.file_hash(sample_path(ctx.project, table.name)):
        return "sample.json changed"
    if doc["inputs"]["options"] != hash_value(table.infer_options()):
        return "inference options changed"
    if table.inference == "llm" and doc.get("llm", {}).get("outcome") == "failed":
        return "the LLM gave no usable answer last time (heuristics were used): asking again"
    return None


def schema_reason(ctx: BuildContext, table: TableSettings, chunks: int) -> str | None:
    doc = try_read_artifact("table", schema_path(ctx.project, table.name))
    if doc is None:
        return f"no {table.name}.schema.json yet"
    try:
        current = types_hash(read_chunks(ctx.project, table.name, chunks))
    except Csv2pgError:
        return "a chunk's types are missing"
    if doc["inputs"]["types"] != current:
        return "inferred types changed"
    if doc["inputs"]["overrides"] != overrides_hash(table):
        return f"overrides or primary_key in [tables.{table.name}] changed"
    sample = try_read_artifact("sample", sample_path(ctx.project, table.name))
    if sample is not None and doc["inputs"].get("facts") != facts_hash(sample):
        return "the file's facts changed (uniqueness or value formats)"
    if doc["table"] != table.table or doc["db_schema"] != table.db_schema:
        return "the target table name changed"
    return None


def load_inputs_hash(ctx: BuildContext, table: TableSettings) -> str | None:
    schema_hash = ctx.file_hash(schema_path(ctx.project, table.name))
    sample = try_read_artifact("sample", sample_path(ctx.project, table.name))
    if schema_hash is None or sample is None:
        return None
    # The CSV's hash (from the cache, no read) so that other files or compression re-render.
    return hash_value({"schema": schema_hash, "dialect": sample["dialect"], "rows": sample["rows"],
                       "csv": ctx.csv_hash(table), "render": RENDER_VERSION})


def recorded_load_inputs(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
    except OSError:
        return None
    return first[len(INPUTS_PREFIX):].strip() if first.startswith(INPUTS_PREFIX) else None


def load_reason(ctx: BuildContext, table: TableSettings) -> str | None:
    recorded = recorded_load_inputs(load_path(ctx.project, table.name))
    if recorded is None or not script_path(ctx.project, table.name).is_file():
        return f"no {table.name}.load yet"
    if recorded != load_inputs_hash(ctx, table):
        return "the schema or the dialect changed"
    return None


def schema_hash(ctx: BuildContext, table: TableSettings) -> str | None:
    """The hash the import records for the committed schema (as ``build_import`` computes it)."""
    doc = try_read_artifact("table", schema_path(ctx.project, table.name))
    return None if doc is None else hash_value(doc)


def import_reason(ctx: BuildContext, table: TableSettings) -> str | None:
    """Why import:T must run: the database's record decides; the stamp when it cannot be asked."""
    records = ctx.records()
    if records is None:
        return _stamp_reason(ctx, table)
    qualified = f"{table.db_schema}.{table.table}"
    record = records.get((table.db_schema, table.table))
    doc = try_read_artifact("import", stamp_path(ctx.project, table.name))
    if record is None:
        tables = ctx.live_tables() or set()
        if (table.db_schema, table.table) not in tables:
            return "never imported"
        if stamped_here(ctx, doc):
            return f"{qualified} is not in csv2pg's record in the database yet"
        return f"{qualified} exists but was not created by csv2pg (`csv2pg build --force` replaces it)"
    if record.live_oid is None:
        return f"{qualified} is missing from the database"
    if not record.present:
        return (f"{qualified} was replaced by hand since csv2pg loaded it "
                "(`csv2pg build --force` replaces it)")
    if record.csv_hash != ctx.csv_hash(table):
        return f"the CSV changed ({table.source_text})"
    if record.schema_hash != schema_hash(ctx, table):
        return f"the schema changed ({table.name}.schema.json)"
    if record.load_hash != ctx.file_hash(load_path(ctx.project, table.name)):
        return f"{table.name}.load changed"
    _restore_stamp(ctx, table, record, doc)
    return None


def stamped_here(ctx: BuildContext, doc: dict[str, Any] | None) -> bool:
    """The build dir's stamp says csv2pg loaded the table into this very database (a table
    loaded before the database kept csv2pg's record is adopted, not refused)."""
    return doc is not None and doc["inputs"]["database"] == ctx.identity_hash()


def _restore_stamp(ctx: BuildContext, table: TableSettings, record: TableRecord,
                   doc: dict[str, Any] | None) -> None:
    """Write import.json from the database's record when the build dir lacks it (a fresh clone)."""
    identity = ctx.identity_hash()
    if identity is None or ctx._identity is None:
        return
    inputs = {"csv": record.csv_hash, "load": record.load_hash, "schema": record.schema_hash,
              "database": identity}
    if doc is not None and doc["inputs"] == inputs and doc["rows"] == record.rows:
        return
    stamp = {"table": record.qualified, "inputs": inputs, "rows": record.rows,
             "rejects": record.rejects, "engine": record.engine, "database": dict(ctx._identity),
             "started_at": record.started_at.astimezone(UTC).isoformat(timespec="seconds")
             .replace("+00:00", "Z"),
             "duration_s": round(record.duration_s, 3), "csv2pg_version": record.csv2pg_version}
    if validation_errors("import", {**stamp, "schema_version": 1}):
        return   # the stamp's format moved on: the database's record still answers
    write_artifact("import", stamp_path(ctx.project, table.name), stamp)


def _stamp_reason(ctx: BuildContext, table: TableSettings) -> str | None:
    doc = try_read_artifact("import", stamp_path(ctx.project, table.name))
    if doc is None:
        return "never imported"
    if doc["inputs"]["csv"] != ctx.csv_hash(table):
        return f"the CSV changed ({table.source_text})"
    if doc["inputs"]["load"] != ctx.file_hash(load_path(ctx.project, table.name)):
        return f"{table.name}.load changed"
    identity = ctx.identity_hash()
    if identity is None:
        return "the database does not exist yet"
    if doc["inputs"]["database"] != identity:
        return "the project points at another database"
    tables = ctx.live_tables()
    if tables is not None and (table.db_schema, table.table) not in tables:
        return f"{table.db_schema}.{table.table} is missing from the database"
    return None


def read_chunks(project: Project, name: str, chunks: int) -> list[list[dict[str, Any]]]:
    result = []
    for chunk in range(chunks):
        doc = try_read_artifact("types", chunk_path(project, name, chunk))
        if doc is None:
            raise DataError(f"chunk_{chunk}.types.json is missing", table=name)
        result.append(doc["columns"])
    return result
