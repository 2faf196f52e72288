"""The built-in engine: a table's records streamed through psycopg 3 ``COPY ... FROM STDIN``.

Reads the table's CSV files; writes rows into a staging table the importer has created (the
schema's column types, no constraints) and reports every row PostgreSQL or csv2pg refused
through ``on_reject``. It decides nothing else: verification, reject limits and the swap are
the importer's, exactly as for pgloader.

Two ways to feed COPY, chosen per table by ``plan_copy``:

- **raw** (the fast path): a single plain file in UTF-8 (or Latin-1/Windows-1252, which COPY
  converts itself), ``"`` quoting, no escape character, nothing pgloader would need a
  normalized copy for (``normalize.needs_normalizing`` said None when the ``.load`` was
  rendered), no null tokens beyond the empty value, no column transform, no ragged rows in
  the profile. The bytes after the header lines go to COPY unchanged, in large batches cut at
  record boundaries (a line end after an even number of quote characters); no per-field
  Python work. With ``streams`` > 1 (default: one per CPU, at most ``MAX_STREAMS``) the
  batches go through that many connections at once: COPY's limit is the one server process
  that parses its rows, so two streams load about 1.6x as fast on two cores. Each batch is
  still one COPY of its own into the staging table, and its counts and refused rows are
  taken in file order.
- **parsed**: everything else (UTF-16, comments, preamble, footer, mixed line ends,
  compressed, several files, other quoting, null tokens, transforms). Records are read
  exactly as the profile reads them (``records.open_records``), rows with the wrong number
  of fields are refused by csv2pg before PostgreSQL sees them, null tokens become NULL,
  ``transforms.row_transformer`` rewrites values, and the rows are written as UTF-8 CSV.

NULLs: an empty unquoted value is NULL; a quoted ``""`` is NULL in typed columns
(``FORCE_NULL``) and the empty string in text columns, as in the pgloader engine. The parsed
path cannot see quoting, so there an empty value is NULL in every column.

Bad rows on any PostgreSQL version csv2pg supports (12 and later; no ``ON_ERROR``): each batch
is one COPY (autocommit, so a failed batch leaves nothing behind). When PostgreSQL refuses a
batch, its records are split out and loaded again: the rows before the record PostgreSQL
names, that record alone, the rows after it (bisecting when the record cannot be named),
until every refused row is alone with its reason. Clean files pay nothing for this.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import queue
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from csv2pg import sources
from csv2pg.dialect import Dialect
from csv2pg.records import open_records
from csv2pg.transforms import RowTransform

RAW_BATCH_BYTES = 32 << 20       # raw path: bytes per COPY (one COPY per batch)
MAX_STREAMS = 4                  # raw path: connections loading batches at once
PARSED_BATCH_BYTES = 16 << 20    # parsed path: CSV text per COPY
WRITE_BYTES = 1 << 20            # what one copy.write() sends at most
ISOLATE_ROWS = 1000              # rows per COPY once a batch was refused
TEXT_TYPES = re.compile(r"^(text|varchar\(\d+\)|char\(\d+\))$")
# Python codec name → the COPY ENCODING name, for the raw path.
RAW_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "ascii": "UTF8", "latin-1": "LATIN1",
                 "iso8859-1": "LATIN1", "cp1252": "WIN1252", "iso8859-15": "LATIN9"}
_SAFE_TYPE = re.compile(r"^[a-z][a-z0-9 ]*(\(\d+(, ?\d+)?\))?(\[\])?$")  # the schema's vocabulary
_PHYSICAL_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_CONTEXT_LINE = re.compile(r"\bline (\d+)")
_CONTEXT_COLUMN = re.compile(r"\bcolumn (.+?)(?::|$)")

# What a bad row makes COPY raise: data exceptions (SQLSTATE class 22: syntax, range,
# encoding, field counts) and integrity violations (23: NOT NULL). Anything else (a lost
# connection, a missing privilege) is no row's fault and ends the import.
ROW_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)

Reject = Callable[[Path, int | None, str, str], None]   # (file, line, original text, reason)
Progress = Callable[[int], None]
Connect = Callable[[], "psycopg.Connection[Any]"]


def default_streams() -> int:
    """COPY streams for the raw path: one per CPU, at most ``MAX_STREAMS``."""
    return max(1, min(MAX_STREAMS, os.cpu_count() or 1))


@dataclass(frozen=True)
class CopyPlan:
    """How the rows reach COPY: ``raw`` bytes or ``parsed`` records, and why."""

    raw: bool
    why: str


@dataclass
class CopyResult:
    read: int = 0        # records csv2pg saw (the raw path counts them only in failed batches)
    imported: int = 0    # rows COPY reported loaded
    rejected: int = 0    # rows refused, by csv2pg (field counts) or PostgreSQL
    batches: int = 0
    raw: bool = False


@dataclass(frozen=True)
class _Row:
    file: int
    line: int
    text: str            # the record as sent (the raw path: exactly the source text)


@dataclass
class _Batch:
    """What one batch did: taken into ``CopyResult`` in file order."""

    read: int = 0
    imported: int = 0
    refused: list[tuple[_Row, str]] = field(default_factory=list)   # (row, reason)


def plan_copy(files: Sequence[Path], dialect: Dialect, columns: Sequence[dict[str, Any]], *,
              normalized: bool, transform: RowTransform | None, ragged: bool,
              seen: Sequence[dict[str, Any]] | None = None) -> CopyPlan:
    """Whether the raw bytes can go to COPY as they are (see the module docstring).

    ``seen`` are sample.json's columns: a null token the profile found nowhere in a column
    (over the whole file) needs no work; without them every token counts.
    """
    if len(files) != 1:
        return CopyPlan(False, f"{len(files)} files")
    if sources.compression(Path(files[0])) is not None:
        return CopyPlan(False, "compressed")
    try:
        codec = codecs.lookup(dialect.encoding).name
    except LookupError:
        return CopyPlan(False, f"encoding {dialect.encoding}")
    if codec not in RAW_ENCODINGS:
        return CopyPlan(False, f"encoding {dialect.encoding}")
    if normalized:
        return CopyPlan(False, "the source needs normalizing")
    if dialect.comment or dialect.preamble_lines or dialect.footer_lines:
        return CopyPlan(False, "comment, preamble or footer lines")
    if dialect.quotechar != '"' or dialect.escapechar is not None:
        return CopyPlan(False, "quoting other than RFC 4180")
    if dialect.delimiter in ('"', "\r", "\n") or len(dialect.delimiter) != 1:
        return CopyPlan(False, f"delimiter {dialect.delimiter!r}")
    if dialect.line_terminator not in ("\n", "\r\n"):
        return CopyPlan(False, "line ends")
    if transform is not None:
        return CopyPlan(False, "column transforms")
    if ragged:
        return CopyPlan(False, "ragged rows")
    if null_tokens_in_use(columns, seen):
        return CopyPlan(False, "null tokens")
    return CopyPlan(True, "clean CSV")


def null_tokens_in_use(columns: Sequence[dict[str, Any]],
                       seen: Sequence[dict[str, Any]] | None) -> bool:
    """Whether any column's null tokens (besides the empty value) occur in the file."""
    for index, column in enumerate(columns):
        tokens = {t for t in column.get("null_tokens", []) if t != ""}
        if not tokens:
            continue
        if seen is None or index >= len(seen):
            return True
        if tokens & set(seen[index].get("null_tokens", {})):
            return True
    return False


