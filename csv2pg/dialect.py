"""CSV dialect detection: delimiter, quoting, header, comments, preamble, footer.

``detect_dialect(path, overrides)`` reads a bounded sample of the file (the first
``HEAD_BYTES``; for a large plain file also ``SAMPLE_CHUNKS`` chunks spread through it and
its last ``TAIL_BYTES``) and returns a frozen ``Dialect``; every field the user set in
``overrides`` wins over detection. It never reads the whole file: the profile does that.
An override of ``""`` for the quote, escape or comment character means "none".

The ``Dialect`` and the record reader (``read_header``, ``open_records``) live in
``records.py``, the encoding guess in ``encodings.py``; both are re-exported here. Reads
files; writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import re
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from csv2pg import pgtypes
from csv2pg.encodings import (
    CHARDET_BYTES,
    ENCODING_HINT,
    bom_encoding,
    canonical_encoding,
    decode_error,
    detect_encoding,
)
from csv2pg.errors import DataError
from csv2pg.records import (
    FIELD_SIZE_LIMIT,
    LINE_BREAK,
    Dialect,
    LineSource,
    Record,
    open_records,
    parse_records,
    read_header,
    reader_options,
)
from csv2pg.settings import DialectOverrides
from csv2pg.sources import is_compressed, open_binary, read_checked

__all__ = ["FIELD_SIZE_LIMIT", "Dialect", "detect_dialect", "detect_encoding", "open_records", "read_header"]



HEAD_BYTES = 1 << 20
SAMPLE_CHUNKS = 8            # chunks read at offsets spread through a file larger than the head
CHUNK_BYTES = 1 << 15
TAIL_BYTES = 1 << 16         # where the footer is looked for when the head is not the whole file
SNIFF_RECORDS = 500
HEADER_SNIFF_RECORDS = 50
MAX_PREAMBLE_RECORDS = 20
MAX_FOOTER_RECORDS = 20
DELIMITERS = (",", ";", "\t", "|")  # detected by field-count consistency; earlier wins ties
FALLBACK_DELIMITERS = ":^~#!$%/+ "  # offered to csv.Sniffer when none of DELIMITERS fits
COMMENT_CHARS = "#"
WEAK_CONSISTENCY = 0.5  # below this a common delimiter yields to quote-separating ones
CONSISTENCY_TIE = 0.1  # consistencies this close count as equal; more columns then win

# --- sniffing ----------------------------------------------------------------------------

def split_lines(text: str) -> list[str]:
    """``text``'s physical lines with their endings (LF, CRLF or CR alone)."""
    lines, start = [], 0
    for match in LINE_BREAK.finditer(text):
        lines.append(text[start:match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def _sniff_records(lines: list[str], delimiter: str, quotechar: str | None,
                   escapechar: str | None, comment: str | None = None, skip: int = 0,
                   limit: int | None = None) -> list[Record]:
    source = LineSource(lines, comment, skip)
    records: list[Record] = []
    for record in parse_records(source, reader_options(quotechar, escapechar, delimiter), None):
        records.append(record)
        if limit is not None and len(records) >= limit:
            break
    return records


def _fields(text: str, delimiter: str, quotechar: str | None, escapechar: str | None,
            limit: int = SNIFF_RECORDS) -> list[list[str]]:
    return [r.fields for r in _sniff_records(split_lines(text), delimiter, quotechar,
                                             escapechar, limit=limit)]


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


_FIELD_START = r"(?:^|[,;|\t:+%^~!/ ])[ ]?"
_FIELD_END = r"[ ]?(?=[,;|\t:+%^~!/\r\n]|$|{q})"  # or a space, then the next quoted field
QUOTE_SNIFF_CHARS = 1 << 18


def _quote_evidence(text: str, quote: str) -> tuple[int, int]:
    """(fields properly quoted with ``quote``, other fields that start with it) in ``text``."""
    q = re.escape(quote)
    proper = re.compile(rf"{_FIELD_START}{q}(?:[^{q}\\]|{q}{q}|\\.)*{q}"
                        + _FIELD_END.format(q=q),
                        flags=re.MULTILINE)
    rest, found = proper.subn("\0", text)
    return found, len(re.findall(rf"{_FIELD_START}{q}", rest, flags=re.MULTILINE))


def detect_quotechar(text: str) -> str | None:
    """The quote character: ``"`` unless fields are quoted with ``'`` and never with ``"``.

    None (no quoting) when ``"`` occurs at the start of fields but mostly not as a quoted
    field: values that merely start with a literal quote (``"Swing it" magistern``) must
    keep it.
    """
    text = text[:QUOTE_SNIFF_CHARS]
    proper, stray = _quote_evidence(text, '"')
    single, single_stray = _quote_evidence(text, "'")
    if single > single_stray and proper == 0:
        return "'"
    if stray > proper:
        return None
    return '"'


def detect_escapechar(text: str, delimiter: str, quotechar: str | None) -> str | None:
    """``\\`` when quotes inside quoted fields are backslash-escaped rather than doubled."""
    if quotechar is None or "\\" + quotechar not in text:
        return None
    q, d = re.escape(quotechar), re.escape(delimiter)
    plain = field_count_score(_fields(text, delimiter, quotechar, None))
    escaped = field_count_score(_fields(text, delimiter, quotechar, "\\"))
    mid_field = re.search(rf"\\{q}[^{d}{q}\r\n]", text) is not None
    doubled = re.search(rf"[^\\{d}\r\n]{q}{q}", text) is not None
    if escaped > plain or (escaped == plain and mid_field and not doubled):
        return "\\"
    return None


def detect_line_terminator(text: str) -> str:
    """The most common line ending (a file may mix them; readers accept all three)."""
    crlf = text.count("\r\n")
    counts = {"\n": text.count("\n") - crlf, "\r\n": crlf, "\r": text.count("\r") - crlf}
    return max(counts, key=lambda k: counts[k])  # ties: the order above


_SHORT_DATE = re.compile(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")


def _kind(value: str) -> str:
    """A coarse kind of a field for header detection: empty, number, date or text."""
    value = value.strip()
    if not value:
        return "empty"
    if any(c.isdigit() for c in value) and pgtypes.parse_numeric(value):
        return "number"
    if (pgtypes.parse_timestamp(value) or pgtypes.parse_timestamptz(value)
            or _SHORT_DATE.fullmatch(value)):
        return "date"
    return "text"


def _is_year(value: str) -> bool:
    return pgtypes.parse_smallint(value) and 1800 <= int(value) <= 2100


def looks_like_header(records: list[list[str]]) -> bool:
    """Whether the first record is a header, judged against the records after it.

    No header only when the first record has a number or date in a column where the later
    records have the same kind too, no column has a text first value over numbers or dates
    below it (the usual header signature), and the numbers are not year column names. A
    lone record is a header unless all its values are numbers or dates.
    """
    if len(records) < 2:
        kinds = {_kind(v) for v in records[0]} - {"empty"} if records else set()
        return not kinds or not kinds <= {"number", "date"}
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
    consistency, modal = field_count_score(_fields(text, sniffed.delimiter, quote, None))
    # A space splits plain prose too: demand more evidence for it.
    need = (0.95, 3) if sniffed.delimiter == " " else (0.9, 2)
    if consistency >= need[0] and modal >= need[1]:
        return sniffed.delimiter, quote
    return None


def _between_quotes(text: str, quotechar: str | None) -> str | None:
    """A FALLBACK_DELIMITERS character found between quoted fields on most lines."""
    if quotechar is None:
        return None
    lines = [line for line in split_lines(text[:CHARDET_BYTES]) if line.strip()]
    best, hits = None, 0
    for candidate in FALLBACK_DELIMITERS:
        found = sum(quotechar + candidate + quotechar in line for line in lines)
        if found > hits:
            best, hits = candidate, found
    return best if lines and hits >= 0.5 * len(lines) else None


def detect_delimiter(text: str, quotechar: str | None) -> tuple[str, str | None]:
    """(delimiter, quotechar): a common delimiter whose records agree on a field count; one
    that separates quoted fields on most lines (a space between quoted values that also
    occurs inside unquoted ones); a weakly consistent common one; csv.Sniffer's among
    unusual ones; "," when nothing fits."""
    scores = {d: field_count_score(_fields(text, d, quotechar, None)) for d in DELIMITERS}
    chosen = choose_delimiter(scores)
    if chosen is not None and scores[chosen][0] >= WEAK_CONSISTENCY:
        return chosen, quotechar
    between = _between_quotes(text, quotechar)
    if between is not None:
        return between, quotechar
    if chosen is not None:
        return chosen, quotechar
    sniffed = _sniffer_dialect(text)
    if sniffed is not None:
        return sniffed[0], sniffed[1] if quotechar is not None else None
    return ",", quotechar


def detect_comment(lines: list[str], delimiter: str, quotechar: str | None,
                   escapechar: str | None) -> str | None:
    """A COMMENT_CHARS character when lines starting with it do not fit the table.

    A header that merely starts with ``#`` (``#,name,qty``) has the records' field count;
    comment lines (``# exported 2024-01-01``) do not, or there are several of them.
    """
    for char in COMMENT_CHARS:
        marked = [line for line in lines if line.startswith(char)]
        rest = [line for line in lines if not line.startswith(char)]
        if not marked or not any(line.strip() for line in rest):
            continue
        _, modal = field_count_score(
            [r.fields for r in _sniff_records(rest, delimiter, quotechar, escapechar,
                                              limit=SNIFF_RECORDS)])
        widths = [len(r.fields) for line in marked
                  for r in _sniff_records([line], delimiter, quotechar, escapechar, limit=1)]
        if (modal >= 2 and any(w != modal for w in widths)) or (modal < 2 and len(marked) > 1):
            return char
    return None


def _nonempty(fields: list[str]) -> list[str]:
    return [f for f in fields if f.strip()]


def is_note(fields: list[str], modal: int, typical: float) -> bool:
    """Whether a record before or after the table is a title, note or total, not data.

    In a table of ``modal`` fields where records typically have ``typical`` non-empty
    values: an empty separator row, a line with one text value ("Source: ...", "####"), or
    a short line led by text ("Total,1234" in a wider table).
    """
    if modal < 2:
        return False
    values = _nonempty(fields)
    if not values:
        return typical >= 3
    if _kind(values[0]) != "text":
        return False
    if len(values) == 1 and typical >= 3:
        return True
    return len(fields) < modal and len(values) <= modal / 2


def _shape(records: list[Record]) -> tuple[int, float]:
    """(modal field count, median count of non-empty values) of ``records``."""
    if not records:
        return 0, 0.0
    _, modal = field_count_score([r.fields for r in records])
    return modal, float(statistics.median(len(_nonempty(r.fields)) for r in records))


def detect_preamble(records: list[Record]) -> int:
    """How many leading records are titles or notes before the table (at most 20)."""
    modal, typical = _shape(records)
    count = 0
    while (count < min(MAX_PREAMBLE_RECORDS, len(records) - 1)
           and is_note(records[count].fields, modal, typical)):
        count += 1
    return count


def detect_footer(records: list[Record], modal: int, typical: float, keep: int = 1) -> int:
    """How many trailing records are notes after the table (at most 20), leaving ``keep``."""
    count = 0
    while (count < min(MAX_FOOTER_RECORDS, len(records) - keep)
           and is_note(records[-1 - count].fields, modal, typical)):
        count += 1
    return count


# --- the sample and the detection ----------------------------------------------------------

@dataclass(frozen=True)
class _Sample:
    head: bytes            # the first HEAD_BYTES (decompressed)
    complete: bool         # the head is the whole file
    chunks: tuple[bytes, ...] = ()   # whole lines from offsets spread through a large file
    tail: bytes = b""      # the last TAIL_BYTES of a large plain file
    tail_offset: int = 0   # where the tail starts in the file


def _whole_lines(block: bytes) -> bytes:
    """``block`` without its first and last (maybe partial) lines."""
    first = min((i for i in (block.find(b"\n"), block.find(b"\r")) if i >= 0), default=-1)
    last = max(block.rfind(b"\n"), block.rfind(b"\r"))
    return block[first + 1:last + 1] if 0 <= first < last else b""


def _read_sample(path: Path) -> _Sample:
    """The head; for a plain file larger than it, chunks through the file and its tail."""
    with open_binary(path) as handle:
        head = read_checked(path, handle, HEAD_BYTES)
        complete = len(head) < HEAD_BYTES or not read_checked(path, handle, 1)
    if complete or is_compressed(path):
        return _Sample(head, complete)
    size = path.stat().st_size
    chunks = []
    with open(path, "rb") as handle:
        span = max(0, size - HEAD_BYTES - CHUNK_BYTES)
        for i in range(1, SAMPLE_CHUNKS + 1):
            handle.seek(HEAD_BYTES + span * i // SAMPLE_CHUNKS)
            chunks.append(_whole_lines(handle.read(CHUNK_BYTES)))
        tail_offset = max(0, size - TAIL_BYTES)
        handle.seek(tail_offset)
        tail = handle.read()
    return _Sample(head, complete, tuple(chunks), tail, tail_offset)


def _probe(sample: _Sample) -> tuple[bytes, bool]:
    """The bytes that decide the encoding (head and chunks, whole lines), and if complete."""
    if not sample.chunks:
        return sample.head, sample.complete
    head = sample.head
    cut = max(head.rfind(b"\n"), head.rfind(b"\r"))
    complete = cut > 0
    return (head[:cut + 1] if complete else head) + b"".join(sample.chunks), complete


def _head_text(path: Path, head: bytes, encoding: str, complete: bool) -> str:
    """The decoded head; when the file goes on, without its last (maybe partial) line."""
    try:
        text = codecs.getincrementaldecoder(encoding)("strict").decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise decode_error(path, encoding, exc) from None
    if not complete:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[:cut + 1] if cut > 0 else text
    return text.removeprefix("\ufeff")


def _tail_lines(sample: _Sample, encoding: str) -> list[str]:
    """The tail's whole lines, decoded leniently (it only serves to find the footer)."""
    unit = {"utf-16-le": 2, "utf-16-be": 2, "utf-32-le": 4, "utf-32-be": 4}.get(encoding, 1)
    data = sample.tail[(-sample.tail_offset) % unit:]
    text = data.decode("utf-8" if encoding == "utf-8-sig" else encoding, errors="replace")
    return split_lines(text)[1:]


def _encoding(path: Path, sample: _Sample, override: str | None) -> str:
    if override:
        try:
            encoding = canonical_encoding(override)
        except LookupError:
            raise DataError(f"unknown encoding {override!r}", path=path,
                            hint="use a Python codec name such as utf-8, cp1252, latin-1, utf-16-le") from None
        # A BOM read as utf-8 would end up in the first column's name.
        if encoding == "utf-8" and sample.head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        return encoding
    bom = bom_encoding(sample.head)
    detected = bom or detect_encoding(*_probe(sample))
    if detected is None:
        raise DataError("cannot tell the file's encoding; it may not be text", path=path,
                        hint=ENCODING_HINT)
    return detected


def _override_char(value: str | None, detected: str | None) -> str | None:
    if value is None:
        return detected
    return value or None


@dataclass(frozen=True)
class _Structure:
    has_header: bool
    header_lines: int
    preamble_lines: int
    footer_lines: int


def _structure(lines: list[str], sample: _Sample, encoding: str, options: tuple[str, str | None, str | None],
               comment: str | None, overrides: DialectOverrides) -> _Structure:
    """Header, preamble and footer of the table in ``lines`` (the head's physical lines)."""
    delimiter, quotechar, escapechar = options
    skip = overrides.skip_lines or 0
    records = _sniff_records(lines, delimiter, quotechar, escapechar, comment, skip)
    preamble = 0
    if overrides.skip_lines is None and records:
        notes = detect_preamble(records)
        if notes:
            preamble = records[notes].start - 1
            records = records[notes:]
    else:
        preamble = skip
    modal, typical = _shape(records)
    footer = 0
    if overrides.footer_lines is not None:
        footer = overrides.footer_lines
        records = [r for r in records if r.start <= len(lines) - footer] if sample.complete else records
    elif sample.complete and records:
        notes = detect_footer(records, modal, typical, keep=2 if len(records) > 2 else len(records))
        if notes:
            footer = len(lines) - records[-1 - notes].end
            records = records[:-notes]
    elif sample.tail:
        tail = _tail_lines(sample, encoding)
        tail_records = _sniff_records(tail, delimiter, quotechar, escapechar, comment)
        notes = detect_footer(tail_records, modal, typical)
        if notes:
            footer = len(tail) - tail_records[-1 - notes].end
    if overrides.header is not None:
        has_header = overrides.header
    else:
        has_header = looks_like_header([r.fields for r in records[:HEADER_SNIFF_RECORDS + 1]])
    header_lines = records[0].end if has_header and records else preamble
    return _Structure(has_header, header_lines, preamble, footer)


def detect_dialect(path: Path, overrides: DialectOverrides) -> Dialect:
    """Detect how to read ``path`` from a bounded sample; ``overrides`` win."""
    sample = _read_sample(path)
    if not sample.head:
        raise DataError("the file is empty", path=path, hint="a table needs at least a header line")
    encoding = _encoding(path, sample, overrides.encoding)
    text = _head_text(path, sample.head, encoding, sample.complete)
    if not text.strip():
        raise DataError("the file has no records, only blank lines", path=path,
                        hint="a table needs at least a header line")
    lines = split_lines(text)
    candidates = [c for c in COMMENT_CHARS if overrides.comment is None
                  and any(line.startswith(c) for line in lines)]
    forced_comment = overrides.comment or None
    sniff_lines = lines[overrides.skip_lines or 0:]
    sniff_lines = [line for line in sniff_lines
                   if not line.startswith(tuple(candidates) or (forced_comment or "\0",))]
    sniff_text = "".join(sniff_lines) or text
    quotechar = _override_char(overrides.quotechar, detect_quotechar(sniff_text))
    delimiter = overrides.delimiter
    if not delimiter:
        delimiter, detected_quote = detect_delimiter(sniff_text, quotechar)
        quotechar = _override_char(overrides.quotechar, detected_quote)
    escapechar = _override_char(overrides.escapechar,
                                detect_escapechar(sniff_text, delimiter, quotechar))
    if overrides.comment is not None:
        comment = forced_comment
    else:
        comment = detect_comment(lines[overrides.skip_lines or 0:], delimiter, quotechar,
                                 escapechar) if candidates else None
    structure = _structure(lines, sample, encoding, (delimiter, quotechar, escapechar), comment,
                           overrides)
    return Dialect(
        encoding=encoding, delimiter=delimiter, quotechar=quotechar, escapechar=escapechar,
        has_header=structure.has_header, header_lines=structure.header_lines,
        line_terminator=detect_line_terminator(text), comment=comment,
        preamble_lines=structure.preamble_lines, footer_lines=structure.footer_lines,
    )

