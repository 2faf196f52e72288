"""mode = "append" | "upsert" against a real PostgreSQL, with both engines: what reaches the
live table, and when csv2pg reloads everything instead (said in the stamp's notice)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from csv2pg import db, state
from csv2pg.artifacts import write_artifact
from csv2pg.errors import DataError
from tests.e2e.test_copy import copy_import
from tests.e2e.test_import import column, query, sample_of, schema_of

ITEMS = schema_of("items", [column("id", "bigint", nullable=False), column("name", "text"),
                            column("qty", "integer")])
KEYED = {**ITEMS, "primary_key": ["id"]}


@pytest.fixture
def database(fresh_database_url: str, tmp_path: Path) -> db.Database:
    return db.resolve_database(fresh_database_url, tmp_path / "build")


def write_rows(path: Path, rows: list[str], header: str = "id,name,qty") -> Path:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def load(database: db.Database, work: Path, schema: dict[str, Any], path: Path, rows: int,
         engine: str, mode: str, max_rejects: int = 0) -> dict[str, Any]:
    """One import as the build runs it: the stamp is written where the next import reads it."""
    stamp = copy_import(database, work, schema, sample_of("items", rows), [path],
                        engine=engine, mode=mode, max_rejects=max_rejects)
    write_artifact("import", work / "import.json", stamp)
    return stamp


@pytest.mark.parametrize("engine", ["copy", "pgloader"])
def test_append_loads_only_the_new_rows(database: db.Database, tmp_path: Path, engine: str,
                                        pgloader: str) -> None:
    path = write_rows(tmp_path / "items.csv", ["1,a,10", '2,"b, two",20', "3,c,30"])
    work = tmp_path / "items"
    stamp = load(database, work, ITEMS, path, 3, engine, "append")
    assert (stamp["mode"], stamp["rows"], "notice" in stamp) == ("append", 3, False)
    # A row changed by hand in the database stays changed: only the new rows are inserted.
    query(database, "UPDATE items SET qty = 11 WHERE id = 1 RETURNING id")

    with path.open("a", encoding="utf-8") as handle:
        handle.write('4,"d\nmulti",40\n5,e,50\n')
    stamp = load(database, work, ITEMS, path, 5, engine, "append")
    assert (stamp["rows"], stamp["loaded"], "notice" in stamp) == (5, 2, False)
    assert query(database, "SELECT id, name, qty FROM items ORDER BY id") == [
        (1, "a", 11), (2, "b, two", 20), (3, "c", 30), (4, "d\nmulti", 40), (5, "e", 50)]

    # An edited row (not only rows added at the end): everything is reloaded, said plainly.
    write_rows(path, ["1,A,10", '2,"b, two",20', "3,c,30", '4,"d\nmulti",40', "5,e,50", "6,f,60"])
    stamp = load(database, work, ITEMS, path, 6, engine, "append")
    assert stamp["notice"] == (
        "the first 62 bytes of items.csv changed since the last import (rows were edited, "
        "removed or reordered, not only added at the end), so csv2pg reloaded every row")
    assert stamp["rows"] == 6 and "loaded" not in stamp
    assert query(database, "SELECT id, name, qty FROM items ORDER BY id")[0] == (1, "A", 10)
    assert query(database, "SELECT count(*) FROM items") == [(6,)]

    # A fresh clone has no stamp: the database's record of the table says what was loaded.
    (work / "import.json").unlink()
    with path.open("a", encoding="utf-8") as handle:
        handle.write("7,g,70\n")
    stamp = load(database, work, ITEMS, path, 7, engine, "append")
    assert (stamp["rows"], stamp["loaded"], "notice" in stamp) == (7, 1, False)
    assert query(database, "SELECT count(*), count(DISTINCT id) FROM items") == [(7, 7)]

    # No record anywhere (a table csv2pg loaded in replace mode): every row, said plainly.
    (work / "import.json").unlink()
    query(database, "UPDATE csv2pg.tables SET source = NULL WHERE table_name = 'items' RETURNING 1")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("8,h,80\n")
    stamp = load(database, work, ITEMS, path, 8, engine, "append")
    assert stamp["notice"].startswith("neither the build directory nor the database holds a record")
    assert (stamp["rows"], "loaded" in stamp) == (8, False)
    assert query(database, "SELECT count(*), count(DISTINCT id) FROM items") == [(8, 8)]


def test_a_state_table_of_an_older_csv2pg_gets_the_source_column(database: db.Database,
                                                                  tmp_path: Path) -> None:
    # csv2pg.tables as the first version created it (no source column): adopted as it is.
    old_ddl = state._DDL.replace("    source          jsonb,\n", "")
    assert "source" not in old_ddl
    with db.connected(database) as conn:
        conn.execute("CREATE SCHEMA csv2pg")
        conn.execute(old_ddl)
    path = write_rows(tmp_path / "items.csv", ["1,a,10"])
    work = tmp_path / "items"
    load(database, work, ITEMS, path, 1, "copy", "append")
    (work / "import.json").unlink()   # a fresh clone: only the database remembers
    with path.open("a", encoding="utf-8") as handle:
        handle.write("2,b,20\n")
    stamp = load(database, work, ITEMS, path, 2, "copy", "append")
    assert (stamp["rows"], stamp["loaded"], "notice" in stamp) == (2, 1, False)


def test_append_with_a_bad_new_row_keeps_the_table(database: db.Database, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "items.csv", ["1,a,10"])
    work = tmp_path / "items"
    load(database, work, ITEMS, path, 1, "copy", "append")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("2,b,lots\n3,c,30\n")
    with pytest.raises(Exception, match="1 of the file's 2 data rows were rejected"):
        load(database, work, ITEMS, path, 3, "copy", "append")
    assert query(database, "SELECT id FROM items ORDER BY id") == [(1,)]
    # Allowed by max_rejects: the good new row arrives, the bad one is in rejects.jsonl.
    stamp = load(database, work, ITEMS, path, 3, "copy", "append", max_rejects=1)
    assert (stamp["rows"], stamp["loaded"], stamp["rejects"]) == (2, 1, 1)
    assert query(database, "SELECT id FROM items ORDER BY id") == [(1,), (3,)]


@pytest.mark.parametrize("engine", ["copy", "pgloader"])
def test_upsert_inserts_and_updates_on_the_primary_key(database: db.Database, tmp_path: Path,
                                                       engine: str, pgloader: str) -> None:
    path = write_rows(tmp_path / "items.csv", ["1,a,10", "2,b,20"])
    work = tmp_path / "items"
    stamp = load(database, work, KEYED, path, 2, engine, "upsert")
    assert stamp["rows"] == 2
    query(database, "INSERT INTO items VALUES (9, 'kept', 90) RETURNING id")

    write_rows(path, ["2,B,21", "3,c,30"])
    stamp = load(database, work, KEYED, path, 2, engine, "upsert")
    assert (stamp["mode"], stamp["rows"], stamp["loaded"]) == ("upsert", 4, 2)
    assert query(database, "SELECT id, name, qty FROM items ORDER BY id") == [
        (1, "a", 10), (2, "B", 21), (3, "c", 30), (9, "kept", 90)]


def test_upsert_needs_a_primary_key(database: db.Database, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "items.csv", ["1,a,10"])
    with pytest.raises(DataError) as info:
        load(database, tmp_path / "items", ITEMS, path, 1, "copy", "upsert")
    assert str(info.value) == ("mode = \"upsert\" needs a primary key\n"
                               "  hint: set primary_key in [tables.items] (or \"infer\")")
