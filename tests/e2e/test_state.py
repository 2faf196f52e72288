"""The database's own record (csv2pg.tables): fresh clones, ownership, prune, status, and
what the swap keeps (grants, comments, views, indexes). Real processes, real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.e2e.test_commands import QUICKSTART, csv2pg

pytestmark = pytest.mark.usefixtures("pgloader")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(QUICKSTART, root, ignore=shutil.ignore_patterns(".csv2pg", "schemas"))
    return root


def build(project: Path, url: str, *extra: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    done = csv2pg("-C", str(project), "build", "--format", "json", "--database", url, *extra)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = {}
    return done.returncode, result, done.stderr


def ran(result: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(t["name"] for t in result["tasks"] if t["status"] == "ran")


def status(project: Path, url: str) -> dict[str, dict]:  # type: ignore[type-arg]
    done = csv2pg("-C", str(project), "status", "--format", "json", "--database", url, check=True)
    return {row["table"]: row for row in json.loads(done.stdout)}


def test_a_fresh_clone_reimports_only_what_changed(project: Path, fresh_database_url: str) -> None:
    code, _, err = build(project, fresh_database_url)
    assert code == 0, err
    with psycopg.connect(fresh_database_url) as conn:
        recorded = conn.execute("select db_schema, table_name, rows, rejects, engine, csv2pg_version "
                                "from csv2pg.tables order by 2").fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in recorded] == [
        ("public", "customers", 120, 0), ("public", "orders", 400, 0), ("public", "products", 40, 0)]

    shutil.rmtree(project / ".csv2pg")          # a fresh clone: schemas/ committed, no build dir
    code, second, err = build(project, fresh_database_url)
    assert code == 0, err
    assert not [name for name in ran(second) if name.startswith("import:")]
    assert "sample:orders" in ran(second)      # profiling may run again; importing may not
    assert {t["table"]: t["rows"] for t in second["tables"]} == {"customers": 120, "orders": 400,
                                                                 "products": 40}
    assert {row["state"] for row in status(project, fresh_database_url).values()} == {"up-to-date"}

    with open(project / "data" / "products.tsv", "a", encoding="utf-8", newline="") as handle:
        handle.write(_last_line_copy(project / "data" / "products.tsv", "9041"))
    shutil.rmtree(project / ".csv2pg")
    stale = status(project, fresh_database_url)
    assert stale["products"]["state"] == "stale" and "CSV changed" in stale["products"]["why"]
    assert stale["orders"]["state"] == "up-to-date"
    code, third, err = build(project, fresh_database_url)
    assert code == 0, err
    assert [name for name in ran(third) if name.startswith("import:")] == ["import:products"]
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select count(*) from products").fetchone() == (41,)


def _last_line_copy(path: Path, new_id: str) -> str:
    """The file's last record again with another first field (a new product)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = lines[-1].split("\t")
    fields[0] = new_id
    return "\t".join(fields) + "\n"


def test_a_table_dropped_by_hand_is_rebuilt(project: Path, fresh_database_url: str) -> None:
    assert build(project, fresh_database_url)[0] == 0
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("drop table orders")
    assert status(project, fresh_database_url)["orders"]["why"] == "public.orders is missing from the database"
    code, result, err = build(project, fresh_database_url)
    assert code == 0, err
    assert [n for n in ran(result) if n.startswith("import:")] == ["import:orders"]


