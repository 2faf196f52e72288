"""schema:T — overrides bypass inference but not the proof."""

from __future__ import annotations

from pathlib import Path

import pytest

from csv2pg.errors import ConfigError, DataError
from csv2pg.settings import TableSettings
from csv2pg.stages.infer import build_chunk_types
from csv2pg.stages.sample import build_sample
from csv2pg.stages.schema import build_table_schema

HASH = "0" * 32


def schema_for(tmp_path: Path, text: str, **overrides: str) -> dict[str, object]:
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    table = TableSettings(name="t", source=path, source_text="t.csv", table="t", db_schema="public",
                          sources=(path,), columns=tuple(sorted(overrides.items())))
    sample = build_sample(table, HASH, HASH)
    return build_table_schema(table, sample, [build_chunk_types(table, sample, 0)])


def test_an_override_that_fits_wins(tmp_path: Path) -> None:
    schema = schema_for(tmp_path, "id,amount\n1,12.50\n2,999.99\n", amount="numeric(5,2)")
    amount = schema["columns"][1]  # type: ignore[index]
    assert (amount["type"], amount["source"]) == ("numeric(5,2)", "override")


@pytest.mark.parametrize(("override", "message"), [
    ("integer", "but 2 value(s) are not integer (line 2: '12.50', line 3: '999.99')"),
    ("numeric(4,2)", "some values have 3 digits before the decimal point and numeric(4,2) holds at most 2"),
    ("varchar(5)", "its longest value has 6 characters"),
    ("date", "but 2 value(s) are not date (line 2: '12.50', line 3: '999.99')"),
])
def test_an_override_the_data_contradicts_fails_with_lines(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        schema_for(tmp_path, "id,amount\n1,12.50\n2,999.99\n", amount=override)
    assert message in str(caught.value)
    assert f"column 'amount' is forced to {override}" in str(caught.value)


def test_an_override_of_a_missing_column_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='did you mean "amount"'):
        schema_for(tmp_path, "id,amount\n1,12.50\n", amuont="numeric")


@pytest.mark.parametrize(("override", "good", "bad"), [
    ("money", ["$1,234.56", "(5.00)", "-$5", "12"], ["1.234,56", "$12.345"]),
    ("interval", ["1 day", "3 hours 20 minutes", "00:30:00", "P1Y2M3DT4H", "2 weeks ago"],
     ["1 fortnight", "soon"]),
    ("macaddr", ["08:00:2b:01:02:03", "08-00-2b-01-02-03", "0800.2b01.0203", "08002b010203"],
     ["08:00:2b:01:02", "zz:00:2b:01:02:03"]),
    ("bytea", ["\\x0a0b", "plain text", "a\\\\b", "a\\001"], ["\\x0", "a\\9"]),
    ("real", ["1.5", "3e38", "-2"], ["1e39"]),
])
def test_an_override_the_profile_did_not_test_is_proven_by_a_pass(
        tmp_path: Path, override: str, good: list[str], bad: list[str]) -> None:
    def csv(values: list[str]) -> str:
        return "id,v\n" + "".join(f'{i},"{v}"\n' for i, v in enumerate(["NA", *values]))
    schema = schema_for(tmp_path, csv(good), v=override)
    column = schema["columns"][1]  # type: ignore[index]
    assert (column["type"], column["nullable"]) == (override, True)  # NA is NULL
    with pytest.raises(DataError) as caught:
        schema_for(tmp_path, csv(good + bad), v=override)
    lines = ", ".join(f"line {len(good) + 3 + k}: {v!r}" for k, v in enumerate(bad))
    assert (f"column 'v' is forced to {override} in [tables.t.columns], but {len(bad)} value(s) "
            f"are not {override} ({lines})") in str(caught.value)


def test_a_transform_is_recorded_with_the_decision(tmp_path: Path) -> None:
    schema = schema_for(tmp_path, "id;amount;day\n1;1.234,50;13/01/2020\n2;7,25;01/02/2020\n")
    columns = {c["column"]: c for c in schema["columns"]}  # type: ignore[attr-defined]
    assert (columns["amount"]["type"], columns["day"]["type"]) == ("numeric", "date")
    assert columns["amount"]["transform"] == {"kind": "number", "decimal": ",", "group": ".",
                                              "currency": None, "percent": False}
    assert columns["day"]["transform"] == {"kind": "date", "order": "dmy", "separator": "/",
                                           "month": "number"}
    assert "transform" not in columns["id"]


def test_an_override_reads_formatted_numbers_through_their_transform(tmp_path: Path) -> None:
    text = "id,qty\n1,\"1,234,567\"\n2,\"12,000\"\n"
    schema = schema_for(tmp_path, text, qty="integer")
    assert schema["columns"][1]["transform"]["group"] == ","  # type: ignore[index]
    with pytest.raises(DataError, match="some values are beyond smallint's range"):
        schema_for(tmp_path, text, qty="smallint")


@pytest.mark.parametrize(("text", "unique", "key"), [
    ("id,name\n1,a\n2,b\n3,a\n", {"id": True, "name": False}, ["id"]),
    ("id,name\n1,a\n1,b\n", {"id": False, "name": True}, []),       # a duplicate id: no key
    ("id,code\n1,NA\n2,NA\n3,x\n", {"id": True, "code": False}, ["id"]),  # NA twice is data
    ("id,n\n1,NA\n2,NA\n3,5\n", {"id": True, "n": True}, ["id"]),        # NA is NULL here
])
def test_unique_is_an_exact_fact_and_drives_the_key(
        tmp_path: Path, text: str, unique: dict[str, bool], key: list[str]) -> None:
    schema = schema_for(tmp_path, text)
    assert {c["column"]: c["unique"] for c in schema["columns"]} == unique  # type: ignore[attr-defined]
    assert schema["suggested_primary_key"] == key


def test_unique_is_exact_on_long_files(tmp_path: Path) -> None:
    # 5000 distinct ids but one duplicate: an estimate cannot see it, count(DISTINCT) does.
    rows = [f"{i},{i % 7}" for i in range(5000)] + ["4321,1"]
    schema = schema_for(tmp_path, "id,k\n" + "\n".join(rows) + "\n")
    assert [c["unique"] for c in schema["columns"]] == [False, False]  # type: ignore[attr-defined]
    assert schema["suggested_primary_key"] == []
    schema = schema_for(tmp_path, "id,k\n" + "\n".join(rows[:-1]) + "\n")
    assert schema["suggested_primary_key"] == ["id"]
