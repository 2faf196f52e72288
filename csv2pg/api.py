"""The library behind the CLI: every command as a function returning a result object.

Never prints and never exits; policy (what fails a build, what is stale) lives here, and
``cli.py`` only parses arguments and renders what these functions return.
"""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from csv2pg import formats, graph, pgtypes
from csv2pg.artifacts import try_read_artifact, write_artifact
from csv2pg.context import BuildContext, sample_path, schema_path, stamp_path
from csv2pg.contract import LockedError, check_locked
from csv2pg.db import check_rights, drop_owned, embedded_stop
from csv2pg.dialect import detect_dialect, open_records, read_header
from csv2pg.engines.pgloader import pgloader_available, pgloader_executable
from csv2pg.errors import Csv2pgError, DataError, UsageError
from csv2pg.freshness import schema_hash
from csv2pg.hashing import HashCache, files_hash, hash_value
from csv2pg.identifiers import unique_identifiers
from csv2pg.llm.advisor import Advisor
from csv2pg.llm.cache import user_cache_dir
from csv2pg.manifest import load_project, single_file_project
from csv2pg.report import EventSink, ImportBars, TaskEvent, reporter_class
from csv2pg.settings import Project, TableSettings
from csv2pg.stages.infer import build_advised_chunk_types, build_chunk_types, chunk_plan
from csv2pg.stages.sample import build_sample
from csv2pg.stages.schema import build_table_schema
from csv2pg.state import TableRecord


@dataclass
class TableOutcome:
    table: str
    status: str                    # "built", "up-to-date", "failed"
    rows: int | None = None
    rejects: int | None = None
    error: str | None = None
    notice: str | None = None      # what the import did differently from what was asked


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
    ctx = BuildContext.for_project(project, start_database=False)
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
          console: Console | None = None, resume: bool = False, force: bool = False,
          locked: bool = False) -> BuildResult:
    """Bring the database in line with the CSVs: run every step that is not up to date.

    ``force`` replaces tables csv2pg did not create. ``locked`` (CI) uses the committed
    schemas as they are: the CSVs are profiled, and when one no longer fits its schema's
    contract the build fails (``contract.LockedError``) before the database is touched.
    """
    tables = _select(project, names)
    unfinished = plan(project, names) if resume else []
    with graph.ProjectLock(project.build_dir):
        ctx = BuildContext.for_project(project, force=force, locked=locked)
        bars = ImportBars(console) if console is not None else None
        ctx.progress = bars.table if bars is not None else None
        if locked:
            _check_locked(ctx, tables, jobs)
        preflight(ctx, tables)
        steps = graph.all_steps(ctx, tables)
        sink = EventSink()
        code = graph.run_graph(ctx, steps, [f"import:{t.name}" for t in tables],
                               reporter_class(sink, console, bars), jobs)
    return _summarise(project, tables, sink, ctx.errors, interrupted=code == 130,
                      unfinished=unfinished)


PGLOADER_MIN_VERSION = (3, 6)


def preflight(ctx: BuildContext, tables: list[TableSettings]) -> None:
    """Before any step runs: the database answers and the role has the rights a build needs;
    the pgloader the tables would use is recent enough. Raises DatabaseError / DataError."""
    check_rights(ctx.database, sorted({t.db_schema for t in tables}),
                 [(t.db_schema, t.table) for t in tables])
    if any(t.engine == "pgloader" for t in tables) and pgloader_available():
        check_pgloader_version()


def check_pgloader_version() -> None:
    """``pgloader --version`` must say 3.6 or later (Debian's 3.6.x is what csv2pg targets)."""
    try:
        done = subprocess.run([pgloader_executable(), "--version"], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30, check=False)
        text = done.stdout + done.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"pgloader does not answer `pgloader --version`: {exc}",
                        hint="reinstall pgloader (apt-get install pgloader), or use engine = "
                             "\"copy\" in [defaults]") from None
    found = re.search(r"pgloader version \"?(\d+)\.(\d+)", text)
    if found is None or (int(found.group(1)), int(found.group(2))) < PGLOADER_MIN_VERSION:
        said = " ".join(text.split())[:80] or f"exit status {done.returncode}"
        raise DataError(f"csv2pg needs pgloader 3.6 or later; `pgloader --version` says: {said}",
                        hint="install pgloader 3.6+ (apt-get install pgloader on Debian 11+/Ubuntu "
                             "22.04+), or use engine = \"copy\" in [defaults]")


