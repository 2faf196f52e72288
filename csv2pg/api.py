"""The library behind the CLI: every command as a function returning a result object.

Never prints and never exits; policy (what fails a build, what is stale) lives here, and
``cli.py`` only parses arguments and renders what these functions return.
"""

from __future__ import annotations

import difflib
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from csv2pg import graph, pgtypes
from csv2pg.artifacts import try_read_artifact, write_artifact
from csv2pg.db import embedded_stop
from csv2pg.dialect import detect_dialect, open_records, read_header
from csv2pg.errors import Csv2pgError, DataError, UsageError
from csv2pg.hashing import HashCache, files_hash, hash_value
from csv2pg.identifiers import unique_identifiers
from csv2pg.manifest import load_project, single_file_project
from csv2pg.report import EventSink, TaskEvent, reporter_class
from csv2pg.settings import Project, TableSettings
from csv2pg.stages.infer import build_chunk_types, chunk_plan
from csv2pg.stages.sample import build_sample
from csv2pg.stages.schema import build_table_schema


@dataclass
class TableOutcome:
    table: str
    status: str                    # "built", "up-to-date", "failed"
    rows: int | None = None
    rejects: int | None = None
    error: str | None = None


@dataclass
class BuildResult:
    tasks: list[TaskEvent]
    tables: list[TableOutcome]
    errors: list[Csv2pgError] = field(default_factory=list)
    interrupted: bool = False
    unfinished: list[dict[str, str]] = field(default_factory=list)  # resume: what was left and why

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        if any(e.exit_code == 2 for e in self.errors):
            return 2  # a configuration error found while building (e.g. a misspelt column)
        return 1 if any(t.status == "failed" for t in self.tables) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "tables": [vars(t) for t in self.tables],
            "tasks": [{"name": e.name, "status": e.status, "message": e.message} for e in self.tasks],
            "unfinished": self.unfinished,
        }


def open_project(root: Path, flags: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None) -> Project:
    return load_project(root, flags=flags, environ=environ)


def _select(project: Project, names: list[str] | None) -> list[TableSettings]:
    if not names:
        return list(project.tables)
    known = {t.name for t in project.tables}
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise UsageError(f"no table {name!r} in the manifest",
                             path=project.manifest_path,
                             hint=f'did you mean "{close[0]}"?' if close else
                             f"tables: {', '.join(sorted(known)) or '(none)'}")
    return [t for t in project.tables if t.name in names]


def _failure_path(project: Project, name: str) -> Path:
    return project.table_build_dir(name) / "failure.json"


def plan(project: Project, names: list[str] | None = None) -> list[dict[str, str]]:
    """Every step a build would run, and why; also those whose input a step before them will remake.

    Writes nothing and starts no server.
    """
    ctx = graph.BuildContext.for_project(project, start_database=False)
    steps = graph.all_steps(ctx, _select(project, names))
    will_run: dict[str, str] = {}
    for step in steps:  # steps are in dependency order
        reason = None
        try:
            reason = step.reason()
        except Csv2pgError as error:
            reason = f"fails: {error.message}"
        if reason is None:
            upstream = [d for d in step.deps if d in will_run]
            if upstream:
                reason = f"runs after {upstream[0]}, which may change its input"
        if reason is not None:
            will_run[step.name] = reason
    return [{"name": name, "reason": reason} for name, reason in will_run.items()]


def build(project: Project, names: list[str] | None = None, *, jobs: int = 1,
          console: Console | None = None, resume: bool = False) -> BuildResult:
    """Bring the database in line with the CSVs: run every step that is not up to date."""
    tables = _select(project, names)
    unfinished = plan(project, names) if resume else []
    with graph.ProjectLock(project.build_dir):
        ctx = graph.BuildContext.for_project(project)
        steps = graph.all_steps(ctx, tables)
        sink = EventSink()
        code = graph.run_graph(ctx, steps, [f"import:{t.name}" for t in tables],
                               reporter_class(sink, console), jobs)
    return _summarise(project, tables, sink, ctx.errors, interrupted=code == 130,
                      unfinished=unfinished)


