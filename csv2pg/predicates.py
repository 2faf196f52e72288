"""SQL that accepts exactly what ``pgtypes.parses_as`` accepts, for DuckDB (``profile``).

``predicate(type_name, col)`` is a regular expression for the shape plus TRY_CAST or digit
comparisons for ranges and the calendar, because DuckDB's casts alone are laxer than
PostgreSQL ('1194.44' and '1e3' cast to INTEGER); ``shape``, ``plain_shape`` and
``sci_shape`` give a decimal's integer digits and scale as ``pgtypes.decimal_shape`` does.
The unit tests compare both with the Python parsers on tricky values.

inet and jsonb use the very regular expressions of ``pgtypes`` (RE2 reads them as Python
does); cidr's "no bit set right of the prefix" is integer arithmetic for IPv4 and, for IPv6,
the address expanded to 32 hexadecimal digits; jsonb is ``json_valid`` (laxer than
PostgreSQL: NaN, Infinity, trailing commas) plus ``pgtypes``' guards against exactly that.

Builds SQL text only: reads nothing, runs nothing. Imports pgtypes and identifiers.
"""

from __future__ import annotations

from csv2pg import pgtypes
from csv2pg.identifiers import quote_literal

SPACE_CHARS = "(' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13))"
INT_RE = "[+-]?[0-9]+"
DEC_RE = "[+-]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
PLAIN_RE = "[+-]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)"  # a decimal without exponent
SCI_RE = PLAIN_RE + "[eE][+-]?[0-9]{1,3}"  # with an exponent that is always small enough
# Shapes with the clock and zone ranges of pgtypes built in (hours 00-23, minutes and seconds
# 00-59, zone hours 00-15): one regular expression decides all but the calendar.
CLOCK_RE = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,9})?)?"
DATE_RE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
TS_RE = DATE_RE + "(?:[T ]" + CLOCK_RE + ")?"
ZONE_RE = "(?:Z|[+-](?:0[0-9]|1[0-5])(?::?[0-5][0-9])?)"
TSTZ_RE = DATE_RE + "[T ]" + CLOCK_RE + " ?" + ZONE_RE
TSTZ_TIGHT_RE = DATE_RE + "[T ]" + CLOCK_RE + ZONE_RE  # no blank before the zone
TIME_RE = "(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\\.[0-9]{1,9})?)?"  # hour 0-23
UUID_RE = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def lit(text: str) -> str:
    return quote_literal(text)


def trimmed(col: str) -> str:
    """``col`` without PostgreSQL's blanks at either end (what ``pgtypes`` strips).

    Trimming is costly and most values have nothing to trim, so only values whose first or
    last character sorts at or below a space (every blank does) are trimmed.
    """
    return (f"(CASE WHEN {col}[1] <= ' ' OR {col}[-1] <= ' ' "
            f"THEN trim({col}, {SPACE_CHARS}) ELSE {col} END)")


def full(expr: str, pattern: str) -> str:
    return f"regexp_full_match({expr}, {lit(pattern)})"


def calendar(t: str) -> str:
    """A real day (year 1 to 9999) in the first 10 characters of ``t`` (shape already checked)."""
    return f"(substr({t}, 1, 4) <> '0000' AND TRY_CAST(substr({t}, 1, 10) AS DATE) IS NOT NULL)"


def exponent_ok(t: str) -> str:
    exponent = f"regexp_extract({t}, '[eE]([+-]?[0-9]+)$', 1)"
    return (f"(NOT regexp_matches({t}, '[eE]') OR "
            f"coalesce(abs(TRY_CAST({exponent} AS HUGEINT)) <= 1000, false))")


