"""Inputs beyond one plain file: compressed files, and a glob of files loaded into one table."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import zstandard

from csv2pg.cli import main

ROWS = "id,city,amount\n" + "".join(f"{i},Zürich {i},{i}.50\n" for i in range(1, 51))


def build(capsys: pytest.CaptureFixture[str], root: Path, url: str) -> dict[str, Any]:
    code = main(["-C", str(root), "build", "--format", "json", "--database", url])
    out, err = capsys.readouterr()
    result: dict[str, Any] = json.loads(out)
    assert code == 0, err + out
    return result


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.usefixtures("pgloader")
@pytest.mark.parametrize(("suffix", "compress"), [
    (".gz", gzip.compress), (".bz2", bz2.compress), (".zst", zstandard.ZstdCompressor().compress)])
def test_compressed_sources_load_like_plain_ones(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                fresh_database_url: str, suffix: str,
                                                compress: Any) -> None:
    (tmp_path / f"cities.csv{suffix}").write_bytes(compress(ROWS.encode("utf-8")))
    (tmp_path / "csv2pg.toml").write_text(f'[tables.cities]\nsource = "cities.csv{suffix}"\n', encoding="utf-8")
    result = build(capsys, tmp_path, fresh_database_url)
    assert result["tables"][0]["rows"] == 50
    assert fetch(fresh_database_url, "select city, amount::text from cities where id = 7") == [("Zürich 7", "7.50")]


@pytest.mark.usefixtures("pgloader")
def test_a_glob_loads_every_file_into_one_table(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                               fresh_database_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    lines = ROWS.splitlines(keepends=True)
    (data / "part-1.csv").write_text("".join(lines[:21]), encoding="utf-8")
    (data / "part-2.csv").write_text(lines[0] + "".join(lines[21:]), encoding="utf-8")
    (tmp_path / "csv2pg.toml").write_text('[tables.cities]\nsource = "data/part-*.csv"\n', encoding="utf-8")
    result = build(capsys, tmp_path, fresh_database_url)
    assert result["tables"][0]["rows"] == 50
    assert fetch(fresh_database_url, "select count(*), sum(id) from cities") == [(50, sum(range(1, 51)))]

    # A new file matching the glob: the table is rebuilt with it.
    (data / "part-3.csv").write_text(lines[0] + "51,Bern,1.00\n", encoding="utf-8")
    result = build(capsys, tmp_path, fresh_database_url)
    assert "sample:cities" in [t["name"] for t in result["tasks"] if t["status"] == "ran"]
    assert fetch(fresh_database_url, "select count(*) from cities") == [(51,)]


def test_a_glob_file_with_another_header_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    fresh_database_url: str) -> None:
    (tmp_path / "a.csv").write_text("id,city\n1,Bern\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,town\n2,Basel\n", encoding="utf-8")
    (tmp_path / "csv2pg.toml").write_text('[tables.cities]\nsource = "*.csv"\n', encoding="utf-8")
    code = main(["-C", str(tmp_path), "build", "--format", "json", "--database", fresh_database_url])
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert f"{tmp_path / 'b.csv'}:1: the header differs from the one of a.csv" in result["tables"][0]["error"]
