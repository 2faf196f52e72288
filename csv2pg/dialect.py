"""CSV dialect detection (encoding, delimiter, quoting, header) and record streaming.

Contract:

- ``detect_dialect(path, overrides)`` reads at most the first ``HEAD_BYTES`` of the file and
  returns a frozen ``Dialect``; every field the user set in ``overrides`` wins over detection.
- ``read_header(path, dialect)`` returns the header names of the first record.
- ``open_records(path, dialect)`` streams the data records with the physical line each
  starts on, in bounded memory.

Every expected failure (empty file, undecodable bytes, broken quoting) is a ``DataError``
naming the file and, where known, the line. Blank lines are not records: they are skipped
everywhere (and a header preceded by blank lines spans them, which is what pgloader's
``skip header`` needs). An override of ``""`` for the quote or escape character means "none".

Reads files; writes nothing; imports no other csv2pg module than errors, settings, pgtypes.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import chardet

from csv2pg import pgtypes
from csv2pg.errors import DataError
from csv2pg.settings import DialectOverrides

HEAD_BYTES = 1 << 20
SNIFF_RECORDS = 500
HEADER_SNIFF_RECORDS = 50
DELIMITERS = (",", ";", "\t", "|")  # detected by field-count consistency; earlier wins ties
FALLBACK_DELIMITERS = ":^~#!$%/+ "  # offered to csv.Sniffer when none of DELIMITERS fits
CONSISTENCY_TIE = 0.1  # consistencies this close count as equal; more columns then win
CHARDET_BYTES = 1 << 16
ENCODING_HINT = 'set `encoding = "..."` (e.g. "cp1252", "latin-1", "utf-16") in its [tables.NAME] entry'

# csv's default limit is 128 KiB per field; PostgreSQL text takes far more. This is the csv
# module's process-wide knob: we only ever raise it.
FIELD_SIZE_LIMIT = 1 << 26  # 64 MiB: bounds the damage of an unbalanced quote
csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))


@dataclass(frozen=True)
class Dialect:
    """How to read one CSV file: the ``dialect`` object of sample.json."""

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


# --- encoding ------------------------------------------------------------------------------

def canonical_encoding(name: str) -> str:
    """Python's canonical spelling of a codec name ("latin-1" for ISO-8859-1); LookupError."""
    canonical = codecs.lookup(name).name
    return "latin-1" if canonical == "iso8859-1" else canonical


def _decodes(data: bytes, encoding: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(head: bytes) -> bool:
    """UTF-8 with a few corrupt bytes: then reading fails at the bad line with a clear message."""
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for c in text if ord(c) > 127) - bad
    return good > 0 and good >= 2 * bad


def _western(head: bytes) -> str:
    """cp1252 when the bytes 0x80-0x9F occur and cp1252 maps them all, else latin-1."""
    if any(0x80 <= b <= 0x9F for b in head) and _decodes(head, "cp1252", final=True):
        return "cp1252"
    return "latin-1"


def _chardet_input(head: bytes) -> bytes:
    """The lines with non-ASCII bytes (what decides the encoding), capped for speed."""
    lines = [line for line in head.splitlines(keepends=True) if not line.isascii()]
    return b"".join(lines)[:CHARDET_BYTES] or head[:CHARDET_BYTES]


# What Western European text decoded as cp1252/latin-1 contains besides ASCII: letters and
# common punctuation. Superscripts, ¥, ¯ and the like are what other code pages' letters
# (Polish ł, ą, Ż…) turn into, so they are not here.
_WESTERN_LETTERS = frozenset(
    chr(c) for c in range(0xC0, 0x100) if chr(c) not in "×÷") | frozenset("ŒœŠšŽž")
_WESTERN_PUNCTUATION = frozenset("\xa0¡¿«»°·§©®™€£–—‘’‚“”„…•")


def plausible_western(text: str) -> bool:
    """Whether ``text`` reads like Western European prose and data, not like mojibake.

    Every non-ASCII character is a Latin letter or common punctuation, and accented letters
    mostly stand alone (Greek or Cyrillic read as cp1252 gives runs of them).
    """
    letters = runs = 0
    previous = " "
    for char in text:
        if not char.isascii():
            if char in _WESTERN_LETTERS:
                letters += 1
                runs += previous in _WESTERN_LETTERS
            elif char not in _WESTERN_PUNCTUATION:
                return False
        previous = char
    return runs <= 0.25 * letters


