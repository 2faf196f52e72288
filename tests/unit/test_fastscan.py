"""The compiled main pass (csv2pg.fastscan): the same profile as Python's, on any thread split.

The Python profile (``engine="python"``) streams every record through ``pgtypes``, the
parsers that say what PostgreSQL accepts; it is the reference here. ``fastscan`` must give
the very same sample.json, distinct estimates included (both keep the K minimum xxh3_64
hashes), but for the ``estimated`` marks of the DuckDB path. Files are split over several
threads by giving each thread a few hundred bytes, so that thread boundaries fall inside
quoted fields, on doubled quotes and between CR and LF.
"""

from __future__ import annotations

import dataclasses
import os
import random
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from csv2pg import fastscan, records
from csv2pg.artifacts import canonical_json
from csv2pg.dialect import detect_dialect, read_header
from csv2pg.errors import Csv2pgError
from csv2pg.settings import DEFAULT_NULL_TOKENS, DialectOverrides, TableSettings
from csv2pg.stages import sample as sample_stage
from csv2pg.stages.sample import build_sample

HASH = "0123456789abcdef0123456789abcdef"
TOKENS = frozenset(DEFAULT_NULL_TOKENS) - {""}


@pytest.fixture(autouse=True)
def _compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSV2PG_FASTSCAN", raising=False)
    if fastscan.library() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("fastscan could not be compiled: CI has a C compiler (gcc)")
        pytest.skip("no C compiler here: fastscan is not built (the DuckDB scan is used)")


def table_for(path: Path) -> TableSettings:
    return TableSettings(name="t", source=path, source_text=path.name, table="t", db_schema="public")


def without_estimates(doc: dict[str, Any]) -> dict[str, Any]:
    for col in doc["columns"]:
        for candidate in col["candidates"].values():
            candidate.pop("estimated", None)
    return doc


def documents(path: Path, monkeypatch: pytest.MonkeyPatch, thread_bytes: int = 300,
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the profile through fastscan on small thread ranges, the Python profile)."""
    monkeypatch.setattr(fastscan, "THREAD_BYTES", thread_bytes)
    dialect = detect_dialect(path, DialectOverrides())
    n = len(read_header(path, dialect))
    readable = fastscan.scan(path, dialect, n, TOKENS, [None] * n)
    assert not isinstance(readable, str), readable   # the compiled pass reads this file
    table = table_for(path)
    fast = build_sample(table, HASH, HASH, engine="duckdb")
    python = build_sample(table, HASH, HASH, engine="python")
    return without_estimates(fast), python


def mixed_rows(rows: int, seed: int = 7) -> list[str]:
    """Columns of every kind fastscan proves, tokens, quoted text, >1024 distinct values."""
    rnd = random.Random(seed)
    out = ["id,small,big,amount,sci,flag,day,ts,tz,clock,uid,note,city,dup,empty"]
    for i in range(1, rows + 1):
        note = rnd.choice(['"a, b"', '"said ""hi""\nthen left"', "plain", "", "NA",
                           '"multi\r\nline"', '"Genève 🎉"'])
        row = [
            str(i),
            str(rnd.randrange(-300, 300)) if i != rows - 5 else "40000",
            str(rnd.randrange(-2**40, 2**40)),
            rnd.choice([f"{rnd.randrange(0, 10**6) / 100:.2f}", "007.50", ".5", "5.", "-0.001",
                        "+12", "", "null"]),
            rnd.choice([f"{rnd.gauss(0, 1e6):.4e}", "1.5e3", "-2E-5", "3e+07"]),
            rnd.choice(["true", "false", "t", "f", "yes", "no", "y", "n", ""]),
            f"{rnd.randrange(1, 9999):04d}-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}",
            rnd.choice([f"2024-0{rnd.randrange(1, 10)}-1{rnd.randrange(0, 10)}",
                        f"2024-01-01T{rnd.randrange(0, 24):02d}:{rnd.randrange(0, 60):02d}",
                        "2024-01-01 10:00:00.123456789", "1999-12-31 23:59:59.5"]),
            rnd.choice(["2024-01-01T10:00:00Z", "2024-01-01 10:00:00+02",
                        "2024-03-01T00:00-0530", "2024-03-01T00:00:00.25+05:45", "N/A"]),
            rnd.choice(["9:05", "23:59:59.999999", "00:00", f"{rnd.randrange(0, 24)}:{rnd.randrange(0, 60):02d}"]),
            str(uuid.UUID(int=rnd.getrandbits(128))).upper() if i % 3 else str(uuid.UUID(int=i)),
            note,
            rnd.choice(["Paris", "Zürich", "São Paulo", "-", "#NULL!"]),
            str(i) if i != rows else "17",
            "",
        ]
        out.append(",".join(row))
    return out


def test_the_profile_equals_pythons_on_every_thread_split(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(mixed_rows(3000)) + "\n", encoding="utf-8", newline="")
    fast, python = documents(path, monkeypatch)
    assert canonical_json(fast) == canonical_json(python)
    by_name = {c["name"]: c for c in fast["columns"]}
    assert by_name["id"]["unique"] and not by_name["dup"]["unique"]
    smallint = by_name["small"]["candidates"]["smallint"]
    assert smallint["failures"] == 1 and smallint["examples"][0]["value"] == "40000"


def test_thread_splits_give_the_same_counts(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("\r\n".join(mixed_rows(2000, seed=11)) + "\r\n", encoding="utf-8", newline="")
    dialect = detect_dialect(path, DialectOverrides())
    n = len(read_header(path, dialect))
    proposals = ["integer", "smallint", "bigint", "numeric", "numeric", "boolean", "date",
                 "timestamp", "timestamptz", "time", "uuid", None, None, "integer", None]
    results = []
    for threads in (1, 2, 3, 5, 8):
        found = fastscan.scan(path, dialect, n, TOKENS, proposals, unique=[0, 13],
                              threads=threads, thread_bytes=97)
        assert not isinstance(found, str), found
        results.append((found.rows, [dataclasses.asdict(c) for c in found.counts],
                        found.unsettled, found.unique))
    assert all(r == results[0] for r in results)
    rows, counts, unsettled, unique = results[0]
    assert rows == 2000
    assert unique == {0: True, 13: False}
    assert unsettled == set()   # every value of the tight shape
    assert counts[1]["ok"] == {"bigint": 2000, "integer": 2000, "smallint": 1999}   # 40000
    assert counts[3]["null_tokens"] == {"null": counts[3]["null_tokens"]["null"]}
    assert counts[11]["max_length"] == len("said \"hi\"\nthen left")


def test_without_sse2_the_byte_loop_gives_the_same_profile(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Where SSE2 is not there (aarch64) fields are delimited one byte at a time."""
    scalar = fastscan._build(("-U__SSE2__",))
    assert scalar is not None
    monkeypatch.setattr(fastscan, "_loaded", [scalar])
    path = tmp_path / "mixed.csv"
    path.write_text("\r\n".join(mixed_rows(1500, seed=3)) + "\r\n", encoding="utf-8", newline="")
    fast, python = documents(path, monkeypatch)
    assert canonical_json(fast) == canonical_json(python)


