"""csv2pg/normalize.py: when pgloader needs a normalized copy, and what that copy holds."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest

from csv2pg.dialect import Dialect
from csv2pg.normalize import needs_normalizing, source_line, write_normalized


def dialect(**changes: object) -> Dialect:
    base: dict[str, object] = {"encoding": "utf-8", "delimiter": ",", "quotechar": '"',
                               "escapechar": None, "has_header": True, "header_lines": 1,
                               "line_terminator": "\n"}
    return Dialect.from_dict({**base, **changes})


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


PLAIN = b'id,name\n1,"Smith, J."\n2,"say ""hi"""\n'


def test_a_plain_file_is_read_directly(tmp_path: Path) -> None:
    assert needs_normalizing(dialect(), [write(tmp_path, "a.csv", PLAIN)]) is None
    crlf = write(tmp_path, "b.csv", PLAIN.replace(b"\n", b"\r\n"))
    assert needs_normalizing(dialect(line_terminator="\r\n"), [crlf]) is None


CASES = [
    (PLAIN, {"encoding": "utf-16-le"}, "the file is UTF-16-LE"),
    (PLAIN, {"encoding": "utf-16"}, "the file is UTF-16"),
    (PLAIN, {"encoding": "mac-greek"}, "pgloader 3.6 cannot read the encoding mac-greek"),
    (PLAIN, {"line_terminator": "\r"}, "its lines end with CR alone"),
    (PLAIN, {"comment": "#"}, "it has comment lines (starting with #)"),
    (PLAIN, {"preamble_lines": 2}, "it has 2 preamble lines before the data"),
    (PLAIN, {"footer_lines": 1}, "it has 1 footer lines after the data"),
    (PLAIN, {"escapechar": "\\"}, "its fields use \\ as an escape character"),
    (PLAIN, {"quotechar": "'"}, "its quote character is '"),
    (b"id,name\r\n1,a\r2,b\r\n", {"line_terminator": "\r\n"}, "its line ends are mixed"),
    (b"id,name\n1,a\r2,b\n", {}, "its line ends are mixed"),
    (b'id,name\n1,a"b\n', {}, "it has quote characters in the middle of a value"),
    (b'id,name\n1,"a"b\n', {}, "it has quote characters in the middle of a value"),
    (b'id,name\n1, "a"\n', {}, "it has quote characters in the middle of a value"),
    (b"id,name\r\n1, \r\n", {"line_terminator": "\r\n"},
     "its lines end with CRLF and values have blanks at their edges"),
    (b"id,name\r\n1,Alice \r\n", {"line_terminator": "\r\n"},
     "its lines end with CRLF and values have blanks at their edges"),
    (b'id,name\r\n"x", Bob\r\n', {"line_terminator": "\r\n"},
     "its lines end with CRLF and values have blanks at their edges"),
    (b"id,name\n1,a\n\n2,b\n", {}, "it has blank lines"),
    (b"\nid,name\n1,a\n", {}, "it has blank lines"),
    (b"id,name\n1,\xff\n", {}, "it has bytes that are not valid utf-8"),
]


@pytest.mark.parametrize(("data", "changes", "reason"), CASES)
def test_what_pgloader_cannot_read(tmp_path: Path, data: bytes, changes: dict[str, object],
                                   reason: str) -> None:
    found = needs_normalizing(dialect(**changes), [write(tmp_path, "a.csv", data)])
    assert found is not None and found.startswith(reason)


@pytest.mark.parametrize(("data", "changes"), [
    *((data, changes) for data, changes, _ in CASES if b"\xff" not in data),
    (PLAIN, {}), (b"\xef\xbb\xbf" + PLAIN, {}), (b'\xef\xbb\xbf"id",name\n"1",a\n', {}),
    ('id,name\n1,"Genève"\n2,"é"\n3,ü"x"\n'.encode(), {}),
    ('id;name\r\n1;"Zürich "\r\n'.encode("cp1252"), {"encoding": "cp1252", "delimiter": ";",
                                                      "line_terminator": "\r\n"}),
    ('id,name\n1,"«a»"\n'.encode("latin-1"), {"encoding": "latin-1"}),
])
def test_a_file_whose_encoding_was_checked_is_scanned_without_decoding_alike(
        tmp_path: Path, data: bytes, changes: dict[str, object]) -> None:
    path = write(tmp_path, "a.csv", data)
    assert needs_normalizing(dialect(**changes), [path], encoding_checked=True) == \
        needs_normalizing(dialect(**changes), [path])


def test_compressed_and_several_files(tmp_path: Path) -> None:
    gz = write(tmp_path, "a.csv.gz", gzip.compress(PLAIN))
    assert needs_normalizing(dialect(), [gz]) == "the file is gzip-compressed"
    disguised = write(tmp_path, "b.csv", bz2.compress(PLAIN))
    assert needs_normalizing(dialect(), [disguised]) == "the file is bz2-compressed"
    plain = write(tmp_path, "c.csv", PLAIN)
    assert needs_normalizing(dialect(), [plain, plain]) == "the table has 2 files and pgloader reads one"


def test_write_normalized(tmp_path: Path) -> None:
    first = write(tmp_path, "a.csv", "id;name\r1;'Crème; brûlée'\r2;''\r".encode("utf-16"))
    second = write(tmp_path, "b.csv", "id;name\r\r3;'it''s \"x\"'\r4;'two\rlines'\r".encode("utf-16"))
    out = tmp_path / "work" / "normalized.csv"
    d = dialect(encoding="utf-16", delimiter=";", quotechar="'", line_terminator="\r")
    assert write_normalized([first, second], d, out) == 4
    assert out.read_bytes().decode("utf-8") == (
        '1,Crème; brûlée\n2,\n3,"it\'s ""x"""\n4,"two\rlines"\n')
    assert [source_line(out, n) for n in (1, 2, 3, 4)] == [
        (first, 2), (first, 3), (second, 3), (second, 4)]
    with pytest.raises(ValueError):
        source_line(out, 5)
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "normalized.csv", "normalized.csv.files.json", "normalized.csv.lines"]


def test_a_single_empty_field_stays_a_record(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b"name\n\"\"\nx\n")
    out = tmp_path / "n.csv"
    assert write_normalized([path], dialect(), out) == 2
    assert out.read_text(encoding="utf-8") == '""\nx\n'


def test_write_normalized_applies_the_transform_and_skips_loaded_records(tmp_path: Path) -> None:
    source = write(tmp_path, "a.csv", b'id,price\n1,"1.234,5"\n2,"7,25"\n3,"9,00"\n')
    out = tmp_path / "normalized.csv"

    def decimal_comma(fields: list[str]) -> list[str]:
        return [fields[0], fields[1].replace(".", "").replace(",", ".")]

    assert write_normalized([source], dialect(), out, transform=decimal_comma, skip_records=1) == 2
    assert out.read_text(encoding="utf-8") == "2,7.25\n3,9.00\n"
    # The line map still points at the source lines of the records written.
    assert source_line(out, 1) == (source, 3)
    assert source_line(out, 2) == (source, 4)


def test_a_checked_encoding_is_not_decoded_again(tmp_path: Path) -> None:
    # The caller vouches for the bytes (DuckDB read them all): they are not decoded again.
    bad = write(tmp_path, "a.csv", b"id,name\n1,\xff\n")
    assert needs_normalizing(dialect(), [bad]) == "it has bytes that are not valid utf-8"
    assert needs_normalizing(dialect(), [bad], encoding_checked=True) is None