def _check_locked(ctx: BuildContext, tables: list[TableSettings], jobs: int) -> None:
    """--locked: profile every table (sample steps only), then refuse, before the database is
    touched, when a CSV no longer fits its committed schema, listing every change."""
    steps = graph.all_steps(ctx, tables)
    code = graph.run_graph(ctx, steps, [f"sample:{t.name}" for t in tables],
                           reporter_class(EventSink(), None), jobs)
    if code == 130:
        raise KeyboardInterrupt
    problems: list[str] = []
    for table in tables:
        error = ctx.errors.pop(f"sample:{table.name}", None)
        sample = try_read_artifact("sample", sample_path(ctx.project, table.name))
        if error is not None or sample is None:
            problems.append(f"{table.name}: {error.message if error else 'the CSV could not be profiled'}")
            continue
        schema = try_read_artifact("table", schema_path(ctx.project, table.name))
        problems += [f"{table.name}.{change}" if not change.startswith(("no committed", "the ", "["))
                     else f"{table.name}: {change}" for change in check_locked(table, schema, sample)]
    if problems:
        raise LockedError(
            "the data no longer fits the committed schemas (--locked); nothing was loaded:\n  "
            + "\n  ".join(problems),
            hint="run `csv2pg build` without --locked, review the new schemas (git diff schemas/) "
                 "and commit them; or fix the data")


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
        stamp = try_read_artifact("import", stamp_path(project, table.name))
        ran = any(e.status == "ran" and e.name.startswith("import:") for e in events)
        outcomes.append(TableOutcome(table.name, "built" if ran else "up-to-date",
                                     rows=stamp["rows"] if stamp else None,
                                     rejects=stamp["rejects"] if stamp else None,
                                     notice=stamp.get("notice") if stamp and ran else None))
    return BuildResult(sink.events, outcomes, list(errors.values()), interrupted, unfinished)


def status(project: Project) -> list[dict[str, Any]]:
    """Per table: state, rows, rejects, the CSV, the last import and, unless up to date, why.

    The database's record (``csv2pg.tables``) answers when it can be asked without starting
    the embedded server; the build directory's stamps otherwise. Tables csv2pg loaded that
    the manifest no longer lists come last, in state ``removed`` (``csv2pg prune`` drops them).
    Starts no server.
    """
    steps_by_table: dict[str, list[dict[str, str]]] = {}
    for item in plan(project):
        steps_by_table.setdefault(item["name"].split(":")[1], []).append(item)
    ctx = BuildContext.for_project(project, start_database=False)
    records = _records_or_none(ctx)
    rows = []
    for table in project.tables:
        stamp = try_read_artifact("import", stamp_path(project, table.name))
        failure = try_read_artifact("failure", _failure_path(project, table.name))
        record = (records or {}).get((table.db_schema, table.table))
        gone = record is not None and not record.present   # dropped or replaced by hand
        if gone:
            record = None
        pending = steps_by_table.get(table.name, [])
        loaded = record is not None or gone or (records is None and stamp is not None)
        if failure is not None:
            state = "failed"
        elif not loaded:
            state = "never-built"
        elif record is not None and _holds_current(ctx, table, record):
            state, pending = "up-to-date", []
        elif record is not None:
            state = "stale"
            pending = [{"name": f"import:{table.name}", "reason": _record_why(ctx, table, record)}]
        elif pending:
            state = "stale"
        else:
            state = "up-to-date"
        rows.append({
            "table": table.name,
            "state": state,
            "rows": record.rows if record else stamp["rows"] if stamp and loaded else None,
            "rejects": record.rejects if record else stamp["rejects"] if stamp and loaded else None,
            "csv": table.source_text,
            "last_import": (_iso(record.started_at) if record else
                            stamp["started_at"] if stamp and loaded else None),
            "why": (failure["message"].splitlines()[0] if failure
                    else pending[0]["reason"] if pending and state != "never-built" else None),
        })
    for record in _removed(project, records):
        rows.append({"table": record.qualified, "state": "removed", "rows": record.rows,
                     "rejects": record.rejects, "csv": None, "last_import": _iso(record.started_at),
                     "why": "not in csv2pg.toml any more; `csv2pg prune` drops it"})
    return rows


def _records_or_none(ctx: BuildContext) -> dict[tuple[str, str], TableRecord] | None:
    try:
        return ctx.records()
    except Csv2pgError:
        return None   # an unreachable database: the stamps answer


def _holds_current(ctx: BuildContext, table: TableSettings, record: TableRecord) -> bool:
    """The database holds this CSV under the committed schema (build dir or not)."""
    try:
        return (record.csv_hash == ctx.csv_hash(table)
                and record.schema_hash == schema_hash(ctx, table))
    except Csv2pgError:
        return False


