"""csv2pg/contract.py: what `build --locked` calls a change, on real profiles of small files."""

from __future__ import annotations

from pathlib import Path

import pytest

from csv2pg.contract import check_locked, column_changes
from csv2pg.hashing import HashCache, files_hash, hash_value
from csv2pg.manifest import single_file_project
from csv2pg.settings import TableSettings
from csv2pg.stages.infer import build_chunk_types, chunk_plan
from csv2pg.stages.sample import build_sample
from csv2pg.stages.schema import build_table_schema


def profile(path: Path, text: str) -> tuple[TableSettings, dict]:  # type: ignore[type-arg]
    path.write_text(text, encoding="utf-8")
    table = single_file_project(path, name="t").tables[0]
    sample = build_sample(table, files_hash(HashCache(None), table.files), hash_value(table.sample_options()))
    return table, sample


def committed(table: TableSettings, sample: dict) -> dict:  # type: ignore[type-arg]
    chunks = [build_chunk_types(table, sample, c)
              for c in range(len(chunk_plan(table, [p["column"] for p in sample["columns"]])))]
    return build_table_schema(table, sample, chunks)


BASE = "id,qty,city\n1,5,Oslo\n2,7,Bergen\n3,9,Tromsø\n"


@pytest.mark.parametrize(("new", "changes"), [
    # More rows, other values, a wider range that still fits: no change.
    (BASE + "4,11,Oslo\n", []),
    ("id,qty,city\n1,5,Oslo\n2,lots,Bergen\n3,9,Tromsø\n",
     ["qty: smallint → text: 'lots' at line 3 (1 value(s) are not smallint)"]),
    ("id,qty,city\n1,5,Oslo\n2,7,\n3,9,Tromsø\n", ["city: not null → nullable: 1 empty or null value(s)"]),
    ("id,qty,city,zip\n1,5,Oslo,0150\n2,7,Bergen,5003\n3,9,Tromsø,9008\n", ["zip: a new column (header 'zip')"]),
    ("id,city\n1,Oslo\n2,Bergen\n3,Tromsø\n", ["qty: the column is gone from the file"]),
    ("id,city,qty\n1,Oslo,5\n2,Bergen,7\n3,Tromsø,9\n",
     ["the columns are in another order: id, city, qty (the schema has id, qty, city)"]),
])
def test_column_changes(tmp_path: Path, new: str, changes: list[str]) -> None:
    table, sample = profile(tmp_path / "t.csv", BASE)
    schema = committed(table, sample)
    assert [c["type"] for c in schema["columns"]] == ["bigint", "smallint", "text"]
    table, sample = profile(tmp_path / "t.csv", new)
    assert column_changes(table, schema, sample) == changes


def test_a_missing_schema_is_a_change(tmp_path: Path) -> None:
    table, sample = profile(tmp_path / "t.csv", BASE)
    assert check_locked(table, None, sample) == [
        "no committed schema for t: run `csv2pg build` without --locked and commit schemas/"]
