"""The other commands, run as a user runs them: as processes, against real PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"


def csv2pg(*argv: str, env: dict[str, str] | None = None, check: bool = False,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "csv2pg", *argv], capture_output=True, text=True,
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL, timeout=300, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(QUICKSTART, root, ignore=shutil.ignore_patterns(".csv2pg", "schemas"))
    return root


def test_embedded_database_commands(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a\n1\n", encoding="utf-8")
    (tmp_path / "csv2pg.toml").write_text('[tables.t]\nsource = "t.csv"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/never"  # must be ignored
    try:
        url = csv2pg("-C", str(tmp_path), "db", "url", env=env, check=True).stdout.strip()
        assert url.startswith("postgresql://") and str(tmp_path / ".csv2pg" / "pg") in url
        # The command has ended; the server keeps running and psql accepts the URL.
        done = subprocess.run(["psql", url, "-Atc", "select 6*7"], capture_output=True, text=True, check=False)
        assert done.stdout.strip() == "42", done.stderr
        status = json.loads(csv2pg("-C", str(tmp_path), "db", "status", env=env, check=True).stdout)
        assert status["running"] is True
        # Only the server's user (and root) can reach its socket directory.
        socket_dir = Path(status["socket_dir"])
        assert socket_dir == tmp_path / ".csv2pg" / "pg"
        assert socket_dir.stat().st_mode & 0o077 == 0
        built = csv2pg("-C", str(tmp_path), "build", "--format", "json", env=env)
        assert built.returncode == 0, built.stderr
        assert json.loads(built.stdout)["tables"][0]["rows"] == 1
    finally:
        stopped = csv2pg("-C", str(tmp_path), "db", "stop", env=env)
    status = json.loads(csv2pg("-C", str(tmp_path), "db", "status", env=env, check=True).stdout)
    assert (stopped.returncode, status["running"]) == (0, False), stopped.stderr


@pytest.mark.usefixtures("pgloader")
def test_kill_9_during_import_then_resume_loses_no_finished_step(project: Path, tmp_path: Path,
                                                                 fresh_database_url: str) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    marker = tmp_path / "pgloader-started"
    fake = fake_bin / "pgloader"
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = --version ] && exec echo 'pgloader version \"3.6.9\"'\n"
                    f"touch '{marker}'\nexec sleep 300\n", encoding="utf-8")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake_bin}:{os.environ['PATH']}")
    build = subprocess.Popen([sys.executable, "-m", "csv2pg", "-C", str(project), "build", "--database",
                              fresh_database_url], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert time.monotonic() < deadline, "the build never reached its first import"
            assert build.poll() is None, "the build ended before its first import"
            time.sleep(0.1)
    finally:
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()

    plan = json.loads(csv2pg("-C", str(project), "plan", "--format", "json", "--database",
                             fresh_database_url, check=True).stdout)
    first = [t["name"] for t in plan["tasks"] if t["name"].endswith(":customers")]
    assert first == ["import:customers"]  # sample, infer, schema and load survived the kill

    done = csv2pg("-C", str(project), "resume", "--format", "json", "--database", fresh_database_url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["unfinished"][0] == {"name": "import:customers", "reason": "never imported"}
    ran = [t["name"] for t in result["tasks"] if t["status"] == "ran"]
    assert "sample:customers" not in ran and "import:customers" in ran
    with psycopg.connect(fresh_database_url) as conn:
        counts = {t: conn.execute(f"select count(*) from {t}").fetchone() for t in ("customers", "orders", "products")}
        staging = conn.execute("select count(*) from pg_tables where tablename like '%csv2pg_staging'").fetchone()
    assert counts == {"customers": (120,), "orders": (400,), "products": (40,)}
    assert staging == (0,)


def test_analyze_json_shape_and_validate(tmp_path: Path) -> None:
    csv = tmp_path / "people.csv"
    csv.write_text("Person ID;Name;Born\n1;Zoë Œdipe;1990-01-02\n2;Bo;\n", encoding="cp1252")
    done = csv2pg("analyze", str(csv), "--format", "json", check=True)
    result = json.loads(done.stdout)
    assert result["dialect"] == {"encoding": "cp1252", "delimiter": ";", "quotechar": '"',
                                 "escapechar": None, "has_header": True}
    assert result["rows"] == 2 and result["problems"] == []
    assert [(c["name"], c["column"], c["type"], c["nullable"], c["source"]) for c in result["columns"]] == [
        ("Person ID", "person_id", "bigint", False, "heuristic"),
        ("Name", "name", "text", False, "heuristic"),
        ("Born", "born", "date", True, "heuristic"),
    ]
    assert all(0 <= c["confidence"] <= 1 and c["reason"] for c in result["columns"])
    assert not list(tmp_path.glob(".csv2pg*"))  # analyze writes nothing

    assert csv2pg("validate", str(csv)).returncode == 0
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n4,5\n", encoding="utf-8")
    done = csv2pg("validate", str(ragged))
    assert done.returncode == 1
    assert f"{ragged}:3:" in done.stdout and "different number of fields" in done.stdout


@pytest.mark.usefixtures("pgloader")
def test_import_one_file_without_a_manifest_and_clean(tmp_path: Path, fresh_database_url: str) -> None:
    csv = tmp_path / "Sales 2024.csv"
    csv.write_text("region,amount\nnorth,1.50\nsouth,NA\n", encoding="utf-8")
    done = csv2pg("import", str(csv), "--table", "sales", "--database", fresh_database_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sales: 2 rows loaded, 0 rejected" in done.stderr
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute("select region, amount from sales order by region").fetchall()
    assert [(r, None if a is None else str(a)) for r, a in rows] == [("north", "1.50"), ("south", None)]
    assert (tmp_path / ".csv2pg" / "sales" / "import.json").is_file()


@pytest.mark.usefixtures("pgloader")
def test_clean_removes_build_artifacts_not_schemas(project: Path, fresh_database_url: str) -> None:
    csv2pg("-C", str(project), "build", "--database", fresh_database_url, check=True)
    done = csv2pg("-C", str(project), "clean", check=True)
    assert "removed" in done.stderr
    assert not (project / ".csv2pg" / "orders").exists()
    assert (project / "schemas" / "orders.schema.json").is_file()
    status = json.loads(csv2pg("-C", str(project), "status", "--format", "json", "--database",
                               fresh_database_url, check=True).stdout)
    # The database still holds the tables, and its own record says so (csv2pg.tables).
    assert {s["state"] for s in status} == {"up-to-date"}
    assert {s["table"]: s["rows"] for s in status} == {"customers": 120, "orders": 400, "products": 40}


@pytest.mark.usefixtures("pgloader")
def test_the_password_reaches_no_file_and_no_output(project: Path, server_url: str,
                                                    fresh_database_url: str) -> None:
    password = "s3cr3t-Pa55:w/rd"
    dbname = fresh_database_url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS csv2pg_pw_test")
        conn.execute(f"CREATE ROLE csv2pg_pw_test LOGIN PASSWORD '{password}'")
        conn.execute(f'ALTER DATABASE "{dbname}" OWNER TO csv2pg_pw_test')
    try:
        from urllib.parse import quote, urlsplit, urlunsplit

        parts = urlsplit(fresh_database_url)
        netloc = f"csv2pg_pw_test:{quote(password, safe='')}@{parts.hostname or ''}"
        netloc += f":{parts.port}" if parts.port else ""
        url = urlunsplit(parts._replace(netloc=netloc))
        env = dict(os.environ, CSV2PG_DATABASE=url)
        done = csv2pg("-C", str(project), "build", "-v", env=env)
        assert done.returncode == 0, done.stderr
        plan = csv2pg("-C", str(project), "plan", env=env, check=True)
        leaks = [p for p in project.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
        leaks += [p for p in project.rglob("*") if p.is_file() and quote(password, safe="").encode() in p.read_bytes()]
        assert leaks == []
        for text in (done.stdout, done.stderr, plan.stdout, plan.stderr):
            assert "s3cr3t" not in text
        stamp = json.loads((project / ".csv2pg" / "orders" / "import.json").read_text(encoding="utf-8"))
        assert set(stamp["database"]) == {"system_identifier", "database"}
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{dbname}" OWNER TO CURRENT_USER')
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute("DROP ROLE IF EXISTS csv2pg_pw_test")


@pytest.mark.usefixtures("pgloader")
def test_explain_shows_the_evidence(project: Path, fresh_database_url: str) -> None:
    csv2pg("-C", str(project), "build", "--database", fresh_database_url, check=True)
    done = csv2pg("-C", str(project), "explain", "orders", "quantity", "--format", "json", check=True)
    result = json.loads(done.stdout)
    assert result["decision"]["type"] == "smallint"
    assert result["rows"] == 400 and result["header"] == "quantity"
    by_type = {c["type"]: c for c in result["candidates"]}
    assert by_type["smallint"]["failures"] == 0
    assert by_type["boolean"]["failures"] == 400
    assert by_type["boolean"]["examples"][0] == {"line": 2, "value": "11"}
    text = csv2pg("-C", str(project), "explain", "orders", "quantity", check=True).stdout
    assert "rule: every non-null value parses as integer" in text
    wrong = csv2pg("-C", str(project), "explain", "orders", "quantiy")
    assert wrong.returncode == 2 and 'did you mean "quantity"?' in wrong.stderr
