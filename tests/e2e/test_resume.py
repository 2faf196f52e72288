"""kill -9 at several points of a real `csv2pg build`, then build again: exact rows, no
duplicates, no staging tables, and no step that had finished runs again.

Real processes and real kills (SIGKILL to the build's whole process group, and to pgloader's,
which runs in a session of its own). The kill points are found by watching the build
directory: a step's output appears atomically when the step is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.e2e.test_commands import csv2pg

pytestmark = pytest.mark.usefixtures("pgloader")


def write_csv(path: Path, rows: int, columns: int = 4, first_id: int = 1) -> None:
    header = ["id"] + [f"c{i}" for i in range(1, columns)]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(",".join(header) + "\n")
        for n in range(first_id, first_id + rows):
            values = [str(n)] + [f"{(n * 7 + i) % 1000}" if i % 2 else f"v{n % 97}-{i}" for i in range(1, columns)]
            handle.write(",".join(values) + "\n")


def make_project(root: Path, tables: dict[str, tuple[int, int]], chunk_size: int = 20) -> Path:
    """tables: name → (rows, columns)."""
    (root / "data").mkdir(parents=True)
    manifest = [f"[defaults]\nchunk_size = {chunk_size}\n"]
    for name, (rows, columns) in tables.items():
        write_csv(root / "data" / f"{name}.csv", rows, columns)
        manifest.append(f'[tables.{name}]\nsource = "data/{name}.csv"\nprimary_key = ["id"]\n')
    (root / "csv2pg.toml").write_text("\n".join(manifest), encoding="utf-8")
    return root


def start_build(project: Path, url: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "csv2pg", "-C", str(project), "build", "--database", url],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def kill_when(build: subprocess.Popen[bytes], condition: Callable[[], bool], what: str,
              also: Path | None = None) -> None:
    """SIGKILL the build's process group (and the group whose id is in ``also``) as soon as
    ``condition`` holds."""
    try:
        deadline = time.monotonic() + 180
        while not condition():
            assert time.monotonic() < deadline, f"the build never reached {what}"
            assert build.poll() is None, f"the build ended before {what}"
            time.sleep(0.005)
    finally:
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()
        if also is not None and also.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.killpg(int(also.read_text().strip()), signal.SIGKILL)


def is_open(group: int, path: Path) -> bool:
    """Whether a process of process group ``group`` has ``path`` open (Linux /proc)."""
    target = str(path.resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(int(proc.name)) != group:
                continue
            if any(os.readlink(fd) == target for fd in (proc / "fd").iterdir()):
                return True
    return False


def mtimes(project: Path) -> dict[str, int]:
    build = project / ".csv2pg"
    return {str(p.relative_to(build)): p.stat().st_mtime_ns for p in build.glob("*/*.json")}


def rebuild(project: Path, url: str, env: dict[str, str] | None = None) -> list[str]:
    done = csv2pg("-C", str(project), "build", "--format", "json", "--database", url, env=env)
    assert done.returncode == 0, done.stderr
    return [t["name"] for t in json.loads(done.stdout)["tasks"] if t["status"] == "ran"]


def assert_exact(url: str, expected: dict[str, int]) -> None:
    with psycopg.connect(url) as conn:
        for table, rows in expected.items():
            assert conn.execute(f"select count(*), count(distinct id) from {table}").fetchone() == (rows, rows)
        staging = conn.execute("select count(*) from pg_tables where tablename like '%csv2pg_staging'").fetchone()
        assert staging == (0,)


def test_kill_during_sample_and_during_infer(tmp_path: Path, fresh_database_url: str) -> None:
    # a_small builds first; b_big takes long to profile; c_wide has 60 infer steps.
    project = make_project(tmp_path / "p", {"a_small": (50, 4), "b_big": (400_000, 6), "c_wide": (200, 60)},
                           chunk_size=1)
    build_dir = project / ".csv2pg"
    build = start_build(project, fresh_database_url)
    # sample:b_big starts after import:a_small; killed while the build has b_big.csv open.
    big = project / "data" / "b_big.csv"
    kill_when(build, lambda: (build_dir / "a_small" / "import.json").exists() and is_open(build.pid, big),
              "sample:b_big")
    assert not (build_dir / "b_big" / "sample.json").exists(), "killed after sample:b_big finished"
    before = mtimes(project)
    assert "a_small/sample.json" in before and "a_small/import.json" in before

    # Second run: killed while c_wide's chunks are being inferred.
    build = start_build(project, fresh_database_url)
    kill_when(build, lambda: len(list((build_dir / "c_wide").glob("chunk_*.types.json"))) >= 3,
              "infer:c_wide")
    chunks = sorted(p.name for p in (build_dir / "c_wide").glob("chunk_*.types.json"))
    assert 3 <= len(chunks) < 60, "killed after every chunk was inferred"
    assert not (project / "schemas" / "c_wide.schema.json").exists()
    middle = mtimes(project)
    assert all(middle[k] == v for k, v in before.items())   # the first run's outputs were kept

    ran = rebuild(project, fresh_database_url)
    assert not [n for n in ran if n.endswith(":a_small") or ":a_small:" in n]
    assert "sample:b_big" not in ran and "sample:c_wide" not in ran
    assert not [n for n in ran if n in {f"infer:c_wide:{c.split('.')[0]}" for c in chunks}]
    assert len([n for n in ran if n.startswith("infer:c_wide:")]) == 60 - len(chunks)
    after = mtimes(project)
    assert all(after[k] == v for k, v in middle.items())   # finished outputs were not rewritten
    assert_exact(fresh_database_url, {"a_small": 50, "b_big": 400_000, "c_wide": 200})


def fake_pgloader(bin_dir: Path, marker: Path, pid_file: Path, *, after: bool) -> dict[str, str]:
    """A `pgloader` that runs the real one and then (``after``) or instead hangs, leaving
    ``marker``; its process-group id goes to ``pid_file``."""
    real = shutil.which("pgloader")
    assert real is not None
    bin_dir.mkdir()
    body = f'"{real}" "$@"\n' if after else ""
    script = (f"#!/bin/sh\n[ \"$1\" = --version ] && exec \"{real}\" --version\n"
              f"echo $$ > '{pid_file}'\n{body}touch '{marker}'\nexec sleep 300\n")
    (bin_dir / "pgloader").write_text(script, encoding="utf-8")
    (bin_dir / "pgloader").chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")


@pytest.mark.parametrize("point", ["during import", "between import and swap"])
def test_kill_during_import_and_before_the_swap_keeps_the_old_table(tmp_path: Path, fresh_database_url: str,
                                                                     point: str) -> None:
    project = make_project(tmp_path / "p", {"items": (3000, 5)})
    assert rebuild(project, fresh_database_url)[-1] == "import:items"
    write_csv(project / "data" / "items.csv", 5000, 5)          # new data: 5000 rows
    marker, pid_file = tmp_path / "pgloader-done", tmp_path / "pgloader.pid"
    env = fake_pgloader(tmp_path / "bin", marker, pid_file, after=point == "between import and swap")
    before = mtimes(project)

    build = start_build(project, fresh_database_url, env)
    kill_when(build, marker.exists, point, also=pid_file)
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select count(*) from items").fetchone() == (3000,)   # the old table, readable
        if point == "between import and swap":
            staged = conn.execute("select count(*) from items__csv2pg_staging").fetchone()
            assert staged == (5000,)   # loaded, never swapped in
    finished = {k: v for k, v in mtimes(project).items() if not k.endswith("import.json")}
    assert finished["items/sample.json"] != before["items/sample.json"]   # profiled before the kill

    ran = rebuild(project, fresh_database_url)
    assert ran == ["import:items"]                  # sample, infer, schema and load had finished
    assert all(mtimes(project)[k] == v for k, v in finished.items())
    assert_exact(fresh_database_url, {"items": 5000})
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select rows from csv2pg.tables where table_name = 'items'").fetchone() == (5000,)


def test_pgloader_dies_with_a_killed_csv2pg(tmp_path: Path, fresh_database_url: str) -> None:
    # kill -9 of csv2pg alone (not its process group): pgloader, in a session of its own, must
    # not go on writing into a staging table the next build drops and creates again.
    project = make_project(tmp_path / "p", {"items": (3000, 5)})
    rebuild(project, fresh_database_url)
    write_csv(project / "data" / "items.csv", 5000, 5)
    marker, pid_file = tmp_path / "pgloader-started", tmp_path / "pgloader.pid"
    env = fake_pgloader(tmp_path / "bin", marker, pid_file, after=False)
    build = start_build(project, fresh_database_url, env)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert time.monotonic() < deadline and build.poll() is None
            time.sleep(0.02)
        pgloader = int(pid_file.read_text().strip())
        os.kill(build.pid, signal.SIGKILL)   # csv2pg only
        build.wait()
        deadline = time.monotonic() + 10
        while _alive(pgloader):
            assert time.monotonic() < deadline, "pgloader outlived the csv2pg that ran it"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(build.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.killpg(int(pid_file.read_text().strip()), signal.SIGKILL)
    assert rebuild(project, fresh_database_url) == ["import:items"]
    assert_exact(fresh_database_url, {"items": 5000})


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by init, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _staged_rows(url: str) -> int:
    """Rows pgloader has committed so far into the staging table (0 before it exists)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("select to_regclass('items__csv2pg_staging')").fetchone() == (None,):
            return 0
        try:
            row = conn.execute("select count(*) from items__csv2pg_staging").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return int(row[0]) if row else 0


