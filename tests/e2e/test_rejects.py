"""Rejects end to end: rows with the wrong number of fields are refused by csv2pg itself
(pgloader would pad or cut them), kept in rejects.jsonl with their lines, counted against
max_rejects; and `csv2pg build` fails (exit 1) past the limit, keeping the old table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csv2pg import db
from csv2pg.cli import main
from csv2pg.errors import ImportFailedError
from csv2pg.rejects import read_rejects
from tests.e2e.test_copy import copy_import
from tests.e2e.test_import import column, query, sample_of, schema_of

ITEMS = schema_of("items", [column("id", "bigint"), column("name", "text"), column("qty", "integer")])


@pytest.fixture
def database(fresh_database_url: str, tmp_path: Path) -> db.Database:
    return db.resolve_database(fresh_database_url, tmp_path / "build")


def ragged_sample(rows: int) -> dict[str, object]:
    sample = sample_of("items", rows)
    sample["problems"] = [{"kind": "ragged_rows", "line": 3, "message": "2 records have ...",
                           "fix": "..."}]
    return sample


def test_ragged_rows_are_rejected_not_padded(database: db.Database, tmp_path: Path,
                                             pgloader: str) -> None:
    path = tmp_path / "items.csv"
    path.write_text("id,name,qty\n1,a,10\n2,b\n3,c,30\n4,d,40,extra\n", encoding="utf-8")
    stamp = copy_import(database, tmp_path / "items", ITEMS, ragged_sample(4), [path],
                        engine="pgloader", max_rejects=2)
    # pgloader would have loaded (2, 'b', NULL) and (4, 'd', 40): csv2pg refuses them instead.
    assert stamp["engine"] == "copy"
    assert "wrong number of fields" in stamp["notice"]
    assert (stamp["rows"], stamp["rejects"]) == (2, 2)
    assert query(database, "SELECT id FROM items ORDER BY id") == [(1,), (3,)]
    assert read_rejects(tmp_path / "items" / "rejects.jsonl") == [
        {"file": str(path), "line": 3, "text": "2,b", "reason": "the record has 2 fields, the header 3"},
        {"file": str(path), "line": 5, "text": "4,d,40,extra",
         "reason": "the record has 4 fields, the header 3"}]

    with pytest.raises(ImportFailedError, match="2 of the file's 4 data rows were rejected"):
        copy_import(database, tmp_path / "items", ITEMS, ragged_sample(4), [path],
                    engine="pgloader", max_rejects=1)
    assert query(database, "SELECT count(*) FROM items") == [(2,)]


@pytest.mark.parametrize("engine", ["copy", "pgloader"])
def test_build_fails_past_max_rejects_and_keeps_the_old_table(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fresh_database_url: str,
        engine: str, pgloader: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "items.csv").write_text("id,qty\n1,10\n2,40000\n3,30\n", encoding="utf-8")
    manifest = root / "csv2pg.toml"
    manifest.write_text(f'[defaults]\nengine = "{engine}"\n\n[tables.items]\nsource = "items.csv"\n',
                        encoding="utf-8")
    argv = ["-C", str(root), "build", "--format", "json", "--database", fresh_database_url]
    assert main(argv) == 0
    capsys.readouterr()

    # A reviewer narrows qty in the committed schema; PostgreSQL refuses 40000 as smallint.
    schema_file = root / "schemas" / "items.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    [qty] = [c for c in schema["columns"] if c["column"] == "qty"]
    qty["type"] = "smallint"
    schema_file.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "1 of the file's 3 data rows were rejected (max_rejects = 0)" in out + err
    with db.connected(db.resolve_database(fresh_database_url, root / ".csv2pg")) as conn:
        assert conn.execute("SELECT id, qty FROM items ORDER BY id").fetchall() == [
            (1, 10), (2, 40000), (3, 30)]
    [reject] = read_rejects(root / ".csv2pg" / "items" / "rejects.jsonl")
    assert (reject["line"], reject["text"]) == (3, "2,40000")
    assert reject["reason"] == 'value "40000" is out of range for type smallint (column qty)'

    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'source = "items.csv"\n', 'source = "items.csv"\nmax_rejects = 1\n'), encoding="utf-8")
    assert main(argv) == 0, capsys.readouterr()
    capsys.readouterr()
    stamp = json.loads((root / ".csv2pg" / "items" / "import.json").read_text(encoding="utf-8"))
    assert (stamp["rows"], stamp["rejects"], stamp["rejects_file"]) == (2, 1, "rejects.jsonl")


def test_a_build_refuses_ragged_rows_unless_max_rejects_allows_them(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fresh_database_url: str,
        pgloader: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "items.csv").write_text("id,name,qty\n1,a,10\n2,b\n3,c,30\n", encoding="utf-8")
    manifest = root / "csv2pg.toml"
    manifest.write_text('[tables.items]\nsource = "items.csv"\n', encoding="utf-8")
    argv = ["-C", str(root), "build", "--database", fresh_database_url]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "line 3" in out + err and "Traceback" not in out + err

    manifest.write_text('[tables.items]\nsource = "items.csv"\nmax_rejects = 1\n', encoding="utf-8")
    assert main(argv) == 0
    out, err = capsys.readouterr()
    # pgloader would pad the short row; the build says it used copy instead, and why.
    assert "1 rejected" in err and "note:" in err and "wrong number of fields" in err, out + err
    with db.connected(db.resolve_database(fresh_database_url, root / ".csv2pg")) as conn:
        assert conn.execute("SELECT id, name, qty FROM items ORDER BY id").fetchall() == [
            (1, "a", 10), (3, "c", 30)]
    [reject] = read_rejects(root / ".csv2pg" / "items" / "rejects.jsonl")
    assert (reject["line"], reject["text"]) == (3, "2,b")
    stamp = json.loads((root / ".csv2pg" / "items" / "import.json").read_text(encoding="utf-8"))
    assert (stamp["rows"], stamp["rejects"]) == (2, 1)
