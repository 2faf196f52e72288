"""Whole-file proofs of value formats (``csv2pg.formats``) with DuckDB, and in Python.

Contract: ``scan_formats(path, dialect, n_columns, null_tokens, wanted)`` reads ``path`` once
with DuckDB (the reader of ``csv2pg.profile``) and returns, for each column index in
``wanted``, one entry per proposed format: how many non-null values are not in the format
(``failures``), which optional parts of the format the values show (``uses``: number
"group", "decimal", "currency"; date "time", ``formats.PAIRS``) and, for numbers, the minimum and
maximum of the values written without a fraction. ``FormatStats`` counts the same while
values stream through Python (small files, and files DuckDB cannot read as the dialect
says), with the first failing values and their lines.

The SQL predicate (``predicate``) accepts exactly what ``formats.canonical`` accepts: the
same regular expression (RE2 reads it as Python does), the calendar through a DATE cast,
one sign at most, hours 1 to 12 with AM/PM. The unit tests compare both on tricky values.

Imports duckdb (profiling code); reads the CSV, writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from csv2pg import formats
from csv2pg.dialect import Dialect
from csv2pg.identifiers import quote_literal
from csv2pg.predicates import trimmed
from csv2pg.profile import Unsupported, _read_csv, _sql_list, _value, run_query, supports

MAX_EXAMPLES = 5
VALUE_CHARS = 80
NUMBER_USES = ("group", "decimal", "currency")
DATE_USES = ("time", *formats.PAIRS)
_MONTHS = "".join(formats.MONTHS)


def _full(expr: str, pattern: str) -> str:
    return f"regexp_full_match({expr}, {quote_literal(pattern)})"


def _group(t: str, pattern: str, k: int) -> str:
    return f"regexp_extract({t}, {quote_literal('^(?:' + pattern + ')$')}, {k})"


def _number_predicate(fmt: Mapping[str, Any], t: str) -> str:
    signs = f"(length({t}) - length(replace(replace({t}, '-', ''), '+', '')))"
    return f"({_full(t, formats.number_pattern(fmt))} AND {signs} <= 1)"


def _date_predicate(fmt: Mapping[str, Any], t: str) -> str:
    p = formats.date_pattern(fmt)
    parts = dict(zip(fmt["order"], (_group(t, p, k) for k in (1, 2, 3)), strict=True))
    if fmt["month"] == "name":
        month = f"CAST((strpos('{_MONTHS}', lower(left({parts['m']}, 3))) + 2) // 3 AS VARCHAR)"
    else:
        month = parts["m"]
    year = parts["y"]
    if fmt.get("year_digits") == 2:  # formats.full_year
        year = (f"(CASE WHEN TRY_CAST({year} AS INTEGER) >= {formats.PIVOT} THEN '19' "
                f"ELSE '20' END || {year})")
    iso = f"({year} || '-' || lpad({month}, 2, '0') || '-' || lpad({parts['d']}, 2, '0'))"
    calendar = f"({year} <> '0000' AND TRY_CAST({iso} AS DATE) IS NOT NULL)"
    meridiem = f"({_group(t, p, 8)} = '' OR TRY_CAST({_group(t, p, 4)} AS INTEGER) BETWEEN 1 AND 12)"
    return f"(CASE WHEN {_full(t, p)} THEN {calendar} AND {meridiem} ELSE false END)"


def predicate(fmt: Mapping[str, Any], col: str) -> str:
    """SQL true exactly when ``formats.canonical(value of col, fmt)`` is not None (col not NULL)."""
    t = trimmed(col)
    return _number_predicate(fmt, t) if fmt["kind"] == "number" else _date_predicate(fmt, t)


def _uses_sql(fmt: Mapping[str, Any], t: str) -> list[str]:
    """One boolean per name of NUMBER_USES / DATE_USES, as ``formats.uses``."""
    if fmt["kind"] == "number":
        group = fmt.get("group")
        g = "false" if group is None else \
            f"regexp_matches({t}, {quote_literal('[0-9]' + formats._group_re(group) + '[0-9]')})"
        d = f"regexp_matches({t}, {quote_literal('[0-9]' + re.escape(fmt['decimal']) + '[0-9]')})"
        c = f"contains({t}, {quote_literal(fmt['currency'])})" if fmt.get("currency") else "false"
        return [g, d, c]
    p = formats.date_pattern(fmt)
    time = f"({_group(t, p, 4)} <> '')"
    if fmt["month"] != "number":
        return [time, *("false" for _ in formats.PAIRS)]
    return [time, *(f"(TRY_CAST({_group(t, p, i)} AS INTEGER) <> TRY_CAST({_group(t, p, j)} AS INTEGER))"
                    for i, j in formats.PAIRS.values())]


def clean_sql(fmt: Mapping[str, Any], t: str) -> str:
    """``formats.clean_number`` in SQL, for a value in the number format."""
    d = fmt["decimal"]
    digits = f"regexp_replace({t}, {quote_literal('[^0-9' + ('.' if d == '.' else ',') + ']')}, '', 'g')"
    if d == ",":
        digits = f"replace({digits}, ',', '.')"
    return f"(CASE WHEN left({t}, 1) = '(' OR contains({t}, '-') THEN '-' ELSE '' END || {digits})"


def aggregates(fmt: Mapping[str, Any], v: str) -> list[str]:
    """ok count, a count per use, and for numbers the integer min and max."""
    t = trimmed(v)
    ok = predicate(fmt, v)
    out = [f"count_if({ok})"]
    out += [f"count_if(CASE WHEN {ok} THEN {u} ELSE false END)" for u in _uses_sql(fmt, t)]
    if fmt["kind"] == "number":
        whole = (f"(CASE WHEN {ok} AND NOT regexp_matches({t}, "
                 f"{quote_literal('[0-9]' + re.escape(fmt['decimal']) + '[0-9]')}) "
                 f"AND length(regexp_replace({t}, '[^0-9]', '', 'g')) <= 38 "
                 f"THEN TRY_CAST({clean_sql(fmt, t)} AS HUGEINT) END)")
        out += [f"min({whole})", f"max({whole})"]
    return out


def _entry(fmt: Mapping[str, Any], non_null: int, values: list[Any]) -> dict[str, Any]:
    names = NUMBER_USES if fmt["kind"] == "number" else DATE_USES
    ok = int(values[0] or 0)
    used = [name for name, n in zip(names, values[1:1 + len(names)], strict=True) if n]
    entry: dict[str, Any] = {"format": dict(fmt), "failures": non_null - ok, "uses": used,
                             "examples": []}
    if fmt["kind"] == "number":
        low, high = values[1 + len(names):]
        entry["integer_min"] = None if low is None else str(int(low))
        entry["integer_max"] = None if high is None else str(int(high))
    return entry


@dataclass
class FactQuery:
    """The aggregates proving formats (``wanted``) and exact uniqueness (``distinct``), as
    a SELECT list of their own (``scan_formats``) or one to add to the profile's scan."""

    select: list[str]
    layout: list[tuple[int, Mapping[str, Any] | None, int]]
    distinct: list[int]

    def read(self, values: Sequence[Any]) -> tuple[dict[int, list[dict[str, Any]]], dict[int, bool]]:
        """``scan_formats``' result from the values of ``select``."""
        rest = list(values)
        out: dict[int, list[dict[str, Any]]] = {}
        non_null = 0
        for i, fmt, width in self.layout:
            taken, rest = rest[:width], rest[width:]
            if fmt is None:
                non_null = int(taken[0] or 0)
                out[i] = []
            else:
                out[i].append(_entry(fmt, non_null, taken))
        return out, {i: bool(flag) for i, flag in zip(self.distinct, rest, strict=True)}


