"""formats and formatscan: number and date formats, their choice, and SQL that agrees with Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from csv2pg import formats
from csv2pg.dialect import Dialect
from csv2pg.formatscan import FormatStats, aggregates, predicate, scan_formats

NUMBERS = [
    "1,234", "1,234,567", "12,345.67", "1.234.567", "1.234,56", "3,14", "1 234 567",
    "1\u00a0234,5", "1'234", "1'234.50", "$1,200.50", "-$5", "$-5", "-$-5", "($5)", "(1,234.00)",
    "€3,50", "12,00 €", "12.00 USD", "USD 12", "12.5%", "12,5 %", "-3%", "1,23", "1,2345",
    "01,234", "1,,234", ",5", "5,", "1.234.56", "", " ", "-", "$", "%", "12", "-12", "+7",
    " 1,234 ", "1,234\t", "99999999999999999999999999999999999999,5",
    "1" * 40, "1,000,000,000,000,000,000,000,000,000,000,000,000,000", "£1", "kr 5", "R$ 1.234,56",
]
DATES = [
    "01/02/2020", "13/02/2020", "02/13/2020", "2/3/2020", "31/02/2020", "29/02/2024",
    "29/02/2023", "01.02.2020", "1.2.2020", "2020/01/31", "2020/31/01", "2020-1-5",
    "05-Jan-2020", "5-jan-2020", "5-JAN-2020", "5 January 2020", "31-Sept-2020", "30-Sept-2020",
    "Jan 5, 2020", "Jan 5 2020", "Foo 5, 2020", "5-Jan-20", "01/02/0000", "01/02/99999",
    "1/5/2020 10:00", "1/5/2020 9:05:07", "1/5/2020 24:00", "1/5/2020 23:60",
    "1/5/2020 12:30:00 PM", "1/5/2020 12:30:00 AM", "1/5/2020 0:30 AM", "1/5/2020 13:00 PM",
    "1/5/2020T10:00:00.123456", "1/5/2020 10:00:00.1234567", " 1/5/2020 ", "1/5/2020 10:00Z",
    "2020-01-05", "",
    "8/15/14", "12/19/21", "10/23/17 12:30", "29/02/00", "29/02/01", "02/29/68", "02/29/69",
    "10-12-09", "26-10-15", "00/01/01", "1/1/1", "123/1/14", "14/1/123",
]


def _all_formats() -> list[dict[str, Any]]:
    numbers = [formats.number_format(d, g, c, p) for d in formats.DECIMALS
               for g in formats.GROUPS if g != d for c in (None, "$", "€", "USD", "kr", "R$")
               for p in (False, True)]
    dates = formats._date_candidates([])
    return numbers + dates


@pytest.mark.parametrize("values", [NUMBERS, DATES], ids=["numbers", "dates"])
def test_sql_predicate_agrees_with_python(values: list[str]) -> None:
    con = duckdb.connect()
    fmts = [f for f in _all_formats() if (f["kind"] == "number") == (values is NUMBERS)]
    cols = ", ".join(predicate(f, "v") for f in fmts)
    rows = con.execute(f"SELECT {cols} FROM (SELECT unnest($values) AS v, "
                       "generate_subscripts($values, 1) AS i) ORDER BY i",
                       {"values": values}).fetchall()
    for value, row in zip(values, rows, strict=True):
        for fmt, verdict in zip(fmts, row, strict=True):
            assert bool(verdict) == (formats.canonical(value, fmt) is not None), (value, formats.key(fmt))


@pytest.mark.parametrize(("value", "fmt", "expected"), [
    ("1,234,567", formats.number_format(".", ",", None, False), "1234567"),
    ("1.234,56", formats.number_format(",", ".", None, False), "1234.56"),
    ("1 234 567", formats.number_format(".", " ", None, False), "1234567"),
    ("1'234.5", formats.number_format(".", "'", None, False), "1234.5"),
    ("($1,200.50)", formats.number_format(".", ",", "$", False), "-1200.50"),
    ("-€3,50", formats.number_format(",", None, "€", False), "-3.50"),
    ("12.00 USD", formats.number_format(".", None, "USD", False), "12.00"),
    ("12.5%", formats.number_format(".", None, None, True), "12.5"),
    ("13/02/2020", formats.date_format("dmy", "/", "number"), "2020-02-13"),
    ("2/13/2020 1:05 PM", formats.date_format("mdy", "/", "number"), "2020-02-13 13:05:00"),
    ("12/13/2020 12:05:09.5 AM", formats.date_format("mdy", "/", "number"), "2020-12-13 00:05:09.5"),
    ("5.1.2020", formats.date_format("dmy", ".", "number"), "2020-01-05"),
    ("2020/1/5", formats.date_format("ymd", "/", "number"), "2020-01-05"),
    ("05-Jan-2020", formats.date_format("dmy", "-", "name"), "2020-01-05"),
    ("Sept 30, 2020", formats.date_format("mdy", " ", "name"), "2020-09-30"),
    ("8/15/14", formats.date_format("mdy", "/", "number", 2), "2014-08-15"),
    ("8/15/69 9:05", formats.date_format("mdy", "/", "number", 2), "1969-08-15 09:05:00"),
    ("29-02-00", formats.date_format("dmy", "-", "number", 2), "2000-02-29"),
    ("14/13/2", formats.date_format("ymd", "/", "number", 2), None),
])
def test_canonical_text(value: str, fmt: dict[str, Any], expected: str | None) -> None:
    assert formats.canonical(value, fmt) == expected


def _entries(values: list[str]) -> list[dict[str, Any]]:
    stats = FormatStats(formats.propose(values))
    for line, value in enumerate(values, start=2):
        stats.add(line, value)
    return stats.entries()


@pytest.mark.parametrize(("values", "kind", "expected"), [
    (["1,234", "12,345"], "number", None),                       # thousand or 1.234
    (["1,234", "1,234,567"], "number", "number decimal=. group=,"),
    (["3,14", "2,5"], "number", "number decimal=,"),             # group sizes wrong
    (["1.234,56", "7"], "number", "number decimal=, group=."),
    (["1,234", "0.5"], "number", "number decimal=. group=,"),
    (["$5", "$1,200.50"], "number", "number decimal=. group=, currency=$"),
    (["01/02/2020", "02/01/2020"], "date", None),                # day/month never guessed
    (["01/02/2020", "13/02/2020"], "date", "date dmy separator='/' month=number"),
    (["01/02/2020", "02/13/2020"], "date", "date mdy separator='/' month=number"),
    (["01/01/2020", "02/02/2020"], "date", "date mdy separator='/' month=number"),  # same either way
    (["8/15/14", "12/19/21"], "date", "date mdy separator='/' month=number year=2"),
    (["10-12-09", "26-10-15"], "date", None),    # 26 Oct 2015 or 2026-10-15: not guessed
    (["10-12-09", "26-10-75"], "date", "date dmy separator='-' month=number year=2"),
])
def test_choice(values: list[str], kind: str, expected: str | None) -> None:
    fmt, why = formats.choose(_entries(values), kind)
    assert (None if fmt is None else formats.key(fmt)) == expected
    assert (why is not None) == (expected is None)


def test_scan_agrees_with_python(tmp_path: Path) -> None:
    values = ["1,234", "1,234,567", "-12", "(3)", "5.5", "NA", "x1", "1.234.567,5", "2,50"]
    path = tmp_path / "n.csv"
    path.write_text("a,b\n" + "".join(f'"{v}",{i}\n' for i, v in enumerate(values * 3)), encoding="utf-8")
    fmts = [formats.number_format(d, g, None, False) for d in formats.DECIMALS
            for g in formats.GROUPS if g != d]
    dialect = Dialect(encoding="utf-8", delimiter=",", quotechar='"', escapechar=None,
                      has_header=True, header_lines=1, line_terminator="\n")
    found, unique = scan_formats(path, dialect, 2, frozenset({"NA"}), {0: fmts}, unique=[0, 1])
    found = found[0]
    assert unique == {0: False, 1: True}
    stats = FormatStats(fmts)
    for value in values * 3:
        if value != "NA":
            stats.add(0, value)
    expected = stats.entries()
    for entry in expected:
        entry["examples"] = []
    assert found == expected
    assert len(aggregates(fmts[0], "v")) == 6


@pytest.mark.parametrize(("values", "delimiter", "expected"), [
    (["2", "2,2", "0"], ",", None),                          # a list, not 2.2
    (["2", "2,2", "0"], ";", "number decimal=,"),
    (["1.234,5", "2,2"], ",", "number decimal=, group=."),   # the '.' group is evidence
    (["€3,50", "2,2"], ",", "number decimal=, currency=€"),
    (["1,234", "7"], ",", "number decimal=. group=,"),       # no decimal comma: not ambiguous
])
def test_decimal_commas_in_comma_delimited_files_need_evidence(
        values: list[str], delimiter: str, expected: str | None) -> None:
    entries = [e for e in _entries_for(values, delimiter) if formats.plausible(e, delimiter)]
    fmt, _ = formats.choose(entries, "number")
    assert (None if fmt is None else formats.key(fmt)) == expected


def _entries_for(values: list[str], delimiter: str) -> list[dict[str, Any]]:
    stats = FormatStats(formats.propose(values, delimiter))
    for line, value in enumerate(values, start=2):
        stats.add(line, value)
    return stats.entries()


def test_codes_with_leading_zeros_are_not_numbers_with_separators(tmp_path: Path) -> None:
    from csv2pg.settings import TableSettings
    from csv2pg.stages.infer import build_chunk_types
    from csv2pg.stages.sample import build_sample

    path = tmp_path / "t.csv"
    path.write_text('code,amount\n036,"1,234,567"\n"978,977",12\n840,"2,500"\n', encoding="utf-8")
    table = TableSettings(name="t", source=path, source_text="t.csv", table="t",
                          db_schema="public", sources=(path,))
    sample = build_sample(table, "0" * 32, "0" * 32)
    types = {c["column"]: c["type"] for c in build_chunk_types(table, sample, 0)}
    assert types == {"code": "text", "amount": "integer"}


@pytest.mark.parametrize(("values", "expected"), [
    (["1,234", "1,234,567"], "integer"),
    (["$5", "$1,200.50"], "numeric"),
    (["$5", "$12"], "numeric"),           # money is numeric even when whole
    (["$5", "$1,200"], "text"),           # 1,200 dollars or 1.2: not guessed
    (["12%", "7%"], "numeric"),
    (["1.234,5", "7"], "numeric"),
])
def test_number_format_types(tmp_path: Path, values: list[str], expected: str) -> None:
    from csv2pg.stages.infer import decide
    profile = {"non_null": len(values), "leading_zeros": 0, "formats": _entries(values),
               "candidates": {}}
    assert decide(profile, "amount", rules=_format_rules()).type == expected


def _format_rules() -> tuple[Any, ...]:
    from csv2pg.stages.infer import rule_date_format, rule_number_format
    return (rule_number_format, rule_date_format)


def test_row_transformer_rewrites_only_columns_with_a_transform() -> None:
    from csv2pg.transforms import row_transformer

    columns = [{"column": "id"},
               {"column": "amount", "transform": formats.number_format(",", ".", "€", False)},
               {"column": "day", "transform": formats.date_format("dmy", ".", "number")}]
    transform = row_transformer(columns)
    assert transform is not None
    assert transform(["1.234", "1.234,50 €", "13.02.2020"]) == ["1.234", "1234.50", "2020-02-13"]
    # Values not in the format (null tokens, empty, rows appended since) pass unchanged.
    assert transform(["7", "NA", ""]) == ["7", "NA", ""]
    assert transform(["8", "oops"]) == ["8", "oops"]  # a short record stays short
    assert row_transformer([{"column": "id"}, {"column": "x", "transform": None}]) is None
