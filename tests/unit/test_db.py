"""csv2pg/db.py: resolving project.database, redaction, pgloader targets, identity, the
embedded server's lifecycle. Real PostgreSQL through the conftest fixtures; no mocks."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from csv2pg import db, state, swap
from csv2pg.errors import EXIT_CONFIG, EXIT_DATA, ConfigError, DatabaseError

BUILD = Path("/project/.csv2pg")


# --- resolve_database ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["postgresql://app@db.example.com:5432/app",
                                 "postgres://app@db.example.com/app"])
def test_a_url_is_used_as_given(url: str) -> None:
    database = db.resolve_database(url, BUILD)
    assert database.kind == "url"
    assert database.url() == url
    assert not database.embedded


def test_env_var_is_read_at_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_DB", "postgresql://app:s3cret@db.example.com/app")
    database = db.resolve_database("env:MY_DB", BUILD)
    monkeypatch.setenv("MY_DB", "postgresql://other@elsewhere/other")
    assert database.kind == "env"
    assert database.url() == "postgresql://app:s3cret@db.example.com/app"
    assert database.describe() == "postgresql://app:***@db.example.com/app (from $MY_DB)"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_env_var_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("MY_DB", raising=False)
    else:
        monkeypatch.setenv("MY_DB", value)
    with pytest.raises(ConfigError) as info:
        db.resolve_database("env:MY_DB", BUILD)
    assert info.value.exit_code == EXIT_CONFIG
    assert info.value.key == "project.database"
    assert str(info.value) == (
        "the environment variable MY_DB is not set or empty; project.database says the database "
        "URL is in it\n"
        "  hint: export MY_DB='postgresql://user@host:5432/dbname' (the password in PGPASSWORD or "
        "in the URL), or remove project.database to use the embedded server")


def test_env_var_must_hold_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_DB", "host=db dbname=app")
    with pytest.raises(ConfigError, match="MY_DB does not hold a PostgreSQL URL") as info:
        db.resolve_database("env:MY_DB", BUILD)
    assert info.value.exit_code == EXIT_CONFIG


def test_database_url_is_ignored_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://from-env@elsewhere/x")
    assert db.resolve_database(None, BUILD).kind == "embedded"
    assert db.resolve_database(None, BUILD).pgdata == BUILD / "pg"
    assert db.resolve_database("postgresql://given@here/y", BUILD).url() == "postgresql://given@here/y"
    assert db.resolve_database("env:DATABASE_URL", BUILD).url() == "postgresql://from-env@elsewhere/x"


@pytest.mark.parametrize("setting", ["mysql://root:pw@localhost/x", "localhost:5432", "env:",
                                     "env:NOT A NAME"])
def test_anything_else_is_a_config_error(setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        db.resolve_database(setting, BUILD)
    assert info.value.exit_code == EXIT_CONFIG
    assert info.value.key == "project.database"


def test_garbage_error_explains_the_three_forms_without_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        db.resolve_database("mysql://root:pw@localhost/x", BUILD)
    assert str(info.value) == (
        "project.database = 'mysql://root:***@localhost/x' is not understood; it must be a "
        "PostgreSQL URL (postgresql://user@host:5432/dbname), env:VAR (the URL is read from the "
        "environment variable VAR), or nothing at all (the embedded server in .csv2pg/pg/)")


# --- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "redacted"), [
    ("postgresql://app:s3cret@db:5432/app", "postgresql://app:***@db:5432/app"),
    ("postgresql://app:p%40ss%3Aw@db/app?sslmode=require", "postgresql://app:***@db/app?sslmode=require"),
    ("postgresql://db/app?user=app&password=s3cret&sslmode=require",
     "postgresql://db/app?user=app&password=***&sslmode=require"),
    ("postgresql://app@db/app", "postgresql://app@db/app"),
    ("postgresql:///app?host=/run/pg", "postgresql:///app?host=/run/pg"),
])
def test_redact_url(url: str, redacted: str) -> None:
    assert db.redact_url(url) == redacted


def test_repr_never_shows_the_password() -> None:
    database = db.resolve_database("postgresql://app:s3cret@db/app?password=s3cret", BUILD)
    assert "s3cret" not in repr(database)
    assert "s3cret" not in str(database.status())
    assert repr(database) == "Database(url: postgresql://app:***@db/app?password=***)"


# --- pgloader targets ------------------------------------------------------------------------


def test_pgloader_target_moves_the_password_to_the_environment() -> None:
    database = db.resolve_database(
        "postgresql://app%20user:p%40ss%3Aw%2Frd@db.example.com:5433/my%20db?sslmode=require", BUILD)
    url, env = database.pgloader_target()
    assert url == ("postgresql://db.example.com:5433/?dbname=my%20db&user=app%20user"
                   "&sslmode=require")
    assert env == {"PGPASSWORD": "p@ss:w/rd"}


def test_pgloader_target_for_a_unix_socket() -> None:
    database = db.resolve_database(
        "postgresql://postgres@/postgres?host=/srv/pg%20sock&port=5433", BUILD)
    assert database.pgloader_target() == (
        "postgresql://unix:/srv/pg sock:5433/?dbname=postgres&user=postgres&sslmode=disable", {})


def test_pgloader_target_other_database() -> None:
    database = db.resolve_database("postgresql://app@db.example.com:5432/app", BUILD)
    url, _ = database.pgloader_target("reports")
    assert url == "postgresql://db.example.com:5432/?dbname=reports&user=app&sslmode=prefer"


@pytest.mark.parametrize(("given", "written"), [
    ("disable", "disable"), ("allow", "allow"), ("prefer", "prefer"), ("require", "require"),
    ("verify-ca", "require"), ("verify-full", "require")])
def test_pgloader_sslmodes(given: str, written: str) -> None:
    database = db.resolve_database(f"postgresql://app@10.0.0.5:5432/app?sslmode={given}", BUILD)
    assert database.pgloader_target()[0].endswith(f"&sslmode={written}")


def test_pgloader_target_refuses_several_hosts() -> None:
    database = db.resolve_database("postgresql://app@h1:5432,h2:5432/app", BUILD)
    with pytest.raises(ConfigError, match="several hosts"):
        database.pgloader_target()


def test_pgloader_target_fills_libpq_defaults_from_the_server(fresh_database_url: str) -> None:
    parts = conninfo(fresh_database_url)
    url, env = db.resolve_database(fresh_database_url, BUILD).pgloader_target()
    assert env == {}
    if parts["host"].startswith("/"):
        assert url.startswith(f"postgresql://unix:{parts['host']}:")
    assert f"dbname={urllib.parse.quote(parts['dbname'], safe='')}&" in url


def conninfo(url: str) -> dict[str, str]:
    return {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(url).items()}


# --- connections and identity ----------------------------------------------------------------


def test_connect_failure_is_a_database_error_without_the_password(tmp_path: Path) -> None:
    database = db.resolve_database(f"postgresql://app:s3cret@/app?host={tmp_path}", BUILD)
    with pytest.raises(DatabaseError) as info:
        database.connect()
    assert info.value.exit_code == EXIT_DATA
    assert "s3cret" not in str(info.value)
    assert str(info.value).startswith(
        f"cannot connect to postgresql://app:***@/app?host={tmp_path}: connection ")


def test_identity(fresh_database_url: str) -> None:
    database = db.resolve_database(fresh_database_url, BUILD)
    identity = database.identity()
    assert identity is not None
    assert identity["database"] == conninfo(fresh_database_url)["dbname"]
    assert identity["system_identifier"].isdigit()
    assert database.identity(start=False) == identity   # a URL is never "started"


def test_pg_control_holds_the_system_identifier(server_url: str) -> None:
    host = Path(conninfo(server_url).get("host", "/nonexistent"))
    if not (host / "global" / "pg_control").is_file():
        pytest.skip("the test server's data directory is not the socket directory")
    with psycopg.connect(server_url) as conn:
        row = conn.execute("SELECT system_identifier::text FROM pg_control_system()").fetchone()
    assert row is not None
    assert db.embedded_system_identifier(host) == row[0]


def test_embedded_identity_without_a_server_is_unknown(tmp_path: Path) -> None:
    database = db.resolve_database(None, tmp_path)
    assert database.identity(start=False) is None
    assert database.status()["running"] is False
    assert database.redacted() == f"postgresql://postgres@/postgres?host={tmp_path / 'pg'}"


# --- staging helpers -------------------------------------------------------------------------


def test_staging_name_fits_63_bytes() -> None:
    assert db.staging_name("people") == "people__csv2pg_staging"
    long = "é" * 40
    name = db.staging_name(long)
    assert len(name.encode("utf-8")) <= 63
    assert name.endswith("__csv2pg_staging")
    assert name == "é" * 23 + "__csv2pg_staging"


def test_swap_in_is_one_transaction(fresh_database_url: str) -> None:
    database = db.resolve_database(fresh_database_url, BUILD)
    with db.connected(database) as conn:
        db.ensure_schema(conn, "Sales Data")
        db.ensure_schema(conn, "Sales Data")
        conn.execute('CREATE TABLE "Sales Data".live (a int)')
        conn.execute('INSERT INTO "Sales Data".live VALUES (1)')
        conn.execute('CREATE TABLE "Sales Data".stage (a int)')
        conn.execute('INSERT INTO "Sales Data".stage VALUES (NULL), (2)')
        force = db.SwapOptions(force=True)
        with pytest.raises(psycopg.errors.NotNullViolation):
            db.swap_in(conn, "Sales Data", "stage", "live", ["a"], options=force)
        assert db.count_rows(conn, "Sales Data", "live") == 1     # untouched
        conn.execute('DELETE FROM "Sales Data".stage WHERE a IS NULL')
        # "live" was made by hand: csv2pg refuses to replace it without force, and changes nothing.
        with pytest.raises(DatabaseError) as info:
            db.swap_in(conn, "Sales Data", "stage", "live", ["a"])
        assert info.value.message.startswith("Sales Data.live already exists and was not created by csv2pg")
        assert db.count_rows(conn, "Sales Data", "stage") == 1
        record = {"csv": "0" * 32, "schema": "1" * 32, "load": "2" * 32, "rows": 1, "rejects": 0,
                  "engine": "copy", "started_at": "2026-01-02T03:04:05Z"}
        db.swap_in(conn, "Sales Data", "stage", "live", ["a"], ["a"], options=force, record=record)
        assert db.count_rows(conn, "Sales Data", "live") == 1
        assert db.count_rows(conn, "Sales Data", "stage") is None
        row = conn.execute('SELECT a FROM "Sales Data".live').fetchone()
        assert row == (2,)
        assert conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'Sales Data'").fetchall() == [
            ("live_pkey",)]
        (mark,) = state.read_records(conn).values()
        assert (mark.qualified, mark.rows, mark.csv_hash, mark.present) == ("Sales Data.live", 1, "0" * 32, True)
        assert state.ownership(conn, "Sales Data", "live") == "ours"
        # Now csv2pg's own table: replaced without force.
        conn.execute('CREATE TABLE "Sales Data".stage (a int)')
        conn.execute('INSERT INTO "Sales Data".stage VALUES (3), (4)')
        db.swap_in(conn, "Sales Data", "stage", "live", ["a"], ["a"], record={**record, "rows": 2})
        assert db.count_rows(conn, "Sales Data", "live") == 2
        assert state.read_records(conn)[("Sales Data", "live")].rows == 2
        # Dropped and re-created by hand: no longer csv2pg's.
        conn.execute('DROP TABLE "Sales Data".live')
        conn.execute('CREATE TABLE "Sales Data".live (a int)')
        assert state.ownership(conn, "Sales Data", "live") == "foreign"
        assert not state.read_records(conn)[("Sales Data", "live")].present


def test_index_names_fit_63_bytes() -> None:
    assert swap._fit("orders", "_pkey") == "orders_pkey"
    long = swap._fit("t" * 60, "_customer_id_idx")
    assert len(long.encode("utf-8")) == 63 and long != swap._fit("t" * 60, "_customer_ix_idx")


def test_preflight_names_the_missing_right(server_url: str, fresh_database_url: str) -> None:
    dbname = fresh_database_url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS csv2pg_weak")
        conn.execute("CREATE ROLE csv2pg_weak LOGIN")
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    try:
        parts = urllib.parse.urlsplit(fresh_database_url)
        url = urllib.parse.urlunsplit(parts._replace(netloc="csv2pg_weak@" + parts.netloc.split("@")[-1]))
        database = db.resolve_database(url, BUILD)
        with pytest.raises(DatabaseError) as info:
            db.check_rights(database, ["public"])
        assert info.value.message.startswith(
            f"the role csv2pg_weak lacks CREATE on the schema public; and CREATE on the database {dbname} "
            "(to create the schema csv2pg)")
        assert info.value.hint == ("as an administrator: GRANT USAGE, CREATE ON SCHEMA public TO csv2pg_weak; "
                                   "CREATE SCHEMA csv2pg AUTHORIZATION csv2pg_weak")
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            admin = conn.execute("SELECT current_user").fetchone()[0]  # type: ignore[index]
            conn.execute("CREATE TABLE public.precious (a int)")
            conn.execute("GRANT USAGE, CREATE ON SCHEMA public TO csv2pg_weak")
            conn.execute("CREATE SCHEMA csv2pg AUTHORIZATION csv2pg_weak")
        db.check_rights(database, ["public"], [("public", "missing")])   # now it may
        with pytest.raises(DatabaseError) as info:
            db.check_rights(database, ["public"], [("public", "precious")])
        assert info.value.message.startswith(
            f"the role csv2pg_weak lacks ownership of public.precious (owned by {admin}; replacing "
            "a table needs its owner's rights)")
        assert info.value.hint == "as an administrator: ALTER TABLE public.precious OWNER TO csv2pg_weak"
        db.check_rights(db.resolve_database(fresh_database_url, BUILD), ["public", "Sales Data"])
        unreachable = db.resolve_database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", BUILD)
        with pytest.raises(DatabaseError) as info:
            db.check_rights(unreachable, ["public"])
        assert info.value.message.startswith("cannot connect to postgresql://nobody@127.0.0.1:1/none")
    finally:
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            conn.execute("DROP OWNED BY csv2pg_weak")
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute("DROP ROLE IF EXISTS csv2pg_weak")


# --- the embedded server ---------------------------------------------------------------------


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A directory outside pytest's basetemp: another pytest session resets that to mode 0700,
    which locks the server's unprivileged user (as root) out of its data directory."""
    path = Path(tempfile.mkdtemp(prefix="csv2pg-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_embedded_server_lifecycle(outside_tmp: Path) -> None:
    pgdata = outside_tmp / "build" / "pg"
    database = db.resolve_database(None, outside_tmp / "build")
    status = db.embedded_status(pgdata)
    assert status == {"pgdata": str(pgdata), "initialized": False, "running": False, "pid": None,
                      "socket_dir": None, "url": None, "warnings": []}
    try:
        url = database.url()
        status = db.embedded_status(pgdata)
        assert status["running"] is True
        assert status["initialized"] is True
        assert isinstance(status["pid"], int)
        assert status["url"] == url
        assert status["socket_dir"] == str(pgdata)
        assert status["warnings"] == []
        assert database.url() == url              # already running: same server
        identity = database.identity()
        assert identity is not None
        assert database.identity(start=False) == identity
        target, env = database.pgloader_target()
        assert target == f"postgresql://unix:{pgdata}:5432/?dbname=postgres&user=postgres&sslmode=disable"
        assert env == {}
        assert db.embedded_stop(pgdata) is True
        assert db.embedded_status(pgdata)["running"] is False
        assert db.embedded_stop(pgdata) is False
        assert database.identity(start=False) == identity   # read from pg_control
        assert database.url() == url              # started again in the same process
        with database.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        db.embedded_stop(pgdata)


def test_embedded_socket_outside_a_long_project_path_is_a_warning(outside_tmp: Path) -> None:
    pgdata = outside_tmp / ("x" * 60) / ("y" * 40) / "pg"
    database = db.resolve_database(None, pgdata.parent)
    try:
        database.url()
        status = database.status()
        socket_dir = status["socket_dir"]
        assert socket_dir != str(pgdata)
        mode = "0o777" if os.geteuid() == 0 else oct(Path(socket_dir).stat().st_mode & 0o777)
        assert status["warnings"] == [
            f"the server's socket is in {socket_dir} (mode {mode}), not in {pgdata}: the project "
            "path is too long for a unix socket; any local user who can reach that directory can "
            "connect as the superuser (trust authentication)"]
        assert database.pgloader_target()[0].startswith(f"postgresql://unix:{socket_dir}:5432/")
    finally:
        db.embedded_stop(pgdata)
