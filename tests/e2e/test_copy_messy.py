"""Both engines on every file of ../shared/corpus/messy/ that loads, and the real/ files under
500 KB (the larger ones take pgloader most of a minute and add no new dialect): the same rows.

Each file goes through the real steps as in test_messy_build.py (profile, inference, render),
then is imported once by pgloader and once by the built-in engine into one fresh database;
the two tables must hold the same rows (compared as sorted row texts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from csv2pg import db
from csv2pg.errors import Csv2pgError
from csv2pg.hashing import hash_file_uncached
from csv2pg.identifiers import quote_ident
from csv2pg.stages.importer import build_import
from tests.e2e.test_messy_build import prepare_load

pytestmark = pytest.mark.usefixtures("pgloader")


def load_both(csv_path: Path, name: str, database: db.Database, work: Path) -> dict[str, str] | None:
    """{engine: the loaded table's rows as one text} (None when the profile refuses the file)."""
    try:
        table, sample, schema, load = prepare_load(csv_path, name, work)
    except Csv2pgError:
        return None
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
