"""Per-column statistics over a stream of values: the pure half of the profile.

``ColumnStats`` counts one column's values (nulls per token, lengths, leading zeros, the
parse failures of every candidate with the first failing values and their lines, integer
and decimal shapes, a distinct estimate and the bounds of the proven type);
``RecordChecks`` counts records whose field count differs from the header. No I/O; used by
``stages/sample.py`` for the sample and for the pure-Python profile.
"""

from __future__ import annotations

import datetime as _dt
import heapq
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import xxhash

from csv2pg import pgtypes

MAX_EXAMPLES = 5
MAX_VALUES = 20  # sample.v1.json's maxItems for "values"
VALUE_CHARS = 80
CACHED_LENGTH = 64  # longer values rarely repeat and would bloat the memo
# Exact uniqueness in Python keeps the values; past this many a column is not called unique
# (memory stays bounded; DuckDB's count(DISTINCT) spills to disk and has no such limit).
MAX_UNIQUE_VALUES = 2_000_000


class ValueFacts(NamedTuple):
    """What profiling needs to know about one distinct value."""

    failing: tuple[str, ...]      # candidates it does not parse as
    integer: int | None           # its value when it parses as bigint
    shape: tuple[int, int] | None  # (integer digits, scale) when a finite decimal
    exponent: bool                # written with an exponent
    leading_zero_code: bool
    hash: int                     # xxh3_64 of its UTF-8 bytes, for the distinct estimate
    bounds: tuple[tuple[str, Any], ...]  # (bound kind, key) per type it parses as


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
        leading_zero_code=is_leading_zero_code(value),
        hash=xxhash.xxh3_64_intdigest(value.encode("utf-8", "surrogatepass")),
        bounds=bound_keys(value, failing))


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
    distinct: DistinctSketch = field(default_factory=lambda: DistinctSketch())
    bounds: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # failure counts are kept per set of failing candidates: far fewer updates per value
    failing_sets: Counter[tuple[str, ...]] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in pgtypes.CANDIDATES})
    open_examples: set[str] = field(default_factory=lambda: set(pgtypes.CANDIDATES))
    values: list[str] = field(default_factory=list)
    seen_values: set[str] = field(default_factory=set)
    # Exact uniqueness: every value kept until the first duplicate (then dropped).
    track_unique: bool = True
    unique_values: set[str] = field(default_factory=set)
    duplicate: bool = False

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
        self.distinct.add(facts.hash)
        if self.track_unique and not self.duplicate:
            if value in self.unique_values or len(self.unique_values) >= MAX_UNIQUE_VALUES:
                self.duplicate = True  # or not provable in bounded memory: not unique
                self.unique_values = set()
            else:
                self.unique_values.add(value)
        for kind, key in facts.bounds:
            self._add_bound(kind, key)
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

    def _add_bound(self, kind: str, key: Any) -> None:
        bound = self.bounds.get(kind)
        if bound is None:
            self.bounds[kind] = (key, key)
        else:
            self.bounds[kind] = (_lesser(bound[0], key), _greater(bound[1], key))

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
        low, high = type_bounds(self.non_null, failures, self.bounds,
                                self.integer_min, self.integer_max)
        return {
            "index": index, "name": name, "column": column,
            "non_null": self.non_null, "empty": self.empty,
            "null_tokens": dict(sorted(self.tokens.items())),
            "min_length": self.min_length, "max_length": self.max_length,
            "leading_zeros": self.leading_zeros,
            "integer_min": number_text(self.integer_min), "integer_max": number_text(self.integer_max),
            "max_scale": self.max_scale, "max_integer_digits": self.max_integer_digits,
            "exponent_values": self.exponent_values,
            "distinct": self.distinct.estimate(), "unique": not self.duplicate,
            "min": low, "max": high,
            "candidates": {name: {"failures": failures[name], "examples": self.examples[name]}
                           for name in pgtypes.CANDIDATES},
            "values": list(self.values),
        }


def number_text(number: int | None) -> str | None:
    return None if number is None else str(number)


# --- distinct estimate and bounds of the proven type ----------------------------------------

KMV_K = 1024


@dataclass
class DistinctSketch:
    """Distinct values of a column in bounded memory: K minimum values of xxh3_64.

    Exact while a column has at most ``KMV_K`` distinct values; past that the classic KMV
    estimate (K - 1) / (K-th smallest hash / 2**64), about 3 % standard error.
    """

    smallest: set[int] = field(default_factory=set)
    heap: list[int] = field(default_factory=list)  # the negated hashes of ``smallest``
    saturated: bool = False

    def add(self, value_hash: int) -> None:
        if value_hash in self.smallest:
            return
        if len(self.smallest) < KMV_K:
            self.smallest.add(value_hash)
            heapq.heappush(self.heap, -value_hash)
            return
        self.saturated = True
        if value_hash < -self.heap[0]:
            self.smallest.discard(-heapq.heapreplace(self.heap, -value_hash))
            self.smallest.add(value_hash)

    def estimate(self) -> int:
        if not self.saturated:
            return len(self.smallest)
        return round((KMV_K - 1) * 2**64 / (-self.heap[0] + 1))


