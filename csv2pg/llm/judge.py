"""Each LLM suggestion judged against the profile: the LLM proposes, the data disposes.

``judge(profile, heuristic, suggestion, model)`` decides one column. A suggestion is
rejected, with a reason, and the heuristic choice stands when:

- there is none for the column (the answer left it out), or its confidence is low;
- it narrows the heuristic's integer type (an identifier's bigint leaves room for new rows);
- its type is not one PostgreSQL has (or not one csv2pg writes: real, money, interval...);
- the data contradicts it: the profile saw a non-null value fail to parse as it, a value
  longer than char(n)/varchar(n), more digits or decimals than numeric(p,s), values of other
  lengths than char(n) (which would pad them), or leading zeros a number would drop.

A suggestion of the heuristic's own type confirms it (that type is proven already, by a
candidate or a rewritten format). An accepted suggestion decides or confirms the type
(``source: llm``) and its comment is kept. Pure functions of their arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from csv2pg.artifacts import validator
from csv2pg.llm.prompt import confidence_value

MIN_CONFIDENCE = 0.5   # below this ("low") a suggestion does not override the heuristic
MAX_COMMENT = 200      # characters of a comment kept
MAX_REASONING = 160

_ALIASES = {
    "int": "integer", "int4": "integer", "serial": "integer", "int2": "smallint", "smallserial": "smallint",
    "int8": "bigint", "bigserial": "bigint", "float8": "double precision", "float": "double precision",
    "double": "double precision", "float4": "real", "bool": "boolean", "decimal": "numeric",
    "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz",
    "time without time zone": "time", "character varying": "text", "varchar": "text", "string": "text",
}
_SIZED = re.compile(r"^(numeric|decimal|varchar|character varying|char|character)\s*"
                    r"\(\s*([0-9]+)\s*(?:,\s*([0-9]+)\s*)?\)$")
_SIZED_NAMES = {"decimal": "numeric", "character varying": "varchar", "character": "char"}
# Types the profile tests under another candidate's name.
_PROVEN_AS = {"json": "jsonb"}
_NUMBERS = ("smallint", "integer", "bigint", "numeric", "double precision")
# Types PostgreSQL has but csv2pg does not choose from a suggestion, and why.
_NOT_CHOSEN = {
    "real": "real keeps 6 significant digits and would round values; double precision keeps them",
    "money": "money depends on the database's lc_monetary setting",
    "interval": "the profile does not test interval values",
    "macaddr": "the profile does not test macaddr values",
    "bytea": "the profile does not test bytea values",
    "time with time zone": "timetz is not recommended by PostgreSQL",
}


@cache
def _type_pattern() -> re.Pattern[str]:
    schema: dict[str, Any] = dict(validator("types").schema)  # type: ignore[arg-type]
    return re.compile(schema["properties"]["columns"]["items"]["properties"]["type"]["pattern"])


def normalize_type(spelling: str) -> str:
    """A type as csv2pg spells it (``int4`` → integer, ``decimal(10,2)`` → numeric(10,2))."""
    text = " ".join(spelling.strip().lower().split())
    sized = _SIZED.match(text)
    if sized:
        base = _SIZED_NAMES.get(sized.group(1), sized.group(1))
        return f"{base}({sized.group(2)}{',' + sized.group(3) if sized.group(3) else ''})"
    return _ALIASES.get(text, text)


@dataclass(frozen=True)
class Judgement:
    """One column's outcome: which choice won and why; the accepted type and comment."""

    winner: str                      # "llm" or "heuristic"
    why: str
    type: str | None = None          # the accepted type (None: the heuristic's stands)
    confidence: float | None = None
    comment: str | None = None


def contradiction(profile: Mapping[str, Any], pg_type: str) -> str | None:
    """Why the column's data refutes ``pg_type`` (None: every value fits it)."""
    if pg_type in _NOT_CHOSEN:
        return _NOT_CHOSEN[pg_type]
    if not _type_pattern().fullmatch(pg_type):
        return f"{pg_type!r} is not a PostgreSQL type csv2pg knows"
    non_null = int(profile["non_null"])
    sized = _SIZED.match(pg_type)
    base = sized.group(1) if sized else pg_type
    if non_null == 0:
        return None if base in ("text", "varchar", "char") else "the column has no non-null values"
    if base in ("char", "varchar"):
        assert sized is not None
        size = int(sized.group(2))
        if int(profile["max_length"] or 0) > size:
            return f"a value has {profile['max_length']} characters, more than {pg_type} holds"
        if base == "char" and int(profile["min_length"] or 0) != size:
            return f"some values are shorter than {size} characters and {pg_type} would pad them"
        return None
    if base == "text":
        return None
    if base in _NUMBERS and profile.get("leading_zeros"):
        return f"values have leading zeros that {base} would drop"
    if base == "boolean" and _digit_boolean(profile):
        return None
    candidate = profile["candidates"].get(_PROVEN_AS.get(base, base))
    if candidate is None:
        return f"the profile does not test {base} values"
    failures = int(candidate["failures"])
    if failures:
        examples = candidate.get("examples") or []
        shown = f" (line {examples[0]['line']}: {examples[0]['value']!r})" if examples else ""
        return f"{failures} value(s) are not {base}{shown}"
    if base == "numeric" and sized is not None:
        precision, scale = int(sized.group(2)), int(sized.group(3) or 0)
        if profile.get("exponent_values"):
            return f"values in exponent notation may not fit {pg_type}"
        if int(profile.get("max_scale") or 0) > scale:
            return f"values have {profile['max_scale']} decimals and {pg_type} keeps {scale}"
        if int(profile.get("max_integer_digits") or 0) > precision - scale:
            return f"values have {profile['max_integer_digits']} digits before the point, more than {pg_type} holds"
    return None