def detect_encoding(head: bytes, complete: bool) -> str | None:
    """The codec to read a file starting with ``head`` (all of it when ``complete``), or None.

    BOMs first, then UTF-8 (strict, or with a few corrupt bytes that reading then reports
    by line), then cp1252/latin-1 when that reads like Western European text (chardet is
    unreliable on short, mostly-ASCII samples: it names ISO-8859-3 or cp852 for plain
    French), then chardet's guess when it decodes the sample; cp1252/latin-1 again when
    chardet guesses a Western or UTF encoding that does not read the sample.
    """
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _decodes(head, "utf-8", final=complete) or _mostly_utf8(head):
        return "utf-8"
    western = _western(head)
    if plausible_western(head.decode(western, errors="replace")):
        return western
    guess = chardet.detect(_chardet_input(head)).get("encoding")
    try:
        codec = canonical_encoding(str(guess)) if guess else None
    except LookupError:
        codec = None
    if codec is None:
        return None
    if codec in ("ascii", "latin-1", "cp1252") or codec.startswith("utf-"):
        return western
    return codec if _decodes(head, codec, final=complete) else western


def _count_line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _decode_error(path: Path, encoding: str, exc: UnicodeDecodeError,
                  breaks_before: int = 0, last: str = "") -> DataError:
    """A DataError for ``exc``; ``breaks_before`` line breaks (text ending in ``last``) came first."""
    prefix = last + exc.object[:exc.start].decode(exc.encoding, errors="replace")
    line = 1 + breaks_before + _count_line_breaks(prefix) - _count_line_breaks(last)
    bad = bytes(exc.object[exc.start:exc.end])
    return DataError(f"the file is not valid {encoding}: cannot decode the bytes {bad!r}",
                     path=path, line=line, hint=f"fix those bytes, or {ENCODING_HINT}")


def locate_decode_error(path: Path, encoding: str) -> DataError:
    """Scan ``path`` for its first undecodable bytes and describe them (an error path only)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    breaks, last = 0, ""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(1 << 16)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return _decode_error(path, encoding, exc, breaks, last)
            # A "\r" ending one block and a "\n" starting the next are one line break.
            breaks += _count_line_breaks(last + text) - _count_line_breaks(last)
            last = text[-1:] or last
            if not block:
                break
    return DataError(f"the file is not valid {encoding}", path=path, hint=ENCODING_HINT)


# --- reading records ---------------------------------------------------------------------

def _reader_options(quotechar: str | None, escapechar: str | None, delimiter: str) -> dict[str, Any]:
    if quotechar is None:
        return {"delimiter": delimiter, "quoting": csv.QUOTE_NONE, "escapechar": escapechar}
    return {"delimiter": delimiter, "quotechar": quotechar, "doublequote": True,
            "escapechar": escapechar, "strict": False}


def _numbered(reader: Any, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of each non-blank record; parse errors as DataError."""
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"cannot parse the record that starts here: {exc}", path=path,
                            line=start,
                            hint="check for an unbalanced quote there, or set quotechar/escapechar/delimiter in its [tables.NAME] entry") from None
        if fields:
            yield start, fields


def _open_text(path: Path, dialect: Dialect) -> IO[str]:
    return open(path, encoding=dialect.encoding, errors="strict", newline="")


def _records_of(handle: IO[str], path: Path, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    options = _reader_options(dialect.quotechar, dialect.escapechar, dialect.delimiter)
    try:
        yield from _numbered(csv.reader(handle, **options), path)
    except UnicodeDecodeError:
        raise locate_decode_error(path, dialect.encoding) from None


def read_header(path: Path, dialect: Dialect) -> list[str]:
    """The first record's fields, or ``column_1..column_n`` when the file has no header."""
    with _open_text(path, dialect) as handle:
        first = next(_records_of(handle, path, dialect), None)
    if first is None:
        raise DataError("the file has no records", path=path,
                        hint="a table needs at least a header line")
    fields = first[1]
    if dialect.has_header:
        return fields
    return [f"column_{i}" for i in range(1, len(fields) + 1)]


def open_records(path: Path, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """The data records (header skipped) as (physical 1-based start line, fields)."""
    with _open_text(path, dialect) as handle:
        records = _records_of(handle, path, dialect)
        if dialect.has_header:
            next(records, None)
        yield from records


# --- sniffing ----------------------------------------------------------------------------

def _parse(text: str, delimiter: str, quotechar: str | None, escapechar: str | None,
           limit: int = SNIFF_RECORDS) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""),
                        **_reader_options(quotechar, escapechar, delimiter))
    records: list[list[str]] = []
    for fields in reader:
        if fields:
            records.append(fields)
            if len(records) >= limit:
                break
    return records


