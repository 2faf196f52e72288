"""Which columns go into which ``infer:T:chunk_N`` step.

``chunk_size`` columns a chunk at most; columns that share a name prefix (``identifier_*``,
``location_*``) stay in one chunk where they fit, so an LLM sees related columns together.
Deterministic (file order, then first appearance of each group), every column exactly once,
and cheap for 10,000 columns. Pure: no I/O.
"""

from __future__ import annotations

import re

_PREFIX = re.compile(r"^([^_]+)_")


def name_prefix(column: str) -> str | None:
    """``location`` for ``location_city``; None for a name without one."""
    found = _PREFIX.match(column)
    return found.group(1) if found else None


def group_columns(columns: list[str]) -> list[list[int]]:
    """Column indexes grouped by shared prefix, in order of each group's first column."""
    counts: dict[str, int] = {}
    for column in columns:
        prefix = name_prefix(column)
        if prefix is not None:
            counts[prefix] = counts.get(prefix, 0) + 1
    groups: list[list[int]] = []
    by_prefix: dict[str, list[int]] = {}
    for index, column in enumerate(columns):
        prefix = name_prefix(column)
        if prefix is not None and counts[prefix] > 1:
            if prefix not in by_prefix:
                by_prefix[prefix] = []
                groups.append(by_prefix[prefix])
            by_prefix[prefix].append(index)
        else:
            groups.append([index])
    return groups


def plan_chunks(columns: list[str], chunk_size: int) -> list[list[int]]:
    """The column indexes of each chunk (at least one chunk, possibly empty for no columns)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    chunks: list[list[int]] = [[]]
    for group in group_columns(columns):
        if len(group) > chunk_size:
            # A group larger than a chunk fills whole chunks of its own.
            if chunks[-1]:
                chunks.append([])
            for start in range(0, len(group), chunk_size):
                if chunks[-1]:
                    chunks.append([])
                chunks[-1].extend(group[start:start + chunk_size])
            continue
        if len(chunks[-1]) + len(group) > chunk_size:
            chunks.append([])
        chunks[-1].extend(group)
    return chunks