# A tricky value at record 1,200 (past the sampled head) of a column whose other values are
# of the tight shape.
TRICKY: dict[str, tuple[str, list[str]]] = {
    "integer": ("41", [" 12", "+7", "007", "1.0", "1e3", "99999999999999999999", "-0", "١٢",
                       "12 ", "9223372036854775807", "-9223372036854775808", "2147483648"]),
    "numeric": ("4.25", ["1e400", "0e0", "1e99999999999999999999999", "1.5E+3", ".5", "5.", "-.5", "+.5e-2", "1,5", "NaN",
                         "inf", " 1.5", "1" * 320, "1e1000", "12345678901234567890.5",
                         "0.000000000000000000001", "1e-320"]),
    # ("1" is left out: a column proven boolean is taken to fail the integers on every value,
    # in the DuckDB scan as here, where Python counts "1" as an integer.)
    "boolean": ("true", ["TRUE", "on", " yes", "No", "maybe", "off"]),
    "date": ("2024-03-04", ["2024-02-29", "2023-02-29", "0000-01-01", "2024-1-5",
                            " 2024-01-05", "2024-01-05T00:00", "9999-12-31", "2024-13-01"]),
    "timestamp": ("2024-03-04 10:11:12", ["2024-01-05 24:00:00", "2024-01-05T23:59:60",
                                          "2024-01-05 10:00:00.1234567891", "2024-01-05 10:00+02",
                                          "2024-01-05", "2024-01-05  10:00"]),
    "timestamptz": ("2024-03-04T10:11:12Z", ["2024-01-05T10:00:00+16", "2024-01-05T10:00:00 +02",
                                             "2024-01-05T10:00:00+0230", "2024-01-05T10:00:00z",
                                             "2024-01-05T10:00:00", "0001-01-01T00:00:00+02"]),
    "time": ("10:11", ["24:00", "9:5", "09:05:60", "9:05:00.1234567", "9:05:00.1234567891"]),
    "uuid": ("123e4567-e89b-12d3-a456-426614174000",
             ["{123e4567-e89b-12d3-a456-426614174000}", "123e4567e89b12d3a456426614174000",
              "123e4567-e89b-12d3-a456-42661417400g", "123E4567-E89B-12D3-A456-426614174000"]),
}


