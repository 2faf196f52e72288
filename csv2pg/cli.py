"""The command line: argparse sub-commands over ``csv2pg.api``.

``main(argv) -> int`` parses, calls the library, renders the result. Expected failures
(``Csv2pgError``) are caught here, once, and printed without a traceback; the exit code is
0 success, 1 data or database failure, 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from csv2pg import api
from csv2pg.errors import EXIT_CONFIG, Csv2pgError, UsageError
from csv2pg.manifest import SETTINGS, parse_bool

DESCRIPTION = """\
Turn a repository of CSV files into well-typed PostgreSQL tables.

csv2pg.toml declares which CSVs become which tables. `csv2pg build` profiles each CSV,
infers PostgreSQL types over the whole file, writes a reviewable schema to schemas/,
generates a pgloader command file and loads the data. Only steps whose inputs changed
run again, so an interrupted build resumes where it stopped.

Start with:  csv2pg init && csv2pg build && csv2pg status
"""

EPILOG = """\
Settings are taken from, in order: command-line flag, CSV2PG_* environment variable,
csv2pg.toml, built-in default. Exit codes: 0 success, 1 data or database failure,
2 usage or configuration error.
"""


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _add_settings(parser: argparse.ArgumentParser, sections: Sequence[str]) -> None:
    group = parser.add_argument_group("settings (override CSV2PG_* variables and csv2pg.toml)")
    for setting in SETTINGS:
        if setting.section not in sections:
            continue
        names = [setting.flag]
        if setting.key == "database":
            names.append("--db-url")
        group.add_argument(*names, dest=setting.dest, type=parse_bool if setting.kind is bool else setting.kind,
                           default=None, metavar=setting.key.upper(), help=f"{setting.help} [{setting.env}]")
    if "llm" in sections:
        group.add_argument("--no-cache", dest="no_cache", action="store_true", default=None,
                           help="ask the LLM again instead of reusing cached answers")


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (json is a stable interface)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csv2pg", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-C", dest="directory", metavar="DIR", type=Path,
                        help="run as if started in DIR (where csv2pg.toml is)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="say more")
    parser.add_argument("--version", action="version", version=f"csv2pg {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=summary, description=f"{summary}\n\n{description}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="say more (list every step)")
        return p

    p = command("init", "write or extend csv2pg.toml for the CSV files here",
                "Finds CSV files (default: *.csv, *.tsv and *.psv, recursively) and writes a commented\n"
                "csv2pg.toml with one [tables.NAME] entry each. Run it again after adding files: new\n"
                "files are appended and your comments and edits are kept.\n\n"
                "  csv2pg init                 # every CSV under this directory\n"
                "  csv2pg init 'data/*.csv'    # only these")
    p.add_argument("globs", nargs="*", metavar="GLOB", help="file patterns, relative to the project")

    for name, summary, extra in (
        ("build", "build every stale table: profile, infer, schema, load, import",
         "Runs only the steps whose inputs changed. A failed table does not stop the others;\n"
         "the exit code is 1 when any table failed.\n\n  csv2pg build\n  csv2pg build orders customers -j 2"),
        ("resume", "say which steps were left unfinished and why, then build",
         "The same as build, after listing the steps an interrupted build left undone."),
    ):
        p = command(name, summary, extra)
        p.add_argument("tables", nargs="*", metavar="TABLE", help="manifest table names (default: all)")
        p.add_argument("-j", "--jobs", type=int, default=1, help="steps to run at once (default 1)")
        p.add_argument("--force", action="store_true",
                       help="replace tables csv2pg did not create (their rows are lost; grants, "
                            "comments and plain views are kept)")
        p.add_argument("--locked", action="store_true",
                       help="for CI: use the committed schemas as they are; fail (exit 1) before "
                            "touching the database when a CSV no longer fits its schema")
        _add_format(p)
        _add_settings(p, ("project", "defaults", "llm"))

    p = command("plan", "list the steps a build would run, and why; changes nothing",
                "Includes steps that will run because a step before them will remake their input.\n\n"
                "  csv2pg plan --format json")
    p.add_argument("tables", nargs="*", metavar="TABLE")
    _add_format(p)
    _add_settings(p, ("project", "defaults", "llm"))

    p = command("status", "show each table's state, rows, rejects and last import",
                "States: up-to-date, stale (an input changed; `why` says which), failed, never-built.")
    _add_format(p)
    _add_settings(p, ("project", "defaults", "llm"))

    p = command("prune", "drop the tables csv2pg loaded that csv2pg.toml no longer lists",
                "Only tables csv2pg created (its record in the schema csv2pg marks them), in the\n"
                "project's schema. Lists what it drops and asks nothing; `csv2pg status` shows them\n"
                "first as `removed`.\n\n  csv2pg prune --dry-run\n  csv2pg prune")
    p.add_argument("--dry-run", action="store_true", help="list the tables, drop nothing")
    _add_format(p)
    _add_settings(p, ("project",))

    p = command("analyze", "detect the dialect and infer the types of one CSV (no manifest needed)",
                "Reads the whole file, writes nothing.\n\n  csv2pg analyze data/orders.csv --format json")
    p.add_argument("file", type=Path)
    _add_format(p)
    _add_settings(p, ("defaults", "llm"))

    p = command("explain", "show the evidence behind one column's type",
                "The decision and its rule, the column's profile over the whole file, and every\n"
                "candidate type with its failure count and the first failing values with their\n"
                "line numbers. Reads the build directory: run `csv2pg build` first.\n\n"
                "  csv2pg explain orders amount")
    p.add_argument("table", help="manifest table name")
    p.add_argument("column", help="header or column name")
    _add_format(p)
    _add_settings(p, ("project",))

    p = command("validate", "list the problems a build would have with one CSV, with line numbers",
                "Exit 0 when the file would load, 1 when it has problems.")
    p.add_argument("file", type=Path)
    _add_format(p)

    p = command("import", "load one CSV into a table without a manifest",
                "Uses ./.csv2pg as build directory and the embedded database unless --database is given.\n\n"
                "  csv2pg import data/orders.csv --table orders")
    p.add_argument("file", type=Path)
    p.add_argument("--table", help="table name (default: from the file name)")
    _add_settings(p, ("project", "defaults"))

    p = command("clean", "remove build artifacts (the committed schemas stay)",
                "With --all the embedded database under the build directory is stopped and removed too.")
    p.add_argument("--all", action="store_true", dest="everything", help="also remove the embedded database")
    _add_settings(p, ("project",))

    p = command("db", "the project's database: url, shell, start, stop, status",
                "Without `database` in csv2pg.toml the project uses an embedded PostgreSQL under\n"
                "<build_dir>/pg, started on demand; it keeps running until `csv2pg db stop`.\n\n"
                "  psql \"$(csv2pg db url)\"")
    p.add_argument("action", choices=("url", "shell", "start", "stop", "status"))
    _add_settings(p, ("project",))
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("csv2pg")
    except PackageNotFoundError:
        return "0+unknown"


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags = {s.dest: getattr(args, s.dest, None) for s in SETTINGS if getattr(args, s.dest, None) is not None}
    if getattr(args, "no_cache", None):
        flags["no_cache"] = True
    return flags


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr(args.verbose)
    try:
        if args.directory is not None:
            if not args.directory.is_dir():
                raise UsageError("-C: no such directory", path=args.directory)
            os.chdir(args.directory)
        return _dispatch(args)
    except Csv2pgError as error:
        _stderr().print(Text.assemble(("error: ", "bold red"), str(error)))
        return error.exit_code
    except KeyboardInterrupt:
        _stderr().print("interrupted")
        return 130


class _StderrHandler(logging.Handler):
    """The library's log records (``csv2pg.*``): warnings always, the rest with -v."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "warning: " if record.levelno >= logging.WARNING else ""
        sys.stderr.write(prefix + record.getMessage() + "\n")


