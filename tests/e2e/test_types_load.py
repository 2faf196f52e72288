"""inet, cidr, jsonb, 0/1 booleans and one-digit hours: inferred, built, loaded by the real
pgloader into a real PostgreSQL with zero rejects, and read back equal to the source.

Also checks the parsers against PostgreSQL itself: every value ``pgtypes`` accepts for a new
candidate, PostgreSQL's input function accepts too (the safe-subset contract)."""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from csv2pg import pgtypes
from csv2pg.cli import main
from csv2pg.identifiers import quote_ident

pytestmark = pytest.mark.usefixtures("pgloader")

ROWS = 1200  # longer than the sample's head: the DuckDB proof path

EXPECTED_TYPES = {
    "client_ip": "inet", "subnet": "cidr", "payload": "jsonb", "is_active": "boolean",
    "departs": "time", "note": "text",
}


def _row(i: int) -> list[str]:
    client_ip = (f"192.168.{i % 256}.{i % 200}" if i % 3 == 0 else
                 f"2001:db8::{i:x}" if i % 3 == 1 else f"10.{i % 256}.0.{i % 100}/24")
    subnet = f"10.{i % 256}.0.0/16" if i % 2 else f"2001:db8:{i:x}::/48"
    payload = (json.dumps({"n": i, "name": "Zoë \u00e9", "tags": ["a", "b"], "x": None,
                           "ok": i % 2 == 0, "price": 1.5e3, "nested": {"deep": [1, [2, {}]]}})
               if i % 2 else json.dumps([i, "\U0001f600", "esc\"aped", 0.25]))
    if i % 5 == 0:
        payload = '{"u": "\\u00e9\\ud83d\\ude00", "n": -0, "e": 1E-5}'  # escapes as written
    is_active = "" if i % 7 == 0 else str(i % 2)
    departs = f"{i % 24}:{i % 60:02d}" + (f":{i % 60:02d}" if i % 4 else "")
    return [client_ip, subnet, payload, is_active, departs, f"row {i}"]


def _write_csv(path: Path) -> list[list[str]]:
    rows = [_row(i) for i in range(1, ROWS + 1)]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(list(EXPECTED_TYPES))
        writer.writerows(rows)
    return rows


def _source_value(type_name: str, text: str) -> Any:
    if text == "":
        return None
    if type_name == "inet":
        return ipaddress.ip_interface(text)
    if type_name == "cidr":
        return ipaddress.ip_network(text)
    if type_name == "jsonb":
        return json.dumps(json.loads(text), sort_keys=True)  # jsonb does not keep key order
    if type_name == "boolean":
        return {"0": False, "1": True}[text]
    if type_name == "time":
        hour, minute, *second = (int(p) for p in text.split(":"))
        return dt.time(hour, minute, second[0] if second else 0)
    return text


def _loaded_value(type_name: str, value: Any) -> Any:
    """psycopg's value, as ``_source_value`` gives it: a /32 (/128) inet comes back as an
    address rather than an interface, jsonb as Python values."""
    if value is None:
        return None
    if type_name == "inet":
        return ipaddress.ip_interface(str(value))
    if type_name == "jsonb":
        return json.dumps(value, sort_keys=True)
    return value