def test_pgloader_killed_mid_load_fails_the_table_cleanly(tmp_path: Path, fresh_database_url: str) -> None:
    project = make_project(tmp_path / "p", {"items": (3000, 5)})
    rebuild(project, fresh_database_url)
    write_csv(project / "data" / "items.csv", 400_000, 5)
    marker, pid_file = tmp_path / "pgloader-done", tmp_path / "pgloader.pid"
    env = fake_pgloader(tmp_path / "bin", marker, pid_file, after=True)
    build = subprocess.Popen([sys.executable, "-m", "csv2pg", "-C", str(project), "build", "--database",
                              fresh_database_url], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not (pid_file.exists() and _staged_rows(fresh_database_url) > 0):   # a batch committed
            assert time.monotonic() < deadline and build.poll() is None and not marker.exists()
            time.sleep(0.02)
        os.killpg(int(pid_file.read_text().strip()), signal.SIGKILL)   # pgloader alone, mid-file
        _, err = build.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(build.pid, signal.SIGKILL)
    assert not marker.exists()
    assert "Traceback" not in err
    if build.returncode == 0:
        # On a loaded machine the kill can land after pgloader committed its last batch: then
        # every row is there and csv2pg's counts prove it. Either way, never a partial table.
        assert "✓ items: 400000 rows loaded" in err
        assert_exact(fresh_database_url, {"items": 400_000})
        return
    assert build.returncode == 1, err
    assert "✗ items" in err
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select count(*) from items").fetchone() == (3000,)   # unchanged
    assert rebuild(project, fresh_database_url) == ["import:items"]
    assert_exact(fresh_database_url, {"items": 400_000})
