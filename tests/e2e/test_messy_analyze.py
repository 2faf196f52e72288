"""`csv2pg analyze FILE --format json` always reports what it detected and the problems,
also for the messy files a build refuses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from csv2pg import api

from .test_messy_build import EXPECTED

KEYS = {"dialect", "rows", "columns", "problems"}


def test_analyze_reports_every_messy_file(corpus: Path) -> None:
    files = sorted(p for p in (corpus / "messy").iterdir() if p.name != "SOURCES.md")
    assert len(files) == 60
    for path in files:
        result = api.analyze(path)
        assert set(result) == KEYS, path.name
        expected = EXPECTED[path.name]
        if isinstance(expected, tuple):
            assert (result["rows"], len(result["columns"])) == expected, path.name
            assert result["problems"] == [], path.name
        else:
            assert result["problems"], path.name  # refused by build, explained by analyze
            assert expected in result["problems"][0]["message"], path.name
            if path.name != "duckdb_empty.csv":
                assert result["dialect"] is not None and result["columns"], path.name


def test_the_9074_column_file_is_analyzed_quickly(corpus: Path) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "csv2pg", "analyze",
                           str(corpus / "messy" / "frictionless_wide.csv"), "--format", "json"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["columns"]) == 9074 and result["dialect"]["delimiter"] == ","
    assert result["problems"][0]["kind"] == "too_many_columns"
    assert time.monotonic() - started < 120
