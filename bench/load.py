"""Benchmark: the import step's two engines against ``psql \\copy`` on the same file and table.

    uv run python bench/load.py [--size-mb 1024] [--dir DIR] [--database URL] [--no-pgloader]

Generates (or reuses) bench/profile.py's 20-column CSV of about ``--size-mb`` MB, then
``--repeat`` times, one after the other so that a busy machine slows them alike:

- a whole first build with ``engine = "copy"`` (profile, inference, import) as a fresh
  clone runs it against an empty database (no build outputs, schemas, table or record; the
  server already running), and its import step's own time;
- ``psql \\copy t FROM file CSV HEADER`` into a table of the same columns and types, no
  constraints (the baseline; psycopg's ``COPY FROM STDIN`` of the raw file when psql is not
  installed, and the table says so);
- csv2pg's import step with ``engine = "copy"`` (staging table, COPY, count, swap);

then once csv2pg's import step with ``engine = "pgloader"`` (the generated .load; minutes
at 1 GB), and prints the medians: seconds, MB/s and the ratio to the baseline.
Without ``--database`` an embedded server runs in the work directory and is stopped after.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from csv2pg import api
from csv2pg.artifacts import read_artifact
from csv2pg.db import embedded_stop, resolve_database
from csv2pg.hashing import hash_file_uncached
from csv2pg.manifest import load_project
from csv2pg.stages.importer import build_import

HERE = Path(__file__).resolve().parent


def generator() -> Any:
    # bench/profile.py by path: its module name would be the standard library's `profile`.
    spec = importlib.util.spec_from_file_location("csv2pg_bench_profile", HERE / "profile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


def psql_copy(url: str, table: str, csv: Path) -> tuple[float, str]:
    """Seconds of the baseline and what it was."""
    psql = shutil.which("psql")
    if psql is not None:
        command = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url,
                   "-c", f"\\copy {table} FROM '{csv}' WITH (FORMAT csv, HEADER true)"]
        t0 = time.perf_counter()
        subprocess.run(command, check=True)
        return time.perf_counter() - t0, "psql \\copy"
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                csv.open("rb") as handle:
            while block := handle.read(1 << 20):
                copy.write(block)
        return time.perf_counter() - t0, "psycopg COPY of the raw file (psql not installed)"


def not_null_columns(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'public.bench_copy'::regclass "
                        "AND attnum > 0 AND attnotnull").fetchall()
    return [str(r[0]) for r in rows]


def import_step(project: Any, engine: str) -> float:
    table = project.table("orders")
    work = project.table_build_dir("orders")
    schema = read_artifact("table", project.schemas_dir / "orders.schema.json")
    sample = read_artifact("sample", work / "sample.json")
    load = work / "orders.load"
    database = resolve_database(project.database, project.build_dir)
    t0 = time.perf_counter()
    build_import(table_name="orders", table_schema=schema, sample=sample, load_file=load,
                 csv_path=table.source, csv_files=table.files, csv_hash=hash_file_uncached(table.source),
                 load_hash=hash_file_uncached(load), database=database, work_dir=work,
                 max_rejects=0, engine=engine, stall_timeout=600)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "csv2pg-bench-profile",
                        help="where the generated CSV is kept between runs")
    parser.add_argument("--database", help="PostgreSQL URL (default: an embedded server)")
    parser.add_argument("--no-pgloader", action="store_true", help="skip the pgloader run")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the baseline and of the copy engine (the median is shown)")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    csv = args.dir / f"orders_{args.size_mb}mb.csv"
    if not csv.exists():
        generator()(csv, args.size_mb)
    size_mb = csv.stat().st_size / 1e6
    work = Path(tempfile.mkdtemp(prefix="csv2pg-bench-load-"))
    results: list[tuple[str, float]] = []

    def done(label: str, seconds: float) -> None:
        results.append((label, seconds))
        print(f"{label}: {seconds:.2f} s", flush=True)
    try:
        (work / "csv2pg.toml").write_text(
            f'[defaults]\nengine = "copy"\n\n[tables.orders]\nsource = "{csv}"\n', encoding="utf-8")
        flags = {"database": args.database} if args.database else {}
        project = load_project(work, flags=flags)
        url = resolve_database(project.database, project.build_dir).url()   # starts it

        def first_build() -> tuple[float, float] | None:
            """(seconds of a whole first build, of its import step), as a fresh clone with an
            empty database would run it: no build outputs, no schemas, no table, no record."""
            for child in project.build_dir.iterdir():
                if child.name != "pg":   # the embedded server's data directory stays
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            shutil.rmtree(work / "schemas", ignore_errors=True)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS public.orders")
                if conn.execute("SELECT to_regclass('csv2pg.tables')").fetchone() != (None,):
                    conn.execute("DELETE FROM csv2pg.tables")
                conn.execute("CHECKPOINT")
            t0 = time.perf_counter()
            result = api.build(load_project(work, flags=flags))
            seconds = time.perf_counter() - t0
            if result.exit_code != 0:
                print(f"build failed: {[t.error for t in result.tables]}", file=sys.stderr)
                return None
            stamp = read_artifact("import", project.table_build_dir("orders") / "import.json")
            return seconds, float(stamp["duration_s"])

        # The baseline, the first build and the import step alternate, so a busy machine
        # slows them alike; the medians are shown.
        baselines: list[float] = []
        builds: list[float] = []
        build_imports: list[float] = []
        copies: list[float] = []
        baseline = "psql \\copy"
        for _ in range(args.repeat):
            built = first_build()
            if built is None:
                return 1
            builds.append(built[0])
            build_imports.append(built[1])
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS bench_copy")
                # The table's columns and types, no constraint (\copy into a bare table).
                conn.execute("CREATE TABLE bench_copy (LIKE public.orders)")
                for name in not_null_columns(conn):
                    conn.execute(f'ALTER TABLE bench_copy ALTER COLUMN "{name}" DROP NOT NULL')
                conn.execute("CHECKPOINT")
            seconds, baseline = psql_copy(url, "bench_copy", csv)
            baselines.append(seconds)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DROP TABLE bench_copy")
                conn.execute("CHECKPOINT")
            copies.append(import_step(project, "copy"))
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
        n = args.repeat
        baseline_s = statistics.median(baselines)
        done(baseline + f" (median of {n})", baseline_s)
        done(f"csv2pg import, engine = \"copy\" (median of {n})", statistics.median(copies))
        done(f"csv2pg import, inside the first build (median of {n})",
             statistics.median(build_imports))
        if not args.no_pgloader:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
            done("csv2pg import, engine = \"pgloader\"", import_step(project, "pgloader"))
        done(f"first build, engine = \"copy\" (median of {n})", statistics.median(builds))
        stamp = read_artifact("import", project.table_build_dir("orders") / "import.json")

        print(f"\nfile: {csv} ({size_mb:,.0f} MB, {stamp['rows']:,} rows, 20 columns)\n")
        print(f"| {'method':<56} | {'seconds':>8} | {'MB/s':>7} | {'ratio':>6} |")
        print(f"|{'-' * 58}|{'-' * 10}:|{'-' * 8}:|{'-' * 7}:|")
        for label, seconds in results:
            print(f"| {label:<56} | {seconds:8.2f} | {size_mb / seconds:7.1f} | "
                  f"{seconds / baseline_s:5.2f}x |")
        print("\ntargets: import (copy) within 1.3x of the baseline, first build within 2x")
    finally:
        if not args.database:
            embedded_stop(work / ".csv2pg" / "pg")
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
