"""stages.infer: heuristic decisions from real profiles, null-token policy, chunking, schema."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from csv2pg.artifacts import validation_errors
from csv2pg.settings import TableSettings
from csv2pg.stages.infer import (
    build_chunk_types,
    chunk_plan,
    decide,
    is_boolean_name,
    is_identifier_name,
    support,
)
from csv2pg.stages.sample import build_sample

HASH = "0" * 32


def table_for(path: Path, **settings: Any) -> TableSettings:
    return TableSettings(name="t", source=path, source_text=path.name, table="t",
                         db_schema="public", **settings)


def infer_columns(tmp_path: Path, columns: dict[str, list[str]], **settings: Any) -> list[dict[str, Any]]:
    """Write ``columns`` as a CSV, profile it, and return every column's decision."""
    path = tmp_path / "profile_infer.csv"
    rows = max((len(v) for v in columns.values()), default=0)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(columns))
        for i in range(rows):
            writer.writerow([values[i] if i < len(values) else "" for values in columns.values()])
    table = table_for(path, **settings)
    sample = build_sample(table, HASH, HASH)
    plan = chunk_plan(table, [c["column"] for c in sample["columns"]])
    decided = [c for chunk in range(len(plan)) for c in build_chunk_types(table, sample, chunk)]
    document = {"schema_version": 1, "table": "t", "chunk": 0,
                "inputs": {"sample": HASH, "options": HASH}, "columns": decided}
    assert validation_errors("types", document) == []
    return decided


def decide_one(tmp_path: Path, header: str, values: list[str], **settings: Any) -> dict[str, Any]:
    return infer_columns(tmp_path, {header: values}, **settings)[0]


DATES = ["2023-01-31", "2024-02-29"]
# (case id, header, values, type, reason)
TYPE_CASES: list[tuple[str, str, list[str], str, str]] = [
    ("yes-no", "member", ["yes", "no", "Yes", "N"], "boolean",
     "every non-null value is a yes/no spelling (true/false, t/f, yes/no, y/n)"),
    ("true-false", "flag", ["true", "false", "t", "f"], "boolean",
     "every non-null value is a yes/no spelling (true/false, t/f, yes/no, y/n)"),
    ("zero-one", "flag", ["0", "1", "1"], "smallint",
     "every non-null value parses as integer; range fits smallint"),
    ("smallint", "qty", ["1", "-32768", "32767"], "smallint",
     "every non-null value parses as integer; range fits smallint"),
    ("integer", "qty", ["1", "40000"], "integer",
     "every non-null value parses as integer; range fits integer"),
    ("bigint", "qty", ["1", "3000000000"], "bigint",
     "every non-null value parses as integer; range fits bigint"),
    ("id", "id", ["1", "2"], "bigint",
     "every non-null value parses as integer; identifier-like name gets bigint"),
    ("suffix-id", "customer_id", ["7"], "bigint",
     "every non-null value parses as integer; identifier-like name gets bigint"),
    ("camel-id", "customerId", ["7"], "bigint",
     "every non-null value parses as integer; identifier-like name gets bigint"),
    ("prefix-id", "id_order", ["7"], "bigint",
     "every non-null value parses as integer; identifier-like name gets bigint"),
    ("huge-id", "id", ["1", "99999999999999999999"], "numeric",
     "every non-null value is an integer; some are beyond bigint, so numeric"),
    ("decimal", "price", ["1.50", "2", "-0.25"], "numeric",
     "every non-null value is a decimal number; numeric keeps them exact"),
    ("exponent", "mass", ["1.5e3", "2"], "double precision",
     "every non-null value parses as double precision; exponent notation or infinity occurs"),
    ("infinity", "limit", ["1.5", "Infinity"], "double precision",
     "every non-null value parses as double precision; exponent notation or infinity occurs"),
    ("date", "day", DATES, "date", "every non-null value is an ISO date (YYYY-MM-DD)"),
    ("timestamp", "at", [*DATES, "2023-01-31 10:00:00"], "timestamp",
     "every non-null value is an ISO date or date and time without a time zone"),
    ("timestamptz", "at", ["2023-01-31T10:00:00Z", "2023-01-31 10:00+02"], "timestamptz",
     "every non-null value is an ISO date and time with a time zone"),
    ("time", "opens", ["08:00", "17:30:15"], "time",
     "every non-null value is a time of day (HH:MM[:SS])"),
    ("uuid", "ref", ["123e4567-e89b-12d3-a456-426614174000"], "uuid",
     "every non-null value is a UUID"),
    ("one-digit-hour", "departs", ["0:44:00", "9:05", "23:59"], "time",
     "every non-null value is a time of day (HH:MM[:SS])"),
    ("inet", "ip", ["192.168.1.1", "::1", "2001:db8::1/64"], "inet",
     "every non-null value is an IPv4 or IPv6 address, with or without a prefix length"),
    ("inet-host-bits", "subnet", ["10.0.0.0/8", "10.1.2.3/8"], "inet",
     "every non-null value is an IPv4 or IPv6 address, with or without a prefix length"),
    ("cidr", "subnet", ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"], "cidr",
     "every non-null value is an IP network: a prefix length and no bit set right of it"),
    ("bad-ip", "ip", ["192.168.1.1", "192.168.1.256"], "text",
     "no candidate type accepts every non-null value"),
    ("jsonb", "payload", ['{"a": 1}', "[1, 2]", '{"b": {"c": null}}'], "jsonb",
     "every non-null value is a JSON object or array"),
    ("json-scalar", "payload", ['{"a": 1}', '"str"'], "text",
     "no candidate type accepts every non-null value"),
    ("json-nan", "payload", ['{"a": 1}', "[NaN]"], "text",
     "no candidate type accepts every non-null value"),
    ("is-zero-one", "is_active", ["0", "1", "1", ""], "boolean",
     "every non-null value is 0 or 1 and the name is a yes/no fact"),
    ("has-zero-one", "has_children", ["1", "1"], "boolean",
     "every non-null value is 0 or 1 and the name is a yes/no fact"),
    ("suffix-flag", "fraud_flag", ["0", "1"], "boolean",
     "every non-null value is 0 or 1 and the name is a yes/no fact"),
    ("deleted", "deleted", ["0", "1"], "boolean",
     "every non-null value is 0 or 1 and the name is a yes/no fact"),
    ("boolean-name-two", "is_active", ["0", "1", "2"], "smallint",
     "every non-null value parses as integer; range fits smallint"),
    ("boolean-name-signed", "is_active", ["0", "+1"], "smallint",
     "every non-null value parses as integer; range fits smallint"),
    ("boolean-name-padded", "enabled", ["00", "01"], "text",
     "leading zeros: digit codes stay text"),
    ("count-not-flag", "children", ["0", "1"], "smallint",
     "every non-null value parses as integer; range fits smallint"),
    ("leading-zeros", "zip", ["00501", "10001"], "text", "leading zeros: digit codes stay text"),
    ("zip-by-name", "incident_zip", ["11207", "10305"], "text",
     "postal or FIPS code by name: digit codes stay text"),
    ("zip-as-float", "postal_code", ["27217.0", "3301.0", ""], "text",
     "postal or FIPS code by name: digit codes stay text"),
    ("fips-by-name", "fips", ["20001", "20209"], "text",
     "postal or FIPS code by name: digit codes stay text"),
    ("zipper-is-no-zip", "zipper_count", ["1", "2"], "smallint",
     "every non-null value parses as integer; range fits smallint"),
    ("bad-date", "day", ["2023-01-31", "2023-02-30"], "text",
     "no candidate type accepts every non-null value"),
    ("mixed", "code", ["12", "abc"], "text", "no candidate type accepts every non-null value"),
    ("mostly-integer", "qty", [str(i) for i in range(40)] + ["about 5"], "text",
     "mostly smallint but some values are not: kept as text"),
    ("all-empty", "nothing", ["", ""], "text", "no non-null values"),
]


