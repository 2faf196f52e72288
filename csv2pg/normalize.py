"""What pgloader 3.6 can read directly, and a plain UTF-8 copy of the source when it cannot.

pgloader 3.6 reads one uncompressed file whose lines end with LF (or CRLF), in an encoding
it knows, with a header of known physical length, and quoting it understands (``""`` or
``\\"``, quotes only at field edges). It cannot read compressed files, several files as one
table, UTF-16 without a fixed byte order, CR-only or mixed line ends, comment lines,
preamble or footer lines, other backslash escapes, or quotes in the middle of a field
(tech.md 3; it loads 0 rows or stops mid-file with exit status 0).

- ``needs_normalizing(dialect, files)``: why the source must be normalized first, or None.
  The reason names no path (it is written into the ``.load`` file).
- ``write_normalized(files, dialect, out_path)``: every data record of every file, read
  exactly as the profile reads them (``dialect.open_records``), written atomically to
  ``out_path`` as UTF-8, LF, comma-separated, RFC 4180 quoting, no header; the number of
  records. Beside it, ``<out_path>.lines`` maps record number → (file, physical line), so
  a rejected row can still be traced to its source line (``source_line``): 8 bytes a record
  on disk, bounded memory.

Reads CSV files, writes only ``out_path`` and its sidecar; imports dialect, errors.
"""

from __future__ import annotations

import array
import codecs
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from csv2pg import dialect as dialect_module
from csv2pg import sources
from csv2pg.dialect import Dialect
from csv2pg.errors import DataError
from csv2pg.transforms import RowTransform

SCAN_BLOCK = 1 << 20
FLUSH_RECORDS = 1 << 16
LINE_BITS = 40            # a sidecar entry: file index << LINE_BITS | physical line
SIDECAR_SUFFIX = ".lines"
# The .load file line that says pgloader reads the normalized copy (render writes it, the
# importer looks for it): the .load file is the record of how a table is loaded.
NORMALIZED_MARKER = "-- csv2pg normalizes the source first"
FILES_SUFFIX = ".files.json"

