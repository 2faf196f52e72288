"""csv2pg/stages/render.py: the .load file and the import script, compared byte for byte
with tests/golden/render/ (``pytest --regen-golden`` rewrites them)."""

from __future__ import annotations

import difflib
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from csv2pg.errors import DataError
from csv2pg.stages.render import build_load, lisp_token, pgloader_encoding

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "render"


def column(name: str, type_: str, *, nullable: bool = True, null_tokens: tuple[str, ...] = (),
           header: str | None = None) -> dict[str, Any]:
    return {"header": header or name, "column": name, "type": type_, "nullable": nullable,
            "confidence": 1.0, "reason": "test", "source": "heuristic",
            "null_tokens": list(null_tokens)}


def table_schema(table: str, columns: list[dict[str, Any]], db_schema: str = "public") -> dict[str, Any]:
    return {"schema_version": 1, "table": table, "db_schema": db_schema,
            "inputs": {"types": "0" * 32, "overrides": "0" * 32}, "columns": columns}


def dialect(encoding: str = "utf-8", delimiter: str = ",", quotechar: str | None = '"',
            escapechar: str | None = None, header_lines: int = 1,
            line_terminator: str = "\n") -> dict[str, Any]:
    return {"encoding": encoding, "delimiter": delimiter, "quotechar": quotechar,
            "escapechar": escapechar, "has_header": header_lines > 0,
            "header_lines": header_lines, "line_terminator": line_terminator}


CASES: dict[str, tuple[dict[str, Any], dict[str, Any], int]] = {
    # comma-separated UTF-8 with a header; typed columns with and without null tokens
    "people": (
        table_schema("people", [
            column("id", "bigint", nullable=False, header="ID"),
            column("name", "text", header="Name"),
            column("born", "date", header="Born"),
            column("amount", "numeric(12,2)", null_tokens=("NA", "N/A"), header="Amount"),
            column("active", "boolean", nullable=False, header="Active?"),
        ]),
        dialect(), 3),
    # semicolon-separated cp1252 (CRLF) in another schema; text columns with null tokens,
    # one of them a token pgloader cannot read as a string literal
    "ventes": (
        table_schema("ventes_2024", [
            column("région", "text", null_tokens=("-", "N/A"), header="Région"),
            column("code_postal", "char(5)", header="Code postal"),
            column("libellé", "varchar(40)", null_tokens=("", 'a"b'), header="Libellé"),
            column("montant", "double precision", null_tokens=("NA",), header="Montant (€)"),
            column("mis_à_jour", "timestamptz", header="Mis à jour"),
        ], db_schema="Données"),
        dialect(encoding="cp1252", delimiter=";", line_terminator="\r\n"), 1200),
    # tab-separated, no header, a UTF-8 byte-order mark, no quoting, backslash escapes
    "measures": (
        table_schema("measures", [
            column("column_1", "integer", nullable=False),
            column("column_2", "text"),
            column("column_3", "jsonb", null_tokens=("null",)),
        ]),
        dialect(encoding="utf-8-sig", delimiter="\t", quotechar=None, escapechar="\\",
                header_lines=0), 0),
    # UTF-16 with CR-only line ends and comment lines: pgloader reads csv2pg's normalized copy
    "journal": (
        table_schema("journal", [
            column("jour", "date", nullable=False),
            column("entrée", "text", null_tokens=("NA",)),
        ]),
        {**dialect(encoding="utf-16", delimiter=";", line_terminator="\r"), "comment": "#"}, 42),
}
# Cases whose source pgloader cannot read as it is (csv2pg.normalize.needs_normalizing).
NORMALIZED = {"journal": "its lines end with CR alone"}


def staging(case: str) -> str:
    return f"{CASES[case][0]['table']}__csv2pg_staging"


def render(case: str) -> tuple[str, str]:
    schema, dialect_, rows = CASES[case]
    return build_load(schema, dialect_, rows, staging(case), normalized=NORMALIZED.get(case))


