"""Step ``sample:T``: profile one table's CSV into the sample.json document.

Contract: ``build_sample(table, csv_hash, options_hash)`` reads ``table.source`` (and nothing
else), streams every record once in bounded memory, and returns the sample.json document
without ``schema_version`` (``artifacts.write_artifact`` adds it and validates against
``schemas/sample.v1.json``). The same file and settings give a byte-identical document.

Per column it counts empty values, null tokens (the union of the configured and default
tokens; whether a default token really is NULL is decided later, in ``infer``), lengths,
digit codes with leading zeros, integer range, decimal shape, exponent notation, the first
``min(sample_rows, 20)`` distinct values (20 is the schema's limit) and, for every candidate
type in ``pgtypes.CANDIDATES``, the non-null values that do not parse as it with the first
few examples. Values and examples are cut to 80 characters.

Problems that make the file unloadable as detected (records with the wrong number of
fields, NUL characters) are listed in ``problems``; the build treats them as fatal. A file
that cannot be read at all raises ``DataError``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from csv2pg import pgtypes
from csv2pg.dialect import detect_dialect, open_records, read_header
from csv2pg.errors import DataError
from csv2pg.identifiers import unique_identifiers
from csv2pg.settings import TableSettings

MAX_COLUMNS = 1600  # PostgreSQL's limit on columns in a table
MAX_EXAMPLES = 5
MAX_VALUES = 20  # sample.v1.json's maxItems for "values"
VALUE_CHARS = 80
CACHED_LENGTH = 64  # longer values rarely repeat and would bloat the memo


class ValueFacts(NamedTuple):
    """What profiling needs to know about one distinct value."""

    failing: tuple[str, ...]      # candidates it does not parse as
    integer: int | None           # its value when it parses as bigint
    shape: tuple[int, int] | None  # (integer digits, scale) when a finite decimal
    exponent: bool                # written with an exponent
    leading_zero_code: bool


def value_facts(value: str) -> ValueFacts:
    """The facts of ``value`` (memoised for short values: columns repeat their values)."""
    return _cached_facts(value) if len(value) <= CACHED_LENGTH else _facts(value)


def _facts(value: str) -> ValueFacts:
    failing = pgtypes.failing_candidates(value)
    integer = None if "bigint" in failing else int(value.strip(pgtypes.PG_SPACE))
    numeric = "numeric" not in failing
    return ValueFacts(
        failing=failing, integer=integer,
        shape=pgtypes.decimal_shape(value) if numeric else None,
        exponent=numeric and pgtypes.is_exponent_notation(value),
        leading_zero_code=is_leading_zero_code(value))


_cached_facts = lru_cache(maxsize=1 << 16)(_facts)


@dataclass
class ColumnStats:
    """The running profile of one column (mutable while the file streams, then ``as_dict``)."""

    max_values: int
    non_null: int = 0
    empty: int = 0
    tokens: Counter[str] = field(default_factory=Counter)
    min_length: int | None = None
    max_length: int | None = None
    leading_zeros: int = 0
    integer_min: int | None = None
    integer_max: int | None = None
    max_scale: int | None = None
    max_integer_digits: int | None = None
    exponent_values: int = 0
    # failure counts are kept per set of failing candidates: far fewer updates per value
    failing_sets: Counter[tuple[str, ...]] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in pgtypes.CANDIDATES})
    open_examples: set[str] = field(default_factory=lambda: set(pgtypes.CANDIDATES))
    values: list[str] = field(default_factory=list)
    seen_values: set[str] = field(default_factory=set)

    def add(self, line: int, value: str, null_tokens: frozenset[str]) -> None:
        if value == "":
            self.empty += 1
        elif value in null_tokens:
            self.tokens[value] += 1
        else:
            self._add_value(line, value)

    def _add_value(self, line: int, value: str) -> None:
        self.non_null += 1
        length = len(value)
        if self.min_length is None or length < self.min_length:
            self.min_length = length
        if self.max_length is None or length > self.max_length:
            self.max_length = length
        facts = value_facts(value)
        self.failing_sets[facts.failing] += 1
        if not self.open_examples.isdisjoint(facts.failing):
            self._add_examples(line, value, facts.failing)
        if facts.integer is not None:
            self._add_integer(facts.integer)
        if facts.shape is not None:
            self._add_shape(facts.shape)
            if facts.exponent:
                self.exponent_values += 1
        if facts.leading_zero_code:
            self.leading_zeros += 1
        if len(self.values) < self.max_values:
            shown = value[:VALUE_CHARS]
            if shown not in self.seen_values:
                self.seen_values.add(shown)
                self.values.append(shown)

    def _add_examples(self, line: int, value: str, failing: tuple[str, ...]) -> None:
        for name in failing:
            if name in self.open_examples:
                examples = self.examples[name]
                examples.append({"line": line, "value": value[:VALUE_CHARS]})
                if len(examples) >= MAX_EXAMPLES:
                    self.open_examples.discard(name)

    def _add_integer(self, number: int) -> None:
        if self.integer_min is None or number < self.integer_min:
            self.integer_min = number
        if self.integer_max is None or number > self.integer_max:
            self.integer_max = number

    def _add_shape(self, shape: tuple[int, int]) -> None:
        digits, scale = shape
        if self.max_integer_digits is None or digits > self.max_integer_digits:
            self.max_integer_digits = digits
        if self.max_scale is None or scale > self.max_scale:
            self.max_scale = scale

    def failures(self) -> dict[str, int]:
        counts = dict.fromkeys(pgtypes.CANDIDATES, 0)
        for failing, n in self.failing_sets.items():
            for name in failing:
                counts[name] += n
        return counts

    def as_dict(self, index: int, name: str, column: str) -> dict[str, Any]:
        failures = self.failures()
        return {
            "index": index, "name": name, "column": column,
            "non_null": self.non_null, "empty": self.empty,
            "null_tokens": dict(sorted(self.tokens.items())),
            "min_length": self.min_length, "max_length": self.max_length,
            "leading_zeros": self.leading_zeros,
            "integer_min": _text(self.integer_min), "integer_max": _text(self.integer_max),
            "max_scale": self.max_scale, "max_integer_digits": self.max_integer_digits,
            "exponent_values": self.exponent_values,
            "candidates": {name: {"failures": failures[name], "examples": self.examples[name]}
                           for name in pgtypes.CANDIDATES},
            "values": list(self.values),
        }


def _text(number: int | None) -> str | None:
    return None if number is None else str(number)


def is_leading_zero_code(value: str) -> bool:
    """Digits only, more than one, starting with 0: a code such as a ZIP ("00501")."""
    return len(value) > 1 and value[0] == "0" and value.isascii() and value.isdigit()


@dataclass
class RecordChecks:
    """File-level findings while streaming: ragged records and NUL characters."""

    expected: int
    ragged: int = 0
    first_ragged: tuple[int, int] | None = None  # (line, fields)
    nul_values: int = 0
    first_nul_line: int | None = None

    def check(self, line: int, fields: list[str]) -> None:
        if len(fields) != self.expected:
            self.ragged += 1
            if self.first_ragged is None:
                self.first_ragged = (line, len(fields))
        for value in fields:
            if "\x00" in value:
                self.nul_values += 1
                if self.first_nul_line is None:
                    self.first_nul_line = line

    def problems(self, table: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if self.first_ragged is not None:
            line, count = self.first_ragged
            records = "1 record has" if self.ragged == 1 else f"{self.ragged} records have"
            found.append({
                "kind": "ragged_rows", "line": line,
                "message": f"{records} a different number of fields than the header "
                           f"(first at line {line}: {count} fields, expected {self.expected})",
                "fix": "fix those lines in the file, or if the delimiter or quoting was detected "
                       f"wrongly set delimiter/quotechar/escapechar in [tables.{table}]",
            })
        if self.first_nul_line is not None:
            values = "1 value contains" if self.nul_values == 1 else f"{self.nul_values} values contain"
            found.append({
                "kind": "nul_characters", "line": self.first_nul_line,
                "message": f"{values} NUL characters, which PostgreSQL cannot store "
                           f"(first at line {self.first_nul_line})",
                "fix": "remove the NUL bytes from the file (e.g. `tr -d '\\000'`), or if it is "
                       f"UTF-16 without a byte-order mark set encoding in [tables.{table}]",
            })
        return found


def _for_table(error: DataError, table: TableSettings) -> DataError:
    """The same error, naming the table and its manifest entry in the hint."""
    hint = error.hint.replace("[tables.NAME]", f"[tables.{table.name}]") if error.hint else None
    return DataError(error.message, path=error.path, line=error.line, table=table.name,
                     hint=hint)


def build_sample(table: TableSettings, csv_hash: str, options_hash: str) -> dict[str, Any]:
    """The sample.json document of ``table``'s CSV (without ``schema_version``)."""
    try:
        return _profile(table, csv_hash, options_hash)
    except DataError as error:
        raise _for_table(error, table) from None


