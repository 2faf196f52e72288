"""profile: the DuckDB predicates agree with pgtypes' parsers, and the scan's counts."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from csv2pg import pgtypes, profile
from csv2pg.dialect import Dialect
from csv2pg.predicates import PLAIN_RE, SCI_RE, plain_shape, predicate, sci_shape
from csv2pg.profile import LEVELS, Unsupported, scan, supports

TRICKY = [
    "0", "-0", "+0", "+5", "-5", " 5", "5 ", "\t7\n", "007", "00000000000000000000001",
    "1194.44", "1e3", "1E3", "1.5e3", "1e1000", "1e1001", "1e-400", "1e400", "0e999",
    "1_000", "0x1F", "1,000", "", " ", "abc", ".5", "5.", ".", "-.5e-3", "+.e1",
    "NaN", "nan", "-nan", "Infinity", "-Infinity", "+inf", "inf", "infinite",
    "32767", "32768", "-32768", "-32769", "2147483647", "2147483648", "-2147483648",
    "-2147483649", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "99999999999999999999999999999999999999999",
    "1" * 400, "1" * 310 + ".5", "0." + "0" * 400 + "1",
    "true", "FALSE", "t", "F", "yes", "No", "y", "N", "on", "1", "tru",
    "2023-02-28", "2023-02-30", "2024-02-29", "2023-02-29", "0000-01-01", "0001-01-01",
    "9999-12-31", "2023-1-01", "20230101", " 2023-02-28 ",
    "2023-06-28 04:44:38.601", "2023-06-28T04:44:38", "2023-06-28T24:00", "2023-06-28T23:60",
    "2023-06-28T23:59:60", "2023-06-28 04:44", "2023-06-28T04:44:38.1234567890",
    "2023-06-28T04:44:38Z", "2023-06-28T04:44:38+02:00", "2023-06-28T04:44:38-0530",
    "2023-06-28 04:44:38 +02", "2023-06-28T04:44:38+16:00", "2023-06-28T04:44:38+02:60",
    "2023-06-28Z", "2023-02-30T04:44:38Z", "2023-06-28T04:44+02",
    "2023-06-28 04:44:38+02:00", "2023-06-28T04:44:38.123456789+05:30", "0000-01-01T00:00:00Z",
    "0000-01-01 00:00", "9999-12-31T23:59:59.999999999-15:59", "0001-01-01T00:00:00+15:00",
    " 2023-06-28T04:44:38Z", "2023-06-28T04:44:38Z\t", "2024-02-29 23:59:59.999999",
    "2023-02-29 12:00", "2023-06-28\n", "+2023-06-28", "2023-06-28T04:44:38.5 -03:30",
    "24:00", "23:59", "23:59:59", "23:59:60", "00:00:00.123456", "7:00", "12:3", "12:30:00Z",
    "123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000",
    "{123e4567-e89b-12d3-a456-426614174000}", " 123e4567-e89b-12d3-a456-426614174000",
    "123e4567e89b12d3a456426614174000", "g23e4567-e89b-12d3-a456-426614174000",
    "é", "١٢٣", "１２",
    # inet and cidr
    "1.2.3.4", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.4/24",
    "1.2.3.0/24", "10.0.0.0/8", "10.1.0.0/8", "0.0.0.0/0", "1.2.3.4/32", "1.2.3.4/33",
    "1.2.3.4/08", " 1.2.3.4", "1.2.3.4 ", "::", "::1", "::1/128", "1::", "fe80::1%eth0",
    "2001:db8::", "2001:db8::/32", "2001:db8::1/32", "2001:DB8::/48", "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6::7:8",
    "1::2::3", "12345::", "::ffff:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3.4/128", "::ffff:0.0.0.0/96", "ff00::/8",
    "ff80::/8", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124", "::/0", "8000::/1", "::1/129",
    "2001:db8:0:0:0:0:0:0/64", "2001:db8:0:0:0:0:0:1/127", "2001:0db8::/32", "a:b",
    # jsonb
    "{}", "[]", "[1,2]", '{"a":1', "[1,]", '{"a":1,}', "NaN", '"str"', "[NaN]", "[Infinity]",
    "[-Infinity]", "[nan]", "[inf]", '{"a":[1,{"b":null}],"c":{"d":[true,false]}}',
    '["\\u00e9"]', '{"\\u00e9":"\\u00E9"}', '["\\ud83d\\ude00"]', '["\\ud800"]', '["\\udc00"]',
    '["\\u0000"]', '["\\\\u0000"]', "[1e400]", "[1e999]", "[1e1000]", "[1E-400]",
    "[123456789012345678901234567890]", "[01]", "[1.]", "[.5]", "[+1]", " [1]", "[1] ",
    "[1]\t", "[1]\v", "[1]\f", "[1] x", "{a:1}", "['a']", '["a\tb"]', '["\\x41"]', "[True]",
    '{"a":1,"a":2}', '{"a":"b"}{"c":1}', "[1,,2]", "[/*x*/1]", '["a,]"]', '{"name":"Infinity War"}',
    '{"a":"banana"}', "[" * 30 + "]" * 30, '{"k": 1.5e+3, "n": -0}', "[1" + "0" * 1000 + "]",
    "[\"" + "x" * 500 + "\"]", "[null]", "{\"a\":null}", "[\"\\/\"]", "{\"a\":\"\\\"\"}",
    # one-digit hours
    "9:05", "0:44:00", "9:5", "24:00", "23:59:59.5", " 9:05 ", "09:05", "123:00", "9:05:60",
]


@pytest.fixture(scope="module")
def verdicts() -> dict[str, list[bool]]:
    con = duckdb.connect()
    columns = ", ".join(f"{predicate(name, 'v')} AS \"{name}\"" for name in pgtypes.CANDIDATES)
    rows = con.execute(f"SELECT i, {columns} FROM (SELECT unnest($values) AS v, "
                       f"generate_subscripts($values, 1) AS i) ORDER BY i",
                       {"values": TRICKY}).fetchall()
    return {name: [bool(r[k + 1]) for r in rows] for k, name in enumerate(pgtypes.CANDIDATES)}


@pytest.mark.parametrize("type_name", pgtypes.CANDIDATES)
def test_sql_predicate_agrees_with_python_parser(verdicts: dict[str, list[bool]],
                                                 type_name: str) -> None:
    disagree = [(value, sql) for value, sql in zip(TRICKY, verdicts[type_name], strict=True)
                if sql != pgtypes.parses_as(type_name, value)]
    assert disagree == []


def test_every_candidate_has_a_level() -> None:
    assert {name for level in LEVELS.values() for name in level} == set(pgtypes.CANDIDATES)


def dialect(**changes: object) -> Dialect:
    base = {"encoding": "utf-8", "delimiter": ",", "quotechar": '"', "escapechar": None,
            "has_header": True, "header_lines": 1, "line_terminator": "\n"}
    return Dialect(**{**base, **changes})  # type: ignore[arg-type]


def test_scan_counts(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('a,b\n1,x\n,NA\n"70000",2.50\n-3,1e3\n', encoding="utf-8")
    rows, (a, b) = scan(path, dialect(), 2, frozenset({"NA"}), [("integer",), ("number",)])
    assert rows == 4
    assert (a.non_null, a.ok, a.integer_min, a.integer_max) == (
        3, {"smallint": 2, "integer": 3, "bigint": 3}, -3, 70000)
    assert (b.non_null, b.null_tokens, b.ok["numeric"], b.max_scale, b.max_integer_digits,
            b.exponent_values) == (3, {"NA": 1}, 2, 2, 4, 1)


@pytest.mark.parametrize(("changes", "content"), [
    ({"encoding": "cp1252"}, b"a,b\n1,2\n"),
    ({"line_terminator": "\r"}, b"a,b\r1,2\r"),
    ({"escapechar": "\\"}, b"a,b\n1,2\n"),
    ({"footer_lines": 1}, b"a,b\n1,2\ntotal\n"),
    ({}, b"a,b\n1,\x002\n"),
])
def test_unsupported_dialects_are_refused(tmp_path: Path, changes: dict[str, object],
                                          content: bytes) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(content)
    assert supports(path, dialect(**changes), 2) is not None
    with pytest.raises(Unsupported):
        scan(path, dialect(**changes), 2, frozenset(), [(), ()])


def test_ragged_rows_are_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n3\n4,5,6\n", encoding="utf-8")
    with pytest.raises(Unsupported):
        scan(path, dialect(), 2, frozenset(), [(), ()])


SHAPES = ["0", "-0", "+0", "007", "007.50", "0.", "0.0", ".5", "5.", "-.5", "+12.340", "1194.44",
          "000", "0.001", "100", "-100.0", "9" * 30 + ".1", "0" * 5 + "1" * 5,
          "1.2345e+05", "-1.5E-3", "0e0", "0.000e-999", "12e999", "1e-999", "9.99e307",
          "1.8e308", "2.5e-308", "5e-324", "+.5e2", "007.10e1", "-1.2300e-2", "45E3", "4.e1",
          "-0.5", "+00.000", "-.0e5"]


@pytest.mark.parametrize("shape", [plain_shape, sci_shape])
def test_fast_shapes_agree_with_decimal_shape(shape: Any) -> None:
    digits, scale = shape("v")
    rows = duckdb.connect().execute(
        f"SELECT {digits}, {scale} FROM (SELECT unnest($values) AS v, "
        f"generate_subscripts($values, 1) AS i) ORDER BY i", {"values": SHAPES}).fetchall()
    pattern = PLAIN_RE if shape is plain_shape else SCI_RE
    assert [tuple(r) for r, v in zip(rows, SHAPES, strict=True) if re.fullmatch(pattern, v)] == [
        pgtypes.decimal_shape(v) for v in SHAPES if re.fullmatch(pattern, v)]


@pytest.mark.parametrize("candidate", pgtypes.CANDIDATES)
def test_proposal_counts_agree_with_python(tmp_path: Path, candidate: str) -> None:
    """A one-check proof counts what the parsers accept, for the proposal and its family."""
    values = [v for v in TRICKY + SHAPES if v.strip(pgtypes.PG_SPACE)]
    path = tmp_path / "a.csv"
    quoted = (v.replace('"', '""') for v in values)
    path.write_text("a,b\n" + "".join(f'"{v}",x\n' for v in quoted), encoding="utf-8")
    rows, (a, _) = scan(path, dialect(), 2, frozenset(), [candidate, None])
    assert (rows, a.non_null) == (len(values), len(values))
    expected = {name: sum(pgtypes.parses_as(name, v) for v in values) for name in a.ok}
    assert a.ok == expected
    assert candidate in a.ok
    if "numeric" in a.ok:
        shapes = [s for v in values if (s := pgtypes.decimal_shape(v)) is not None]
        assert (a.max_integer_digits, a.max_scale) == (max(d for d, _ in shapes),
                                                       max(s for _, s in shapes))
        assert a.exponent_values == sum(
            pgtypes.parses_as("numeric", v) and pgtypes.is_exponent_notation(v) for v in values)
    if "bigint" in a.ok:
        integers = [int(v) for v in values if pgtypes.parses_as("bigint", v)]
        assert (a.integer_min, a.integer_max) == (min(integers), max(integers))


@pytest.mark.parametrize("candidate", sorted(profile.TIGHT))
def test_tight_date_proofs_agree_with_python_value_by_value(candidate: str) -> None:
    """The date and time proofs, which trim only values off their shape, hold exactly where
    the parser accepts, and give the bounds the general cast gives."""
    proof = profile._proof(candidate, "v")
    general = profile.bound_sql(candidate, "v")
    con = duckdb.connect()
    rows = con.execute(f"SELECT i, {', '.join(proof + general)} FROM (SELECT unnest($values) "
                       f"AS v, generate_subscripts($values, 1) AS i) GROUP BY i ORDER BY i",
                       {"values": TRICKY}).fetchall()
    for value, (_, ok, *rest) in zip(TRICKY, rows, strict=True):
        assert bool(ok) == pgtypes.parses_as(candidate, value), value
        if candidate == "timestamp":
            is_date = rest.pop(0)
            assert bool(is_date) == pgtypes.parses_as("date", value), value
        if ok:
            assert rest[:2] == rest[2:], value


def test_digits_beyond_double_precision_ask_for_the_exact_pass(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n99999999999999999.5,x\n1.25,x\n", encoding="utf-8")
    _, (a, _) = scan(path, dialect(), 2, frozenset(), ["numeric", None])
    assert a.needs_exact
    _, (exact, _) = scan(path, dialect(), 2, frozenset(), [("number",), None])
    assert (exact.needs_exact, exact.max_integer_digits, exact.max_scale) == (False, 17, 2)


def test_a_scan_over_its_memory_limit_spills_outside_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact distinct counts of a big file spill to a temporary directory of csv2pg's (not
    to DuckDB's default ``.tmp`` in the user's project) and are still exact."""
    import csv2pg.profile as profile_module

    rows = 3_000_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("id,label\n")
        out.writelines(f"{i},label number {i} padded to make the strings longer\n" for i in range(rows))
        out.write("7,duplicate id\n")
    spills: list[str] = []
    spilled: set[str] = set()

    class Spill(tempfile.TemporaryDirectory[str]):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            spills.append(self.name)

    def watch() -> None:   # DuckDB deletes its spill files as it goes: look while it runs
        while not done.is_set():
            for name in list(spills):
                with contextlib.suppress(OSError):
                    spilled.update(os.listdir(name))
            time.sleep(0.005)

    monkeypatch.setattr(profile_module.tempfile, "TemporaryDirectory", Spill)
    monkeypatch.setattr(profile_module, "MEMORY_LIMIT", "300MB")
    monkeypatch.chdir(tmp_path)
    sql = (f"SELECT count(DISTINCT c0), count(DISTINCT c1), count(*) "
           f"FROM {profile_module._read_csv(2, dialect())}")
    done = threading.Event()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert profile_module.run_query(sql, path, threads=2) == (rows, rows + 1, rows + 1)
    finally:
        done.set()
        watcher.join()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]
    assert spilled   # the limit was reached, and DuckDB wrote where it was told
    # A limit DuckDB cannot work under (it keeps some buffers in memory): asked again without.
    monkeypatch.setattr(profile_module, "MEMORY_LIMIT", "100MB")
    with duckdb.connect(config={"threads": 2, "memory_limit": "100MB"}) as con, \
            pytest.raises(duckdb.OutOfMemoryException):
        con.execute(sql, {"path": str(path)}).fetchone()
    assert profile_module.run_query(sql, path, threads=2) == (rows, rows + 1, rows + 1)
