"""`csv2pg init`: a commented manifest, extended without losing the user's edits."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from csv2pg.cli import main
from csv2pg.manifest import load_project


def test_init_writes_a_valid_commented_manifest_and_extends_it(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "Orders 2024.csv").write_text("id,x\n1,2\n", encoding="utf-8")
    (tmp_path / "people.tsv").write_text("id\tname\n1\tAna\n", encoding="utf-8")
    (tmp_path / "中文.csv").write_text("a\n1\n", encoding="utf-8")
    (tmp_path / ".csv2pg").mkdir()
    (tmp_path / ".csv2pg" / "ignored.csv").write_text("a\n1\n", encoding="utf-8")

    assert main(["-C", str(tmp_path), "init"]) == 0
    text = (tmp_path / "csv2pg.toml").read_text(encoding="utf-8")
    assert "# csv2pg.toml: which CSV files become which PostgreSQL tables." in text
    data = tomllib.loads(text)
    assert data["tables"] == {"orders_2024": {"source": "data/Orders 2024.csv"}, "people": {"source": "people.tsv"},
                              "t": {"source": "中文.csv"}}
    assert [t.name for t in load_project(tmp_path, environ={}).tables] == ["orders_2024", "people", "t"]

    # The user edits and comments; a new file arrives; init again keeps all of it.
    edited = text.replace('source = "people.tsv"', 'source = "people.tsv"  # my note\nmax_rejects = 3')
    edited = "# my header comment\n" + edited
    (tmp_path / "csv2pg.toml").write_text(edited, encoding="utf-8")
    (tmp_path / "data" / "more.csv").write_text("k\n1\n", encoding="utf-8")
    assert main(["-C", str(tmp_path), "init"]) == 0
    again = (tmp_path / "csv2pg.toml").read_text(encoding="utf-8")
    assert again.startswith(edited)
    assert tomllib.loads(again)["tables"]["more"] == {"source": "data/more.csv"}
    assert "added 1 table(s)" in capsys.readouterr().err

    assert main(["-C", str(tmp_path), "init"]) == 0
    assert (tmp_path / "csv2pg.toml").read_text(encoding="utf-8") == again
    assert "nothing to add" in capsys.readouterr().err


def test_init_without_csvs_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path), "init"]) == 2
    assert "no CSV files found" in capsys.readouterr().err
    assert not (tmp_path / "csv2pg.toml").exists()
