"""The request for one chunk of columns, and the answer's shape.

The prompt follows the plan (seed/PLAN.md 3.1): column names, statistics from the profile
and representative values; per column the model answers ``column_name``,
``postgresql_type``, ``nullable``, ``confidence`` ("high"/"medium"/"low" or 0..1),
``reasoning`` and ``comment``. The statistics sent are the ones that do not move with every
appended row (the types every value parses as, the null share rounded to a tenth, lengths,
decimal scale, leading zeros), so appending data does not change the request and the cached
answer still applies. ``send_values = false`` sends names and those type-level statistics
only; ``redact = true`` masks values that look like emails, phone numbers or long digit runs.

Pure functions of their arguments: no file, clock or environment reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator

from csv2pg.llm.base import LlmRequest
from csv2pg.settings import LlmSettings

MAX_VALUES = 10          # representative values sent per column
MAX_VALUE_LENGTH = 80    # characters of one value sent

SYSTEM = (
    "You are a database schema expert. You map CSV columns to PostgreSQL column types and "
    "write a short comment saying what each column means. Answer in JSON only."
)

INSTRUCTIONS = """\
Analyze these CSV columns and suggest the best PostgreSQL data type for each one.

For every column, `types_every_value_parses_as` lists the types that every non-null value
of the whole file parses as, and `heuristic_type` is what csv2pg's rules chose from the
values alone (it also rewrites numbers with thousands separators and non-ISO dates before
loading). Choose one of those types, or text (or char(n)/varchar(n) when the meaning says
so); keep `heuristic_type` unless the column's meaning calls for another type. Consider what the column means, not only what its values look like: a
ZIP or postal code, a phone number or an identifier with leading zeros is text even when it
is made of digits; an ISO 3166 alpha-2 country code is char(2); consider integer vs bigint,
numeric precision, timestamp with or without time zone.

Return one entry per column, with the column's `column` value as column_name:
{"columns": [{"column_name": "...", "postgresql_type": "...", "nullable": true,
  "confidence": "high" | "medium" | "low", "reasoning": "one sentence",
  "comment": "what the column holds, in a few words"}]}

Columns (JSON):
"""

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["columns"],
    "properties": {
        "columns": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["column_name", "postgresql_type", "nullable", "confidence", "reasoning"],
                "properties": {
                    "column_name": {"type": "string"},
                    "postgresql_type": {"type": "string"},
                    "nullable": {"type": "boolean"},
                    "confidence": {"anyOf": [{"type": "string", "enum": ["high", "medium", "low"]},
                                             {"type": "number", "minimum": 0, "maximum": 1}]},
                    "reasoning": {"type": "string"},
                    "comment": {"type": "string"},
                },
            },
        },
    },
}

_VALIDATOR = Draft202012Validator(ANSWER_SCHEMA)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^\s*\+?[0-9()][0-9 ()./-]{5,}[0-9]\s*$")
_LONG_DIGITS = re.compile(r"[0-9]{9,}")
_NOT_PHONE = re.compile(r"^\s*(?:[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}(?:[ T].*)?|[+-]?[0-9]*\.?[0-9]+)\s*$")


class AnswerError(Exception):
    """An answer that is not JSON of the expected shape (the chunk keeps its heuristics)."""


def redact_value(value: str) -> str:
    """Emails → ``<email>``, phone-like values → ``<phone>``, 9+ digit runs → ``#`` x n."""
    value = _EMAIL.sub("<email>", value)
    if (_PHONE.match(value) and not _NOT_PHONE.match(value) and len(re.sub(r"[^0-9]", "", value)) >= 7
            and re.search(r"[ ()./+-]", value.strip())):
        return "<phone>"
    return _LONG_DIGITS.sub(lambda m: "#" * len(m.group(0)), value)


def proven_types(profile: Mapping[str, Any]) -> list[str]:
    """The candidate types no non-null value of the column failed (none for an empty column)."""
    if int(profile["non_null"]) == 0:
        return []
    return [name for name, c in profile["candidates"].items() if int(c["failures"]) == 0]


def column_brief(profile: Mapping[str, Any], settings: LlmSettings,
                 heuristic_type: str | None = None) -> dict[str, Any]:
    """What the model is told about one column (and the heuristic's choice for it)."""
    non_null = int(profile["non_null"])
    nulls = int(profile["empty"]) + sum(int(n) for n in profile["null_tokens"].values())
    total = non_null + nulls
    brief: dict[str, Any] = {
        "column": profile["column"],
        "header": profile["name"],
        "types_every_value_parses_as": proven_types(profile),
        "heuristic_type": heuristic_type,
        "null_share": round(nulls / total, 1) if total else None,
        "has_values": non_null > 0,
        "min_length": profile.get("min_length"),
        "max_length": profile.get("max_length"),
        "max_decimal_scale": profile.get("max_scale"),
        "leading_zeros": bool(profile.get("leading_zeros")),
    }
    if settings.send_values:
        values = [str(v)[:MAX_VALUE_LENGTH] for v in profile.get("values", [])[:MAX_VALUES]]
        brief["values"] = [redact_value(v) for v in values] if settings.redact else values
    return brief


def build_request(profiles: Sequence[Mapping[str, Any]], settings: LlmSettings,
                  heuristic_types: Sequence[str] | None = None) -> LlmRequest:
    """The request for one chunk: its columns' briefs inside the plan's instructions."""
    types: Sequence[str | None] = heuristic_types or [None] * len(profiles)
    briefs = [column_brief(p, settings, t) for p, t in zip(profiles, types, strict=True)]
    text = INSTRUCTIONS + json.dumps(briefs, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    return LlmRequest(SYSTEM, text, ANSWER_SCHEMA)


def parse_answer(text: str) -> list[dict[str, Any]]:
    """The validated ``columns`` of an answer, or AnswerError saying what is wrong."""
    cleaned = text.strip()
    if cleaned.startswith("```"):  # some local models wrap JSON in a code fence
        cleaned = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", cleaned)
    if not cleaned:
        raise AnswerError("the answer is empty")
    try:
        data = json.loads(cleaned)
    except json.JSONDecodeError as error:
        raise AnswerError(f"the answer is not JSON ({error.msg} at character {error.pos})") from None
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "the answer"
        raise AnswerError(f"the answer does not have the expected shape: {where}: {errors[0].message}")
    return [dict(c) for c in data["columns"]]


def confidence_value(confidence: Any) -> float:
    """"high"/"medium"/"low" or a number → 0..1."""
    if isinstance(confidence, str):
        return {"high": 0.9, "medium": 0.7, "low": 0.4}[confidence]
    return round(float(confidence), 3)
