"""Developer tasks, and a csv2pg project's build graph under plain `doit`.

    doit list                          # the developer tasks
    doit lint types test               # ruff, mypy --strict, pytest
    doit bench                         # benchmarks under bench/, printing their figures
    doit regen_golden                  # rewrite golden files from the current output

    doit project=examples/quickstart list        # a project's steps: sample:T, infer:T:chunk_N, ...
    doit project=examples/quickstart import:orders

`csv2pg build` does not use this file: it builds the same graph itself (csv2pg/graph.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from doit import get_var

ROOT = Path(__file__).resolve().parent
PY = sys.executable

DOIT_CONFIG: dict[str, Any] = {"default_tasks": ["lint", "types", "test"], "verbosity": 2,
                               "backend": "sqlite3", "dep_file": str(ROOT / ".doit.sqlite")}


def task_lint() -> dict[str, Any]:
    """ruff over the package, tests, benchmarks and this file"""
    return {"actions": [f"{PY} -m ruff check csv2pg tests bench dodo.py"], "uptodate": [False]}


def task_types() -> dict[str, Any]:
    """mypy --strict over the package"""
    return {"actions": [f"{PY} -m mypy --strict csv2pg"], "uptodate": [False]}


def task_test() -> dict[str, Any]:
    """the test suite (real PostgreSQL and pgloader)"""
    return {"actions": [f"{PY} -m pytest"], "uptodate": [False]}


def task_bench() -> dict[str, Any]:
    """benchmarks: print their figures"""
    return {"actions": [f"{PY} bench/run.py", f"{PY} bench/profile.py --size-mb 100"],
            "uptodate": [False]}


def task_regen_golden() -> dict[str, Any]:
    """rewrite golden files (review the diff before committing)"""
    return {"actions": [f"{PY} -m pytest --regen-golden -q -k golden"], "uptodate": [False]}


_project_dir = get_var("project", os.environ.get("CSV2PG_PROJECT"))
if _project_dir:
    from csv2pg.context import BuildContext
    from csv2pg.graph import all_steps, to_task_dicts
    from csv2pg.manifest import load_project

    _project = load_project(Path(_project_dir).resolve())
    _project.build_dir.mkdir(parents=True, exist_ok=True)
    _tasks = to_task_dicts(all_steps(BuildContext.for_project(_project)))
    DOIT_CONFIG = {"default_tasks": ["import"], "backend": "sqlite3", "verbosity": 2,
                   "dep_file": str(_project.build_dir / "doit.sqlite")}

    def _serve(base: str) -> Iterator[dict[str, Any]]:
        yield from _tasks[base]

    def task_sample() -> Iterator[dict[str, Any]]:
        """profile each CSV (sample.json)"""
        return _serve("sample")

    def task_infer() -> Iterator[dict[str, Any]]:
        """infer the types of each chunk of columns"""
        return _serve("infer")

    def task_schema() -> Iterator[dict[str, Any]]:
        """write schemas/T.schema.json"""
        return _serve("schema")

    def task_load() -> Iterator[dict[str, Any]]:
        """render T.load and T_import.sh"""
        return _serve("load")

    def task_import() -> Iterator[dict[str, Any]]:
        """load each table into PostgreSQL"""
        return _serve("import")