def test_a_table_csv2pg_did_not_create_needs_force(project: Path, fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("create table products (precious text)")
        conn.execute("insert into products values ('keep me')")
    code, result, err = build(project, fresh_database_url)
    assert code == 1
    failed = {t["table"]: t["error"] for t in result["tables"] if t["status"] == "failed"}
    assert list(failed) == ["products"]
    assert ("public.products already exists and was not created by csv2pg; csv2pg replaces only "
            "the tables it created") in failed["products"]
    assert "csv2pg build --force" in failed["products"]
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select * from products").fetchall() == [("keep me",)]
        assert conn.execute("select count(*) from orders").fetchone() == (400,)  # others built

    text = csv2pg("-C", str(project), "build", "--database", fresh_database_url)
    assert text.returncode == 1 and "was not created by csv2pg" in text.stderr
    assert "Traceback" not in text.stderr

    code, result, err = build(project, fresh_database_url, "--force")
    assert code == 0, err
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select count(*) from products").fetchone() == (40,)
    # Replaced once, it is csv2pg's own: the next build needs no --force.
    with open(project / "data" / "products.tsv", "a", encoding="utf-8") as handle:
        handle.write(_last_line_copy(project / "data" / "products.tsv", "9042"))
    assert build(project, fresh_database_url)[0] == 0


def test_prune_drops_only_tables_the_manifest_no_longer_lists(project: Path, tmp_path: Path,
                                                             fresh_database_url: str) -> None:
    assert build(project, fresh_database_url)[0] == 0
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("create table notes (a int)")   # not csv2pg's: never pruned
    other = tmp_path / "other"                       # another project, same database
    other.mkdir()
    (other / "extra.csv").write_text("a\n1\n", encoding="utf-8")
    (other / "csv2pg.toml").write_text('[tables.extra]\nsource = "extra.csv"\n', encoding="utf-8")
    assert build(other, fresh_database_url)[0] == 0
    manifest = project / "csv2pg.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text[:text.index("[tables.products]")], encoding="utf-8")

    rows = status(project, fresh_database_url)
    assert rows["public.products"]["state"] == "removed"
    assert rows["public.products"]["rows"] == 40
    assert "csv2pg prune" in rows["public.products"]["why"]
    assert "products" not in rows and "public.notes" not in rows and "public.extra" not in rows

    dry = csv2pg("-C", str(project), "prune", "--dry-run", "--database", fresh_database_url, check=True)
    assert "would drop public.products (40 rows)" in dry.stderr
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select count(*) from products").fetchone() == (40,)
    done = csv2pg("-C", str(project), "prune", "--database", fresh_database_url, check=True)
    assert "dropped public.products (40 rows)" in done.stderr
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select to_regclass('public.products')").fetchone() == (None,)
        assert conn.execute("select to_regclass('public.notes')").fetchone() != (None,)
        assert conn.execute("select count(*) from extra").fetchone() == (1,)   # the other project's
        assert conn.execute("select project, count(*) from csv2pg.tables group by 1 order by 1").fetchall() == [
            ("other", 1), ("shop", 2)]
    again = csv2pg("-C", str(project), "prune", "--database", fresh_database_url, check=True)
    assert "nothing to prune" in again.stderr
    assert "public.products" not in status(project, fresh_database_url)


def test_the_swap_keeps_grants_comments_and_views_and_builds_indexes(
        project: Path, fresh_database_url: str, server_url: str) -> None:
    manifest = project / "csv2pg.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'primary_key = "infer"', 'primary_key = "infer"\nindexes = ["customer_id", ["status", "ordered_at"]]'),
        encoding="utf-8")
    assert build(project, fresh_database_url)[0] == 0
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("drop role if exists csv2pg_reader")
        conn.execute("create role csv2pg_reader")
    try:
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            conn.execute("grant select on orders to csv2pg_reader")
            conn.execute("comment on table orders is 'the shop''s orders'")
            conn.execute("comment on column orders.status is 'order state'")
            conn.execute("create view big_orders as select order_id, quantity from orders where quantity > 5")
            conn.execute("create view big_order_count as select count(*) as n from big_orders")
            conn.execute("grant select on big_orders to csv2pg_reader")
            before = conn.execute("select n from big_order_count").fetchone()
        with open(project / "data" / "orders.csv", "a", encoding="utf-8") as handle:
            handle.write(_orders_row(project))
        code, result, err = build(project, fresh_database_url)
        assert code == 0, err
        assert "import:orders" in ran(result)
        with psycopg.connect(fresh_database_url) as conn:
            assert conn.execute("select count(*) from orders").fetchone() == (401,)
            assert conn.execute("select has_table_privilege('csv2pg_reader', 'orders', 'SELECT')").fetchone() == (True,)
            assert conn.execute("select obj_description('orders'::regclass, 'pg_class')").fetchone() == ("the shop's orders",)
            assert conn.execute("select col_description('orders'::regclass, 6)").fetchone() == ("order state",)
            after = conn.execute("select n from big_order_count").fetchone()
            assert after is not None and before is not None and after[0] == before[0] + 1
            assert conn.execute("select has_table_privilege('csv2pg_reader', 'big_orders', 'SELECT')").fetchone() == (True,)
            indexes = conn.execute("select indexname, indexdef from pg_indexes where tablename = 'orders' "
                                   "order by 1").fetchall()
        assert [name for name, _ in indexes] == ["orders_customer_id_idx", "orders_pkey",
                                                 "orders_status_ordered_at_idx"]
        assert "(status, ordered_at)" in dict(indexes)["orders_status_ordered_at_idx"]
        with psycopg.connect(fresh_database_url) as conn:
            assert conn.execute("select count(*) from pg_tables where tablename like '%staging%'").fetchone() == (0,)
    finally:
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:
            conn.execute("drop owned by csv2pg_reader")
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute("drop role if exists csv2pg_reader")


