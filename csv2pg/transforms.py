"""Value transforms: source text that PostgreSQL's own input would not read as the column's
type (decimal commas, thousands separators, currency and percent signs, non-ISO dates),
rewritten to the canonical text it does read.

A column of the table schema may carry a ``"transform"`` object (schemas/table.v1.json);
``row_transformer(columns)`` turns those into one function applied to every record, in header
order, before an engine sees it (the normalized copy pgloader reads, the rows ``copy``
streams). It returns None when no column needs a transform, so the common path pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

RowTransform = Callable[[list[str]], list[str]]


def row_transformer(columns: Sequence[dict[str, Any]]) -> RowTransform | None:
    """The function that rewrites a record's fields, or None when no column has a transform."""
    if not any(column.get("transform") for column in columns):
        return None
    raise NotImplementedError("column transforms are not built yet")