def field_count_score(records: list[list[str]]) -> tuple[float, int]:
    """(share of records with the most common field count, that count; larger on ties)."""
    if not records:
        return (0.0, 0)
    counts = Counter(len(r) for r in records)
    modal, hits = max(counts.items(), key=lambda item: (item[1], item[0]))
    return (hits / len(records), modal)


def choose_delimiter(scores: Mapping[str, tuple[float, int]]) -> str | None:
    """The delimiter whose records agree best on a field count of at least 2.

    Consistencies within CONSISTENCY_TIE of the best are a tie, broken by more columns,
    then by the order of ``scores``.
    """
    usable = {d: s for d, s in scores.items() if s[1] >= 2}
    if not usable:
        return None
    best = max(consistency for consistency, _ in usable.values())
    tied = [d for d, (consistency, _) in usable.items() if consistency >= best - CONSISTENCY_TIE]
    return max(tied, key=lambda d: (usable[d][1], -list(scores).index(d)))


def _quoted_fields(text: str, quote: str) -> int:
    q = re.escape(quote)
    pattern = rf"(?:^|[,;|\t:])[ ]?{q}[^{q}\r\n]*{q}[ ]?(?=[,;|\t:\r\n]|$)"
    return len(re.findall(pattern, text, flags=re.MULTILINE))


def detect_quotechar(text: str) -> str:
    """``'`` when fields are quoted with it and never with ``"``; else ``"``."""
    if _quoted_fields(text, "'") > 0 and _quoted_fields(text, '"') == 0:
        return "'"
    return '"'


def detect_escapechar(text: str, delimiter: str, quotechar: str | None) -> str | None:
    """``\\`` when quotes inside quoted fields are backslash-escaped rather than doubled."""
    if quotechar is None or "\\" + quotechar not in text:
        return None
    q, d = re.escape(quotechar), re.escape(delimiter)
    plain = field_count_score(_parse(text, delimiter, quotechar, None))
    escaped = field_count_score(_parse(text, delimiter, quotechar, "\\"))
    mid_field = re.search(rf"\\{q}[^{d}{q}\r\n]", text) is not None
    doubled = re.search(rf"[^\\{d}\r\n]{q}{q}", text) is not None
    if escaped > plain or (escaped == plain and mid_field and not doubled):
        return "\\"
    return None


def detect_line_terminator(text: str) -> str:
    crlf = text.count("\r\n")
    counts = {"\n": text.count("\n") - crlf, "\r\n": crlf, "\r": text.count("\r") - crlf}
    return max(counts, key=lambda k: counts[k])  # ties: the order above


def _kind(value: str) -> str:
    """A coarse kind of a field for header detection: empty, number, date or text."""
    if not value.strip():
        return "empty"
    if any(c.isdigit() for c in value) and pgtypes.parse_numeric(value):
        return "number"
    if pgtypes.parse_timestamp(value) or pgtypes.parse_timestamptz(value):
        return "date"
    return "text"


def _is_year(value: str) -> bool:
    return pgtypes.parse_smallint(value) and 1800 <= int(value) <= 2100


def looks_like_header(records: list[list[str]]) -> bool:
    """Whether the first record is a header, judged against the records after it.

    No header only when the first record has a number or date in a column where the later
    records have the same kind too, no column has a text first value over numbers or dates
    below it (the usual header signature), and the numbers are not year column names.
    """
    if len(records) < 2:
        return True
    first, rest = records[0], records[1:HEADER_SNIFF_RECORDS + 1]
    data_like = header_like = 0
    year_names = True
    for i, value in enumerate(first):
        below = [_kind(r[i]) for r in rest if i < len(r) and r[i].strip()]
        if not below:
            continue
        kind, hits = Counter(below).most_common(1)[0]
        if kind == "text" or hits < 0.9 * len(below):
            continue
        mine = _kind(value)
        if mine == "text":
            header_like += 1
        elif mine == kind:
            data_like += 1
            year_names = year_names and _is_year(value) and not all(
                _is_year(r[i]) for r in rest if i < len(r) and r[i].strip())
    return header_like > 0 or data_like == 0 or year_names