@pytest.mark.parametrize(("header", "values", "type_name", "reason"),
                         [c[1:] for c in TYPE_CASES], ids=[c[0] for c in TYPE_CASES])
def test_type_and_reason(tmp_path: Path, header: str, values: list[str], type_name: str,
                         reason: str) -> None:
    decision = decide_one(tmp_path, header, values)
    assert (decision["type"], decision["reason"]) == (type_name, reason)
    assert decision["source"] == "heuristic"


# (case id, values, configured tokens, type, nullable, null_tokens)
NULL_CASES: list[tuple[str, list[str], tuple[str, ...], str, bool, list[str]]] = [
    ("NA-among-numbers", ["1", "NA", "3"], (), "smallint", True,
     ["#NULL!", "-", "N/A", "NA", "NULL", "null"]),
    ("NA-among-codes", ["NA", "FR", "DE"], (), "text", False, []),
    ("configured-in-text", ["abc", "n/a", "def"], ("n/a",), "text", True, ["n/a"]),
    ("configured-and-default", ["1", "n/a", "NA"], ("n/a",), "smallint", True,
     ["#NULL!", "-", "N/A", "NA", "NULL", "n/a", "null"]),
    ("no-nulls", ["1", "2"], (), "smallint", False,
     ["#NULL!", "-", "N/A", "NA", "NULL", "null"]),
    ("empty-value", ["a", ""], (), "text", True, []),
    ("only-tokens", ["NA", "NA"], (), "text", True, ["#NULL!", "-", "N/A", "NA", "NULL", "null"]),
]


@pytest.mark.parametrize(("values", "configured", "type_name", "nullable", "tokens"),
                         [c[1:] for c in NULL_CASES], ids=[c[0] for c in NULL_CASES])
def test_null_tokens_apply_only_where_consistent(
        tmp_path: Path, values: list[str], configured: tuple[str, ...], type_name: str,
        nullable: bool, tokens: list[str]) -> None:
    decision = decide_one(tmp_path, "value", values, null_tokens=configured)
    assert (decision["type"], decision["nullable"], decision["null_tokens"]) == (
        type_name, nullable, tokens)


