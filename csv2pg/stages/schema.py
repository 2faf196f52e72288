"""Step ``schema:T``: every chunk's type decisions + overrides → ``schemas/T.schema.json``.

Reads the chunk decisions, sample.json (for the proof of overrides and the profile's
problems) and ``[tables.T.columns]``; writes nothing itself (the graph writes the artifact).
Overrides bypass inference but not the proof: a forced type that the profile saw values fail
is refused with those values and their line numbers.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from csv2pg import formats, pgtypes
from csv2pg.dialect import Dialect, open_records
from csv2pg.errors import ConfigError, DataError
from csv2pg.hashing import hash_value
from csv2pg.settings import TableSettings
from csv2pg.stages.infer import is_identifier_name

_SIZED = re.compile(r"^(numeric|char|varchar)\((\d+)(?:,(\d+))?\)$")


def overrides_hash(table: TableSettings) -> str:
    """The hash of what the manifest says about the table's schema: overrides and key."""
    return hash_value({"columns": [list(pair) for pair in table.columns],
                       "primary_key": table.primary_key if isinstance(table.primary_key, str)
                       else list(table.primary_key)})


def types_hash(chunks: list[list[dict[str, Any]]]) -> str:
    """The hash of the decisions only, so the schema is remade only when a decision changes."""
    return hash_value([column for chunk in chunks for column in chunk])


def facts_hash(sample: dict[str, Any]) -> str:
    """The hash of the sample's facts the schema records beside the decisions (exact
    uniqueness, proven value formats), so a schema whose decisions stand is still remade
    when one of them changes (``freshness.schema_reason`` compares it with ``inputs.facts``)."""
    return hash_value([{"unique": p.get("unique"),
                        "formats": [[e["format"], e["failures"] == 0, e["uses"]]
                                    for e in p.get("formats", ())]}
                       for p in sample["columns"]])


# Override types the profile tests under another candidate's name.
_PROVEN_AS = {"real": "double precision", "json": "jsonb", "char": "text", "varchar": "text"}


def _candidate_of(pg_type: str) -> str:
    sized = _SIZED.match(pg_type)
    base = sized.group(1) if sized else pg_type
    return _PROVEN_AS.get(base, base)


NUMBER_TYPES = frozenset({"smallint", "integer", "bigint", "numeric", "real", "double precision"})
DATE_TYPES = frozenset({"date", "timestamp"})
_INTEGER_RANGES = {"smallint": (-(2**15), 2**15 - 1), "integer": (-(2**31), 2**31 - 1),
                   "bigint": (-(2**63), 2**63 - 1)}


def transform_for(profile: dict[str, Any], pg_type: str) -> dict[str, Any] | None:
    """The format (``formats.choose``) that values of a number or date column need rewriting
    from, when PostgreSQL's own input would not read them as ``pg_type``; else None."""
    candidate = _candidate_of(pg_type)
    kind = "number" if candidate in NUMBER_TYPES else "date" if candidate in DATE_TYPES else None
    own = profile["candidates"].get(candidate)
    if kind is None or own is None or not own["failures"]:
        return None
    if kind == "number" and profile.get("leading_zeros"):
        return None  # digit codes: rewriting "036" to 36 would lose what the code says
    fmt, _ = formats.choose(profile.get("formats", ()), kind)
    return fmt


def _fits_format(profile: dict[str, Any], fmt: dict[str, Any], pg_type: str) -> str | None:
    """Why the rewritten values of ``fmt`` do not fit ``pg_type`` (integer types), or None."""
    entry = next(e for e in profile["formats"]  # the one formats.choose took
                 if e["failures"] == 0 and e["format"]["kind"] == fmt["kind"])
    candidate = _candidate_of(pg_type)
    if candidate not in _INTEGER_RANGES:
        return None
    if "decimal" in entry["uses"]:
        return "some values have a fraction"
    low, high = _INTEGER_RANGES[candidate]
    if entry.get("integer_min") is None or not (
            low <= int(entry["integer_min"]) and int(entry["integer_max"]) <= high):
        return f"some values are beyond {candidate}'s range"
    return None


