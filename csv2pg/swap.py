"""Swapping a loaded staging table in for the live one, in one transaction (``swap_in``).

Contract: part of the database layer (``db.py`` re-exports ``swap_in``, ``SwapOptions`` and
``not_ours_error``); it runs SQL on the connection it is given, identifiers only through
``psycopg.sql.Identifier`` and values as parameters or ``sql.Literal``. What a swap keeps of
the table it replaces (comments, grants, dependent views) and what refuses it (a table csv2pg
did not create, foreign keys, materialized views) is documented on ``swap_in`` and in the
README ("What the database remembers, and what csv2pg may replace").
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from csv2pg import state
from csv2pg.errors import DatabaseError
from csv2pg.identifiers import MAX_IDENTIFIER_BYTES


def _server_message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return " ".join(str(primary or exc).split())


@dataclass(frozen=True)
class SwapOptions:
    """What the manifest and the command line add to a swap.

    ``indexes``: each index's columns (identifiers of the table, already resolved);
    ``force``: replace a table csv2pg did not create (``csv2pg build --force``).
    """

    indexes: tuple[tuple[str, ...], ...] = ()
    force: bool = False
    project: str = ""          # the project's name, kept in csv2pg's record (prune, status)


def not_ours_error(qualified: str) -> DatabaseError:
    return DatabaseError(
        f"{qualified} already exists and was not created by csv2pg; csv2pg replaces only the "
        "tables it created", hint="`csv2pg build --force` replaces it (its rows are lost, its grants and "
        "comments are kept); or load into another table: table = \"...\" in the manifest entry")


def swap_in(conn: psycopg.Connection[Any], schema: str, staging: str, live: str,
            not_null: list[str], primary_key: list[str] | None = None, *,
            record: dict[str, Any] | None = None, options: SwapOptions | None = None) -> None:
    """Swap the loaded ``staging`` table in for ``live``, in one transaction.

    1. On the staging table (the live one stays readable): NOT NULL on ``not_null``, the
       primary key and ``options.indexes``, under temporary names.
    2. Lock the live table; refuse (DatabaseError) when it exists and csv2pg did not create
       it, unless ``options.force``.
    3. Keep what users added to the live table: its comment and column comments (where the
       new table has none) and its grants, re-granted on the new table.
    4. Views that depend on the live table are dropped and re-created from their definitions
       (``pg_get_viewdef``), with their options, comments and grants, in dependency order; a
       view that no longer fits the new columns fails the whole swap (the old table stays).
       Materialized views and foreign keys that reference the table refuse the swap, naming them.
    5. Drop the live table, rename the staging table and its key and indexes to their final
       names (``<live>_pkey``, ``<live>_<columns>_idx``).
    6. With ``record`` (hashes, rows, rejects, engine, started_at: see ``state.record_import``),
       write csv2pg's row in ``csv2pg.tables``, the table's ownership mark.
    """
    options = options or SwapOptions()
    table = sql.Identifier(schema, live)
    stage = sql.Identifier(schema, staging)
    with conn.transaction():
        if not_null:
            # One statement, so PostgreSQL checks every column in a single scan of the table.
            conn.execute(sql.SQL("ALTER TABLE {} {}").format(stage, sql.SQL(", ").join(
                sql.SQL("ALTER COLUMN {} SET NOT NULL").format(sql.Identifier(column))
                for column in not_null)))
        renames: list[tuple[str, str]] = []   # (temporary index name, final name)
        tag = hashlib.sha1(f"{schema}.{live}".encode()).hexdigest()[:12]
        if primary_key:
            temporary = f"csv2pg_{tag}_pkey"
            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                stage, sql.Identifier(temporary),
                sql.SQL(", ").join(sql.Identifier(c) for c in primary_key)))
            renames.append((temporary, _fit(live, "_pkey")))
        for number, columns in enumerate(options.indexes):
            temporary = f"csv2pg_{tag}_idx{number}"
            conn.execute(sql.SQL("CREATE INDEX {} ON {} ({})").format(
                sql.Identifier(temporary), stage,
                sql.SQL(", ").join(sql.Identifier(c) for c in columns)))
            renames.append((temporary, _fit(live, "_" + "_".join(columns) + "_idx")))

        live_oid = _oid(conn, schema, live)
        views: list[dict[str, Any]] = []
        if live_oid is not None:
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
            if not options.force and state.ownership(conn, schema, live) == "foreign":
                raise not_ours_error(f"{schema}.{live}")
            _refuse_dependents(conn, live_oid, f"{schema}.{live}")
            _carry_comments(conn, live_oid, schema, staging)
            _carry_grants(conn, live_oid, stage)
            views = _dependent_views(conn, live_oid)
            for view in reversed(views):
                conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(
                    sql.Identifier(view["schema"], view["name"])))
            conn.execute(sql.SQL("DROP TABLE {}").format(table))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage, sql.Identifier(live)))
        for temporary, final in renames:
            conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(schema, temporary), sql.Identifier(final)))
        for view in views:
            _recreate_view(conn, view)
        if record is not None:
            state.record_import(conn, schema, live, {"project": options.project, **record})


def _fit(name: str, suffix: str) -> str:
    """``name + suffix`` within 63 bytes (a hash keeps shortened names apart)."""
    whole = name + suffix
    if len(whole.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
        return whole
    digest = hashlib.sha1(whole.encode("utf-8")).hexdigest()[:8]
    head = whole.encode("utf-8")[:MAX_IDENTIFIER_BYTES - 9].decode("utf-8", "ignore")
    return f"{head}_{digest}"


def _oid(conn: psycopg.Connection[Any], schema: str, table: str) -> int | None:
    row = conn.execute("SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
                       (schema, table)).fetchone()
    return None if row is None else int(row[0])


def _refuse_dependents(conn: psycopg.Connection[Any], oid: int, qualified: str) -> None:
    """Foreign keys and materialized views on the table cannot be carried over: say which."""
    keys = conn.execute("SELECT conrelid::regclass::text, conname FROM pg_constraint "
                        "WHERE contype = 'f' AND confrelid = %s AND conrelid <> %s ORDER BY 1, 2",
                        (oid, oid)).fetchall()
    matviews = [v["qualified"] for v in _dependent_views(conn, oid, kinds="m")]
    found = [f"foreign key {name} of {owner}" for owner, name in keys]
    found += [f"materialized view {name}" for name in matviews]
    if found:
        raise DatabaseError(
            f"cannot replace {qualified}: {', '.join(found)} depend(s) on it, and csv2pg re-creates "
            "only plain views", hint="drop them, run `csv2pg build`, and create them again "
            "(plain views are re-created by csv2pg itself)")


_VIEWS = """
WITH RECURSIVE deps(oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.refobjid = %(oid)s AND r.ev_class <> %(oid)s
  UNION ALL
    SELECT r.ev_class, deps.depth + 1 FROM deps
    JOIN pg_depend d ON d.refobjid = deps.oid AND d.classid = 'pg_rewrite'::regclass
                    AND d.refclassid = 'pg_class'::regclass
    JOIN pg_rewrite r ON r.oid = d.objid AND r.ev_class <> deps.oid
    WHERE deps.depth < 50
)
SELECT c.oid::bigint, n.nspname, c.relname, c.relkind::text, max(deps.depth),
       pg_get_viewdef(c.oid), c.reloptions, obj_description(c.oid, 'pg_class'),
       pg_get_userbyid(c.relowner)