def fact_query(null_tokens: frozenset[str], wanted: Mapping[int, Sequence[Mapping[str, Any]]],
               unique: Collection[int] = ()) -> FactQuery:
    tokens = _sql_list(null_tokens)
    select: list[str] = []
    layout: list[tuple[int, Mapping[str, Any] | None, int]] = []
    for i, fmts in sorted(wanted.items()):
        v = _value(f"c{i}", tokens)
        select.append(f"count({v})")
        layout.append((i, None, 1))
        for one in fmts:
            aggs = aggregates(one, v)
            select += aggs
            layout.append((i, one, len(aggs)))
    distinct = sorted(unique)
    for i in distinct:
        v = _value(f"c{i}", tokens)
        select.append(f"count(DISTINCT {v}) = count({v})")
    return FactQuery(select, layout, distinct)


def scan_formats(path: Path, dialect: Dialect, n_columns: int, null_tokens: frozenset[str],
                 wanted: Mapping[int, Sequence[Mapping[str, Any]]],
                 unique: Collection[int] = (), threads: int | None = None,
                 ) -> tuple[dict[int, list[dict[str, Any]]], dict[int, bool]]:
    """(per column of ``wanted``, one proof entry per format; per column of ``unique``,
    whether its non-null values are all different, exactly: ``count(DISTINCT)``)."""
    why = supports(path, dialect, n_columns)
    if why is not None:
        raise Unsupported(why)
    query = fact_query(null_tokens, wanted, unique)
    sql = f"SELECT {', '.join(['count(*)', *query.select])} FROM {_read_csv(n_columns, dialect)}"
    try:
        row = run_query(sql, path, threads)
    except duckdb.Error as exc:
        raise Unsupported(f"DuckDB could not read the file: {exc}") from None
    return query.read(row[1:])


@dataclass
class FormatStats:
    """``scan_formats``' counts for one column while its values stream through Python."""

    formats: list[dict[str, Any]]
    non_null: int = 0
    ok: list[int] = field(default_factory=list)
    used: list[set[str]] = field(default_factory=list)
    low: list[int | None] = field(default_factory=list)
    high: list[int | None] = field(default_factory=list)
    examples: list[list[dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.formats)
        self.ok, self.used = [0] * n, [set() for _ in range(n)]
        self.low, self.high = [None] * n, [None] * n
        self.examples = [[] for _ in range(n)]

    def add(self, line: int, value: str) -> None:
        """A non-null value (not empty, not a null token)."""
        self.non_null += 1
        for k, fmt in enumerate(self.formats):
            text = formats.canonical(value, fmt)
            if text is None:
                if len(self.examples[k]) < MAX_EXAMPLES:
                    self.examples[k].append({"line": line, "value": value[:VALUE_CHARS]})
                continue
            self.ok[k] += 1
            self.used[k] |= formats.uses(value, fmt)
            if fmt["kind"] == "number" and "." not in text and len(text.lstrip("-")) <= 38:
                number = int(text)
                low, high = self.low[k], self.high[k]
                self.low[k] = number if low is None else min(low, number)
                self.high[k] = number if high is None else max(high, number)

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for k, fmt in enumerate(self.formats):
            names = NUMBER_USES if fmt["kind"] == "number" else DATE_USES
            entry: dict[str, Any] = {
                "format": dict(fmt), "failures": self.non_null - self.ok[k],
                "uses": [n for n in names if n in self.used[k]], "examples": self.examples[k]}
            if fmt["kind"] == "number":
                low, high = self.low[k], self.high[k]
                entry["integer_min"] = None if low is None else str(low)
                entry["integer_max"] = None if high is None else str(high)
            out.append(entry)
        return out
