"""`csv2pg build --locked`: the CI gate. Real processes, real PostgreSQL and pgloader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.e2e.test_commands import QUICKSTART, csv2pg

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def built(tmp_path: Path, fresh_database_url: str, pgloader: str) -> Path:
    """The quickstart, built once (schemas/ written, as a user would commit them)."""
    root = tmp_path / "shop"
    shutil.copytree(QUICKSTART, root, ignore=shutil.ignore_patterns(".csv2pg", "schemas"))
    csv2pg("-C", str(root), "build", "--database", fresh_database_url, check=True)
    return root


def _imported_at(url: str) -> list[tuple[str, object]]:
    with psycopg.connect(url) as conn:
        return conn.execute("select table_name, imported_at from csv2pg.tables order by 1").fetchall()


def _edit_orders(root: Path, line: int, column: int, value: str) -> None:
    path = root / "data" / "orders.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    fields = lines[line - 1].split(",")
    fields[column] = value
    lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines), encoding="utf-8")


def test_locked_fails_before_the_database_when_a_type_no_longer_fits(built: Path,
                                                                     fresh_database_url: str) -> None:
    schemas = {p.name: p.read_bytes() for p in (built / "schemas").iterdir()}
    before = _imported_at(fresh_database_url)
    _edit_orders(built, 5, 3, "lots")        # quantity, a smallint column
    _edit_orders(built, 9, 5, "")            # status, a NOT NULL column
    done = csv2pg("-C", str(built), "build", "--locked", "--database", fresh_database_url)
    assert done.returncode == 1
    assert "the data no longer fits the committed schemas (--locked); nothing was loaded" in done.stderr
    assert "orders.quantity: smallint → text: 'lots' at line 5 (1 value(s) are not smallint)" in done.stderr
    assert "orders.status: not null → nullable: 1 empty or null value(s)" in done.stderr
    assert "customers" not in done.stderr.split("hint:")[0]     # the other tables still fit
    assert "Traceback" not in done.stderr
    assert {p.name: p.read_bytes() for p in (built / "schemas").iterdir()} == schemas   # never rewritten
    assert _imported_at(fresh_database_url) == before                                  # untouched

    unlocked = csv2pg("-C", str(built), "build", "--database", fresh_database_url)
    assert unlocked.returncode == 0, unlocked.stderr   # without --locked the schema follows the data
    assert (built / "schemas" / "orders.schema.json").read_bytes() != schemas["orders.schema.json"]


def test_locked_loads_data_that_still_fits_and_runs_no_inference(built: Path, fresh_database_url: str) -> None:
    schemas = {p.name: p.read_bytes() for p in (built / "schemas").iterdir()}
    _edit_orders(built, 5, 3, "12")          # another value, still a smallint
    shutil.rmtree(built / ".csv2pg")         # CI: a fresh clone
    done = csv2pg("-C", str(built), "build", "--locked", "--format", "json", "--database",
                  fresh_database_url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    names = [t["name"] for t in result["tasks"]]
    assert not [n for n in names if n.startswith(("infer:", "schema:"))]
    assert [t["name"] for t in result["tasks"] if t["status"] == "ran" and t["name"].startswith("import:")] == [
        "import:orders"]
    assert {p.name: p.read_bytes() for p in (built / "schemas").iterdir()} == schemas
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select quantity from orders where order_id = 100004").fetchone() == (12,)


def test_locked_names_new_and_missing_columns_and_a_missing_schema(built: Path,
                                                                    fresh_database_url: str) -> None:
    path = built / "data" / "orders.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines = [line + (",gift" if i == 0 else ",no" if line else "") for i, line in enumerate(lines)]
    path.write_text("\n".join(lines), encoding="utf-8")
    (built / "schemas" / "products.schema.json").unlink()
    done = csv2pg("-C", str(built), "build", "--locked", "--database", fresh_database_url)
    assert done.returncode == 1
    assert "orders.gift: a new column (header 'gift')" in done.stderr
    assert ("products: no committed schema for products: run `csv2pg build` without --locked and "
            "commit schemas/") in done.stderr
    assert not (built / "schemas" / "products.schema.json").exists()


def test_the_example_workflow_runs_build_locked_with_a_postgres_service() -> None:
    import yaml  # the dev group installs PyYAML
    workflow = yaml.safe_load((REPO / "examples" / "github-actions" / "csv2pg-locked.yml").read_text(encoding="utf-8"))
    triggers = workflow[True] if True in workflow else workflow["on"]   # YAML 1.1 reads `on` as true
    assert "**/*.csv" in triggers["push"]["paths"]
    (job,) = workflow["jobs"].values()
    assert job["services"]["postgres"]["image"].startswith("postgres:")
    assert "5432:5432" in job["services"]["postgres"]["ports"]
    assert job["env"]["CSV2PG_DATABASE"].startswith("postgresql://")
    assert "PGPASSWORD" in job["env"] and urlsplit(job["env"]["CSV2PG_DATABASE"]).password is None
    runs = [step.get("run", "") for step in job["steps"]]
    assert "csv2pg build --locked" in runs
    assert any("pgloader" in run for run in runs)
