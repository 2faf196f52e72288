"""Whole-file column proofs with DuckDB: one parallel scan counts what PostgreSQL accepts.

(The main pass is ``fastscan``'s where it can read the file; this scan then proves only the
columns it left unsettled, and the columns re-proven.)

Contract: ``scan(path, dialect, n_columns, null_tokens, levels)`` reads ``path`` once with
DuckDB's CSV reader (every column as text, the dialect given explicitly, no sniffing) and
returns, per column, the counts ``stages.sample`` turns into the column profile: non-null
values, empty values, null tokens, lengths, digit codes with leading zeros, a distinct
estimate (DuckDB's ``approx_count_distinct``, a HyperLogLog: exact to about 30 values, then
about 3 % standard error; deterministic, its registers merge by max whatever the thread
split) and, for each proof level asked for the column, how many non-null values parse as
each candidate of that level and the min/max of the values read as that type
(``bound_sql``). NUL bytes are looked for once in the whole file (memchr, in a thread while
DuckDB scans) rather than per value; null tokens are compared one by one only where the
sample showed them (``scan``'s ``seen_tokens``), the rest counted together. ``supports(dialect, path)`` says whether DuckDB reads the file exactly as
``dialect.open_records`` does; when it does not, or the scan fails (ragged rows, bad bytes),
``Unsupported`` is raised and the caller profiles in Python instead.

The checks are the SQL predicates of ``csv2pg.predicates``, which accept exactly what
``pgtypes.parses_as`` accepts.

Proof levels (a level is the candidates one family shares; values of different families
never overlap, so a column needs only its family's level):

- ``integer``: smallint, integer, bigint, with the bigint minimum and maximum;
- ``number``: the integer level plus numeric and double precision, decimal shape (integer
  digits, scale) and values in exponent notation;
- ``boolean``, ``date`` (date, timestamp, timestamptz), ``time``, ``uuid``, ``inet`` (cidr,
  inet), ``jsonb``.

Imports duckdb (as do ``formatscan`` and ``locate``). Reads the CSV; writes nothing. Imports no other
csv2pg module than dialect, pgtypes and predicates.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import os
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from csv2pg import pgtypes
from csv2pg.dialect import Dialect
from csv2pg.predicates import (
    DATE_RE,
    DEC_RE,
    PLAIN_RE,
    SCI_RE,
    TIME_RE,
    TS_RE,
    TSTZ_TIGHT_RE,
    bigint_value,
    canonical_bigint,
    check,
    exponent_ok,
    full,
    lit,
    plain_shape,
    predicate,
    sci_shape,
    shape,
    trimmed,
)

# Python codec → DuckDB encoding, for the encodings DuckDB decodes exactly like Python.
ENCODINGS: Mapping[str, str] = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "latin-1": "latin-1"}
COMPRESSED = (".gz", ".zst", ".zstd", ".bz2", ".xz")
PROBE_BYTES = 1 << 20
MEMORY_LIMIT = "640MB"  # DuckDB's, per scan (see ``run_query``)

LEVELS: Mapping[str, tuple[str, ...]] = {
    "boolean": ("boolean",),
    "integer": ("smallint", "integer", "bigint"),
    "number": ("smallint", "integer", "bigint", "numeric", "double precision"),
    "date": ("date", "timestamp", "timestamptz"),
    "time": ("time",),
    "uuid": ("uuid",),
    "inet": ("cidr", "inet"),
    "jsonb": ("jsonb",),
}
# The level that proves each candidate (the narrowest containing it).
LEVEL_OF: Mapping[str, str] = {
    "boolean": "boolean", "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "number", "double precision": "number", "date": "date", "timestamp": "date",
    "timestamptz": "date", "time": "time", "uuid": "uuid", "cidr": "inet", "inet": "inet",
    "jsonb": "jsonb",
}


class Unsupported(Exception):
    """DuckDB cannot read this file exactly as the dialect says; profile it in Python."""


# --- the scan ------------------------------------------------------------------------------

@dataclass
class ColumnCounts:
    """What one scan found in one column (``ok`` counts non-null values per candidate)."""

    non_null: int = 0
    empty: int = 0
    null_tokens: dict[str, int] = field(default_factory=dict)
    min_length: int | None = None
    max_length: int | None = None
    leading_zeros: int = 0
    unseen_tokens: int = 0  # null tokens not counted one by one (see ``scan``)
    needs_exact: bool = False  # the one-check proof could not settle a fact: scan again
    ok: dict[str, int] = field(default_factory=dict)
    integer_min: int | None = None
    integer_max: int | None = None
    max_integer_digits: int | None = None
    max_scale: int | None = None
    exponent_values: int = 0
    distinct: int = 0
    # (min, max) over the values, per type they would have if proven (see ``bound_sql``)
    bounds: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def supports(path: Path, dialect: Dialect, n_columns: int) -> str | None:
    """None when DuckDB reads ``path`` exactly as ``open_records`` does, else why not."""
    if dialect.encoding not in ENCODINGS:
        return f"encoding {dialect.encoding}"
    if path.suffix.lower() in COMPRESSED:
        return "compressed input"
    if dialect.line_terminator not in ("\n", "\r\n"):
        return "line terminator"
    if dialect.quotechar is None or dialect.escapechar is not None:
        return "quoting"
    if dialect.comment is not None or dialect.footer_lines:
        return "comment or footer lines"
    if n_columns < 2:
        return "a single column (blank lines would be records)"
    with open(path, "rb") as handle:
        head = handle.read(PROBE_BYTES)
    if b"\x00" in head or head.count(b"\r") != head.count(b"\r\n"):
        return "NUL bytes or lone carriage returns"
    if dialect.encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
        return "byte-order mark read as text"
    return None


def _read_csv(n_columns: int, dialect: Dialect) -> str:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n_columns)) + "}"
    quote = lit(dialect.quotechar or '"')
    return (f"read_csv($path, columns = {columns}, header = {str(dialect.has_header).lower()}, "
            f"delim = {lit(dialect.delimiter)}, quote = {quote}, escape = {quote}, "
            f"skip = {int(dialect.preamble_lines)}, encoding = {lit(ENCODINGS[dialect.encoding])}, "
            f"auto_detect = false, strict_mode = false, parallel = true)")


def _value(c: str, tokens: str) -> str:
    """Column ``c`` with its null tokens read as NULL (DuckDB reads empty fields as NULL)."""
    return f"(CASE WHEN {c} IN ({tokens}) THEN NULL ELSE {c} END)" if tokens else c


STATS = 6  # aggregates of ``_stats``


def _stats(c: str, seen: frozenset[str]) -> list[str]:
    """Present values, null tokens, lengths, leading-zero codes, distinct values.

    CASE rather than FILTER or AND: DuckDB evaluates a CASE branch only on the rows that take
    it, so the regular expression runs only on values starting with 0 and a digit
    (``'00' <= v < '0:'``: strings compare bytewise, ':' follows '9', and two comparisons
    cost less than ``starts_with`` or a character taken out; "0.5" is not looked at). Tokens are counted
    one ``count_if`` each: ``histogram`` next to ``approx_count_distinct`` took 2 GB of
    memory on a 1 GB file (DuckDB 1.x-2.0).
    """
    v = _value(c, _sql_list(seen))
    names = [lit(t) for t in sorted(seen)]
    return [
        f"count({c})",
        (f"map([{', '.join(names)}], [{', '.join(f'count_if({c} = {n})' for n in names)}])"
         if names else "NULL"),
        f"min(length({v}))",
        f"max(length({v}))",
        f"count_if(CASE WHEN {v} >= '00' AND {v} < '0:' "
        f"THEN regexp_full_match({v}, '[0-9]+') ELSE false END)",
        f"approx_count_distinct({v})",
    ]


def bound_sql(kind: str, v: str) -> list[str]:
    """SQL for the (min, max) of the non-null values ``v`` read as ``kind``.

    ``kind`` is "number" (as DOUBLE, NaN above everything), "date", "timestamp",
    "timestamptz" (microseconds since 1970-01-01 UTC; fractions past the microsecond
    truncated, as DuckDB casts them) or "time" (a ``datetime.time``). Values that do not cast
    are ignored: the bounds mean something only for a column proven of that type.
    """
    return _bounds_of(kind, _bound_value(kind, v))


def _bound_value(kind: str, v: str) -> str:
    """``v`` read as ``kind`` (see ``bound_sql``), NULL where it does not cast."""
    if kind == "number":
        return f"TRY_CAST({v} AS DOUBLE)"
    t = trimmed(v)
    if kind == "timestamptz":  # DuckDB takes no blank before the zone; pgtypes takes one
        t = f"replace(replace({t}, ' +', '+'), ' -', '-')"
    return f"TRY_CAST({t} AS {CASTS[kind]})"


def _bounds_of(kind: str, value: str) -> list[str]:
    if kind in ("number", "time"):
        return [f"min({value})", f"max({value})"]
    return [f"epoch_us(min({value}))", f"epoch_us(max({value}))"]


CASTS: Mapping[str, str] = {"date": "DATE", "timestamp": "TIMESTAMP",
                            "timestamptz": "TIMESTAMPTZ", "time": "TIME"}
# The date and time proposals' shapes, matched on the value as it is (``_tight_proof``).
TIGHT: Mapping[str, str] = {"date": DATE_RE, "timestamp": TS_RE,
                            "timestamptz": TSTZ_TIGHT_RE, "time": TIME_RE}


def _bound(value: Any) -> Any:
    """A bound as ``bound_sql`` gives it, with times as microseconds since midnight."""
    if isinstance(value, _dt.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    return value


def _read_bounds(counts: ColumnCounts, kinds: Sequence[str], values: list[Any]) -> None:
    for kind, (low, high) in zip(kinds, zip(values[::2], values[1::2], strict=True), strict=True):
        if low is not None:
            counts.bounds[kind] = (_bound(low), _bound(high))


# The bounds each proposal and each level computes.
PROOF_BOUNDS: Mapping[str, tuple[str, ...]] = {
    "numeric": ("number",), "double precision": ("number",), "date": ("date",),
    "timestamp": ("timestamp",), "timestamptz": ("timestamptz",), "time": ("time",),
}
LEVEL_BOUNDS: Mapping[str, tuple[str, ...]] = {
    "number": ("number",), "date": ("timestamp", "timestamptz"), "time": ("time",),
}


def _proof(candidate: str, v: str) -> list[str]:
    """The aggregates proving ``candidate`` on the non-null values ``v``, then its bounds."""
    if candidate in TIGHT:
        return _tight_proof(candidate, v)
    bounds = [a for kind in PROOF_BOUNDS.get(candidate, ()) for a in bound_sql(kind, v)]
    return _proof_counts(candidate, v) + bounds


def _proof_counts(candidate: str, v: str) -> list[str]:
    """The aggregates proving ``candidate`` on the non-null values ``v`` (see ``_read_proof``).

    One check per value: the proposal's, plus what the rest of its family follows from
    cheaply (integer ranges of one cast; dates among proven timestamps). Plain decimals, by
    far the common case, skip the exact checks for numbers.
    """
    t = trimmed(v)
    if candidate in pgtypes.INTEGER_RANGES:
        return _integer_aggregates(canonical_bigint(v))
    if candidate in ("numeric", "double precision"):
        return _number_proof(v)
    if candidate == "boolean":
        words = ", ".join(lit(w) for w in sorted(pgtypes._BOOLEAN_WORDS))
        return [f"count_if(CASE WHEN {v} IN ({words}) THEN true ELSE {check(candidate, t, v)} END)"]
    if candidate == "timestamp":
        return [f"count_if({check(candidate, t, v)})",
                f"count_if(CASE WHEN length({t}) = 10 THEN {check('date', t, v)} ELSE false END)"]
    if candidate == "inet":
        return [f"count_if({check(candidate, t, v)})",
                f"count_if(CASE WHEN contains({v}, '/') THEN {check('cidr', t, v)} ELSE false END)"]
    return [f"count_if({check(candidate, t, v)})"]


def _tight_proof(candidate: str, v: str) -> list[str]:
    """A date or time proposal's proof, the value trimmed only where its shape fails.

    A value of the tight shape (``TIGHT``) has no blank to trim, and its clock and zone are
    in range: it holds when its year is not 0000 and DuckDB casts it (the calendar; the cast
    also gives the bounds). Only the other values take ``check`` on the trimmed value.
    Trimming every value cost about as much as the cast (0.1 s per column and GB), and the
    calendar's own cast as much again.
    """
    t = trimmed(v)
    tight = full(v, TIGHT[candidate])
    cast = f"TRY_CAST({v} AS {CASTS[candidate]})"
    held = "true" if candidate == "time" else f"({v} >= '0001' AND {cast} IS NOT NULL)"
    out = [f"count_if(CASE WHEN {tight} THEN {held} ELSE {check(candidate, t, v)} END)"]
    if candidate == "timestamp":  # its dates: the values of 10 characters
        out.append(f"count_if(CASE WHEN {tight} THEN length({v}) = 10 AND {held} "
                   f"WHEN length({t}) = 10 THEN {check('date', t, v)} ELSE false END)")
    value = f"(CASE WHEN {tight} THEN {cast} ELSE {_bound_value(candidate, v)} END)"
    return out + _bounds_of(candidate, value)


def _number_proof(v: str) -> list[str]:
    """The number proof: one regular expression per value, the rest cheap.

    ``kind`` sorts values once: 1 plain decimals (``PLAIN_RE``, the common case), 2 exponent
    notation (``SCI_RE``), 0 the rest (blanks, words, non-numbers), checked exactly, and NULL
    the nulls, which no branch then takes (a CASE's ELSE ran every exact check on them: a
    tenth of nulls made a column's proof 40 % dearer).
    Integer digits come from per-column maxima rather than per value: the value of largest
    magnitude (``arg_max``) has the most, which ``_read_proof`` counts in Python; zeros (whose
    digits depend on how they are written) and kind 0 are counted exactly. Where doubles
    cannot tell the largest value apart (more than 15 significant digits) ``_read_proof``
    asks for the exact second pass.
    """
    t = trimmed(v)
    plain, sci = full(v, PLAIN_RE), full(v, SCI_RE)
    kind = f"(CASE WHEN {v} IS NULL THEN NULL WHEN {plain} THEN 1 WHEN {sci} THEN 2 ELSE 0 END)"
    double = f"TRY_CAST({v} AS DOUBLE)"
    integer = (f"(CASE {kind} WHEN 1 THEN (CASE WHEN contains({v}, '.') THEN NULL "
               f"ELSE TRY_CAST({v} AS BIGINT) END) WHEN 2 THEN NULL "
               f"WHEN 0 THEN {bigint_value(v)} END)")
    decimal = f"({full(t, DEC_RE)} AND {exponent_ok(t)})"
    digits, scale = shape(v)
    plain_scale, sci_scale = plain_shape(v)[1], sci_shape(v)[1]
    normal = f"coalesce(abs({double}) BETWEEN 1e-300 AND 1e300, false)"
    return [
        *_integer_aggregates(integer),
        f"count_if(CASE WHEN {kind} > 0 THEN true WHEN {kind} = 0 THEN {check('numeric', t, v)} END)",
        f"count_if(CASE WHEN {kind} = 1 AND length({v}) < 300 THEN true "
        f"WHEN {kind} = 2 AND {normal} THEN true "
        f"WHEN {kind} >= 0 THEN {check('double precision', t, v)} END)",
        f"arg_max({v}, CASE WHEN {kind} > 0 THEN abs({double}) END)",
        f"max(CASE WHEN {kind} = 0 THEN (CASE WHEN {decimal} THEN {digits} END) "
        f"WHEN {double} = 0 THEN {digits} END)",
        f"max(CASE {kind} WHEN 1 THEN {plain_scale} WHEN 2 THEN {sci_scale} "
        f"WHEN 0 THEN (CASE WHEN {decimal} THEN {scale} END) END)",
        f"count_if(CASE {kind} WHEN 1 THEN false WHEN 2 THEN true "
        f"WHEN 0 THEN {decimal} AND regexp_matches({t}, '[eE]') END)",
    ]


def _largest_digits(largest: Any, exact: Any) -> tuple[int | None, bool]:
    """(max integer digits, whether they are certain) from ``_number_proof``'s maxima."""
    found = [] if exact is None else [int(exact)]
    if largest is not None:
        digits = pgtypes.decimal_shape(str(largest))
        if digits is not None:
            found.append(digits[0])
            magnitude = abs(float(str(largest).strip(pgtypes.PG_SPACE)))
            if 1 <= magnitude < float("inf") and len(str(int(magnitude))) != digits[0]:
                return None, False  # doubles cannot order the largest values: count exactly
    return (max(found) if found else None), True


def _integer_aggregates(value: str) -> list[str]:
    """Values in bigint's, integer's and smallint's range, and the minimum and maximum."""
    out = [f"count({value})"]
    for name in ("integer", "smallint"):
        low, high = pgtypes.INTEGER_RANGES[name]
        out.append(f"count_if({value} BETWEEN {low} AND {high})")
    return [*out, f"min({value})", f"max({value})"]


def _read_proof(candidate: str, values: list[Any], counts: ColumnCounts) -> None:
    """Fill ``counts.ok`` (and the number facts) from ``_proof``'s results.

    Where the proposal holds for every value, the rest of its family follows: every date is
    a timestamp, and a value with a zone is never a date or a timestamp (nor one without a
    zone a timestamptz); every cidr is an inet. Where it does not, only the proposal's own
    counts are given (an inet proposal's with its cidr count).
    """
    kinds = PROOF_BOUNDS.get(candidate, ())
    if kinds:
        _read_bounds(counts, kinds, values[-2 * len(kinds):])
        values = values[:-2 * len(kinds)]
    n = counts.non_null
    if candidate in pgtypes.INTEGER_RANGES or candidate in ("numeric", "double precision"):
        bigint, integer, smallint, low, high = values[:5]
        counts.ok.update(bigint=_count(bigint), integer=_count(integer), smallint=_count(smallint))
        counts.integer_min, counts.integer_max = _int(low), _int(high)
        if candidate in ("numeric", "double precision"):
            numeric, double, largest, exact, scale, exponent = values[5:]
            counts.ok.update({"numeric": _count(numeric), "double precision": _count(double)})
            counts.max_integer_digits, certain = _largest_digits(largest, exact)
            counts.max_scale = _int(scale)
            counts.exponent_values = _count(exponent)
            counts.needs_exact = not certain
        return
    ok = _count(values[0])
    counts.ok[candidate] = ok
    if candidate in ("timestamp", "inet"):
        counts.ok["date" if candidate == "timestamp" else "cidr"] = _count(values[1])
    if ok != n:
        return
    if candidate == "date":
        counts.ok.update(timestamp=n, timestamptz=0)
    elif candidate == "timestamp":
        counts.ok["timestamptz"] = 0
    elif candidate == "timestamptz":
        counts.ok.update(date=0, timestamp=0)
    elif candidate == "cidr":
        counts.ok["inet"] = n


def _aggregates(c: str, tokens: str, levels: Sequence[str]) -> list[str]:
    """Every candidate of every level in ``levels``, checked exactly (the narrower pass)."""
    v = _value(c, tokens)
    out: list[str] = []
    candidates = [name for level in levels for name in LEVELS[level]]
    for name in dict.fromkeys(candidates):
        out.append(f"count_if({predicate(name, v)})")
    if "integer" in levels or "number" in levels:
        out += _integer_aggregates(bigint_value(v))[3:]
    if "number" in levels:
        t = trimmed(v)
        digits, scale = shape(v)
        decimal = f"({full(t, DEC_RE)} AND {exponent_ok(t)})"
        out.append(f"max(CASE WHEN {decimal} THEN {digits} END)")
        out.append(f"max(CASE WHEN {decimal} THEN {scale} END)")
        out.append(f"count_if(CASE WHEN {decimal} THEN regexp_matches({t}, '[eE]') ELSE false END)")
    for level in levels:
        out += [a for kind in LEVEL_BOUNDS.get(level, ()) for a in bound_sql(kind, v)]
    return out


def _read_levels(values: list[Any], levels: Sequence[str], counts: ColumnCounts) -> None:
    rest = list(values)
    for name in dict.fromkeys(name for level in levels for name in LEVELS[level]):
        counts.ok[name] = _count(rest.pop(0))
    if "integer" in levels or "number" in levels:
        counts.integer_min, counts.integer_max = _int(rest.pop(0)), _int(rest.pop(0))
    if "number" in levels:
        counts.max_integer_digits, counts.max_scale = _int(rest.pop(0)), _int(rest.pop(0))
        counts.exponent_values = _count(rest.pop(0))
    for level in levels:
        kinds = LEVEL_BOUNDS.get(level, ())
        _read_bounds(counts, kinds, rest[:2 * len(kinds)])
        rest = rest[2 * len(kinds):]
    if "timestamp" in counts.bounds:
        counts.bounds["date"] = counts.bounds["timestamp"]  # dates cast as midnight


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _count(value: Any) -> int:
    return 0 if value is None else int(value)  # count_if over no rows is NULL


Proof = str | tuple[str, ...]


def _sql_list(tokens: Iterable[str]) -> str:
    return ", ".join(lit(t) for t in sorted(tokens))


def unchecked_tokens(proof: Proof | None, null_tokens: frozenset[str],
                     seen: frozenset[str]) -> frozenset[str]:
    """The tokens not read as NULL in a column that the scan still has to count.

    A token that does not parse as the proposal fails its proof when it occurs, which
    sends the column to an exact second pass anyway; only the others need counting (none,
    for the default tokens). A text column counts them all.
    """
    unseen = null_tokens - seen
    if isinstance(proof, str):
        return frozenset(t for t in unseen if pgtypes.parses_as(proof, t))
    return unseen


def _has_nul(path: Path) -> bool:
    """Whether the file holds a NUL byte (in the encodings DuckDB reads, a NUL character)."""
    with open(path, "rb") as handle:
        while block := handle.read(1 << 23):
            if b"\x00" in block:
                return True
    return False


def run_query(sql: str, path: Path, threads: int | None = None,
              setup: Sequence[str] = ()) -> tuple[Any, ...]:
    """The one row of ``sql`` (which reads ``$path``), in a DuckDB of bounded memory, after
    the ``setup`` statements (which may read ``$path`` too) on the same connection.

    ``count(DISTINCT)`` over millions of values took 2.6 GB on a 1 GB file; under
    ``MEMORY_LIMIT`` DuckDB spills its hash tables to a temporary directory of its own
    (never the working directory, its default) and the process stays under 1 GB.
    Raises duckdb.Error.
    """
    with tempfile.TemporaryDirectory(prefix="csv2pg-duckdb-") as spill:
        config: dict[str, Any] = {"threads": threads or os.cpu_count() or 1,
                                  "memory_limit": MEMORY_LIMIT, "temp_directory": spill}
        try:
            row = _one_row(sql, path, config, setup)
        except duckdb.OutOfMemoryException:
            # What DuckDB could not spill (it keeps some buffers in memory): as before the
            # limit, with the memory it takes, rather than the much slower Python profile.
            row = _one_row(sql, path, {**config, "memory_limit": f"{_total_memory_mb()}MB"},
                           setup)
    return row


def _one_row(sql: str, path: Path, config: dict[str, Any],
             setup: Sequence[str] = ()) -> tuple[Any, ...]:
    with duckdb.connect(config=config) as con:
        con.execute("SET enable_progress_bar = false")
        for statement in setup:
            con.execute(statement, _path_parameter(statement, path))
        row = con.execute(sql, _path_parameter(sql, path)).fetchone()
    assert row is not None
    return tuple(row)


def _path_parameter(sql: str, path: Path) -> dict[str, str] | None:
    return {"path": str(path)} if "$path" in sql else None   # DuckDB refuses unused ones


def _total_memory_mb() -> int:
    """80 % of the machine's memory (DuckDB's own default limit)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.8) >> 20
    except (ValueError, OSError, AttributeError):
        return 8192


def scan(path: Path, dialect: Dialect, n_columns: int, null_tokens: frozenset[str],
         proofs: Sequence[Proof | None], threads: int | None = None,
         seen_tokens: Sequence[frozenset[str]] | None = None,
         columns: Collection[int] | None = None,
         extra: Sequence[str] = (), extra_values: list[Any] | None = None,
         ) -> tuple[int, list[ColumnCounts]]:
    """(records, per-column counts) of one DuckDB pass over ``path``.

    ``proofs[i]`` says what to check in column i: a candidate type (the proposal, one check
    per value, see ``_read_proof``), a tuple of levels (every candidate of each, exactly) or
    None (only the column statistics: a text column). Only ``columns`` (default: all) are
    profiled; the others get empty counts.

    ``seen_tokens[i]`` (default: all of ``null_tokens``) are the tokens read as NULL and
    counted one by one in column i, usually those its sample showed: each token costs a
    comparison per value. The rest are counted together (``unchecked_tokens``) into
    ``ColumnCounts.unseen_tokens``; a column where that is not 0 must be scanned again with
    every token. ``extra`` aggregates (SQL over the columns c0, c1, ...) are computed in the
    same pass, their values appended to ``extra_values``. Raises ``Unsupported`` for a file
    with NUL characters.
    """
    why = supports(path, dialect, n_columns)
    if why is not None:
        raise Unsupported(why)
    wanted = set(range(n_columns) if columns is None else columns)
    per_column: list[list[str]] = []
    for i, proof in enumerate(proofs):
        if i not in wanted:
            per_column.append([])
            continue
        c = f"c{i}"
        seen = null_tokens if seen_tokens is None else seen_tokens[i] & null_tokens
        tokens = _sql_list(seen)
        unseen = _sql_list(unchecked_tokens(proof, null_tokens, seen))
        aggregates = _stats(c, seen)
        aggregates.append(f"count_if({c} IN ({unseen}))" if unseen else "0")
        if isinstance(proof, str):
            aggregates += _proof(proof, _value(c, tokens))
        elif proof:
            aggregates += _aggregates(c, tokens, proof)
        per_column.append(aggregates)
    select = ", ".join(["count(*)"] + [a for column in per_column for a in column] + list(extra))
    sql = f"SELECT {select} FROM {_read_csv(n_columns, dialect)}"
    # NUL bytes are looked for in the whole file while DuckDB scans it (memchr: cheaper than
    # a check per value); DuckDB releases the GIL while it runs.
    with ThreadPoolExecutor(max_workers=1) as pool:
        nul = pool.submit(_has_nul, path)
        try:
            row = run_query(sql, path, threads)
        except duckdb.Error as exc:
            raise Unsupported(f"DuckDB could not read the file: {exc}") from None
        if nul.result():
            raise Unsupported("NUL characters (Python names their lines)")
    assert row is not None
    values = list(row[1:len(row) - len(extra)])
    if extra_values is not None:
        extra_values += row[len(row) - len(extra):]
    result: list[ColumnCounts] = []
    for i, proof in enumerate(proofs):
        taken, values = values[:len(per_column[i])], values[len(per_column[i]):]
        if i not in wanted:
            result.append(ColumnCounts())
            continue
        counts = _column_counts(taken[:STATS])
        counts.unseen_tokens = _count(taken[STATS])
        if isinstance(proof, str):
            _read_proof(proof, taken[STATS + 1:], counts)
        elif proof:
            _read_levels(taken[STATS + 1:], proof, counts)
        result.append(counts)
    return int(row[0]), result


def _column_counts(values: list[Any]) -> ColumnCounts:
    present, tokens, min_length, max_length, leading, distinct = values
    null_tokens = {str(k): int(v) for k, v in (tokens or {}).items() if v}
    counts = ColumnCounts(
        non_null=_count(present) - sum(null_tokens.values()), null_tokens=null_tokens,
        min_length=_int(min_length), max_length=_int(max_length), leading_zeros=_count(leading),
        distinct=_count(distinct))
    counts.empty = -_count(present)  # completed by the caller, who knows the record count
    return counts
