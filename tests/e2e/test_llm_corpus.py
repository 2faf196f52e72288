"""Proof on ../shared/corpus/real (issue 5.8): the LLM proposes, the data disposes.

1. A scripted model that answers a type the data contradicts for every third column of every
   chunk (plus a hallucinated column and a column left out) still yields schemas that load
   every file with zero rejects: each wrong suggestion is rejected with a reason and the
   heuristic choice stands.
2. A model that answers the right meaning (codes made of digits are text, ISO alpha-2
   country codes are char(2)) improves the schema where the heuristic could not see it,
   and those schemas load with zero rejects too.

Both run the real google-genai client against our fake server, then real pgloader into a
real PostgreSQL.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest

from csv2pg.cli import main
from tests.fake_llm import KEY, FakeLlm, semantic_answer, serve, wrong_answer

pytestmark = pytest.mark.usefixtures("pgloader")

IMPROVED = ("dh_country_codes", "ck_ks_1033", "pl_laucnty16", "vg_zipcodes", "pl_311_animals")


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    for name in [n for n in os.environ if n.startswith("CSV2PG_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_project(root: Path, files: list[Path], url: str) -> None:
    # PostgreSQL judges the types either way; the built-in engine spares pgloader's start-up
    # and single-threaded reading on 40 tables (test_real_corpus.py loads them with pgloader).
    lines = ['[defaults]', 'inference = "llm"', 'engine = "copy"', '', '[llm]', f'base_url = "{url}"',
             'requests_per_minute = 100000', 'concurrency = 8', '']
    for path in files:
        lines += [f"[tables.{path.stem}]", f"source = {json.dumps(str(path))}", ""]
    root.mkdir(parents=True, exist_ok=True)
    (root / "csv2pg.toml").write_text("\n".join(lines), encoding="utf-8")


def build(root: Path, url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["-C", str(root), "build", "-j", "2", "--format", "json", "--database", url])
    out, err = capsys.readouterr()
    result: dict[str, Any] = json.loads(out)
    failed = {t["table"]: t["error"] for t in result["tables"] if t["status"] == "failed"}
    assert code == 0 and not failed, (failed, err)
    return result


def chunk_records(root: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text())["llm"] for p in sorted((root / ".csv2pg").glob("*/chunk_*.types.json"))]


def schema_types(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p.name.split(".")[0], c["column"]): c for p in (root / "schemas").glob("*.schema.json")
            for c in json.loads(p.read_text())["columns"]}


def test_wrong_types_for_a_third_of_the_columns_still_load_with_zero_rejects(
        corpus: Path, fresh_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted((corpus / "real").glob("*.csv"))
    root = tmp_path / "wrong"
    with serve(FakeLlm(answer=wrong_answer)) as fake:
        write_project(root, files, fake.url)
        result = build(root, fresh_database_url, capsys)
    assert len(result["tables"]) == len(files)
    assert all(t["rejects"] == 0 for t in result["tables"]), result["tables"]
    records = chunk_records(root)
    assert {r["outcome"] for r in records} == {"answered"}
    wrong = [c for r in records for c in r["columns"]
             if c["suggestion"] is not None and c["suggestion"]["comment"] == "wrong on purpose"]
    columns = sum(len(r["columns"]) for r in records)
    assert len(wrong) >= columns // 3
    assert all(c["winner"] == "heuristic" and ": rejected, " in c["why"] for c in wrong)
    assert all(r["unknown_columns"] == [{"column_name": "no_such_column",
                                         "why": "the chunk has no such column: ignored"}] for r in records)
    with psycopg.connect(fresh_database_url) as conn:
        for table in result["tables"]:
            row = conn.execute(f'SELECT count(*) FROM public."{table["table"]}"').fetchone()
            assert row is not None and row[0] == table["rows"], table


def test_right_semantic_answers_improve_on_the_heuristic(
        corpus: Path, fresh_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [corpus / "real" / f"{name}.csv" for name in IMPROVED]
    root = tmp_path / "right"
    with serve(FakeLlm(answer=semantic_answer)) as fake:
        write_project(root, files, fake.url)
        result = build(root, fresh_database_url, capsys)
    assert all(t["rejects"] == 0 for t in result["tables"]), result["tables"]
    types = schema_types(root)
    assert types[("dh_country_codes", "iso3166_1_alpha_2")]["type"] == "char(2)"
    assert types[("dh_country_codes", "iso3166_1_alpha_2")]["comment"] == "ISO 3166-1 alpha-2 country code"
    for code in ("iso3166_1_numeric", "region_code", "sub_region_code", "m49"):
        assert types[("dh_country_codes", code)]["type"] == "text", code
        assert types[("dh_country_codes", code)]["source"] == "llm"
    heuristic = {(path.parent.name, c["column"]): c["heuristic"]
                 for path in (root / ".csv2pg").glob("*/chunk_*.types.json")
                 for c in json.loads(path.read_text())["llm"]["columns"]}
    improvements = sorted(f"{table}.{column}: {heuristic[table, column]} → {c['type']}"
                          for (table, column), c in types.items()
                          if c["source"] == "llm" and c["type"] != heuristic[table, column])
    print("\n".join(improvements))
    assert len(improvements) >= 5
    with psycopg.connect(fresh_database_url) as conn:
        row = conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                           "'public.dh_country_codes'::regclass AND attname = 'iso3166_1_alpha_2'").fetchone()
        assert row == ("character(2)",)
        namibia = conn.execute("SELECT count(*) FROM dh_country_codes WHERE iso3166_1_alpha_2 = 'NA'").fetchone()
        assert namibia == (1,)