def host_bits_clear(col: str) -> str:
    """No bit right of the prefix is set, for ``col`` of cidr's shape (``pgtypes.CIDR_SHAPE_RE``)."""
    addr = f"split_part({col}, '/', 1)"
    bits = f"TRY_CAST(split_part({col}, '/', 2) AS INTEGER)"
    octets = " + ".join(f"(TRY_CAST(split_part({addr}, '.', {i + 1}) AS BIGINT) << {24 - 8 * i})"
                        for i in range(4))
    v4 = f"(({octets}) % (CAST(1 AS BIGINT) << (32 - {bits})) = 0)"
    # IPv6: every group padded to 4 hex digits, "::" filled with zero groups.
    left = f"split_part({addr}, '::', 1)"
    right = f"(CASE WHEN contains({addr}, '::') THEN split_part({addr}, '::', 2) ELSE '' END)"

    def groups(s: str) -> str:
        return f"(CASE WHEN {s} = '' THEN 0 ELSE length({s}) - length(replace({s}, ':', '')) + 1 END)"

    def padded(s: str) -> str:
        return (f"(CASE WHEN {s} = '' THEN '' ELSE regexp_replace(regexp_replace("
                f"':' || lower({s}), ':', ':000', 'g'), ':0*([0-9a-f]{{4}})', '\\1', 'g') END)")

    hexa = f"({padded(left)} || repeat('0000', 8 - {groups(left)} - {groups(right)}) || {padded(right)})"
    nibble = f"(strpos('0123456789abcdef', substr({hexa}, {bits} // 4 + 1, 1)) - 1)"
    v6 = (f"({bits} = 128 OR ({nibble} % (1 << (4 - {bits} % 4)) = 0 "
          f"AND ltrim(substr({hexa}, {bits} // 4 + 2), '0') = ''))")
    return f"coalesce(CASE WHEN contains({col}, '.') THEN {v4} ELSE {v6} END, false)"


def jsonb(col: str) -> str:
    """``pgtypes.parse_jsonb``: json_valid, then pgtypes' guards on the same text."""
    bare = (f"regexp_replace(regexp_replace({col}, {lit(pgtypes.JSON_STRING_RE)}, '\"\"', 'g'), "
            f"{lit(pgtypes.JSON_WORDS_RE)}, '0', 'g')")
    lone = f"regexp_replace({col}, {lit(pgtypes.JSON_PAIR_RE)}, '', 'g')"
    return (f"(CASE WHEN left({col}, 1) IN ('{{', '[') THEN coalesce(json_valid({col}), false) "
            f"AND NOT regexp_matches({bare}, {lit(pgtypes.JSON_GUARD_RE)}) "
            f"AND NOT regexp_matches({col}, {lit(pgtypes.JSON_NUL_RE)}) "
            f"AND NOT regexp_matches({lone}, {lit(pgtypes.JSON_SURROGATE_RE)}) ELSE false END)")


def bigint_value(col: str) -> str:
    """The value of ``col`` as BIGINT when it is an integer in bigint's range, else NULL."""
    t = trimmed(col)
    return f"TRY_CAST(CASE WHEN {full(t, INT_RE)} THEN {t} END AS BIGINT)"


def canonical_bigint(v: str) -> str:
    """``bigint_value`` without the regular expression for integers written canonically.

    A value that reads back as itself from its BIGINT cast ("-12", "0": no blanks, sign
    or leading zeros) is that integer; the rest take the exact check.
    """
    cast = f"TRY_CAST({v} AS BIGINT)"
    return f"(CASE WHEN CAST({cast} AS VARCHAR) = {v} THEN {cast} ELSE {bigint_value(v)} END)"


def check(type_name: str, t: str, col: str) -> str:
    """``predicate`` with the trimmed value ``t`` of ``col`` given as SQL."""
    if type_name in pgtypes.INTEGER_RANGES:
        low, high = pgtypes.INTEGER_RANGES[type_name]
        value = f"(CASE WHEN {full(t, INT_RE)} THEN TRY_CAST({t} AS HUGEINT) END)"
        return f"coalesce({value} BETWEEN {low} AND {high}, false)"
    if type_name == "numeric":
        return f"(lower({t}) = 'nan' OR ({full(t, DEC_RE)} AND {exponent_ok(t)}))"
    if type_name == "double precision":
        words = ", ".join(lit(w) for w in ("nan", *sorted(pgtypes._INFINITY_WORDS)))
        as_double = f"TRY_CAST({t} AS DOUBLE)"
        mantissa = f"regexp_replace({t}, '[eE].*$', '')"
        finite = (f"coalesce(isfinite({as_double}) AND NOT ({as_double} = 0 AND "
                  f"regexp_matches({mantissa}, '[1-9]')), false)")
        return (f"(lower({t}) IN ({words}) OR "
                f"({full(t, DEC_RE)} AND {exponent_ok(t)} AND {finite}))")
    if type_name == "boolean":
        words = ", ".join(lit(w) for w in sorted(pgtypes._BOOLEAN_WORDS))
        return f"(lower({t}) IN ({words}))"
    if type_name == "date":  # the shape is the whole value: cast it as the bound does
        return (f"({full(t, DATE_RE)} AND substr({t}, 1, 4) <> '0000' "
                f"AND TRY_CAST({t} AS DATE) IS NOT NULL)")
    if type_name == "timestamp":
        return f"({full(t, TS_RE)} AND {calendar(t)})"
    if type_name == "timestamptz":
        return f"({full(t, TSTZ_RE)} AND {calendar(t)})"
    if type_name == "time":
        return full(t, TIME_RE)
    if type_name == "uuid":
        return f"(length({col}) = 36 AND {full(col, UUID_RE)})"
    if type_name == "inet":
        return full(col, pgtypes.INET_RE)
    if type_name == "cidr":
        return (f"(CASE WHEN {full(col, pgtypes.CIDR_SHAPE_RE)} "
                f"THEN {host_bits_clear(col)} ELSE false END)")
    if type_name == "jsonb":
        return jsonb(col)
    raise ValueError(f"unknown candidate type {type_name!r}")


