"""pgtypes: each candidate accepts what PostgreSQL accepts for it (a safe subset) and no more."""

from __future__ import annotations

import itertools

import pytest

from csv2pg import pgtypes

# (type, values it must accept, values it must reject)
CASES: list[tuple[str, list[str], list[str]]] = [
    ("boolean",
     ["true", "FALSE", "t", "F", "yes", "No", "y", "N", " true "],
     ["1", "0", "on", "off", "tru", "yess", "", "nope"]),
    ("smallint",
     ["0", "-32768", "32767", "+12", "007", " 42 ", "\t5\n"],
     ["32768", "-32769", "1.0", "1e3", "1,000", "1_000", "0x1F", "", "-", "+", "١٢", "12a"]),
    ("integer",
     ["-2147483648", "2147483647", "32768"],
     ["2147483648", "-2147483649", "3.0", "1e9"]),
    ("bigint",
     ["-9223372036854775808", "9223372036854775807", "0000000000000000000000042"],
     ["9223372036854775808", "-9223372036854775809", "99999999999999999999999", "1.5"]),
    ("numeric",
     ["0", "-1.5", "+.5", "5.", "1.5e3", "1E-7", "NaN", "nan", "123456789012345678901234567890",
      " 3.14 "],
     ["Infinity", "inf", "1,5", "1.2.3", ".", "e5", "1e", "1e1001", "$5", "5%", ""]),
    ("double precision",
     ["1.5", "-2", "1e308", "Infinity", "-Infinity", "inf", "+inf", "-INF", "NaN", "0e-400",
      "2.2e-308"],
     ["1e309", "-1e309", "1e-400", "1,5", "infinite", "1.2.3"]),
    ("date",
     ["2023-01-31", "2024-02-29", "0001-01-01", "9999-12-31", " 2023-01-01 "],
     ["2023-02-30", "2023-02-29", "2023-13-01", "0000-01-01", "2023-1-5", "01/02/2023",
      "20230101", "2023-01-01T00:00", "2023-01-01x"]),
    ("timestamp",
     ["2023-01-31 10:00", "2023-01-31T10:00:59", "2023-01-31 23:59:59.123456",
      "2023-01-31 10:00:00.1234567", "2023-01-31"],
     ["2023-01-31 24:00", "2023-01-31 10:60", "2023-01-31 10:00:60", "2023-01-31 10:00Z",
      "2023-01-31 10:00+02", "2023-02-30 10:00", "2023-01-31t10:00", "2023-01-31 10"]),
    ("timestamptz",
     ["2023-01-31T10:00:00Z", "2023-01-31 10:00+02", "2023-01-31 10:00:00.5-05:30",
      "2023-01-31 10:00:00+0530", "2023-01-31 10:00:00 +01:00"],
     ["2023-01-31 10:00:00", "2023-01-31", "2023-01-31 10:00+16", "2023-01-31 10:00+02:60",
      "2023-01-31 10:00 UTC", "2023-02-30 10:00Z"]),
    ("time",
     ["00:00", "23:59", "10:15:30", "10:15:30.123456", " 08:00 ", "7:00", "0:44:00", "9:05"],
     ["24:00", "23:60", "10:15:60", "9:5", "123:00", "10:15+02", "10h15", "2023-01-01 10:00"]),
    ("uuid",
     ["123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000"],
     ["{123e4567-e89b-12d3-a456-426614174000}", "123e4567e89b12d3a456426614174000",
      " 123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-42661417400g"]),
    # PostgreSQL's cidr also reads plain addresses (as /32) and abbreviations: this does not.
    ("cidr",
     ["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0", "1.2.3.4/32", "2001:db8::/32", "::/0",
      "ff00::/8", "2001:DB8:0:0:0:0:0:0/64", "::1/128"],
     ["10.1.0.0/8", "192.168.1.1/24", "1.2.3.4", "::1", "2001:db8::1/32", "ff80::/8",
      "::ffff:0.0.0.0/96", "10/8", "10.0.0.0/33", " 10.0.0.0/8"]),
    ("inet",
     ["1.2.3.4", "255.255.255.255", "192.168.1.1/24", "10.0.0.0/8", "::", "::1", "1::",
      "2001:db8::1/64", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::ffff:1.2.3.4",
      "1:2:3:4:5:6:1.2.3.4", "FE80::A"],
     ["256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1.2.3.4/33", "1.2.3.4/08", " 1.2.3.4",
      "1.2.3.4 ", "fe80::1%eth0", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:1.2.3.4", "::1/129", "a:b", "12:30"]),
    ("jsonb",
     ["{}", "[]", "[1,2]", '{"a":[1,{"b":null}],"c":{"d":[true,false]}}', '["\\u00e9"]',
      '["\\ud83d\\ude00"]', '{"a":1,"a":2}', "[1e400]", "[1] ", '["a,]", "NaN"]',
      '{"name":"Infinity War"}', "[-0.5E+3]"],
     ['{"a":1', "[1,]", '{"a":1,}', "NaN", '"str"', "1", "[NaN]", "[Infinity]", "[-Infinity]",
      '["\\ud800"]', '["\\u0000"]', "[1e1000]", " [1]", "[1]\v", "{a:1}", "['a']",
      '["a\tb"]', "[True]", '{"a":"b"}{"c":1}', "[01]", "[.5]"]),
]

ACCEPT = [(t, v) for t, accepted, _ in CASES for v in accepted]
REJECT = [(t, v) for t, _, rejected in CASES for v in rejected]


def test_every_candidate_has_cases() -> None:
    assert [t for t, _, _ in CASES] == list(pgtypes.CANDIDATES)


@pytest.mark.parametrize(("type_name", "value"), ACCEPT, ids=[f"{t}:{v!r}" for t, v in ACCEPT])
def test_accepts(type_name: str, value: str) -> None:
    assert pgtypes.parses_as(type_name, value)


@pytest.mark.parametrize(("type_name", "value"), REJECT, ids=[f"{t}:{v!r}" for t, v in REJECT])
def test_rejects(type_name: str, value: str) -> None:
    assert not pgtypes.parses_as(type_name, value)


ALL_VALUES = sorted({v for _, accepted, rejected in CASES for v in accepted + rejected}
                    | {"", " ", "abc", "-", "1" * 400, "1" * 301 + ".5", "N/A"})


@pytest.mark.parametrize("value", ALL_VALUES, ids=repr)
def test_failing_candidates_agrees_with_each_parser(value: str) -> None:
    expected = tuple(t for t in pgtypes.CANDIDATES if not pgtypes.parses_as(t, value))
    assert pgtypes.failing_candidates(value) == expected


@pytest.mark.parametrize("family", pgtypes.FAMILIES, ids=lambda f: f[0])
def test_narrower_members_of_a_family_parse_as_wider_ones(family: tuple[str, ...]) -> None:
    # timestamptz demands a zone, so its family widens only up to timestamp here.
    members = [t for t in family if t != "timestamptz"]
    for narrow, wide in itertools.pairwise(members):
        for value in next(accepted for t, accepted, _ in CASES if t == narrow):
            assert pgtypes.parses_as(wide, value), (narrow, wide, value)


@pytest.mark.parametrize(("value", "shape"), [
    ("12", (2, 0)),
    ("1.50", (1, 2)),      # trailing zeros are part of numeric's scale
    ("007.5", (1, 1)),     # leading zeros are not digits
    ("0.05", (0, 2)),
    ("-12.345e-1", (1, 4)),
    ("1.5e3", (4, 0)),
    ("NaN", None),
    ("abc", None),
    ("1e5000", None),
])
def test_decimal_shape(value: str, shape: tuple[int, int] | None) -> None:
    assert pgtypes.decimal_shape(value) == shape


@pytest.mark.parametrize(("value", "expected"), [
    ("1e5", True), ("-2.5E-3", True), ("15", False), ("1.5", False), ("e", False), ("NaN", False),
])
def test_is_exponent_notation(value: str, expected: bool) -> None:
    assert pgtypes.is_exponent_notation(value) is expected
