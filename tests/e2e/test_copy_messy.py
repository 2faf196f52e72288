"""Both engines on every file of ../shared/corpus/messy/ that loads, and the real/ files under
500 KB (the larger ones take pgloader most of a minute and add no new dialect): the same rows.

Each file goes through the real steps as in test_messy_build.py (profile, inference, render),
then is imported once by pgloader and once by the built-in engine into one fresh database;
the two tables must hold the same rows (compared as sorted row texts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from csv2pg import db
from csv2pg.dialect import Dialect
from csv2pg.errors import Csv2pgError
from csv2pg.hashing import hash_file_uncached
from csv2pg.identifiers import quote_ident
from csv2pg.manifest import single_file_project
from csv2pg.normalize import needs_normalizing
from csv2pg.stages.importer import build_import
from csv2pg.stages.infer import build_chunk_types, chunk_plan
from csv2pg.stages.render import build_load
from csv2pg.stages.sample import build_sample
from csv2pg.stages.schema import build_table_schema

pytestmark = pytest.mark.usefixtures("pgloader")


def load_both(csv_path: Path, name: str, database: db.Database, work: Path) -> dict[str, str] | None:
    """{engine: the loaded table's rows as one text} (None when the profile refuses the file)."""
    project = single_file_project(csv_path, table_entry={"table": name}, name=name)
    table = project.tables[0]
    try:
        sample = build_sample(table, hash_file_uncached(csv_path), "0" * 32)
        if sample["problems"]:
            return None
        chunks = [build_chunk_types(table, sample, c)
                  for c in range(len(chunk_plan(table, [p["column"] for p in sample["columns"]])))]
        schema = build_table_schema(table, sample, chunks)
    except Csv2pgError:
        return None
    reason = needs_normalizing(Dialect.from_dict(sample["dialect"]), table.files)
    load_text, _ = build_load(schema, sample["dialect"], sample["rows"],
                              db.staging_name(table.table), normalized=reason)
    work.mkdir(parents=True, exist_ok=True)
    load = work / f"{name}.load"
    load.write_text(load_text, encoding="utf-8")
    found: dict[str, str] = {}
    for engine in ("pgloader", "copy"):
        stamp = build_import(
            table_name=table.table, table_schema=schema, sample=sample, load_file=load,
            csv_path=table.source, csv_hash="0" * 32, load_hash=hash_file_uncached(load),
            database=database, work_dir=work, max_rejects=0, csv_files=table.files, engine=engine)
        assert stamp["engine"] == engine and stamp["rows"] == sample["rows"], csv_path.name
        with db.connected(database) as conn:
            row = conn.execute(f"SELECT string_agg(t::text, e'\\n' ORDER BY t::text) "
                               f"FROM public.{quote_ident(name)} t").fetchone()
        assert row is not None
        found[engine] = str(row[0])
    return found


REAL_FILE_LIMIT = 500_000


@pytest.mark.parametrize(("folder", "least"), [("messy", 40), ("real", 20)])
def test_both_engines_load_the_same_rows(corpus: Path, fresh_database_url: str, tmp_path: Path,
                                         folder: str, least: int) -> None:
    database = db.resolve_database(fresh_database_url, tmp_path / "build")
    files = sorted(p for p in (corpus / folder).iterdir() if p.name != "SOURCES.md"
                   and (folder == "messy" or p.stat().st_size < REAL_FILE_LIMIT))
    different = {}
    loaded = 0
    for number, path in enumerate(files, start=1):
        found = load_both(path, f"t{number}", database, tmp_path / f"t{number}")
        if found is None:
            continue
        loaded += 1
        if found["pgloader"] != found["copy"]:
            different[path.name] = (found["pgloader"][:300], found["copy"][:300])
    assert loaded >= least
    assert different == {}