def predicate(type_name: str, col: str) -> str:
    """SQL that is true exactly when ``pgtypes.parses_as(type_name, value of col)``.

    ``col`` must not be NULL (DuckDB reads empty fields as NULL; they are never candidates).
    """
    return check(type_name, trimmed(col), col)


def general_shape(unsigned: str, exponent: str) -> tuple[str, str]:
    """(integer digits, scale) of an unsigned mantissa ``whole.fraction`` times 10^exponent."""
    whole = f"split_part({unsigned}, '.', 1)"
    fraction = f"split_part({unsigned}, '.', 2)"
    digits = f"greatest(length(ltrim({whole} || {fraction}, '0')), 1)"
    power = f"({exponent} - length({fraction}))"
    return f"greatest({digits} + {power}, 0)", f"greatest(-{power}, 0)"


def shape(col: str) -> tuple[str, str]:
    """SQL for (integer digits, scale) of a decimal value, as ``pgtypes.decimal_shape``."""
    t = trimmed(col)
    mantissa = f"regexp_extract({t}, '^[+-]?([0-9]*\\.?[0-9]*)', 1)"
    exponent = f"coalesce(TRY_CAST(regexp_extract({t}, '[eE]([+-]?[0-9]+)$', 1) AS INTEGER), 0)"
    return general_shape(mantissa, exponent)


def plain_shape(col: str) -> tuple[str, str]:
    """``shape`` for a value matching ``PLAIN_RE`` as it is (no blanks, no exponent).

    Without leading zeros (the common case) the integer digits are the characters before
    the point less the sign; otherwise the general formula with exponent 0.
    """
    point = f"strpos({col}, '.')"
    before = f"(CASE WHEN {point} = 0 THEN length({col}) ELSE {point} - 1 END)"
    sign = f"(CASE WHEN {col} < '0' THEN 1 ELSE 0 END)"  # '+' and '-' sort before digits
    general = general_shape(f"ltrim({col}, '+-')", "0")[0]
    digits = (f"(CASE WHEN {full(col, '[+-]?[1-9][0-9]*(?:[.][0-9]*)?')} "
              f"THEN {before} - {sign} WHEN {full(col, '[+-]?0*[.][0-9]+')} THEN 0 "
              f"ELSE {general} END)")
    scale = f"(CASE WHEN {point} = 0 THEN 0 ELSE length({col}) - {point} END)"
    return digits, scale


def sci_shape(col: str) -> tuple[str, str]:
    """``shape`` for a value matching ``SCI_RE`` as it is (no blanks).

    A mantissa without leading zeros (the common case) has ``before + exponent`` integer
    digits, otherwise the general formula; every such value has ``fraction - exponent``
    decimal places (leading zeros do not change them).
    """
    mark = f"greatest(strpos({col}, 'e'), strpos({col}, 'E'))"
    exponent = f"TRY_CAST(substr({col}, {mark} + 1) AS INTEGER)"
    point = f"strpos({col}, '.')"
    sign = f"(CASE WHEN {col} < '0' THEN 1 ELSE 0 END)"
    before = f"((CASE WHEN {point} = 0 THEN {mark} ELSE {point} END) - 1 - {sign})"
    places = f"(CASE WHEN {point} = 0 THEN 0 ELSE {mark} - {point} - 1 END)"
    simple = full(col, "[+-]?[1-9][0-9]*(?:[.][0-9]*)?[eE][+-]?[0-9]+")
    general_digits = general_shape(f"ltrim(left({col}, {mark} - 1), '+-')", exponent)[0]
    return (f"(CASE WHEN {simple} THEN greatest({before} + {exponent}, 0) ELSE {general_digits} END)",
            f"greatest({places} - {exponent}, 0)")
