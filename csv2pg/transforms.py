"""Value transforms: source text that PostgreSQL's own input would not read as the column's
type (decimal commas, thousands separators, currency and percent signs, non-ISO dates),
rewritten to the canonical text it does read.

A column of the table schema may carry a ``"transform"`` object (schemas/table.v1.json, a
format of ``csv2pg.formats``); ``row_transformer(columns)`` turns those into one function
applied to every record, in header order, before an engine sees it (the normalized copy
pgloader reads, the rows ``copy`` streams). It returns None when no column needs a
transform, so the common path pays nothing.

A value that is not in the column's format (empty, a null token, a row appended since the
profile) is passed on unchanged: the column's null tokens still read as NULL, and anything
else fails the load with its line, as it would have without the transform.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from csv2pg import formats

RowTransform = Callable[[list[str]], list[str]]
ValueTransform = Callable[[str], str]


def value_transformer(fmt: dict[str, Any]) -> ValueTransform:
    """The rewrite of one column's values (memoised: columns repeat their values)."""
    frozen = dict(fmt)

    @lru_cache(maxsize=1 << 14)
    def rewrite(value: str) -> str:
        text = formats.canonical(value, frozen)
        return value if text is None else text
    return rewrite


def row_transformer(columns: Sequence[dict[str, Any]]) -> RowTransform | None:
    """The function that rewrites a record's fields, or None when no column has a transform."""
    plan = [(i, value_transformer(column["transform"]))
            for i, column in enumerate(columns) if column.get("transform")]
    if not plan:
        return None

    def transform(fields: list[str]) -> list[str]:
        out = list(fields)
        for i, rewrite in plan:
            if i < len(out) and out[i] != "":
                out[i] = rewrite(out[i])
        return out
    return transform
