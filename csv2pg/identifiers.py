"""Header → SQL identifier, and the one escaping function per target language.

Untrusted text (headers, paths, values) reaches SQL, pgloader or shell syntax only through
these functions; templates get them as Jinja filters, so they cannot be bypassed.
"""

from __future__ import annotations

import re
import unicodedata

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1

_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_NOT_WORD = re.compile(r"[^\w]+")


def _truncate_utf8(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def to_identifier(header: str, position: int) -> str:
    """A snake_case SQL identifier for ``header`` (the 1-based ``position`` names empty ones).

    Letters and digits of any script are kept (the identifier is always quoted), everything
    else becomes ``_``; the result is lower case, at most 63 bytes, never empty, never starts
    with a digit and never contains ``$`` or quotes.
    """
    text = unicodedata.normalize("NFKC", header).strip().lstrip("\ufeff")
    text = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", text))
    text = text.replace("%", " pct ").replace("#", " num ")
    text = _NOT_WORD.sub("_", text.lower()).strip("_")
    text = re.sub(r"_+", "_", text)
    if not text:
        text = f"column_{position}"
    if text[0].isdigit():
        text = f"c_{text}"
    return _truncate_utf8(text, MAX_IDENTIFIER_BYTES).rstrip("_") or f"column_{position}"


def unique_identifiers(headers: list[str]) -> list[str]:
    """Identifiers for a header row: snake_case, de-duplicated with ``_2``, ``_3``… suffixes."""
    taken: set[str] = set()
    result: list[str] = []
    for position, header in enumerate(headers, start=1):
        base = to_identifier(header, position)
        name, n = base, 1
        while name in taken:
            n += 1
            suffix = f"_{n}"
            name = _truncate_utf8(base, MAX_IDENTIFIER_BYTES - len(suffix)) + suffix
        taken.add(name)
        result.append(name)
    return result


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier in double quotes, embedded quotes doubled."""
    if "\x00" in name:
        raise ValueError("identifier contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings on)."""
    if "\x00" in value:
        raise ValueError("literal contains a NUL character")
    return "'" + value.replace("'", "''") + "'"


def pgloader_string(value: str) -> str:
    """A single-quoted string in pgloader's command language (for delimiters, encodings…)."""
    if value == "\t":
        return "'\\t'"
    if len(value) == 1 and (not value.isprintable() or value in "'\\"):
        return f"'0x{ord(value):02x}'"
    if "'" in value:
        raise ValueError(f"pgloader strings cannot contain a single quote: {value!r}")
    return f"'{value}'"


_PLAIN_LISP = re.compile(r"[^\"\\{}\x00-\x1f\x7f]*")


def lisp_string(value: str) -> str:
    """A pgloader Lisp expression for the string ``value`` (in ``using`` expressions).

    pgloader's reader has no escapes inside strings, so anything but plain text is built
    from character codes.
    """
    if _PLAIN_LISP.fullmatch(value):
        return '"' + value + '"'
    codes = " ".join(f"(code-char {ord(ch)})" for ch in value)
    return f"(coerce (list {codes}) (quote string))"


def shell_word(value: str) -> str:
    """One POSIX shell word that stands for ``value`` exactly."""
    if value and re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"