def _record_why(ctx: BuildContext, table: TableSettings, record: TableRecord) -> str:
    """Which input differs from what the database holds."""
    try:
        if record.csv_hash != ctx.csv_hash(table):
            return f"the CSV changed ({table.source_text})"
    except Csv2pgError as error:
        return error.message
    return f"the schema changed ({table.name}.schema.json)"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _removed(project: Project, records: dict[tuple[str, str], TableRecord] | None) -> list[TableRecord]:
    """Tables this project (``project.name``) loaded in its schema that the manifest no longer lists."""
    if not records:
        return []
    listed = {(t.db_schema, t.table) for t in project.tables}
    schemas = {t.db_schema for t in project.tables} | {project.db_schema}
    return [r for key, r in sorted(records.items())
            if key not in listed and r.db_schema in schemas and r.present and r.project == project.name]


def prune(project: Project, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """Drop the tables csv2pg loaded that the manifest no longer lists (in the project's
    schemas, and only tables csv2pg created); with ``dry_run`` only list them. Asks nothing."""
    ctx = BuildContext.for_project(project)
    records = ctx.records() or {}
    result = []
    for record in _removed(project, records):
        entry = {"table": record.qualified, "rows": record.rows, "dropped": False}
        if not dry_run:
            drop_owned(ctx.database, record.db_schema, record.table)
            entry["dropped"] = True
        result.append(entry)
    return result


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
    chunk_count = len(chunk_plan(table, [p["column"] for p in sample["columns"]]))
    advice: list[dict[str, Any]] = []
    if table.inference == "llm":
        # No project: answers are cached in the user's cache directory.
        advisor = Advisor(user_cache_dir())
        advised = [build_advised_chunk_types(table, sample, c, advisor, csv_hash) for c in range(chunk_count)]
        chunks = [chunk_columns for chunk_columns, _ in advised]
        advice = [record for _, record in advised]
    else:
        chunks = [build_chunk_types(table, sample, c) for c in range(chunk_count)]
    columns = [c for chunk in chunks for c in chunk]
    if not sample["problems"]:
        columns = build_table_schema(table, sample, chunks)["columns"]
    dialect = sample["dialect"]
    result = {
        "dialect": {k: dialect[k] for k in ("encoding", "delimiter", "quotechar", "escapechar", "has_header")},
        "rows": sample["rows"],
        "columns": [{"name": c["header"], "column": c["column"], "type": c["type"],
                     "nullable": c["nullable"], "confidence": c["confidence"], "reason": c["reason"],
                     "source": c["source"], **({"comment": c["comment"]} if "comment" in c else {})}
                    for c in columns],
        "problems": sample["problems"],
    }
    if advice:
        result["llm"] = advice  # per chunk: each column's heuristic choice, suggestion, winner and why
    return result


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
                      schemas_dir=build_dir / "schemas", tables=project.tables, llm=project.llm,
                      name=cwd.name)
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
    sample = try_read_artifact("sample", sample_path(project, table.name))
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
    schema = try_read_artifact("table", schema_path(project, table.name))
    decisions = schema["columns"] if schema else []
    decision = next((d for d in decisions if d["column"] == profile["column"]), None)
    order = {name: i for i, name in enumerate(pgtypes.CANDIDATES)}
    candidates = [{"type": name, "failures": c["failures"], "examples": c["examples"],
                   "verdict": "eliminated" if c["failures"] else "possible"}
                  for name, c in sorted(profile["candidates"].items(),
                                        key=lambda item: order.get(item[0], len(order)))]
    # Value formats (thousands separators, decimal commas, non-ISO dates) proven like types.
    candidates += [{"type": formats.key(e["format"]), "failures": e["failures"],
                    "examples": e["examples"], "verdict": "eliminated" if e["failures"] else "possible"}
                   for e in profile.get("formats", ())]
    stats = {k: v for k, v in profile.items()
             if k not in ("candidates", "values", "index", "name", "column", "formats")}
    advice = None  # inference = "llm": the model's suggestion for this column and its fate
    for path in sorted(project.table_build_dir(table.name).glob("chunk_*.types.json")):
        chunk_doc = try_read_artifact("types", path)
        for record in (chunk_doc or {}).get("llm", {}).get("columns", []):
            if record["column"] == profile["column"]:
                advice = record
    return {"table": table.name, "header": profile["name"], "column": profile["column"],
            "rows": sample["rows"], "decision": decision, "profile": stats,
            "values": profile["values"], "candidates": candidates, "llm": advice}
