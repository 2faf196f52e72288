"""Step ``infer:T:chunk_N``: heuristic type decisions for one chunk of sample.json's columns.

Contract: ``build_chunk_types(table, sample, chunk)`` reads only its arguments (no file, no
clock, no environment) and returns the ``columns`` list of chunk_N.types.json for the
columns ``chunk_plan`` puts in chunk N (at most ``chunk_size``, related columns together:
``csv2pg.chunks``). Decisions are proven over the whole file: a type is chosen only when the
profile saw no non-null value fail to parse as it (see ``pgtypes``).

Decision: the rules in ``RULES`` are tried in order; each is a small pure function
``(profile, column name) -> Verdict | None`` and the first verdict wins; text is the
fallback. Null tokens: empty values are always NULL; the configured tokens
(``table.null_tokens``) are NULL in every column; the default tokens
(``table.default_null_tokens``) are NULL only in a column that then gets a non-text type
(``NA`` among numbers is NULL, ``NA`` among country codes is Namibia), and in a column of
nothing but tokens (missing data, not data). The profile counted every token apart from the
values, so the same profile serves both readings; the tokens listed for a non-text column
are all the configured and default ones, seen or not, so appended rows may use any of them.

Confidence (0..1) says how strongly the evidence supports the decision:

- a type every value parses as: ``support(n)`` for n non-null values, 0.6 for one value
  rising to 1.0 at 100 or more (the proof is complete, but few values prove little about
  the rows still to come);
- identifier-like names widened to bigint: 0.95 x support; 0/1 read as boolean because the
  name asks a yes/no question (``is_*``, ``has_*``, ``*_flag``, ``active``...): 0.9 x support,
  as the name is the only evidence that the digits are not counts; codes with leading
  zeros: 0.95;
  numbers kept as text because the name says postal or FIPS code: 0.9;
- text because values of several kinds occur: 0.9; text although all but a few values
  parse as one type (maybe dirty data worth a look): 0.6; no non-null values at all: 0.5.

Reasons are one line, name the evidence and never contain counts or example values, so a
committed schema does not change when rows are appended unless a decision does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from csv2pg import formats, pgtypes
from csv2pg.chunks import plan_chunks
from csv2pg.llm.advisor import Advisor
from csv2pg.llm.base import LlmError
from csv2pg.llm.judge import apply_advice
from csv2pg.settings import TableSettings

Profile = Mapping[str, Any]


@dataclass(frozen=True)
class Verdict:
    """A rule's decision for one column."""

    type: str
    confidence: float
    reason: str


Rule = Callable[[Profile, str], "Verdict | None"]

MOSTLY = 0.95  # share of values of one type above which a text column is "mostly" that type
_ID_NAME = re.compile(r"(?:^id$|_id$|^id_)")
# Postal and FIPS codes: digits that are labels, not quantities, even where no value has kept
# its leading zeros (Kansas FIPS 20001, New York ZIP 11207, ZIPs exported as '10009.0').
_CODE_NAME = re.compile(r"(?:^|_)(?:zip|zipcode|postcode|postal|fips)(?:_|$)")
# Names of yes/no facts (snake_case identifiers): a question prefix, a flag suffix, or a
# state word as the whole name or its last word (``is_active``, ``fraud_flag``, ``deleted``,
# ``account_enabled``). A bare ``flag`` is not enough: it is as often a code as a yes/no.
_BOOLEAN_NAME = re.compile(
    r"(?:^(?:is|has|have|was|were|can|should|does|did|allow|allows|uses|needs)_.)"
    r"|(?:_(?:flag|bool|boolean|yn)$)"
    r"|(?:(?:^|_)(?:active|inactive|enabled|disabled|deleted|archived|visible|hidden|verified|"
    r"valid|approved|published|completed|locked|blocked|subscribed|cancelled|canceled|"
    r"churned|default|removed|resolved)$)")


def support(non_null: int) -> float:
    """Confidence in a complete proof over ``non_null`` values: 0.6 at 1, 1.0 from 100."""
    if non_null <= 0:
        return 0.0
    return round(min(1.0, 0.6 + 0.2 * math.log10(non_null)), 3)