@pytest.mark.parametrize("kind", sorted(TRICKY))
def test_a_tricky_value_late_in_the_file_is_judged_as_python_judges_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """One column per tricky value of the kind (columns are profiled apart), every other
    value of the column the kind's usual one."""
    usual, tricky = TRICKY[kind]
    path = tmp_path / "tricky.csv"
    lines = ["id," + ",".join(f"x{k}" for k in range(len(tricky)))]
    for i in range(1, 1501):
        lines.append(f"{i}," + ",".join(f'"{t if i == 1200 else usual}"' for t in tricky))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    fast, python = documents(path, monkeypatch)
    for col, expected in zip(fast["columns"], python["columns"], strict=True):
        assert canonical_json(col) == canonical_json(expected), tricky[int(col["name"][1:])] \
            if col["name"] != "id" else "id"
    assert canonical_json(fast) == canonical_json(python)


@pytest.mark.parametrize("content", [
    b"\xef\xbb\xbf\xef\xbb\xbfab,2\nc,4\n" + b"".join(b"r%d,%d\n" % (i, i) for i in range(1500)),
    b"\xef\xbb\xbfa,b\n" + b"".join(b"r%d,%d\n" % (i, i) for i in range(1500)) + b'x,"last"',
    b'"a\nb",c\r\n' + b"".join(b"\r\n%d,\"q\r\n\"\r\n" % i for i in range(1500)),
    b"a,b\n" + b"".join(b'%d,"%s"\n' % (i, b'""' * (i % 5)) for i in range(1500)) + b'9,""',
])
def test_the_edges_of_a_file_read_as_python_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      content: bytes) -> None:
    """Two byte-order marks (Python drops both), no final line end, a quoted field at the
    end of the file, a header of two lines, blank CRLF lines, fields of doubled quotes."""
    path = tmp_path / "edge.csv"
    path.write_bytes(content)
    fast, python = documents(path, monkeypatch, thread_bytes=64)
    assert canonical_json(fast) == canonical_json(python)