def _lesser(a: Any, b: Any) -> Any:
    """The smaller key; NaN (a number key) only when both are NaN, as DuckDB's min."""
    if a != a:
        return b
    return a if b != b or a <= b else b


def _greater(a: Any, b: Any) -> Any:
    """The greater key; NaN above everything, as DuckDB's max and PostgreSQL's order."""
    if a != a or b != b:
        return a if a != a else b
    return a if a >= b else b


_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_DAY = _EPOCH.toordinal()
_CLOCK = r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
_STAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]" + _CLOCK +
                    r")?(?: ?(?:Z|([+-])([0-9]{2})(?::?([0-9]{2}))?))?")
_CLOCK_ONLY = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?")  # 9:05 too


def _micros(hour: str | None, minute: str | None, second: str | None,
            fraction: str | None) -> int:
    """Microseconds since midnight; digits past the microsecond are cut, as DuckDB does."""
    seconds = (int(hour or 0) * 60 + int(minute or 0)) * 60 + int(second or 0)
    return seconds * 1_000_000 + int((fraction or "").ljust(6, "0")[:6])


def bound_keys(value: str, failing: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """(kind, key) for each bound kind ``value`` counts in (``profile.bound_sql``'s kinds).

    Keys: a float for numbers; microseconds since 1970-01-01 (UTC for timestamptz) for
    dates and timestamps; microseconds since midnight for times.
    """
    keys: list[tuple[str, Any]] = []
    text = value.strip(pgtypes.PG_SPACE)
    if "numeric" not in failing or "double precision" not in failing:
        keys.append(("number", float(text)))
    stamp = "timestamp" not in failing
    stamp_tz = "timestamptz" not in failing
    if stamp or stamp_tz:
        match = _STAMP.fullmatch(text)
        assert match is not None
        year, month, day, hour, minute, second, fraction, sign, zone_h, zone_m = match.groups()
        days = _dt.date(int(year), int(month), int(day)).toordinal() - _EPOCH_DAY
        micros = days * 86_400_000_000 + _micros(hour, minute, second, fraction)
        if stamp:
            keys += [("date", micros), ("timestamp", micros)]
        else:
            offset = (int(zone_h or 0) * 60 + int(zone_m or 0)) * 60_000_000
            keys.append(("timestamptz", micros - offset if sign == "+" else micros + offset))
    if "time" not in failing:
        match = _CLOCK_ONLY.fullmatch(text)
        assert match is not None
        keys.append(("time", _micros(*match.groups())))
    return tuple(keys)


BOUND_KIND = {"numeric": "number", "double precision": "number", "date": "date",
              "timestamp": "timestamp", "timestamptz": "timestamptz", "time": "time"}


def type_bounds(non_null: int, failures: dict[str, int], bounds: dict[str, tuple[Any, Any]],
                integer_min: int | None, integer_max: int | None,
                ) -> tuple[str | None, str | None]:
    """(min, max) of the narrowest proven type as text; None for text, boolean, uuid, inet, cidr, jsonb."""
    proven = next((n for n in pgtypes.CANDIDATES if failures[n] == 0), None)
    if non_null == 0 or proven is None:
        return None, None
    if proven in pgtypes.INTEGER_RANGES:
        return number_text(integer_min), number_text(integer_max)
    kind = BOUND_KIND.get(proven)
    bound = None if kind is None else bounds.get(kind)
    if kind is None or bound is None:
        return None, None
    return render_bound(kind, bound[0]), render_bound(kind, bound[1])


def render_bound(kind: str, key: Any) -> str | None:
    """A bound key as PostgreSQL prints the type (timestamptz in UTC, "+00")."""
    if kind == "number":
        return double_text(float(key))
    if kind == "time":
        return _clock_text(int(key))
    try:
        moment = _EPOCH + _dt.timedelta(microseconds=int(key))
    except OverflowError:
        return None  # a zone moved the instant out of years 1-9999
    if kind == "date":
        return moment.date().isoformat()
    text = f"{moment.date().isoformat()} {_clock_text(int(key) % 86_400_000_000)}"
    return text + "+00" if kind == "timestamptz" else text


def _clock_text(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    return text + f".{fraction:06d}".rstrip("0") if fraction else text


def double_text(number: float) -> str:
    """``number`` as PostgreSQL prints double precision: shortest digits, %g-like layout."""
    if number != number:
        return "NaN"
    if number in (math.inf, -math.inf):
        return "Infinity" if number > 0 else "-Infinity"
    sign, digits, exponent = Decimal(repr(number)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    point = exponent + len(digits)  # the decimal exponent is point - 1
    minus = "-" if sign else ""
    if text == "0":
        return minus + "0"
    if -4 < point <= 15:
        if point <= 0:
            return f"{minus}0.{'0' * -point}{text}"
        if point >= len(text):
            return minus + text + "0" * (point - len(text))
        return f"{minus}{text[:point]}.{text[point:]}"
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    power = point - 1
    return f"{minus}{mantissa}e{'+' if power >= 0 else '-'}{abs(power):02d}"


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


