"""csv2pg.llm: the request, the answer's validation, judging against the profile, and the
advisor talking to our fake server through the real google-genai client and httpx2."""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from csv2pg.artifacts import validation_errors
from csv2pg.hashing import hash_value
from csv2pg.llm.advisor import Advisor
from csv2pg.llm.base import LlmError, LlmRequest, make_provider
from csv2pg.llm.judge import contradiction, normalize_type
from csv2pg.llm.prompt import AnswerError, build_request, parse_answer, redact_value
from csv2pg.manifest import single_file_project
from csv2pg.settings import LlmSettings, TableSettings
from csv2pg.stages.infer import build_advised_chunk_types, build_chunk_types
from csv2pg.stages.sample import build_sample
from tests.fake_llm import (
    KEY,
    MALFORMED,
    TRUNCATED,
    FakeLlm,
    entry,
    hang,
    semantic_answer,
    serve,
    status,
)

HASH = "0" * 32
COLUMNS = {
    "id": [str(i) for i in range(1, 31)],
    "zip": [f"{10000 + i * 7}" for i in range(30)],
    "country": ["US", "DE", "NA", "FR", "GB"] * 6,
    "email": [f"user{i}@example.com" for i in range(30)],
    "amount": [f"{i}.5" for i in range(30)],
}


def write_csv(path: Path, columns: dict[str, list[str]]) -> Path:
    rows = max(len(v) for v in columns.values())
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(columns))
        for i in range(rows):
            writer.writerow([v[i] if i < len(v) else "" for v in columns.values()])
    return path


def llm_table(path: Path, url: str | None = None, **llm: Any) -> TableSettings:
    flags = {"inference": "llm", **({"llm_base_url": url} if url else {})}
    table = single_file_project(path, flags=flags, environ={}).tables[0]
    settings = replace(table.llm, requests_per_minute=6000, **llm)
    return replace(table, llm=settings)


def sample_of(table: TableSettings) -> dict[str, Any]:
    return build_sample(table, HASH, hash_value(table.sample_options()))


def advise(table: TableSettings, advisor: Advisor | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sample = sample_of(table)
    return build_advised_chunk_types(table, sample, 0, advisor or Advisor(None, backoff_initial=0.05), HASH)


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    return KEY


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "people.csv", COLUMNS)


def by_column(columns: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["column"]: c for c in columns}


# --- the request -----------------------------------------------------------------------------

def test_request_has_names_statistics_and_values(data: Path) -> None:
    table = llm_table(data)
    request = build_request(sample_of(table)["columns"], table.llm)
    assert "PostgreSQL" in request.system
    briefs = json.loads(request.prompt.split("Columns (JSON):\n")[1])
    zip_brief = next(b for b in briefs if b["column"] == "zip")
    assert zip_brief["types_every_value_parses_as"][:3] == ["smallint", "integer", "bigint"]
    assert zip_brief["values"][:2] == ["10000", "10007"]
    assert zip_brief["null_share"] == 0.0 and zip_brief["max_length"] == 5


def test_appended_rows_do_not_change_the_request(tmp_path: Path) -> None:
    first = llm_table(write_csv(tmp_path / "a.csv", COLUMNS))
    more = {k: v + v[:10] for k, v in COLUMNS.items()}
    more["id"] = [str(i) for i in range(1, 41)]
    second = llm_table(write_csv(tmp_path / "b.csv", more))
    one = build_request(sample_of(first)["columns"], first.llm)
    two = build_request(sample_of(second)["columns"], second.llm)
    assert one == two


def test_send_values_false_sends_names_and_type_statistics_only(data: Path) -> None:
    table = llm_table(data, send_values=False)
    request = build_request(sample_of(table)["columns"], table.llm)
    assert "example.com" not in request.prompt and "10007" not in request.prompt
    assert '"values"' not in request.prompt and '"email"' in request.prompt