def _prove_override(table: TableSettings, profile: dict[str, Any], pg_type: str) -> None:
    """Refuse an override that values of the column are known not to satisfy."""
    failures: list[tuple[int, str]] = []
    count = 0
    candidate = profile["candidates"].get(_candidate_of(pg_type))
    fmt = transform_for(profile, pg_type)
    if fmt is not None:
        problem = _fits_format(profile, fmt, pg_type)
        if problem is not None:
            raise DataError(
                f"column {profile['name']!r} is forced to {pg_type} in [tables.{table.name}.columns], "
                f"but written as {formats.describe(fmt)}, {problem}",
                path=table.source, table=table.name, column=profile["column"],
                hint="choose numeric, or a wider type (text always fits)")
        candidate = None  # the rewritten values are proven
    if candidate is not None and candidate["failures"]:
        count = candidate["failures"]
        failures = [(e["line"], e["value"]) for e in candidate["examples"]]
    sized = _SIZED.match(pg_type)
    if sized and sized.group(1) in ("char", "varchar") and (profile["max_length"] or 0) > int(sized.group(2)):
        raise DataError(
            f"column {profile['name']!r} is forced to {pg_type} in [tables.{table.name}.columns], "
            f"but its longest value has {profile['max_length']} characters",
            path=table.source, table=table.name, column=profile["column"],
            hint=f"use text or a longer {sized.group(1)} for {profile['column']}")
    if sized and sized.group(1) == "numeric" and not count:
        precision, scale = int(sized.group(2)), int(sized.group(3) or 0)
        digits = profile.get("max_integer_digits") or 0
        if digits > precision - scale:
            raise DataError(
                f"column {profile['name']!r} is forced to {pg_type} in [tables.{table.name}.columns], "
                f"but some values have {digits} digits before the decimal point and {pg_type} "
                f"holds at most {precision - scale}",
                path=table.source, table=table.name, column=profile["column"],
                hint=f"use numeric({digits + scale},{scale}) or plain numeric")
    if count:
        shown = ", ".join(f"line {line}: {value!r}" for line, value in failures)
        raise DataError(
            f"column {profile['name']!r} is forced to {pg_type} in [tables.{table.name}.columns], "
            f"but {count} value(s) are not {pg_type} ({shown})",
            path=table.source, table=table.name, column=profile["column"],
            hint="fix those rows, or choose a wider type (text always fits)")


MAX_SHOWN = 5


def _prove_by_pass(table: TableSettings, sample: dict[str, Any], profile: dict[str, Any],
                   pg_type: str, tokens: list[str]) -> None:
    """Prove an override type the profile did not test (``pgtypes.OVERRIDE_PARSERS``: money,
    interval, bytea, macaddr, real's range) by one pass over the column in every file."""
    parser = pgtypes.OVERRIDE_PARSERS.get(pg_type)
    if parser is None:
        return
    index, null = int(profile["index"]), {"", *tokens}
    dialect = Dialect.from_dict(sample["dialect"])
    count, shown = 0, list[str]()
    for path in table.files:
        for line, fields in open_records(path, dialect):
            value = fields[index] if index < len(fields) else ""
            if value in null or parser(value):
                continue
            count += 1
            if len(shown) < MAX_SHOWN:
                shown.append(f"line {line}: {value[:80]!r}")
    if count:
        raise DataError(
            f"column {profile['name']!r} is forced to {pg_type} in [tables.{table.name}.columns], "
            f"but {count} value(s) are not {pg_type} ({', '.join(shown)})",
            path=table.source, table=table.name, column=profile["column"],
            hint="fix those rows, or choose a wider type (text always fits)")


def _override_targets(table: TableSettings, columns: list[dict[str, Any]]) -> dict[int, str]:
    by_name: dict[str, int] = {}
    for index, column in enumerate(columns):
        by_name.setdefault(column["header"], index)
        by_name.setdefault(column["column"], index)
    result: dict[int, str] = {}
    for key, pg_type in table.columns:
        if key not in by_name:
            names = sorted({c["column"] for c in columns} | {c["header"] for c in columns})
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
            raise ConfigError(
                f"[tables.{table.name}.columns] names a column {key!r} that {table.source_text} does not have",
                key=f"tables.{table.name}.columns.{key}", table=table.name,
                hint=(f'did you mean "{close[0]}"?' if close else
                      f"the columns are: {', '.join(c['column'] for c in columns)}"))
        result[by_name[key]] = pg_type
    return result


def blocking_problems(table: TableSettings, sample: dict[str, Any]) -> list[dict[str, Any]]:
    """The sample's problems that stop the table: all of them, except ragged rows when the
    table allows rejects (the import keeps those rows in rejects.jsonl and counts them
    against ``max_rejects``)."""
    return [p for p in sample["problems"]
            if not (p["kind"] == "ragged_rows" and table.max_rejects > 0)]


def problems_error(table: TableSettings, sample: dict[str, Any]) -> DataError:
    first = sample["problems"][0]
    more = len(sample["problems"]) - 1
    message = first["message"] + (f" (and {more} more problem(s))" if more else "")
    return DataError(message, path=table.source, line=first.get("line"), table=table.name,
                     hint=first.get("fix") or f"run `csv2pg validate {table.source_text}` for the full list")


