"""import:T with the built-in engine (engine = "copy") against a real PostgreSQL: the same
staging, verification, rejects and swap as pgloader, on clean and awkward files."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from csv2pg import db
from csv2pg.artifacts import validation_errors
from csv2pg.dialect import Dialect, detect_dialect
from csv2pg.engines import copy as copy_engine
from csv2pg.errors import ImportFailedError
from csv2pg.hashing import hash_file_uncached
from csv2pg.normalize import needs_normalizing
from csv2pg.rejects import read_rejects
from csv2pg.settings import DialectOverrides
from csv2pg.stages.importer import build_import
from csv2pg.stages.render import build_load
from tests.e2e.test_import import (
    DATA,
    PEOPLE,
    column,
    query,
    render,
    sample_of,
    schema_of,
    tables_of,
)

ORDERS = schema_of("orders", [
    column("id", "bigint", nullable=False),
    column("qty", "integer"),
    column("note", "text"),
    column("day", "date"),
])


@pytest.fixture
def database(fresh_database_url: str, tmp_path: Path) -> db.Database:
    return db.resolve_database(fresh_database_url, tmp_path / "build")


def copy_import(database: db.Database, work: Path, schema: dict[str, Any], sample: dict[str, Any],
                files: list[Path], max_rejects: int = 0, engine: str = "copy",
                mode: str = "replace") -> dict[str, Any]:
    # As the load step renders it: pgloader would read a normalized copy of awkward files.
    reason = needs_normalizing(Dialect.from_dict(sample["dialect"]), files)
    load_text, _ = build_load(schema, sample["dialect"], sample["rows"],
                              db.staging_name(schema["table"]), normalized=reason)
    work.mkdir(parents=True, exist_ok=True)
    load = work / f"{schema['table']}.load"
    load.write_text(load_text, encoding="utf-8")
    return build_import(
        table_name=schema["table"], table_schema=schema, sample=sample, load_file=load,
        csv_path=files[0], csv_files=files, csv_hash=hash_file_uncached(files[0]),
        load_hash=hash_file_uncached(load), database=database, work_dir=work,
        max_rejects=max_rejects, engine=engine, mode=mode)


def detected_sample(table: str, path: Path, rows: int) -> dict[str, Any]:
    sample = sample_of(table, rows)
    sample["dialect"] = detect_dialect(path, DialectOverrides()).as_dict()
    return sample


def orders_file(path: Path, rows: int, bad: dict[int, str] | None = None) -> Path:
    """id,qty,note,day; every 7th note spans two lines; ``bad`` replaces qty of given ids."""
    lines = ["id,qty,note,day\n"]
    for i in range(1, rows + 1):
        lines.append(order_record(i, (bad or {}).get(i, str(i % 100))) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def order_record(i: int, qty: str) -> str:
    """Record ``i`` of ``orders_file``, as written (without its line end)."""
    note = f'"line one\nline two of {i}"' if i % 7 == 0 else f'"say ""{i}"", ok"' if i % 5 == 0 else f"n{i}"
    return f"{i},{qty},{note},2024-01-{i % 28 + 1:02d}"


def physical_line(path: Path, record_id: int) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if line.startswith(f"{record_id},"):
            return number
    raise AssertionError(record_id)


def test_people_loads_like_pgloader(database: db.Database, tmp_path: Path) -> None:
    csv_path = DATA / "import_people.csv"
    stamp = copy_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5), [csv_path])
    assert validation_errors("import", {**stamp, "schema_version": 1}) == []
    assert (stamp["engine"], stamp["rows"], stamp["rejects"]) == ("copy", 5, 0)
    copied = query(database, "SELECT * FROM people ORDER BY id")
    # pgloader into the same table: the same values, NULLs and empty strings.
    stamp = copy_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5), [csv_path],
                        engine="pgloader")
    assert stamp["engine"] == "pgloader"
    loaded = query(database, "SELECT * FROM people ORDER BY id")
    # Null tokens (NA) send this file through csv2pg's parser, which cannot see quotes: the
    # quoted "" of row 4's text column is NULL there, the empty string for pgloader.
    assert loaded[3][1] == "" and copied[3][1] is None
    assert loaded[:3] + loaded[4:] == copied[:3] + copied[4:]
    assert [r[0] for r in loaded] == [1, 2, 3, 4, 5]
    assert tables_of(database, "public") == ["people"]


def test_clean_file_goes_raw_and_refused_rows_are_kept(database: db.Database, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Small batches, so the file is several COPYs and the bad rows sit deep inside them.
    monkeypatch.setattr(copy_engine, "RAW_BATCH_BYTES", 4096)
    monkeypatch.setattr(copy_engine, "ISOLATE_ROWS", 7)
    path = orders_file(tmp_path / "orders.csv", 2000, bad={3: "x", 35: "1.5", 1400: "", 1999: "99999999999"})
    plan = copy_engine.plan_copy([path], detect_dialect(path, DialectOverrides()), ORDERS["columns"],
                                 normalized=False, transform=None, ragged=False)
    assert plan.raw
    stamp = copy_import(database, tmp_path / "orders", ORDERS, sample_of("orders", 2000), [path],
                        max_rejects=3)
    assert (stamp["rows"], stamp["rejects"], stamp["rejects_file"]) == (1997, 3, "rejects.jsonl")
    rejects = read_rejects(tmp_path / "orders" / "rejects.jsonl")
    assert rejects == [
        {"file": str(path), "line": physical_line(path, 3), "text": "3,x,n3,2024-01-04",
         "reason": 'invalid input syntax for type integer: "x" (column qty)'},
        {"file": str(path), "line": physical_line(path, 35),
         "text": '35,1.5,"line one\nline two of 35",2024-01-08',
         "reason": 'invalid input syntax for type integer: "1.5" (column qty)'},
        {"file": str(path), "line": physical_line(path, 1999), "text": "1999,99999999999,n1999,2024-01-12",
         "reason": 'value "99999999999" is out of range for type integer (column qty)'},
    ]
    assert query(database, "SELECT count(*), count(qty), sum(id) FROM orders") == [
        (1997, 1996, 2000 * 2001 // 2 - 3 - 35 - 1999)]
    assert query(database, "SELECT note FROM orders WHERE id IN (7, 10) ORDER BY id") == [
        ("line one\nline two of 7",), ('say "10", ok',)]


@pytest.mark.parametrize("streams", [1, 3])
def test_parallel_streams_load_every_row_and_keep_rejects_in_file_order(
        database: db.Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, streams: int) -> None:
    # 40 batches through 3 connections: rows, rejects (with lines) and progress as with one.
    monkeypatch.setattr(copy_engine, "RAW_BATCH_BYTES", 2048)
    bad = {5: "x", 777: "y", 1500: "1.5", 2999: "z"}
    path = orders_file(tmp_path / "orders.csv", 3000, bad=bad)
    dialect = detect_dialect(path, DialectOverrides())
    refused: list[tuple[int | None, str]] = []
    sent: list[int] = []
    with db.connected(database) as conn:
        copy_engine.create_staging(conn, "public", "orders_staging", ORDERS["columns"])
        loader = copy_engine.CopyLoader(conn, "public", "orders_staging", ORDERS["columns"],
                                        lambda _f, line, text, _r: refused.append((line, text)),
                                        sent.append)
        loader.load_raw(path, dialect, streams=streams,
                        connect=lambda: database.connect(autocommit=True))
        others = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid()")
        deadline = time.monotonic() + 10   # a closed connection's backend ends shortly after
        while conn.execute(others).fetchone() != (0,):   # the extra connections were closed
            assert time.monotonic() < deadline
            time.sleep(0.05)
    result = loader.result
    assert (result.read, result.imported, result.rejected) == (3000, 2996, 4)
    assert result.batches > 30
    assert refused == [(physical_line(path, i), order_record(i, qty)) for i, qty in bad.items()]
    assert sent == sorted(sent) and sent[-1] == path.stat().st_size - len("id,qty,note,day\n")
    assert query(database, "SELECT count(*), count(DISTINCT id), sum(id) FROM orders_staging") == [
        (2996, 2996, 3000 * 3001 // 2 - sum(bad))]


def test_streams_the_server_refuses_leave_the_load_to_the_others(database: db.Database, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A server at max_connections refuses the extra connections: the loader's own loads it all.
    monkeypatch.setattr(copy_engine, "RAW_BATCH_BYTES", 4096)
    path = orders_file(tmp_path / "orders.csv", 500)

    def refused() -> Any:
        raise psycopg.OperationalError("sorry, too many clients already")

    with db.connected(database) as conn:
        copy_engine.create_staging(conn, "public", "orders_staging", ORDERS["columns"])
        loader = copy_engine.CopyLoader(conn, "public", "orders_staging", ORDERS["columns"],
                                        lambda *_: None)
        loader.load_raw(path, detect_dialect(path, DialectOverrides()), streams=4, connect=refused)
    assert (loader.result.read, loader.result.imported, loader.result.rejected) == (500, 500, 0)
    assert query(database, "SELECT count(*) FROM orders_staging") == [(500,)]


def test_too_many_rejects_fail_and_keep_the_old_table(database: db.Database, tmp_path: Path) -> None:
    good = orders_file(tmp_path / "good.csv", 50)
    copy_import(database, tmp_path / "orders", ORDERS, sample_of("orders", 50), [good])
    bad = orders_file(tmp_path / "bad.csv", 50, bad={10: "ten", 20: "twenty"})
    with pytest.raises(ImportFailedError) as info:
        copy_import(database, tmp_path / "orders", ORDERS, sample_of("orders", 50), [bad],
                    max_rejects=1)
    assert str(info.value).splitlines()[0] == (
        f"{bad}: the import of public.orders does not add up: 2 of the file's 50 data rows were "
        f"rejected (max_rejects = 1), the first at {bad}:12; copy imported 48, the staging table "
        "holds 48; public.orders was left as it was")
    assert info.value.exit_code == 1
    assert [r["line"] for r in read_rejects(tmp_path / "orders" / "rejects.jsonl")] == [
        physical_line(bad, 10), physical_line(bad, 20)] == [12, 23]
    assert query(database, "SELECT count(*) FROM orders") == [(50,)]
    assert tables_of(database, "public") == ["orders"]


def test_awkward_files_are_parsed_and_ragged_rows_refused(database: db.Database,
                                                          tmp_path: Path) -> None:
    # UTF-16 with CRLF, and a gzip file with comment lines, CR-only line ends and a ragged row.
    people = schema_of("people16", [column("name", "text"), column("age", "integer")])
    path16 = DATA / "dialect_utf16.csv"
    stamp = copy_import(database, tmp_path / "p16", people, detected_sample("people16", path16, 2),
                        [path16])
    assert stamp["rows"] == 2
    assert query(database, "SELECT name, age FROM people16 ORDER BY age") == [("Zoë", 25), ("José", 30)]

    raw = "# exported 2024\rid,name\r1,Ann\r# a comment\r2,Ben,extra\r3,\"C\rD\"\r"
    gz = tmp_path / "odd.csv.gz"
    gz.write_bytes(gzip.compress(raw.encode("utf-8"), mtime=0))
    odd = schema_of("odd", [column("id", "integer"), column("name", "text")])
    sample = detected_sample("odd", gz, 3)
    assert sample["dialect"]["comment"] == "#" and sample["dialect"]["line_terminator"] == "\r"
    stamp = copy_import(database, tmp_path / "odd", odd, sample, [gz], max_rejects=1)
    assert (stamp["rows"], stamp["rejects"]) == (2, 1)
    assert query(database, "SELECT id, name FROM odd ORDER BY id") == [(1, "Ann"), (3, "C\rD")]
    assert read_rejects(tmp_path / "odd" / "rejects.jsonl") == [
        {"file": str(gz), "line": 5, "text": "2,Ben,extra", "reason": "the record has 3 fields, the header 2"}]


def test_several_files_and_null_tokens(database: db.Database, tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("id,qty,note,day\n1,NA,x,2024-01-01\n", encoding="utf-8")
    b = tmp_path / "b.csv"
    b.write_text("id,qty,note,day\n2,5,NA,-\n3,bad,,2024-01-03\n", encoding="utf-8")
    schema = schema_of("orders", [column("id", "bigint"), column("qty", "integer", null_tokens=("NA",)),
                                  column("note", "text"), column("day", "date", null_tokens=("-",))])
    stamp = copy_import(database, tmp_path / "orders", schema, sample_of("orders", 3), [a, b],
                        max_rejects=1)
    assert (stamp["rows"], stamp["rejects"]) == (2, 1)
    assert query(database, "SELECT id, qty, note, day::text FROM orders ORDER BY id") == [
        (1, None, "x", "2024-01-01"), (2, 5, "NA", None)]
    [reject] = read_rejects(tmp_path / "orders" / "rejects.jsonl")
    assert (reject["file"], reject["line"]) == (str(b), 3)


def test_without_pgloader_copy_is_used(database: db.Database, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))   # no pgloader anywhere
    stamp = copy_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5),
                        [DATA / "import_people.csv"], engine="pgloader")
    assert stamp["engine"] == "copy"
    assert stamp["notice"] == ("pgloader is not installed, so csv2pg loaded the table with its "
                               "built-in engine (engine = \"copy\")")
    assert query(database, "SELECT count(*) FROM people") == [(5,)]
    assert os.environ["PATH"] == str(bin_dir)


def test_an_empty_value_in_a_not_null_column_is_a_reject(database: db.Database, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("id,qty,note,day\n1,1,a,2024-01-01\n,2,b,2024-01-02\n3,3,c,2024-01-03\n",
                    encoding="utf-8")
    stamp = copy_import(database, tmp_path / "orders", ORDERS, sample_of("orders", 3), [path],
                        max_rejects=1)
    assert (stamp["rows"], stamp["rejects"]) == (2, 1)
    [reject] = read_rejects(tmp_path / "orders" / "rejects.jsonl")
    assert (reject["line"], reject["text"]) == (3, ",2,b,2024-01-02")
    assert str(reject["reason"]).startswith('null value in column "id"')
    assert query(database, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass "
                           "AND attname = 'id'") == [(True,)]


@pytest.mark.parametrize("engine", ["copy", "pgloader"])
def test_column_transforms_reach_both_engines(database: db.Database, tmp_path: Path, engine: str,
                                              pgloader: str) -> None:
    path = tmp_path / "prices.csv"
    path.write_text('id;price;day\n1;1.234,50;31/12/2024\n2;7,25;01/02/2025\n3;;\n', encoding="utf-8")
    schema = schema_of("prices", [
        column("id", "integer"),
        {**column("price", "numeric"), "transform": {"kind": "number", "decimal": ",", "group": ".",
                                                      "currency": None, "percent": False}},
        {**column("day", "date"), "transform": {"kind": "date", "order": "dmy", "separator": "/",
                                                 "month": "number"}},
    ])
    stamp = copy_import(database, tmp_path / "prices", schema, detected_sample("prices", path, 3),
                        [path], engine=engine)
    assert (stamp["engine"], stamp["rows"]) == (engine, 3)
    assert query(database, "SELECT id, price::text, day::text FROM prices ORDER BY id") == [
        (1, "1234.50", "2024-12-31"), (2, "7.25", "2025-02-01"), (3, None, None)]


def test_rows_pgloader_loses_or_invents_send_the_file_through_copy(database: db.Database,
                                                                    tmp_path: Path, pgloader: str) -> None:
    # A .load that reads the source directly although it has a comment line: pgloader loads
    # the comment as a row (its fields padded with NULL) and exits 0. csv2pg sees the count
    # is off, and loads the file again with its own parser.
    path = tmp_path / "items.csv"
    path.write_text("id,name\n# exported by hand\n1,a\n2,b\n", encoding="utf-8")
    schema = schema_of("items", [column("id", "text"), column("name", "text")])
    sample = sample_of("items", 2)
    sample["dialect"]["comment"] = "#"
    work = tmp_path / "items"
    load = render(work, schema, sample)
    stamp = build_import(
        table_name="items", table_schema=schema, sample=sample, load_file=load, csv_path=path,
        csv_hash=hash_file_uncached(path), load_hash=hash_file_uncached(load), database=database,
        work_dir=work, max_rejects=0)
    assert (stamp["engine"], stamp["rows"]) == ("copy", 2)
    assert stamp["notice"] == (
        "pgloader loaded 3 and rejected 0 of the file's 2 rows without saying what happened to "
        "the others, so csv2pg loaded the table again with its built-in engine")
    assert query(database, "SELECT id, name FROM items ORDER BY id") == [("1", "a"), ("2", "b")]