def test_redact_masks_emails_phones_and_long_digit_runs(data: Path) -> None:
    assert redact_value("ann@example.org") == "<email>"
    assert redact_value("+1 (555) 123-4567") == "<phone>"
    assert redact_value("card 4111111111111111") == "card ################"
    for kept in ("10007", "2024-01-02", "12.03.2024 10:00", "3.14159265"):
        assert redact_value(kept) == kept
    table = llm_table(data, redact=True)
    request = build_request(sample_of(table)["columns"], table.llm)
    assert "example.com" not in request.prompt and "<email>" in request.prompt


# --- the answer ------------------------------------------------------------------------------

def test_answer_shape_is_validated() -> None:
    good = {"columns": [entry("zip", "text", confidence=0.8)]}
    assert parse_answer(json.dumps(good))[0]["confidence"] == 0.8
    with pytest.raises(AnswerError, match="not JSON"):
        parse_answer('{"columns": [')
    with pytest.raises(AnswerError, match="columns/0/confidence"):
        parse_answer(json.dumps({"columns": [entry("zip", "text", confidence="very")]}))
    with pytest.raises(AnswerError, match="'postgresql_type' is a required property"):
        parse_answer(json.dumps({"columns": [{"column_name": "zip", "nullable": True,
                                              "confidence": "high", "reasoning": ""}]}))


@pytest.mark.parametrize(("spelled", "normal"), [
    ("INT4", "integer"), ("character varying(12)", "varchar(12)"), ("Decimal(10, 2)", "numeric(10,2)"),
    ("timestamp with time zone", "timestamptz"), ("varchar", "text"), ("float8", "double precision"),
])
def test_type_spellings_are_normalised(spelled: str, normal: str) -> None:
    assert normalize_type(spelled) == normal


@pytest.mark.parametrize(("column", "pg_type", "refusal"), [
    ("zip", "text", None),
    ("zip", "integer", None),
    ("zip", "date", "30 value(s) are not date"),
    ("country", "char(2)", None),
    ("country", "char(3)", "shorter than 3 characters"),
    ("country", "varchar(1)", "more than varchar(1) holds"),
    ("amount", "numeric(4,1)", None),
    ("amount", "numeric(3,2)", "digits before the point"),
    ("amount", "numeric(5,0)", "1 decimals"),
    ("email", "varchar2(20)", "'varchar2(20)' is not a PostgreSQL type"),
    ("email", "jsonb", "30 value(s) are not jsonb"),
    ("amount", "real", "would round values"),
    ("id", "money", "lc_monetary"),
])
def test_the_data_disposes(data: Path, column: str, pg_type: str, refusal: str | None) -> None:
    profile = next(p for p in sample_of(llm_table(data))["columns"] if p["column"] == column)
    found = contradiction(profile, normalize_type(pg_type))
    assert (found is None) if refusal is None else (refusal in (found or "")), found


def test_leading_zeros_refuse_numbers(tmp_path: Path) -> None:
    table = llm_table(write_csv(tmp_path / "codes.csv", {"code": ["00501", "10001", "02134"]}))
    profile = sample_of(table)["columns"][0]
    assert contradiction(profile, "integer") == "values have leading zeros that integer would drop"


# --- through the real google-genai client ----------------------------------------------------

def test_semantic_answers_improve_the_heuristic_and_are_recorded(data: Path, key: str) -> None:
    with serve(FakeLlm(answer=semantic_answer)) as fake:
        table = llm_table(data, fake.url)
        heuristic = by_column(build_chunk_types(table, sample_of(table), 0))
        columns, record = advise(table)
    got = by_column(columns)
    assert heuristic["zip"]["type"] == "integer" or heuristic["zip"]["type"] == "text"
    assert got["zip"]["type"] == "text" and got["zip"]["source"] == "llm"
    assert (heuristic["country"]["type"], got["country"]["type"]) == ("text", "char(2)")
    assert got["country"]["comment"] == "ISO 3166-1 alpha-2 country code"
    assert got["country"]["null_tokens"] == []  # "NA" is Namibia in a char(2) column
    assert got["id"]["source"] == "llm" and "confirmed by gemini-3.5-flash" in got["id"]["reason"]
    row = next(r for r in record["columns"] if r["column"] == "country")
    assert (row["heuristic"], row["suggestion"]["type"], row["winner"]) == ("text", "char(2)", "llm")
    doc = {"schema_version": 1, "table": "t", "chunk": 0, "inputs": {"sample": HASH, "options": HASH},
           "columns": columns, "llm": record}
    assert validation_errors("types", doc) == []
    request = fake.requests[0]
    assert request["path"] == "/v1beta/models/gemini-3.5-flash:generateContent"
    assert request["json"]["generationConfig"]["responseJsonSchema"]["required"] == ["columns"]
    assert request["headers"]["x-goog-api-key"] == key


