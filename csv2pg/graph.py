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
step). The reasons are ``csv2pg.freshness``'s (they also answer ``csv2pg plan``); the
context the steps share and the artifacts' paths are ``csv2pg.context``'s.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doit.cmd_base import TaskLoader2
from doit.doit_cmd import DoitMain
from doit.loader import generate_tasks

from csv2pg.artifacts import (
    atomic_write_text,
    read_artifact,
    try_read_artifact,
    write_artifact,
)
from csv2pg.context import (
    BuildContext,
    chunk_path,
    column_names,
    load_path,
    sample_path,
    schema_path,
    script_path,
    stamp_path,
)
from csv2pg.db import (
    SwapOptions,
    connected,
    not_ours_error,
    staging_name,
)
from csv2pg.dialect import Dialect
from csv2pg.errors import ConfigError, Csv2pgError, DataError
from csv2pg.freshness import (
    INPUTS_PREFIX,
    chunk_reason,
    import_reason,
    load_inputs_hash,
    load_reason,
    read_chunks,
    sample_reason,
    schema_reason,
    stamped_here,
)
from csv2pg.hashing import hash_value
from csv2pg.normalize import needs_normalizing
from csv2pg.settings import Project, TableSettings
from csv2pg.stages.importer import build_import
from csv2pg.stages.infer import build_advised_chunk_types, build_chunk_types, chunk_plan
from csv2pg.stages.render import build_load
from csv2pg.stages.sample import build_sample
from csv2pg.stages.schema import (
    blocking_problems,
    build_table_schema,
    problems_error,
)
from csv2pg.state import ownership

STEPS = ("sample", "infer", "schema", "load", "import")


# ---------------------------------------------------------------------------------------------
# Actions: module-level functions with plain arguments


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
        doc = build_table_schema(table, sample, read_chunks(ctx.project, table.name, chunks))
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
            if (table.db_schema, table.table) in records or not stamped_here(ctx, doc):
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