def _log_to_stderr(verbosity: int) -> None:
    logger = logging.getLogger("csv2pg")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    logger.addHandler(_StderrHandler())
    logger.setLevel(logging.INFO if verbosity else logging.WARNING)


def _dispatch(args: argparse.Namespace) -> int:
    handler = globals()[f"cmd_{args.command}"]
    return int(handler(args))


def _project(args: argparse.Namespace) -> Any:
    return api.open_project(Path.cwd(), _flags(args))


def cmd_init(args: argparse.Namespace) -> int:
    from csv2pg import scaffold

    result = scaffold.init_manifest(Path.cwd(), args.globs)
    err = _stderr()
    if result.created:
        err.print(f"wrote {result.path.name} with {len(result.added)} table(s)")
    elif result.added:
        err.print(f"added {len(result.added)} table(s) to {result.path.name}")
    else:
        err.print(f"{result.path.name} already lists every CSV found; nothing to add")
    for name, source in result.added:
        err.print(f"  [tables.{name}]  {source}", markup=False)
    if not result.added and result.created:
        return EXIT_CONFIG
    return 0


def _render_build(args: argparse.Namespace, result: api.BuildResult) -> int:
    if args.format == "json":
        _print_json(result.to_json())
        return result.exit_code
    err = _stderr()
    if args.verbose:
        for event in result.tasks:
            detail = f": {event.message}" if event.message else ""
            err.print(f"  {event.status:<10} {event.name}{detail}", markup=False)
    for item in result.unfinished:
        err.print(f"unfinished: {item['name']}: {item['reason']}", markup=False)
    for outcome in result.tables:
        if outcome.status == "failed":
            err.print(Text.assemble((f"✗ {outcome.table}", "red"), f": {outcome.error}"))
        elif outcome.status == "built":
            err.print(f"[green]✓ {outcome.table}[/]: {outcome.rows} rows loaded, {outcome.rejects} rejected")
            if outcome.notice:
                err.print(Text(f"  note: {outcome.notice}", "yellow"))
        else:
            err.print(f"· {outcome.table}: up to date ({outcome.rows} rows)")
    ran = sum(1 for e in result.tasks if e.status == "ran")
    err.print(f"{ran} step(s) ran, {len(result.tables)} table(s), "
              f"{sum(1 for t in result.tables if t.status == 'failed')} failed")
    return result.exit_code