def passes(profile: Profile, type_name: str) -> bool:
    """Whether every non-null value of the column parses as ``type_name``."""
    return int(profile["candidates"][type_name]["failures"]) == 0


def is_identifier_name(column: str) -> bool:
    """``id``, ``*_id`` or ``id_*`` (identifiers are snake_case: ``userId`` is ``user_id``)."""
    return bool(_ID_NAME.search(column))


def is_code_name(column: str) -> bool:
    """A postal or FIPS code by name: ``zip``, ``incident_zip``, ``postal_code``, ``state_fips_code``."""
    return bool(_CODE_NAME.search(column))


def is_boolean_name(column: str) -> bool:
    """A yes/no fact by name: ``is_active``, ``has_children``, ``fraud_flag``, ``enabled``."""
    return bool(_BOOLEAN_NAME.search(column))


def _proven(profile: Profile, type_name: str, reason: str, factor: float = 1.0) -> Verdict:
    return Verdict(type_name, round(factor * support(int(profile["non_null"])), 3), reason)


# --- rules, in order -------------------------------------------------------------------------

def rule_no_values(profile: Profile, column: str) -> Verdict | None:
    if profile["non_null"] == 0:
        return Verdict("text", 0.5, "no non-null values")
    return None


def rule_leading_zeros(profile: Profile, column: str) -> Verdict | None:
    if profile["leading_zeros"] > 0 and passes(profile, "numeric"):
        return Verdict("text", 0.95, "leading zeros: digit codes stay text")
    return None


def rule_code_name(profile: Profile, column: str) -> Verdict | None:
    if is_code_name(column) and passes(profile, "numeric"):
        return Verdict("text", 0.9, "postal or FIPS code by name: digit codes stay text")
    return None


def rule_boolean(profile: Profile, column: str) -> Verdict | None:
    if passes(profile, "boolean"):
        return _proven(profile, "boolean",
                       "every non-null value is a yes/no spelling (true/false, t/f, yes/no, y/n)")
    return None


def rule_boolean_digits(profile: Profile, column: str) -> Verdict | None:
    """0/1 as boolean when the name is a yes/no fact; PostgreSQL's boolean reads '0' and '1'.

    Every value is one character (so no ``+1``, ``01`` or blanks, which boolean refuses) and
    an integer from 0 to 1.
    """
    if (is_boolean_name(column) and passes(profile, "smallint") and profile.get("max_length") == 1
            and int(profile["integer_min"]) >= 0 and int(profile["integer_max"]) <= 1):
        return _proven(profile, "boolean",
                       "every non-null value is 0 or 1 and the name is a yes/no fact", 0.9)
    return None


def rule_identifier(profile: Profile, column: str) -> Verdict | None:
    if is_identifier_name(column) and passes(profile, "bigint"):
        return _proven(profile, "bigint",
                       "every non-null value parses as integer; identifier-like name gets bigint",
                       0.95)
    return None


def rule_integer(profile: Profile, column: str) -> Verdict | None:
    for type_name in pgtypes.INTEGER_TYPES:
        if passes(profile, type_name):
            return _proven(profile, type_name,
                           f"every non-null value parses as integer; range fits {type_name}")
    return None


def rule_numeric(profile: Profile, column: str) -> Verdict | None:
    if passes(profile, "numeric") and not profile.get("exponent_values"):
        reason = ("every non-null value is an integer; some are beyond bigint, so numeric"
                  if profile.get("max_scale") == 0
                  else "every non-null value is a decimal number; numeric keeps them exact")
        return _proven(profile, "numeric", reason)
    return None


def rule_double(profile: Profile, column: str) -> Verdict | None:
    if passes(profile, "double precision"):
        return _proven(profile, "double precision",
                       "every non-null value parses as double precision; exponent notation or infinity occurs")
    return None


def _simple(type_name: str, reason: str) -> Rule:
    def rule(profile: Profile, column: str) -> Verdict | None:
        return _proven(profile, type_name, reason) if passes(profile, type_name) else None
    rule.__name__ = f"rule_{type_name}"
    return rule


rule_date = _simple("date", "every non-null value is an ISO date (YYYY-MM-DD)")
rule_timestamp = _simple(
    "timestamp", "every non-null value is an ISO date or date and time without a time zone")