def test_a_field_over_the_csv_limit_stops_the_scan_where_it_passes_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's csv refuses a field over its size limit; so does fastscan, and an unbalanced
    quote is refused once the field passes the limit, not after buffering the whole file."""
    path = tmp_path / "open.csv"
    path.write_bytes(b'a,b\n1,"oops\n' + b"2,3\n" * 500_000)
    monkeypatch.setattr(records, "FIELD_SIZE_LIMIT", 100_000)
    refused = fastscan.scan(path, plain_dialect(path), 2, TOKENS, ["integer", None], threads=1)
    assert isinstance(refused, str) and refused.startswith("a field over the csv module's size limit")
    path.write_bytes(b'a,b\n1,"' + b"x" * 100_001 + b'"\n2,y\n')
    refused = fastscan.scan(path, plain_dialect(path), 2, TOKENS, ["integer", None])
    assert isinstance(refused, str) and "size limit" in refused
    path.write_bytes(b'a,b\n1,"' + b"x" * 100_000 + b'"\n2,y\n')
    assert not isinstance(fastscan.scan(path, plain_dialect(path), 2, TOKENS, ["integer", None]), str)


def test_a_proposal_it_does_not_judge_is_always_left_to_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "nets.csv"
    path.write_text("a,b\n1,\n2,\n", encoding="utf-8")
    found = fastscan.scan(path, plain_dialect(path), 2, TOKENS, ["integer", "inet"])
    assert not isinstance(found, str) and found.unsettled == {1}   # even without a value


@pytest.mark.parametrize(("content", "reason"), [
    (b"a,b\n1,2\n3\n4,5\n", "another number of fields"),
    (b'a,b\n1,x"y\n3,4\n', "quote"),
    (b'a,b\n1,"open\n3,4\n', "quote"),
    (b'a,b\n1,"x"y\n3,4\n', "quote"),
    (b"a,b\n1,2\n3,\x004\n", "NUL"),
    (b"a,b\n1,\xff\xfe\n3,4\n", "not UTF-8"),
    (b"a,b\n1,\xed\xa0\x80\n3,4\n", "not UTF-8"),   # a surrogate
    (b"a,b\n1,2\r\n3,4\r5,6\n", "carriage return"),
])
def test_a_file_it_cannot_read_exactly_is_left_to_duckdb_and_python(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    dialect = plain_dialect(path)
    refused = fastscan.scan(path, dialect, 2, TOKENS, ["integer", "integer"])
    assert isinstance(refused, str) and reason in refused
    with_fastscan = build_sample(table_for(path), HASH, HASH, engine="duckdb")
    monkeypatch.setenv("CSV2PG_FASTSCAN", "0")
    assert canonical_json(build_sample(table_for(path), HASH, HASH, engine="duckdb")) == \
        canonical_json(with_fastscan)


def plain_dialect(path: Path) -> Any:
    """The plain comma dialect with a header (detection would refuse some of these files)."""
    from csv2pg.records import Dialect
    return Dialect(encoding="utf-8", delimiter=",", quotechar='"', escapechar=None,
                   has_header=True, header_lines=1, line_terminator="\n")


def test_uniqueness_over_its_memory_limit_is_left_to_duckdb(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id,code\n" + "".join(f"{i},c{i}\n" for i in range(1, 20001)), encoding="utf-8")
    dialect = detect_dialect(path, DialectOverrides())
    monkeypatch.setattr(fastscan, "UNIQUE_LIMIT", 10_000)
    found = fastscan.scan(path, dialect, 2, TOKENS, ["integer", None], unique=[0, 1],
                          thread_bytes=1 << 20)
    assert not isinstance(found, str) and found.unique == {}   # neither fits: not answered
    passes: list[list[int]] = []
    real = sample_stage.scan_formats

    def counted(*args: Any, **kwargs: Any) -> Any:
        passes.append(sorted(args[5]))
        return real(*args, **kwargs)

    monkeypatch.setattr(sample_stage, "scan_formats", counted)
    doc = build_sample(table_for(path), HASH, HASH, engine="duckdb")
    assert passes == [[0, 1]] and [c["unique"] for c in doc["columns"]] == [True, True]


def test_without_a_compiler_the_scan_is_duckdbs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert fastscan._build() is None
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(mixed_rows(1500)) + "\n", encoding="utf-8", newline="")
    monkeypatch.setenv("CSV2PG_FASTSCAN", "0")
    assert fastscan.scan(path, detect_dialect(path, DialectOverrides()), 15, TOKENS,
                         [None] * 15) == "CSV2PG_FASTSCAN=0 or no C compiler"
    assert build_sample(table_for(path), HASH, HASH, engine="duckdb")["rows"] == 1500


def test_the_library_is_built_once_per_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fastscan._build() is not None
    built = list((tmp_path / "csv2pg").glob("fastscan-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    assert fastscan._build() is not None
    assert built[0].stat().st_mtime_ns == stamp   # taken from the cache, not compiled again


def test_a_damaged_library_in_the_cache_is_compiled_again(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    # built by another process (this one must not have it mapped while it is damaged)
    subprocess.run([sys.executable, "-c", "from csv2pg import fastscan; fastscan._build()"],
                   check=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    [built] = (tmp_path / "csv2pg").glob("fastscan-*.so")
    built.write_bytes(b"not a library")
    assert fastscan._build() is not None and built.stat().st_size > 1000


def test_formats_take_one_duckdb_pass_and_uniqueness_none(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """fastscan proves no value formats (thousands separators, dates of other orders...): a
    file whose text columns have some takes one DuckDB pass for them after the compiled
    scan; exact uniqueness was proven in the compiled scan."""
    from tests.unit.test_sample import _long_formats_file

    path = tmp_path / "long.csv"
    _long_formats_file(path)
    python = build_sample(table_for(path), HASH, HASH, engine="python")
    passes: list[tuple[list[int], list[int]]] = []
    real = sample_stage.scan_formats

    def counted(*args: Any, **kwargs: Any) -> Any:
        passes.append((sorted(args[4]), sorted(args[5])))
        return real(*args, **kwargs)

    monkeypatch.setattr(sample_stage, "scan_formats", counted)
    fast, _ = documents(path, monkeypatch)
    assert canonical_json(fast) == canonical_json(python)
    assert len(passes) == 1 and passes[0][1] == [] and passes[0][0]


STATS = ("non_null", "empty", "null_tokens", "min_length", "max_length", "leading_zeros",
         "distinct")
PROVEN = ("integer_min", "integer_max", "max_scale", "max_integer_digits", "exponent_values",
          "min", "max")


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for d in ("real", "messy") for p in (corpus / d).iterdir()
                  if p.suffix.lower() in (".csv", ".tsv", ".txt"))


def head_of(path: Path, quote: str, out_dir: Path, limit: int = 1 << 17) -> Path:
    """The file cut after the first line end past ``limit`` bytes outside quotes (the
    Python profile of the whole corpus would take a minute)."""
    data = path.read_bytes()
    if len(data) <= limit:
        return path
    mark, inside = quote.encode(), False
    for i, byte in enumerate(data):
        if byte == mark[0]:
            inside = not inside
        elif byte == 10 and not inside and i >= limit:
            cut = out_dir / path.name
            cut.write_bytes(data[:i + 1])
            return cut
    return path


def test_real_files_count_as_in_python(corpus: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every corpus file the compiled pass reads (its first 128 KB, on 4 KB thread ranges)
    counts as the Python profile counts: records; per column the statistics; and per
    column it settles, the candidates' failures and the proven type's facts and bounds as
    the DuckDB path turns them into the profile (``_counted_profile``). What it leaves is
    DuckDB's, compared in the tests above."""
    monkeypatch.setattr(fastscan, "THREAD_BYTES", 1 << 12)
    read, refused, settled = [], {}, 0
    for whole in corpus_files(corpus):
        try:
            dialect = detect_dialect(whole, DialectOverrides())
        except Csv2pgError:   # refused by detection: not fastscan's to read
            continue
        path = head_of(whole, dialect.quotechar or '"', tmp_path)
        headers = read_header(path, dialect)
        n = len(headers)
        if n > sample_stage.MAX_COLUMNS:
            continue   # refused by the build before any profile
        sample = sample_stage.take_sample(path, dialect, n)
        sampled = sample_stage._sample_stats(sample, n, TOKENS, 20)
        proposals = [sample_stage.propose(s) for s in sampled]
        found = fastscan.scan(path, dialect, n, TOKENS, proposals)
        if isinstance(found, str):
            refused[path.name] = found
            continue
        rows, stats, _ = sample_stage._python_columns((path,), dialect, headers, TOKENS, sample)
        assert found.rows == rows, path.name
        for i in range(n):
            mine = sample_stage._counted_profile(rows, found.counts[i], sampled[i], sample.complete)
            python = stats[i].as_dict(i, "", "")
            assert {k: mine[k] for k in STATS} == {k: python[k] for k in STATS}, (path.name, i)
            if proposals[i] is None or i in found.unsettled:
                continue
            settled += 1
            assert {k: mine[k] for k in PROVEN} == {k: python[k] for k in PROVEN}, (path.name, i)
            assert {k: c["failures"] for k, c in mine["candidates"].items()} == \
                {k: c["failures"] for k, c in python["candidates"].items()}, (path.name, i)
        read.append(path.name)
    assert len(read) >= 60 and settled >= 500, (len(read), settled, refused)
    # What it leaves to DuckDB and Python: encodings, quoting it cannot split, bad records.
    assert refused["duckdb_inconsistent_cells.csv"].startswith("a record with another number of fields")
    assert refused["duckdb_unescaped_quotes_stops.csv"].startswith("a quote inside an unquoted field")


