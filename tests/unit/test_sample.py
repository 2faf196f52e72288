"""stages.sample: the whole-file profile, its problems, its schema and its determinism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from csv2pg.artifacts import canonical_json, validation_errors
from csv2pg.colstats import DistinctSketch, double_text, value_facts
from csv2pg.errors import Csv2pgError, DataError
from csv2pg.formatscan import scan_formats
from csv2pg.settings import DialectOverrides, TableSettings
from csv2pg.stages import sample as sample_stage
from csv2pg.stages.infer import build_chunk_types, chunk_plan
from csv2pg.stages.sample import build_sample

HASH = "0123456789abcdef0123456789abcdef"


def table_for(path: Path, **settings: Any) -> TableSettings:
    return TableSettings(name="people", source=path, source_text=path.name, table="people",
                         db_schema="public", **settings)


def profile(tmp_path: Path, content: str | bytes, **settings: Any) -> dict[str, Any]:
    path = tmp_path / "profile_input.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    doc = build_sample(table_for(path, **settings), HASH, HASH)
    assert validation_errors("sample", {**doc, "schema_version": 1}) == []
    return doc


def column(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["columns"] if c["name"] == name)


PEOPLE = (
    "id,Full Name,zip,score,ratio,born\n"
    "1,Ann,00501,12,1.50,2001-02-03\n"
    "2,,02134,NA,2.5e3,2001-02-30\n"
    "3,Ben,10001,-7,NaN,\n"
    "4,N/A,02134,40000,0.25,1999-12-31\n"
)


def test_document_head(tmp_path: Path) -> None:
    doc = profile(tmp_path, PEOPLE)
    assert doc["table"] == "people"
    assert doc["inputs"] == {"csv": HASH, "options": HASH}
    assert doc["dialect"] == {"encoding": "utf-8", "delimiter": ",", "quotechar": '"',
                              "escapechar": None, "has_header": True, "header_lines": 1,
                              "line_terminator": "\n", "comment": None, "preamble_lines": 0,
                              "footer_lines": 0}
    assert doc["rows"] == 4
    assert doc["problems"] == []
    assert [(c["index"], c["name"], c["column"]) for c in doc["columns"]] == [
        (0, "id", "id"), (1, "Full Name", "full_name"), (2, "zip", "zip"), (3, "score", "score"),
        (4, "ratio", "ratio"), (5, "born", "born")]


# column → expected subset of its profile
EXPECTED_PROFILES: dict[str, dict[str, Any]] = {
    "id": {"non_null": 4, "empty": 0, "null_tokens": {}, "min_length": 1, "max_length": 1,
           "leading_zeros": 0, "integer_min": "1", "integer_max": "4", "max_scale": 0,
           "max_integer_digits": 1, "exponent_values": 0, "values": ["1", "2", "3", "4"],
           "distinct": 4, "min": "1", "max": "4"},
    "Full Name": {"non_null": 2, "empty": 1, "null_tokens": {"N/A": 1}, "min_length": 3,
                  "max_length": 3, "integer_min": None, "max_scale": None,
                  "values": ["Ann", "Ben"], "distinct": 2, "min": None, "max": None},
    "zip": {"non_null": 4, "leading_zeros": 3, "integer_min": "501", "integer_max": "10001",
            "values": ["00501", "02134", "10001"], "distinct": 3, "min": "501", "max": "10001"},
    "score": {"non_null": 3, "null_tokens": {"NA": 1}, "integer_min": "-7",
              "integer_max": "40000", "min": "-7", "max": "40000"},
    "ratio": {"non_null": 4, "integer_min": None, "max_scale": 2, "max_integer_digits": 4,
              "exponent_values": 1, "min": "0.25", "max": "NaN"},
    "born": {"non_null": 3, "empty": 1, "min_length": 10, "max_length": 10, "distinct": 3,
             "min": None, "max": None},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PROFILES))
def test_column_profiles(tmp_path: Path, name: str) -> None:
    found = column(profile(tmp_path, PEOPLE), name)
    assert {k: found[k] for k in EXPECTED_PROFILES[name]} == EXPECTED_PROFILES[name]


# column → {candidate: (failures, [(line, value), ...])} for the candidates worth checking
EXPECTED_FAILURES: dict[str, dict[str, tuple[int, list[tuple[int, str]]]]] = {
    "score": {"smallint": (1, [(5, "40000")]), "integer": (0, []),
              "boolean": (3, [(2, "12"), (4, "-7"), (5, "40000")])},
    "ratio": {"numeric": (0, []), "double precision": (0, []),
              "integer": (4, [(2, "1.50"), (3, "2.5e3"), (4, "NaN"), (5, "0.25")])},
    "born": {"date": (1, [(3, "2001-02-30")]), "timestamp": (1, [(3, "2001-02-30")])},
    "zip": {"integer": (0, [])},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FAILURES))
def test_candidate_failures_and_examples(tmp_path: Path, name: str) -> None:
    candidates = column(profile(tmp_path, PEOPLE), name)["candidates"]
    for candidate, (failures, examples) in EXPECTED_FAILURES[name].items():
        assert candidates[candidate] == {
            "failures": failures,
            "examples": [{"line": line, "value": value} for line, value in examples]}


def test_examples_are_capped_and_lines_count_multiline_records(tmp_path: Path) -> None:
    rows = "".join(f'"multi\nline {i}",x{i}\n' for i in range(8))
    doc = profile(tmp_path, "note,code\n" + rows)
    integer = column(doc, "code")["candidates"]["integer"]
    assert integer["failures"] == 8
    assert [e["line"] for e in integer["examples"]] == [2, 4, 6, 8, 10]


def test_values_are_distinct_truncated_and_limited(tmp_path: Path) -> None:
    long = "x" * 100
    rows = "".join(f"v{i % 7}\n" for i in range(30)) + long + "\n"
    values = column(profile(tmp_path, "a\n" + rows, sample_rows=5), "a")["values"]
    assert values == ["v0", "v1", "v2", "v3", "v4"]
    all_values = column(profile(tmp_path, "a\n" + rows, sample_rows=50), "a")["values"]
    assert all_values == [f"v{i}" for i in range(7)] + ["x" * 80]


def test_null_tokens_count_configured_and_default_tokens(tmp_path: Path) -> None:
    doc = profile(tmp_path, "a\nNA\nn/a\nnull\n-\nNA\nreal\n", null_tokens=("n/a",))
    found = column(doc, "a")
    assert found["null_tokens"] == {"-": 1, "NA": 2, "n/a": 1, "null": 1}
    assert found["non_null"] == 1
    assert found["values"] == ["real"]


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    doc = profile(tmp_path, "foo;bar\n")
    assert doc["rows"] == 0
    assert column(doc, "foo")["non_null"] == 0
    assert column(doc, "foo")["min_length"] is None


def test_ragged_rows_are_one_problem(tmp_path: Path) -> None:
    doc = profile(tmp_path, "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    assert doc["rows"] == 4
    assert doc["problems"] == [{
        "kind": "ragged_rows", "line": 3,
        "message": "2 records have a different number of fields than the header "
                   "(first at line 3: 2 fields, expected 3)",
        "fix": "fix those lines in the file, or if the delimiter or quoting was detected "
               "wrongly set delimiter/quotechar/escapechar in [tables.people]",
    }]
    # the fields that are there are still profiled
    assert column(doc, "a")["non_null"] == 4 and column(doc, "c")["non_null"] == 3


def test_nul_characters_are_a_problem(tmp_path: Path) -> None:
    doc = profile(tmp_path, b"a|b\n1|x\n2|va\x00l\n")
    assert [(p["kind"], p["line"]) for p in doc["problems"]] == [("nul_characters", 3)]
    assert "1 value contains NUL characters" in doc["problems"][0]["message"]


def test_too_many_columns_is_a_data_error(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(1601))
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n" + ",".join("1" for _ in range(1601)) + "\n")
    with pytest.raises(DataError) as caught:
        build_sample(table_for(path), HASH, HASH)
    assert caught.value.message == "the header has 1601 columns; PostgreSQL allows at most 1600"
    assert caught.value.table == "people"


def test_errors_name_the_table_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes("name\nZoë\nJosé\n\xff\n".encode().replace(b"\xc3\xbf", b"\xff"))
    with pytest.raises(DataError) as caught:
        build_sample(table_for(path), HASH, HASH)
    assert caught.value.line == 4
    assert caught.value.table == "people"
    assert caught.value.hint is not None and "[tables.people]" in caught.value.hint


def test_dialect_overrides_are_used(tmp_path: Path) -> None:
    doc = profile(tmp_path, "a;b\n1;2\n", dialect=DialectOverrides(delimiter=",", header=False))
    assert [c["name"] for c in doc["columns"]] == ["column_1"]
    assert column(doc, "column_1")["values"] == ["a;b", "1;2"]


@pytest.mark.parametrize("content", [
    PEOPLE,
    "é,ü\r\n" + "".join(f"{i},{i * 1.5}\r\n" for i in range(50)),
], ids=["people", "crlf"])
def test_same_file_gives_identical_documents(tmp_path: Path, content: str) -> None:
    first = canonical_json(profile(tmp_path, content))
    second = canonical_json(profile(tmp_path, content))
    assert first == second


def test_corpus_files_profile_or_raise_clear_errors(corpus: Path) -> None:
    """Every messy corpus file profiles and infers, or fails with a Csv2pgError (the real
    files are profiled, inferred and validated on write by tests/e2e/test_real_corpus.py)."""
    files = sorted(p for d in ("messy",) for p in (corpus / d).glob("*")
                   if p.is_file() and p.name != "SOURCES.md" and p.stat().st_size <= 5 << 20)
    assert files, "the corpus is empty"
    outcomes: dict[str, str] = {}
    for path in files:
        table = table_for(path)
        try:
            doc = build_sample(table, HASH, HASH)
        except Csv2pgError as error:
            outcomes[path.name] = f"error: {error.message}"
            continue
        assert validation_errors("sample", {**doc, "schema_version": 1}) == [], path.name
        plan = chunk_plan(table, [c["column"] for c in doc["columns"]])
        columns = [c for chunk in range(len(plan))
                   for c in build_chunk_types(table, doc, chunk)]
        chunk_doc = {"schema_version": 1, "table": "people", "chunk": 0,
                     "inputs": {"sample": HASH, "options": HASH}, "columns": columns}
        assert validation_errors("types", chunk_doc) == [], path.name
        outcomes[path.name] = "ok"
    errors = {name: o for name, o in outcomes.items() if o != "ok"}
    # Expected refusals, each with a message a user can act on.
    assert errors.get("duckdb_empty.csv") == "error: the file is empty"
    assert errors.get("frictionless_wide.csv", "").startswith("error: the header has 9074 columns")
    assert len(errors) < len(outcomes) / 10, errors


# --- the DuckDB proof and the Python profile agree ----------------------------------------

BOUNDS = (
    "n,ts,tz,t,d,m\n"
    "1.5,2024-01-01 10:00:00.1234567,2024-01-01T10:00:00 +02,10:00:00.5,2024-02-29,0.5\n"
    "-inf,2024-01-01T09:00,2024-01-01T07:00:00Z,23:59:59.9999999, 2024-01-01 ,1e3\n"
    "1e20,2023-12-31,2024-01-01T10:00-0530,00:00,0001-01-01,-12345678901234567890\n"
)
# column → (min, max): what PostgreSQL prints for the proven type (cut to microseconds)
EXPECTED_BOUNDS = {
    "n": ("-Infinity", "1e+20"),
    "ts": ("2023-12-31 00:00:00", "2024-01-01 10:00:00.123456"),
    "tz": ("2024-01-01 07:00:00+00", "2024-01-01 15:30:00+00"),
    "t": ("00:00:00", "23:59:59.999999"),
    "d": ("0001-01-01", "2024-02-29"),
    "m": ("-1.2345678901234567e+19", "1000"),
}


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_bounds_of_the_proven_type(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "bounds.csv"
    path.write_text(BOUNDS, encoding="utf-8")
    doc = build_sample(table_for(path), HASH, HASH, engine=engine)  # type: ignore[arg-type]
    assert {c["name"]: (c["min"], c["max"]) for c in doc["columns"]} == EXPECTED_BOUNDS


@pytest.mark.parametrize(("number", "text"), [
    (0.0, "0"), (-0.0, "-0"), (1.5, "1.5"), (1500.0, "1500"), (1e14, "100000000000000"),
    (1e15, "1e+15"), (123456789012345.6, "123456789012345.6"), (0.0001, "0.0001"),
    (0.00001, "1e-05"), (-2.5e-300, "-2.5e-300"), (float("nan"), "NaN"),
    (float("inf"), "Infinity"), (float("-inf"), "-Infinity"),
])
def test_double_text_prints_as_postgresql(number: float, text: str) -> None:
    assert double_text(number) == text


@pytest.mark.parametrize("count", [0, 1, 1000, 1024, 1025, 20_000])
def test_distinct_sketch_is_exact_then_close(count: int) -> None:
    sketch = DistinctSketch()
    for i in range(count):
        for _ in range(2):
            sketch.add(value_facts(f"v{i}").hash)
    estimate = sketch.estimate()
    assert estimate == count if count <= 1024 else abs(estimate - count) <= 0.1 * count


PARITY_FILES: dict[str, str | bytes] = {
    "people": PEOPLE,
    "quoted_newlines": 'id,note,when\n1,"a\nb",2024-01-01\n2,"x, ""y""",2024-01-02T10:00\n'
                       '3,,2024-01-03 10:00:00\n',
    "crlf": "a,b\r\n1,2.5\r\n2,x\r\n\r\n3,\r\n",
    "empty_lines": "a,b\n\n1,true\n\n\n2,no\n4,maybe\n",
    "wide_ints": "small,big,huge,money\n1,70000,9223372036854775808,1.50\n"
                 "-2,-3000000000,5,-0.001\n007,1,-1,1e3\n",
    "times": "t,tz,u\n10:00,2024-01-01T10:00:00Z,123e4567-e89b-12d3-a456-426614174000\n"
              "24:00,2024-01-01T10:00:00+02:00,123E4567-E89B-12D3-A456-426614174000\n"
              "23:59:59,2024-02-30T10:00:00Z,nope\n",
    "latin1": "nom;ville\nRaúl;Genève\nNA;-\n".encode("latin-1"),
    "no_header": "1,2\n3,4\n5,x\n",
    "tokens": "a,b\nNA,1\nnull,N/A\n#NULL!,-\nNULL,3\n",
    "bounds": BOUNDS,
    "networks": "ip,net,host_net,doc,bad_doc,clock\n"
                '1.2.3.4,10.0.0.0/8,10.0.0.0/8,"{""a"": [1, 2]}","[1]",9:05\n'
                '::1,2001:db8::/32,10.1.2.3/8,"[{""b"": null}]","[NaN]",0:44:00\n'
                '"::ffff:1.2.3.4",192.168.0.0/16,2001:db8::/32,"[]","{""a"": 1,}",23:59\n',
}