class CopyLoader:
    """One import's COPY stream into ``<db_schema>.<staging>``."""

    def __init__(self, conn: psycopg.Connection[Any], db_schema: str, staging: str,
                 columns: Sequence[dict[str, Any]], on_reject: Reject,
                 on_progress: Progress | None = None) -> None:
        self.conn = conn
        self.columns = list(columns)
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.result = CopyResult()
        self.files: list[Path] = []
        self._sent = 0
        self._target = sql.SQL("{}.{} ({})").format(
            sql.Identifier(db_schema), sql.Identifier(staging),
            sql.SQL(", ").join(sql.Identifier(str(c["column"])) for c in self.columns))
        self._typed = [str(c["column"]) for c in self.columns
                       if not TEXT_TYPES.match(str(c["type"]))]

    # --- the statements ----------------------------------------------------------------

    def _statement(self, delimiter: str, encoding: str) -> sql.Composed:
        options = [sql.SQL("FORMAT csv"), sql.SQL("DELIMITER {}").format(sql.Literal(delimiter)),
                   sql.SQL("QUOTE '\"'"), sql.SQL("ENCODING {}").format(sql.Literal(encoding))]
        if self._typed:
            options.append(sql.SQL("FORCE_NULL ({})").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in self._typed)))
        return sql.SQL("COPY {} FROM STDIN ({})").format(self._target, sql.SQL(", ").join(options))

    @staticmethod
    def _copy(conn: psycopg.Connection[Any], statement: sql.Composed,
              chunks: Iterator[memoryview] | list[bytes]) -> int:
        """One COPY (its own transaction); the rows loaded. Raises psycopg.Error."""
        with conn.cursor() as cur:
            with cur.copy(statement) as copy:
                for chunk in chunks:
                    copy.write(chunk)
            return max(cur.rowcount, 0)

    def _progress(self, size: int) -> None:
        self._sent += size
        if self.on_progress is not None:
            self.on_progress(self._sent)

    def _take(self, batch: _Batch, size: int) -> None:
        self.result.batches += 1
        self.result.read += batch.read
        self.result.imported += batch.imported
        for row, reason in batch.refused:
            self._refuse(row.file, row.line, row.text.rstrip("\r\n"), reason)
        self._progress(size)

    # --- the raw path ------------------------------------------------------------------

    def load_raw(self, path: Path, dialect: Dialect, skip_bytes: int = 0, *, streams: int = 1,
                 connect: Connect | None = None) -> None:
        """Stream the file's bytes after its header lines (or after ``skip_bytes``, the end of
        the records an earlier import loaded: ``mode = "append"``), through ``streams``
        connections at once (the loader's own, plus ``streams - 1`` from ``connect``)."""
        codec = codecs.lookup(dialect.encoding).name
        statement = self._statement(dialect.delimiter, RAW_ENCODINGS[codec])
        self.files.append(Path(path))
        file_index = len(self.files) - 1
        with open(path, "rb") as handle:
            batches = _raw_batches(handle, dialect, skip_bytes, codec)
            if streams <= 1 or connect is None:
                for batch, line in batches:
                    self._take(self._raw_batch(self.conn, statement, batch, file_index, line, codec),
                               len(batch))
                return
            self._load_parallel(batches, statement, file_index, codec, streams, connect)

    def _load_parallel(self, batches: Iterator[tuple[bytes, int]], statement: sql.Composed,
                       file_index: int, codec: str, streams: int, connect: Connect) -> None:
        """The raw batches through ``streams`` connections; results taken in file order.

        At most ``streams`` batches are in flight and one more is read, so memory stays at a
        few batches whatever the file's size.
        """
        idle: queue.SimpleQueue[psycopg.Connection[Any]] = queue.SimpleQueue()
        idle.put(self.conn)
        extra: list[psycopg.Connection[Any]] = []

        def load(batch: bytes, line: int) -> _Batch:
            conn = idle.get()
            try:
                return self._raw_batch(conn, statement, batch, file_index, line, codec)
            finally:
                idle.put(conn)

        pending: deque[tuple[Future[_Batch], int]] = deque()
        try:
            for _ in range(streams - 1):
                try:
                    extra.append(connect())
                except Exception:   # e.g. max_connections reached: load with fewer streams
                    break
                idle.put(extra[-1])
            streams = 1 + len(extra)
            with ThreadPoolExecutor(max_workers=streams) as pool:
                try:
                    for batch, line in batches:
                        pending.append((pool.submit(load, batch, line), len(batch)))
                        if len(pending) >= streams:
                            future, size = pending.popleft()
                            self._take(future.result(), size)
                    while pending:
                        future, size = pending.popleft()
                        self._take(future.result(), size)
                finally:
                    for future, _ in pending:
                        future.cancel()
        finally:
            for conn in extra:
                conn.close()

    def _raw_batch(self, conn: psycopg.Connection[Any], statement: sql.Composed, batch: bytes,
                   file_index: int, line: int, codec: str) -> _Batch:
        try:
            loaded = self._copy(conn, statement, _slices(batch))
        except ROW_ERRORS:
            rows = list(_split_raw(batch.decode(codec, errors="replace"), file_index, line))
            done = self._isolate(conn, statement, rows, codec)
            done.read = len(rows)
            return done
        return _Batch(read=loaded, imported=loaded)

    # --- the parsed path ---------------------------------------------------------------

    def load_parsed(self, files: Sequence[Path], dialect: Dialect,
                    transform: RowTransform | None, skip_records: int = 0) -> None:
        """Stream the records csv2pg parses (after the first ``skip_records``, which an
        earlier import loaded: ``mode = "append"``)."""
        statement = self._statement(",", "UTF8")
        width = len(self.columns)
        tokens = [frozenset(t for t in c.get("null_tokens", []) if t != "") for c in self.columns]
        nulling = [(i, t) for i, t in enumerate(tokens) if t]
        buffer = io.StringIO()
        # CRLF line ends: csv quotes a value holding any character of the line terminator, and
        # a lone CR in a value must be quoted too (COPY reads it as a line end otherwise).
        writer = csv.writer(buffer, lineterminator="\r\n")
        rows: list[tuple[int, int, int]] = []   # (file, line, end offset in buffer)
        for path in files:
            self.files.append(Path(path))
            file_index = len(self.files) - 1
            for line, fields in open_records(Path(path), dialect):
                if skip_records:
                    skip_records -= 1
                    continue
                self.result.read += 1
                if len(fields) != width:
                    self._refuse(file_index, line, csv_text(fields, dialect),
                                 f"the record has {len(fields)} fields, the header "
                                 f"{width}")
                    continue
                for i, found in nulling:
                    if fields[i] in found:
                        fields[i] = ""
                if transform is not None:
                    fields = transform(fields)
                if width == 1 and fields[0] == "":
                    buffer.write("\r\n")   # csv writes "" (the empty string), not NULL
                else:
                    writer.writerow(fields)
                rows.append((file_index, line, buffer.tell()))
                if buffer.tell() >= PARSED_BATCH_BYTES:
                    self._parsed_batch(statement, buffer.getvalue(), rows)
                    buffer.seek(0)
                    buffer.truncate()
                    rows = []
        if rows:
            self._parsed_batch(statement, buffer.getvalue(), rows)

    def _parsed_batch(self, statement: sql.Composed, text: str,
                      rows: list[tuple[int, int, int]]) -> None:
        data = text.encode("utf-8")
        try:
            loaded = self._copy(self.conn, statement, _slices(data))
        except ROW_ERRORS:
            split: list[_Row] = []
            start = 0
            for file_index, line, end in rows:
                split.append(_Row(file_index, line, text[start:end]))
                start = end
            self._take(self._isolate(self.conn, statement, split, "utf-8"), len(data))
            return
        self._take(_Batch(imported=loaded), len(data))

    # --- isolating refused rows --------------------------------------------------------

    def _isolate(self, conn: psycopg.Connection[Any], statement: sql.Composed, rows: list[_Row],
                 codec: str) -> _Batch:
        """Load ``rows`` in smaller COPYs until every refused row is alone (and refused).

        A refused COPY still sends all its data, so the batch is first cut into parts of
        ``ISOLATE_ROWS``: many bad rows in one batch cost a few parts each, not the batch.
        """
        done = _Batch()
        stack = [rows[start:start + ISOLATE_ROWS] for start in range(0, len(rows), ISOLATE_ROWS)]
        stack.reverse()
        while stack:
            part = stack.pop()
            if not part:
                continue
            try:
                done.imported += self._copy(
                    conn, statement, [("".join(r.text for r in part)).encode(codec, errors="replace")])
                continue
            except ROW_ERRORS as exc:
                error = exc
            if len(part) == 1:
                done.refused.append((part[0], _reason(error)))
                continue
            named = _record_number(error)
            if named is not None and 1 <= named <= len(part):
                # Loaded in order: the rows before it, the row itself, the rows after it.
                stack += [part[named:], part[named - 1:named], part[:named - 1]]
            else:
                half = len(part) // 2
                stack += [part[half:], part[:half]]
        return done

    def _refuse(self, file_index: int, line: int, text: str, reason: str) -> None:
        self.result.rejected += 1
        self.on_reject(self.files[file_index], line, text, reason)


