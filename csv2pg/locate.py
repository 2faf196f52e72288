"""The first records where a condition holds, found without parsing the file in Python.

The profile names the first values that fail each eliminated candidate (and each value
format) with the physical line their record starts on. Streaming the records in Python to
find them costs about 17 s per GB, and a value that fails only near the end of a big file
(the row 3,000,000 that breaks a COPY) made the profile of 100 MB five times slower. Here:

- ``first_matches(path, dialect, n_columns, conditions, limit, after)``: one DuckDB pass
  gives, per condition (SQL over one column's value), the ordinals (1-based, in file order)
  and values of the first ``limit`` data records after record ``after`` where it holds;
- ``records_at(path, dialect, ordinals)``: one pass over the bytes finds where those records
  start (a newline ends a record when the quotes before it since the record began are
  even: the dialects DuckDB reads double their quotes and escape nothing) and parses just
  them: {ordinal: (start line, fields)}.

``add_examples`` (the DuckDB profile's, from ``stages.sample``) streams the first
``HEAD_RECORDS`` records in Python and uses these two for what is still wanted after them. It checks
that each record holds the value DuckDB gave and fails in Python too, and otherwise streams
on (a stray quote in an unquoted field misleads the quote count; DuckDB and Python could
count blank lines differently). Only for files ``profile.supports`` (DuckDB reads them
exactly as ``records.open_records`` does).

Imports duckdb. Reads the CSV; writes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

import duckdb

from csv2pg import fastscan, formats, formatscan, pgtypes
from csv2pg.colstats import MAX_EXAMPLES, VALUE_CHARS
from csv2pg.dialect import Dialect, open_records
from csv2pg.identifiers import quote_literal
from csv2pg.predicates import predicate
from csv2pg.profile import Unsupported, _read_csv, run_query, supports
from csv2pg.records import reader_options

K = TypeVar("K")
BLOCK = 1 << 24  # bytes read at a time by ``records_at``
# ``add_examples`` streams the first HEAD_RECORDS records in Python before asking DuckDB: a
# look-up reads the whole file (1.5 s per GB at least, plus the quote count up to the
# record), so early failures (ids past smallint's range at record 32,768) are found sooner
# by streaming; a tenth of the benchmark's 1 GB took 5 s where a column wanted five
# candidates' examples.
HEAD_RECORDS = 50_000


def first_matches(path: Path, dialect: Dialect, n_columns: int,
                  conditions: Mapping[K, tuple[int, Callable[[str], str]]], limit: int,
                  after: int = 0) -> dict[K, list[tuple[int, str]]]:
    """Per condition, (ordinal, value) of the first ``limit`` records after ``after`` where it
    holds. A condition is (column, SQL of the column's value): the SQL is asked only of
    values that are not NULL (empty). Raises ``Unsupported``."""
    why = supports(path, dialect, n_columns)
    if why is not None or dialect.quotechar is None or not dialect.quotechar.isascii():
        raise Unsupported(why or "quoting")
    keys = list(conditions)
    if not keys:
        return {}
    # The hits land in a table in file order (DuckDB keeps the order a parallel scan read in),
    # so that its rowid is the record's ordinal: a window's row_number() ran in one thread,
    # 2.4x slower on 1 GB. Only the flags, and the values where some flag holds, are kept.
    flags: list[str] = []
    values: dict[int, list[str]] = {}
    for k, key in enumerate(keys):
        column, test = conditions[key]
        value = f"c{column}"
        flags.append(f"coalesce({value} IS NOT NULL AND ({test(value)}), false) AS f{k}")
        values.setdefault(column, []).append(f"f{k}")
    kept = [f"CASE WHEN {' OR '.join(fs)} THEN c{column} END AS c{column}"
            for column, fs in values.items()]
    setup = (f"CREATE TEMP TABLE hits AS SELECT {', '.join(flags + kept)} "
             f"FROM {_read_csv(n_columns, dialect)}")
    select = [f"min({{'rn': rowid + 1, 'v': c{conditions[key][0]}}}, {int(limit)}) "
              f"FILTER (WHERE f{k} AND rowid >= {int(after)})" for k, key in enumerate(keys)]
    try:
        row = run_query(f"SELECT {', '.join(select)} FROM hits", path, setup=[setup])
    except duckdb.Error as exc:
        raise Unsupported(f"DuckDB could not read the file: {exc}") from None
    return {key: [(int(m["rn"]), str(m["v"])) for m in (found or [])]
            for key, found in zip(keys, row, strict=True)}


def records_at(path: Path, dialect: Dialect, ordinals: set[int]) -> dict[int, tuple[int, list[str]]]:
    """(start line, fields) of the data records numbered ``ordinals`` (1-based)."""
    starts = _record_starts(path, dialect, ordinals)
    options = reader_options(dialect.quotechar, dialect.escapechar, dialect.delimiter)
    found: dict[int, tuple[int, list[str]]] = {}
    with open(path, "rb") as raw:
        for ordinal, (line, offset) in starts.items():
            raw.seek(offset)
            text = io.TextIOWrapper(raw, encoding=dialect.encoding, errors="strict", newline="")
            try:
                fields = next(csv.reader(text, **options), None)
            finally:
                text.detach()
            if fields is not None:
                found[ordinal] = (line, fields)
    return found


def _lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The physical lines of ``handle`` without their LF (a CR of CRLF stays)."""
    tail = b""
    while block := handle.read(BLOCK):
        pieces = (tail + block).split(b"\n")
        tail = pieces.pop()
        yield from pieces
    if tail:
        yield tail


def _record_starts(path: Path, dialect: Dialect, ordinals: set[int]) -> dict[int, tuple[int, int]]:
    """(line, byte offset) where each data record in ``ordinals`` starts.

    Lines before the first data record: ``preamble_lines``, then the header record. A
    record that is one empty line is no record (as for ``csv.reader`` and ``open_records``).
    The same loop in C (``fastscan.record_starts``) where the library is there: 3.5 s per
    GB here, a tenth of that there.
    """
    native = fastscan.record_starts(path, dialect, ordinals)
    if native is not None:
        return native
    assert dialect.quotechar is not None
    quote = dialect.quotechar.encode("ascii")
    last = max(ordinals, default=0)
    starts: dict[int, tuple[int, int]] = {}
    skip_lines = dialect.preamble_lines
    headers_left = 1 if dialect.has_header else 0
    ordinal = line = offset = 0
    odd = False           # inside a quoted field at the end of the line
    start: tuple[int, int] | None = None   # (line, offset) of the record being read
    blank = False
    with open(path, "rb") as handle:
        for piece in _lines(handle):
            if ordinal >= last:
                break
            line += 1
            here, offset = offset, offset + len(piece) + 1
            if skip_lines:
                skip_lines -= 1
                continue
            if start is None:
                start, blank = (line, here), piece in (b"", b"\r")
            if piece.count(quote) % 2:
                odd = not odd
            if odd:
                continue
            record, start = start, None
            if blank:
                continue
            if headers_left:
                headers_left -= 1
                continue
            ordinal += 1
            if ordinal in ordinals:
                starts[ordinal] = record
    return starts


# --- the examples of the profile ----------------------------------------------------------

Key = tuple[int, str, Any]   # (column, "candidate" or "format", its name or index)


def add_examples(path: Path, dialect: Dialect, n_columns: int, columns: list[dict[str, Any]],
                 null_tokens: frozenset[str]) -> None:
    """The first failing values of every eliminated candidate and every failing value
    format of the DuckDB profile's ``columns``, with the physical lines their records start
    on (those it has already are kept).

    DuckDB counts failures but cannot say on which line a record starts: the first
    ``HEAD_RECORDS`` records are streamed in Python over only the columns with failures;
    what is still wanted after them is found, for candidates and formats together, by
    ``first_matches`` and ``records_at``.
    """
    def entry(key: Key) -> dict[str, Any]:
        found: dict[str, Any] = columns[key[0]]["candidates" if key[1] == "candidate"
                                                 else "formats"][key[2]]
        return found

    needs: dict[Key, int] = {}
    for i, col in enumerate(columns):
        keys = [(i, "candidate", name) for name in col["candidates"]]
        keys += [(i, "format", k) for k in range(len(col.get("formats", ())))]
        for key in keys:
            missing = min(MAX_EXAMPLES, entry(key)["failures"]) - len(entry(key)["examples"])
            if missing > 0:
                needs[key] = missing
    # Where a column wants many candidates, one pass of the parsers names them all.
    many = {i for i in {key[0] for key in needs}
            if sum(key[0] == i and key[1] == "candidate" for key in needs) > 3}
    last: dict[int, tuple[str, set[str]]] = {}

    def fails(key: Key, value: str) -> bool:
        i, kind, name = key
        if kind == "format":
            return formats.canonical(value, entry(key)["format"]) is None
        if i not in many:
            return not pgtypes.parses_as(name, value)
        seen = last.get(i)
        if seen is None or seen[0] is not value:
            seen = last[i] = (value, set(pgtypes.failing_candidates(value)))
        return name in seen[1]

    def sql(key: Key) -> Callable[[str], str]:
        if key[1] == "format":
            fmt = entry(key)["format"]
            return lambda v: f"NOT {formatscan.predicate(fmt, v)}"
        return lambda v: f"NOT {predicate(key[2], v)}"

    def add(key: Key, line: int, value: str) -> None:
        entry(key)["examples"].append({"line": line, "value": value[:VALUE_CHARS]})

    _find(path, dialect, n_columns, null_tokens, needs, fails, sql, add, HEAD_RECORDS)


def _find(path: Path, dialect: Dialect, n_columns: int, null_tokens: frozenset[str],
          needs: dict[Key, int], fails: Callable[[Key, str], bool],
          sql: Callable[[Key], Callable[[str], str]], add: Callable[[Key, int, str], None],
          head: int) -> None:
    """Call ``add(key, line, value)`` for the first ``needs[key]`` values of column key[0]
    where ``fails(key, value)`` (nulls aside), striking them off ``needs``: the first
    ``head`` records streamed, the rest looked up."""
    if not needs:
        return
    streamed = _stream(path, dialect, null_tokens, needs, fails, add, head)
    if not needs:
        return
    tokens = ", ".join(quote_literal(t) for t in sorted(null_tokens))

    def condition(key: Key) -> tuple[int, Callable[[str], str]]:
        test = sql(key)
        return key[0], (lambda v: f"{v} NOT IN ({tokens}) AND {test(v)}") if tokens else test

    try:
        matches = first_matches(path, dialect, n_columns, {k: condition(k) for k in needs},
                                max(needs.values()), after=streamed)
        wanted = {k: found[:needs[k]] for k, found in matches.items()}
        records = records_at(path, dialect, {o for found in wanted.values() for o, _ in found})
        located: list[tuple[Key, int, str]] = []
        for key, found in wanted.items():
            for ordinal, value in found:
                line, fields = records.get(ordinal, (0, []))
                if key[0] >= len(fields) or fields[key[0]] != value or not fails(key, value):
                    raise Unsupported("the record found is not the one DuckDB named")
                located.append((key, line, value))
    except Unsupported:
        _stream(path, dialect, null_tokens, needs, fails, add, None, skip=streamed)
        return
    for key, line, value in located:
        add(key, line, value)


def _stream(path: Path, dialect: Dialect, null_tokens: frozenset[str], needs: dict[Key, int],
            fails: Callable[[Key, str], bool], add: Callable[[Key, int, str], None],
            limit: int | None, skip: int = 0) -> int:
    """Stream the records after the first ``skip``, at most ``limit`` of them, taking what
    ``needs`` asks for (and striking it off); the number of records read, ``skip`` included."""
    by_column: dict[int, list[Key]] = {}
    for key in needs:
        by_column.setdefault(key[0], []).append(key)
    count = 0
    for count, (line, fields) in enumerate(open_records(path, dialect), start=1):
        if count <= skip:
            continue
        for i in list(by_column):
            if i >= len(fields):
                continue
            value = fields[i]
            if value == "" or value in null_tokens:
                continue
            keys = by_column[i]
            hit = [k for k in keys if fails(k, value)]
            for key in hit:
                add(key, line, value)
                needs[key] -= 1
                if not needs[key]:
                    del needs[key]
                    keys.remove(key)
            if not keys:
                del by_column[i]
        if not by_column or (limit is not None and count - skip >= limit):
            break
    return count
