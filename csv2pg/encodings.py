"""Which text encoding a CSV is in, from a bounded sample of its bytes.

BOMs first (UTF-8, UTF-16/32 LE/BE), then strict UTF-8, then Western single-byte code pages
when they read as letters, then chardet. Also locates the first undecodable byte of a file
as a ``DataError`` with its line number.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import chardet

from csv2pg.errors import DataError
from csv2pg.sources import open_binary, read_checked

CHARDET_BYTES = 1 << 16
ENCODING_HINT = ('set `encoding = "..."` (e.g. "cp1252", "latin-1", "utf-16-le") in its '
                 '[tables.NAME] entry')

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


def bom_encoding(head: bytes) -> str | None:
    """The codec a byte-order mark at the start of ``head`` names, or None."""
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                      (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                      (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return name
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """utf-16-le/be when ASCII text shows as every other byte NUL (and it decodes)."""
    probe = head[:4096]
    even, odd = probe[0::2], probe[1::2]
    if len(probe) < 4:
        return None
    for zeros, other, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.4 * len(zeros) and other.count(0) <= 0.05 * len(other):
            cut = len(probe) - len(probe) % 2
            if _decodes(probe[:cut], name, final=False):
                return name
    return None


def _mostly_letters(text: str) -> bool:
    chars = [c for c in text if not c.isascii()]
    return sum(c.isalpha() for c in chars) >= 0.5 * len(chars)


def detect_encoding(head: bytes, complete: bool) -> str | None:
    """The codec to read a file starting with ``head`` (all of it when ``complete``), or None.

    BOMs first (UTF-16 and UTF-32 by byte order, so the BOM is read as a character that
    readers strip), UTF-16 without a BOM by its NUL bytes, then UTF-8 (strict, or with a few corrupt bytes that reading then reports
    by line), then cp1252/latin-1 when that reads like Western European text (chardet is
    unreliable on short, mostly-ASCII samples: it names ISO-8859-3 or cp852 for plain
    French), then chardet's guess when it decodes the sample; cp1252/latin-1 again when
    chardet guesses a Western or UTF encoding that does not read the sample.
    """
    bom = bom_encoding(head)
    if bom:
        return bom
    wide = _utf16_without_bom(head)
    if wide:
        return wide
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
    if not _decodes(head, codec, final=complete):
        return western
    # A legacy code page must turn the bytes into letters; when it makes punctuation and
    # symbols of them, the file is UTF-8 with corrupt bytes, reported by line when read.
    return codec if _mostly_letters(head.decode(codec, errors="replace")) else "utf-8"


def _count_line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def decode_error(path: Path, encoding: str, exc: UnicodeDecodeError,
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
    with open_binary(path) as handle:
        while True:
            block = read_checked(path, handle, 1 << 16)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return decode_error(path, encoding, exc, breaks, last)
            # A "\r" ending one block and a "\n" starting the next are one line break.
            breaks += _count_line_breaks(last + text) - _count_line_breaks(last)
            last = text[-1:] or last
            if not block:
                break
    return DataError(f"the file is not valid {encoding}", path=path, hint=ENCODING_HINT)


