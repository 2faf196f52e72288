"""Benchmark: the whole-file profile (sample:T) against DuckDB reading the same file as text.

    uv run python bench/profile.py [--size-mb 1024] [--dir DIR] [--repeat 3]

Generates (or reuses) a 20-column CSV of about ``--size-mb`` MB in DIR (default: a fixed
directory under the system temp dir): ids, money, doubles, quoted text with commas and
newlines, dates, timestamps with and without zone, booleans, uuids, ~10 % nulls. Then prints,
measured in this run (the baseline, the floor and the profile one after the other
``--repeat`` times, so that a busy machine slows them alike; medians are shown):

- baseline: ``SELECT max(length(COLUMNS(*))) FROM read_csv(f, all_varchar = true, ...)``;
- the full profile (``build_sample``) and its ratio to the baseline (target <= 2x), its
  main pass compiled (``csv2pg.fastscan``, built first, its compile time shown), and once
  with DuckDB's main scan instead (``CSV2PG_FASTSCAN=0``);
- a floor for any profile that keeps the statistics issue 3 asks for: the same read with,
  per column, the count, the shortest and longest value and the distinct estimate, and
  for each column the sample gives a type, one DuckDB ``TRY_CAST`` to it (laxer than
  PostgreSQL: no exactness check, no digits, scale, bounds, null tokens or uniqueness);
- sampling alone (head + stratified sample; target < 1 s);
- peak memory of this process (target < 1 GB);
- xxh3_128 hashing, seconds and GB/s; and the no-change rebuild: a second hash through the
  (path, size, mtime_ns) cache reads no CSV byte.

``bench/run.py`` is the end-to-end benchmark (analyze, build, COPY).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb

from csv2pg import fastscan
from csv2pg.dialect import detect_dialect, read_header
from csv2pg.hashing import HashCache, hash_file_uncached
from csv2pg.identifiers import quote_ident
from csv2pg.settings import TableSettings
from csv2pg.stages.sample import _sample_stats, build_sample, propose, take_sample

HEADER = ("order_id,customer_id,amount,unit_price,discount,ratio,score,status,note,city,"
          "order_date,ship_date,created_at,updated_at,paid,gift,order_uuid,session_uuid,qty,"
          "comment")


def generate(path: Path, size_mb: int) -> None:
    rnd = random.Random(20261125)
    target = size_mb * 1_000_000
    statuses = ["paid", "shipped", "void", "NA"]
    cities = ["Paris", "Genève", "Zürich", "New York", "São Paulo", "Oslo"]
    notes = ['"left at door, side gate"', '"said ""hi""\nthen left"', "gift", "",
             '"multi\nline, note"']
    uuids = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(5000)]
    tmp = path.with_suffix(".part")
    written = 0
    with tmp.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        i = 0
        while written < target:
            chunk = []
            for _ in range(10_000):
                i += 1
                null = rnd.random
                day = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"
                clock = f"{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
                row = [
                    str(i), str(rnd.randrange(1, 50_000)),
                    f"{rnd.randrange(100, 999_999) / 100:.2f}",
                    "" if null() < 0.1 else f"{rnd.randrange(1, 99_999) / 100:.2f}",
                    "" if null() < 0.1 else f"{rnd.random():.3f}",
                    f"{rnd.random():.6f}", "" if null() < 0.1 else f"{rnd.gauss(0, 1e6):.4e}",
                    rnd.choice(statuses), rnd.choice(notes),
                    "" if null() < 0.1 else rnd.choice(cities),
                    day, "" if null() < 0.1 else day,
                    f"{day} {clock}", "" if null() < 0.1 else f"{day}T{clock}+02:00",
                    rnd.choice(("true", "false")), "" if null() < 0.1 else rnd.choice(("yes", "no")),
                    uuids[i % 5000], "" if null() < 0.1 else uuids[(i * 31) % 5000].upper(),
                    str(rnd.randrange(1, 20)),
                    "" if null() < 0.1 else f'"comment {i}, with comma"',
                ]
                chunk.append(",".join(row))
            text = "\n".join(chunk) + "\n"
            out.write(text)
            written += len(text.encode("utf-8"))
    tmp.replace(path)


# The DuckDB type each proposal reads as in the floor (``floor_sql``).
LAX_CASTS = {"smallint": "BIGINT", "integer": "BIGINT", "bigint": "BIGINT",
             "numeric": "DOUBLE", "double precision": "DOUBLE", "boolean": "BOOLEAN",
             "date": "DATE", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
             "time": "TIME", "uuid": "UUID"}


def floor_sql(headers: list[str], proposals: list[str | None], reader: str) -> str:
    aggregates = []
    for name, proposal in zip(headers, proposals, strict=True):
        c = quote_ident(name)
        aggregates += [f"count({c})", f"min(length({c}))", f"max(length({c}))",
                       f"approx_count_distinct({c})"]
        if proposal in LAX_CASTS:
            aggregates.append(f"count(TRY_CAST({c} AS {LAX_CASTS[proposal]}))")
    return f"SELECT {', '.join(aggregates)} FROM {reader}"


def timed(label: str, fn: object) -> tuple[float, object]:
    assert callable(fn)
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    print(f"{label:<52} {seconds:8.2f} s", flush=True)
    return seconds, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the baseline, the floor and the profile (medians shown)")
    parser.add_argument("--dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "csv2pg-bench-profile")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    csv = args.dir / f"orders_{args.size_mb}mb.csv"
    if not csv.exists():
        t0 = time.perf_counter()
        generate(csv, args.size_mb)
        print(f"generated {csv} in {time.perf_counter() - t0:.0f} s")
    size_gb = csv.stat().st_size / 1e9
    print(f"file: {csv} ({size_gb * 1000:.0f} MB)")
    table = TableSettings(name="orders", source=csv, source_text=csv.name, table="orders",
                          db_schema="public")

    reader = ("read_csv($f, all_varchar = true, header = true, delim = ',', quote = '\"', "
              "escape = '\"')")
    dialect = detect_dialect(csv, table.dialect)
    headers = read_header(csv, dialect)
    stats = _sample_stats(take_sample(csv, dialect, len(headers)), len(headers),
                          frozenset(table.default_null_tokens), 20)
    floor = floor_sql(headers, [propose(s) for s in stats], reader)
    with tempfile.TemporaryDirectory() as cache_dir:   # a fresh cache: the first use's cost
        os.environ["XDG_CACHE_HOME"] = cache_dir
        compile_s, _ = timed("compile fastscan (first use only; cached)", fastscan._build)
        del os.environ["XDG_CACHE_HOME"]
    readable = fastscan.scan(csv, dialect, len(headers), frozenset(table.default_null_tokens),
                             [None] * len(headers))
    main_pass = readable if isinstance(readable, str) else "compiled (fastscan)"
    bases, floors, profiles = [], [], []
    doc: object = None
    with duckdb.connect() as con:
        for _ in range(args.repeat):
            bases.append(timed("DuckDB baseline max(length(COLUMNS(*)))",
                               lambda: con.execute(f"SELECT max(length(COLUMNS(*))) FROM {reader}",
                                                   {"f": str(csv)}).fetchall())[0])
            floors.append(timed("floor: statistics + one lax cast per column",
                                lambda: con.execute(floor, {"f": str(csv)}).fetchall())[0])
            seconds, doc = timed("full profile (build_sample)",
                                 lambda: build_sample(table, "0" * 32, "0" * 32))
            profiles.append(seconds)
        os.environ["CSV2PG_FASTSCAN"] = "0"
        duckdb_s, _ = timed("profile with DuckDB's main scan (CSV2PG_FASTSCAN=0)",
                            lambda: build_sample(table, "0" * 32, "0" * 32))
        del os.environ["CSV2PG_FASTSCAN"]
    base_s, floor_s, profile_s = (statistics.median(x) for x in (bases, floors, profiles))

    def sampling() -> int:
        dialect = detect_dialect(csv, table.dialect)
        headers = read_header(csv, dialect)
        sample = take_sample(csv, dialect, len(headers))
        _sample_stats(sample, len(headers), frozenset(table.default_null_tokens), 20)
        return len(sample.head) + len(sample.strata)

    sample_s, sampled = timed("sampling only (detect + head + strata + stats)", sampling)
    assert isinstance(doc, dict)
    hash_s, _ = timed("xxh3_128 of the file", lambda: hash_file_uncached(csv))
    cache = HashCache(args.dir / "hash-cache.json")
    cache.file_hash(csv)
    cache.save()
    again = HashCache(args.dir / "hash-cache.json")
    rebuild_s, _ = timed("no-change rebuild: hash through the cache", lambda: again.file_hash(csv))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print()
    print(f"rows {doc['rows']:,}, sampled records {sampled}")
    print(f"medians of {args.repeat}: baseline {base_s:.2f} s, floor {floor_s:.2f} s, "
          f"profile {profile_s:.2f} s")
    print(f"profile / baseline: {profile_s / base_s:.2f}x  (target <= 2x); main pass: {main_pass}")
    print(f"profile with DuckDB's main scan / baseline: {duckdb_s / base_s:.2f}x  (one run); "
          f"compiling fastscan: {compile_s:.2f} s, once per machine")
    print(f"floor / baseline: {floor_s / base_s:.2f}x  (no exactness, digits, bounds, tokens, "
          f"uniqueness or sampling)")
    print(f"sampling: {sample_s:.2f} s  (target < 1 s)")
    print(f"peak memory: {peak_mb:.0f} MB  (target < 1024 MB)")
    print(f"hashing: {hash_s:.2f} s, {size_gb / hash_s:.2f} GB/s")
    print(f"no-change rebuild read CSV bytes: {'no' if not again.hashed else 'YES'} "
          f"({rebuild_s * 1000:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