rule_timestamptz = _simple(
    "timestamptz", "every non-null value is an ISO date and time with a time zone")
rule_time = _simple("time", "every non-null value is a time of day (HH:MM[:SS])")
rule_uuid = _simple("uuid", "every non-null value is a UUID")
rule_cidr = _simple(
    "cidr", "every non-null value is an IP network: a prefix length and no bit set right of it")
rule_inet = _simple(
    "inet", "every non-null value is an IPv4 or IPv6 address, with or without a prefix length")
rule_jsonb = _simple("jsonb", "every non-null value is a JSON object or array")


def rule_number_format(profile: Profile, column: str) -> Verdict | None:
    """Numbers with thousands separators, decimal commas, currency or percent signs, proven
    on every value (sample.json ``formats``; ``formats.choose``). The schema step records
    the transform that rewrites them. Integers by range (identifiers bigint), else numeric
    (always for money and percentages);
    confidence 0.95 x support (a rewrite stands between the text and the number). Two
    proven readings that disagree (``1,234``: a thousand or 1.234) keep the column text, and
    so do codes (leading zeros, postal/FIPS names: ``036``, ``978,977`` is a list)."""
    if profile.get("leading_zeros") or is_code_name(column):
        return None
    fmt, why = formats.choose(profile.get("formats", ()), "number")
    if why is not None:
        return Verdict("text", 0.8, why)
    if fmt is None:
        return None
    entry = next(e for e in profile["formats"] if e["format"]["kind"] == "number" and e["failures"] == 0)
    low, high = entry.get("integer_min"), entry.get("integer_max")
    type_name = "numeric"  # money and percentages stay numeric even when all are whole
    whole = not (fmt["currency"] or fmt["percent"] or "decimal" in entry["uses"])
    if whole and low is not None and high is not None:
        fits = [t for t in pgtypes.INTEGER_TYPES
                if pgtypes.INTEGER_RANGES[t][0] <= int(low) and int(high) <= pgtypes.INTEGER_RANGES[t][1]]
        if fits:
            type_name = "bigint" if is_identifier_name(column) else fits[0]
    return _proven(profile, type_name, f"every non-null value is a number written with "
                   f"{formats.describe(fmt)}; rewritten as plain numbers → {type_name}", 0.95)


def rule_date_format(profile: Profile, column: str) -> Verdict | None:
    """Non-ISO dates (m/d/Y, d/m/Y, d.m.Y, Y/m/d, d-Mon-Y, with or without a time) proven on
    every value; day/month order only from the data (a day above 12), never guessed."""
    fmt, why = formats.choose(profile.get("formats", ()), "date")
    if why is not None:
        return Verdict("text", 0.8, why)
    if fmt is None:
        return None
    entry = next(e for e in profile["formats"] if e["format"]["kind"] == "date" and e["failures"] == 0)
    type_name = "timestamp" if "time" in entry["uses"] else "date"
    return _proven(profile, type_name, f"every non-null value is a date written "
                   f"{formats.describe(fmt)}; rewritten as ISO → {type_name}", 0.95)


RULES: tuple[Rule, ...] = (
    rule_no_values, rule_leading_zeros, rule_code_name, rule_boolean, rule_boolean_digits,
    rule_identifier, rule_integer, rule_numeric, rule_double, rule_date, rule_timestamp,
    rule_timestamptz, rule_time, rule_uuid, rule_cidr, rule_inet, rule_jsonb,
    rule_number_format, rule_date_format,
)


def text_fallback(profile: Profile, column: str) -> Verdict:
    """Text, saying whether the values were nearly all of one type (worth a look) or mixed."""
    non_null = int(profile["non_null"])
    best = min(pgtypes.CANDIDATES, key=lambda t: int(profile["candidates"][t]["failures"]))
    parsed = non_null - int(profile["candidates"][best]["failures"])
    if non_null >= 20 and parsed >= MOSTLY * non_null:
        return Verdict("text", 0.6, f"mostly {best} but some values are not: kept as text")
    return Verdict("text", 0.9, "no candidate type accepts every non-null value")