def create_staging(conn: psycopg.Connection[Any], db_schema: str, staging: str,
                   columns: Sequence[dict[str, Any]]) -> None:
    """The staging table: the schema's columns and types (dropped first).

    No key, index or check; but ``NOT NULL`` where the schema says ``nullable: false``: COPY
    checks it row by row for free, a row with an empty value there becomes a reject like any
    other refused row, and the swap's ``SET NOT NULL`` then finds it set and does not scan
    the whole table again (one scan per column otherwise).
    """
    target = sql.SQL("{}.{}").format(sql.Identifier(db_schema), sql.Identifier(staging))
    definitions = []
    for column in columns:
        ddl_type = str(column["type"])
        if not _SAFE_TYPE.match(ddl_type):
            raise ValueError(f"unexpected column type {ddl_type!r}")
        not_null = sql.SQL(" NOT NULL") if column.get("nullable") is False else sql.SQL("")
        definitions.append(sql.SQL("{} {}{}").format(sql.Identifier(str(column["column"])),
                                                     sql.SQL(ddl_type), not_null))
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(definitions)))
    for column in columns:
        if column.get("comment"):  # from an accepted LLM suggestion (issue 5)
            conn.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                target, sql.Identifier(str(column["column"])), sql.Literal(str(column["comment"]))))


