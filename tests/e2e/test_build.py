"""End to end: `csv2pg build` on a project, against a real PostgreSQL with the real pgloader."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from csv2pg.cli import main

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"
EXPECTED_ROWS = {"customers": 120, "orders": 400, "products": 40}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    try:
        parsed = json.loads(out) if out.strip() else None
    except ValueError:
        parsed = out
    return code, parsed, err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(QUICKSTART, root, ignore=shutil.ignore_patterns(".csv2pg", "schemas"))
    return root


def build(capsys: pytest.CaptureFixture[str], root: Path, url: str, *extra: str) -> tuple[int, Any, str]:
    return run(capsys, "-C", str(root), "build", "--format", "json", "--database", url, *extra)


def ran(result: dict[str, Any]) -> list[str]:
    return sorted(t["name"] for t in result["tasks"] if t["status"] == "ran")


def column_types(url: str, table: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position", (table,)).fetchall()
    return {name: f"{kind}{'' if nullable == 'YES' else ' not null'}" for name, kind, nullable in rows}


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f'SELECT count(*) FROM public."{table}"').fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.usefixtures("pgloader")
def test_fresh_build_then_nothing_to_do(capsys: pytest.CaptureFixture[str], project: Path,
                                        fresh_database_url: str) -> None:
    code, plan, _ = run(capsys, "-C", str(project), "plan", "--format", "json", "--database", fresh_database_url)
    assert code == 0 and len(plan["tasks"]) == 15
    assert plan["tasks"][:2] == [{"name": "sample:customers", "reason": "no sample.json yet"},
                                 {"name": "infer:customers:chunk_0", "reason": "no chunk_0.types.json yet"}]
    assert not (project / ".csv2pg").exists() and not (project / "schemas").exists()  # plan writes nothing

    code, result, err = build(capsys, project, fresh_database_url)
    assert code == 0, err + json.dumps(result, indent=1)
    assert {t["table"]: t["rows"] for t in result["tables"]} == EXPECTED_ROWS
    for table, rows in EXPECTED_ROWS.items():
        assert count(fresh_database_url, table) == rows
    # The committed schema's types are the database's types.
    for table in EXPECTED_ROWS:
        schema = json.loads((project / "schemas" / f"{table}.schema.json").read_text(encoding="utf-8"))
        pg_types = column_types(fresh_database_url, table)
        assert list(pg_types) == [c["column"] for c in schema["columns"]]
        spelled = {"timestamptz": "timestamp with time zone", "timestamp": "timestamp without time zone"}
        for column in schema["columns"]:
            expected = spelled.get(column["type"], column["type"].split("(")[0])
            assert pg_types[column["column"]].split(" not null")[0] == expected, column
            assert pg_types[column["column"]].endswith("not null") == (not column["nullable"]), column
    with psycopg.connect(fresh_database_url) as conn:
        keys = conn.execute(
            "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name) "
            "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public' ORDER BY 1").fetchall()
    assert keys == [("customers", "customer_id"), ("orders", "order_id")]
    orders = column_types(fresh_database_url, "orders")
    assert orders["order_id"] == "bigint not null"
    assert orders["ordered_at"] == "timestamp with time zone not null"
    assert orders["tracking_uuid"] == "uuid not null"
    customers = column_types(fresh_database_url, "customers")
    assert customers["postal_code"] == "text not null"       # the override
    assert customers["credit_limit"] == "numeric"            # NA and empty are NULL
    assert customers["vip"] == "boolean not null"
    # Text from the cp1252 file is the source text.
    source = (project / "data" / "customers.csv").read_bytes().decode("cp1252").splitlines()[1].split(";")[1]
    with psycopg.connect(fresh_database_url) as conn:
        row = conn.execute('SELECT name FROM customers WHERE customer_id = 1').fetchone()
    assert row is not None and row[0] == source

    code, result, _ = build(capsys, project, fresh_database_url)
    assert code == 0
    assert ran(result) == []

    code, plan, _ = run(capsys, "-C", str(project), "plan", "--format", "json", "--database", fresh_database_url)
    assert (code, plan) == (0, {"tasks": []})
    code, status, _ = run(capsys, "-C", str(project), "status", "--format", "json", "--database", fresh_database_url)
    assert code == 0
    assert [(s["table"], s["state"], s["rows"], s["rejects"]) for s in status] == [
        (t, "up-to-date", n, 0) for t, n in sorted(EXPECTED_ROWS.items())]
    assert set(status[0]) == {"table", "state", "rows", "rejects", "csv", "last_import"}


@pytest.mark.usefixtures("pgloader")
def test_only_what_changed_runs(capsys: pytest.CaptureFixture[str], project: Path, fresh_database_url: str) -> None:
    code, _, err = build(capsys, project, fresh_database_url)
    assert code == 0, err
    orders = project / "data" / "orders.csv"

    # Touched but unchanged: nothing runs.
    later = time.time_ns() + 5_000_000_000
    os.utime(orders, ns=(later, later))
    code, result, _ = build(capsys, project, fresh_database_url)
    assert (code, ran(result)) == (0, [])

    # Edited: only that table's steps, and plan says so first.
    with orders.open("a", encoding="utf-8") as handle:
        handle.write("200001,5,P-0001,2,2024-12-01T10:00:00Z,paid,,0b0f9a34-1c4e-4a53-9d5e-5a6c2f0d9e11\n")
    code, plan, _ = run(capsys, "-C", str(project), "plan", "--format", "json", "--database", fresh_database_url)
    assert [t["name"] for t in plan["tasks"]] == [
        "sample:orders", "infer:orders:chunk_0", "schema:orders", "load:orders", "import:orders"]
    assert plan["tasks"][0]["reason"] == "the CSV changed (data/orders.csv)"
    code, result, _ = build(capsys, project, fresh_database_url)
    assert code == 0
    assert ran(result) == ["import:orders", "infer:orders:chunk_0", "load:orders", "sample:orders"]
    assert count(fresh_database_url, "orders") == 401

    # A changed override: schema, load and import, not sample or infer.
    manifest = project / "csv2pg.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + '\n[tables.orders.columns]\nquantity = "integer"\n',
                        encoding="utf-8")
    code, result, _ = build(capsys, project, fresh_database_url)
    assert code == 0
    assert ran(result) == ["import:orders", "load:orders", "schema:orders"]
    assert column_types(fresh_database_url, "orders")["quantity"] == "integer not null"


@pytest.mark.usefixtures("pgloader")
def test_quickstart_schemas_match_the_committed_ones(capsys: pytest.CaptureFixture[str], project: Path,
                                                     fresh_database_url: str, regen_golden: bool) -> None:
    code, _, err = build(capsys, project, fresh_database_url)
    assert code == 0, err
    for table in EXPECTED_ROWS:
        produced = (project / "schemas" / f"{table}.schema.json").read_text(encoding="utf-8")
        committed = QUICKSTART / "schemas" / f"{table}.schema.json"
        if regen_golden:
            committed.parent.mkdir(exist_ok=True)
            committed.write_text(produced, encoding="utf-8")
        assert committed.read_text(encoding="utf-8") == produced, (
            f"{committed} differs from a fresh build; run `uv run pytest --regen-golden` and review the diff")


@pytest.mark.usefixtures("pgloader")
def test_a_failing_table_does_not_stop_the_others(capsys: pytest.CaptureFixture[str], project: Path,
                                                  fresh_database_url: str) -> None:
    manifest = project / "csv2pg.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + '\n[tables.products.columns]\n"product name" = "integer"\n',
                        encoding="utf-8")
    code, result, _ = build(capsys, project, fresh_database_url)
    assert code == 1
    by_table = {t["table"]: t for t in result["tables"]}
    assert by_table["products"]["status"] == "failed"
    assert "forced to integer" in by_table["products"]["error"]
    assert "line 2: 'Café crème 250g #1'" in by_table["products"]["error"]
    assert by_table["orders"]["status"] == "built" and by_table["customers"]["status"] == "built"
    code, status, _ = run(capsys, "-C", str(project), "status", "--format", "json", "--database", fresh_database_url)
    assert {s["table"]: s["state"] for s in status}["products"] == "failed"


@pytest.mark.usefixtures("pgloader")
def test_a_broken_row_appended_fails_the_table_and_keeps_the_old_one(
        capsys: pytest.CaptureFixture[str], project: Path, fresh_database_url: str) -> None:
    code, _, err = build(capsys, project, fresh_database_url, "customers")
    assert code == 0, err
    with (project / "data" / "customers.csv").open("ab") as handle:
        handle.write(b"121;only two\r\n")
    code, result, _ = build(capsys, project, fresh_database_url, "customers")
    assert code == 1
    error = result["tables"][0]["error"]
    assert "data/customers.csv:122: 1 record has a different number of fields than the header" in error
    assert "(first at line 122: 2 fields, expected 7)" in error
    assert count(fresh_database_url, "customers") == 120  # the previous table is still there


@pytest.mark.usefixtures("pgloader")
def test_parallel_build_gives_the_same_tables(capsys: pytest.CaptureFixture[str], project: Path,
                                              fresh_database_url: str) -> None:
    code, result, err = build(capsys, project, fresh_database_url, "-j", "3")
    assert code == 0, err
    assert {t["table"]: t["rows"] for t in result["tables"]} == EXPECTED_ROWS
    assert len(ran(result)) == 15
    for table in EXPECTED_ROWS:
        assert (project / "schemas" / f"{table}.schema.json").read_text(encoding="utf-8") == (
            QUICKSTART / "schemas" / f"{table}.schema.json").read_text(encoding="utf-8")
    code, result, _ = build(capsys, project, fresh_database_url, "-j", "3")
    assert (code, ran(result)) == (0, [])


@pytest.mark.usefixtures("pgloader")
def test_primary_key_duplicates_fail_and_keep_the_old_table(
        capsys: pytest.CaptureFixture[str], project: Path, fresh_database_url: str) -> None:
    code, _, err = build(capsys, project, fresh_database_url, "orders")
    assert code == 0, err
    orders = project / "data" / "orders.csv"
    first = orders.read_text(encoding="utf-8").splitlines()[1]
    with orders.open("a", encoding="utf-8") as handle:
        handle.write(first.replace(",paid,", ",void,").replace(",shipped,", ",void,") + "\n")
    manifest = project / "csv2pg.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'primary_key = "infer"', 'primary_key = ["order_id"]'), encoding="utf-8")
    code, result, _ = build(capsys, project, fresh_database_url, "orders")
    assert code == 1
    error = result["tables"][0]["error"]
    assert "could not swap the loaded rows into public.orders" in error
    assert "the primary key's columns have duplicate values" in error
    assert count(fresh_database_url, "orders") == 400

    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'primary_key = ["order_id"]', 'primary_key = ["order_idd"]'), encoding="utf-8")
    code, result, _ = build(capsys, project, fresh_database_url, "orders")
    assert code == 2
    assert "primary_key in [tables.orders] names a column 'order_idd'" in result["tables"][0]["error"]
    assert 'did you mean "order_id"?' in result["tables"][0]["error"]


@pytest.mark.usefixtures("pgloader")
def test_a_table_dropped_by_hand_is_noticed_and_rebuilt(
        capsys: pytest.CaptureFixture[str], project: Path, fresh_database_url: str) -> None:
    code, _, err = build(capsys, project, fresh_database_url)
    assert code == 0, err
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE products")
    code, plan, _ = run(capsys, "-C", str(project), "plan", "--format", "json", "--database", fresh_database_url)
    assert plan == {"tasks": [{"name": "import:products",
                               "reason": "public.products is missing from the database"}]}
    code, result, _ = build(capsys, project, fresh_database_url)
    assert (code, ran(result)) == (0, ["import:products"])
    assert count(fresh_database_url, "products") == 40


@pytest.mark.usefixtures("pgloader")
def test_a_duplicate_appended_updates_the_schema_unique_fact(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, fresh_database_url: str) -> None:
    root = tmp_path / "codes"
    root.mkdir()
    data = root / "codes.csv"
    # Past 100 values the confidences no longer move, so the decisions stay byte-identical.
    data.write_text("code,qty\n" + "".join(f"C{i:04d},{i % 7}\n" for i in range(150)),
                    encoding="utf-8")
    (root / "csv2pg.toml").write_text('[tables.codes]\nsource = "codes.csv"\n', encoding="utf-8")
    schema_file = root / "schemas" / "codes.schema.json"

    def unique() -> dict[str, bool]:
        doc = json.loads(schema_file.read_text(encoding="utf-8"))
        return {c["column"]: c["unique"] for c in doc["columns"]}

    assert build(capsys, root, fresh_database_url)[0] == 0
    assert unique() == {"code": True, "qty": False}
    # The types stay the same, but code is no longer unique: the schema must say so.
    with data.open("a", encoding="utf-8") as handle:
        handle.write("C0001,4\n")
    code, result, err = build(capsys, root, fresh_database_url)
    assert code == 0, err
    assert "schema:codes" in ran(result)
    assert unique() == {"code": False, "qty": False}