def cmd_build(args: argparse.Namespace, resume: bool = False) -> int:
    project = _project(args)
    console = _stderr() if args.format == "text" and sys.stderr.isatty() else None
    result = api.build(project, args.tables, jobs=args.jobs, console=console, resume=resume,
                       force=args.force, locked=args.locked)
    return _render_build(args, result)


def cmd_resume(args: argparse.Namespace) -> int:
    return cmd_build(args, resume=True)


def cmd_plan(args: argparse.Namespace) -> int:
    tasks = api.plan(_project(args), args.tables)
    if args.format == "json":
        _print_json({"tasks": tasks})
        return 0
    out = _stdout()
    if not tasks:
        out.print("everything is up to date")
    for task in tasks:
        out.print(f"{task['name']:<32} {task['reason']}", markup=False)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    rows = api.status(_project(args))
    if args.format == "json":
        keys = ("table", "state", "rows", "rejects", "csv", "last_import")
        _print_json([{**{k: r[k] for k in keys}, **({"why": r["why"]} if r["why"] else {})} for r in rows])
        return 0
    show_why = any(r["why"] for r in rows)
    table = Table("table", "state", "rows", "rejects", "csv", "last import", *(["why"] if show_why else []))
    colours = {"up-to-date": "green", "stale": "yellow", "failed": "red", "never-built": "dim",
               "removed": "magenta"}
    for r in rows:
        last = (r["last_import"] or "").replace("T", " ")[:16]
        cells = [r["table"], Text(r["state"], colours[r["state"]]),
                 "" if r["rows"] is None else f"{r['rows']:,}",
                 "" if r["rejects"] is None else str(r["rejects"]), Text(r["csv"] or ""), last]
        table.add_row(*cells, *([Text(r["why"] or "")] if show_why else []))
    _stdout().print(table)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    dropped = api.prune(_project(args), dry_run=args.dry_run)
    if args.format == "json":
        _print_json({"dry_run": args.dry_run, "tables": dropped})
        return 0
    err = _stderr()
    verb = "would drop" if args.dry_run else "dropped"
    for item in dropped:
        err.print(f"{verb} {item['table']} ({item['rows']:,} rows)", markup=False)
    if not dropped:
        err.print("nothing to prune: every table csv2pg loaded is in csv2pg.toml")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    result = api.analyze(args.file, flags=_flags(args))
    if args.format == "json":
        _print_json(result)
        return 0
    out = _stdout()
    d = result["dialect"]
    detected = ("dialect not detected" if d is None else
                f"encoding {d['encoding']}, delimiter {d['delimiter']!r}, quote {d['quotechar']!r}, "
                f"header {'yes' if d['has_header'] else 'no'}")
    out.print(f"{args.file}: {result['rows']:,} rows, {len(result['columns'])} columns; {detected}",
              markup=False)
    table = Table("header", "column", "type", "null", "conf.", "reason")
    for c in result["columns"]:
        nullable = "?" if c["nullable"] is None else "yes" if c["nullable"] else "no"
        table.add_row(Text(c["name"]), Text(c["column"]), c["type"] or "?", nullable,
                      f"{c['confidence']:.2f}", Text(c["reason"]))
    out.print(table)
    for problem in result["problems"]:
        out.print(Text.assemble(("problem: ", "yellow"), problem["message"]))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    result = api.explain(_project(args), args.table, args.column)
    if args.format == "json":
        _print_json(result)
        return 0
    out = _stdout()
    d = result["decision"]
    out.print(f"{result['table']}.{result['column']} (header {result['header']!r}), "
              f"{result['rows']:,} rows", markup=False)
    if d:
        out.print(f"type {d['type']}{'' if d['nullable'] else ' not null'}  source {d['source']}  "
                  f"confidence {d['confidence']:.2f}", markup=False)
        out.print(f"rule: {d['reason']}", markup=False)
        if d["null_tokens"]:
            out.print(f"null tokens: {', '.join(d['null_tokens'])}", markup=False)
        if d.get("comment"):
            out.print(f"comment: {d['comment']}", markup=False)
    advice = result.get("llm")
    if advice:
        suggestion = advice["suggestion"]
        suggested = (f"suggested {suggestion['type']} (confidence {suggestion['confidence']:.2f})"
                     if suggestion else "no suggestion")
        out.print(f"llm: {suggested}; {advice['winner']} won: {advice['why']}", markup=False)
    stats = Table("statistic", "value")
    for key, value in result["profile"].items():
        stats.add_row(key, Text(json.dumps(value, ensure_ascii=False)))
    out.print(stats)
    candidates = Table("candidate", "failures", "first failing values (line: value)")
    for c in result["candidates"]:
        shown = "; ".join(f"{e['line']}: {e['value']!r}" for e in c["examples"])
        candidates.add_row(c["type"], f"{c['failures']:,}", Text(shown))
    out.print(candidates)
    if result["values"]:
        out.print(Text("values: " + ", ".join(repr(v) for v in result["values"][:10])))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    problems = api.validate(args.file)
    if args.format == "json":
        _print_json({"file": str(args.file), "problems": problems})
    else:
        out = _stdout()
        if not problems:
            out.print(f"{args.file}: no problems found", markup=False)
        for p in problems:
            line = f":{p['line']}" if p.get("line") else ""
            out.print(f"{args.file}{line}: {p['message']}", markup=False)
            if p.get("fix"):
                out.print(f"  fix: {p['fix']}", markup=False)
    return 1 if problems else 0


def cmd_import(args: argparse.Namespace) -> int:
    args.format = "text"
    console = _stderr() if sys.stderr.isatty() else None
    result = api.import_file(args.file, flags=_flags(args), table=args.table, console=console)
    return _render_build(args, result)


def cmd_clean(args: argparse.Namespace) -> int:
    removed = api.clean(_project(args), everything=args.everything)
    err = _stderr()
    for path in removed:
        err.print(f"removed {path}", markup=False)
    if not removed:
        err.print("nothing to clean")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from csv2pg import db

    project = _project(args)
    database = db.resolve_database(project.database, project.build_dir)
    if args.action == "url":
        print(database.url())
    elif args.action == "start":
        database.url()
        _stderr().print(f"running: {database.redacted()}", markup=False)
    elif args.action == "stop":
        stopped = db.embedded_stop(project.build_dir / "pg") if database.embedded else False
        _stderr().print("stopped" if stopped else "not running (or not the embedded database)")
    elif args.action == "status":
        _print_json(database.status())
    elif args.action == "shell":
        return subprocess.call(["psql", database.url()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