# Python codec (codecs.lookup(...).name) → pgloader encoding name (`pgloader --list-encodings`).
_ENCODINGS = {
    "utf-8": "utf-8", "utf-8-sig": "utf-8", "ascii": "utf-8",
    "utf-16-le": "utf-16le", "utf-16-be": "utf-16be",
    "utf-32-le": "utf-32le", "utf-32-be": "utf-32be",
    "cp1252": "windows-1252", "latin-1": "latin1", "iso8859-1": "latin1",
    "iso8859-15": "latin9", "mac-roman": "mac-roman", "mac-cyrillic": "x-mac-cyrillic",
    "koi8-r": "koi8-r", "koi8-u": "koi8-u", "shift_jis": "shift_jis", "cp932": "cp932",
    "euc_jp": "euc-jp", "gbk": "gbk", "cp936": "cp936", "cp037": "cp037",
}
# Encodings csv2pg re-encodes even though pgloader names them: its line splitting and the
# byte-order mark of multi-byte Unicode encodings were not verified (issue 3).
_REENCODED = {"utf-16", "utf-32", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"}


def pgloader_encoding(python_codec: str) -> str:
    """The pgloader name of a Python codec, or DataError when pgloader cannot read it."""
    try:
        name = codecs.lookup(python_codec).name
    except LookupError:
        raise DataError(f"unknown encoding {python_codec!r}",
                        hint="set encoding to a Python codec name, e.g. utf-8 or cp1252") from None
    if name in _ENCODINGS:
        return _ENCODINGS[name]
    if re.fullmatch(r"cp(437|85[0257]|86[0-69]|874|125[0-8])", name):
        return name
    if re.fullmatch(r"iso8859-([2-9]|1[013-4])", name):
        return name.replace("iso8859", "iso-8859")
    if name in ("utf-16", "utf-32"):
        le, be = ("FF FE", "FE FF") if name == "utf-16" else ("FF FE 00 00", "00 00 FE FF")
        raise DataError(
            f"pgloader needs the byte order of a {name.upper()} file; {python_codec!r} leaves it "
            "to the byte-order mark", hint=f"set encoding = \"{name}-le\" (the file starts with "
            f"bytes {le}) or \"{name}-be\" ({be}) in the table's [tables.NAME] entry")
    raise DataError(f"pgloader 3.6 cannot read the encoding {python_codec!r}",
                    hint="convert the file to UTF-8, or use the built-in engine (engine = \"copy\")")


def needs_normalizing(dialect: Dialect, files: Sequence[Path], *,
                      encoding_checked: bool = False) -> str | None:
    """Why pgloader cannot read ``files`` directly with ``dialect``, or None when it can.

    Cheap checks first (file count, compression, encoding, dialect); only when those pass is
    the file scanned once for line ends and quotes pgloader would misread.
    ``encoding_checked``: every byte is known to be valid in the encoding (the profile read
    the whole file with it, and fails on a byte that is not), so an ASCII-compatible file is
    scanned without decoding it (about twice as fast).
    """
    if len(files) != 1:
        return f"the table has {len(files)} files and pgloader reads one"
    path = Path(files[0])
    compression = sources.compression(path)
    if compression is not None:
        return f"the file is {compression}-compressed"
    try:
        encoding = codecs.lookup(dialect.encoding).name
        if encoding in _REENCODED:
            return f"the file is {encoding.upper()}"
        pgloader_encoding(dialect.encoding)
    except (DataError, LookupError):
        return f"pgloader 3.6 cannot read the encoding {dialect.encoding}"
    if dialect.line_terminator == "\r":
        return "its lines end with CR alone"
    if dialect.comment:
        return f"it has comment lines (starting with {dialect.comment})"
    if dialect.preamble_lines:
        return f"it has {dialect.preamble_lines} preamble lines before the data"
    if dialect.footer_lines:
        return f"it has {dialect.footer_lines} footer lines after the data"
    if dialect.escapechar is not None:
        return f"its fields use {dialect.escapechar} as an escape character"
    if dialect.quotechar not in (None, '"'):
        # pgloader escapes any quote character only as the sequences "" or \" (tech.md 3.1).
        return f"its quote character is {dialect.quotechar}"
    raw = (encoding_checked and codecs.lookup(dialect.encoding).name in ASCII_COMPATIBLE
           and (dialect.delimiter + (dialect.quotechar or "")).isascii())
    return _scan(path, dialect, raw=raw)


# Encodings in which every ASCII byte is that character and no other character holds one.
ASCII_COMPATIBLE = {"utf-8", "utf-8-sig", "ascii", "latin-1", "iso8859-1", "iso8859-15", "cp1252"}


def _scan(path: Path, dialect: Dialect, *, raw: bool = False) -> str | None:
    """Line ends, blank lines and quotes pgloader would misread, found in one pass.

    ``raw``: the bytes read as Latin-1 (no decoding work; every check looks at ASCII
    characters only, and the bytes of other characters are never ASCII in an
    ``ASCII_COMPATIBLE`` encoding), for a file whose encoding is known to be valid.
    """
    lf = dialect.line_terminator == "\n"
    stray_cr = re.compile(r"\r(?!\n)")   # in a CRLF file
    mid_quote = None
    if dialect.quotechar is not None:
        edge = re.escape(dialect.delimiter + dialect.quotechar) + r"\r\n\ufeff"
        q = re.escape(dialect.quotechar)
        # A quote with ordinary characters on both sides: inside an unquoted value, or text
        # right after a closing quote. Quoted values only ever hold doubled quotes.
        # The quote first: a pattern that starts with a literal is scanned for it quickly;
        # one that starts with a lookbehind is tried at every position (20x slower).
        mid_quote = re.compile(rf"{q}(?<=[^{edge}]{q})(?=[^{edge}])")
    blank = re.compile(r"\n\r?\n")
    # CRLF files are rendered with pgloader's ``trim unquoted blanks`` (render.py): a value
    # with a blank at either edge (``' '`` in a number column, ``'Alice '``) would lose it, or
    # become NULL, so such files are read from the copy (LF, blanks kept) instead.
    edge_blank = quoted = None
    if dialect.line_terminator == "\r\n":
        if dialect.quotechar is not None:
            q = re.escape(dialect.quotechar)
            quoted = re.compile(rf"{q}(?:[^{q}]|{q}{q})*{q}")  # pgloader keeps these as they are
        d = re.escape(dialect.delimiter)
        blanks = re.escape("".join(c for c in " \t" if c != dialect.delimiter))
        edge_blank = re.compile(rf"(?:^|[{d}\n])[{blanks}]|[{blanks}](?=[{d}\r])",
                                flags=re.MULTILINE)
    tail = ""
    first = True
    utf8 = codecs.lookup(dialect.encoding).name in ("utf-8", "utf-8-sig")
    try:
        with (open(path, encoding="latin-1", newline="") if raw else
              open(path, encoding=dialect.encoding, errors="strict", newline="")) as handle:
            while True:
                block = handle.read(SCAN_BLOCK)
                if raw and first and utf8:
                    block = block.removeprefix(codecs.BOM_UTF8.decode("latin-1"))
                buffer = tail + block
                final = not block
                if lf:   # any CR; find is a memchr, several times faster than a regex
                    stray = buffer.find("\r")
                else:
                    match = stray_cr.search(buffer)
                    stray = match.start() if match else -1
                # Without the next block, a CR at the very end may still be a CRLF's half.
                if stray >= 0 and (final or stray < len(buffer) - 1):
                    return "its line ends are mixed (CR alone besides " + (
                        "LF)" if dialect.line_terminator == "\n" else "CRLF)")
                if mid_quote is not None and mid_quote.search(buffer):
                    return "it has quote characters in the middle of a value"
                unquoted = buffer if quoted is None else quoted.sub("", buffer)
                if edge_blank is not None and edge_blank.search(unquoted):
                    return ("its lines end with CRLF and values have blanks at their edges, "
                            "which pgloader would trim")
                # pgloader reads an empty line as a record of missing fields; the profile
                # skips it.
                if blank.search(buffer) or (first and buffer.lstrip("\ufeff")[:1] in ("\n", "\r")):
                    return "it has blank lines"
                if final:
                    return None
                tail, first = buffer[-3:], False
    except UnicodeDecodeError:
        return f"it has bytes that are not valid {dialect.encoding}"
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror}", path=path) from None


