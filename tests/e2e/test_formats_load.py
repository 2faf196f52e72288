"""Numbers and dates PostgreSQL's own input would not read (thousands separators, decimal
commas, currency and percent signs, non-ISO dates): proven over the whole file, typed,
rewritten by csv2pg (``csv2pg.transforms``) and loaded by the real pgloader into a real
PostgreSQL; the loaded values equal the numbers and dates the source file spells."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from csv2pg.cli import main
from csv2pg.identifiers import quote_ident

pytestmark = pytest.mark.usefixtures("pgloader")

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _grouped(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


def _money_us(cents: int) -> str:
    text = f"${_grouped(abs(cents) // 100, ',')}.{abs(cents) % 100:02d}"
    if cents >= 0:
        return text
    return f"({text})" if cents % 2 else "-" + text


def _row(i: int) -> tuple[list[str], dict[str, Any]]:
    """One record as written, and the values it means."""
    cents = (i * 7919) % 300_000_00 - 1_000_00
    big = i * 104_729 + 1000
    eu = Decimal(i * 12345) / 100
    day = dt.date(2019, 1, 1) + dt.timedelta(days=i * 3)
    moment = dt.datetime(2020, 1, 1, 0, 0) + dt.timedelta(minutes=i * 997)
    hour12 = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    ambiguous_day = dt.date(2020, 1 + i % 12, 1 + i % 12)  # day == month; others swap them
    written = {
        "id": str(i),
        "amount_us": _money_us(cents) if i % 11 else "NA",
        "amount_eu": f"{_grouped(int(eu), '.')},{int(eu * 100) % 100:02d}",
        "quantity": _grouped(big, ","),
        "swiss": f"{_grouped(i * 1001, chr(39))}.5",
        "spaced": f"{_grouped(i * 2003, ' ')},25",
        "share": f"{i % 100}.{i % 10}%",
        "price_usd": f"{i}.99 USD",
        "eu_date": f"{day.day:02d}.{day.month:02d}.{day.year}",
        "us_stamp": f"{moment.month}/{moment.day}/{moment.year} {hour12}:{moment.minute:02d} {meridiem}",
        "filed": f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}",
        "ymd": f"{day.year}/{day.month}/{day.day}",
        "short": f"{day.month}/{day.day}/{day.year % 100:02d}",
        "maybe_thousands": _grouped(1000 + i % 900, ","),
        "maybe_date": (f"{ambiguous_day.month:02d}/{ambiguous_day.day:02d}/2020" if i % 5
                       else f"{1 + i % 12:02d}/{1 + (i + 1) % 12:02d}/2020"),
    }
    meant = {
        "id": i,
        "amount_us": Decimal(cents) / 100 if i % 11 else None,
        "amount_eu": Decimal(int(eu * 100)) / 100,
        "quantity": big,
        "swiss": Decimal(i * 1001) + Decimal("0.5"),
        "spaced": Decimal(i * 2003) + Decimal("0.25"),
        "share": Decimal(f"{i % 100}.{i % 10}"),
        "price_usd": Decimal(f"{i}.99"),
        "eu_date": day,
        "us_stamp": moment,
        "filed": day,
        "ymd": day,
        "short": day,
        "maybe_thousands": written["maybe_thousands"],
        "maybe_date": written["maybe_date"],
    }
    return list(written.values()), meant


EXPECTED_TYPES = {
    "id": "bigint", "amount_us": "numeric", "amount_eu": "numeric", "quantity": "integer",
    "swiss": "numeric", "spaced": "numeric", "share": "numeric", "price_usd": "numeric",
    "eu_date": "date", "us_stamp": "timestamp", "filed": "date", "ymd": "date", "short": "date",
    "maybe_thousands": "text", "maybe_date": "text",
}


@pytest.mark.parametrize(("rows", "engine"), [(1200, "pgloader"), (60, "pgloader"), (1200, "copy")],
                         ids=["duckdb-profile", "python-profile", "copy-engine"])
def test_formatted_numbers_and_dates_load_as_the_numbers_and_dates_they_spell(
        fresh_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        rows: int, engine: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    source = root / "ledger.csv"
    records = [_row(i) for i in range(1, rows + 1)]
    lines = [";".join(EXPECTED_TYPES)] + [";".join(written) for written, _ in records]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "csv2pg.toml").write_text(
        f'[project]\ndb_schema = "public"\n\n[tables.ledger]\nsource = {json.dumps(str(source))}\n'
        f'primary_key = "infer"\nengine = "{engine}"\n', encoding="utf-8")
    code = main(["-C", str(root), "build", "--format", "json", "--database", fresh_database_url])
    out, err = capsys.readouterr()
    assert code == 0, err + out
    result = json.loads(out)
    assert [(t["table"], t["status"], t["rejects"]) for t in result["tables"]] == [("ledger", "built", 0)]

    stamp = json.loads((root / ".csv2pg" / "ledger" / "import.json").read_text("utf-8"))
    assert stamp["engine"] == engine
    schema = json.loads((root / "schemas" / "ledger.schema.json").read_text("utf-8"))
    columns = {c["column"]: c for c in schema["columns"]}
    assert {name: c["type"] for name, c in columns.items()} == EXPECTED_TYPES
    assert columns["amount_eu"]["transform"] == {
        "kind": "number", "decimal": ",", "group": ".", "currency": None, "percent": False}
    assert columns["amount_us"]["transform"]["currency"] == "$"
    assert columns["eu_date"]["transform"] == {
        "kind": "date", "order": "dmy", "separator": ".", "month": "number"}
    assert "'%' dropped" in columns["share"]["reason"]
    assert "thousands separator ','" in columns["quantity"]["reason"]
    assert "not guessed" in columns["maybe_thousands"]["reason"]
    assert "not guessed" in columns["maybe_date"]["reason"]
    assert "two-digit years read as 1969-2068" in columns["short"]["reason"]
    assert "transform" not in columns["maybe_date"] and "transform" not in columns["id"]
    # Exact uniqueness: the id is unique (and the suggested, applied key); the rest are not.
    assert columns["id"]["unique"] is True and columns["maybe_date"]["unique"] is False
    assert schema["suggested_primary_key"] == schema["primary_key"] == ["id"]

    # `csv2pg explain` shows the formats' proofs beside the types'.
    assert main(["-C", str(root), "explain", "ledger", "amount_eu", "--format", "json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    proofs = {c["type"]: c["failures"] for c in explained["candidates"]}
    assert proofs["numeric"] == rows and proofs["number decimal=, group=."] == 0

    names = list(EXPECTED_TYPES)
    with psycopg.connect(fresh_database_url) as conn:
        loaded = conn.execute(f"SELECT {', '.join(quote_ident(n) for n in names)} "
                              "FROM public.ledger ORDER BY id").fetchall()
    assert len(loaded) == rows
    for (_, meant), got in zip(records, loaded, strict=True):
        assert dict(zip(names, got, strict=True)) == meant
