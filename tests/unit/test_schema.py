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
