"""Step ``sample:T``: profile one table's CSV into the sample.json document.

Per-value statistics live in ``csv2pg.colstats``; the DuckDB proof in ``csv2pg.profile``.

Contract: ``build_sample(table, csv_hash, options_hash)`` reads ``table.files`` (and nothing
else) in bounded memory and returns the sample.json document without ``schema_version``
(``artifacts.write_artifact`` adds it and validates against ``schemas/sample.v1.json``). The
same file and settings give a byte-identical document.

How (issue 3): a sample first, the first ``HEAD_ROWS`` records plus one record from each of
``STRATA`` evenly spaced byte offsets (plain files only), proposes per column the family of
candidate types its values parse as (``pgtypes`` decides what PostgreSQL accepts); one
compiled pass (``csv2pg.fastscan``) then proves those candidates on every record, leaving to a
DuckDB scan (``csv2pg.profile``) the columns with values off the proposal's tight shape, and
columns whose integer proof fails are re-proven as numbers. Where the compiled pass cannot
read the file (no C compiler, a stray quote...), one DuckDB scan proves every column. Failing values and their physical lines come
from a Python stream over the first records, and past them from DuckDB (``csv2pg.locate``).
Where DuckDB cannot read the file exactly as ``dialect.open_records`` does (encodings it
lacks, lone CR line ends, escape characters, footers, compressed input, ragged rows, NUL
characters) every record is streamed and profiled in Python instead; small files (no more
than the head) are profiled from the head in Python.

Per column: empty values, null tokens (the union of the configured and default tokens;
whether a default token really is NULL is decided later, in ``infer``), lengths, digit codes
with leading zeros, integer range, decimal shape, exponent notation, distinct values (an
estimate: ``DistinctSketch``, exact up to 1024 values, then K minimum values of xxh3_64, in
the Python path and the compiled pass; DuckDB's HyperLogLog where DuckDB's own scan
profiled the file; the two agree within a few per cent, not exactly), min/max of the narrowest proven type as PostgreSQL prints it
(``type_bounds``; null for text, boolean, uuid, inet, cidr and jsonb), and for every candidate
type in ``pgtypes.CANDIDATES`` the non-null values that do not parse as it with the first few
examples. A failure count marked ``estimated`` (DuckDB path, text columns only) was not
counted on the whole file: the sample had no value of that family, so all are assumed to
fail. ``values`` are the first ``min(sample_rows, 20)`` distinct non-null values of the
sample (head first, then the strata); values and examples are cut to 80 characters.
``unique`` is exact (``count(DISTINCT)`` in DuckDB, the values themselves in Python) and
``formats`` lists, for a column no candidate proves, the value formats of ``csv2pg.formats``
(thousands separators, decimal commas, currency and percent signs, non-ISO dates) its sampled
values are in, each proven on the whole file like a candidate (``_add_exact_facts``).

Problems that make the file unloadable as detected (records with the wrong number of
fields, NUL characters) are listed in ``problems``; the build treats them as fatal. A file
that cannot be read at all raises ``DataError``.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple

from csv2pg import fastscan, formats, pgtypes, profile
from csv2pg.colstats import (
    MAX_UNIQUE_VALUES,
    MAX_VALUES,
    ColumnStats,
    RecordChecks,
    number_text,
    type_bounds,
)
from csv2pg.dialect import Dialect, detect_dialect, open_records, read_header
from csv2pg.errors import DataError
from csv2pg.formatscan import FormatStats, fact_query, scan_formats
from csv2pg.identifiers import unique_identifiers
from csv2pg.locate import add_examples
from csv2pg.records import reader_options
from csv2pg.settings import TableSettings

MAX_COLUMNS = 1600  # PostgreSQL's limit on columns in a table
HEAD_ROWS = 1000  # records at the start of the file in the sample
MERGED_DISTINCT_VALUES = 1_000_000  # exact distinct counts in the main scan, at most (values)
STRATA = 2000  # evenly spaced byte offsets sampled after the head
STRATUM_PROBE_BYTES = 1 << 12  # read first at each offset
STRATUM_BYTES = 1 << 16  # read where the probe is too short; longer records are not sampled there





def _for_table(error: DataError, table: TableSettings) -> DataError:
    """The same error, naming the table and its manifest entry in the hint."""
    hint = error.hint.replace("[tables.NAME]", f"[tables.{table.name}]") if error.hint else None
    return DataError(error.message, path=error.path, line=error.line, table=table.name,
                     hint=hint)


Engine = Literal["auto", "duckdb", "python"]


def build_sample(table: TableSettings, csv_hash: str, options_hash: str,
                 engine: Engine = "auto") -> dict[str, Any]:
    """The sample.json document of ``table``'s CSV (without ``schema_version``).

    ``engine``: "python" streams every record through ``pgtypes``; "duckdb" proves the
    sample's proposals with one DuckDB scan (falling back to Python where DuckDB cannot
    read the file as the dialect says); "auto" is "duckdb" for files longer than the head.
    """
    try:
        return _profile(table, csv_hash, options_hash, engine)
    except DataError as error:
        raise _for_table(error, table) from None


# --- the sample: the head plus a stratified sample -----------------------------------------

class Sample(NamedTuple):
    """Records read for proposals and representative values."""

    head: list[tuple[int, list[str]]]   # the first HEAD_ROWS records with their lines
    strata: list[list[str]]             # one record from each of STRATA evenly spaced offsets
    complete: bool                      # the head is every record of the file


def take_sample(path: Path, dialect: Dialect, n_columns: int) -> Sample:
    """The first HEAD_ROWS records, and for a long plain file a stratified sample of the rest.

    A stratum seeks to an evenly spaced byte offset, skips to the next line start and parses
    from there; a record counts only after one with the right number of fields (a line start
    inside a quoted multi-line value gives the wrong count and is skipped). Deterministic.
    """
    head = list(itertools.islice(open_records(path, dialect), HEAD_ROWS + 1))
    complete = len(head) <= HEAD_ROWS
    head = head[:HEAD_ROWS]
    strata: list[list[str]] = []
    if not complete and _seekable_text(path, dialect):
        strata = _strata(path, dialect, n_columns)
    return Sample(head, strata, complete)


def _seekable_text(path: Path, dialect: Dialect) -> bool:
    if path.suffix.lower() in (".gz", ".zst", ".zstd", ".bz2", ".xz"):
        return False
    try:
        return "\n".encode(dialect.encoding) == b"\n" and dialect.line_terminator != "\r"
    except (LookupError, UnicodeError):
        return False


def _strata(path: Path, dialect: Dialect, n_columns: int) -> list[list[str]]:
    size = path.stat().st_size
    count = min(STRATA, max(1, size // (1 << 12)))  # small files: a stratum per 4 KiB
    found: list[list[str]] = []
    options = reader_options(dialect.quotechar, dialect.escapechar, dialect.delimiter)
    with open(path, "rb") as handle:
        for k in range(1, count + 1):
            offset = size * k // (count + 1)
            # A short read first; a full block only where the records there are long.
            for length, needed in ((STRATUM_PROBE_BYTES, 3), (STRATUM_BYTES, 2)):
                handle.seek(offset)
                record = _stratum_record(handle.read(length), dialect, options, n_columns, needed)
                if record is not None:
                    if record:
                        found.append(record)
                    break
    return found


def _stratum_record(block: bytes, dialect: Dialect, options: dict[str, Any], n_columns: int,
                    needed: int) -> list[str] | None:
    """The record after the first whole one in ``block``; [] when none fits; None: read more.

    The block starts anywhere, so parsing starts after its first line break; the first record
    with ``n_columns`` fields resynchronises, the one after it is sampled. With ``needed`` 3
    another record must follow, which proves the sampled one ended inside the block.
    """
    start, end = block.find(b"\n"), block.rfind(b"\n")
    if start < 0 or end <= start:
        return None if needed == 3 else []
    text = block[start + 1:end + 1].decode(dialect.encoding, errors="replace")
    records = (r for r in csv.reader(io.StringIO(text, newline=""), **options) if r)
    synced = False
    for fields in records:
        if not synced:
            synced = len(fields) == n_columns
            continue
        if len(fields) != n_columns:
            return []
        if needed == 3 and next(records, None) is None:
            return None
        return fields
    return None if needed == 3 else []


def _sample_stats(sample: Sample, n_columns: int, null_tokens: frozenset[str],
                  max_values: int) -> list[ColumnStats]:
    """Profiles of the sampled records: proposals, and the representative values."""
    stats = [ColumnStats(max_values=max_values, track_unique=False) for _ in range(n_columns)]
    records = [*sample.head, *((0, fields) for fields in sample.strata)]
    for line, fields in records:
        for column, value in zip(stats, fields, strict=False):
            column.add(line, value, null_tokens)
    return stats


# --- the pure-Python profile -----------------------------------------------------------------

def _all_records(files: tuple[Path, ...], dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """The records of every file of the table, one file after the other."""
    for path in files:
        yield from open_records(path, dialect)


def _python_columns(files: tuple[Path, ...], dialect: Dialect, headers: list[str],
                    null_tokens: frozenset[str], sample: Sample,
                    ) -> tuple[int, list[ColumnStats], RecordChecks]:
    stats = [ColumnStats(max_values=0) for _ in headers]
    checks = RecordChecks(expected=len(headers))
    rows = 0
    records = iter(sample.head) if sample.complete else _all_records(files, dialect)
    for line, fields in records:
        rows += 1
        checks.check(line, fields)
        for column, value in zip(stats, fields, strict=False):
            column.add(line, value, null_tokens)
    return rows, stats, checks


# --- the DuckDB profile: propose from the sample, prove on the whole file --------------------

FAMILY_LEVEL = {"boolean": "boolean", "smallint": "number", "date": "date", "time": "time",
                "uuid": "uuid", "cidr": "inet", "jsonb": "jsonb"}
ALL_LEVELS = ("boolean", "number", "date", "time", "uuid", "inet", "jsonb")


def _family(name: str) -> tuple[str, ...]:
    return next(f for f in pgtypes.FAMILIES if name in f)


def propose(stats: ColumnStats) -> str | None:
    """What to prove for a column on the whole file, from its sampled profile.

    The narrowest candidate every sampled value parses as (one check per value); else, for a
    column whose sample mixes families or has values of none (text), None; a text column's
    counts for the families it does show come from the narrower second pass
    (``recheck_levels``). No sampled value: every level, in the second pass.
    """
    if stats.non_null == 0:
        return None
    failures = stats.failures()
    return next((name for name in pgtypes.CANDIDATES if failures[name] == 0), None)


def recheck_levels(stats: ColumnStats, proposal: str | None) -> tuple[str, ...]:
    """The levels the second pass proves exactly for a column that was not proven."""
    if proposal is not None:
        level = FAMILY_LEVEL[_family(proposal)[0]]
        return ("number",) if level == "number" else (level,)
    if stats.non_null == 0:
        return ALL_LEVELS
    failures = stats.failures()
    return tuple(FAMILY_LEVEL[f[0]] for f in pgtypes.FAMILIES
                 if min(failures[n] for n in f) < stats.non_null)


Facts = tuple[dict[int, list[dict[str, Any]]], dict[int, bool]]   # scan_formats' result


def _duckdb_columns(path: Path, dialect: Dialect, headers: list[str],
                    null_tokens: frozenset[str], sample: Sample,
                    sampled: list[ColumnStats]) -> tuple[int, list[dict[str, Any]], Facts]:
    """(records, column profiles, the exact facts proven in the same pass).

    The main pass is ``fastscan``'s where it can read the file, then one DuckDB pass for
    the columns it left unsettled, at their family's level; else DuckDB's, as before. The facts ``_add_exact_facts``
    needs are asked in a DuckDB pass that runs anyway where the sample foresees them: the
    formats of columns no candidate can prove (``propose`` found none) and exact uniqueness
    where the sample's values are all different (``_unique_guesses``, which ``fastscan``
    proves itself); the formats of columns whose proposal failed, in the pass that proves
    them again.
    """
    n = len(headers)
    proposals = [propose(s) for s in sampled]
    values = _sampled_values(sample, n, null_tokens)
    wanted = {i: found for i, proposal in enumerate(proposals)
              if proposal is None and (found := formats.propose(values[i], dialect.delimiter))}
    # Each column reads as NULL the tokens its sample showed; the others are counted
    # together, and a column that has some is scanned again with every token.
    seen = [frozenset(s.tokens) for s in sampled]
    fact_values: list[Any] = []
    native = fastscan.scan(path, dialect, n, null_tokens, proposals,
                           unique=_different_in_sample(sample, n, null_tokens))
    distinct: list[int] | None = None   # fastscan's estimates, kept for columns DuckDB re-proves
    settled_here: set[int] = set()      # proven by DuckDB at their family's level already
    if isinstance(native, str):
        facts = fact_query(null_tokens, wanted, _unique_guesses(sample, n, null_tokens, path))
        rows, counts = profile.scan(path, dialect, n, null_tokens, proposals, seen_tokens=seen,
                                    extra=facts.select, extra_values=fact_values)
        known_unique: dict[int, bool] = {}
    else:
        rows, counts, known_unique = native.rows, native.counts, native.unique
        distinct = [c.distinct for c in counts]
        # The columns it left are proven at once as the re-proving pass below would prove
        # them should their proposal fail: every candidate of its family, every null token
        # read as NULL, their value formats asked. One DuckDB pass settles them either way.
        settled_here = native.unsettled
        levels: list[profile.Proof | None] = [
            (recheck_levels(sampled[i], proposal) or None) if i in settled_here else None
            for i, proposal in enumerate(proposals)]
        facts = fact_query(null_tokens, {**wanted, **{
            i: found for i in sorted(settled_here)
            if (found := formats.propose(values[i], dialect.delimiter))}} if settled_here else {})
        if settled_here:
            _, proven = profile.scan(path, dialect, n, null_tokens, levels,
                                     seen_tokens=[null_tokens] * n, columns=settled_here,
                                     extra=facts.select, extra_values=fact_values)
            for i in settled_here:
                counts[i] = proven[i]
    # Widen and re-prove, in a second pass over only these columns: proposals that fail
    # somewhere (integers as numbers), text columns whose sample showed typed values, and
    # columns with null tokens the sample did not show.
    again: list[profile.Proof | None] = [None] * n
    rescan: set[int] = set()
    for i, proposal in enumerate(proposals):
        if i in settled_here:
            continue
        if proposal is None or counts[i].ok[proposal] < counts[i].non_null:
            again[i] = recheck_levels(sampled[i], proposal) or None
            if again[i] is not None:
                rescan.add(i)
        if counts[i].unseen_tokens or counts[i].needs_exact:
            again[i] = again[i] or (None if proposal is None
                                    else recheck_levels(sampled[i], proposal) or None)
            rescan.add(i)
    # The formats of the columns scanned again are asked in the same pass: if no candidate
    # proves one of them, ``_add_exact_facts`` needs them (else it reads the file once more).
    maybe = fact_query(null_tokens, {
        i: found for i in sorted(rescan)
        if i not in wanted and (found := formats.propose(values[i], dialect.delimiter))})
    maybe_values: list[Any] = []
    if rescan:
        _, more = profile.scan(path, dialect, n, null_tokens, again, columns=rescan,
                               extra=maybe.select, extra_values=maybe_values)
        for i in rescan:
            counts[i] = more[i]
    if sample.complete and rows != len(sample.head):
        raise profile.Unsupported("DuckDB's record count differs from Python's")
    for i, estimate in enumerate(distinct or ()):
        counts[i].distinct = estimate
    columns = [_counted_profile(rows, counts[i], sampled[i], sample.complete)
               for i in range(n)]
    entries, unique = facts.read(fact_values)
    unique.update(known_unique)
    if rescan:
        entries.update(maybe.read(maybe_values)[0])
    return rows, columns, (entries, unique)


def _unique_guesses(sample: Sample, n_columns: int, null_tokens: frozenset[str],
                    path: Path) -> list[int]:
    """The columns whose sampled values are all different: those worth an exact
    ``count(DISTINCT)`` in the main scan (a wrong guess costs time and memory, a missed one
    a pass of its own later). The head and the strata are looked at apart: a stratum may
    land on a record of the head.

    Only while the values to count stay under ``MERGED_DISTINCT_VALUES`` (rows estimated
    from the head's record length): DuckDB's distinct counts next to the scan's other
    aggregates slow the whole scan down more than a pass of their own costs on big files
    (bench/profile.py, 1 GB with two unique columns: the profile took 1.8 s longer merged).
    """
    if not sample.head:
        return []
    record_bytes = sum(len(",".join(f)) + 1 for _, f in sample.head) / len(sample.head)
    rows = path.stat().st_size / max(record_bytes, 1.0)
    guesses = _different_in_sample(sample, n_columns, null_tokens)
    return guesses if rows * len(guesses) <= MERGED_DISTINCT_VALUES else []


def _different_in_sample(sample: Sample, n_columns: int, null_tokens: frozenset[str]) -> list[int]:
    """The columns whose values are all different in the head and in the strata."""
    heads = [f for _, f in sample.head]
    return [i for i in range(n_columns)
            if (head := _present(heads, i, null_tokens)) and _all_different(head)
            and _all_different(_present(sample.strata, i, null_tokens))]


def _present(records: list[list[str]], i: int, null_tokens: frozenset[str]) -> list[str]:
    """Column ``i``'s values in ``records``, nulls (empty or a null token) left out."""
    return [f[i] for f in records if i < len(f) and f[i] != "" and f[i] not in null_tokens]


def _all_different(values: list[str]) -> bool:
    return len(set(values)) == len(values)


def _counted_profile(rows: int, counts: profile.ColumnCounts, sampled: ColumnStats,
                     complete: bool) -> dict[str, Any]:
    non_null = counts.non_null
    evaluated = set(counts.ok)
    proven = [name for name in evaluated if counts.ok[name] == non_null]
    integers_only = "bigint" in evaluated and "numeric" not in evaluated
    if "bigint" in proven:
        evaluated |= {"numeric", "double precision"}  # every bigint is both
        counts.ok.update({"numeric": non_null, "double precision": non_null})
    candidates: dict[str, dict[str, Any]] = {}
    for name in pgtypes.CANDIDATES:
        entry: dict[str, Any]
        if name in evaluated:
            entry = {"failures": non_null - counts.ok[name]}
        elif proven or complete:
            # Families never overlap: a column proven in one fails every other on every value.
            entry = {"failures": non_null}
        else:
            # A text column whose sample had no value of this family: extrapolated.
            entry = {"failures": non_null, "estimated": True}
        entry["examples"] = []
        candidates[name] = entry
    digits, scale = counts.max_integer_digits, counts.max_scale
    if integers_only and counts.integer_min is not None and counts.integer_max is not None:
        digits = max(len(str(abs(counts.integer_min))), len(str(abs(counts.integer_max))))
        scale = 0
    bounds = dict(counts.bounds)
    if "date" not in bounds and "timestamp" in bounds:
        bounds["date"] = bounds["timestamp"]
    low, high = type_bounds(non_null, {n: c["failures"] for n, c in candidates.items()},
                            bounds, counts.integer_min, counts.integer_max)
    return {
        "non_null": non_null, "empty": rows + counts.empty,
        "null_tokens": dict(sorted(counts.null_tokens.items())),
        "min_length": counts.min_length, "max_length": counts.max_length,
        "leading_zeros": counts.leading_zeros,
        "integer_min": number_text(counts.integer_min), "integer_max": number_text(counts.integer_max),
        "max_scale": scale, "max_integer_digits": digits,
        "exponent_values": counts.exponent_values,
        "distinct": counts.distinct, "min": low, "max": high,
        "candidates": candidates,
        "values": list(sampled.values),
    }


# --- exact facts: value formats and uniqueness ------------------------------------------------

UNIQUE_SHARE = 0.8  # columns whose distinct estimate reaches this share of values are counted


def _sampled_values(sample: Sample, n_columns: int, null_tokens: frozenset[str]) -> list[list[str]]:
    """The distinct non-null values of each column in the sample (head, then strata)."""
    seen: list[dict[str, None]] = [{} for _ in range(n_columns)]
    for fields in itertools.chain((f for _, f in sample.head), sample.strata):
        for i, value in enumerate(fields[:n_columns]):
            if value != "" and value not in null_tokens:
                seen[i][value] = None
    return [list(s) for s in seen]


def _add_exact_facts(files: tuple[Path, ...], dialect: Dialect, headers: list[str],
                     null_tokens: frozenset[str], sample: Sample, found: list[dict[str, Any]],
                     duckdb_path: bool, known: Facts | None = None) -> None:
    """Value formats proven on the whole file (``formats``), and exact ``unique`` per column.

    A column no candidate type proves gets the formats all its sampled values are in
    (``formats.propose``), each counted on every value (``FormatStats``, or DuckDB's
    ``scan_formats``). ``unique``: the Python profile knows it exactly; the DuckDB one asks
    ``count(DISTINCT)`` of the columns whose distinct estimate reaches ``UNIQUE_SHARE`` of
    their values (the estimate is within a few per cent: the others have duplicates) and
    whose sampled head repeats no value (``_repeated_in_head``).
    ``known`` are those the main scan proved already (``_duckdb_columns``); only the rest
    takes a pass of its own.
    """
    n = len(headers)
    values = _sampled_values(sample, n, null_tokens)
    wanted: dict[int, list[dict[str, Any]]] = {}
    for i, col in enumerate(found):
        col["formats"] = []
        if col["non_null"] and all(c["failures"] for c in col["candidates"].values()):
            proposals = formats.propose(values[i], dialect.delimiter)
            if proposals:
                wanted[i] = proposals
    unique = [i for i, col in enumerate(found) if "unique" not in col]
    for i in unique:
        found[i]["unique"] = found[i]["non_null"] == 0  # no two values: vacuously unique
    unique = [i for i in unique if found[i]["non_null"]
              and found[i]["distinct"] >= UNIQUE_SHARE * found[i]["non_null"]]
    # Two records of the head sharing a value prove it: False stands, no pass needed.
    repeated = set(_repeated_in_head(sample, unique, null_tokens))
    unique = [i for i in unique if i not in repeated]
    if not wanted and not unique:
        return
    if duckdb_path:
        known_entries, known_unique = known or ({}, {})
        entries = {i: known_entries[i] for i, fmts in wanted.items()
                   if [e["format"] for e in known_entries.get(i, ())] == [dict(f) for f in fmts]}
        exact = {i: known_unique[i] for i in unique if i in known_unique}
        try:
            left = {i: fmts for i, fmts in wanted.items() if i not in entries}
            rest = [i for i in unique if i not in exact]
            if left or rest:
                more_entries, more_exact = scan_formats(files[0], dialect, n, null_tokens, left, rest)
                entries.update(more_entries)
                exact.update(more_exact)
        except profile.Unsupported:
            pass
        else:
            for i, found_entries in entries.items():
                found[i]["formats"] = [e for e in found_entries
                                       if formats.plausible(e, dialect.delimiter)]
            for i, flag in exact.items():
                found[i]["unique"] = flag
            return
    stats = {i: FormatStats(fmts) for i, fmts in wanted.items()}
    distinct: dict[int, set[str] | None] = {i: set() for i in unique}
    records = iter(sample.head) if sample.complete else _all_records(files, dialect)
    for line, fields in records:
        for i, format_stats in stats.items():
            value = fields[i] if i < len(fields) else ""
            if value != "" and value not in null_tokens:
                format_stats.add(line, value)
        for i, kept in distinct.items():
            value = fields[i] if i < len(fields) else ""
            if kept is not None and value != "" and value not in null_tokens:
                if value in kept or len(kept) >= MAX_UNIQUE_VALUES:
                    distinct[i] = None
                else:
                    kept.add(value)
    for i, format_stats in stats.items():
        found[i]["formats"] = [e for e in format_stats.entries()
                               if formats.plausible(e, dialect.delimiter)]
    for i, kept in distinct.items():
        found[i]["unique"] = kept is not None


def _repeated_in_head(sample: Sample, columns: list[int], null_tokens: frozenset[str]) -> list[int]:
    """The ``columns`` where two records of the sample's head hold the same value: proven not
    unique without a pass (a column of amounts or times is often nearly all different)."""
    heads = [f for _, f in sample.head]
    return [i for i in columns if not _all_different(_present(heads, i, null_tokens))]


# --- the step ----------------------------------------------------------------------------

def _profile(table: TableSettings, csv_hash: str, options_hash: str,
             engine: Engine) -> dict[str, Any]:
    files = table.files
    path = files[0]
    dialect = detect_dialect(path, table.dialect)
    headers = read_header(path, dialect)
    for other in files[1:]:
        if read_header(other, dialect) != headers:
            raise DataError(f"the header differs from the one of {path.name}", path=other, line=1,
                            hint="a source glob loads files with the same header into one table; "
                                 f"narrow source in [tables.{table.name}] or give the file a table of its own")
    if len(headers) > MAX_COLUMNS:
        raise DataError(
            f"the header has {len(headers)} columns; PostgreSQL allows at most {MAX_COLUMNS}",
            path=path, line=1,
            hint=f"split the file, or check the delimiter (set delimiter in [tables.{table.name}])")
    null_tokens = frozenset(table.null_tokens + table.default_null_tokens) - {""}
    max_values = max(0, min(table.sample_rows, MAX_VALUES))
    sample = take_sample(path, dialect, len(headers))
    if len(files) > 1:
        sample = sample._replace(complete=False)  # the head is only the first file's
    sampled = _sample_stats(sample, len(headers), null_tokens, max_values)
    columns = unique_identifiers(headers)
    use_duckdb = len(files) == 1 and (engine == "duckdb" or (engine == "auto" and not sample.complete))
    found: list[dict[str, Any]] | None = None
    known: Facts | None = None
    problems: list[dict[str, Any]] = []
    if use_duckdb:
        try:
            rows, found, known = _duckdb_columns(path, dialect, headers, null_tokens, sample, sampled)
        except profile.Unsupported:
            found = None
    if found is None:
        rows, stats, checks = _python_columns(files, dialect, headers, null_tokens, sample)
        found = [{**s.as_dict(0, "", ""), "values": list(sampled[i].values)}
                 for i, s in enumerate(stats)]
        problems = checks.problems(table.name)
    if not problems:
        _add_exact_facts(files, dialect, headers, null_tokens, sample, found, duckdb_path=use_duckdb,
                         known=known)
    if known is not None:   # DuckDB profiled: its failures and format failures want examples
        add_examples(path, dialect, len(headers), found, null_tokens)
    return {
        "table": table.name,
        "inputs": {"csv": csv_hash, "options": options_hash},
        "dialect": dialect.as_dict(),
        "rows": rows,
        "columns": [{**found[i], "index": i, "name": headers[i], "column": columns[i]}
                    for i in range(len(headers))],
        "problems": problems,
    }

