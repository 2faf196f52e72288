"""Chunk planning: size bound, related columns together, deterministic, every column once."""

from __future__ import annotations

import random

import pytest

from csv2pg.chunks import group_columns, name_prefix, plan_chunks


@pytest.mark.parametrize(("column", "prefix"), [
    ("location_city", "location"), ("identifier_uuid", "identifier"), ("id", None), ("_x", None)])
def test_name_prefix(column: str, prefix: str | None) -> None:
    assert name_prefix(column) == prefix


def test_related_columns_stay_together() -> None:
    columns = ["id", "location_city", "name", "location_zip", "identifier_a", "location_country",
               "identifier_b", "note"]
    assert group_columns(columns) == [[0], [1, 3, 5], [2], [4, 6], [7]]
    chunks = plan_chunks(columns, 4)
    assert chunks == [[0, 1, 3, 5], [2, 4, 6, 7]]
    assert plan_chunks(columns, 1) == [[i] for i in (0, 1, 3, 5, 2, 4, 6, 7)]


def test_a_group_larger_than_a_chunk_fills_chunks_of_its_own() -> None:
    columns = ["a", *[f"q_{i}" for i in range(5)], "b"]
    assert plan_chunks(columns, 2) == [[0], [1, 2], [3, 4], [5, 6]]


@pytest.mark.parametrize("n", [0, 1, 7, 20, 21, 1600, 10_000])
def test_every_column_exactly_once_within_the_size(n: int) -> None:
    rng = random.Random(n)
    columns = [f"{rng.choice(['geo', 'id', 'x', 'meta'])}_{i}" if rng.random() < 0.6 else f"c{i}"
               for i in range(n)]
    chunks = plan_chunks(columns, 20)
    flat = [i for chunk in chunks for i in chunk]
    assert sorted(flat) == list(range(n))
    assert all(len(chunk) <= 20 for chunk in chunks)
    assert chunks == plan_chunks(list(columns), 20)  # deterministic
    assert len(chunks) >= 1
