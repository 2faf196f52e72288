"""csv2pg.locate: the first failing values and their lines, found past the head by DuckDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from csv2pg import fastscan, locate
from csv2pg.artifacts import canonical_json
from csv2pg.dialect import detect_dialect, open_records
from csv2pg.settings import TableSettings
from csv2pg.stages.sample import build_sample

HASH = "0123456789abcdef0123456789abcdef"


def table_for(path: Path) -> TableSettings:
    return TableSettings(name="t", source=path, source_text=path.name, table="t",
                         db_schema="public")


def tricky(path: Path, rows: int, newline: str = "\n", preamble: str = "") -> None:
    """Quoted delimiters, doubled quotes, fields over several lines, blank lines; the
    amount column fails to be a number only near the end and as 'n/a'."""
    lines = ["id,amount,note,day"]
    for i in range(1, rows + 1):
        note = {0: f'"a ""q"" {i}{newline}next, line"', 1: "plain", 2: f'"x,{i}"',
                3: f'"{newline}{newline}"', 4: ""}[i % 5]
        amount = "n/a" if i in (rows - 7, rows - 2) else ("12 kg" if i == rows else f"{i}.5")
        lines.append(f"{i},{amount},{note},2024-01-{1 + i % 28:02d}")
        if i % 97 == 0:
            lines.append("")   # a blank line: no record
    path.write_text(preamble + newline.join(lines) + newline, encoding="utf-8", newline="")


@pytest.fixture(params=["c", "python"])
def counter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where record starts are counted: fastscan's C loop, or Python's (CSV2PG_FASTSCAN=0)."""
    if request.param == "python":
        monkeypatch.setenv("CSV2PG_FASTSCAN", "0")
    else:
        monkeypatch.delenv("CSV2PG_FASTSCAN", raising=False)
        if fastscan.library() is None:
            pytest.skip("no C compiler here")
    return str(request.param)


@pytest.mark.parametrize("block", [64, 1000, 1 << 24])   # bytes read at a time
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_records_at_agrees_with_open_records(tmp_path: Path, newline: str, block: int,
                                             monkeypatch: pytest.MonkeyPatch, counter: str) -> None:
    """Every record, and a few far apart (counted in bulk between them), start where the
    Python parser says, across blocks, quoted newlines, doubled quotes and blank lines."""
    monkeypatch.setattr(locate, "BLOCK", block)
    path = tmp_path / "t.csv"
    tricky(path, 700, newline)
    dialect = detect_dialect(path, table_for(path).dialect)
    expected = dict(enumerate(open_records(path, dialect), start=1))
    assert locate.records_at(path, dialect, set(expected)) == expected
    few = {1, 5, 97, 98, 137, 500, 695, 700}
    assert locate.records_at(path, dialect, few) == {o: expected[o] for o in few}


def test_records_at_counts_a_preamble(tmp_path: Path, counter: str) -> None:
    path = tmp_path / "t.csv"
    tricky(path, 60, preamble="Exported 2026-11-26\nby some \"tool\n\n")
    dialect = detect_dialect(path, table_for(path).dialect)
    assert dialect.preamble_lines >= 2
    expected = dict(enumerate(open_records(path, dialect), start=1))
    assert locate.records_at(path, dialect, {1, 30, 60}) == {o: expected[o] for o in (1, 30, 60)}


@pytest.mark.parametrize("tail", ["61,1.5,last", '61,1.5,"last\nline"', "\r\n\r\n", "\r"])
def test_records_at_the_end_of_a_file(tmp_path: Path, counter: str, tail: str) -> None:
    """A last record without a line end, blank CRLF lines at the end, records asked for
    past the last one."""
    path = tmp_path / "t.csv"
    tricky(path, 60, "\r\n")
    with path.open("a", encoding="utf-8", newline="") as out:
        out.write(tail)
    dialect = detect_dialect(path, table_for(path).dialect)
    expected = dict(enumerate(open_records(path, dialect), start=1))
    asked = {1, 59, 60, 61, 62, 500}
    assert locate.records_at(path, dialect, asked) == {o: expected[o] for o in asked if o in expected}


