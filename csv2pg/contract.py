"""``csv2pg build --locked``: does the data still fit the committed schemas' contract?

Reads each table's fresh sample.json (the profile of the whole CSV) and its committed
``schemas/T.schema.json``; writes nothing and touches no database. The contract of a
committed schema is its columns (names and order), their types, their nullability and the
primary key. Evidence counts (confidence, distinct estimates, examples) are not part of it,
so a CSV that grew or changed values still passes while every value fits. A type fits when
no value of the column failed to parse as it over the whole file (the profile counts the
failures of every candidate type); the type the data needs now comes from the heuristic
engine (never the LLM: the committed schema is the answer). Uniqueness of the primary key is
proven by PostgreSQL when the table is swapped in (a duplicate fails that table's import and
keeps the old table).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from csv2pg.errors import DataError
from csv2pg.settings import TableSettings
from csv2pg.stages.infer import build_chunk_types, chunk_plan
from csv2pg.stages.schema import blocking_problems, overrides_hash

_SIZED = re.compile(r"^(numeric|char|varchar|character varying|character)\((\d+)(?:,\s*(\d+))?\)$")
# Types the profile tests under another candidate's name (text, char and varchar always parse).
_PROVEN_AS = {"real": "double precision", "json": "jsonb", "int": "integer", "int4": "integer",
              "int8": "bigint", "int2": "smallint", "float8": "double precision", "bool": "boolean"}


class LockedError(DataError):
    """The data no longer fits a committed schema (exit 1)."""


def _candidate(pg_type: str) -> tuple[str, re.Match[str] | None]:
    sized = _SIZED.match(pg_type)
    base = sized.group(1) if sized else pg_type
    return _PROVEN_AS.get(base, base), sized


def _needed_types(table: TableSettings, sample: dict[str, Any]) -> dict[str, str]:
    """What the heuristic engine would choose now, per column (no LLM)."""
    heuristic = replace(table, inference="heuristic")
    chunks = len(chunk_plan(heuristic, [p["column"] for p in sample["columns"]]))
    needed: dict[str, str] = {}
    for chunk in range(chunks):
        for column in build_chunk_types(heuristic, sample, chunk):
            needed[str(column["column"])] = str(column["type"])
    return needed


def _evidence(examples: list[dict[str, Any]]) -> str:
    if not examples:
        return ""
    first = examples[0]
    return f": {first['value']!r} at line {first['line']}"


def column_changes(table: TableSettings, schema: dict[str, Any], sample: dict[str, Any]) -> list[str]:
    """Per column, what no longer fits (empty: the data honours the contract)."""
    changes: list[str] = []
    if schema.get("inputs", {}).get("overrides") != overrides_hash(table):
        changes.append(f"[tables.{table.name}] changed its column overrides or primary_key since "
                       "the schema was committed")
    if schema["table"] != table.table or schema["db_schema"] != table.db_schema:
        changes.append(f"the target table is now {table.db_schema}.{table.table}, the schema says "
                       f"{schema['db_schema']}.{schema['table']}")
    for blocking in blocking_problems(table, sample):
        line = f" (line {blocking['line']})" if blocking.get("line") else ""
        changes.append(f"the file has a problem{line}: {blocking['message']}")
    profiles = sample["columns"]
    committed = [str(c["column"]) for c in schema["columns"]]
    now = [str(p["column"]) for p in profiles]
    if committed != now:
        gone = [c for c in committed if c not in now]
        new = [c for c in now if c not in committed]
        for column in gone:
            changes.append(f"{column}: the column is gone from the file")
        for column in new:
            header = next(p["name"] for p in profiles if p["column"] == column)
            changes.append(f"{column}: a new column (header {header!r})")
        if not gone and not new:
            changes.append(f"the columns are in another order: {', '.join(now)} (the schema has "
                           f"{', '.join(committed)})")
    by_column = {str(p["column"]): p for p in profiles}
    needed: dict[str, str] | None = None
    for column in schema["columns"]:
        name, pg_type = str(column["column"]), str(column["type"])
        profile = by_column.get(name)
        if profile is None:
            continue
        if profile["name"] != column["header"]:
            changes.append(f"{name}: the header is now {profile['name']!r} (was {column['header']!r})")
        candidate_name, sized = _candidate(pg_type)
        candidate = profile["candidates"].get(candidate_name)
        problem = None
        if candidate is not None and candidate["failures"]:
            shown = _evidence(candidate["examples"]).removeprefix(": ")
            count = candidate["failures"]
            problem = (f"{shown} ({count} value(s) are not {pg_type})" if shown
                       else f"{count} value(s) are not {pg_type}")
        elif sized and sized.group(1) != "numeric" and (profile["max_length"] or 0) > int(sized.group(2)):
            problem = f"the longest value has {profile['max_length']} characters"
        elif sized and sized.group(1) == "numeric":
            precision, scale = int(sized.group(2)), int(sized.group(3) or 0)
            digits = profile.get("max_integer_digits") or 0
            if digits > precision - scale:
                problem = f"a value has {digits} digits before the decimal point"
        if problem is not None:
            if needed is None:
                needed = _needed_types(table, sample)
            changes.append(f"{name}: {pg_type} → {needed.get(name, 'text')}: {problem}")
        if column.get("nullable") is False:
            tokens = set(column.get("null_tokens") or [])
            nulls = int(profile["empty"]) + sum(n for t, n in profile["null_tokens"].items() if t in tokens)
            if nulls:
                key = " (a primary key column)" if name in schema.get("primary_key", []) else ""
                changes.append(f"{name}: not null → nullable{key}: {nulls} empty or null value(s)")
    return changes


def check_locked(table: TableSettings, schema: dict[str, Any] | None,
                 sample: dict[str, Any]) -> list[str]:
    """``column_changes``, or the one change that a missing committed schema is."""
    if schema is None:
        return [f"no committed schema for {table.name}: run `csv2pg build` without --locked and "
                "commit schemas/"]
    return column_changes(table, schema, sample)
