"""Step ``load:T``: the table schema and the dialect → ``T.load`` and ``T_import.sh``.

Reads nothing but its arguments (the committed table schema, sample.json's dialect and row
count, the staging table's name) and renders ``templates/table.load.j2`` and
``templates/import.sh.j2``. The only module that imports jinja2; it touches no database.

Both files are byte-deterministic and hold no absolute path, URL or password: pgloader reads
the CSV's path and the connection URL from the environment through its mustache templating
(``{{{CSV2PG_SOURCE}}}``, ``{{{CSV2PG_TARGET}}}``: triple braces, because pgloader's double
braces HTML-escape the value, turning ``&`` into ``&amp;``). Every name and value reaches
pgloader, SQL or shell syntax through the escaping filters of ``csv2pg.identifiers``.

pgloader facts this relies on (tech.md 3, re-checked with pgloader 3.6.9):
- LOAD CSV has no CAST clause: the staging table's column types decide, and each column gets
  a ``using`` expression that maps its null tokens to NIL. An empty unquoted field arrives as
  NIL, a quoted ``""`` as an empty string: typed columns map ``""`` to NIL, text keeps it.
- pgloader's Lisp strings have no escapes (``"a\\"b"`` does not parse and ``\\`` stays a
  backslash), so a token with ``"``, ``\\``, braces or control characters is spelled as a
  list of character codes instead of a string literal.
- ``keep unquoted blanks``: csv2pg's own parse keeps leading and trailing spaces, so pgloader
  must too (its default trims them). Not for CRLF files: there the CR stays in the last
  field, and a quoted last field fails ("whitespace after quoted data"), so CRLF files get
  pgloader's default ``trim unquoted blanks``; a CRLF file with blanks at the edge of an
  unquoted value is therefore read from the normalized copy (``needs_normalizing``).
- A byte-order mark is part of the header line when there is one (``skip header`` drops it);
  without a header line the first field's expression strips it.
- Sources pgloader 3.6 cannot read as they are (compressed, several files, UTF-16, CR-only
  or mixed line ends, comments, preamble/footer lines, blank lines, escapes, quotes inside
  values: ``csv2pg.normalize.needs_normalizing``) are rendered with ``normalized=<reason>``:
  pgloader then reads the importer's UTF-8 copy (``NORMALIZED_DIALECT``). So do columns
  with a ``transform`` (``csv2pg.transforms`` rewrites their values into that copy). Without it, CR-only
  files are refused: pgloader 3.6 reads lines up to LF. A quote character other
  than ``"`` can only be escaped as ``""`` or ``\\"`` (its escape options are those two
  sequences), so such files load only while no value contains an escaped quote.
"""

from __future__ import annotations

import codecs
import re
from functools import cache
from typing import Any

import jinja2

from csv2pg.artifacts import validator
from csv2pg.errors import DataError
from csv2pg.identifiers import (
    MAX_IDENTIFIER_BYTES,
    lisp_string,
    pgloader_string,
    quote_ident,
    quote_literal,
    shell_word,
)
from csv2pg.normalize import NORMALIZED_MARKER, pgloader_encoding
from csv2pg.resources import templates_dir

LOAD_TEMPLATE = "table.load.j2"
SCRIPT_TEMPLATE = "import.sh.j2"
PLACEHOLDERS = ("{{{CSV2PG_SOURCE}}}", "{{{CSV2PG_TARGET}}}")
TEXT_TYPES = re.compile(r"^(text|varchar\(\d+\)|char\(\d+\))$")
_UNSAFE_NAME = re.compile(r'["$\\{}\x00-\x1f\x7f]')

_BOM_ENCODINGS = {"utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"}
# How pgloader reads the UTF-8 copy csv2pg writes when it cannot read the source itself.
NORMALIZED_DIALECT = {"encoding": "utf-8", "delimiter": ",", "quotechar": '"', "escapechar": None,
                      "has_header": False, "header_lines": 0, "line_terminator": "\n"}
_COMMENT_UNSAFE = re.compile(r"[\x00-\x1f\x7f{}]")


@cache
def _type_pattern() -> re.Pattern[str]:
    """The closed type vocabulary, from schemas/table.v1.json (one source of truth)."""
    schema: dict[str, Any] = dict(validator("table").schema)  # type: ignore[arg-type]
    return re.compile(schema["properties"]["columns"]["items"]["properties"]["type"]["pattern"])


lisp_token = lisp_string  # the template's name for it


