"""End to end: `csv2pg build` and `csv2pg analyze` with inference = "llm", the real
google-genai client talking to our fake Gemini server, a real PostgreSQL and pgloader."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import psycopg
import pytest

from csv2pg.cli import main
from tests.fake_llm import KEY, FakeLlm, entry, semantic_answer, serve, status

pytestmark = pytest.mark.usefixtures("pgloader")

PEOPLE = {
    "id": [str(i) for i in range(1, 41)],
    "zip": [f"{10000 + i * 7}" for i in range(40)],
    "country": ["US", "DE", "NA", "FR", "GB"] * 8,
    "region_code": [str(i % 9 + 1) for i in range(40)],
    "amount": [f"{i}.25" for i in range(40)],
}


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    for name in [n for n in os.environ if n.startswith("CSV2PG_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return KEY


def write_csv(path: Path, columns: dict[str, list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(columns))
        for i in range(len(next(iter(columns.values())))):
            writer.writerow([v[i] for v in columns.values()])
    return path


def project(root: Path, url: str, llm: str = "") -> Path:
    write_csv(root / "people.csv", PEOPLE)
    (root / "csv2pg.toml").write_text(
        '[defaults]\ninference = "llm"\n\n'
        f'[llm]\nbase_url = "{url}"\nrequests_per_minute = 6000\n{llm}\n'
        '[tables.people]\nsource = "people.csv"\n', encoding="utf-8")
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def db_types(url: str, table: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum) "
            "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum", (f"public.{table}",)).fetchall()
    return {name: pg_type + (f" -- {comment}" if comment else "") for name, pg_type, comment in rows}


def everything_written(root: Path) -> str:
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in root.rglob("*") if p.is_file())


def test_build_takes_what_the_data_allows_and_never_asks_twice(
        tmp_path: Path, fresh_database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(FakeLlm(answer=semantic_answer)) as fake:
        root = project(tmp_path / "p", fake.url)
        code, out, err = run(capsys, "-C", str(root), "-v", "build", "--database", fresh_database_url)
        assert code == 0, err
        assert "llm people chunk_0: gemini-3.5-flash, " in err
        assert "tokens 321 in / 45 out: answered" in err
        assert len(fake.requests) == 1
        schema = json.loads((root / "schemas" / "people.schema.json").read_text())
        columns = {c["column"]: c for c in schema["columns"]}
        assert columns["country"]["type"] == "char(2)" and columns["country"]["source"] == "llm"
        assert columns["country"]["comment"] == "ISO 3166-1 alpha-2 country code"
        assert columns["region_code"]["type"] == "text"   # the heuristic said smallint
        assert db_types(fresh_database_url, "people")["country"] == "character(2) -- ISO 3166-1 alpha-2 country code"
        with psycopg.connect(fresh_database_url) as conn:
            namibia = conn.execute("SELECT count(*) FROM people WHERE country = 'NA'").fetchone()
        assert namibia == (8,)
        chunk = json.loads((root / ".csv2pg" / "people" / "chunk_0.types.json").read_text())
        row = next(r for r in chunk["llm"]["columns"] if r["column"] == "region_code")
        assert (row["heuristic"], row["suggestion"]["type"], row["winner"]) == ("smallint", "text", "llm")

        # Up to date: nothing asked. Another model makes the infer step stale.
        assert run(capsys, "-C", str(root), "build", "--database", fresh_database_url)[0] == 0
        assert len(fake.requests) == 1
        code, out, _ = run(capsys, "-C", str(root), "plan", "--llm-model", "gemini-3.6-flash",
                           "--database", fresh_database_url)
        assert "infer:people:chunk_0" in out and "inference options changed" in out
        # A clean build dir but a cached answer: still not asked again; --no-cache asks.
        run(capsys, "-C", str(root), "clean")
        assert run(capsys, "-C", str(root), "build", "--database", fresh_database_url)[0] == 0
        assert len(fake.requests) == 1
        run(capsys, "-C", str(root), "clean")
        assert run(capsys, "-C", str(root), "build", "--no-cache", "--database", fresh_database_url)[0] == 0
        assert len(fake.requests) == 2
    assert KEY not in everything_written(root)


def test_a_failing_provider_degrades_to_heuristics_with_a_warning(
        tmp_path: Path, fresh_database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with serve() as fake:
        root = project(tmp_path / "p", fake.url, "retries = 1\n")
        fake.push(status(503), status(503))
        code, out, err = run(capsys, "-C", str(root), "build", "--database", fresh_database_url)
        assert code == 0, err
        assert ("warning: LLM provider gemini (model gemini-3.5-flash) failed for table people (chunk_0): "
                "HTTP 503 UNAVAILABLE: The model is overloaded. Please try again later; heuristics were used") in err
        schema = json.loads((root / "schemas" / "people.schema.json").read_text())
        assert {c["source"] for c in schema["columns"]} == {"heuristic"}
        code, out, _ = run(capsys, "-C", str(root), "plan")
        assert "the LLM gave no usable answer last time (heuristics were used): asking again" in out
        # The next build asks again, and this time the answer comes.
        assert run(capsys, "-C", str(root), "build", "--database", fresh_database_url)[0] == 0
        schema = json.loads((root / "schemas" / "people.schema.json").read_text())
        assert "llm" in {c["source"] for c in schema["columns"]}


def test_required_llm_fails_the_build(tmp_path: Path, fresh_database_url: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with serve() as fake:
        root = project(tmp_path / "p", fake.url, "retries = 0\nrequired = true\n")
        fake.push(status(500))
        code, _out, err = run(capsys, "-C", str(root), "build", "--database", fresh_database_url)
    assert code == 1
    assert "the LLM provider gemini (model gemini-3.5-flash) failed for chunk_0: HTTP 500 INTERNAL" in err
    assert "Traceback" not in err


def test_analyze_with_llm_without_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = write_csv(tmp_path / "data" / "people.csv", PEOPLE)
    with serve(FakeLlm(answer=semantic_answer)) as fake:
        argv = ["analyze", str(csv_path), "--inference", "llm", "--llm-base-url", fake.url,
                "--llm-requests-per-minute", "6000", "--format", "json"]
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        result = json.loads(out)
        columns = {c["column"]: c for c in result["columns"]}
        assert columns["country"]["type"] == "char(2)" and columns["country"]["source"] == "llm"
        assert result["llm"][0]["outcome"] == "answered"
        cached = list((tmp_path / "user-cache" / "csv2pg" / "llm").iterdir())
        assert len(cached) == 1 and KEY not in cached[0].read_text()
        assert run(capsys, *argv)[0] == 0 and len(fake.requests) == 1
        assert run(capsys, *argv, "--no-cache")[0] == 0 and len(fake.requests) == 2


def test_no_key_degrades_and_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    csv_path = write_csv(tmp_path / "people.csv", PEOPLE)
    code, _out, err = run(capsys, "analyze", str(csv_path), "--inference", "llm")
    assert code == 0
    assert ("warning: LLM provider gemini (model gemini-3.5-flash) failed for table people (chunk_0): "
            "no API key: set GEMINI_API_KEY or GOOGLE_API_KEY (or name another variable in "
            "llm.api_key_env); heuristics were used") in err




def test_the_copy_engine_writes_the_comments_too(tmp_path: Path, fresh_database_url: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with serve(FakeLlm(answer=semantic_answer)) as fake:
        root = project(tmp_path / "p", fake.url)
        code, _, err = run(capsys, "-C", str(root), "build", "--engine", "copy", "--database", fresh_database_url)
    assert code == 0, err
    types = db_types(fresh_database_url, "people")
    assert types["country"] == "character(2) -- ISO 3166-1 alpha-2 country code"
    assert types["zip"] == "text -- a code made of digits, not a quantity"


def test_build_locked_never_asks_a_model(tmp_path: Path, fresh_database_url: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with serve(FakeLlm(answer=semantic_answer)) as fake:
        root = project(tmp_path / "p", fake.url)
        assert run(capsys, "-C", str(root), "build", "--database", fresh_database_url)[0] == 0
        assert len(fake.requests) == 1
        more = {k: v + v[:5] for k, v in PEOPLE.items()}
        more["id"] = [str(i) for i in range(1, 46)]
        write_csv(root / "people.csv", more)
        (root / ".csv2pg" / "llm-cache").rename(root / "old-cache")  # asking would be needed
        fake.push(*[status(500)] * 10)
        code, _, err = run(capsys, "-C", str(root), "build", "--locked", "--database", fresh_database_url)
        assert code == 0, err
        assert len(fake.requests) == 1
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM people").fetchone() == (45,)


def test_explain_shows_the_suggestion_and_its_fate(tmp_path: Path, fresh_database_url: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def answer(briefs: list[dict[str, object]]) -> list[dict[str, object]]:
        return [entry("country", "char(2)", "ISO country"), entry("amount", "integer")]

    with serve(FakeLlm(answer=answer)) as fake:
        root = project(tmp_path / "p", fake.url)
        assert run(capsys, "-C", str(root), "build", "--database", fresh_database_url)[0] == 0
    code, out, _ = run(capsys, "-C", str(root), "explain", "people", "amount")
    assert code == 0
    assert ("llm: suggested integer (confidence 0.90); heuristic won: gemini-3.5-flash suggested integer: "
            "rejected, 40 value(s) are not integer (line 2: '0.25')") in out
    code, out, _ = run(capsys, "-C", str(root), "explain", "people", "country")
    assert "type char(2) not null  source llm" in out and "comment: ISO country" in out


def test_a_hostile_comment_stays_a_comment(tmp_path: Path, fresh_database_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "O'Brien's $$; drop table people; $$ {{CSV2PG_TARGET}} code\\n"

    def answer(briefs: list[dict[str, object]]) -> list[dict[str, object]]:
        return [entry("zip", "text", hostile)]

    with serve(FakeLlm(answer=answer)) as fake:
        root = project(tmp_path / "p", fake.url)
        code, _, err = run(capsys, "-C", str(root), "build", "--database", fresh_database_url)
    assert code == 0, err
    assert db_types(fresh_database_url, "people")["zip"] == (
        "text -- O'Brien's ; drop table people; CSV2PG_TARGET code n")
