"""The type lattice: candidate PostgreSQL types and one parse check per candidate.

Contract: ``parses_as(type_name, value)`` is True only when PostgreSQL's input function for
that type accepts ``value`` as text (what COPY and pgloader hand it) *and* the value means
the same whichever engine loads it. Every check accepts a subset of what PostgreSQL
accepts, never more, so a type proven here over a whole file cannot fail at load time:

- whitespace: PostgreSQL skips leading and trailing blanks (``isspace`` in the C locale) for
  every type here except uuid, so the checks do too;
- integers: ``[+-]?[0-9]+`` within the type's range; no ``1.0``, ``1e3``, ``1_000`` or ``0x1F``
  (the last two only PostgreSQL 16+ accepts);
- numeric: decimal notation with an optional exponent, or ``NaN`` (not ``Infinity``: before
  PostgreSQL 14 numeric has none); double precision: the same plus ``Infinity``/``inf``,
  within double's range (no overflow to infinity, no underflow to zero);
- boolean: ``true/false/t/f/yes/no/y/n`` in any case (PostgreSQL also takes ``on/off/1/0``
  and prefixes; this version does not);
- date: ISO ``YYYY-MM-DD`` of a real calendar day (year 1 to 9999); timestamp: such a date
  alone or followed by ``T`` or a space and ``HH:MM[:SS[.fraction]]``, without a zone;
  timestamptz: a date and time *with* ``Z`` or ``±HH[:MM]`` (a zone-less value would depend
  on the session's TimeZone); time: ``H:MM[:SS[.fraction]]`` or ``HH:MM...``, hours 0-23
  (PostgreSQL reads ``9:05`` as 09:05);
- uuid: the canonical 8-4-4-4-12 hexadecimal form, any case, no braces;
- inet: an IPv4 dotted quad (no leading zeros in an octet) or an IPv6 address (any case,
  ``::`` compression, an IPv4 tail; no zone index), optionally with ``/prefix`` (no leading
  zeros), no blanks; cidr: the same but the prefix is required and no bit right of it is
  set (``10.0.0.0/8``, not ``10.1.0.0/8``), and an IPv6 network has no IPv4 tail. PostgreSQL's
  cidr also takes a plain address (as /32) or abbreviations (``10.1/16``): this does not, so
  plain addresses are inet;
- jsonb: a JSON object or array (first character ``{`` or ``[``, no blank before it) that
  ``json.loads`` reads, without ``NaN``/``Infinity`` or trailing commas (DuckDB's
  ``json_valid`` takes both), without ``\u0000`` or unpaired surrogate escapes (jsonb refuses
  them), numbers with exponents below 1000 and fewer than 1000 digits in a row. The
  literal-and-number rules look at the text with strings blanked out (``JSON_GUARD``), so
  ``profile`` applies the very same regular expressions; a database encoding of UTF-8 is
  assumed.

Pure functions of their argument; no locale, clock or environment reads. Imports nothing of
csv2pg's.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache

# Candidate types, narrowest first within each family, in the order inference prefers them.
CANDIDATES: tuple[str, ...] = (
    "boolean",
    "smallint", "integer", "bigint",
    "numeric", "double precision",
    "date", "timestamp", "timestamptz",
    "time",
    "uuid",
    "cidr", "inet",
    "jsonb",
)

# Families for widening: a value of an earlier member also parses as every later member
# (except timestamptz, which demands an explicit zone; see the module docstring).
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("boolean",),
    ("smallint", "integer", "bigint", "numeric", "double precision"),
    ("date", "timestamp", "timestamptz"),
    ("time",),
    ("uuid",),
    ("cidr", "inet"),
    ("jsonb",),
)

INTEGER_RANGES: Mapping[str, tuple[int, int]] = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
INTEGER_TYPES: tuple[str, ...] = ("smallint", "integer", "bigint")

PG_SPACE = " \t\n\r\v\f"  # isspace() in the C locale, what PostgreSQL's input functions skip
_BIGINT_MAX_DIGITS = 19
_MAX_EXPONENT = 1000  # far inside numeric's limits; larger exponents are not worth the risk

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEAN_WORDS = frozenset({"true", "false", "t", "f", "yes", "no", "y", "n"})
_INFINITY_WORDS = frozenset({"infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"})
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,9})?)?"
_TIME_ONLY = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,9})?)?")
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]" + _TIME + r")?")
_TIMESTAMPTZ = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]" + _TIME + r" ?(?:Z|[+-]([0-9]{2})(?::?([0-9]{2}))?)"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _ipv6_pattern(tail_v4: bool) -> str:
    """IPv6 addresses as text (RFC 4291 2.2), every ``::`` placement spelled out."""
    h = "[0-9a-fA-F]{1,4}"
    forms = [f"(?:{h}:){{5}}{h}:{IPV4_RE}" if tail_v4 else f"(?:{h}:){{7}}{h}"]
    for left in range(8):
        head = "" if left == 0 else f"(?:{h}:){{{left - 1}}}{h}"
        room = 7 - left  # groups "::" leaves room for (it stands for at least one)
        if tail_v4:
            if room >= 2:
                forms.append(f"{head}::(?:{h}:){{0,{room - 2}}}{IPV4_RE}")
        elif room == 0:
            forms.append(f"{head}::")
        else:
            forms.append(f"{head}::(?:{h}(?::{h}){{0,{room - 1}}})?")
    return "(?:" + "|".join(forms) + ")"


# Shared with ``profile`` (RE2 and Python's re read them alike).
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4_RE = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
IPV6_RE = f"(?:{_ipv6_pattern(False)}|{_ipv6_pattern(True)})"
IPV6_HEX_RE = _ipv6_pattern(False)  # without an IPv4 tail
PREFIX4_RE = "/(?:3[0-2]|[12]?[0-9])"
PREFIX6_RE = "/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9])"
INET_RE = f"(?:{IPV4_RE}(?:{PREFIX4_RE})?|{IPV6_RE}(?:{PREFIX6_RE})?)"
CIDR_SHAPE_RE = f"(?:{IPV4_RE}{PREFIX4_RE}|{IPV6_HEX_RE}{PREFIX6_RE})"
_INET = re.compile(INET_RE)
_CIDR_SHAPE = re.compile(CIDR_SHAPE_RE)

# jsonb: strings blanked out (``JSON_STRING_RE`` → ""), then the literals made 0
# (``JSON_WORDS_RE``; removing them would turn [true,false] into a trailing comma), any letter but e/E left (NaN, Infinity), a trailing comma, an exponent
# of 4 digits or a run of 1000 digits is refused (``JSON_GUARD_RE``); and on the raw text,
# ``\u0000`` or a surrogate escape left after removing the valid pairs.
JSON_STRING_RE = r'"(?:[^"\\]|\\.)*"'
JSON_WORDS_RE = "true|false|null"
JSON_GUARD_RE = r"[a-df-zA-DF-Z]|,[ \t\n\r]*[\]}]|[eE][+-]?[0-9]{4}|[0-9]{1000}"
JSON_NUL_RE = r"\\u0000"
JSON_PAIR_RE = r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
JSON_SURROGATE_RE = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_JSON_STRING = re.compile(JSON_STRING_RE)
_JSON_WORDS = re.compile(JSON_WORDS_RE)
_JSON_GUARD = re.compile(JSON_GUARD_RE)
_JSON_NUL = re.compile(JSON_NUL_RE)
_JSON_PAIR = re.compile(JSON_PAIR_RE)
_JSON_SURROGATE = re.compile(JSON_SURROGATE_RE)


def _trim(value: str) -> str:
    return value.strip(PG_SPACE)


def _integer_value(value: str) -> int | None:
    """The integer ``value`` spells (plain decimal digits, optional sign), else None."""
    text = _trim(value)
    if not _INTEGER.fullmatch(text):
        return None
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > _BIGINT_MAX_DIGITS:
        # Beyond every integer type; also keeps int() away from huge digit strings.
        return None
    return int(text)


def _in_range(value: str, type_name: str) -> bool:
    number = _integer_value(value)
    if number is None:
        return False
    low, high = INTEGER_RANGES[type_name]
    return low <= number <= high


def parse_smallint(value: str) -> bool:
    return _in_range(value, "smallint")


def parse_integer(value: str) -> bool:
    return _in_range(value, "integer")


def parse_bigint(value: str) -> bool:
    return _in_range(value, "bigint")


def _exponent_ok(text: str) -> bool:
    mark = max(text.find("e"), text.find("E"))
    return mark < 0 or abs(int(text[mark + 1:])) <= _MAX_EXPONENT


def parse_numeric(value: str) -> bool:
    text = _trim(value)
    if text.lower() == "nan":
        return True
    return bool(_DECIMAL.fullmatch(text)) and _exponent_ok(text)


def parse_double(value: str) -> bool:
    text = _trim(value)
    lowered = text.lower()
    if lowered == "nan" or lowered in _INFINITY_WORDS:
        return True
    if not _DECIMAL.fullmatch(text) or not _exponent_ok(text):
        return False
    number = float(text)
    if math.isinf(number):
        return False  # PostgreSQL: "is out of range for type double precision"
    mantissa = text.split("e")[0].split("E")[0]
    # Underflow to zero is an error too: a non-zero mantissa must stay non-zero.
    return not (number == 0.0 and any(c in "123456789" for c in mantissa))


def parse_boolean(value: str) -> bool:
    return _trim(value).lower() in _BOOLEAN_WORDS


def _real_date(year: str, month: str, day: str) -> bool:
    try:
        _dt.date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _real_time(hour: str, minute: str, second: str | None) -> bool:
    return int(hour) <= 23 and int(minute) <= 59 and (second is None or int(second) <= 59)


def parse_date(value: str) -> bool:
    match = _DATE.fullmatch(_trim(value))
    return match is not None and _real_date(*match.groups())


def parse_timestamp(value: str) -> bool:
    match = _TIMESTAMP.fullmatch(_trim(value))
    if not match:
        return False
    year, month, day, hour, minute, second = match.groups()
    if not _real_date(year, month, day):
        return False
    return hour is None or _real_time(hour, minute, second)


def parse_timestamptz(value: str) -> bool:
    match = _TIMESTAMPTZ.fullmatch(_trim(value))
    if not match:
        return False
    year, month, day, hour, minute, second, zone_hour, zone_minute = match.groups()
    zone_ok = zone_hour is None or (int(zone_hour) <= 15 and int(zone_minute or 0) <= 59)
    return _real_date(year, month, day) and _real_time(hour, minute, second) and zone_ok


def parse_time(value: str) -> bool:
    match = _TIME_ONLY.fullmatch(_trim(value))
    return match is not None and _real_time(*match.groups())


def parse_uuid(value: str) -> bool:
    return len(value) == 36 and bool(_UUID.fullmatch(value))


def parse_inet(value: str) -> bool:
    return bool(_INET.fullmatch(value))


def parse_cidr(value: str) -> bool:
    if not _CIDR_SHAPE.fullmatch(value):
        return False
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False  # bits set right of the prefix
    return True


def parse_jsonb(value: str) -> bool:
    if value[:1] not in ("{", "["):
        return False
    bare = _JSON_WORDS.sub("0", _JSON_STRING.sub('""', value))
    if _JSON_GUARD.search(bare) or _JSON_NUL.search(value):
        return False
    if _JSON_SURROGATE.search(_JSON_PAIR.sub("", value)):
        return False
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return False
    return True


PARSERS: Mapping[str, Callable[[str], bool]] = {
    "boolean": parse_boolean,
    "smallint": parse_smallint,
    "integer": parse_integer,
    "bigint": parse_bigint,
    "numeric": parse_numeric,
    "double precision": parse_double,
    "date": parse_date,
    "timestamp": parse_timestamp,
    "timestamptz": parse_timestamptz,
    "time": parse_time,
    "uuid": parse_uuid,
    "cidr": parse_cidr,
    "inet": parse_inet,
    "jsonb": parse_jsonb,
}


def parses_as(type_name: str, value: str) -> bool:
    """Whether PostgreSQL accepts ``value`` as ``type_name`` (a member of CANDIDATES)."""
    return PARSERS[type_name](value)


def _number_types(text: str) -> list[str]:
    """The number types a trimmed value parses as (integer types by range)."""
    if _INTEGER.fullmatch(text):
        number = _integer_value(text)
        fitting = [] if number is None else [
            name for name in INTEGER_TYPES
            if INTEGER_RANGES[name][0] <= number <= INTEGER_RANGES[name][1]]
        if len(text) < 300:  # shorter integers are always finite doubles
            return [*fitting, "numeric", "double precision"]
        return [*fitting, "numeric"] + (["double precision"] if parse_double(text) else [])
    found = ["numeric"] if parse_numeric(text) else []
    return found + (["double precision"] if parse_double(text) else [])


def parsing_candidates(value: str) -> frozenset[str]:
    """The candidates ``value`` parses as: ``parses_as`` for all of them at once, faster.

    Cheap shape tests first: most values fail most candidates for an obvious reason.
    """
    text = _trim(value)
    first = text[:1]
    ok: list[str] = []
    if first.isascii() and (first.isdigit() or first in "+-.nNiI"):
        ok += _number_types(text)
    if len(text) >= 10 and text[4] == "-":
        ok += [name for name in ("date", "timestamp", "timestamptz") if PARSERS[name](text)]
    elif (text[2:3] == ":" or text[1:2] == ":") and parse_time(text):
        ok.append("time")
    if len(text) <= 5 and parse_boolean(text):
        ok.append("boolean")
    if len(value) == 36 and parse_uuid(value):
        ok.append("uuid")
    if ("." in value or ":" in value) and parse_inet(value):
        ok += ["cidr", "inet"] if parse_cidr(value) else ["inet"]
    elif value[:1] in ("{", "[") and parse_jsonb(value):
        ok.append("jsonb")
    return frozenset(ok)


def failing_candidates(value: str) -> tuple[str, ...]:
    """The candidates ``value`` does not parse as, in CANDIDATES order."""
    return _complement(parsing_candidates(value))


@cache  # at most 2**14 distinct arguments, in practice a dozen
def _complement(ok: frozenset[str]) -> tuple[str, ...]:
    return tuple(name for name in CANDIDATES if name not in ok)


def is_exponent_notation(value: str) -> bool:
    """Whether a numeric value is written with an exponent (``1.5e3``)."""
    text = _trim(value)
    return ("e" in text or "E" in text) and bool(_DECIMAL.fullmatch(text))


def decimal_shape(value: str) -> tuple[int, int] | None:
    """(integer digits, scale) of a finite decimal value as written, else None.

    Exponents are applied (``1.5e3`` is (4, 0)), leading zeros do not count, trailing zeros
    after the point do (``1.50`` has scale 2, as in PostgreSQL's numeric). A column fits
    ``numeric(p, s)`` when s >= every scale and p - s >= every integer-digit count.
    """
    text = _trim(value)
    if not _DECIMAL.fullmatch(text) or not _exponent_ok(text):
        return None
    _, digits, exponent = Decimal(text).as_tuple()
    assert isinstance(exponent, int)  # finite by the pattern above
    return (max(len(digits) + exponent, 0), max(-exponent, 0))


# --- types an override may force that inference never proposes ------------------------------
# Proven by a pass over the column (``stages.schema``); each accepts a subset of what
# PostgreSQL's input function accepts (macaddr: its six spellings; bytea: hex ``\x..`` or the
# escape format; interval: ISO 8601 ``P...`` or ``N unit`` words with an optional clock and
# ``ago``; money: ``lc_monetary`` C or en_US spelling, ``$`` and ``,`` groups, at most two
# decimals, within money's range; real: a double within real's range).

_HEX2 = "[0-9a-fA-F]{2}"
_HEX4 = "[0-9a-fA-F]{4}"
_MACADDR = re.compile(
    "|".join([f"{_HEX2}(?::{_HEX2}){{5}}", f"{_HEX2}(?:-{_HEX2}){{5}}", "[0-9a-fA-F]{6}:[0-9a-fA-F]{6}",
              "[0-9a-fA-F]{6}-[0-9a-fA-F]{6}", f"{_HEX4}\\.{_HEX4}\\.{_HEX4}", f"{_HEX4}-{_HEX4}-{_HEX4}",
              "[0-9a-fA-F]{12}"]))
_BYTEA_HEX = re.compile(r"\\x(?:[0-9a-fA-F]{2})*")
_BYTEA_ESCAPE = re.compile(r"(?:[^\\]|\\\\|\\[0-3][0-7]{2})*", re.DOTALL)
_UNITS = ("microseconds?|milliseconds?|seconds?|secs?|minutes?|mins?|hours?|days?|weeks?|"
          "months?|mons?|years?|decades?|century|centuries|millennium|millennia")
_AMOUNT = r"[+-]?[0-9]+(?:\.[0-9]+)?"
_CLOCK_SPAN = r"[+-]?[0-9]+:[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
_INTERVAL = re.compile(
    rf"(?:(?:{_AMOUNT} ?(?:{_UNITS}))(?: +{_AMOUNT} ?(?:{_UNITS}))*(?: +{_CLOCK_SPAN})?|{_CLOCK_SPAN})"
    r"(?: +ago)?", re.IGNORECASE)
_ISO_INTERVAL = re.compile(
    r"P(?=[0-9T])(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+W)?(?:[0-9]+D)?"
    r"(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:\.[0-9]+)?S)?)?")
_MONEY = re.compile(r"(\()?([+-])?\$?([+-])?((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?)\)?")
_MONEY_MAX = Decimal("92233720368547758.07")
_REAL_MAX = 3.4028234663852886e38
_REAL_MIN = 1.401298464324817e-45


def parse_macaddr(value: str) -> bool:
    return bool(_MACADDR.fullmatch(_trim(value)))


def parse_bytea(value: str) -> bool:
    if value.startswith("\\x"):
        return bool(_BYTEA_HEX.fullmatch(value))
    return bool(_BYTEA_ESCAPE.fullmatch(value))


def parse_interval(value: str) -> bool:
    text = _trim(value)
    return bool(text) and bool(_INTERVAL.fullmatch(text) or _ISO_INTERVAL.fullmatch(text))


def parse_money(value: str) -> bool:
    match = _MONEY.fullmatch(_trim(value))
    if not match:
        return False
    paren, sign, inner_sign, number = match.groups()
    if (paren is not None) != _trim(value).endswith(")") or (sign and inner_sign):
        return False
    return Decimal(number.replace(",", "")) <= _MONEY_MAX


def parse_real(value: str) -> bool:
    if not parse_double(value):
        return False
    text = _trim(value).lower()
    if text in _INFINITY_WORDS or text == "nan":
        return True
    number = abs(float(text))
    return number <= _REAL_MAX and (number == 0.0 or number >= _REAL_MIN)


OVERRIDE_PARSERS: Mapping[str, Callable[[str], bool]] = {
    "macaddr": parse_macaddr, "bytea": parse_bytea, "interval": parse_interval,
    "money": parse_money, "real": parse_real,
}