def test_a_cache_others_can_write_to_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library another user could replace is never loaded: a group- or world-writable
    cache directory is passed over for the user's own under the temporary directory, and
    without one the scan is DuckDB's."""
    shared = tmp_path / "xdg"
    (shared / "csv2pg").mkdir(parents=True)
    (shared / "csv2pg").chmod(0o777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    assert fastscan._cache_dir() == own_tmp / f"csv2pg-{os.getuid()}"
    assert fastscan._build() is not None
    assert not list((shared / "csv2pg").iterdir())
    (own_tmp / f"csv2pg-{os.getuid()}").chmod(0o777)
    assert fastscan._cache_dir() is None and fastscan._build() is None


def test_a_column_it_leaves_takes_one_duckdb_pass_whether_its_proposal_holds_or_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A late value off the proposal's shape: DuckDB proves that column alone, once, at its
    family's level (a failing proposal needs no second pass to be widened)."""
    from csv2pg import profile

    passes: list[set[int]] = []
    real = profile.scan

    def counted(*args: Any, **kwargs: Any) -> Any:
        passes.append(set(kwargs["columns"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(profile, "scan", counted)
    for late, holds in ((" 7", True), ("oops", False)):
        path = tmp_path / "late.csv"
        path.write_text("id,qty\n" + "".join(f"{i},{late if i == 2400 else i % 90}\n"
                                             for i in range(1, 2501)), encoding="utf-8")
        passes.clear()
        fast, python = documents(path, monkeypatch)
        assert canonical_json(fast) == canonical_json(python)
        assert passes == [{1}]
        assert (fast["columns"][1]["candidates"]["smallint"]["failures"] == 0) is holds
