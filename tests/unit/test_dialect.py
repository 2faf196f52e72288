"""dialect: detection on small files under tests/data, overrides, record streaming, errors."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pytest

from csv2pg.dialect import (
    FIELD_SIZE_LIMIT,
    HEAD_BYTES,
    Dialect,
    choose_delimiter,
    detect_dialect,
    detect_encoding,
    detect_line_terminator,
    detect_quotechar,
    looks_like_header,
    open_records,
    read_header,
)
from csv2pg.errors import DataError
from csv2pg.settings import DialectOverrides

DATA = Path(__file__).resolve().parent.parent / "data"

# file → (encoding, delimiter, quotechar, escapechar, has_header, header_lines, terminator,
#         header names, first data record as (line, fields))
DETECTED = {
    "dialect_comma.csv": ("utf-8", ",", '"', None, True, 1, "\n",
                          ["id", "name", "amount"], (2, ["1", "Alice", "3.5"])),
    "dialect_semicolon.csv": ("utf-8", ";", '"', None, True, 1, "\n",
                              ["id", "name", "price"], (2, ["1", "Müller, Hans", "3,50"])),
    "dialect_pipe.csv": ("utf-8", "|", '"', None, True, 1, "\n",
                         ["code", "label", "qty"], (2, ["A1", "first, one", "10"])),
    "dialect_tab.tsv": ("utf-8", "\t", '"', None, True, 1, "\n",
                        ["city", "country", "population"], (2, ["Paris", "France", "2148000"])),
    "dialect_quoted.csv": ("utf-8", ",", '"', None, True, 1, "\n",
                           ["id", "comment", "score"], (2, ["1", "fine, thanks", "3"])),
    "dialect_multiline_header.csv": ("utf-8", ",", '"', None, True, 2, "\n",
                                     ["id", "long\nname", "x"], (3, ["1", "a", "2"])),
    "dialect_crlf.csv": ("utf-8", ",", '"', None, True, 1, "\r\n",
                         ["id", "name"], (2, ["1", "Ann"])),
    "dialect_cr.csv": ("utf-8", ",", '"', None, True, 1, "\r",
                       ["id", "name"], (2, ["1", "Ann"])),
    "dialect_bom.csv": ("utf-8-sig", ",", '"', None, True, 1, "\n",
                        ["id", "name"], (2, ["1", "Ann"])),
    "dialect_cp1252.csv": ("cp1252", ",", '"', None, True, 1, "\n",
                           ["name", "price"], (2, ["Café crème", "3 €"])),
    "dialect_latin1.csv": ("latin-1", ",", '"', None, True, 1, "\n",
                           ["name", "city"], (2, ["José Álvarez", "Málaga"])),
    "dialect_utf16.csv": ("utf-16-le", ",", '"', None, True, 1, "\r\n",
                          ["name", "age"], (2, ["José", "30"])),
    "dialect_noheader.csv": ("utf-8", ",", '"', None, False, 0, "\n",
                             ["column_1", "column_2", "column_3"], (1, ["1", "2.5", "2023-01-01"])),
    "dialect_header_only.csv": ("utf-8", ";", '"', None, True, 1, "\n", ["foo", "bar"], None),
    "dialect_backslash.csv": ("utf-8", "|", '"', "\\", True, 1, "\n",
                              ["id", "code", "text"], (2, ["1", "A", 'say "hi" now'])),
    "dialect_single_quote.tsv": ("utf-8", "\t", "'", None, True, 1, "\n",
                                 ["id", "name"], (2, ["1", "a\tb"])),
    "dialect_years_header.csv": ("utf-8", ",", '"', None, True, 1, "\n",
                                 ["country", "2019", "2020"], (2, ["France", "67.1", "67.4"])),
    "dialect_colon.txt": ("utf-8", ":", "'", None, True, 1, "\n",
                          ["Harry's", "Arlington Heights", "IL"],
                          (2, ["Shark City", "Glendale Heights", "IL"])),
}


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_detects_dialect_header_and_first_record(name: str) -> None:
    (encoding, delimiter, quotechar, escapechar, has_header, header_lines, terminator,
     header, first) = DETECTED[name]
    path = DATA / name
    dialect = detect_dialect(path, DialectOverrides())
    assert dialect == Dialect(encoding=encoding, delimiter=delimiter, quotechar=quotechar,
                              escapechar=escapechar, has_header=has_header,
                              header_lines=header_lines, line_terminator=terminator)
    assert read_header(path, dialect) == header
    assert next(open_records(path, dialect), None) == first


def test_quoted_fields_keep_delimiters_newlines_and_doubled_quotes() -> None:
    path = DATA / "dialect_quoted.csv"
    records = list(open_records(path, detect_dialect(path, DialectOverrides())))
    assert records == [
        (2, ["1", "fine, thanks", "3"]),
        (3, ["2", "two\nlines", "4"]),      # spans lines 3 and 4
        (5, ["3", 'she said "hi"', "5"]),
    ]


def test_blank_lines_are_skipped_and_counted_as_lines(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(b"\n\na,b\n1,2\n\n3,4\n")
    dialect = detect_dialect(path, DialectOverrides())
    assert dialect.header_lines == 3  # pgloader must skip the blank lines too
    assert read_header(path, dialect) == ["a", "b"]
    assert list(open_records(path, dialect)) == [(4, ["1", "2"]), (6, ["3", "4"])]


@pytest.mark.parametrize(("overrides", "expected"), [
    (DialectOverrides(delimiter=";"), {"delimiter": ";"}),
    (DialectOverrides(header=False), {"has_header": False, "header_lines": 0}),
    (DialectOverrides(encoding="latin1"), {"encoding": "latin-1"}),
    (DialectOverrides(encoding="UTF8"), {"encoding": "utf-8"}),
    (DialectOverrides(quotechar=""), {"quotechar": None}),
    (DialectOverrides(quotechar="'", escapechar="\\"), {"quotechar": "'", "escapechar": "\\"}),
], ids=["delimiter", "header", "encoding", "encoding-spelling", "no-quoting", "quote-escape"])
def test_overrides_win(overrides: DialectOverrides, expected: dict[str, object]) -> None:
    dialect = detect_dialect(DATA / "dialect_comma.csv", overrides)
    detected = detect_dialect(DATA / "dialect_comma.csv", DialectOverrides())
    assert dialect.as_dict() == {**detected.as_dict(), **expected}


def test_header_false_names_columns_and_streams_the_first_line() -> None:
    path = DATA / "dialect_comma.csv"
    dialect = detect_dialect(path, DialectOverrides(header=False))
    assert read_header(path, dialect) == ["column_1", "column_2", "column_3"]
    assert next(open_records(path, dialect)) == (1, ["id", "name", "amount"])


def test_utf8_override_on_a_bom_file_keeps_the_bom_out_of_the_header() -> None:
    path = DATA / "dialect_bom.csv"
    dialect = detect_dialect(path, DialectOverrides(encoding="utf-8"))
    assert dialect.encoding == "utf-8-sig"
    assert read_header(path, dialect) == ["id", "name"]


def test_as_dict_round_trips() -> None:
    dialect = detect_dialect(DATA / "dialect_backslash.csv", DialectOverrides())
    assert Dialect.from_dict(dialect.as_dict()) == dialect


@pytest.mark.parametrize(("name", "message"), [
    ("dialect_empty.csv", "the file is empty"),
    ("dialect_blank_lines.csv", "the file has no records, only blank lines"),
])
def test_files_without_records_are_data_errors(name: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        detect_dialect(DATA / name, DialectOverrides())
    assert caught.value.message == message
    assert caught.value.path == str(DATA / name)


def test_unknown_encoding_override_is_a_data_error() -> None:
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        detect_dialect(DATA / "dialect_comma.csv", DialectOverrides(encoding="klingon"))


def test_invalid_utf8_is_reported_with_its_line() -> None:
    path = DATA / "dialect_bad_utf8.csv"
    with pytest.raises(DataError) as caught:
        detect_dialect(path, DialectOverrides())
    error = caught.value
    assert (error.path, error.line) == (str(path), 4)
    assert error.message == "the file is not valid utf-8: cannot decode the bytes b'\\xff'"
    assert error.hint is not None and 'encoding = "..."' in error.hint


def test_open_records_reports_bad_bytes_past_the_detection_sample(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    rows = b"".join(b"%d,caf\xc3\xa9\r\n" % i for i in range(HEAD_BYTES // 8))
    lines = rows.count(b"\n")
    path.write_bytes(b"id,name\r\n" + rows + b"1,bad \xff byte\r\n")
    dialect = detect_dialect(path, DialectOverrides())
    assert dialect.encoding == "utf-8"
    with pytest.raises(DataError) as caught:
        for _ in open_records(path, dialect):
            pass
    assert caught.value.line == lines + 2
    assert "not valid utf-8" in caught.value.message


@pytest.mark.parametrize(("head", "complete", "expected"), [
    (b"a,b\n1,2\n", True, "utf-8"),
    (codecs.BOM_UTF8 + b"a\n", True, "utf-8-sig"),
    (codecs.BOM_UTF16_LE + "a,b\n".encode("utf-16-le"), True, "utf-16-le"),
    (codecs.BOM_UTF16_BE + "a,b\n".encode("utf-16-be"), True, "utf-16-be"),
    ("id,name\n1,Zoë\n".encode("utf-16-le"), True, "utf-16-le"),  # no BOM: NUL bytes tell
    ("a\nZoë\n".encode()[:-2], False, "utf-8"),  # a sample cut inside a character
    ("a\nCafé\n".encode("latin-1"), True, "latin-1"),
    ("a\nCafé 5 €\n".encode("cp1252"), True, "cp1252"),
    ("a\nNaïve “quoted”\n".encode("cp1252"), True, "cp1252"),
    ("name\nΚαλημέρα κόσμε\nΕλληνικά\n".encode("cp1253"), True, "cp1253"),
], ids=["ascii", "bom8", "bom16le", "bom16be", "utf16-no-bom", "cut", "latin1", "cp1252-euro", "cp1252-quotes", "greek"])
def test_detect_encoding(head: bytes, complete: bool, expected: str) -> None:
    assert detect_encoding(head, complete) == expected


@pytest.mark.parametrize(("scores", "expected"), [
    ({",": (1.0, 3), ";": (1.0, 1)}, ","),
    ({",": (0.7, 2), ";": (1.0, 4)}, ";"),
    ({",": (1.0, 2), "\t": (0.95, 10)}, "\t"),  # near-equal consistency: more columns win
    ({",": (1.0, 3), ";": (1.0, 3)}, ","),      # full tie: the earlier delimiter
    ({",": (1.0, 1), ";": (1.0, 1)}, None),     # one column everywhere
], ids=["comma", "semicolon", "more-columns", "tie", "none"])
def test_choose_delimiter(scores: dict[str, tuple[float, int]], expected: str | None) -> None:
    assert choose_delimiter(scores) == expected


@pytest.mark.parametrize(("records", "expected"), [
    ([["id", "name"], ["1", "Ann"], ["2", "Ben"]], True),
    ([["1", "Ann"], ["2", "Ben"], ["3", "Cy"]], False),
    ([["2023-01-01", "x"], ["2023-01-02", "y"]], False),
    ([["country", "2019", "2020"], ["France", "67.1", "67.4"]], True),
    ([["France", "2019", "2020"], ["Spain", "2018", "2021"]], False),
    ([["a", "b"], ["c", "d"]], True),            # all text: cannot tell, default
    ([["a", "b"]], True),                         # header only
    ([["id", "", "age"], ["1", "John", "30"]], True),
], ids=["names", "numbers", "dates", "year-names", "years-data", "text", "single", "blank-name"])
def test_looks_like_header(records: list[list[str]], expected: bool) -> None:
    assert looks_like_header(records) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("a\nb\n", "\n"), ("a\r\nb\r\n", "\r\n"), ("a\rb\r", "\r"), ("a\r\nb\nc\r\nd", "\r\n"),
])
def test_detect_line_terminator(text: str, expected: str) -> None:
    assert detect_line_terminator(text) == expected


def test_an_unbalanced_quote_is_reported_at_the_record_that_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "unbalanced.csv"
    path.write_text('a,b\n1,"ok"\n2,"oops\n' + "x" * 100 + "\n" * 50)
    dialect = detect_dialect(path, DialectOverrides())
    previous = csv.field_size_limit(64)  # the real limit (FIELD_SIZE_LIMIT) is 64 MiB
    try:
        with pytest.raises(DataError) as caught:
            list(open_records(path, dialect))
    finally:
        csv.field_size_limit(previous)
    assert previous >= FIELD_SIZE_LIMIT
    assert caught.value.line == 3
    assert caught.value.message.startswith("cannot parse the record that starts here: field larger")


# --- structure: comments, preamble, footer, line endings ----------------------------------

# file bytes → (comment, preamble_lines, footer_lines, has_header, header, records)
STRUCTURE = {
    "comments": (b"# exported by x\n# v2\na;b\n1;2\n# inside\n3;4\n# last",
                 ("#", 0, 0, True, ["a", "b"], [(4, ["1", "2"]), (6, ["3", "4"])])),
    "hash-header": (b"#,name,qty\n1,a,2\n2,b,3\n",
                    (None, 0, 0, True, ["#", "name", "qty"], [(2, ["1", "a", "2"]), (3, ["2", "b", "3"])])),
    "title-preamble": (b"Sales report 2024\n\nid,name,amount\n1,Ann,3\n2,Ben,4\n",
                       (None, 2, 0, True, ["id", "name", "amount"],
                        [(4, ["1", "Ann", "3"]), (5, ["2", "Ben", "4"])])),
    "footer-notes": (b"id,name,amount,qty\n1,Ann,3,1\n2,Ben,4,2\n3,Cy,5,3\nTotal,12\n\nSource: ministry\n",
                     (None, 0, 3, True, ["id", "name", "amount", "qty"],
                      [(2, ["1", "Ann", "3", "1"]), (3, ["2", "Ben", "4", "2"]), (4, ["3", "Cy", "5", "3"])])),
    "cr-only": (b"id,name\r1,\"two\rlines\"\r2,b\r",
                (None, 0, 0, True, ["id", "name"], [(2, ["1", "two\rlines"]), (4, ["2", "b"])])),
    "mixed-endings": (b"id,name\r\n1,a\n2,b\r3,c\r\n\r\n4,d",
                      (None, 0, 0, True, ["id", "name"],
                       [(2, ["1", "a"]), (3, ["2", "b"]), (4, ["3", "c"]), (6, ["4", "d"])])),
    "ragged-no-footer": (b"id|text|day|\n7|ragged|\n8|x|2014-01-22|\n",
                         (None, 0, 0, True, ["id", "text", "day", ""],
                          [(2, ["7", "ragged", ""]), (3, ["8", "x", "2014-01-22", ""])])),
}


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_structure_is_detected_and_honoured(tmp_path: Path, name: str) -> None:
    content, (comment, preamble, footer, has_header, header, records) = STRUCTURE[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    dialect = detect_dialect(path, DialectOverrides())
    assert (dialect.comment, dialect.preamble_lines, dialect.footer_lines, dialect.has_header) == (
        comment, preamble, footer, has_header)
    assert read_header(path, dialect) == header
    assert list(open_records(path, dialect)) == records


def test_structure_overrides_win(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_bytes(b"junk line\nid,name\n1,a\n2,b\nend,\n")
    dialect = detect_dialect(path, DialectOverrides(skip_lines=1, footer_lines=1, comment=""))
    assert (dialect.preamble_lines, dialect.footer_lines, dialect.comment) == (1, 1, None)
    assert dialect.header_lines == 2  # what pgloader must skip: the preamble and the header
    assert list(open_records(path, dialect)) == [(3, ["1", "a"]), (4, ["2", "b"])]


def test_footer_of_a_large_file_is_found_in_its_tail(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = b"".join(b"%d,name %d,%d.5,x\n" % (i, i, i) for i in range(HEAD_BYTES // 12))
    path.write_bytes(b"id,name,amount,flag\n" + rows + b"\nNote: provisional figures,,,\n")
    dialect = detect_dialect(path, DialectOverrides())
    assert dialect.footer_lines == 2
    assert sum(1 for _ in open_records(path, dialect)) == HEAD_BYTES // 12


@pytest.mark.parametrize(("bom", "codec"), [(codecs.BOM_UTF16_LE, "utf-16-le"),
                                            (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_utf16_names_its_byte_order_and_strips_the_bom(tmp_path: Path, bom: bytes, codec: str) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(bom + "name,city\r\nJosé,Málaga\r\n".encode(codec))
    dialect = detect_dialect(path, DialectOverrides())
    assert dialect.encoding == codec
    assert read_header(path, dialect) == ["name", "city"]
    assert list(open_records(path, dialect)) == [(2, ["José", "Málaga"])]


@pytest.mark.parametrize(("offset", "codec", "text"), [
    (600_000, "latin-1", "Café"),            # after 500 KB, inside the head
    (3_000_000, "cp1252", "Crème “brûlée”"),  # far past the head: found by the sampled chunks
    (3_000_000, "utf-8", "Zoë"),
], ids=["latin1-600k", "cp1252-3m", "utf8-3m"])
def test_late_non_ascii_gets_the_right_encoding(tmp_path: Path, offset: int, codec: str, text: str) -> None:
    path = tmp_path / "late.csv"
    line = b"1,plain ascii value here\n"
    ascii_rows = line * (offset // len(line))
    late = b"".join(f"{i},{text} {i}\n".encode(codec) for i in range(20_000))
    path.write_bytes(b"id,name\n" + ascii_rows + late)
    dialect = detect_dialect(path, DialectOverrides())
    assert dialect.encoding == codec
    *_, last = open_records(path, dialect)
    assert last[1] == ["19999", f"{text} 19999"]


def test_a_quote_open_at_the_end_of_the_file_is_reported_where_it_opens(tmp_path: Path) -> None:
    path = tmp_path / "eof.csv"
    path.write_bytes(b'id,name\n1,"a"\n2,"b"\n3,"never closed\n4,x\n')
    dialect = detect_dialect(path, DialectOverrides())
    with pytest.raises(DataError) as caught:
        list(open_records(path, dialect))
    assert caught.value.line == 4
    assert "never closed" in caught.value.message


@pytest.mark.parametrize(("text", "expected"), [
    ('id,name\n1,"a, b"\n', '"'),
    ("id\tname\n1\t'a\tb'\n", "'"),
    ('tt1\t"Swing it" magistern\t1940\n', None),  # a literal quote, not quoting
    ("id,name\n1,plain\n", '"'),                   # no quotes at all: the default
], ids=["double", "single", "literal", "none-seen"])
def test_detect_quotechar(text: str, expected: str | None) -> None:
    assert detect_quotechar(text) == expected