FROM deps JOIN pg_class c ON c.oid = deps.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = ANY(%(kinds)s)
GROUP BY c.oid, n.nspname, c.relname, c.relkind, c.reloptions, c.relowner
ORDER BY max(deps.depth), n.nspname, c.relname
"""


def _dependent_views(conn: psycopg.Connection[Any], oid: int, kinds: str = "v") -> list[dict[str, Any]]:
    """Views on the table (directly or through other views), the deepest last."""
    rows = conn.execute(_VIEWS, {"oid": oid, "kinds": list(kinds)}).fetchall()
    views = []
    for view_oid, schema, name, _kind, _depth, definition, reloptions, comment, owner in rows:
        views.append({"oid": int(view_oid), "schema": str(schema), "name": str(name),
                      "qualified": f"{schema}.{name}", "definition": str(definition),
                      "options": list(reloptions or []), "comment": comment, "owner": str(owner),
                      "grants": _grants(conn, int(view_oid)),
                      "column_comments": conn.execute(
                          "SELECT attname, col_description(attrelid, attnum) FROM pg_attribute "
                          "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped "
                          "AND col_description(attrelid, attnum) IS NOT NULL",
                          (int(view_oid),)).fetchall()})
    return views


def _recreate_view(conn: psycopg.Connection[Any], view: dict[str, Any]) -> None:
    name = sql.Identifier(view["schema"], view["name"])
    options: sql.Composable = sql.SQL("")
    settings = [o.split("=", 1) for o in view["options"] if "=" in o]
    if settings:
        options = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in settings))
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE VIEW {}{} AS {}").format(
                name, options, sql.SQL(view["definition"].rstrip().rstrip(";"))))
    except psycopg.Error as exc:
        raise DatabaseError(
            f"the view {view['qualified']} depends on the table and no longer fits its new "
            f"columns: {_server_message(exc)}; nothing was changed",
            hint=f"drop or change the view {view['qualified']}, then run `csv2pg build` again") from None
    if view["comment"] is not None:
        conn.execute(sql.SQL("COMMENT ON VIEW {} IS {}").format(name, sql.Literal(view["comment"])))
    for column, comment in view["column_comments"]:
        conn.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            name, sql.Identifier(str(column)), sql.Literal(comment)))
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute(sql.SQL("ALTER VIEW {} OWNER TO {}").format(name, sql.Identifier(view["owner"])))
    _apply_grants(conn, name, view["grants"])


def _carry_comments(conn: psycopg.Connection[Any], oid: int, schema: str, staging: str) -> None:
    stage_oid = _oid(conn, schema, staging)
    stage = sql.Identifier(schema, staging)
    row = conn.execute("SELECT obj_description(%s, 'pg_class'), obj_description(%s, 'pg_class')",
                       (oid, stage_oid)).fetchone()
    if row is not None and row[0] is not None and row[1] is None:
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(stage, sql.Literal(row[0])))
    columns = conn.execute(
        "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
        "JOIN pg_attribute s ON s.attrelid = %s AND s.attname = a.attname AND NOT s.attisdropped "
        "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped "
        "AND col_description(a.attrelid, a.attnum) IS NOT NULL "
        "AND col_description(s.attrelid, s.attnum) IS NULL", (stage_oid, oid)).fetchall()
    for column, comment in columns:
        conn.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            stage, sql.Identifier(str(column)), sql.Literal(comment)))


def _grants(conn: psycopg.Connection[Any], oid: int) -> list[tuple[str | None, str, bool]]:
    """(grantee or None for PUBLIC, privilege, grantable) of a relation, owner's own excluded."""
    rows = conn.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, "
        "a.privilege_type, a.is_grantable FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = %s AND a.grantee <> c.relowner ORDER BY 1, 2", (oid,)).fetchall()
    return [(None if g is None else str(g), str(p), bool(w)) for g, p, w in rows]


