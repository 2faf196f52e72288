"""Side by side: csv2pg, DuckDB's auto-detection, csvkit's csvsql and frictionless's describe.

    uv run --group bench python bench/compare.py [FILE_OR_DIR ...]   (default ../shared/corpus/real)

For every file each tool's column types are read; per tool the run prints the columns it
typed (anything but text), the loads that would fail, and the time taken. "Would fail" is
judged by csv2pg's whole-file profile: a column whose type some value of the file does not
parse as (by PostgreSQL's input rules as csv2pg implements them, e.g. ISO dates only) would
fail a COPY into that type. Types a tool invents that csv2pg cannot check (arrays, objects,
intervals) are counted as typed and reported as unchecked.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from csv2pg import api
from csv2pg.hashing import HashCache, files_hash, hash_value
from csv2pg.manifest import single_file_project
from csv2pg.stages.sample import build_sample

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"

DUCKDB_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint", "TINYINT": "smallint",
                "HUGEINT": "numeric", "DOUBLE": "double precision", "FLOAT": "double precision",
                "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz",
                "TIME": "time", "BOOLEAN": "boolean", "UUID": "uuid", "VARCHAR": "text"}
CSVKIT_TYPES = {"DECIMAL": "numeric", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP WITHOUT TIME ZONE":
                "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz", "VARCHAR": "text", "TEXT": "text",
                "INTERVAL": None}
FRICTIONLESS_TYPES = {"integer": "bigint", "number": "numeric", "boolean": "boolean", "date": "date",
                      "datetime": "timestamp", "time": "time", "string": "text", "year": "integer",
                      "any": "text", "yearmonth": None, "duration": None, "geopoint": None,
                      "geojson": None, "object": None, "array": None}


@dataclass
class Score:
    typed: int = 0
    columns: int = 0
    failing_loads: int = 0
    failing_columns: int = 0
    unchecked: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def profile_failures(path: Path) -> dict[int, dict[str, int]]:
    """Per column index: failures of every candidate type over the whole file."""
    table = single_file_project(path).tables[0]
    sample = build_sample(table, files_hash(HashCache(None), table.files), hash_value({}))
    return {c["index"]: {t: v["failures"] for t, v in c["candidates"].items()} for c in sample["columns"]}


def csv2pg_types(path: Path) -> list[str | None]:
    return [c["type"] for c in api.analyze(path)["columns"]]


def duckdb_types(path: Path) -> list[str | None]:
    rows = duckdb.sql(f"DESCRIBE SELECT * FROM read_csv_auto('{path}')").fetchall()
    return [DUCKDB_TYPES.get(str(r[1]).split("(")[0], None if "[]" in str(r[1]) else "numeric"
                             if str(r[1]).startswith("DECIMAL") else None) for r in rows]


def executable(name: str) -> str | None:
    """A tool next to this interpreter (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def csvkit_types(path: Path) -> list[str | None]:
    done = subprocess.run([executable("csvsql") or "csvsql", "--dialect", "postgresql", "--no-constraints", str(path)],
                          capture_output=True, text=True, check=True, timeout=600)
    body = done.stdout[done.stdout.index("(") + 1:done.stdout.rindex(")")]
    types = []
    for line in body.strip().splitlines():
        found = re.match(r'\s*(".*?"|\S+)\s+(.+?),?$', line)
        kind = found.group(2).strip().rstrip(",") if found else "VARCHAR"
        types.append(CSVKIT_TYPES.get(kind))
    return types


def frictionless_types(path: Path) -> list[str | None]:
    done = subprocess.run([executable("frictionless") or "frictionless", "describe", str(path), "--json"], capture_output=True,
                          text=True, check=True, timeout=600)
    document = json.loads(done.stdout)
    fields = (document.get("schema") or document.get("resources", [{}])[0].get("schema", {}))["fields"]
    return [FRICTIONLESS_TYPES.get(f.get("type", "string")) for f in fields]


TOOLS: dict[str, Callable[[Path], list[str | None]]] = {
    "csv2pg": csv2pg_types, "duckdb": duckdb_types, "csvkit": csvkit_types,
    "frictionless": frictionless_types}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path, default=[DEFAULT])
    args = parser.parse_args()
    files = sorted(p for given in args.paths for p in ([given] if given.is_file() else given.glob("*.[ct]sv")))
    tools = {name: fn for name, fn in TOOLS.items()
             if name in ("csv2pg", "duckdb") or executable({"csvkit": "csvsql"}.get(name, name))}
    scores = {name: Score() for name in tools}
    for path in files:
        failures = profile_failures(path)
        for name, tool in tools.items():
            score = scores[name]
            started = time.perf_counter()
            try:
                types = tool(path)
            except Exception as error:  # a tool that cannot read a file: count it, go on
                score.errors.append(f"{path.name}: {type(error).__name__}")
                score.failing_loads += 1
                continue
            finally:
                score.seconds += time.perf_counter() - started
            fails = False
            for index, kind in enumerate(types):
                score.columns += 1
                if kind != "text":
                    score.typed += 1
                if kind is None:
                    score.unchecked += 1
                elif kind != "text" and failures.get(index, {}).get(kind, 0) > 0:
                    score.failing_columns += 1
                    fails = True
            score.failing_loads += fails
    print(f"{len(files)} files")
    print(f"{'tool':<13} {'typed':>13} {'failing loads':>14} {'failing cols':>13} {'unchecked':>10} {'time s':>8}")
    for name, s in scores.items():
        print(f"{name:<13} {s.typed:>6}/{s.columns:<6} {s.failing_loads:>14} {s.failing_columns:>13} "
              f"{s.unchecked:>10} {s.seconds:>8.1f}")
        for error in s.errors:
            print(f"    could not read {error}")
    missing = set(TOOLS) - set(tools)
    if missing:
        print(f"not installed (uv sync --group bench): {', '.join(sorted(missing))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
