"""Benchmark: profile and build a generated CSV, against plain COPY measured in the same run.

    uv run python bench/run.py [--rows 200000] [--database URL]

Prints the file size, seconds and MB/s for: csv2pg analyze (whole-file profile and inference),
csv2pg build (profile + pgloader load + verification), and `COPY ... FROM STDIN` of the same
file into the same table through psycopg, with the ratios between them.
"""

from __future__ import annotations

import argparse
import datetime
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from csv2pg import api
from csv2pg.db import resolve_database
from csv2pg.manifest import load_project


def generate(path: Path, rows: int) -> None:
    rnd = random.Random(20261125)
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("order_id,customer_id,amount,ratio,status,note,created_at,day,tracking,vip\n")
        for i in range(1, rows + 1):
            note = rnd.choice(["", "gift", '"left at door, side gate"', '"said ""hi"""'])
            created = start + datetime.timedelta(seconds=rnd.randrange(30_000_000))
            out.write(f"{i},{rnd.randrange(1, 50_000)},{rnd.randrange(100, 999_999) / 100:.2f},"
                      f"{rnd.random():.6f},{rnd.choice(['paid', 'shipped', 'void'])},{note},"
                      f"{created.strftime('%Y-%m-%dT%H:%M:%SZ')},{created.date().isoformat()},"
                      f"{uuid.UUID(int=rnd.getrandbits(128), version=4)},{rnd.choice(['yes', 'no'])}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database", help="PostgreSQL URL (default: an embedded server in a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="csv2pg-bench-"))
    try:
        csv = work / "orders.csv"
        generate(csv, args.rows)
        size_mb = csv.stat().st_size / 1e6
        (work / "csv2pg.toml").write_text('[tables.orders]\nsource = "orders.csv"\n', encoding="utf-8")
        flags = {"database": args.database} if args.database else {}
        project = load_project(work, flags=flags)
        url = resolve_database(project.database, project.build_dir).url()

        t0 = time.perf_counter()
        api.analyze(csv)
        analyze_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = api.build(project)
        build_s = time.perf_counter() - t0
        if result.exit_code != 0:
            print(f"build failed: {[t.error for t in result.tables]}", file=sys.stderr)
            return 1

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_copy")
            conn.execute("CREATE TABLE bench_copy (LIKE public.orders)")
            t0 = time.perf_counter()
            with conn.cursor().copy("COPY bench_copy FROM STDIN (FORMAT csv, HEADER true)") as copy, \
                    csv.open("rb") as handle:
                while block := handle.read(1 << 20):
                    copy.write(block)
            copy_s = time.perf_counter() - t0
        print(f"file: {args.rows:,} rows, {size_mb:.1f} MB")
        print(f"analyze (profile every row + infer): {analyze_s:7.2f} s  {size_mb / analyze_s:7.1f} MB/s")
        print(f"build (profile + pgloader + verify): {build_s:7.2f} s  {size_mb / build_s:7.1f} MB/s")
        print(f"COPY FROM STDIN (same table):        {copy_s:7.2f} s  {size_mb / copy_s:7.1f} MB/s")
        print(f"ratios: analyze/COPY {analyze_s / copy_s:.1f}x, build/COPY {build_s / copy_s:.1f}x")
    finally:
        if not args.database:
            from csv2pg.db import embedded_stop

            embedded_stop(work / ".csv2pg" / "pg")
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