def _field(value: str) -> str:
    """One field in RFC 4180 quoting; empty stays unquoted (pgloader reads it as NULL)."""
    if value == "" or not any(c in value for c in ',"\r\n'):
        return value
    return '"' + value.replace('"', '""') + '"'


def _record_line(fields: list[str]) -> str:
    if len(fields) == 1 and fields[0] == "":
        return '""\n'   # an empty line would be no record at all
    return ",".join(_field(f) for f in fields) + "\n"


def _records(path: Path, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """The data records as the profile reads them, minus comment lines in case the reader
    does not drop them itself yet."""
    comment = dialect.comment
    for line, fields in dialect_module.open_records(path, dialect):
        if comment and fields and fields[0].startswith(comment):
            continue
        yield line, fields


def write_normalized(files: Sequence[Path], dialect: Dialect, out_path: Path, *,
                     transform: RowTransform | None = None, skip_records: int = 0) -> int:
    """Write every data record of ``files`` to ``out_path`` (UTF-8, LF, ``,``, ``"``, no
    header) and the line map beside it; the number of records. ``transform``
    (``transforms.row_transformer``) rewrites each record's fields first; the first
    ``skip_records`` records are left out (``mode = "append"``: loaded before)."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sidecar = sidecar_path(out_path)
    tmp_out = out_path.with_name(out_path.name + ".tmp")
    tmp_lines = sidecar.with_name(sidecar.name + ".tmp")
    count = 0
    try:
        with open(tmp_out, "w", encoding="utf-8", newline="") as out, \
                open(tmp_lines, "wb") as lines_out:
            lines = array.array("Q")
            for index, path in enumerate(files):
                for line, fields in _records(Path(path), dialect):
                    if skip_records:
                        skip_records -= 1
                        continue
                    out.write(_record_line(fields if transform is None else transform(fields)))
                    lines.append(index << LINE_BITS | line)
                    count += 1
                    if len(lines) >= FLUSH_RECORDS:
                        _flush(lines, lines_out)
            _flush(lines, lines_out)
        Path(str(out_path) + FILES_SUFFIX).write_text(
            json.dumps([str(Path(p)) for p in files]) + "\n", encoding="utf-8")
        os.replace(tmp_lines, sidecar)
        os.replace(tmp_out, out_path)
    except BaseException:
        tmp_out.unlink(missing_ok=True)
        tmp_lines.unlink(missing_ok=True)
        raise
    return count


def _flush(lines: array.array[int], handle: IO[bytes]) -> None:
    if _BIG_ENDIAN:
        lines.byteswap()   # the file is little-endian everywhere
    lines.tofile(handle)
    del lines[:]


_BIG_ENDIAN = array.array("H", [1]).tobytes() == b"\x00\x01"


def sidecar_path(out_path: Path) -> Path:
    return Path(str(out_path) + SIDECAR_SUFFIX)


def source_line(out_path: Path, record: int) -> tuple[Path, int]:
    """(source file, physical 1-based line) of the normalized file's record ``record`` (1-based)."""
    if record < 1:
        raise ValueError("records are numbered from 1")
    with open(sidecar_path(out_path), "rb") as handle:
        handle.seek((record - 1) * 8)
        data = handle.read(8)
    if len(data) != 8:
        raise ValueError(f"the normalized file has no record {record}")
    value = int.from_bytes(data, "little")
    files = json.loads(Path(str(out_path) + FILES_SUFFIX).read_text(encoding="utf-8"))
    return Path(files[value >> LINE_BITS]), value & ((1 << LINE_BITS) - 1)


def remove_normalized(out_path: Path) -> None:
    """Delete the normalized file and its line map."""
    for path in (Path(out_path), sidecar_path(out_path), Path(str(out_path) + FILES_SUFFIX)):
        path.unlink(missing_ok=True)
