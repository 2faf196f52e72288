"""The build graph: manifest → doit tasks, and the only module that imports doit.

Steps and artifacts (DESIGN.md):

    sample:T          CSV                      → <build>/T/sample.json
    infer:T:chunk_N   sample.json              → <build>/T/chunk_N.types.json
    schema:T          chunk_*.types.json       → <schemas>/T.schema.json   (committed)
    load:T            schema, sample.json      → <build>/T/T.load, <build>/T/T_import.sh
    import:T          T.load, CSV, database    → <build>/T/import.json     (the stamp)

A step is up to date when its output records the hashes of its inputs and options as they
are now. That is decided from the files, by ``uptodate`` callables (doit's own database is a
cache written only at the end of a run, so a killed run would otherwise lose every finished
step). The same ``reason`` functions answer ``csv2pg plan``.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import stat
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from doit.cmd_base import TaskLoader2
from doit.doit_cmd import DoitMain
from doit.loader import generate_tasks

from csv2pg.artifacts import (
    atomic_write_text,
    read_artifact,
    try_read_artifact,
    validation_errors,
    write_artifact,
)
from csv2pg.db import (
    Database,
    SwapOptions,
    connected,
    connection_identity,
    not_ours_error,
    resolve_database,
    staging_name,
)
from csv2pg.dialect import Dialect, detect_dialect, read_header
from csv2pg.errors import ConfigError, Csv2pgError, DataError
from csv2pg.hashing import HashCache, files_hash, hash_value
from csv2pg.identifiers import unique_identifiers
from csv2pg.llm.advisor import Advisor
from csv2pg.normalize import needs_normalizing
from csv2pg.settings import Project, TableSettings
from csv2pg.stages.importer import build_import
from csv2pg.stages.infer import build_advised_chunk_types, build_chunk_types, chunk_plan
from csv2pg.stages.render import build_load
from csv2pg.stages.sample import build_sample
from csv2pg.stages.schema import (
    blocking_problems,
    build_table_schema,
    facts_hash,
    overrides_hash,
    problems_error,
    types_hash,
)
from csv2pg.state import TableRecord, ownership, read_records

RENDER_VERSION = 2
INPUTS_PREFIX = "-- csv2pg-inputs: "
STEPS = ("sample", "infer", "schema", "load", "import")


# ---------------------------------------------------------------------------------------------
# Paths


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


# ---------------------------------------------------------------------------------------------
# Why a step must run (None: it is up to date)


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
        current = types_hash(_read_chunks(ctx.project, table.name, chunks))
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
        if _stamped_here(ctx, doc):
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


def _stamped_here(ctx: BuildContext, doc: dict[str, Any] | None) -> bool:
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


# ---------------------------------------------------------------------------------------------
# Actions: module-level functions with plain arguments


def _read_chunks(project: Project, name: str, chunks: int) -> list[list[dict[str, Any]]]:
    result = []
    for chunk in range(chunks):
        doc = try_read_artifact("types", chunk_path(project, name, chunk))
        if doc is None:
            raise DataError(f"chunk_{chunk}.types.json is missing", table=name)
        result.append(doc["columns"])
    return result


def _guarded(task_name: str, ctx: BuildContext, body: Callable[[], dict[str, Any] | None]) -> Any:
    """Run a step; an expected failure is kept for the report and fails the task without a traceback."""
    try:
        return body() or {}
    except Csv2pgError as error:
        if error.table is None:
            error.table = task_name.split(":")[1]
        ctx.errors[task_name] = error
        return False


def run_sample(ctx: BuildContext, table: TableSettings) -> Any:
    def body() -> dict[str, Any]:
        csv_hash = ctx.csv_hash(table)
        doc = build_sample(table, csv_hash, hash_value(table.sample_options()))
        write_artifact("sample", sample_path(ctx.project, table.name), doc)
        ctx.hashes.save()
        return {"rows": doc["rows"], "columns": len(doc["columns"])}
    return _guarded(f"sample:{table.name}", ctx, body)


def run_infer(ctx: BuildContext, table: TableSettings, chunk: int) -> Any:
    def body() -> None:
        path = sample_path(ctx.project, table.name)
        sample = try_read_artifact("sample", path)
        if sample is None:
            raise DataError("sample.json is missing or unreadable", path=path)
        sample_hash = ctx.file_hash(path)
        assert sample_hash is not None
        doc: dict[str, Any] = {"table": table.name, "chunk": chunk,
                               "inputs": {"sample": sample_hash, "options": hash_value(table.infer_options())}}
        if table.inference == "llm":
            doc["columns"], doc["llm"] = build_advised_chunk_types(table, sample, chunk, ctx.advisor, sample_hash)
        else:
            doc["columns"] = build_chunk_types(table, sample, chunk)
        write_artifact("types", chunk_path(ctx.project, table.name, chunk), doc)
    return _guarded(f"infer:{table.name}:chunk_{chunk}", ctx, body)


def run_schema(ctx: BuildContext, table: TableSettings, chunks: int) -> Any:
    def body() -> None:
        sample = try_read_artifact("sample", sample_path(ctx.project, table.name))
        if sample is None:
            raise DataError("sample.json is missing or unreadable", table=table.name)
        doc = build_table_schema(table, sample, _read_chunks(ctx.project, table.name, chunks))
        write_artifact("table", schema_path(ctx.project, table.name), doc)
    return _guarded(f"schema:{table.name}", ctx, body)


def run_load(ctx: BuildContext, table: TableSettings) -> Any:
    def body() -> None:
        schema = read_artifact("table", schema_path(ctx.project, table.name))
        sample = read_artifact("sample", sample_path(ctx.project, table.name))
        inputs = load_inputs_hash(ctx, table)
        # sample:T read every byte of these files with this encoding (it fails on any that
        # is not valid), so the scan need not decode them again.
        reason = needs_normalizing(Dialect.from_dict(sample["dialect"]), table.files,
                                   encoding_checked=True)
        load_text, script_text = build_load(schema, sample["dialect"], sample["rows"],
                                            staging_name(table.table), normalized=reason)
        atomic_write_text(load_path(ctx.project, table.name), f"{INPUTS_PREFIX}{inputs}\n{load_text}")
        script = script_path(ctx.project, table.name)
        atomic_write_text(script, script_text)
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return _guarded(f"load:{table.name}", ctx, body)


def resolve_indexes(table: TableSettings, schema: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
    """``indexes`` of [tables.T] as column identifiers (headers or column names accepted)."""
    by_name = {**{str(c["header"]): str(c["column"]) for c in schema["columns"]},
               **{str(c["column"]): str(c["column"]) for c in schema["columns"]}}
    resolved = []
    for columns in table.indexes:
        for name in columns:
            if name not in by_name:
                close = difflib.get_close_matches(name, sorted(by_name), n=1, cutoff=0.5)
                raise ConfigError(
                    f"indexes in [tables.{table.name}] names a column {name!r} that "
                    f"{table.source_text} does not have", key=f"tables.{table.name}.indexes",
                    table=table.name, hint=f'did you mean "{close[0]}"?' if close else
                    f"the columns are: {', '.join(str(c['column']) for c in schema['columns'])}")
        resolved.append(tuple(by_name[name] for name in columns))
    return tuple(resolved)


def swap_options(ctx: BuildContext, table: TableSettings, schema: dict[str, Any]) -> SwapOptions:
    """Indexes and ownership for the swap; refuses, before anything loads, to replace a table
    csv2pg did not create (unless --force, or the build dir's stamp shows csv2pg loaded it
    here before the database kept csv2pg's record)."""
    indexes = resolve_indexes(table, schema)
    force = ctx.force
    if not force:
        with connected(ctx.database) as conn:
            owner = ownership(conn, table.db_schema, table.table)
        if owner == "foreign":
            doc = try_read_artifact("import", stamp_path(ctx.project, table.name))
            records = ctx.records() or {}
            if (table.db_schema, table.table) in records or not _stamped_here(ctx, doc):
                raise not_ours_error(f"{table.db_schema}.{table.table}")
            force = True
    return SwapOptions(indexes=indexes, force=force, project=ctx.project.name)


def _size(files: tuple[Path, ...]) -> int:
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def run_import(ctx: BuildContext, table: TableSettings) -> Any:
    def body() -> dict[str, Any]:
        schema = read_artifact("table", schema_path(ctx.project, table.name))
        sample = read_artifact("sample", sample_path(ctx.project, table.name))
        blocking = blocking_problems(table, sample)
        if blocking:
            # The schema may still be up to date (same decisions) when new rows are broken.
            raise problems_error(table, {**sample, "problems": blocking})
        load = load_path(ctx.project, table.name)
        load_hash = ctx.file_hash(load)
        assert load_hash is not None
        options = swap_options(ctx, table, schema)
        on_progress, finished = (ctx.progress(table.name, _size(table.files)) if ctx.progress
                                 else (None, None))
        try:
            stamp = build_import(
                table_name=table.table, table_schema=schema, sample=sample, load_file=load,
                csv_path=table.source, csv_files=table.files, csv_hash=ctx.csv_hash(table),
                load_hash=load_hash,
                database=ctx.database, work_dir=ctx.project.table_build_dir(table.name),
                max_rejects=table.max_rejects,
                swap_options=options, on_progress=on_progress,
                engine=table.engine, mode=table.mode)
        finally:
            if finished is not None:
                finished()
        write_artifact("import", stamp_path(ctx.project, table.name), stamp)
        return {"rows": stamp["rows"], "rejects": stamp["rejects"],
                **({"notice": stamp["notice"]} if "notice" in stamp else {})}
    return _guarded(f"import:{table.name}", ctx, body)


# ---------------------------------------------------------------------------------------------
# Task dicts


def _uptodate(reason: Callable[[], str | None]) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return reason() is None
        except Csv2pgError:
            return False  # the action will run and report the problem properly
    return check


@dataclass(frozen=True)
class StepSpec:
    """One step of the graph, before doit sees it."""

    name: str
    basename: str
    subname: str
    deps: tuple[str, ...]
    targets: tuple[Path, ...]
    action: tuple[Callable[..., Any], tuple[Any, ...]]
    reason: Callable[[], str | None]
    table: str


def table_steps(ctx: BuildContext, table: TableSettings) -> list[StepSpec]:
    p, n = ctx.project, table.name
    try:
        chunks = len(chunk_plan(table, column_names(ctx, table)))
    except Csv2pgError:
        chunks = 1  # sample:T fails with this same error, for this table only
    steps = [StepSpec(f"sample:{n}", "sample", n, (), (sample_path(p, n),),
                      (run_sample, (ctx, table)), lambda: sample_reason(ctx, table), n)]
    if ctx.locked:
        # --locked: the committed schema is the answer; no inference, and it is never rewritten.
        return [*steps,
                StepSpec(f"load:{n}", "load", n, (f"sample:{n}",), (load_path(p, n), script_path(p, n)),
                         (run_load, (ctx, table)), lambda: load_reason(ctx, table), n),
                StepSpec(f"import:{n}", "import", n, (f"load:{n}",), (stamp_path(p, n),),
                         (run_import, (ctx, table)), lambda: import_reason(ctx, table), n)]
    for c in range(chunks):
        steps.append(StepSpec(f"infer:{n}:chunk_{c}", "infer", f"{n}:chunk_{c}", (f"sample:{n}",),
                              (chunk_path(p, n, c),), (run_infer, (ctx, table, c)),
                              lambda c=c: chunk_reason(ctx, table, c), n))  # type: ignore[misc]
    steps.append(StepSpec(f"schema:{n}", "schema", n, tuple(f"infer:{n}:chunk_{c}" for c in range(chunks)),
                          (schema_path(p, n),), (run_schema, (ctx, table, chunks)),
                          lambda: schema_reason(ctx, table, chunks), n))
    steps.append(StepSpec(f"load:{n}", "load", n, (f"schema:{n}",), (load_path(p, n), script_path(p, n)),
                          (run_load, (ctx, table)), lambda: load_reason(ctx, table), n))
    steps.append(StepSpec(f"import:{n}", "import", n, (f"load:{n}",), (stamp_path(p, n),),
                          (run_import, (ctx, table)), lambda: import_reason(ctx, table), n))
    return steps


def all_steps(ctx: BuildContext, tables: list[TableSettings] | None = None) -> list[StepSpec]:
    steps: list[StepSpec] = []
    for table in ctx.project.tables if tables is None else tables:
        steps.extend(table_steps(ctx, table))
    return steps


def to_task_dicts(steps: list[StepSpec]) -> dict[str, list[dict[str, Any]]]:
    by_base: dict[str, list[dict[str, Any]]] = {base: [] for base in STEPS}
    for step in steps:
        by_base[step.basename].append({
            "name": step.subname,
            "actions": [step.action],
            "task_dep": list(step.deps),
            "targets": [str(t) for t in step.targets],
            "uptodate": [_uptodate(step.reason)],
            "io": {"capture": False},  # doit's capture swaps sys.stdout globally: unsafe with threads
            "meta": {"table": step.table},
            "doc": f"{step.basename} step of table {step.table}",
        })
    return by_base


class GraphLoader(TaskLoader2):  # type: ignore[misc]
    """Serves the graph to doit (``DoitMain(GraphLoader(...)).run(argv)``)."""

    def __init__(self, steps: list[StepSpec], config: dict[str, Any]) -> None:
        super().__init__()
        self.steps = steps
        self.doit_settings = config  # not `self.config`: doit assigns that attribute itself

    def setup(self, opt_values: dict[str, Any]) -> None:
        pass

    def load_doit_config(self) -> dict[str, Any]:
        return self.doit_settings

    def load_tasks(self, cmd: Any, pos_args: list[str]) -> list[Any]:
        tasks: list[Any] = []
        for base, dicts in to_task_dicts(self.steps).items():
            if dicts:
                tasks += generate_tasks(base, (d for d in dicts), f"{base} steps")
        return tasks


def doit_config(project: Project, reporter: type, jobs: int) -> dict[str, Any]:
    return {
        "dep_file": str(project.build_dir / "doit.sqlite"),
        "backend": "sqlite3",
        "verbosity": 0,
        "reporter": reporter,
        "num_process": jobs if jobs > 1 else 0,
        "par_type": "thread",
        "continue": True,  # like make -k: one table's failure does not stop the others
    }


class ProjectLock:
    """An exclusive lock on the build directory, so two builds never interleave."""

    def __init__(self, build_dir: Path) -> None:
        self.path = build_dir / "lock"
        self._handle: Any = None

    def __enter__(self) -> ProjectLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "w")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.close()
            raise Csv2pgError("another csv2pg build is running in this project", path=self.path.parent,
                              hint="wait for it to finish, or stop it") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()


def run_graph(ctx: BuildContext, steps: list[StepSpec], selected: list[str], reporter: type,
              jobs: int = 1) -> int:
    """Run ``selected`` tasks (and what they depend on). Returns doit's exit code (130 on Ctrl-C)."""
    ctx.project.build_dir.mkdir(parents=True, exist_ok=True)
    loader = GraphLoader(steps, doit_config(ctx.project, reporter, jobs))
    saved = sys.stdout, sys.stderr
    try:
        code = DoitMain(loader, config_filenames=()).run(["run", *selected])
    except KeyboardInterrupt:
        code = 130
    finally:
        ctx.hashes.save()
        sys.stdout, sys.stderr = saved  # doit may leave them swapped (tech.md 1.6)
    return int(code or 0)