def _summarise(project: Project, tables: list[TableSettings], sink: EventSink,
               errors: dict[str, Csv2pgError], *, interrupted: bool,
               unfinished: list[dict[str, str]]) -> BuildResult:
    for event in sink.events:
        if event.status == "failed" and event.name in errors:
            event.message = errors[event.name].message
    outcomes = []
    for table in tables:
        events = [e for e in sink.events if e.name.split(":")[1] == table.name]
        failed = [e for e in events if e.status == "failed"]
        failure_path = _failure_path(project, table.name)
        if failed or not any(e.name == f"import:{table.name}" for e in events):
            task = failed[0].name if failed else f"import:{table.name}"
            error = errors.get(task)
            message = str(error) if error else (failed[0].message if failed else "did not run")
            if interrupted and not failed:
                message = "interrupted"
            outcomes.append(TableOutcome(table.name, "failed", error=message))
            short = error.message if error else message  # status shows it in a table cell
            write_artifact("failure", failure_path, {"table": table.name, "step": task,
                                                      "message": short or "failed"})
            continue
        failure_path.unlink(missing_ok=True)
        stamp = try_read_artifact("import", graph.stamp_path(project, table.name))
        ran = any(e.status == "ran" for e in events)
        outcomes.append(TableOutcome(table.name, "built" if ran else "up-to-date",
                                     rows=stamp["rows"] if stamp else None,
                                     rejects=stamp["rejects"] if stamp else None))
    return BuildResult(sink.events, outcomes, list(errors.values()), interrupted, unfinished)


def status(project: Project) -> list[dict[str, Any]]:
    """Per table: state, rows, rejects, the CSV and the last import. Starts no server."""
    steps_by_table: dict[str, list[dict[str, str]]] = {}
    for item in plan(project):
        steps_by_table.setdefault(item["name"].split(":")[1], []).append(item)
    rows = []
    for table in project.tables:
        stamp = try_read_artifact("import", graph.stamp_path(project, table.name))
        failure = try_read_artifact("failure", _failure_path(project, table.name))
        pending = steps_by_table.get(table.name, [])
        if failure is not None:
            state = "failed"
        elif stamp is None:
            state = "never-built"
        elif pending:
            state = "stale"
        else:
            state = "up-to-date"
        rows.append({
            "table": table.name,
            "state": state,
            "rows": stamp["rows"] if stamp else None,
            "rejects": stamp["rejects"] if stamp else None,
            "csv": table.source_text,
            "last_import": stamp["started_at"] if stamp else None,
            "why": (failure["message"].splitlines()[0] if failure
                    else pending[0]["reason"] if pending else None),
        })
    return rows