def _raw_batches(handle: io.BufferedReader, dialect: Dialect, skip_bytes: int,
                 codec: str) -> Iterator[tuple[bytes, int]]:
    """(batch, physical line it starts on) of the raw path: about ``RAW_BATCH_BYTES`` each,
    cut at record boundaries, after the header lines (or after ``skip_bytes``)."""
    head = handle.read(3)
    if head != codecs.BOM_UTF8 or RAW_ENCODINGS[codec] != "UTF8":
        handle.seek(0)
    line = 1
    if skip_bytes:
        handle.seek(0)
        left = skip_bytes
        while left > 0 and (block := handle.read(min(left, 1 << 20))):
            line += block.count(b"\n")
            left -= len(block)
    else:
        for _ in range(dialect.header_lines):
            if not handle.readline():
                break
            line += 1
    carry = b""
    while True:
        block = handle.read(RAW_BATCH_BYTES)
        buffer = carry + block if carry else block
        if not buffer:
            return
        cut = len(buffer) if not block else _record_boundary(buffer)
        if cut == 0:
            carry = buffer   # one record longer than a batch: read on
            continue
        batch, carry = buffer[:cut], buffer[cut:]
        yield batch, line
        line += batch.count(b"\n")
        if not block:
            return


def _slices(data: bytes) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(data), WRITE_BYTES):
        yield view[start:start + WRITE_BYTES]


