"""How to read a CSV: the ``Dialect``, and streaming its records.

- ``read_header(path, dialect)`` returns the header names (the first record after the
  preamble and comments), without a byte-order mark.
- ``open_records(path, dialect)`` streams the data records (header, preamble, comment lines,
  blank lines and footer skipped) with the physical 1-based line each starts on, in bounded
  memory. Physical lines end with LF, CRLF or CR alone, mixed freely.

Inputs are read through ``csv2pg.sources`` (``.gz``, ``.zst``, ``.bz2`` like plain files).
Undecodable bytes and a quote that never closes are a ``DataError`` naming file and line.
Detection lives in ``dialect.py``; encoding guesses in ``encodings.py``.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from csv2pg.encodings import locate_decode_error
from csv2pg.errors import DataError
from csv2pg.sources import DECOMPRESSION_ERRORS, corrupt, open_binary

QUOTE_HINT = ("close the quote there, or set quotechar = \"\" (no quoting) or escapechar in its "
              "[tables.NAME] entry")

# csv's default limit is 128 KiB per field; PostgreSQL text takes far more. This is the csv
# module's process-wide knob: we only ever raise it.
FIELD_SIZE_LIMIT = 1 << 26  # 64 MiB: bounds the damage of an unbalanced quote
csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))

LINE_BREAK = re.compile(r"\r\n|\r|\n")



@dataclass(frozen=True)
class Dialect:
    """How to read one CSV file: the ``dialect`` object of sample.json.

    ``header_lines`` is how many physical lines come before the first data record's line
    when counting the header and what precedes it (preamble, comments, blank lines): what
    pgloader's ``skip header`` needs. Without a header it is ``preamble_lines``.
    """

    encoding: str
    delimiter: str
    quotechar: str | None
    escapechar: str | None
    has_header: bool
    header_lines: int
    line_terminator: str
    comment: str | None = None   # lines starting with it are not data
    preamble_lines: int = 0      # physical lines before the header (or the first record)
    footer_lines: int = 0        # physical lines after the last record that are notes, not data

    def as_dict(self) -> dict[str, object]:
        return {"encoding": self.encoding, "delimiter": self.delimiter,
                "quotechar": self.quotechar, "escapechar": self.escapechar,
                "has_header": self.has_header, "header_lines": self.header_lines,
                "line_terminator": self.line_terminator, "comment": self.comment,
                "preamble_lines": self.preamble_lines, "footer_lines": self.footer_lines}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Dialect:
        return cls(encoding=str(d["encoding"]), delimiter=str(d["delimiter"]),
                   quotechar=None if d["quotechar"] is None else str(d["quotechar"]),
                   escapechar=None if d["escapechar"] is None else str(d["escapechar"]),
                   has_header=bool(d["has_header"]), header_lines=int(d["header_lines"]),
                   line_terminator=str(d["line_terminator"]),
                   comment=None if d.get("comment") is None else str(d["comment"]),
                   preamble_lines=int(d.get("preamble_lines", 0)),
                   footer_lines=int(d.get("footer_lines", 0)))



# --- reading records ---------------------------------------------------------------------

def reader_options(quotechar: str | None, escapechar: str | None, delimiter: str) -> dict[str, Any]:
    if quotechar is None:
        return {"delimiter": delimiter, "quoting": csv.QUOTE_NONE, "escapechar": escapechar}
    return {"delimiter": delimiter, "quotechar": quotechar, "doublequote": True,
            "escapechar": escapechar, "strict": False}


class LineSource:
    """Physical lines for csv.reader, numbered; preamble and comment lines left out.

    The caller sets ``at_start`` before asking for each record: a line starting with the
    comment character is skipped only there, never inside a quoted field. ``start`` is the
    line the current record starts on; ``exhausted`` says the input ended.
    """

    def __init__(self, lines: Iterable[str], comment: str | None, skip: int) -> None:
        self._lines = iter(lines)
        self.comment = comment
        self.skip = skip
        self.number = 0
        self.start = 0
        self.at_start = True
        self.exhausted = False

    def __iter__(self) -> LineSource:
        return self

    def __next__(self) -> str:
        while True:
            try:
                line = next(self._lines)
            except StopIteration:
                self.exhausted = True
                raise
            self.number += 1
            if self.number == 1 and line.startswith("\ufeff"):
                line = line[1:]  # a BOM read as a character (utf-16-le/be, or utf-8 forced)
            if self.number <= self.skip:
                continue
            if self.at_start:
                if self.comment and line.startswith(self.comment):
                    continue
                self.start = self.number
                self.at_start = False
            return line


@dataclass
class Record:
    start: int           # physical line the record starts on
    end: int             # physical line it ends on
    fields: list[str] = field(default_factory=list)


def parse_records(lines: LineSource, dialect_options: dict[str, Any], path: Path | None) -> Iterator[Record]:
    """The non-blank records of ``lines``.

    With a ``path`` (reading a file) a parse error or a quote still open at the end of the
    file is a DataError at the line the record starts on; without one (sniffing a sample
    that may be cut anywhere) parsing just stops there.
    """
    reader = csv.reader(lines, **dialect_options)
    while True:
        lines.at_start = True
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if path is None:
                return
            raise DataError(f"cannot parse the record that starts here: {exc}", path=path,
                            line=lines.start,
                            hint="check for an unbalanced quote there, or set quotechar/escapechar/delimiter in its [tables.NAME] entry") from None
        if lines.exhausted and fields:
            # The reader asked for more input inside this record: a quote never closed.
            if path is None:
                return
            raise DataError("a quoted field opens here and is never closed (the file ends "
                            "inside it)", path=path, line=lines.start, hint=QUOTE_HINT)
        if fields:
            yield Record(lines.start, lines.number, fields)


def _open_text(path: Path, dialect: Dialect) -> IO[str]:
    return io.TextIOWrapper(open_binary(path), encoding=dialect.encoding, errors="strict",
                            newline="")


def _records_of(handle: IO[str], path: Path, dialect: Dialect,
                lines: LineSource | None = None) -> Iterator[Record]:
    lines = lines or LineSource(handle, dialect.comment, dialect.preamble_lines)
    options = reader_options(dialect.quotechar, dialect.escapechar, dialect.delimiter)
    try:
        yield from parse_records(lines, options, path)
    except UnicodeDecodeError:
        raise locate_decode_error(path, dialect.encoding) from None
    except DECOMPRESSION_ERRORS as exc:
        raise corrupt(path, "compressed", exc) from None


def read_header(path: Path, dialect: Dialect) -> list[str]:
    """The first record's fields, or ``column_1..column_n`` when the file has no header."""
    with _open_text(path, dialect) as handle:
        first = next(_records_of(handle, path, dialect), None)
    if first is None:
        raise DataError("the file has no records", path=path,
                        hint="a table needs at least a header line")
    if dialect.has_header:
        return first.fields
    return [f"column_{i}" for i in range(1, len(first.fields) + 1)]


def open_records(path: Path, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """The data records (header, preamble, comments, footer skipped): (start line, fields).

    A record is footer when it starts within the last ``footer_lines`` physical lines: it is
    held back until that many more lines have been read (bounded memory).
    """
    with _open_text(path, dialect) as handle:
        lines = LineSource(handle, dialect.comment, dialect.preamble_lines)
        records = _records_of(handle, path, dialect, lines)
        if dialect.has_header:
            next(records, None)
        if dialect.footer_lines <= 0:
            for record in records:
                yield record.start, record.fields
            return
        held: deque[Record] = deque()
        for record in records:
            held.append(record)
            while held and lines.number >= held[0].start + dialect.footer_lines:
                data = held.popleft()
                yield data.start, data.fields
        # Now lines.number is the file's last line: what starts in its last footer_lines
        # lines is footer.
        for data in held:
            if data.start <= lines.number - dialect.footer_lines:
                yield data.start, data.fields


