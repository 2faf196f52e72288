"""Every file of ../shared/corpus/real/ through `csv2pg build`, and its values read back (issue 4.7).

All files are tables of ONE project (built with ``-j 2``) in one fresh database. For each
table the test asserts: the build succeeded, pgloader rejected nothing, ``count(*)`` equals the
profile's rows, the chosen types are the pinned ones (``TYPES``: a change in the heuristics
shows up here as a diff to review), and a deterministic sample of about 50 rows round-trips.

Round trip: the source records are read with csv2pg's own reader (the dialect in sample.json,
the records the profile counted), the loaded rows are read in load order (``ctid``: pgloader
appends rows in file order into a fresh staging table that the import renames), every value
cast to text by PostgreSQL. A source field and the loaded value are compared after this
normalisation, by the column's type:

- NULL: an empty field, or one of the column's ``null_tokens``, is NULL (in a text column an
  empty field may also load as ``''``, a quoted empty string);
- smallint/integer/bigint/numeric: equal as ``Decimal`` (``.097`` is ``0.097``);
- double precision: equal as Python floats (PostgreSQL prints the shortest exact form);
- boolean: the same truth value (``Yes``, ``True``, ``t``, ``Y``, ``1`` are true);
- date, timestamp, timestamptz, time: equal as date/time values (fractions of a second to the
  microsecond PostgreSQL keeps; timestamptz read back in UTC);
- uuid: equal in lower case;
- inet, cidr: equal as ``ipaddress`` interfaces/networks (``1.2.3.4`` is ``1.2.3.4/32``);
- jsonb: equal as JSON values (jsonb reorders keys and drops blanks);
- text: exactly equal, blanks and all.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from csv2pg.cli import main
from csv2pg.dialect import Dialect, open_records
from csv2pg.identifiers import quote_ident
from csv2pg.transforms import row_transformer

pytestmark = pytest.mark.usefixtures("pgloader")

SAMPLE_ROWS = 50
# Workarounds for known detection bugs, as a user would write them in csv2pg.toml (none now).
DIALECT: dict[str, str] = {}


def table_name(path: Path) -> str:
    return path.name.rsplit(".", 1)[0]


def write_project(root: Path, files: list[Path]) -> None:
    lines = ['[project]', 'db_schema = "public"', '']
    for path in files:
        name = table_name(path)
        lines += [f"[tables.{name}]", f"source = {json.dumps(str(path))}",
                  DIALECT.get(name, "")]
    root.mkdir(parents=True, exist_ok=True)
    (root / "csv2pg.toml").write_text("\n".join(lines), encoding="utf-8")


# --- normalisation per type --------------------------------------------------------------------

_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}
_CLOCK = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
_STAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]" + _CLOCK + r")? ?(Z|[+-]\d{2}(?::?\d{2})?)?")
_TIME = re.compile(_CLOCK)


def _micro(fraction: str | None) -> int:
    return int((Decimal("0." + fraction) * 1_000_000).to_integral_value()) if fraction else 0


def _clock(hour: str | None, minute: str | None, second: str | None, fraction: str | None,
           ) -> dt.timedelta:
    return dt.timedelta(hours=int(hour or 0), minutes=int(minute or 0), seconds=int(second or 0),
                        microseconds=_micro(fraction))


def _moment(text: str) -> dt.datetime:
    """A date, timestamp or timestamptz as written in ISO 8601 (PostgreSQL's output too)."""
    match = _STAMP.fullmatch(text.strip())
    assert match is not None, text
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    moment = dt.datetime(int(year), int(month), int(day)) + _clock(hour, minute, second, fraction)
    if zone is None:
        return moment
    if zone == "Z":
        return moment.replace(tzinfo=dt.UTC)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return moment.replace(tzinfo=dt.timezone(sign * offset))


def _time(text: str) -> dt.timedelta:
    match = _TIME.fullmatch(text.strip())
    assert match is not None, text
    return _clock(*match.groups())


def _truth(text: str) -> bool:
    word = text.strip().lower()
    assert word in _TRUE | _FALSE, text
    return word in _TRUE


def _number(text: str) -> Decimal:
    return Decimal(text.strip())


def _double(text: str) -> float:
    return float(text.strip())


NORMALISE: dict[str, Callable[[str], Any]] = {
    "smallint": _number, "integer": _number, "bigint": _number, "numeric": _number,
    "double precision": _double, "boolean": _truth, "date": _moment, "timestamp": _moment,
    "timestamptz": _moment, "time": _time, "uuid": lambda text: text.strip().lower(),
    "inet": lambda text: ipaddress.ip_interface(text.strip()),
    "cidr": lambda text: ipaddress.ip_network(text.strip()),
    "jsonb": lambda text: json.dumps(json.loads(text), sort_keys=True),
}


def _kind(column: dict[str, Any]) -> str:
    return re.sub(r"\(.*\)$", "", str(column["type"]))


def _is_null(column: dict[str, Any], source: str) -> bool:
    if _kind(column) in ("text", "varchar", "char"):
        return source == "" or source in column["null_tokens"]
    return source.strip() == "" or source in column["null_tokens"]


def _value(column: dict[str, Any], text: str) -> Any:
    kind = _kind(column)
    if kind in ("text", "varchar", "char"):
        return text
    if kind in ("numeric", "double precision") and text.strip().lower() == "nan":
        return "NaN"  # NaN equals nothing, not even itself
    return NORMALISE[kind](text)


def source_key(columns: list[dict[str, Any]], fields: list[str]) -> tuple[Any, ...]:
    """The record after normalisation (NULL as None; missing trailing fields are empty)."""
    padded = fields + [""] * (len(columns) - len(fields))
    return tuple(None if _is_null(c, f) else _value(c, f) for c, f in zip(columns, padded, strict=True))


def loaded_key(columns: list[dict[str, Any]], row: tuple[str | None, ...]) -> tuple[Any, ...]:
    """A row read back as text, normalised the same way ('' in a text column counts as NULL:
    pgloader loads a quoted empty field as '', an unquoted one as NULL)."""
    return tuple(None if v is None or (v == "" and _kind(c) in ("text", "varchar", "char"))
                 else _value(c, v) for c, v in zip(columns, row, strict=True))


def sample_indices(rows: int) -> list[int]:
    step = max(1, rows // SAMPLE_ROWS)
    return sorted(set(range(0, rows, step)) | ({rows - 1} if rows else set()))


def round_trip_mismatches(conn: psycopg.Connection[Any], schema: dict[str, Any],
                          sample: dict[str, Any], path: Path) -> list[str]:
    """The sampled source records that no loaded row equals after normalisation.

    pgloader's batches do not keep the file's order, so each sampled record is looked up
    among all loaded rows; on a miss the closest row (most equal columns) is shown.
    """
    columns = schema["columns"]
    select = ", ".join(f"{quote_ident(c['column'])}::text" for c in columns)
    loaded = [loaded_key(columns, row) for row in conn.execute(
        f"SELECT {select} FROM public.{quote_ident(schema['table'])}").fetchall()]
    records = list(open_records(path, Dialect.from_dict(sample["dialect"])))
    assert len(records) == len(loaded) == sample["rows"], path.name
    present = set(loaded)
    problems = []
    # A column with a transform (``1,234``, ``5/19/2006 0:00:00``) is compared by the canonical
    # text the source spells; tests/e2e/test_formats_load.py proves that text means the same.
    transform = row_transformer(columns)
    for index in sample_indices(len(records)):
        line, fields = records[index]
        fields = transform(fields) if transform else fields
        want = source_key(columns, fields)
        if want in present:
            continue
        closest = max(loaded, key=lambda row: sum(a == b for a, b in zip(row, want, strict=True)))
        diff = [f"{c['column']} ({c['type']}): source {w!r}, closest loaded {g!r}"
                for c, w, g in zip(columns, want, closest, strict=True) if w != g]
        problems.append(f"{path.name}:{line}: " + "; ".join(diff)[:400])
    return problems


def test_the_normalisation_tells_values_apart() -> None:
    """The round trip is a real check: equal meanings match, different values do not."""
    columns = [{"column": n, "type": t, "null_tokens": ["NA"]} for n, t in [
        ("a", "numeric"), ("b", "boolean"), ("c", "timestamptz"), ("d", "text"), ("e", "smallint")]]
    source = source_key(columns, [".50", "Yes", "2026-01-06T20:54:04.460Z", " x ", "NA"])
    assert source == loaded_key(columns, ("0.50", "t", "2026-01-06 20:54:04.46+00", " x ", None))
    for changed in [("0.51", "t", "2026-01-06 20:54:04.46+00", " x ", None),
                    ("0.50", "f", "2026-01-06 20:54:04.46+00", " x ", None),
                    ("0.50", "t", "2026-01-06 20:54:04.46+01", " x ", None),
                    ("0.50", "t", "2026-01-06 20:54:04.46+00", "x", None),
                    ("0.50", "t", "2026-01-06 20:54:04.46+00", " x ", "0")]:
        assert source != loaded_key(columns, changed)


# --- the whole corpus --------------------------------------------------------------------------

def test_every_real_file_builds_loads_and_round_trips(
        corpus: Path, fresh_database_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(p for p in (corpus / "real").iterdir() if p.name != "SOURCES.md")
    assert len(files) == 42
    root = tmp_path / "real"
    write_project(root, files)
    monkeypatch.chdir(tmp_path)
    code = main(["-C", str(root), "build", "-j", "2", "--format", "json",
                 "--database", fresh_database_url])
    out, err = capsys.readouterr()
    result = json.loads(out)
    failed = {t["table"]: t["error"] for t in result["tables"] if t["status"] != "built"}
    assert failed == {}, err
    assert code == 0
    assert {t["table"]: t["rejects"] for t in result["tables"]} == {
        table_name(p): 0 for p in files}

    types: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET DateStyle = 'ISO, YMD'")
        conn.execute("SET extra_float_digits = 1")  # the shortest exact float8 output
        for path in files:
            name = table_name(path)
            sample = json.loads((root / ".csv2pg" / name / "sample.json").read_text("utf-8"))
            schema = json.loads((root / "schemas" / f"{name}.schema.json").read_text("utf-8"))
            types[name] = {c["column"]: c["type"] for c in schema["columns"]}
            row = conn.execute(f"SELECT count(*) FROM public.{quote_ident(name)}").fetchone()
            assert row is not None and row[0] == sample["rows"], name
            problems += round_trip_mismatches(conn, schema, sample, path)
    assert problems == []
    if types != TYPES:
        changed = {name: {c: (TYPES.get(name, {}).get(c), t) for c, t in columns.items()
                          if TYPES.get(name, {}).get(c) != t}
                   for name, columns in types.items()}
        changed = {name: diff for name, diff in changed.items() if diff}
        pytest.fail("the chosen types changed (column: (pinned, now)); review them, then pin "
                    f"the new ones in TYPES:\n{json.dumps(changed, indent=1)}\n"
                    f"all types now:\n{json.dumps(types, indent=1)}")


# The decisions, reviewed column by column (see the report of issue 4.7 for the judgement):
# file (table) → {column: type}.
TYPES: dict[str, dict[str, str]] = {
    'ab_asheville_listings': {
        'id': 'double precision', 'name': 'text', 'host_id': 'bigint', 'host_name': 'text',
        'neighbourhood_group': 'text', 'neighbourhood': 'smallint', 'latitude': 'numeric',
        'longitude': 'numeric', 'room_type': 'text', 'price': 'smallint',
        'minimum_nights': 'smallint', 'number_of_reviews': 'smallint', 'last_review': 'date',
        'reviews_per_month': 'numeric', 'calculated_host_listings_count': 'smallint',
        'availability_365': 'smallint', 'number_of_reviews_ltm': 'smallint', 'license': 'text',
    },
    'ck_ks_1033': {
        'state': 'text', 'county': 'text', 'fips': 'text', 'nsn': 'text', 'item_name': 'text',
        'quantity': 'smallint', 'ui': 'text', 'acquisition_cost': 'numeric',
        'total_cost': 'numeric', 'ship_date': 'timestamp', 'federal_supply_category': 'smallint',
        'federal_supply_category_name': 'text', 'federal_supply_class': 'smallint',
        'federal_supply_class_name': 'text',
    },
    'dbt_inapp_events': {
        'index': 'smallint', 'event_id': 'bigint', 'customer_id': 'bigint', 'event_time': 'bigint',
        'event_name': 'text', 'event_value': 'numeric', 'additional_details': 'text',
        'platform': 'text', 'campaign_id': 'numeric',
    },
    'dbt_jaffle_orders': {
        'id': 'uuid', 'customer': 'uuid', 'ordered_at': 'timestamp', 'store_id': 'uuid',
        'subtotal': 'smallint', 'tax_paid': 'smallint', 'order_total': 'smallint',
    },
    'dh_country_codes': {
        'fifa': 'text', 'dial': 'text', 'iso3166_1_alpha_3': 'text', 'marc': 'text',
        'is_independent': 'text', 'iso3166_1_numeric': 'smallint', 'gaul': 'integer',
        'fips': 'text', 'wmo': 'text', 'iso3166_1_alpha_2': 'text', 'itu': 'text', 'ioc': 'text',
        'ds': 'text', 'unterm_spanish_formal': 'text', 'global_code': 'smallint',
        'intermediate_region_code': 'smallint', 'official_name_fr': 'text',
        'unterm_french_short': 'text', 'iso4217_currency_name': 'text',
        'unterm_russian_formal': 'text', 'unterm_english_short': 'text',
        'iso4217_currency_alphabetic_code': 'text', 'small_island_developing_states_sids': 'text',
        'unterm_spanish_short': 'text', 'iso4217_currency_numeric_code': 'text',
        'unterm_chinese_formal': 'text', 'unterm_french_formal': 'text',
        'unterm_russian_short': 'text', 'm49': 'smallint', 'sub_region_code': 'smallint',
        'region_code': 'smallint', 'official_name_ar': 'text',
        'iso4217_currency_minor_unit': 'text', 'unterm_arabic_formal': 'text',
        'unterm_chinese_short': 'text', 'land_locked_developing_countries_lldc': 'text',
        'intermediate_region_name': 'text', 'official_name_es': 'text',
        'unterm_english_formal': 'text', 'official_name_cn': 'text', 'official_name_en': 'text',
        'iso4217_currency_country_name': 'text', 'least_developed_countries_ldc': 'text',
        'region_name': 'text', 'unterm_arabic_short': 'text', 'sub_region_name': 'text',
        'official_name_ru': 'text', 'global_name': 'text', 'capital': 'text', 'continent': 'text',
        'tld': 'text', 'languages': 'text', 'geoname_id': 'bigint', 'cldr_display_name': 'text',
        'edgar': 'text', 'wikidata_id': 'text',
    },
    'dh_publicbodies_de': {
        'id': 'text', 'name': 'text', 'abbreviation': 'text', 'other_names': 'text',
        'description': 'text', 'classification': 'text', 'parent_id': 'text',
        'founding_date': 'text', 'dissolution_date': 'text', 'image': 'text', 'url': 'text',
        'jurisdiction_code': 'text', 'phone': 'text', 'email': 'text', 'address': 'text',
        'contact': 'text', 'tags': 'text', 'source_url': 'text',
    },
    'dh_sp500_constituents': {
        'symbol': 'text', 'security': 'text', 'gics_sector': 'text', 'gics_sub_industry': 'text',
        'headquarters_location': 'text', 'date_added': 'date', 'cik': 'integer', 'founded': 'text',
    },
    'fte_bob_ross': {
        'episode': 'text', 'title': 'text', 'apple_frame': 'smallint',
        'aurora_borealis': 'smallint', 'barn': 'smallint', 'beach': 'smallint', 'boat': 'smallint',
        'bridge': 'smallint', 'building': 'smallint', 'bushes': 'smallint', 'cabin': 'smallint',
        'cactus': 'smallint', 'circle_frame': 'smallint', 'cirrus': 'smallint',
        'cliff': 'smallint', 'clouds': 'smallint', 'conifer': 'smallint', 'cumulus': 'smallint',
        'deciduous': 'smallint', 'diane_andre': 'smallint', 'dock': 'smallint',
        'double_oval_frame': 'smallint', 'farm': 'smallint', 'fence': 'smallint',
        'fire': 'smallint', 'florida_frame': 'smallint', 'flowers': 'smallint', 'fog': 'smallint',
        'framed': 'smallint', 'grass': 'smallint', 'guest': 'smallint',
        'half_circle_frame': 'smallint', 'half_oval_frame': 'smallint', 'hills': 'smallint',
        'lake': 'smallint', 'lakes': 'smallint', 'lighthouse': 'smallint', 'mill': 'smallint',
        'moon': 'smallint', 'mountain': 'smallint', 'mountains': 'smallint', 'night': 'smallint',
        'ocean': 'smallint', 'oval_frame': 'smallint', 'palm_trees': 'smallint',
        'path': 'smallint', 'person': 'smallint', 'portrait': 'smallint',
        'rectangle_3_d_frame': 'smallint', 'rectangular_frame': 'smallint', 'river': 'smallint',
        'rocks': 'smallint', 'seashell_frame': 'smallint', 'snow': 'smallint',
        'snowy_mountain': 'smallint', 'split_frame': 'smallint', 'steve_ross': 'smallint',
        'structure': 'smallint', 'sun': 'smallint', 'tomb_frame': 'smallint', 'tree': 'smallint',
        'trees': 'smallint', 'triple_frame': 'smallint', 'waterfall': 'smallint',
        'waves': 'smallint', 'windmill': 'smallint', 'window_frame': 'smallint',
        'winter': 'smallint', 'wood_framed': 'smallint',
    },
    'fte_congress_aging': {
        'congress': 'smallint', 'start_date': 'date', 'chamber': 'text', 'state_abbrev': 'text',
        'party_code': 'smallint', 'bioname': 'text', 'bioguide_id': 'text', 'birthday': 'date',
        'cmltv_cong': 'smallint', 'cmltv_chamber': 'smallint', 'age_days': 'integer',
        'age_years': 'numeric', 'generation': 'text',
    },
    'fte_dc_wikia': {
        'page_id': 'bigint', 'name': 'text', 'urlslug': 'text', 'id': 'text', 'align': 'text',
        'eye': 'text', 'hair': 'text', 'sex': 'text', 'gsm': 'text', 'alive': 'text',
        'appearances': 'smallint', 'first_appearance': 'text', 'year': 'smallint',
    },
    'fte_mayweather_tweets': {
        'created_at': 'timestamp', 'emojis': 'boolean', 'id': 'bigint', 'link': 'text',
        'retweeted': 'boolean', 'screen_name': 'text', 'text': 'text',
    },
    'fte_ncaa_womens': {
        'year': 'smallint', 'school': 'text', 'seed': 'text', 'conference': 'text',
        'conf_w': 'smallint', 'conf_l': 'smallint', 'conf_pct': 'numeric', 'conf_place': 'text',
        'reg_w': 'smallint', 'reg_l': 'smallint', 'reg_pct': 'numeric', 'how_qual': 'text',
        'c_1st_game_at_home': 'text', 'tourney_w': 'smallint', 'tourney_l': 'smallint',
        'tourney_finish': 'text', 'full_w': 'smallint', 'full_l': 'smallint', 'full_pct': 'text',
    },
    'fte_nonvoters': {
        'resp_id': 'bigint', 'weight': 'numeric', 'q1': 'smallint', 'q2_1': 'smallint',
        'q2_2': 'smallint', 'q2_3': 'smallint', 'q2_4': 'smallint', 'q2_5': 'smallint',
        'q2_6': 'smallint', 'q2_7': 'smallint', 'q2_8': 'smallint', 'q2_9': 'smallint',
        'q2_10': 'smallint', 'q3_1': 'smallint', 'q3_2': 'smallint', 'q3_3': 'smallint',
        'q3_4': 'smallint', 'q3_5': 'smallint', 'q3_6': 'smallint', 'q4_1': 'smallint',
        'q4_2': 'smallint', 'q4_3': 'smallint', 'q4_4': 'smallint', 'q4_5': 'smallint',
        'q4_6': 'smallint', 'q5': 'smallint', 'q6': 'smallint', 'q7': 'smallint',
        'q8_1': 'smallint', 'q8_2': 'smallint', 'q8_3': 'smallint', 'q8_4': 'smallint',
        'q8_5': 'smallint', 'q8_6': 'smallint', 'q8_7': 'smallint', 'q8_8': 'smallint',
        'q8_9': 'smallint', 'q9_1': 'smallint', 'q9_2': 'smallint', 'q9_3': 'smallint',
        'q9_4': 'smallint', 'q10_1': 'smallint', 'q10_2': 'smallint', 'q10_3': 'smallint',
        'q10_4': 'smallint', 'q11_1': 'smallint', 'q11_2': 'smallint', 'q11_3': 'smallint',
        'q11_4': 'smallint', 'q11_5': 'smallint', 'q11_6': 'smallint', 'q14': 'smallint',
        'q15': 'smallint', 'q16': 'smallint', 'q17_1': 'smallint', 'q17_2': 'smallint',
        'q17_3': 'smallint', 'q17_4': 'smallint', 'q18_1': 'smallint', 'q18_2': 'smallint',
        'q18_3': 'smallint', 'q18_4': 'smallint', 'q18_5': 'smallint', 'q18_6': 'smallint',
        'q18_7': 'smallint', 'q18_8': 'smallint', 'q18_9': 'smallint', 'q18_10': 'smallint',
        'q19_1': 'smallint', 'q19_2': 'smallint', 'q19_3': 'smallint', 'q19_4': 'smallint',
        'q19_5': 'smallint', 'q19_6': 'smallint', 'q19_7': 'smallint', 'q19_8': 'smallint',
        'q19_9': 'smallint', 'q19_10': 'smallint', 'q20': 'smallint', 'q21': 'smallint',
        'q22': 'smallint', 'q23': 'smallint', 'q24': 'smallint', 'q25': 'smallint',
        'q26': 'smallint', 'q27_1': 'smallint', 'q27_2': 'smallint', 'q27_3': 'smallint',
        'q27_4': 'smallint', 'q27_5': 'smallint', 'q27_6': 'smallint', 'q28_1': 'smallint',
        'q28_2': 'smallint', 'q28_3': 'smallint', 'q28_4': 'smallint', 'q28_5': 'smallint',
        'q28_6': 'smallint', 'q28_7': 'smallint', 'q28_8': 'smallint', 'q29_1': 'smallint',
        'q29_2': 'smallint', 'q29_3': 'smallint', 'q29_4': 'smallint', 'q29_5': 'smallint',
        'q29_6': 'smallint', 'q29_7': 'smallint', 'q29_8': 'smallint', 'q29_9': 'smallint',
        'q29_10': 'smallint', 'q30': 'smallint', 'q31': 'smallint', 'q32': 'smallint',
        'q33': 'smallint', 'ppage': 'smallint', 'educ': 'text', 'race': 'text', 'gender': 'text',
        'income_cat': 'text', 'voter_category': 'text',
    },
    'fte_police_killings': {
        'name': 'text', 'age': 'text', 'gender': 'text', 'raceethnicity': 'text', 'month': 'text',
        'day': 'smallint', 'year': 'smallint', 'streetaddress': 'text', 'city': 'text',
        'state': 'text', 'latitude': 'numeric', 'longitude': 'numeric', 'state_fp': 'smallint',
        'county_fp': 'smallint', 'tract_ce': 'integer', 'geo_id': 'bigint', 'county_id': 'bigint',
        'namelsad': 'text', 'lawenforcementagency': 'text', 'cause': 'text', 'armed': 'text',
        'pop': 'smallint', 'share_white': 'numeric', 'share_black': 'numeric',
        'share_hispanic': 'numeric', 'p_income': 'integer', 'h_income': 'integer',
        'county_income': 'integer', 'comp_income': 'numeric', 'county_bucket': 'smallint',
        'nat_bucket': 'smallint', 'pov': 'numeric', 'urate': 'numeric', 'college': 'numeric',
    },
    'fte_raw_polls_2023': {
        'poll_id': 'bigint', 'question_id': 'bigint', 'race_id': 'bigint', 'year': 'smallint',
        'race': 'text', 'location': 'text', 'type_simple': 'text', 'type_detail': 'text',
        'pollster': 'text', 'pollster_rating_id': 'bigint', 'methodology': 'text',
        'partisan': 'text', 'polldate': 'date', 'samplesize': 'numeric', 'cand1_name': 'text',
        'cand1_id': 'bigint', 'cand1_party': 'text', 'cand1_pct': 'numeric', 'cand2_name': 'text',
        'cand2_id': 'bigint', 'cand2_party': 'text', 'cand2_pct': 'numeric',
        'cand3_pct': 'numeric', 'margin_poll': 'numeric', 'electiondate': 'date',
        'cand1_actual': 'numeric', 'cand2_actual': 'numeric', 'margin_actual': 'numeric',
        'error': 'numeric', 'bias': 'numeric', 'rightcall': 'numeric',
        'advancedplusminus': 'numeric', 'comment': 'text',
    },
    'fte_trump_ratio': {
        'created_at': 'timestamp', 'text': 'text', 'url': 'text', 'replies': 'integer',
        'retweets': 'integer', 'favorites': 'integer', 'user': 'text',
    },
    'pl_311_animals': {
        'unique_key': 'integer', 'created_date': 'timestamp', 'closed_date': 'timestamp', 'agency': 'text',
        'agency_name': 'text', 'complaint_type': 'text', 'descriptor': 'text',
        'location_type': 'text', 'incident_zip': 'text', 'incident_address': 'text',
        'street_name': 'text', 'cross_street_1': 'text', 'cross_street_2': 'text',
        'intersection_street_1': 'text', 'intersection_street_2': 'text', 'address_type': 'text',
        'city': 'text', 'landmark': 'text', 'facility_type': 'text', 'status': 'text',
        'due_date': 'text', 'resolution_action_updated_date': 'timestamp', 'community_board': 'text',
        'borough': 'text', 'x_coordinate_state_plane': 'integer',
        'y_coordinate_state_plane': 'integer', 'park_facility_name': 'text',
        'park_borough': 'text', 'latitude': 'numeric', 'longitude': 'numeric', 'location': 'text',
    },
    'pl_gapminder_pipe': {
        'country': 'text', 'continent': 'text', 'year': 'smallint', 'life_exp': 'numeric',
        'pop': 'integer', 'iso_alpha': 'text',
    },
    'pl_hofstede': {
        'ctr': 'text', 'country': 'text', 'pdi': 'smallint', 'idv': 'smallint', 'mas': 'smallint',
        'uai': 'smallint', 'ltowvs': 'smallint', 'ivr': 'smallint',
    },
    'pl_laucnty16': {
        'laus_code': 'text', 'state_fips_code': 'text', 'county_fips_code': 'text',
        'county_name_state_abbreviation': 'text', 'year': 'smallint', 'labor_force': 'integer',
        'employed': 'integer', 'unemployed': 'integer', 'unemployment_rate_pct': 'numeric',
    },
    'pl_olympic_winners': {
        'athlete': 'text', 'age': 'smallint', 'country': 'text', 'year': 'smallint',
        'date': 'date', 'sport': 'text', 'gold': 'smallint', 'silver': 'smallint',
        'bronze': 'smallint', 'total': 'smallint',
    },
    'pl_space_missions': {
        'mission': 'text', 'company': 'text', 'location': 'text', 'date': 'date', 'time': 'time',
        'rocket': 'text', 'price': 'integer', 'successful': 'boolean',
    },
    'pl_squirrels': {
        'x': 'numeric', 'y': 'numeric', 'unique_squirrel_id': 'text', 'hectare': 'text',
        'shift': 'text', 'date': 'integer', 'hectare_squirrel_number': 'smallint', 'age': 'text',
        'primary_fur_color': 'text', 'highlight_fur_color': 'text',
        'combination_of_primary_and_highlight_color': 'text', 'color_notes': 'text',
        'location': 'text', 'above_ground_sighter_measurement': 'text',
        'specific_location': 'text', 'running': 'boolean', 'chasing': 'boolean',
        'climbing': 'boolean', 'eating': 'boolean', 'foraging': 'boolean',
        'other_activities': 'text', 'kuks': 'boolean', 'quaas': 'boolean', 'moans': 'boolean',
        'tail_flags': 'boolean', 'tail_twitches': 'boolean', 'approaches': 'boolean',
        'indifferent': 'boolean', 'runs_from': 'boolean', 'other_interactions': 'text',
        'lat_long': 'text',
    },
    'pl_state_pop_proj': {
        'year': 'smallint', 'race': 'text', 'sex': 'text', 'age_0_to_2': 'integer',
        'age_3_to_4': 'integer', 'age_5': 'integer', 'age_6_to_9': 'integer',
        'age_10_to_13': 'integer', 'age_14': 'integer', 'age_15': 'integer',
        'age_16_to_17': 'integer', 'age_18_to_19': 'integer', 'age_20_to_24': 'integer',
        'age_25_to_34': 'integer', 'age_35_to_44': 'integer', 'age_45_to_54': 'integer',
        'age_55_to_59': 'integer', 'age_60_to_64': 'integer', 'age_65_to_74': 'integer',
        'age_75_to_84': 'integer', 'age_85_to_99': 'integer', 'age_100': 'smallint',
        'total': 'integer', 'medage': 'numeric', 'age_0_to_17': 'integer',
        'age_18_to_24': 'integer', 'age_25_to_44': 'integer', 'age_45_to_64': 'integer',
        'age_65_plus': 'integer', 'estimate_projection': 'text', 'vintage': 'smallint',
    },
    'pl_supermarket_sales': {
        'invoice_id': 'text', 'branch': 'text', 'city': 'text', 'customer_type': 'text',
        'gender': 'text', 'product_line': 'text', 'unit_price': 'numeric', 'quantity': 'smallint',
        'tax_5_pct': 'numeric', 'total': 'numeric', 'date': 'date', 'time': 'time',
        'payment': 'text', 'cost_of_goods_sold': 'numeric', 'gross_margin_percentage': 'numeric',
        'gross_income': 'numeric', 'customer_stratification_rating': 'numeric',
    },
    'pl_superstore': {
        'column_1': 'integer', 'row_id': 'bigint', 'order_id': 'text', 'order_date': 'date',
        'ship_date': 'date', 'ship_mode': 'text', 'customer_id': 'text', 'customer_name': 'text',
        'segment': 'text', 'city': 'text', 'state': 'text', 'country': 'text',
        'postal_code': 'text', 'market': 'text', 'region': 'text', 'product_id': 'text',
        'category': 'text', 'sub_category': 'text', 'product_name': 'text', 'sales': 'numeric',
        'quantity': 'smallint', 'discount': 'numeric', 'profit': 'numeric', 'shipping_cost': 'numeric',
        'order_priority': 'text',
    },
    'pl_telco_churn': {
        'customer_id': 'text', 'gender': 'text', 'senior_citizen': 'smallint',
        'partner': 'boolean', 'dependents': 'boolean', 'tenure': 'smallint',
        'phone_service': 'boolean', 'multiple_lines': 'text', 'internet_service': 'text',
        'online_security': 'text', 'online_backup': 'text', 'device_protection': 'text',
        'tech_support': 'text', 'streaming_tv': 'text', 'streaming_movies': 'text',
        'contract': 'text', 'paperless_billing': 'boolean', 'payment_method': 'text',
        'monthly_charges': 'numeric', 'total_charges': 'text', 'churn': 'boolean',
    },
    'pl_volcano_db': {
        'number': 'text', 'volcano_name': 'text', 'country': 'text', 'region': 'text',
        'latitude': 'numeric', 'longitude': 'numeric', 'elev': 'smallint', 'type': 'text',
        'status': 'text', 'last_known': 'text',
    },
    'psc_customer_spend': {
        'date': 'date', 'customer_id': 'bigint', 'spend_dollars': 'numeric',
    },
    'psc_financial_json': {
        'symbol': 'text', 'financial_data': 'jsonb',
    },
    'psc_weblog': {
        'ip': 'inet', 'time': 'timestamp', 'method': 'text', 'url': 'text', 'protocol': 'text',
        'status': 'smallint',
    },
    'sb_seaice': {
        'date': 'date', 'extent': 'numeric',
    },
    'sb_taxis_raw': {
        'vendor_id': 'bigint', 'tpep_pickup_datetime': 'timestamp',
        'tpep_dropoff_datetime': 'timestamp', 'passenger_count': 'smallint',
        'trip_distance': 'numeric', 'ratecode_id': 'bigint', 'store_and_fwd_flag': 'boolean',
        'pu_location_id': 'bigint', 'do_location_id': 'bigint', 'payment_type': 'smallint',
        'fare_amount': 'numeric', 'extra': 'numeric', 'mta_tax': 'numeric',
        'tip_amount': 'numeric', 'tolls_amount': 'numeric', 'improvement_surcharge': 'numeric',
        'total_amount': 'numeric', 'congestion_surcharge': 'numeric', 'color': 'text',
        'ehail_fee': 'text', 'trip_type': 'numeric',
    },
    'sb_titanic': {
        'survived': 'smallint', 'pclass': 'smallint', 'sex': 'text', 'age': 'numeric',
        'sibsp': 'smallint', 'parch': 'smallint', 'fare': 'numeric', 'embarked': 'text',
        'class': 'text', 'who': 'text', 'adult_male': 'boolean', 'deck': 'text',
        'embark_town': 'text', 'alive': 'boolean', 'alone': 'boolean',
    },
    'tmdb_sample': {
        'budget': 'integer', 'genres': 'jsonb', 'homepage': 'text', 'id': 'bigint',
        'keywords': 'jsonb', 'original_language': 'text', 'original_title': 'text',
        'overview': 'text', 'popularity': 'numeric', 'production_companies': 'jsonb',
        'production_countries': 'jsonb', 'release_date': 'text', 'revenue': 'bigint',
        'runtime': 'smallint', 'spoken_languages': 'jsonb', 'status': 'text', 'tagline': 'text',
        'title': 'text', 'vote_average': 'numeric', 'vote_count': 'smallint',
    },
    'usgs_all_month': {
        'time': 'timestamptz', 'latitude': 'numeric', 'longitude': 'numeric', 'depth': 'numeric',
        'mag': 'numeric', 'mag_type': 'text', 'nst': 'smallint', 'gap': 'numeric',
        'dmin': 'numeric', 'rms': 'numeric', 'net': 'text', 'id': 'text', 'updated': 'timestamptz',
        'place': 'text', 'type': 'text', 'horizontal_error': 'numeric', 'depth_error': 'numeric',
        'mag_error': 'numeric', 'mag_nst': 'smallint', 'status': 'text', 'location_source': 'text',
        'mag_source': 'text',
    },
    'vg_birdstrikes': {
        'airport_name': 'text', 'aircraft_make_model': 'text', 'effect_amount_of_damage': 'text',
        'flight_date': 'date', 'aircraft_airline_operator': 'text', 'origin_state': 'text',
        'phase_of_flight': 'text', 'wildlife_size': 'text', 'wildlife_species': 'text',
        'time_of_day': 'text', 'cost_other': 'integer', 'cost_repair': 'integer',
        'cost_total': 'integer', 'speed_ias_in_knots': 'smallint',
    },
    'vg_github': {
        'time': 'timestamp', 'count': 'smallint',
    },
    'vg_seattle_hourly': {
        'date': 'timestamp', 'pressure': 'numeric', 'temperature': 'numeric', 'wind': 'numeric',
    },
    'vg_stocks': {
        'symbol': 'text', 'date': 'date', 'price': 'numeric',
    },
    'vg_unemployment': {
        'id': 'bigint', 'rate': 'numeric',
    },
    'vg_zipcodes': {
        'zip_code': 'text', 'latitude': 'numeric', 'longitude': 'numeric', 'city': 'text',
        'state': 'text', 'county': 'text',
    },
}