def compare_golden(path: Path, actual: str, regen: bool) -> None:
    if regen:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    expected = path.read_bytes().decode("utf-8") if path.exists() else ""
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            str(path), "rendered"))
        pytest.fail(f"{path.name} differs from its golden file; if the change is intended run\n"
                    f"  .venv/bin/pytest tests/unit/test_render.py --regen-golden\n{diff}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, regen_golden: bool) -> None:
    load_text, script_text = render(case)
    compare_golden(GOLDEN / f"{case}.load", load_text, regen_golden)
    compare_golden(GOLDEN / f"{case}_import.sh", script_text, regen_golden)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_is_deterministic(case: str) -> None:
    assert render(case) == render(case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_path_url_or_secret(case: str) -> None:
    for text in render(case):
        text = text.removeprefix("#!/usr/bin/env bash\n")   # the one absolute path allowed
        assert "://" not in text
        assert "password=" not in text.lower()
        assert not re.search(r"PGPASSWORD=", text)
        assert not re.search(r"(?<![\w.}$])/(tmp|home|root|work|var|usr|etc|srv)\b", text)
        assert str(Path.cwd()) not in text


def test_load_file_reads_source_and_target_from_the_environment() -> None:
    load_text, _ = render("people")
    assert "FROM '{{{CSV2PG_SOURCE}}}'" in load_text
    assert "INTO {{{CSV2PG_TARGET}}}" in load_text
    assert load_text.count("{{") == 2


@pytest.mark.parametrize("case", sorted(CASES))
def test_shellcheck_passes(case: str, shellcheck: str, tmp_path: Path) -> None:
    script = tmp_path / f"{case}_import.sh"
    script.write_text(render(case)[1], encoding="utf-8")
    result = subprocess.run([shellcheck, "--shell=bash", "--severity=style", str(script)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_refuses_to_run_without_its_environment(tmp_path: Path) -> None:
    script = tmp_path / "people_import.sh"
    script.write_text(render("people")[1], encoding="utf-8")
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "set CSV2PG_SOURCE to the path of the CSV file" in result.stderr


# --- encodings and values --------------------------------------------------------------------


@pytest.mark.parametrize(("python", "pgloader"), [
    ("utf-8", "utf-8"), ("UTF8", "utf-8"), ("utf-8-sig", "utf-8"), ("ascii", "utf-8"),
    ("cp1252", "windows-1252"), ("windows-1252", "windows-1252"), ("latin-1", "latin1"),
    ("iso-8859-1", "latin1"), ("iso8859-15", "latin9"), ("iso-8859-2", "iso-8859-2"),
    ("cp1250", "cp1250"), ("cp850", "cp850"), ("utf-16-le", "utf-16le"), ("utf-16-be", "utf-16be"),
    ("mac_roman", "mac-roman"), ("shift_jis", "shift_jis"), ("koi8_r", "koi8-r"),
])
def test_pgloader_encoding(python: str, pgloader: str) -> None:
    assert pgloader_encoding(python) == pgloader


def test_utf16_without_byte_order_is_refused() -> None:
    with pytest.raises(DataError) as info:
        pgloader_encoding("utf-16")
    assert str(info.value) == (
        "pgloader needs the byte order of a UTF-16 file; 'utf-16' leaves it to the byte-order mark\n"
        '  hint: set encoding = "utf-16-le" (the file starts with bytes FF FE) or "utf-16-be" '
        "(FE FF) in the table's [tables.NAME] entry")


@pytest.mark.parametrize("encoding", ["big5", "iso8859-16", "no-such-codec"])
def test_unreadable_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(DataError):
        pgloader_encoding(encoding)


@pytest.mark.parametrize(("value", "lisp"), [
    ("NA", '"NA"'), ("", '""'), ("#NULL!", '"#NULL!"'), ("néant", '"néant"'),
    ('a"b', "(coerce (list (code-char 97) (code-char 34) (code-char 98)) (quote string))"),
    ("a\\", "(coerce (list (code-char 97) (code-char 92)) (quote string))"),
    ("{{x}}", "(coerce (list (code-char 123) (code-char 123) (code-char 120) (code-char 125) "
              "(code-char 125)) (quote string))"),
])
def test_lisp_token(value: str, lisp: str) -> None:
    assert lisp_token(value) == lisp


@pytest.mark.parametrize(("name", "problem"), [
    ("a$b", "contains a character pgloader cannot take"),
    ('a"b', "contains a character pgloader cannot take"),
    ("{{CSV2PG_TARGET}}", "contains a character pgloader cannot take"),
    ("x" * 64, "is longer than 63 bytes"),
])
def test_unsafe_column_names_are_refused(name: str, problem: str) -> None:
    schema = table_schema("t", [column(name, "text")])
    with pytest.raises(DataError, match=problem):
        build_load(schema, dialect(), 1, "t__csv2pg_staging")


def test_types_outside_the_vocabulary_are_refused() -> None:
    schema = table_schema("t", [column("a", "text; drop table x")])
    with pytest.raises(DataError) as info:
        build_load(schema, dialect(), 1, "t__csv2pg_staging")
    assert str(info.value) == (
        "column 'a' has the type 'text; drop table x', which is not in csv2pg's type vocabulary\n"
        "  hint: fix it in the table schema (see schemas/table.v1.json)")


def test_staging_table_must_differ_from_the_table() -> None:
    with pytest.raises(DataError, match="cannot be the table itself"):
        build_load(table_schema("t", [column("a", "text")]), dialect(), 1, "t")


def test_cr_only_line_ends_are_refused() -> None:
    with pytest.raises(DataError) as info:
        build_load(table_schema("t", [column("a", "text")]), dialect(line_terminator="\r"), 1,
                   "t__csv2pg_staging")
    assert str(info.value) == (
        "pgloader 3.6 cannot read a file whose lines end with CR alone\n"
        "  hint: convert its line ends to LF (tr '\\r' '\\n'), or use the built-in engine "
        '(engine = "copy")')


def test_a_normalized_source_is_read_as_plain_utf8_csv() -> None:
    load_text, script_text = render("journal")
    assert "-- csv2pg normalizes the source first (its lines end with CR alone):" in load_text
    assert "WITH ENCODING 'utf-8'" in load_text
    assert "skip header = 0," in load_text
    assert "fields terminated by ','," in load_text
    assert "fields optionally enclosed by '\"'," in load_text
    assert "fields escaped by double-quote," in load_text
    assert "keep unquoted blanks" in load_text
    assert "normalized copy" in script_text


def test_a_normalizing_reason_cannot_break_out_of_its_comment() -> None:
    schema, dialect_, rows = CASES["people"]
    load_text, _ = build_load(schema, dialect_, rows, staging("people"),
                              normalized="x\nLOAD CSV {{ evil }}")
    assert "(x LOAD CSV evil):" in load_text
    assert load_text.count("{{") == 2


def test_a_column_with_a_transform_makes_pgloader_read_the_rewritten_copy() -> None:
    amount = {**column("amount", "numeric"), "transform": {
        "kind": "number", "decimal": ",", "group": ".", "currency": None, "percent": False}}
    schema = table_schema("ledger", [column("id", "bigint"), amount])
    load_text, _ = build_load(schema, dialect(delimiter=";"), 2, "ledger__csv2pg_staging")
    assert "-- csv2pg normalizes the source first (csv2pg rewrites the values of amount):" in load_text
    assert "fields terminated by ','," in load_text and "skip header = 0," in load_text
    plain, _ = build_load(table_schema("ledger", [column("id", "bigint")]), dialect(delimiter=";"),
                          2, "ledger__csv2pg_staging")
    assert "normalizes" not in plain and "fields terminated by ';'," in plain