@pytest.mark.parametrize(("values", "reason"), [
    (["NA", "FR", "DE"], "no candidate type accepts every non-null value"),
    (["00501", "NA", "02134"], "leading zeros: digit codes stay text"),
], ids=["codes", "zip"])
def test_default_tokens_are_data_in_text_columns(tmp_path: Path, values: list[str],
                                                 reason: str) -> None:
    decision = decide_one(tmp_path, "code", values)
    assert (decision["type"], decision["reason"]) == ("text", reason)
    assert (decision["nullable"], decision["null_tokens"]) == (False, [])


def test_header_only_file_gives_nullable_text(tmp_path: Path) -> None:
    decisions = infer_columns(tmp_path, {"a": [], "b": []})
    assert [(d["type"], d["nullable"], d["reason"]) for d in decisions] == [
        ("text", True, "no non-null values")] * 2


def test_decision_records_header_and_column(tmp_path: Path) -> None:
    decision = decide_one(tmp_path, "Order Date", DATES)
    assert (decision["header"], decision["column"]) == ("Order Date", "order_date")


def test_reasons_do_not_change_when_rows_are_appended(tmp_path: Path) -> None:
    few = infer_columns(tmp_path, {"qty": ["1", "2"], "name": ["a", "b"], "zip": ["01", "02"]})
    more = infer_columns(tmp_path, {"qty": [str(i) for i in range(500)],
                                    "name": [f"n{i}" for i in range(500)],
                                    "zip": [f"0{i}" for i in range(500)]})
    assert [(d["type"], d["reason"]) for d in few] == [(d["type"], d["reason"]) for d in more]


@pytest.mark.parametrize(("non_null", "expected"), [
    (0, 0.0), (1, 0.6), (10, 0.8), (100, 1.0), (10_000, 1.0),
])
def test_support(non_null: int, expected: float) -> None:
    assert support(non_null) == pytest.approx(expected)


def test_confidence_grows_with_evidence(tmp_path: Path) -> None:
    one = decide_one(tmp_path, "qty", ["5"])["confidence"]
    many = decide_one(tmp_path, "qty", [str(i) for i in range(200)])["confidence"]
    assert 0 < one < many == 1.0


@pytest.mark.parametrize(("column", "expected"), [
    ("id", True), ("user_id", True), ("id_user", True), ("idea", False), ("paid", False),
    ("valid", False), ("identity", False),
])
def test_is_identifier_name(column: str, expected: bool) -> None:
    assert is_identifier_name(column) is expected


@pytest.mark.parametrize(("column", "expected"), [
    ("is_active", True), ("has_children", True), ("fraud_flag", True), ("active", True),
    ("enabled", True), ("deleted", True), ("account_enabled", True), ("is_", False),
    ("flag", False), ("island", False), ("hash_id", False), ("flagged_count", False),
    ("deleted_rows", False), ("activity", False), ("children", False),
])
def test_is_boolean_name(column: str, expected: bool) -> None:
    assert is_boolean_name(column) is expected


def test_zero_one_boolean_is_less_certain_than_a_spelled_boolean(tmp_path: Path) -> None:
    digits = decide_one(tmp_path, "is_active", ["0", "1"] * 100)
    words = decide_one(tmp_path, "is_active", ["no", "yes"] * 100)
    assert (digits["type"], digits["confidence"], words["confidence"]) == ("boolean", 0.9, 1.0)


def test_decide_takes_the_first_rule_that_answers() -> None:
    from csv2pg.stages.infer import Verdict

    profile = {"non_null": 3}
    rules = (lambda p, c: None, lambda p, c: Verdict("date", 0.7, "first"),
             lambda p, c: Verdict("uuid", 0.9, "second"))
    assert decide(profile, "x", rules) == Verdict("date", 0.7, "first")


def test_chunks_cover_their_slice_of_columns(tmp_path: Path) -> None:
    path = tmp_path / "profile_chunks.csv"
    path.write_text(",".join(f"c{i}" for i in range(5)) + "\n" + ",".join("1" * 5) + "\n")
    table = table_for(path, chunk_size=2)
    sample = build_sample(table, HASH, HASH)
    chunks = [[c["column"] for c in build_chunk_types(table, sample, n)] for n in range(3)]
    assert chunks == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    with pytest.raises(ValueError, match="chunk 3 is out of range"):
        build_chunk_types(table, sample, 3)


def test_related_columns_share_a_chunk(tmp_path: Path) -> None:
    path = tmp_path / "profile_related.csv"
    path.write_text("id,geo_lat,name,geo_lon,note\n1,2.5,a,3.5,x\n")
    table = table_for(path, chunk_size=3)
    sample = build_sample(table, HASH, HASH)
    assert [[c["column"] for c in build_chunk_types(table, sample, n)] for n in range(2)] == [
        ["id", "geo_lat", "geo_lon"], ["name", "note"]]