def analyze(csv_path: Path, *, flags: Mapping[str, Any] | None = None,
            table_entry: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Detect, profile and infer one CSV in memory; writes nothing."""
    if not csv_path.is_file():
        raise UsageError("no such file", path=csv_path)
    project = single_file_project(csv_path, flags=flags, table_entry=table_entry)
    table = project.tables[0]
    if not table.sources:
        raise UsageError("no such file", path=csv_path)
    csv_hash = files_hash(HashCache(None), table.files)
    try:
        sample = build_sample(table, csv_hash, hash_value(table.sample_options()))
    except DataError as error:
        return _refusal(table, error)
    chunks = [build_chunk_types(table, sample, c)
              for c in range(len(chunk_plan(table, [p["column"] for p in sample["columns"]])))]
    columns = [c for chunk in chunks for c in chunk]
    if not sample["problems"]:
        columns = build_table_schema(table, sample, chunks)["columns"]
    dialect = sample["dialect"]
    return {
        "dialect": {k: dialect[k] for k in ("encoding", "delimiter", "quotechar", "escapechar", "has_header")},
        "rows": sample["rows"],
        "columns": [{"name": c["header"], "column": c["column"], "type": c["type"],
                     "nullable": c["nullable"], "confidence": c["confidence"], "reason": c["reason"],
                     "source": c["source"]} for c in columns],
        "problems": sample["problems"],
    }


_PROBLEM_KINDS = (("is empty", "empty_file"), ("PostgreSQL allows at most", "too_many_columns"),
                  ("not valid", "encoding"), ("quote", "unterminated_quote"), ("NUL", "nul_characters"))


def _problem(error: DataError) -> dict[str, Any]:
    kind = next((k for text, k in _PROBLEM_KINDS if text in error.message), "unreadable")
    return {"kind": kind, "message": error.message, "line": error.line, "fix": error.hint}


def _refusal(table: TableSettings, error: DataError) -> dict[str, Any]:
    """What analyze can still say about a file the build would refuse: the dialect, the
    records read before the problem, the header, and the problem itself."""
    problems = [_problem(error)]
    overrides, claimed = table.dialect, None
    if problems[0]["kind"] == "encoding":
        # Read the structure as latin-1 (every byte decodes); report the encoding it claims.
        found = re.search(r"not valid (\S+?):", error.message)
        claimed = found.group(1) if found else None
        overrides = replace(overrides, encoding="latin-1")
    try:
        dialect = detect_dialect(table.source, overrides)
        headers = read_header(table.source, dialect)
    except DataError:
        return {"dialect": None, "rows": 0, "columns": [], "problems": problems}
    if claimed:
        dialect = replace(dialect, encoding=claimed)
    rows = 0
    try:
        for _ in open_records(table.source, replace(dialect, encoding=overrides.encoding or dialect.encoding)):
            rows += 1
    except DataError:
        pass  # rows = the records read before the problem
    reason = f"not inferred: {error.message}"
    return {
        "dialect": {k: v for k, v in dialect.as_dict().items()
                    if k in ("encoding", "delimiter", "quotechar", "escapechar", "has_header")},
        "rows": rows,
        "columns": [{"name": h, "column": c, "type": None, "nullable": None, "confidence": 0.0,
                     "reason": reason, "source": "heuristic"}
                    for h, c in zip(headers, unique_identifiers(headers), strict=True)],
        "problems": problems,
    }


def validate(csv_path: Path, *, flags: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The problems a build would have with this CSV (empty when it would load)."""
    return list(analyze(csv_path, flags=flags)["problems"])


def import_file(csv_path: Path, *, flags: Mapping[str, Any], table: str | None,
                console: Console | None) -> BuildResult:
    """Load one CSV without a manifest: the same steps, with the build dir under ./.csv2pg."""
    if not csv_path.is_file():
        raise UsageError("no such file", path=csv_path)
    entry = {"table": table} if table else {}
    project = single_file_project(csv_path, flags=flags, table_entry=entry, name=table)
    cwd = Path.cwd()
    build_dir = Path(flags.get("build_dir") or cwd / ".csv2pg").resolve()
    project = Project(root=cwd, manifest_path=None, database=project.database,
                      db_schema=project.db_schema, build_dir=build_dir,
                      schemas_dir=build_dir / "schemas", tables=project.tables, llm=project.llm)
    return build(project, console=console)


def clean(project: Project, *, everything: bool = False) -> list[Path]:
    """Remove the build artifacts (and, with ``everything``, the embedded database too)."""
    removed = []
    for table in project.tables:
        directory = project.table_build_dir(table.name)
        if directory.exists():
            shutil.rmtree(directory)
            removed.append(directory)
    for name in ("hashes.json", "doit.sqlite"):
        path = project.build_dir / name
        if path.exists():
            path.unlink()
            removed.append(path)
    if everything:
        pgdata = project.build_dir / "pg"
        if pgdata.exists():
            embedded_stop(pgdata)
            shutil.rmtree(pgdata)
            removed.append(pgdata)
    return removed


def explain(project: Project, table_name: str, column: str) -> dict[str, Any]:
    """The full evidence for one column's type: its profile, every candidate with its
    failures (values and lines), and the decision with its rule. Reads the build dir."""
    table = _select(project, [table_name])[0]
    sample = try_read_artifact("sample", graph.sample_path(project, table.name))
    if sample is None:
        raise UsageError(f"table {table.name} has no profile yet", path=project.build_dir,
                         hint=f"run `csv2pg build {table.name}` first")
    profiles = sample["columns"]
    matches = [p for p in profiles if column in (p["name"], p["column"])]
    if not matches:
        names = [p["column"] for p in profiles]
        close = difflib.get_close_matches(column, names + [p["name"] for p in profiles], n=1)
        raise UsageError(f"table {table.name} has no column {column!r}",
                         hint=f'did you mean "{close[0]}"?' if close else f"columns: {', '.join(names)}")
    profile = matches[0]
    schema = try_read_artifact("table", graph.schema_path(project, table.name))
    decisions = schema["columns"] if schema else []
    decision = next((d for d in decisions if d["column"] == profile["column"]), None)
    order = {name: i for i, name in enumerate(pgtypes.CANDIDATES)}
    candidates = [{"type": name, "failures": c["failures"], "examples": c["examples"],
                   "verdict": "eliminated" if c["failures"] else "possible"}
                  for name, c in sorted(profile["candidates"].items(),
                                        key=lambda item: order.get(item[0], len(order)))]
    stats = {k: v for k, v in profile.items() if k not in ("candidates", "values", "index", "name", "column")}
    return {"table": table.name, "header": profile["name"], "column": profile["column"],
            "rows": sample["rows"], "decision": decision, "profile": stats,
            "values": profile["values"], "candidates": candidates}
