"""Detection scored on ../shared/corpus/messy against the answers pinned in
tests/corpus/messy_expected.json (decided by reading each file, not by running the detector).

A file is right when delimiter, quote character, header, row count (records streamed by
``open_records``) and column count (``read_header``) all match; a refusal (DataError) is a
miss. The empty file is expected to be refused and is not scored. Individual misses do not
fail: the total must reach MIN_SCORE of the scored files (issue 3, point 5). Encodings, where
pinned, must match (any of a list). ../shared/corpus/real must detect without error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from csv2pg.dialect import detect_dialect, open_records, read_header
from csv2pg.errors import DataError
from csv2pg.settings import DialectOverrides

EXPECTED_PATH = Path(__file__).resolve().parent.parent / "corpus" / "messy_expected.json"
EXPECTED: dict[str, dict[str, Any]] = json.loads(EXPECTED_PATH.read_text(encoding="utf-8"))
MIN_SCORE = 56
SCORED = sorted(name for name, answer in EXPECTED.items() if answer.get("scored", True))


def _observe(path: Path) -> dict[str, Any]:
    """What csv2pg makes of ``path``: the scored facts, or {"refuse": message}."""
    try:
        dialect = detect_dialect(path, DialectOverrides())
        columns = len(read_header(path, dialect))
        rows = sum(1 for _ in open_records(path, dialect))
    except DataError as error:
        return {"refuse": str(error)}
    return {"delimiter": dialect.delimiter, "quotechar": dialect.quotechar,
            "has_header": dialect.has_header, "rows": rows, "columns": columns,
            "encoding": dialect.encoding}


def _right(expected: dict[str, Any], seen: dict[str, Any]) -> bool:
    if "refuse" in expected or "refuse" in seen:
        return False
    return all(seen[key] == expected[key]
               for key in ("delimiter", "quotechar", "has_header", "rows", "columns"))


def test_every_corpus_file_has_a_pinned_answer(corpus: Path) -> None:
    files = {p.name for p in (corpus / "messy").iterdir() if p.name != "SOURCES.md"}
    assert files == set(EXPECTED)
    assert len(SCORED) == 59


def test_messy_corpus_score(corpus: Path) -> None:
    started = time.monotonic()
    misses: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for name in SCORED:
        seen = _observe(corpus / "messy" / name)
        if not _right(EXPECTED[name], seen):
            misses[name] = (EXPECTED[name], seen)
    score = len(SCORED) - len(misses)
    print(f"\nmessy corpus: {score}/{len(SCORED)} right on delimiter, quote, header, rows, columns "
          f"({time.monotonic() - started:.1f} s)")
    for name, (expected, seen) in sorted(misses.items()):
        print(f"  miss {name}: expected {expected}, got {seen}")
    assert score >= MIN_SCORE, f"{score}/{len(SCORED)}; misses: {sorted(misses)}"


@pytest.mark.parametrize("name", sorted(n for n, a in EXPECTED.items() if "refuse" in a))
def test_refused_files_get_one_clear_data_error(corpus: Path, name: str) -> None:
    seen = _observe(corpus / "messy" / name)
    assert EXPECTED[name]["refuse"] in seen.get("refuse", "")


@pytest.mark.parametrize("name", sorted(n for n, a in EXPECTED.items() if "encoding" in a))
def test_pinned_encodings(corpus: Path, name: str) -> None:
    accepted = EXPECTED[name]["encoding"]
    accepted = accepted if isinstance(accepted, list) else [accepted]
    assert detect_dialect(corpus / "messy" / name, DialectOverrides()).encoding in accepted


def test_real_corpus_detects_without_error(corpus: Path) -> None:
    started = time.monotonic()
    files = sorted((corpus / "real").glob("*.csv")) + sorted((corpus / "real").glob("*.tsv"))
    assert files
    for path in files:
        dialect = detect_dialect(path, DialectOverrides())
        assert read_header(path, dialect)
    assert time.monotonic() - started < 15
