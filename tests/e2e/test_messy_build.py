"""Every file of ../shared/corpus/messy/ through the real steps (issue 3, points 1, 4, 5).

Each file is profiled and inferred in memory (as ``csv2pg.api.analyze`` does), rendered
(with ``needs_normalizing`` deciding whether pgloader reads a normalized copy, as the build
graph does) and imported by real pgloader into one fresh database, one table each. It either
loads with the profile's rows and columns, or is refused with a Csv2pgError whose message
says why; nothing else may escape. The outcome of each file is pinned in ``EXPECTED``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from csv2pg import db
from csv2pg.dialect import Dialect
from csv2pg.errors import Csv2pgError
from csv2pg.hashing import hash_file_uncached
from csv2pg.identifiers import quote_ident
from csv2pg.manifest import single_file_project
from csv2pg.normalize import needs_normalizing
from csv2pg.settings import TableSettings
from csv2pg.stages.importer import build_import
from csv2pg.stages.infer import build_chunk_types, chunk_plan
from csv2pg.stages.render import build_load
from csv2pg.stages.sample import build_sample
from csv2pg.stages.schema import build_table_schema, problems_error

pytestmark = pytest.mark.usefixtures("pgloader")

# file → (rows, columns) when it loads, or a part of the refusal's message. When detection or
# the profile improves, a failure prints the new table to paste here after checking it.
RAGGED = "different number of fields than the header"
EXPECTED: dict[str, tuple[int, int] | str] = {
    'clevercsv_milk.csv': (371, 23),
    'cpython_sniffer_header2_sample8.csv': (4, 5),
    'cpython_sniffer_sample2.txt': (4, 5),
    'csvkit_Datagov_FY10_EDU_recp_by_State.csv': (53, 9),
    'csvkit_bad_skip_lines.csv': RAGGED,
    'csvkit_census_2000_determination_schema.csv': (21, 6),
    'csvkit_event-notification-rpt-lastmonth.txt': (72, 72),
    'csvkit_mac_newlines.csv': (2, 3),
    'csvkit_test_utf16_big.csv': (2, 3),
    'duckdb_all_quotes.csv': RAGGED,
    'duckdb_auto_backslash_escape.csv': (3, 3),
    'duckdb_auto_duplicate_header_columns.csv': (2, 13),
    'duckdb_auto_normalize_names_2.csv': (2, 3),
    'duckdb_auto_normalize_names_6.csv': (2, 3),
    'duckdb_auto_tab_single_quote.csv': (3, 3),
    'duckdb_auto_titlebasicsdebug.tsv': (3002, 9),
    'duckdb_comments_simple.csv': (2, 2),
    'duckdb_csv_quoted_newline_odd.csv': RAGGED,
    'duckdb_empty.csv': 'the file is empty',
    'duckdb_encodings_latin1.csv': (12, 2),
    'duckdb_encodings_shift_jis.csv': (20, 2),
    'duckdb_encodings_utf16.csv': (20, 2),
    'duckdb_error_banklist.csv': (568, 7),
    'duckdb_header_only_2.csv': (0, 2),
    'duckdb_inconsistent_cells.csv': RAGGED,
    'duckdb_issue2628_中文.csv': (3, 2),
    'duckdb_lineitem-carriage.csv': (10, 16),
    'duckdb_nullbyte.csv': 'NUL characters',
    'duckdb_nullpadding.csv': RAGGED,
    'duckdb_people_utf8bom.csv': (4, 2),
    'duckdb_pollock_file_field_delimiter_0x20.csv': RAGGED,
    'duckdb_real_imdb_movie_info_escaped.csv': (201, 5),
    'duckdb_real_ncvoter.csv': (10, 94),
    'duckdb_test_invalid_utf_big.csv': 'the file is not valid utf-8',
    'duckdb_test_long_line.csv': (2, 3),
    'duckdb_test_many_empty_lines.csv': (1, 1),
    'duckdb_test_mixed_line_endings.csv': (3, 3),
    'duckdb_test_quoted_newline.csv': (2, 2),
    'duckdb_thijs_unquoted.csv': (4, 3),
    'duckdb_unescaped_quotes_stops.csv': (9, 4),
    'duckdb_venue_pipe.csv': (202, 5),
    'frictionless_blank-headers.csv': (2, 3),
    'frictionless_defective-rows.csv': RAGGED,
    'frictionless_duplicate-headers.csv': (2, 5),
    'frictionless_escaping.csv': (3, 2),
    'frictionless_issue-1066-largecellsize.csv': (19, 2),
    'frictionless_issue-1138.csv': (7, 4),
    'frictionless_issue-811.csv': (7904, 26),
    'frictionless_skip-rows.csv': (2, 2),
    'frictionless_table-infer-iso-8859-7.csv': (4, 3),
    'frictionless_table-with-accents.csv': (638, 8),
    'frictionless_wide.csv': 'PostgreSQL allows at most 1600',
    'frictionless_without-headers.csv': (3, 2),
    'pgloader_allcols.csv': (8, 3),
    'pgloader_column-subset.csv': (7, 5),
    'pgloader_csv-escape-mode_inline.csv': (5, 85),
    'pgloader_errors_inline.csv': RAGGED,
    'pgloader_header-auto.csv': (2, 6),
    'pgloader_projection.csv': (5, 6),
    'pgloader_skip2header.csv': (8, 4),
}


def prepare_load(csv_path: Path, name: str, work: Path) -> tuple[TableSettings, dict[str, Any],
                                                                 dict[str, Any], Path]:
    """Profile, infer and render ``csv_path`` as table ``name``: (table, sample, schema, .load)."""
    project = single_file_project(csv_path, table_entry={"table": name}, name=name)
    table = project.tables[0]
    sample = build_sample(table, hash_file_uncached(csv_path), "0" * 32)
    chunks = [build_chunk_types(table, sample, c)
              for c in range(len(chunk_plan(table, [p["column"] for p in sample["columns"]])))]
    if sample["problems"]:
        raise problems_error(table, sample)
    schema = build_table_schema(table, sample, chunks)
    reason = needs_normalizing(Dialect.from_dict(sample["dialect"]), table.files)
    load_text, _ = build_load(schema, sample["dialect"], sample["rows"],
                              db.staging_name(table.table), normalized=reason)
    work.mkdir(parents=True, exist_ok=True)
    load = work / f"{name}.load"
    load.write_text(load_text, encoding="utf-8")
    return table, sample, schema, load


def build_one(csv_path: Path, name: str, database: db.Database, work: Path) -> tuple[int, int]:
    """Profile, infer, render and import ``csv_path`` as table ``name``: (rows, columns)."""
    table, sample, schema, load = prepare_load(csv_path, name, work)
    stamp = build_import(
        table_name=table.table, table_schema=schema, sample=sample, load_file=load,
        csv_path=table.source, csv_hash="0" * 32, load_hash=hash_file_uncached(load),
        database=database, work_dir=work, max_rejects=0, csv_files=table.files)
    return int(stamp["rows"]), len(schema["columns"])


def outcome(csv_path: Path, name: str, database: db.Database, work: Path) -> tuple[int, int] | str:
    try:
        rows, columns = build_one(csv_path, name, database, work)
    except Csv2pgError as error:
        return str(error)
    with db.connected(database) as conn:
        count = conn.execute(f"SELECT count(*) FROM public.{quote_ident(name)}").fetchone()
        width = conn.execute("SELECT count(*) FROM information_schema.columns WHERE "
                             "table_schema = 'public' AND table_name = %s", (name,)).fetchone()
    assert count is not None and width is not None
    assert (count[0], width[0]) == (rows, columns), csv_path.name
    return rows, columns


def test_every_messy_file_loads_or_is_refused_clearly(corpus: Path, fresh_database_url: str,
                                                      tmp_path: Path) -> None:
    database = db.resolve_database(fresh_database_url, tmp_path / "build")
    files = sorted(p for p in (corpus / "messy").iterdir() if p.name != "SOURCES.md")
    got: dict[str, Any] = {}
    for number, path in enumerate(files, start=1):
        got[path.name] = outcome(path, f"t{number}", database, tmp_path / f"t{number}")
    pinned = {name: result if isinstance(result, tuple) or not isinstance(EXPECTED.get(name), str)
              or str(EXPECTED[name]) not in result else EXPECTED[name]
              for name, result in got.items()}
    for name, result in got.items():
        if isinstance(result, str):  # a refusal names the file and says how to fix it
            assert name in result and "\n  hint: " in result, (name, result)
    if pinned != EXPECTED:
        table = "".join(f"    {name!r}: {result!r},\n" for name, result in pinned.items())
        pytest.fail(f"the outcomes changed; if they are right, EXPECTED becomes:\n{table}")


ACCENTED = [("Crème brûlée", "Zürich"), ("Œuvre «naïve» – 5 €", "São Paulo"), ("façade", "Ærø")]


@pytest.mark.parametrize(("encoding", "bom"), [("cp1252", b""), ("utf-16-le", b"\xff\xfe")])
def test_non_utf8_text_arrives_as_the_source_text(encoding: str, bom: bytes,
                                                  fresh_database_url: str, tmp_path: Path) -> None:
    text = "dessert,ville\r\n" + "".join(f'"{a}",{b}\r\n' for a, b in ACCENTED)
    csv_path = tmp_path / f"accents_{encoding.replace('-', '_')}.csv"
    csv_path.write_bytes(bom + text.encode(encoding))
    database = db.resolve_database(fresh_database_url, tmp_path / "build")
    assert build_one(csv_path, "accents", database, tmp_path / "work") == (3, 2)
    with db.connected(database) as conn:
        rows = conn.execute("SELECT dessert, ville FROM public.accents ORDER BY 1").fetchall()
    assert sorted(rows) == sorted(ACCENTED)
    assert not (tmp_path / "work" / "normalized.csv").exists()