KEY_TYPES = ("smallint", "integer", "bigint", "uuid", "text")


def suggest_primary_key(columns: list[dict[str, Any]], profiles: list[dict[str, Any]],
                        rows: int) -> list[str]:
    """A non-null, id-like column whose values look unique over the whole file, or nothing.

    Uniqueness is the column's exact ``unique`` fact (``column_unique``); PostgreSQL proves
    it again when a key is applied (a duplicate fails the import and keeps the old table).
    """
    if rows == 0:
        return []
    candidates = [c["column"] for c in columns
                  if not c["nullable"] and c["type"] in KEY_TYPES and is_identifier_name(c["column"])
                  and c.get("unique")]
    candidates.sort(key=lambda name: name != "id")  # a column called id first, else file order
    return candidates[:1]


def _primary_key(table: TableSettings, columns: list[dict[str, Any]], suggested: list[str]) -> list[str]:
    """The primary key the manifest asks for, as column identifiers."""
    if table.primary_key == "infer":
        if not suggested:
            raise DataError(f'primary_key = "infer" in [tables.{table.name}], but no column is '
                            "non-null, id-like and unique", table=table.name,
                            hint=f"name the key's columns: primary_key = [...] in [tables.{table.name}]")
        return suggested
    by_name = {**{c["header"]: c for c in columns}, **{c["column"]: c for c in columns}}
    key = []
    for name in table.primary_key:
        column = by_name.get(name)
        if column is None:
            close = difflib.get_close_matches(name, sorted(by_name), n=1, cutoff=0.5)
            raise ConfigError(f"primary_key in [tables.{table.name}] names a column {name!r} that "
                              f"{table.source_text} does not have", key=f"tables.{table.name}.primary_key",
                              table=table.name, hint=f'did you mean "{close[0]}"?' if close else None)
        if column["nullable"]:
            raise DataError(f"primary key column {column['column']!r} has empty values",
                            path=table.source, table=table.name, column=column["column"],
                            hint=f"fix those rows, or change primary_key in [tables.{table.name}]")
        key.append(column["column"])
    return key


def column_unique(column: dict[str, Any], profile: dict[str, Any]) -> bool:
    """Whether no two non-null values of the column are the same, over the whole file.

    The profile counted values apart from every null token; tokens the column does not read
    as NULL (a text column's default tokens) are values too, so one seen twice is a duplicate.
    """
    if not profile.get("unique"):
        return False
    applied = set(column["null_tokens"])
    return all(n <= 1 for token, n in profile["null_tokens"].items() if token not in applied)


def build_table_schema(table: TableSettings, sample: dict[str, Any],
                       chunks: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The committed schema document (without schema_version)."""
    blocking = blocking_problems(table, sample)
    if blocking:
        raise problems_error(table, {**sample, "problems": blocking})
    profiles = sample["columns"]
    position = {p["column"]: i for i, p in enumerate(profiles)}
    # Chunks group related columns; the table keeps the file's column order.
    columns = sorted((dict(column) for chunk in chunks for column in chunk),
                     key=lambda c: position.get(c["column"], len(position)))
    if len(columns) != len(profiles):
        raise DataError(f"the chunks describe {len(columns)} columns but the CSV has {len(profiles)}",
                        table=table.name, hint="run `csv2pg build` again")
    for index, pg_type in sorted(_override_targets(table, columns).items()):
        profile = profiles[index]
        _prove_override(table, profile, pg_type)
        column = columns[index]
        tokens = sorted(set(table.null_tokens) | (set(profile["null_tokens"]) if pg_type != "text" else set()))
        _prove_by_pass(table, sample, profile, pg_type, tokens)
        column.update({
            "type": pg_type,
            "source": "override",
            "confidence": 1.0,
            "reason": f"type set in [tables.{table.name}.columns]",
            "null_tokens": [t for t in tokens if t != ""],
            "nullable": bool(sample["rows"] == 0 or profile["empty"]
                             or any(profile["null_tokens"].get(t) for t in tokens)),
        })
    for column, profile in zip(columns, profiles, strict=True):
        column.pop("transform", None)
        fmt = transform_for(profile, column["type"])
        if fmt is not None:
            column["transform"] = fmt
        column["unique"] = column_unique(column, profile)
    suggested = suggest_primary_key(columns, profiles, sample["rows"])
    return {
        "table": table.table,
        "db_schema": table.db_schema,
        "suggested_primary_key": suggested,
        "primary_key": _primary_key(table, columns, suggested),
        "inputs": {"types": types_hash(chunks), "overrides": overrides_hash(table),
                   "facts": facts_hash(sample)},
        "columns": columns,
    }