def _sniffer_dialect(text: str) -> tuple[str, str] | None:
    """(delimiter, quotechar) from csv.Sniffer among FALLBACK_DELIMITERS, if it is convincing."""
    try:
        sniffed = csv.Sniffer().sniff(text[:CHARDET_BYTES], delimiters=FALLBACK_DELIMITERS)
    except csv.Error:
        return None
    quote = sniffed.quotechar or '"'
    consistency, modal = field_count_score(_parse(text, sniffed.delimiter, quote, None))
    # A space splits plain prose too: demand more evidence for it.
    need = (0.95, 3) if sniffed.delimiter == " " else (0.9, 2)
    if consistency >= need[0] and modal >= need[1]:
        return sniffed.delimiter, quote
    return None


def _read_head(path: Path) -> tuple[bytes, bool]:
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        complete = len(head) < HEAD_BYTES or not handle.read(1)
    return head, complete


def _head_text(path: Path, head: bytes, encoding: str, complete: bool) -> str:
    """The decoded head; when the file goes on, without its last (maybe partial) line."""
    try:
        text = codecs.getincrementaldecoder(encoding)("strict").decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, encoding, exc) from None
    if not complete:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[:cut + 1] if cut > 0 else text
    return text.lstrip("\ufeff")


def _encoding(path: Path, head: bytes, complete: bool, override: str | None) -> str:
    if override:
        try:
            encoding = canonical_encoding(override)
        except LookupError:
            raise DataError(f"unknown encoding {override!r}", path=path,
                            hint="use a Python codec name such as utf-8, cp1252, latin-1, utf-16") from None
        # A BOM read as utf-8 would end up in the first column's name.
        return "utf-8-sig" if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8) else encoding
    detected = detect_encoding(head, complete)
    if detected is None:
        raise DataError("cannot tell the file's encoding; it may not be text", path=path,
                        hint=ENCODING_HINT)
    return detected


def _override_char(value: str | None, detected: str | None) -> str | None:
    if value is None:
        return detected
    return value or None


def _header_lines(text: str, delimiter: str, quotechar: str | None, escapechar: str | None) -> int:
    reader = csv.reader(io.StringIO(text, newline=""),
                        **_reader_options(quotechar, escapechar, delimiter))
    for fields in reader:
        if fields:
            return int(reader.line_num)
    return 0


def detect_dialect(path: Path, overrides: DialectOverrides) -> Dialect:
    """Detect how to read ``path`` from its first HEAD_BYTES; ``overrides`` win."""
    head, complete = _read_head(path)
    if not head:
        raise DataError("the file is empty", path=path, hint="a table needs at least a header line")
    encoding = _encoding(path, head, complete, overrides.encoding)
    text = _head_text(path, head, encoding, complete)
    if not text.strip():
        raise DataError("the file has no records, only blank lines", path=path,
                        hint="a table needs at least a header line")
    quotechar = _override_char(overrides.quotechar, detect_quotechar(text))
    delimiter = overrides.delimiter
    if not delimiter:
        scores = {d: field_count_score(_parse(text, d, quotechar, None)) for d in DELIMITERS}
        delimiter = choose_delimiter(scores)
        if delimiter is None:
            sniffed = _sniffer_dialect(text)
            delimiter, sniffed_quote = sniffed or (",", '"')
            quotechar = _override_char(overrides.quotechar, sniffed_quote)
    escapechar = _override_char(overrides.escapechar,
                                detect_escapechar(text, delimiter, quotechar))
    if overrides.header is not None:
        has_header = overrides.header
    else:
        sample = _parse(text, delimiter, quotechar, escapechar, HEADER_SNIFF_RECORDS + 1)
        has_header = looks_like_header(sample)
    return Dialect(
        encoding=encoding, delimiter=delimiter, quotechar=quotechar, escapechar=escapechar,
        has_header=has_header,
        header_lines=_header_lines(text, delimiter, quotechar, escapechar) if has_header else 0,
        line_terminator=detect_line_terminator(text),
    )