def _digit_boolean(profile: Mapping[str, Any]) -> bool:
    """0/1 columns: PostgreSQL's boolean reads '0' and '1' (infer.rule_boolean_digits)."""
    return (int(profile["candidates"]["smallint"]["failures"]) == 0 and profile.get("max_length") == 1
            and profile.get("integer_min") is not None and int(profile["integer_min"]) >= 0
            and int(profile["integer_max"]) <= 1)


_COMMENT_UNSAFE = re.compile(r"[\x00-\x1f\x7f$\\{}]")


def clean_comment(text: Any) -> str:
    """A comment fit for ``COMMENT ON COLUMN`` inside a pgloader file: one line, at most
    MAX_COMMENT characters, no ``$`` (pgloader's $$ quoting), braces (its templating) or
    backslashes."""
    return _one_line(_COMMENT_UNSAFE.sub(" ", str(text or "")), MAX_COMMENT)


def _one_line(text: Any, limit: int) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def judge(profile: Mapping[str, Any], heuristic: Mapping[str, Any], suggestion: Mapping[str, Any] | None,
          model: str) -> Judgement:
    """Whether ``suggestion`` (an answer entry) replaces or confirms the heuristic choice."""
    if suggestion is None:
        return Judgement("heuristic", "the answer has no entry for this column")
    spelled = str(suggestion["postgresql_type"])
    pg_type = normalize_type(spelled)
    confidence = confidence_value(suggestion["confidence"])
    comment = clean_comment(suggestion.get("comment")) or None
    # The heuristic's own type is proven already (by a candidate or a rewritten format).
    refuted = None if pg_type == heuristic["type"] else contradiction(profile, pg_type)
    integers = ("smallint", "integer", "bigint")
    if (refuted is None and pg_type in integers and heuristic["type"] in integers
            and integers.index(pg_type) < integers.index(heuristic["type"])):
        refuted = f"narrower than {heuristic['type']}, which the heuristic chose to leave room for new rows"
    if refuted is not None:
        return Judgement("heuristic", f"{model} suggested {spelled}: rejected, {refuted}")
    if confidence < MIN_CONFIDENCE and pg_type != heuristic["type"]:
        return Judgement("heuristic", f"{model} suggested {spelled} with low confidence: not enough to change the type",
                         comment=comment)
    if pg_type == heuristic["type"]:
        return Judgement("llm", f"{model} confirmed {pg_type}", pg_type,
                         max(float(heuristic["confidence"]), min(confidence, 1.0)), comment)
    reasoning = _one_line(suggestion.get("reasoning"), MAX_REASONING)
    why = f"{model} suggested {pg_type} and every value fits it" + (f": {reasoning}" if reasoning else "")
    return Judgement("llm", why, pg_type, min(confidence, 1.0), comment)


Retype = Callable[[Mapping[str, Any], str, float, str], dict[str, Any]]


def apply_advice(profiles: Sequence[Mapping[str, Any]], heuristic: Sequence[Mapping[str, Any]],
                 provider: str, model: str, outcome: str, error: str | None,
                 suggestions: Sequence[Mapping[str, Any]], retype: Retype) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A chunk's columns after judging each suggestion, and the record of it all.

    ``profiles`` and ``heuristic`` are the chunk's columns in the same order; ``retype(profile,
    type, confidence, reason)`` makes the column entry for an accepted type (infer's null-token
    and nullability rules). The record is chunk_N.types.json's ``llm`` member: per column the
    heuristic choice, the suggestion, the winner and why; answer entries naming no column of
    the chunk; the outcome and the provider's error.
    """
    by_name: dict[str, Mapping[str, Any]] = {}
    known = {str(p["column"]) for p in profiles} | {str(p["name"]) for p in profiles}
    unknown: list[dict[str, Any]] = []
    for answered in suggestions:
        name = str(answered["column_name"])
        if name not in known:
            unknown.append({"column_name": name, "why": "the chunk has no such column: ignored"})
            continue
        by_name.setdefault(name, answered)
    columns: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for profile, entry in zip(profiles, heuristic, strict=True):
        suggestion = by_name.get(str(profile["column"])) or by_name.get(str(profile["name"]))
        if outcome != "answered":
            verdict = Judgement("heuristic", "no answer from the model")
        else:
            verdict = judge(profile, entry, suggestion, model)
        column = dict(entry)
        if verdict.winner == "llm" and verdict.type is not None and verdict.confidence is not None:
            if verdict.type == entry["type"]:
                reason = f"{entry['reason']}; confirmed by {model}"
                confidence = verdict.confidence
            else:
                reason = f"chosen by {model} for what the column means; every non-null value fits {verdict.type}"
                confidence = verdict.confidence
            column = retype(profile, verdict.type, round(confidence, 3), reason)
            column["source"] = "llm"
            if verdict.comment:
                column["comment"] = verdict.comment
        columns.append(column)
        records.append({
            "column": profile["column"],
            "heuristic": entry["type"],
            "suggestion": None if suggestion is None else {
                "type": str(suggestion["postgresql_type"]),
                "nullable": bool(suggestion["nullable"]),
                "confidence": confidence_value(suggestion["confidence"]),
                "reasoning": _one_line(suggestion.get("reasoning"), MAX_REASONING),
                "comment": clean_comment(suggestion.get("comment")),
            },
            "winner": verdict.winner,
            "why": verdict.why,
        })
    record = {"provider": provider, "model": model, "outcome": outcome, "error": error,
              "columns": records, "unknown_columns": unknown}
    return columns, record