def test_hallucinated_missing_and_contradicted_columns_keep_the_heuristic(data: Path, key: str) -> None:
    def answer(briefs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [entry("zip", "date"), entry("amount", "numeric(3,2)"), entry("ghost", "integer"),
                entry("id", "bigint")]

    with serve(FakeLlm(answer=answer)) as fake:
        table = llm_table(data, fake.url)
        heuristic = by_column(build_chunk_types(table, sample_of(table), 0))
        columns, record = advise(table)
    got = by_column(columns)
    for name in ("zip", "amount", "country", "email"):
        assert got[name] == heuristic[name]
    why = {r["column"]: r["why"] for r in record["columns"]}
    assert why["zip"] == "gemini-3.5-flash suggested date: rejected, 30 value(s) are not date (line 2: '10000')"
    assert why["country"] == "the answer has no entry for this column"
    assert record["unknown_columns"] == [{"column_name": "ghost", "why": "the chunk has no such column: ignored"}]


def test_low_confidence_does_not_change_a_type(data: Path, key: str) -> None:
    with serve(FakeLlm(answer=lambda b: [entry("amount", "text", confidence="low")])) as fake:
        columns, record = advise(llm_table(data, fake.url))
    assert by_column(columns)["amount"]["type"] == "numeric"
    assert "low confidence" in next(r["why"] for r in record["columns"] if r["column"] == "amount")


def test_429_waits_for_the_servers_retry_delay(data: Path, key: str) -> None:
    with serve() as fake:
        fake.push(status(429, retry_delay="0.8s"))
        _columns, record = advise(llm_table(data, fake.url))
    assert record["outcome"] == "answered" and len(fake.requests) == 2
    assert fake.requests[1]["time"] - fake.requests[0]["time"] >= 0.75  # not the 0.05 s backoff


@pytest.mark.parametrize("code", [500, 503])
def test_server_errors_are_retried_with_backoff(data: Path, key: str, code: int) -> None:
    with serve() as fake:
        fake.push(status(code), status(code))
        _columns, record = advise(llm_table(data, fake.url))
    assert record["outcome"] == "answered" and len(fake.requests) == 3


def test_a_failing_provider_degrades_to_heuristics_with_a_warning(
        data: Path, key: str, caplog: pytest.LogCaptureFixture) -> None:
    with serve() as fake, caplog.at_level(logging.WARNING, logger="csv2pg.llm"):
        fake.push(*[status(503)] * 3)
        table = llm_table(data, fake.url, retries=2)
        columns, record = advise(table)
    assert columns == build_chunk_types(table, sample_of(table), 0)
    assert record["outcome"] == "failed"
    assert record["error"] == "HTTP 503 UNAVAILABLE: The model is overloaded. Please try again later."
    assert caplog.messages == [
        "LLM provider gemini (model gemini-3.5-flash) failed for table people (chunk_0): HTTP 503 "
        "UNAVAILABLE: The model is overloaded. Please try again later; heuristics were used"]


def test_required_llm_fails_instead(data: Path, key: str) -> None:
    with serve() as fake:
        fake.push(status(500), status(500))
        table = llm_table(data, fake.url, retries=1, required=True)
        with pytest.raises(LlmError, match=r"the LLM provider gemini \(model gemini-3.5-flash\) failed for chunk_0: HTTP 500"):
            advise(table)


def test_a_hang_past_the_timeout_is_retried(data: Path, key: str) -> None:
    with serve() as fake:
        fake.push(hang(3))
        started = time.monotonic()
        _columns, record = advise(llm_table(data, fake.url, timeout=1.0))
    assert record["outcome"] == "answered" and len(fake.requests) == 2
    assert 1.0 <= time.monotonic() - started < 2.9


def test_the_budget_bounds_all_attempts(data: Path, key: str) -> None:
    with serve() as fake:
        fake.push(hang(3), hang(3))
        started = time.monotonic()
        _columns, record = advise(llm_table(data, fake.url, timeout=1.0, budget=1.5))
    assert record["outcome"] == "failed" and "time budget of 1.5 s" in record["error"]
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(("step", "error"), [
    (MALFORMED, "the answer is not JSON"),
    (TRUNCATED, "the answer is incomplete (finish reason max_tokens)"),
])
def test_malformed_and_truncated_answers_keep_the_heuristic(data: Path, key: str, step: Any, error: str) -> None:
    with serve() as fake:
        fake.push(step)
        table = llm_table(data, fake.url)
        columns, record = advise(table)
    assert record["outcome"] == "failed" and record["error"].startswith(error)
    assert columns == build_chunk_types(table, sample_of(table), 0)


def test_a_missing_key_names_the_variables(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    _columns, record = advise(llm_table(data, "http://127.0.0.1:9"))
    assert record["error"] == ("no API key: set GEMINI_API_KEY or GOOGLE_API_KEY "
                               "(or name another variable in llm.api_key_env)")


def test_a_wrong_key_is_not_retried_and_never_shown(data: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    wrong = "wrong-key-0123456789"
    monkeypatch.setenv("MY_KEY", wrong)
    with serve() as fake, caplog.at_level(logging.DEBUG):
        table = llm_table(data, fake.url, api_key_env="MY_KEY")
        _columns, record = advise(table)
        provider = make_provider(table.llm)
    assert len(fake.requests) == 1 and fake.requests[0]["headers"]["x-goog-api-key"] == wrong
    assert record["error"] == "HTTP 400 INVALID_ARGUMENT: API key not valid. Please pass a valid API key."
    for text in (json.dumps(record), caplog.text, repr(provider), str(vars(table.llm))):
        assert wrong not in text


def test_answers_are_cached_and_no_cache_asks_again(data: Path, key: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with serve(FakeLlm(answer=semantic_answer)) as fake:
        table = llm_table(data, fake.url)
        first = advise(table, Advisor(cache))
        second = advise(table, Advisor(cache))
        assert len(fake.requests) == 1 and first == second
        advise(replace(table, llm=replace(table.llm, cache=False)), Advisor(cache))
        assert len(fake.requests) == 2
        advise(replace(table, llm=replace(table.llm, model="other-model")), Advisor(cache))
        assert len(fake.requests) == 3
    assert key not in "".join(p.read_text() for p in cache.iterdir())


def test_chunks_go_out_in_parallel_under_the_limits(tmp_path: Path, key: str) -> None:
    wide = {f"c{i}": [str(i)] * 5 for i in range(8)}
    path = write_csv(tmp_path / "wide.csv", wide)
    with serve() as fake:
        fake.push(hang(0.5), hang(0.5), hang(0.5), hang(0.5))
        table = replace(llm_table(path, fake.url, concurrency=4), chunk_size=2)
        sample = sample_of(table)
        started = time.monotonic()
        build_advised_chunk_types(table, sample, 0, Advisor(None), HASH)
        assert len(fake.requests) == 4 and time.monotonic() - started < 1.5  # 4 x 0.5 s at once
    with serve() as fake:
        table = replace(llm_table(path, fake.url), chunk_size=2, llm=replace(table.llm, base_url=fake.url,
                                                                              requests_per_minute=120))
        build_advised_chunk_types(table, sample, 0, Advisor(None), HASH)
        gaps = [b["time"] - a["time"] for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
        assert len(gaps) == 3 and min(gaps) >= 0.45  # 120 a minute: one every 0.5 s


def test_openai_compatible_provider(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with serve(FakeLlm(answer=semantic_answer, key=None)) as fake:
        fake.push(status(429, retry_delay="0.5s"))
        table = llm_table(data, fake.url + "/v1", provider="openai", model="llama3.1")
        columns, record = advise(table)
    assert by_column(columns)["country"]["type"] == "char(2)" and record["provider"] == "openai"
    request = fake.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "llama3.1"
    assert request["json"]["response_format"]["type"] == "json_schema"
    assert "authorization" not in request["headers"]
    assert fake.requests[1]["time"] - fake.requests[0]["time"] >= 0.45


def test_openai_key_is_sent_as_bearer(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with serve(FakeLlm(answer=semantic_answer)) as fake:
        fake.push(TRUNCATED)
        table = llm_table(data, fake.url, provider="openai", model="gpt-x")
        _columns, record = advise(table)
    assert record["error"] == "the answer is incomplete (finish reason max_tokens)"
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"


def test_request_is_a_value() -> None:
    assert LlmRequest("s", "p", {}).as_dict() == {"system": "s", "prompt": "p", "schema": {}}
    assert LlmSettings().request_options()["model"] == "gemini-3.5-flash"


def test_llm_settings_from_environment_and_staleness(data: Path) -> None:
    environ = {"CSV2PG_INFERENCE": "llm", "CSV2PG_LLM_SEND_VALUES": "false", "CSV2PG_LLM_TIMEOUT": "2.5",
               "CSV2PG_LLM_PROVIDER": "openai", "CSV2PG_LLM_MODEL": "llama3.1"}
    table = single_file_project(data, environ=environ).tables[0]
    assert (table.inference, table.llm.send_values, table.llm.timeout) == ("llm", False, 2.5)
    assert (table.llm.provider, table.llm.model) == ("openai", "llama3.1")
    other = replace(table, llm=replace(table.llm, model="other"))
    assert table.infer_options() != other.infer_options()
    assert replace(table, llm=replace(table.llm, timeout=9)).infer_options() == table.infer_options()
    heuristic = replace(table, inference="heuristic")
    assert heuristic.infer_options() == replace(heuristic, llm=other.llm).infer_options()
    from csv2pg.errors import ConfigError
    with pytest.raises(ConfigError, match="CSV2PG_LLM_REDACT must be true or false, not 'maybe'"):
        single_file_project(data, environ={"CSV2PG_LLM_REDACT": "maybe"})


def test_a_required_llm_error_never_shows_the_key(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-key-abcdef-123456"
    monkeypatch.setenv("GEMINI_API_KEY", wrong)
    with serve() as fake:
        table = llm_table(data, fake.url, required=True)
        with pytest.raises(LlmError) as raised:
            advise(table)
    assert "API key not valid" in str(raised.value)
    for text in (str(raised.value), repr(raised.value), repr(raised.value.__cause__),
                 repr(raised.value.__context__)):
        assert wrong not in text


def test_narrowing_an_identifier_is_refused(data: Path, key: str) -> None:
    with serve(FakeLlm(answer=lambda b: [entry("id", "smallint")])) as fake:
        columns, record = advise(llm_table(data, fake.url))
    assert by_column(columns)["id"]["type"] == "bigint"
    assert "narrower than bigint" in next(r["why"] for r in record["columns"] if r["column"] == "id")


@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_a_response_of_the_wrong_shape_degrades(data: Path, key: str, provider: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fake_llm import GARBAGE

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with serve() as fake:
        fake.push(GARBAGE)
        table = llm_table(data, fake.url, provider=provider)
        columns, record = advise(table)
    assert record["outcome"] == "failed" and len(fake.requests) == 1
    assert record["error"] == {"gemini": "the answer is empty",
                               "openai": "the server's response is not a chat completion"}[provider]
    assert columns == build_chunk_types(table, sample_of(table), 0)