@pytest.fixture
def head_of_ten(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Stream 10 records in Python before asking DuckDB; record when DuckDB is asked and
    how far each Python stream may go (None: to the end, the fallback)."""
    seen: dict[str, list[Any]] = {"asked": [], "limits": []}
    first_matches, stream = locate.first_matches, locate._stream

    def ask(*args: Any, **kwargs: Any) -> Any:
        seen["asked"].append(kwargs.get("after", 0))
        return first_matches(*args, **kwargs)

    def streamed(*args: Any, **kwargs: Any) -> int:
        seen["limits"].append(args[6])
        return stream(*args, **kwargs)

    monkeypatch.setattr(locate, "HEAD_RECORDS", 10)
    monkeypatch.setattr(locate, "first_matches", ask)
    monkeypatch.setattr(locate, "_stream", streamed)
    return seen


def test_late_failures_are_found_by_duckdb_with_python_lines(
        tmp_path: Path, head_of_ten: dict[str, list[Any]]) -> None:
    """The examples past the head are the very values and lines the Python profile names."""
    path = tmp_path / "t.csv"
    tricky(path, 3000)
    table = table_for(path)
    python = build_sample(table, HASH, HASH, engine="python")
    duck = build_sample(table, HASH, HASH)
    assert head_of_ten["asked"] and set(head_of_ten["asked"]) == {10}   # after the head
    assert None not in head_of_ten["limits"]   # and what it named was right: no fallback
    amount = next(c for c in duck["columns"] if c["name"] == "amount")
    assert [(e["line"], e["value"]) for e in amount["candidates"]["numeric"]["examples"]] == [
        (line, value) for line, fields in open_records(path, detect_dialect(path, table.dialect))
        if (value := fields[1]) in ("n/a", "12 kg")]
    assert amount["candidates"]["numeric"]["examples"] == next(
        c for c in python["columns"] if c["name"] == "amount")["candidates"]["numeric"]["examples"]
    for ours, theirs in zip(duck["columns"], python["columns"], strict=True):
        assert canonical_json([c["examples"] for c in ours["candidates"].values()]) == \
            canonical_json([c["examples"] for c in theirs["candidates"].values()])
        assert canonical_json([e["examples"] for e in ours["formats"]]) == \
            canonical_json([e["examples"] for e in theirs["formats"]])


def test_a_stray_quote_falls_back_to_streaming(tmp_path: Path,
                                               head_of_ten: dict[str, list[Any]]) -> None:
    """A quote inside an unquoted field misleads the quote count: the records found are not
    the ones DuckDB named, and the examples come from streaming on, still right."""
    path = tmp_path / "t.csv"
    lines = ["id,amount,size"]
    for i in range(1, 3001):
        size = '17" screen' if i == 50 else "m"
        lines.append(f"{i},{'none' if i == 2990 else f'{i}.25'},{size}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = table_for(path)
    duck = build_sample(table, HASH, HASH)
    amount = next(c for c in duck["columns"] if c["name"] == "amount")
    assert head_of_ten["asked"] and None in head_of_ten["limits"]   # asked, then streamed
    assert amount["candidates"]["numeric"]["examples"] == [{"line": 2991, "value": "none"}]


def test_a_failure_in_the_first_records_is_streamed(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the first HEAD_RECORDS records, Python streaming finds it sooner than a look-up
    that reads the whole file (ids past smallint's range at record 32,768 of millions)."""
    monkeypatch.setattr(locate, "HEAD_RECORDS", 300)

    def no_look_up(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("DuckDB was asked")

    monkeypatch.setattr(locate, "first_matches", no_look_up)
    path = tmp_path / "t.csv"
    rows = ["id,code"] + [f"{i},{'x9' if i == 250 else i * 3}" for i in range(1, 3001)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    doc = build_sample(table_for(path), HASH, HASH)
    code = next(c for c in doc["columns"] if c["name"] == "code")
    assert code["candidates"]["integer"]["examples"] == [{"line": 251, "value": "x9"}]