def _orders_row(project: Path) -> str:
    """A new order: the file's last one again with another id and a quantity of 9."""
    with open(project / "data" / "orders.csv", encoding="utf-8", newline="") as handle:
        fields = list(csv.reader(handle))[-1]
    fields[0], fields[3] = "999999", "9"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue()


def test_a_view_that_no_longer_fits_keeps_the_old_table(project: Path, fresh_database_url: str) -> None:
    assert build(project, fresh_database_url)[0] == 0
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("create view skus as select sku from orders")
    path = project / "data" / "orders.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("sku", "article", 1), encoding="utf-8")   # the column is renamed
    code, result, _ = build(project, fresh_database_url)
    assert code == 1
    error = next(t["error"] for t in result["tables"] if t["table"] == "orders")
    assert "the view public.skus depends on the table and no longer fits its new columns" in error
    assert "nothing was changed" in error
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select count(*) from skus").fetchone() == (400,)
        assert conn.execute("select count(*) from pg_tables where tablename like '%staging%'").fetchone() == (0,)


def test_a_foreign_key_refuses_the_swap_naming_it(project: Path, fresh_database_url: str) -> None:
    code, _, err = build(project, fresh_database_url)
    assert code == 0, err
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("create table returns (order_id bigint references orders (order_id))")
    with open(project / "data" / "orders.csv", "a", encoding="utf-8") as handle:
        handle.write(_orders_row(project))
    code, result, _ = build(project, fresh_database_url)
    assert code == 1
    error = next(t["error"] for t in result["tables"] if t["table"] == "orders")
    assert "cannot replace public.orders: foreign key returns_order_id_fkey of returns depend(s) on it" in error
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select count(*) from orders").fetchone() == (400,)


def test_preflight_stops_before_any_step(project: Path, tmp_path: Path, fresh_database_url: str) -> None:
    done = csv2pg("-C", str(project), "build", "--database",
                  "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=3")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot connect to postgresql://nobody@127.0.0.1:1/nowhere")
    assert not (project / ".csv2pg" / "orders" / "sample.json").exists()   # no step ran

    old = tmp_path / "old-bin"
    old.mkdir()
    (old / "pgloader").write_text("#!/bin/sh\necho 'pgloader version \"3.5.2\"'\necho 'compiled with SBCL 1.4'\n",
                                  encoding="utf-8")
    (old / "pgloader").chmod(0o755)
    env = dict(os.environ, PATH=f"{old}:{os.environ['PATH']}")
    done = csv2pg("-C", str(project), "build", "--database", fresh_database_url, env=env)
    assert done.returncode == 1
    assert ("csv2pg needs pgloader 3.6 or later; `pgloader --version` says: pgloader version "
            "\"3.5.2\" compiled with SBCL 1.4") in done.stderr
    assert 'engine = "copy"' in done.stderr
    assert not (project / ".csv2pg" / "orders" / "sample.json").exists()


def test_a_progress_bar_per_importing_table(tmp_path: Path, fresh_database_url: str) -> None:
    from tests.e2e.test_resume import write_csv

    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data" / "items.csv", 200_000, 6)
    (tmp_path / "csv2pg.toml").write_text('[tables.items]\nsource = "data/items.csv"\n', encoding="utf-8")
    size_mb = (tmp_path / "data" / "items.csv").stat().st_size / 1e6
    primary, secondary = os.openpty()   # stderr is a terminal: csv2pg shows its progress bars
    build = subprocess.Popen([sys.executable, "-m", "csv2pg", "-C", str(tmp_path), "build", "--database",
                              fresh_database_url], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=secondary, env=dict(os.environ, COLUMNS="120", TERM="xterm"))
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert build.wait(timeout=300) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "import items" in screen
    assert f"/{size_mb:,.1f} MB" in screen
    assert "✓ items" in screen and "200000 rows loaded" in screen


def test_tables_loaded_before_the_record_existed_are_adopted(project: Path, fresh_database_url: str) -> None:
    assert build(project, fresh_database_url)[0] == 0
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute("drop schema csv2pg cascade")   # as an older csv2pg left the database
    # The build dir's stamps show csv2pg loaded them here: rebuilt, no --force needed.
    code, result, err = build(project, fresh_database_url)
    assert code == 0, err
    assert sorted(n for n in ran(result) if n.startswith("import:")) == [
        "import:customers", "import:orders", "import:products"]
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("select count(*) from csv2pg.tables").fetchone() == (3,)