def _checked_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise DataError(f"the {what} is missing or not a string")
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise DataError(f"the {what} {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    if _UNSAFE_NAME.search(name):
        # `$` would end pgloader's $$ blocks, braces would start mustache tags, a double quote
        # cannot be written in pgloader's quoted names.
        raise DataError(f"the {what} {name!r} contains a character pgloader cannot take "
                        "(double quote, $, backslash, braces or a control character)",
                        hint="rename it in the table schema (schemas/*.schema.json)")
    return name


def _columns(table_schema: dict[str, Any], strip_bom: bool) -> list[dict[str, Any]]:
    columns = table_schema.get("columns")
    if not isinstance(columns, list) or not columns:
        raise DataError("the table schema has no columns")
    result: list[dict[str, Any]] = []
    for position, column in enumerate(columns, start=1):
        name = _checked_name(column.get("column"), f"column name #{position}")
        ddl_type = column.get("type")
        if not isinstance(ddl_type, str) or not _type_pattern().match(ddl_type):
            raise DataError(f"column {name!r} has the type {ddl_type!r}, which is not in csv2pg's "
                            "type vocabulary", column=name,
                            hint="fix it in the table schema (see schemas/table.v1.json)")
        tokens = [t for t in column.get("null_tokens", []) if isinstance(t, str)]
        if any("\x00" in t for t in tokens):
            raise DataError(f"a null token of column {name!r} contains a NUL character", column=name)
        text_like = bool(TEXT_TYPES.match(ddl_type))
        nil_tokens = tokens if text_like else ["", *(t for t in tokens if t != "")]
        result.append({"column": name, "type": ddl_type, "field": f"c{position}",
                       "nil_tokens": list(dict.fromkeys(nil_tokens)),
                       "not_null": column.get("nullable") is False,
                       "strip_bom": strip_bom and position == 1,
                       "comment": _sql_comment(column.get("comment"))})
    return result


def _sql_comment(text: Any) -> str | None:
    """A column comment (issue 5, from an accepted LLM suggestion) safe inside pgloader's
    ``$$ ... $$`` and its mustache templating: one line, no ``$`` or braces."""
    if not isinstance(text, str):
        return None
    return " ".join(_COMMENT_UNSAFE.sub(" ", text).replace("$", " ").split()) or None


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(quote_ident=quote_ident, quote_literal=quote_literal,
                       pgloader_string=pgloader_string, lisp_string=lisp_string,
                       lisp_token=lisp_token, shell_word=shell_word)
    return env


def build_load(table_schema: dict[str, Any], dialect: dict[str, Any], rows: int,
               staging_table: str, normalized: str | None = None) -> tuple[str, str]:
    """(T.load text, T_import.sh text) for one table.

    ``table_schema`` is the committed table schema (schemas/T.schema.json), ``dialect`` and
    ``rows`` come from sample.json, ``staging_table`` is the table pgloader fills (in the
    table's schema) before the import swaps it in. ``normalized`` is
    ``csv2pg.normalize.needs_normalizing(...)``: when it gives a reason, pgloader reads the
    UTF-8 copy the importer writes (``NORMALIZED_DIALECT``) instead of the source, and the
    .load file says so in a ``NORMALIZED_MARKER`` line the importer looks for.
    """
    transformed = [str(c.get("column")) for c in table_schema.get("columns") or ()
                   if isinstance(c, dict) and c.get("transform")]
    if normalized is None and transformed:
        # pgloader's own transforms cannot be trusted with dates (tech.md 3.2): csv2pg
        # rewrites the values (csv2pg.transforms) into the copy pgloader reads.
        normalized = f"csv2pg rewrites the values of {', '.join(transformed)}"
    if normalized is not None:
        dialect = NORMALIZED_DIALECT
        normalized = " ".join(_COMMENT_UNSAFE.sub(" ", normalized).split()) or "see csv2pg"
    table = _checked_name(table_schema.get("table"), "table name")
    db_schema = _checked_name(table_schema.get("db_schema"), "database schema name")
    staging = _checked_name(staging_table, "staging table name")
    if staging == table:
        raise DataError(f"the staging table cannot be the table itself ({table!r})")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise DataError(f"the row count {rows!r} is not a number of rows")
    encoding = pgloader_encoding(str(dialect["encoding"]))
    header_lines = int(dialect["header_lines"])
    bom = codecs.lookup(str(dialect["encoding"])).name in _BOM_ENCODINGS
    escapechar = dialect.get("escapechar")
    if dialect.get("line_terminator") == "\r":
        # pgloader 3.6 reads lines up to LF: a CR-only file is one long line, loaded as 0 rows.
        raise DataError("pgloader 3.6 cannot read a file whose lines end with CR alone",
                        hint="convert its line ends to LF (tr '\\r' '\\n'), or use the built-in "
                             "engine (engine = \"copy\")")
    context = {
        "table": table, "db_schema": db_schema, "staging": staging, "rows": rows,
        "columns": _columns(table_schema, strip_bom=bom and header_lines == 0),
        "crlf": dialect.get("line_terminator") == "\r\n",
        "encoding": encoding, "header_lines": header_lines,
        "delimiter": dialect["delimiter"], "quotechar": dialect.get("quotechar"),
        "escape": ("backslash-quote" if escapechar == "\\" else
                   "double-quote" if escapechar is None else pgloader_string(escapechar)),
        "placeholders": PLACEHOLDERS,
        "normalized": normalized, "normalized_marker": NORMALIZED_MARKER,
    }
    env = _environment()
    load_text = env.get_template(LOAD_TEMPLATE).render(context)
    script_text = env.get_template(SCRIPT_TEMPLATE).render(context)
    _check_mustache(load_text)
    return load_text, script_text


def _check_mustache(load_text: str) -> None:
    """pgloader runs the whole .load file through mustache: only our two tags may be there."""
    rest = load_text
    for placeholder in PLACEHOLDERS:
        if rest.count(placeholder) != 1:
            raise AssertionError(f"the .load template must use {placeholder} exactly once")
        rest = rest.replace(placeholder, "")
    if "{{" in rest:
        raise AssertionError("a mustache tag slipped into the .load file")