def _record_boundary(buffer: bytes) -> int:
    """The end of the last whole record in ``buffer`` (which starts at a record's start):
    just after a line feed preceded by an even number of quote characters; 0 for none."""
    total = buffer.count(b'"')
    end = len(buffer)
    after = 0
    while True:
        newline = buffer.rfind(b"\n", 0, end)
        if newline < 0:
            return 0
        after += buffer.count(b'"', newline + 1, end)
        if (total - after) % 2 == 0:
            return newline + 1
        end = newline


def _split_raw(text: str, file_index: int, line: int) -> Iterator[_Row]:
    """The records of a raw batch with the physical line each starts on."""
    pending: list[str] = []
    quotes = 0
    start = line
    for match in _PHYSICAL_LINE.finditer(text):   # not splitlines: it splits at \x1c, \u2028...
        physical = match.group()
        if not pending:
            start = line
        pending.append(physical)
        quotes += physical.count('"')
        line += physical.endswith("\n")
        if quotes % 2 == 0:
            yield _Row(file_index, start, "".join(pending))
            pending, quotes = [], 0
    if pending:
        yield _Row(file_index, start, "".join(pending))


def _record_number(error: psycopg.Error) -> int | None:
    """The record PostgreSQL names in the error's context (``COPY t, line N``): COPY counts
    records, not physical lines, within the data it was sent."""
    context = error.diag.context if error.diag is not None else None
    if not context:
        return None
    found = _CONTEXT_LINE.search(context)
    return int(found.group(1)) if found else None


def _reason(error: psycopg.Error) -> str:
    diag = error.diag
    primary = " ".join(str(diag.message_primary or error).split())
    column = _CONTEXT_COLUMN.search(diag.context or "")
    if column and column.group(1) not in primary:
        return f"{primary} (column {column.group(1)})"
    return primary


def csv_text(fields: list[str], dialect: Dialect) -> str:
    """A record csv2pg parsed, written back in its file's dialect (for the reject file)."""
    out = io.StringIO()
    options: dict[str, Any] = {"delimiter": dialect.delimiter, "lineterminator": ""}
    if dialect.quotechar is None:
        options.update(quoting=csv.QUOTE_NONE, escapechar=dialect.escapechar or "\\")
    else:
        options.update(quotechar=dialect.quotechar, escapechar=dialect.escapechar)
    csv.writer(out, **options).writerow(fields)
    return out.getvalue()
