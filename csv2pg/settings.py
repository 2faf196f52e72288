"""Frozen, resolved settings: what the manifest, environment and flags add up to.

``manifest.py`` builds these; every other module receives them explicitly. They hold plain
values only (no tomlkit objects) and never a secret: a database URL with a password is kept
as given by the user and redacted by ``db.py`` wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_NULL_TOKENS: tuple[str, ...] = ("NA", "N/A", "null", "NULL", "-", "#NULL!")
DEFAULT_CHUNK_SIZE = 20
DEFAULT_SAMPLE_ROWS = 20
INFERENCE_MODES = ("heuristic", "llm")
ENGINES = ("pgloader", "copy")


@dataclass(frozen=True)
class DialectOverrides:
    """Dialect settings the user forced; None means "detect"."""

    encoding: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None
    escapechar: str | None = None
    header: bool | None = None
    comment: str | None = None
    skip_lines: int | None = None     # preamble lines before the header
    footer_lines: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "delimiter": self.delimiter, "quotechar": self.quotechar,
                "escapechar": self.escapechar, "header": self.header, "comment": self.comment,
                "skip_lines": self.skip_lines, "footer_lines": self.footer_lines}


LLM_PROVIDERS = ("gemini", "openai")
# Bumped whenever the request csv2pg sends changes shape, so cached answers are not reused.
LLM_PROMPT_VERSION = 1


@dataclass(frozen=True)
class LlmSettings:
    """``[llm]``: which model advises inference and how it is asked. Holds no secret: the
    API key is read from ``api_key_env`` (or GEMINI_API_KEY, then GOOGLE_API_KEY) at the
    moment a request is made."""

    provider: str = "gemini"
    model: str = "gemini-3.5-flash"
    api_key_env: str | None = None
    base_url: str | None = None
    timeout: float = 60.0              # seconds per request
    budget: float = 600.0              # seconds for all requests of one table, retries included
    retries: int = 4                   # further attempts after a 429, 5xx or timeout
    concurrency: int = 4               # requests in flight at once
    requests_per_minute: int = 60
    send_values: bool = True           # False: names and type-level statistics only
    redact: bool = False               # mask values that look like emails, phones, long digit runs
    required: bool = False             # True: a failing provider fails the build instead of degrading
    cache: bool = True                 # False (--no-cache): ask again, overwrite the cached answer

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "api_key_env": self.api_key_env,
                "base_url": self.base_url, "timeout": self.timeout, "budget": self.budget,
                "retries": self.retries, "concurrency": self.concurrency,
                "requests_per_minute": self.requests_per_minute, "send_values": self.send_values,
                "redact": self.redact, "required": self.required, "cache": self.cache}

    def request_options(self) -> dict[str, Any]:
        """The settings that change what is asked (and so the answer): part of infer_options."""
        return {"provider": self.provider, "model": self.model, "send_values": self.send_values,
                "redact": self.redact, "prompt": LLM_PROMPT_VERSION}


@dataclass(frozen=True)
class TableSettings:
    """One ``[tables.NAME]`` entry with defaults applied."""

    name: str                      # the manifest key; task names use it (sample:NAME)
    source: Path                   # absolute path of the (first) CSV
    source_text: str               # the source as written in the manifest (relative to the project)
    table: str                     # the PostgreSQL table name
    db_schema: str
    dialect: DialectOverrides = DialectOverrides()
    null_tokens: tuple[str, ...] = ()              # configured tokens: always NULL
    default_null_tokens: tuple[str, ...] = DEFAULT_NULL_TOKENS  # NULL only where consistent
    columns: tuple[tuple[str, str], ...] = ()      # type overrides: (header or column, type)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    sample_rows: int = DEFAULT_SAMPLE_ROWS
    inference: str = "heuristic"
    engine: str = "pgloader"
    max_rejects: int = 0
    mode: str = "replace"          # replace | append | upsert (csv2pg.stages.modes)
    sources: tuple[Path, ...] = ()  # every file the source names (a glob may name many), sorted
    primary_key: tuple[str, ...] | str = ()  # header/column names, or "infer"
    indexes: tuple[tuple[str, ...], ...] = ()  # each: the columns of one index (header or column names)
    llm: LlmSettings = LlmSettings()         # the project's [llm], used when inference = "llm"

    @property
    def files(self) -> tuple[Path, ...]:
        """The CSV files of this table: ``sources``, or just ``source``."""
        return self.sources or (self.source,)

    def sample_options(self) -> dict[str, Any]:
        """Everything besides the CSV's bytes that sample.json depends on."""
        return {"dialect": self.dialect.as_dict(), "null_tokens": list(self.null_tokens),
                "default_null_tokens": list(self.default_null_tokens), "sample_rows": self.sample_rows}

    def infer_options(self) -> dict[str, Any]:
        """Everything besides sample.json that a chunk's types depend on."""
        options: dict[str, Any] = {"chunk_size": self.chunk_size, "inference": self.inference,
                                   "null_tokens": list(self.null_tokens)}
        if self.inference == "llm":
            options["llm"] = self.llm.request_options()
        return options


@dataclass(frozen=True)
class Project:
    root: Path
    manifest_path: Path | None
    database: str | None           # URL, "env:VAR", or None for the embedded server
    db_schema: str
    build_dir: Path
    schemas_dir: Path
    tables: tuple[TableSettings, ...] = ()
    llm: LlmSettings = field(default_factory=LlmSettings)
    name: str = ""                 # project.name: whose tables csv2pg.tables rows are (prune)

    def table(self, name: str) -> TableSettings:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def table_build_dir(self, name: str) -> Path:
        return self.build_dir / name