def _apply_grants(conn: psycopg.Connection[Any], target: sql.Composable,
                  grants: list[tuple[str | None, str, bool]]) -> None:
    for grantee, privilege, grantable in grants:
        conn.execute(sql.SQL("GRANT {} ON {} TO {}{}").format(
            sql.SQL(privilege), target,  # privilege: a keyword from aclexplode, never user text
            sql.SQL("PUBLIC") if grantee is None else sql.Identifier(grantee),
            sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL("")))


def _carry_grants(conn: psycopg.Connection[Any], oid: int, stage: sql.Composable) -> None:
    _apply_grants(conn, stage, _grants(conn, oid))
    # Column-level grants (e.g. SELECT (a, b)) on columns the new table still has.
    rows = conn.execute(
        "SELECT a.attname, CASE WHEN g.grantee = 0 THEN NULL ELSE pg_get_userbyid(g.grantee) END, "
        "g.privilege_type, g.is_grantable FROM pg_attribute a, aclexplode(a.attacl) g "
        "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2, 3",
        (oid,)).fetchall()
    for column, grantee, privilege, grantable in rows:
        with contextlib.suppress(psycopg.errors.UndefinedColumn), conn.transaction():
            conn.execute(sql.SQL("GRANT {} ({}) ON {} TO {}{}").format(
                sql.SQL(str(privilege)), sql.Identifier(str(column)), stage,
                sql.SQL("PUBLIC") if grantee is None else sql.Identifier(str(grantee)),
                sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL("")))