def _profile(table: TableSettings, csv_hash: str, options_hash: str) -> dict[str, Any]:
    path = table.source
    dialect = detect_dialect(path, table.dialect)
    headers = read_header(path, dialect)
    if len(headers) > MAX_COLUMNS:
        raise DataError(
            f"the header has {len(headers)} columns; PostgreSQL allows at most {MAX_COLUMNS}",
            path=path, line=1,
            hint=f"split the file, or check the delimiter (set delimiter in [tables.{table.name}])")
    null_tokens = frozenset(table.null_tokens + table.default_null_tokens) - {""}
    max_values = max(0, min(table.sample_rows, MAX_VALUES))
    stats = [ColumnStats(max_values=max_values) for _ in headers]
    checks = RecordChecks(expected=len(headers))
    rows = 0
    for line, fields in open_records(path, dialect):
        rows += 1
        checks.check(line, fields)
        for column, value in zip(stats, fields, strict=False):
            column.add(line, value, null_tokens)
    columns = unique_identifiers(headers)
    return {
        "table": table.name,
        "inputs": {"csv": csv_hash, "options": options_hash},
        "dialect": dialect.as_dict(),
        "rows": rows,
        "columns": [s.as_dict(i, headers[i], columns[i]) for i, s in enumerate(stats)],
        "problems": checks.problems(table.name),
    }