@pytest.fixture(params=["fastscan", "duckdb"])
def scanner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The main pass of the DuckDB path: the compiled one (``fastscan``) or DuckDB's own scan
    (``CSV2PG_FASTSCAN=0``, and wherever fastscan cannot read the file)."""
    if request.param == "duckdb":
        monkeypatch.setenv("CSV2PG_FASTSCAN", "0")
    else:
        monkeypatch.delenv("CSV2PG_FASTSCAN", raising=False)
    return str(request.param)


def _without_estimates(doc: dict[str, Any], python: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (DuckDB's) without extrapolation marks, and with ``python``'s distinct counts
    where its own estimate is within 10 % (or 2) of them: the two paths estimate distinct
    values differently, everything else is equal. DuckDB's approx_count_distinct is exact
    up to about 30 values, then has about 3 % standard error (up to 8 % measured); the
    Python path is exact up to 1024 values; 10 % is about three standard errors."""
    for col, other in zip(doc["columns"], python["columns"], strict=True):
        for candidate in col["candidates"].values():
            candidate.pop("estimated", None)
        if abs(col["distinct"] - other["distinct"]) <= max(2, 0.1 * other["distinct"]):
            col["distinct"] = other["distinct"]
    return doc


@pytest.mark.parametrize("name", sorted(PARITY_FILES))
def test_duckdb_profile_equals_python_profile(tmp_path: Path, name: str, scanner: str) -> None:
    content = PARITY_FILES[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    table = table_for(path)
    python = build_sample(table, HASH, HASH, engine="python")
    duck = build_sample(table, HASH, HASH, engine="duckdb")
    assert validation_errors("sample", {**duck, "schema_version": 1}) == []
    assert canonical_json(_without_estimates(duck, python)) == canonical_json(python)


def _long_file(path: Path, rows: int) -> None:
    lines = ["id,amount,note,day,flag"]
    for i in range(1, rows + 1):
        note = f'"line {i}\nwith, comma"' if i % 7 == 0 else ("NA" if i % 11 == 0 else f"n{i % 13}")
        amount = "oops" if i == rows - 3 else f"{i % 1000}.{i % 100:02d}"
        day = "" if i % 10 == 0 else f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
        lines.append(f"{i},{amount},{note},{day},{'yes' if i % 2 else 'no'}")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8", newline="")


def test_long_file_duckdb_equals_python(tmp_path: Path, scanner: str) -> None:
    path = tmp_path / "long.csv"
    _long_file(path, 5000)
    table = table_for(path)
    duck = build_sample(table, HASH, HASH)  # longer than the head: DuckDB
    assert canonical_json(build_sample(table, HASH, HASH)) == canonical_json(duck)
    python = build_sample(table, HASH, HASH, engine="python")
    assert canonical_json(_without_estimates(duck, python)) == canonical_json(python)
    amount = column(duck, "amount")["candidates"]["numeric"]
    assert amount == {"failures": 1, "examples": [{"line": 2 + 4996 + 4996 // 7, "value": "oops"}]}
    assert duck["rows"] == 5000


def test_long_file_new_types_duckdb_equals_python(tmp_path: Path, scanner: str) -> None:
    """cidr, inet, jsonb and one-digit hours proven by DuckDB, with late failures re-proven."""
    path = tmp_path / "long.csv"
    lines = ["net,late_host,ip,doc,late_doc,clock"]
    for i in range(1, 5001):
        late_host = "10.1.2.3/16" if i == 4321 else f"10.{i % 256}.0.0/16"
        late_doc = '"[1,]"' if i == 4567 else f'"{{""n"": {i}}}"'
        ip = f"2001:db8::{i:x}" if i % 3 else f"192.168.{i % 256}.{i % 200}"
        lines.append(f'{i % 200}.0.0.0/8,{late_host},{ip},"[{i}, ""x""]",{late_doc},{i % 24}:{i % 60:02d}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = table_for(path)
    duck = build_sample(table, HASH, HASH)  # longer than the head: DuckDB
    python = build_sample(table, HASH, HASH, engine="python")
    assert canonical_json(_without_estimates(duck, python)) == canonical_json(python)
    failures = {c["name"]: {n: c["candidates"][n]["failures"] for n in ("cidr", "inet", "jsonb", "time")}
                for c in duck["columns"]}
    assert failures == {
        "net": {"cidr": 0, "inet": 0, "jsonb": 5000, "time": 5000},
        "late_host": {"cidr": 1, "inet": 0, "jsonb": 5000, "time": 5000},
        "ip": {"cidr": 5000, "inet": 0, "jsonb": 5000, "time": 5000},
        "doc": {"cidr": 5000, "inet": 5000, "jsonb": 0, "time": 5000},
        "late_doc": {"cidr": 5000, "inet": 5000, "jsonb": 1, "time": 5000},
        "clock": {"cidr": 5000, "inet": 5000, "jsonb": 5000, "time": 0},
    }
    assert (column(duck, "clock")["min"], column(duck, "clock")["max"]) == ("00:00:00", "23:59:00")


@pytest.mark.parametrize("data", sorted(
    (Path(__file__).parents[2] / "examples" / "quickstart" / "data").glob("*")),
    ids=lambda p: p.name)
def test_quickstart_row_counts_match_open_records(data: Path) -> None:
    from csv2pg.dialect import detect_dialect, open_records

    table = table_for(data)
    expected = sum(1 for _ in open_records(data, detect_dialect(data, table.dialect)))
    for engine in ("duckdb", "python"):
        assert build_sample(table, HASH, HASH, engine=engine)["rows"] == expected  # type: ignore[arg-type]


def test_null_tokens_the_sample_missed_are_counted(tmp_path: Path) -> None:
    """Tokens are compared one by one only where the sample showed them; the others are
    counted together, and a column that has some is scanned again with every token."""
    path = tmp_path / "tokens.csv"
    rows = [f"{i},n{i % 5},{i % 7}" for i in range(1, 3001)]
    rows[2499] = "2500,N/A,NULL"
    path.write_text("id,label,small\n" + "\n".join(rows) + "\n", encoding="utf-8")
    table = table_for(path)
    duck = build_sample(table, HASH, HASH)
    python = build_sample(table, HASH, HASH, engine="python")
    assert canonical_json(_without_estimates(duck, python)) == canonical_json(python)
    assert column(duck, "label")["null_tokens"] == {"N/A": 1}
    assert (column(duck, "small")["null_tokens"], column(duck, "small")["max"]) == ({"NULL": 1}, "6")


def _long_formats_file(path: Path, rows: int = 5000) -> None:
    lines = ["id;amount;day;code;ref"]
    for i in range(1, rows + 1):
        amount = "12,5 kg" if i == rows - 2 else f"{i * 1001:,}".replace(",", ".") + f",{i % 100}"
        day = "31/02/2020" if i == rows - 1 else f"{1 + i % 28}/{1 + i % 12}/2020 {i % 24}:05"
        ref = "r17" if i == rows else f"r{i}"  # one duplicate, late
        lines.append(f"{i};{amount};{day};{'NA' if i % 9 == 0 else f'c{i}'};{ref}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_long_file_formats_and_unique_duckdb_equals_python(tmp_path: Path, scanner: str) -> None:
    """Value formats and exact uniqueness: DuckDB's whole-file proof equals Python's, late
    failures (after the sample) counted with their lines, a late duplicate seen."""
    path = tmp_path / "long.csv"
    rows = 5000
    _long_formats_file(path, rows)
    table = table_for(path)
    duck = build_sample(table, HASH, HASH)
    python = build_sample(table, HASH, HASH, engine="python")
    assert canonical_json(_without_estimates(duck, python)) == canonical_json(python)
    amount = column(duck, "amount")["formats"]
    assert [(e["format"]["decimal"], e["format"]["group"], e["failures"], e["examples"])
            for e in amount if e["format"]["group"] == "."] == [
        (",", ".", 1, [{"line": rows - 1, "value": "12,5 kg"}])]
    day = [e for e in column(duck, "day")["formats"] if e["format"]["order"] == "dmy"]
    assert [(e["failures"], e["uses"], e["examples"]) for e in day] == [
        (1, ["time", "parts12", "parts13", "parts23"], [{"line": rows, "value": "31/02/2020"}])]
    assert [c["unique"] for c in duck["columns"]] == [True, True, False, True, False]


def test_a_value_repeated_in_the_head_disproves_uniqueness_without_a_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scanner: str) -> None:
    """A nearly all-different column (its distinct estimate past UNIQUE_SHARE) whose first
    records share a value is not unique, known from the sample: no pass counts it. (The
    compiled scan proves the others in its own pass: no pass at all.)"""
    path = tmp_path / "amounts.csv"
    rows = 4000
    lines = ["id,amount,late"]
    for i in range(1, rows + 1):
        amount = "10.50" if i in (2, 3) else f"{i * 7 + 0.25:.2f}"   # repeated in the head
        late = "x1" if i == rows else f"x{i}"                          # repeated past it
        lines.append(f"{i},{amount},{late}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = table_for(path)
    python = build_sample(table, HASH, HASH, engine="python")
    passes: list[list[int]] = []

    def second_pass(*args: Any, **kwargs: Any) -> Any:
        passes.append(sorted(args[5]))
        return scan_formats(*args, **kwargs)

    monkeypatch.setattr(sample_stage, "MERGED_DISTINCT_VALUES", 0)   # counts in a pass of their own
    monkeypatch.setattr(sample_stage, "scan_formats", second_pass)
    duck = build_sample(table, HASH, HASH)
    assert canonical_json(_without_estimates(duck, python)) == canonical_json(python)
    assert [c["unique"] for c in duck["columns"]] == [True, False, False]
    assert passes == ([[0, 2]] if scanner == "duckdb" else [])   # amount's head settled it


def test_formats_of_a_proposal_failing_late_are_proven_in_its_second_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A column the sample takes for integers fails on its last value: the pass that proves
    it again also proves the value formats it then needs, no third pass over the file."""
    path = tmp_path / "late.csv"
    lines = ["id,qty"] + [f"{i},{i % 17}" for i in range(1, 4001)] + ["4001,many"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = table_for(path)
    python = build_sample(table, HASH, HASH, engine="python")

    def no_third_pass(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a pass of its own for the formats")

    monkeypatch.setattr(sample_stage, "scan_formats", no_third_pass)
    duck = build_sample(table, HASH, HASH)
    qty = column(duck, "qty")
    assert qty["candidates"]["smallint"]["failures"] == 1 and qty["formats"]
    assert canonical_json(_without_estimates(duck, python)) == canonical_json(python)


def test_formats_and_unique_are_proven_in_the_main_scan(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the sample foresees them, formats and exact uniqueness take no pass of their
    own over the file (a pass costs as much as reading it). DuckDB's main scan; for the
    compiled one see test_fastscan.py."""
    monkeypatch.setenv("CSV2PG_FASTSCAN", "0")

    def no_second_pass(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a second pass over the file")

    _long_formats_file(tmp_path / "long.csv")
    table = table_for(tmp_path / "long.csv")
    expected = build_sample(table, HASH, HASH)
    monkeypatch.setattr(sample_stage, "scan_formats", no_second_pass)
    assert build_sample(table, HASH, HASH) == expected

    # Past MERGED_DISTINCT_VALUES the distinct counts take a pass of their own, same answers.
    passes: list[list[int]] = []

    def second_pass(*args: Any, **kwargs: Any) -> Any:
        passes.append(sorted(args[5]))
        return scan_formats(*args, **kwargs)

    monkeypatch.setattr(sample_stage, "MERGED_DISTINCT_VALUES", 100)
    monkeypatch.setattr(sample_stage, "scan_formats", second_pass)
    assert build_sample(table, HASH, HASH) == expected
    assert passes == [[0, 1, 3, 4]]   # id, amount, code, ref: formats were proven in the scan