def test_new_types_build_load_and_read_back_equal(
        fresh_database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "project"
    root.mkdir()
    source = root / "kinds.csv"
    rows = _write_csv(source)
    (root / "csv2pg.toml").write_text(
        f'[project]\ndb_schema = "public"\n\n[tables.kinds]\nsource = {json.dumps(str(source))}\n',
        encoding="utf-8")
    code = main(["-C", str(root), "build", "--format", "json", "--database", fresh_database_url])
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert code == 0, err
    assert [(t["table"], t["status"], t["rejects"]) for t in result["tables"]] == [
        ("kinds", "built", 0)]
    schema = json.loads((root / "schemas" / "kinds.schema.json").read_text("utf-8"))
    types = {c["column"]: c["type"] for c in schema["columns"]}
    assert types == EXPECTED_TYPES

    names = list(EXPECTED_TYPES)
    select = ", ".join(quote_ident(n) for n in names)
    with psycopg.connect(fresh_database_url) as conn:
        # psycopg reads inet/cidr as ipaddress objects, jsonb as Python values, time as time.
        loaded = conn.execute(f"SELECT {select} FROM public.kinds ORDER BY ctid").fetchall()
        kinds = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'public.kinds'::regclass AND attnum > 0").fetchall()
    assert dict(kinds) == {**EXPECTED_TYPES, "departs": "time without time zone"}
    expected = [tuple(_source_value(EXPECTED_TYPES[n], v) for n, v in zip(names, row, strict=True))
                for row in rows]
    got = [tuple(_loaded_value(EXPECTED_TYPES[n], v) for n, v in zip(names, row, strict=True))
           for row in loaded]
    assert len(got) == ROWS
    assert sorted(map(repr, got)) == sorted(map(repr, expected))


# Values each new parser accepts; PostgreSQL must accept every one of them.
ACCEPTED = {
    "inet": ["1.2.3.4", "255.255.255.255", "0.0.0.0", "192.168.1.1/24", "::", "::1", "1::",
             "2001:db8::1/64", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
             "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "FE80::A", "::1/128"],
    "cidr": ["10.0.0.0/8", "0.0.0.0/0", "1.2.3.4/32", "2001:db8::/32", "::/0", "ff00::/8",
             "8000::/1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124"],
    "jsonb": ["{}", "[]", '{"a":[1,{"b":null}],"c":{"d":[true,false]}}', '["\\u00e9"]',
              '["\\ud83d\\ude00"]', '{"a":1,"a":2}', "[1e400]", "[1E-400]", "[1] \t\r\n",
              '["a,]", "NaN"]', '{"name":"Infinity War"}', "[" * 30 + "]" * 30,
              "[" + "9" * 999 + "]"],
    "time": ["0:44:00", "9:05", "23:59:59.999999", " 9:05 "],
}


@pytest.mark.parametrize("type_name", sorted(ACCEPTED))
def test_postgresql_accepts_what_the_parsers_accept(fresh_database_url: str,
                                                    type_name: str) -> None:
    values = ACCEPTED[type_name]
    assert all(pgtypes.parses_as(type_name, v) for v in values)
    if type_name == "cidr":
        assert all(pgtypes.parses_as("inet", v) for v in values)  # every cidr is an inet
    with psycopg.connect(fresh_database_url) as conn:
        for value in values:
            conn.execute(f"SELECT %s::text::{type_name}", [value])  # raises if PostgreSQL refuses


# Values the override proofs accept (pgtypes.OVERRIDE_PARSERS); PostgreSQL must accept each.
OVERRIDE_ACCEPTED = {
    "money": ["$1,234.56", "1234", "($5.00)", "-$5", "$-5", " 12.5 ", "92233720368547758.07"],
    "interval": ["1 day", "3 hours 20 minutes", "1 year 2 mons 3 days 04:05:06", "00:30:00",
                 "P1Y2M3DT4H5M6S", "PT0.5S", "2 weeks ago", "-1.5 hours", "1 Day", "10:05"],
    "macaddr": ["08:00:2b:01:02:03", "08-00-2b-01-02-03", "08002b:010203", "08002b-010203",
                "0800.2b01.0203", "0800-2b01-0203", "08002B010203"],
    "bytea": ["\\x0a0B", "\\x", "plain text", "a\\\\b", "a\\001"],
    "real": ["1.5", "3.4e38", "-1.5e-45", "0", "NaN", "-Infinity"],
}


@pytest.mark.parametrize("type_name", sorted(OVERRIDE_ACCEPTED))
def test_postgresql_accepts_what_the_override_proofs_accept(fresh_database_url: str,
                                                            type_name: str) -> None:
    values = OVERRIDE_ACCEPTED[type_name]
    assert all(pgtypes.OVERRIDE_PARSERS[type_name](v) for v in values)
    with psycopg.connect(fresh_database_url) as conn:
        for value in values:
            conn.execute(f"SELECT %s::text::{type_name}", [value])  # raises if PostgreSQL refuses
