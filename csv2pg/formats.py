"""Value formats PostgreSQL's own input does not read, and the canonical text they mean.

A *format* is a small JSON-able dict, recorded as a column's ``"transform"`` in the table
schema (schemas/table.v1.json) and applied to every value by ``csv2pg.transforms``:

- numbers: ``{"kind": "number", "decimal": "." | ",", "group": None | "," | "." | " " | "'",
  "currency": None | "$" | "€" | "USD" ..., "percent": bool}``. Group separators sit between
  groups of three digits (``1,234,567``; a space group also matches a no-break or narrow
  no-break space); a value may also be written without them (``1234,5``). The currency
  symbol or code may precede or follow the number, with or without a space, and may be
  absent from some values; a sign may precede or follow a prefix currency (``-$5``,
  ``$-5``); ``($5)`` is -5. With ``percent`` every value ends in ``%``, which is dropped:
  ``12.5%`` loads as 12.5 (the number as written, not 0.125). Canonical text: an optional
  ``-``, digits, and ``.`` with the fraction when there is one.
- dates: ``{"kind": "date", "order": "mdy" | "dmy" | "ymd", "separator": "/" | "." | "-" |
  " ", "month": "number" | "name"}``: the date parts in written order, a four-digit year
  (1 to 9999), a one- or two-digit day and month, or an English month name or abbreviation
  (``Jan``, ``Sept``, ``January``, any case) with order ``dmy`` (``05-Jan-2020``) or ``mdy``
  (``Jan 5, 2020``, separator " "). ``"year_digits": 2`` (absent: 4) takes two-digit years,
  read by the POSIX rule (69-99 → 1969-1999, 00-68 → 2000-2068; the reason says so).
  Optionally followed by a space or ``T`` and a time
  ``H:MM[:SS[.ffffff]]`` (hours 0-23), or ``h:MM[:SS] AM/PM`` (hours 1-12). Canonical text:
  ISO ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS[.ffffff]``.

``*_regex(fmt)`` are the shapes, written for both Python's ``re`` and DuckDB's RE2 (the
profile proves formats in SQL with the very same patterns); ``canonical(value, fmt)`` is the
one parser, returning the canonical text or None when the value is not in the format.
Values are first trimmed of PostgreSQL's blanks (``pgtypes.PG_SPACE``).

``propose(values, delimiter)`` lists the formats every given value matches (the sample's
proposals; in a comma-delimited file a decimal comma needs more evidence: ``plausible``);
``choose(entries, kind)`` picks the format a column's whole-file proof supports, or says
why none can be chosen (two proven formats that read some value differently: ``1,234`` is a
thousand or 1.234, ``01/02/2020`` is January or February).

Pure functions; imports nothing of csv2pg's but pgtypes.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from csv2pg.pgtypes import PG_SPACE

Format = dict[str, Any]

GROUPS: tuple[str | None, ...] = (None, ",", ".", " ", "'")
DECIMALS = (".", ",")
CURRENCY_SYMBOLS = ("$", "€", "£", "¥", "₹", "₩", "₽", "₺", "R$", "kr")
CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "INR", "BRL",
                  "MXN", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RUB", "ZAR", "HKD", "SGD",
                  "KRW", "TRY")
CURRENCIES = CURRENCY_SYMBOLS + CURRENCY_CODES
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DATE_SEPARATORS = ("/", ".", "-", " ")
_SPACE_GROUP = "[ \u00a0\u202f]"

# --- numbers -----------------------------------------------------------------------------------


def _group_re(group: str) -> str:
    return _SPACE_GROUP if group == " " else re.escape(group)


@cache
def number_regex(decimal: str, group: str | None, currency: str | None, percent: bool) -> str:
    """The full-match shape of a number in this format (group 1 is the number itself)."""
    d = re.escape(decimal)
    if group is None:
        whole = "[0-9]+"
    else:
        whole = f"(?:[1-9][0-9]{{0,2}}(?:{_group_re(group)}[0-9]{{3}})+|[0-9]+)"
    body = f"({whole}(?:{d}[0-9]+)?)"
    pct = " ?%" if percent else ""
    if currency is None:
        forms = [f"[+-]?{body}{pct}", f"\\({body}{pct}\\)"]
    else:
        c = re.escape(currency)
        forms = [f"[+-]?(?:{c} ?)?[+-]?{body}{pct}", f"[+-]?{body}{pct}(?: ?{c})?",
                 f"\\((?:{c} ?)?{body}{pct}(?: ?{c})?\\)"]
    # Python and RE2 agree on alternation inside a group; two signs are refused in _clean.
    return "(?:" + "|".join(forms) + ")"


def number_pattern(fmt: Mapping[str, Any]) -> str:
    return number_regex(fmt["decimal"], fmt.get("group"), fmt.get("currency"),
                        bool(fmt.get("percent")))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def clean_number(text: str, decimal: str) -> str:
    """A matched number reduced to sign, digits and ``.`` (``profile`` does the same in SQL):
    every character but digits, signs and the decimal separator removed, ``(`` made ``-``."""
    negative = text.startswith("(") or text.count("-") == 1
    kept = "".join(ch for ch in text if ch.isascii() and (ch.isdigit() or ch == decimal))
    return ("-" if negative else "") + kept.replace(decimal, ".")


def canonical_number(value: str, fmt: Mapping[str, Any]) -> str | None:
    text = value.strip(PG_SPACE)
    if not _compiled(number_pattern(fmt)).fullmatch(text):
        return None
    if text.count("-") + text.count("+") > 1:
        return None  # "-$-5"
    return clean_number(text, fmt["decimal"])


def _number_uses(text: str, fmt: Mapping[str, Any]) -> set[str]:
    uses = set()
    group = fmt.get("group")
    if group is not None and re.search(f"[0-9]{_group_re(group)}[0-9]", text):
        uses.add("group")
    if re.search(f"[0-9]{re.escape(fmt['decimal'])}[0-9]", text):
        uses.add("decimal")
    if fmt.get("currency") and fmt["currency"] in text:
        uses.add("currency")
    return uses


# --- dates ------------------------------------------------------------------------------------

_TIME_RE = ("(?:[ T]([01]?[0-9]|2[0-3]):([0-5][0-9])"
            "(?::([0-5][0-9])(?:\\.([0-9]{1,6}))?)?(?: ?([AaPp][Mm]))?)?")
_MONTH_RE = ("((?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
             "aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?))")


@cache
def date_regex(order: str, separator: str, month: str, year_digits: int = 4) -> str:
    """The full-match shape: groups 1-3 the date parts in written order, 4-8 hour, minute,
    second, fraction, AM/PM."""
    s = re.escape(separator)
    part = {"y": f"([0-9]{{{year_digits}}})", "m": "([0-9]{1,2})", "d": "([0-9]{1,2})"}
    if month == "name":
        part["m"] = _MONTH_RE
        if order == "mdy":  # Jan 5, 2020
            return f"{part['m']} ([0-9]{{1,2}}),? ([0-9]{{4}}){_TIME_RE}"
    a, b, c = (part[k] for k in order)
    return f"{a}{s}{b}{s}{c}{_TIME_RE}"


def date_pattern(fmt: Mapping[str, Any]) -> str:
    return date_regex(fmt["order"], fmt["separator"], fmt["month"], fmt.get("year_digits", 4))


PIVOT = 69  # two-digit years: 69-99 are 1969-1999, 00-68 are 2000-2068 (POSIX strptime %y)


def full_year(text: str) -> int:
    """A year as written: four digits as they are, two by the POSIX pivot (``PIVOT``)."""
    year = int(text)
    if len(text) == 2:
        return year + (1900 if year >= PIVOT else 2000)
    return year


def month_number(text: str) -> int:
    return MONTHS.index(text[:3].lower()) + 1


def canonical_date(value: str, fmt: Mapping[str, Any]) -> str | None:
    text = value.strip(PG_SPACE)
    match = _compiled(date_pattern(fmt)).fullmatch(text)
    if not match:
        return None
    parts = dict(zip(fmt["order"], match.groups()[:3], strict=True))
    month = month_number(parts["m"]) if fmt["month"] == "name" else int(parts["m"])
    try:
        day = _dt.date(full_year(parts["y"]), month, int(parts["d"]))
    except ValueError:
        return None
    hour, minute, second, fraction, meridiem = match.groups()[3:]
    if hour is None:
        return day.isoformat()
    h = int(hour)
    if meridiem is not None:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if meridiem.lower() == "pm" else 0)
    clock = f"{h:02d}:{minute}:{second or '00'}"
    return f"{day.isoformat()} {clock}" + (f".{fraction}" if fraction else "")


def _date_uses(text: str, fmt: Mapping[str, Any]) -> set[str]:
    match = _compiled(date_pattern(fmt)).fullmatch(text.strip(PG_SPACE))
    uses: set[str] = set()
    if match is None:
        return uses
    if match.group(4) is not None:
        uses.add("time")
    if fmt["month"] == "number":
        for name, (i, j) in PAIRS.items():
            if int(match.group(i)) != int(match.group(j)):
                uses.add(name)
    return uses


# Pairs of date parts (by written position) that differ in some value: two formats that take
# a role from different positions read such a value differently.
PAIRS = {"parts12": (1, 2), "parts13": (1, 3), "parts23": (2, 3)}


# --- both ---------------------------------------------------------------------------------------

def canonical(value: str, fmt: Mapping[str, Any]) -> str | None:
    """The canonical text ``value`` means in ``fmt``, or None when it is not in the format."""
    if fmt["kind"] == "number":
        return canonical_number(value, fmt)
    return canonical_date(value, fmt)


def uses(value: str, fmt: Mapping[str, Any]) -> set[str]:
    """Which optional parts of ``fmt`` the (matching) value shows: number "group",
    "decimal", "currency"; date "time", ``PAIRS`` (two numeric date parts differ)."""
    if fmt["kind"] == "number":
        return _number_uses(value.strip(PG_SPACE), fmt)
    return _date_uses(value, fmt)


def pattern(fmt: Mapping[str, Any]) -> str:
    return number_pattern(fmt) if fmt["kind"] == "number" else date_pattern(fmt)


def key(fmt: Mapping[str, Any]) -> str:
    """A stable, readable name of a format (e.g. ``number decimal=, group=. currency=€``)."""
    if fmt["kind"] == "number":
        parts = [f"decimal={fmt['decimal']}"]
        if fmt.get("group") is not None:
            parts.append(f"group={fmt['group']}")
        if fmt.get("currency"):
            parts.append(f"currency={fmt['currency']}")
        if fmt.get("percent"):
            parts.append("percent")
        return "number " + " ".join(parts)
    short = " year=2" if fmt.get("year_digits") == 2 else ""
    return f"date {fmt['order']} separator={fmt['separator']!r} month={fmt['month']}{short}"


def number_format(decimal: str, group: str | None, currency: str | None, percent: bool) -> Format:
    return {"kind": "number", "decimal": decimal, "group": group, "currency": currency,
            "percent": percent}


def date_format(order: str, separator: str, month: str, year_digits: int = 4) -> Format:
    fmt: Format = {"kind": "date", "order": order, "separator": separator, "month": month}
    if year_digits == 2:
        fmt["year_digits"] = 2
    return fmt


_CURRENCY_RE = re.compile("|".join(re.escape(c) for c in sorted(CURRENCIES, key=len, reverse=True)))


def _number_candidates(values: Sequence[str]) -> list[Format]:
    texts = [v.strip(PG_SPACE) for v in values]
    if not texts or not all(any(ch.isdigit() for ch in t) for t in texts):
        return []
    percent = all(t.endswith("%") for t in texts)
    found = {m.group(0) for t in texts for m in _CURRENCY_RE.finditer(t)}
    if len(found) > 1:
        return []  # several currencies: not one number
    currency = next(iter(found), None)
    out = []
    for decimal in DECIMALS:
        for group in GROUPS:
            if group == decimal:
                continue
            if group is None and decimal == "." and currency is None and not percent:
                continue  # plain numbers: pgtypes' numeric
            out.append(number_format(decimal, group, currency, percent))
    return out


def _date_candidates(values: Sequence[str]) -> list[Format]:
    out = []
    for separator in DATE_SEPARATORS:
        for order in ("mdy", "dmy", "ymd"):
            if separator == " " and order != "ymd":
                continue
            out.append(date_format(order, separator, "number"))
            if separator != " ":
                out.append(date_format(order, separator, "number", 2))
        if separator != ".":
            out.append(date_format("dmy", separator, "name"))
    out.append(date_format("mdy", " ", "name"))
    return out


def propose(values: Iterable[str], delimiter: str | None = None) -> list[Format]:
    """Every format each of ``values`` (non-null, not all plain numbers or ISO dates) is in.

    In a comma-delimited file a lone comma in a number (``2,2``) is not taken for a decimal
    comma: files written with decimal commas use another delimiter (``;``, tab, ``|``), and
    there such a value is more often a list. A currency or a ``.`` thousands separator
    (``€3,50``, ``1.234,56``) is evidence enough.
    """
    texts = list(dict.fromkeys(values))
    if not texts:
        return []
    candidates = _number_candidates(texts) + _date_candidates(texts)
    if delimiter == ",":
        candidates = [f for f in candidates if not (
            f["kind"] == "number" and f["decimal"] == "," and f["group"] != "." and not f["currency"])]
    return [f for f in candidates if all(canonical(v, f) is not None for v in texts)]


def plausible(entry: Mapping[str, Any], delimiter: str) -> bool:
    """Whether a proven format entry is plausible in a file with ``delimiter``: in a
    comma-delimited file a decimal comma needs a ``.`` group or a currency some value shows
    (see ``propose``)."""
    fmt = entry["format"]
    if delimiter != "," or fmt["kind"] != "number" or fmt["decimal"] != ",":
        return True
    return "currency" in entry["uses"] or (fmt["group"] == "." and "group" in entry["uses"])


def _roles(fmt: Mapping[str, Any]) -> dict[str, str]:
    if fmt["kind"] != "number":
        return {}
    roles = {fmt["decimal"]: "decimal"}
    if fmt.get("group") is not None:
        roles[fmt["group"]] = "group"
    return roles


def _conflict(a: Mapping[str, Any], b: Mapping[str, Any], used_a: set[str], used_b: set[str]) -> bool:
    """Whether two formats, both matching every value, read some value differently."""
    if a["kind"] == "date":
        if a["month"] != "number" or b["month"] != "number" or a["separator"] != b["separator"]:
            return False  # different shapes: no value matches both
        for role in "ymd":
            i, j = sorted((a["order"].index(role) + 1, b["order"].index(role) + 1))
            if i != j and f"parts{i}{j}" in used_a:
                return True
        return False
    ra, rb = _roles(a), _roles(b)
    present = {ch for ch, role in ra.items() if role in used_a} | \
              {ch for ch, role in rb.items() if role in used_b}
    return any(ra.get(ch) != rb.get(ch) for ch in present)


def choose(entries: Sequence[Mapping[str, Any]], kind: str) -> tuple[Format | None, str | None]:
    """(format, None) when the whole-file proofs in ``entries`` settle one format of ``kind``;
    (None, why) when proven formats contradict each other; (None, None) when none is proven.

    An entry is ``{"format": ..., "failures": n, "uses": [...]}`` (sample.json's ``formats``).
    Formats proven on every value that read no value differently are equivalent: the first
    is taken, its unused group separator dropped (it never occurs).
    """
    proven = [e for e in entries if e["format"]["kind"] == kind and e["failures"] == 0]
    if not proven:
        return None, None
    for i, a in enumerate(proven):
        for b in proven[i + 1:]:
            if _conflict(a["format"], b["format"], set(a["uses"]), set(b["uses"])):
                if kind == "date":
                    return None, ("two orders of day, month and year read every value as a date "
                                  "and they disagree on some: kept as text, not guessed")
                return None, ("',' or '.' reads as a thousands separator or as a decimal "
                              "separator alike: kept as text, not guessed")
    best = dict(proven[0]["format"])
    if best["kind"] == "number" and "group" not in proven[0]["uses"]:
        best["group"] = None
    return best, None


def describe(fmt: Mapping[str, Any]) -> str:
    """How a format reads, for a column's reason (no counts, no values)."""
    if fmt["kind"] == "date":
        order = "/".join({"y": "year", "m": "month", "d": "day"}[k] for k in fmt["order"])
        if fmt["month"] == "name":
            return f"{order} with the month's name, separated by {fmt['separator']!r}"
        proof = (" (values with a day above 12 settle the order)"
                 if fmt["order"] in ("mdy", "dmy") else "")
        short = (f", two-digit years read as {1900 + PIVOT}-{2000 + PIVOT - 1}"
                 if fmt.get("year_digits") == 2 else "")
        return f"{order} separated by {fmt['separator']!r}{proof}{short}"
    parts = [f"decimal separator {fmt['decimal']!r}"]
    if fmt.get("group") is not None:
        parts.append(f"thousands separator {fmt['group']!r}")
    if fmt.get("currency"):
        parts.append(f"currency {fmt['currency']!r} dropped")
    if fmt.get("percent"):
        parts.append("'%' dropped (12.5% loads as 12.5)")
    return ", ".join(parts)