def decide(profile: Profile, column: str, rules: tuple[Rule, ...] = RULES) -> Verdict:
    """The first verdict of ``rules`` for the column, else the text fallback."""
    for rule in rules:
        verdict = rule(profile, column)
        if verdict is not None:
            return verdict
    return text_fallback(profile, column)


# --- null tokens and the column record ---------------------------------------------------------

def column_types(table: TableSettings, profile: Profile, rows: int,
                 verdict: Verdict | None = None) -> dict[str, Any]:
    """The chunk_N.types.json entry for one profiled column (``verdict``: a decision made
    elsewhere, an accepted LLM suggestion; null tokens and nullability follow it)."""
    configured = frozenset(table.null_tokens) - {""}
    defaults = frozenset(table.default_null_tokens) - configured - {""}
    column = str(profile["column"])
    # The profile kept every token apart, so this decides with the default tokens as NULL.
    verdict = verdict or decide(profile, column)
    applied = configured | defaults
    if verdict.type == "text" and profile["non_null"] > 0:
        # In a text column the default tokens are data ("NA" among country codes); they
        # parse as no candidate, so the decision and its reason stand. A column of nothing
        # but tokens keeps them as NULL: all-"NA" is missing data, not Namibia.
        applied = configured
    null_counts = profile["null_tokens"]
    nullable = rows == 0 or profile["empty"] > 0 or any(null_counts.get(t) for t in applied)
    return {
        "header": profile["name"],
        "column": column,
        "type": verdict.type,
        "nullable": bool(nullable),
        "confidence": verdict.confidence,
        "reason": verdict.reason,
        "source": "heuristic",
        "null_tokens": sorted(applied),
    }


def chunk_plan(table: TableSettings, columns: list[str]) -> list[list[int]]:
    """The column indexes of each ``infer:T:chunk_N`` step of ``table``."""
    return plan_chunks(columns, max(1, table.chunk_size))


def build_chunk_types(table: TableSettings, sample: dict[str, Any], chunk: int) -> list[dict[str, Any]]:
    """The ``columns`` of chunk_N.types.json: one decision per column of chunk ``chunk``."""
    profiles = sample["columns"]
    plan = chunk_plan(table, [p["column"] for p in profiles])
    if not 0 <= chunk < len(plan):
        raise ValueError(f"chunk {chunk} is out of range: {len(profiles)} columns make {len(plan)} chunks")
    rows = int(sample["rows"])
    return [column_types(table, profiles[i], rows) for i in plan[chunk]]


# --- the LLM step (inference = "llm") ----------------------------------------------------------

def build_advised_chunk_types(table: TableSettings, sample: dict[str, Any], chunk: int,
                              advisor: Advisor, memo_key: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Chunk ``chunk``'s columns with the LLM's suggestions the data allows, and the record of
    the advice (chunk_N.types.json's ``llm``). The heuristic decision is made first and stands
    wherever a suggestion is missing or refuted (``csv2pg.llm.judge``). A failed provider
    leaves every column heuristic, or raises LlmError when ``llm.required``."""
    profiles = sample["columns"]
    plan = chunk_plan(table, [p["column"] for p in profiles])
    every_chunk = [build_chunk_types(table, sample, c) for c in range(len(plan))]
    heuristic = every_chunk[chunk]
    advice = advisor.table_advice(table, plan, profiles, every_chunk, memo_key)[chunk]
    if advice.outcome != "answered" and table.llm.required:
        raise LlmError(f"the LLM provider {advice.provider} (model {advice.model}) failed for chunk_{chunk}: "
                       f"{advice.error}", table=table.name,
                       hint="fix the cause, or set llm.required = false to fall back to heuristics")
    rows = int(sample["rows"])

    def retype(profile: Profile, pg_type: str, confidence: float, reason: str) -> dict[str, Any]:
        # char(n)/varchar(n) follow text's null-token rule ("NA" among country codes is data).
        text_like = pg_type == "text" or pg_type.startswith(("char(", "varchar("))
        entry = column_types(table, profile, rows, Verdict("text" if text_like else pg_type, confidence, reason))
        entry["type"] = pg_type
        return entry

    return apply_advice([profiles[i] for i in plan[chunk]], heuristic, advice.provider, advice.model,
                        advice.outcome, advice.error, advice.suggestions, retype)
