"""csv2pg.toml → validated, frozen settings.

Reads the manifest with tomlkit, validates it against ``schemas/manifest.v1.json`` and
resolves every setting once, with this precedence: command-line flag > ``CSV2PG_*``
environment variable > manifest > built-in default. A bad manifest raises ``ConfigError``
(exit 2) naming the file, the key path and what is allowed, with "did you mean" for typos.

``DATABASE_URL`` is never read unless the manifest says ``database = "env:DATABASE_URL"``:
a variable left in someone's shell must not redirect a build into another database.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from jsonschema import ValidationError
from tomlkit.exceptions import ParseError

from csv2pg.artifacts import validator
from csv2pg.errors import ConfigError
from csv2pg.identifiers import to_identifier
from csv2pg.settings import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_NULL_TOKENS,
    DEFAULT_SAMPLE_ROWS,
    DialectOverrides,
    LlmSettings,
    Project,
    TableSettings,
)

MANIFEST_NAME = "csv2pg.toml"


@dataclass(frozen=True)
class Setting:
    """One setting that a flag and an environment variable can also give."""

    section: str
    key: str
    env: str
    kind: type
    help: str

    @property
    def flag(self) -> str:
        prefix = "llm-" if self.section == "llm" else ""
        return "--" + prefix + self.key.replace("_", "-")

    @property
    def dest(self) -> str:
        return ("llm_" if self.section == "llm" else "") + self.key


# The published table of settings (README "Configuration"); a test keeps the two in step.
SETTINGS: tuple[Setting, ...] = (
    Setting("project", "database", "CSV2PG_DATABASE", str,
            "postgresql:// URL, or env:VAR to read the URL from VAR; unset = embedded server"),
    Setting("project", "db_schema", "CSV2PG_DB_SCHEMA", str, "PostgreSQL schema of the tables (public)"),
    Setting("project", "build_dir", "CSV2PG_BUILD_DIR", str, "build directory (.csv2pg)"),
    Setting("project", "schemas_dir", "CSV2PG_SCHEMAS_DIR", str, "directory of the committed table schemas (schemas)"),
    Setting("defaults", "chunk_size", "CSV2PG_CHUNK_SIZE", int, f"columns per inference step ({DEFAULT_CHUNK_SIZE})"),
    Setting("defaults", "sample_rows", "CSV2PG_SAMPLE_ROWS", int, f"representative values kept per column ({DEFAULT_SAMPLE_ROWS})"),
    Setting("defaults", "inference", "CSV2PG_INFERENCE", str, "heuristic or llm (heuristic)"),
    Setting("defaults", "engine", "CSV2PG_ENGINE", str, "pgloader or copy (pgloader)"),
    Setting("defaults", "max_rejects", "CSV2PG_MAX_REJECTS", int, "rows a table may reject (0)"),
    Setting("llm", "provider", "CSV2PG_LLM_PROVIDER", str, "gemini or openai (gemini)"),
    Setting("llm", "model", "CSV2PG_LLM_MODEL", str, f"model name ({LlmSettings().model})"),
    Setting("llm", "base_url", "CSV2PG_LLM_BASE_URL", str, "API base URL (the provider's own)"),
    Setting("llm", "api_key_env", "CSV2PG_LLM_API_KEY_ENV", str,
            "environment variable holding the API key (GEMINI_API_KEY, then GOOGLE_API_KEY)"),
    Setting("llm", "timeout", "CSV2PG_LLM_TIMEOUT", float, "seconds per request (60)"),
    Setting("llm", "budget", "CSV2PG_LLM_BUDGET", float, "seconds for all requests of a table, retries included (600)"),
    Setting("llm", "retries", "CSV2PG_LLM_RETRIES", int, "retries after a 429, 5xx or timeout (4)"),
    Setting("llm", "concurrency", "CSV2PG_LLM_CONCURRENCY", int, "requests in flight at once (4)"),
    Setting("llm", "requests_per_minute", "CSV2PG_LLM_REQUESTS_PER_MINUTE", int, "request rate limit (60)"),
    Setting("llm", "send_values", "CSV2PG_LLM_SEND_VALUES", bool,
            "send representative values; false sends names and type statistics only (true)"),
    Setting("llm", "redact", "CSV2PG_LLM_REDACT", bool, "mask emails, phone numbers, long digit strings (false)"),
    Setting("llm", "required", "CSV2PG_LLM_REQUIRED", bool, "fail instead of falling back to heuristics (false)"),
)


def parse_bool(raw: str) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case) as given in a flag or environment variable."""
    text = raw.strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"not a boolean: {raw!r} (use true or false)")


def find_manifest(start: Path) -> Path | None:
    """The csv2pg.toml in ``start`` or the nearest parent directory that has one."""
    for directory in (start, *start.parents):
        candidate = directory / MANIFEST_NAME
        if candidate.is_file():
            return candidate
    return None


def read_manifest_document(path: Path) -> tomlkit.TOMLDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the manifest: {exc.strerror}", path=path) from None
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path, line=exc.line) from None


def _allowed_keys(schema: Mapping[str, Any]) -> list[str]:
    return sorted(schema.get("properties", {}))


def _describe(error: ValidationError, path: Path) -> ConfigError:
    """One validation error as a message that names the key and what is allowed."""
    key_path = ".".join(str(p) for p in error.absolute_path)
    where = f"[{key_path}]" if key_path else "the top level"
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties":
        allowed = _allowed_keys(schema)
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        unknown = sorted(k for k in instance if k not in allowed)
        bad = unknown[0] if unknown else "?"
        full = f"{key_path}.{bad}" if key_path else bad
        close = difflib.get_close_matches(bad, allowed, n=1, cutoff=0.6)
        hint = f'did you mean "{close[0]}"?' if close else None
        return ConfigError(f'unknown key "{full}" in {where}; allowed keys: {", ".join(allowed)}',
                           path=path, key=full, hint=hint)
    if error.validator == "required":
        return ConfigError(f"{where} is missing a required key: {error.message.split(' ')[0]}",
                           path=path, key=key_path)
    if error.validator == "enum":
        choices: list[Any] = list(error.validator_value)  # type: ignore[arg-type]
        allowed_values = ", ".join(json.dumps(v) for v in choices)
        close = difflib.get_close_matches(str(error.instance), [str(v) for v in choices], n=1)
        hint = f'did you mean "{close[0]}"?' if close else None
        return ConfigError(f"{key_path} = {json.dumps(error.instance)} is not allowed; allowed values: {allowed_values}",
                           path=path, key=key_path, hint=hint)
    if error.validator == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return ConfigError(f"{key_path} must be {_article(expected_text)}, not {json.dumps(error.instance)}",
                           path=path, key=key_path)
    if error.validator == "pattern" and error.absolute_path and str(error.absolute_path[-1]) == "database":
        return ConfigError(f"{key_path} = {json.dumps(error.instance)} is not a database setting",
                           path=path, key=key_path,
                           hint='use a "postgresql://user@host/db" URL, "env:VAR" to read the URL '
                                'from an environment variable, or leave it out for the embedded server')
    if error.validator == "pattern" and len(error.absolute_path) >= 3 and error.absolute_path[-2] == "columns":
        return ConfigError(f"{key_path} = {json.dumps(error.instance)} is not a PostgreSQL type csv2pg knows",
                           path=path, key=key_path,
                           hint="use e.g. text, integer, bigint, numeric(12,2), double precision, date, "
                                "timestamptz, boolean, uuid, jsonb")
    if error.validator == "oneOf" and key_path.endswith(".primary_key"):
        return ConfigError(f'{key_path} = {json.dumps(error.instance)} is not allowed: give a list of '
                           'column names, or "infer"', path=path, key=key_path)
    if error.validator == "pattern" and list(error.absolute_path) == ["tables"]:
        return ConfigError(f"table name {json.dumps(error.instance)} in [{key_path}] is not allowed: "
                           "use letters, digits, _ and -, starting with a letter or _",
                           path=path, key=key_path)
    return ConfigError(f"{key_path or 'manifest'}: {error.message}", path=path, key=key_path)


def _article(word: str) -> str:
    return {"integer": "an integer", "object": "a table", "array": "a list"}.get(word, f"a {word}")


def validate_manifest(data: Mapping[str, Any], path: Path) -> None:
    errors = list(validator("manifest").iter_errors(data))
    if errors:
        errors.sort(key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))))
        raise _describe(errors[0], path)


def _coerce(setting: Setting, raw: str, origin: str) -> Any:
    if setting.kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{origin} must be an integer, not {raw!r}", key=f"{setting.section}.{setting.key}") from None
    if setting.kind in (float, bool):
        try:
            return float(raw) if setting.kind is float else parse_bool(raw)
        except ValueError:
            expected = "a number" if setting.kind is float else "true or false"
            raise ConfigError(f"{origin} must be {expected}, not {raw!r}", key=f"{setting.section}.{setting.key}") from None
    return raw


def _layered(manifest: Mapping[str, Any], flags: Mapping[str, Any], environ: Mapping[str, str],
             path: Path | None) -> dict[str, dict[str, Any]]:
    """Manifest sections with environment variables, then flags, laid over them (then re-validated)."""
    layered: dict[str, dict[str, Any]] = {s: dict(manifest.get(s, {})) for s in ("project", "defaults", "llm")}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is not None and raw != "":
            layered[setting.section][setting.key] = _coerce(setting, raw, f"environment variable {setting.env}")
        flag_value = flags.get(setting.dest)
        if flag_value is not None:
            layered[setting.section][setting.key] = flag_value
    probe = {k: v for k, v in layered.items() if v}
    errors = list(validator("manifest").iter_errors(probe))
    if errors:
        error = errors[0]
        key = ".".join(map(str, error.absolute_path))
        source = next((s for s in SETTINGS if f"{s.section}.{s.key}" == key), None)
        origin = f" (from {source.flag} or {source.env})" if source else ""
        described = _describe(error, path or Path(MANIFEST_NAME))
        raise ConfigError(described.message + origin, path=path, key=key, hint=described.hint)
    return layered


def _dialect(entry: Mapping[str, Any]) -> DialectOverrides:
    def optional_char(name: str) -> str | None:
        value = entry.get(name)
        return None if value is None else value  # "" means "none" and is kept as ""
    return DialectOverrides(
        encoding=entry.get("encoding"), delimiter=entry.get("delimiter"),
        quotechar=optional_char("quotechar"), escapechar=optional_char("escapechar"),
        header=entry.get("header"), comment=entry.get("comment"),
        skip_lines=entry.get("skip_lines"), footer_lines=entry.get("footer_lines"))


def load_project(root: Path, *, flags: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None, manifest_path: Path | None = None) -> Project:
    """The project at ``root`` (its csv2pg.toml), with flags and environment applied."""
    flags = flags or {}
    environ = os.environ if environ is None else environ
    manifest_path = manifest_path or root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise ConfigError(f"no {MANIFEST_NAME} in {root}", path=manifest_path,
                          hint="run `csv2pg init` to write one for the CSV files here, or use -C DIR")
    data = read_manifest_document(manifest_path).unwrap()
    validate_manifest(data, manifest_path)
    return project_from_data(manifest_path.parent.resolve(), data, flags, environ, manifest_path)


def project_from_data(root: Path, data: Mapping[str, Any], flags: Mapping[str, Any],
                      environ: Mapping[str, str], manifest_path: Path | None) -> Project:
    layered = _layered(data, flags, environ, manifest_path)
    project, defaults, llm = layered["project"], layered["defaults"], layered["llm"]
    db_schema = project.get("db_schema", "public")
    llm_settings = LlmSettings(**{k: v for k, v in llm.items() if k in LlmSettings.__dataclass_fields__},
                               cache=not flags.get("no_cache"))
    tables = []
    for name, entry in sorted(data.get("tables", {}).items()):
        def pick(key: str, default: Any, entry: Mapping[str, Any] = entry) -> Any:
            # flag/env (already in `defaults`) > table entry > manifest defaults > built-in
            setting = next((s for s in SETTINGS if s.section == "defaults" and s.key == key), None)
            if setting and (flags.get(setting.dest) is not None or environ.get(setting.env)):
                return defaults[key]
            return entry.get(key, defaults.get(key, default))
        source_text = entry["source"]
        files = expand_source(root, source_text)
        tables.append(TableSettings(
            name=name,
            source=files[0] if files else (root / source_text).resolve(),
            sources=tuple(files),
            source_text=source_text,
            table=entry.get("table") or to_identifier(name, 1),
            db_schema=db_schema,
            dialect=_dialect(entry),
            null_tokens=tuple(entry.get("null_tokens", ())),
            default_null_tokens=tuple(defaults.get("null_tokens", DEFAULT_NULL_TOKENS)),
            columns=tuple(sorted(entry.get("columns", {}).items())),
            chunk_size=pick("chunk_size", DEFAULT_CHUNK_SIZE),
            sample_rows=pick("sample_rows", DEFAULT_SAMPLE_ROWS),
            inference=pick("inference", "heuristic"),
            engine=pick("engine", "pgloader"),
            max_rejects=pick("max_rejects", 0),
            mode=pick("mode", "replace"),
            primary_key=(entry["primary_key"] if entry.get("primary_key") == "infer"
                         else tuple(entry.get("primary_key", ()))),
            indexes=tuple((item,) if isinstance(item, str) else tuple(item)
                          for item in entry.get("indexes", ())),
            llm=llm_settings,
        ))
    seen: dict[str, str] = {}
    for table in tables:
        qualified = f"{table.db_schema}.{table.table}"
        if qualified in seen:
            raise ConfigError(f"[tables.{table.name}] and [tables.{seen[qualified]}] both load into {qualified}",
                              path=manifest_path, key=f"tables.{table.name}.table",
                              hint=f'give one of them another name with table = "..." in [tables.{table.name}]')
        seen[qualified] = table.name
    return Project(
        root=root,
        manifest_path=manifest_path,
        database=project.get("database"),
        db_schema=db_schema,
        build_dir=(root / project.get("build_dir", ".csv2pg")).resolve(),
        schemas_dir=(root / project.get("schemas_dir", "schemas")).resolve(),
        tables=tuple(tables),
        llm=llm_settings,
        name=project.get("name") or root.name,
    )


def table_key(stem: str) -> str:
    """A manifest table key for a file name: ASCII, since keys name steps and directories."""
    key = re.sub(r"[^A-Za-z0-9_]+", "_", to_identifier(stem, 1)).strip("_")[:63]
    return key if re.match(r"[A-Za-z_]", key) else f"t_{key}".rstrip("_")


def expand_source(root: Path, source: str) -> list[Path]:
    """The files a ``source`` names: itself, or every match of a glob, sorted."""
    if any(ch in source for ch in "*?["):
        pattern = Path(source)
        base = root if not pattern.is_absolute() else Path(pattern.anchor)
        relative = str(pattern.relative_to(pattern.anchor)) if pattern.is_absolute() else source
        return sorted(p.resolve() for p in base.glob(relative) if p.is_file())
    path = (root / source).resolve()
    return [path] if path.is_file() else []


def single_file_project(csv_path: Path, *, flags: Mapping[str, Any] | None = None,
                        environ: Mapping[str, str] | None = None,
                        table_entry: Mapping[str, Any] | None = None, name: str | None = None) -> Project:
    """A one-table project for a CSV without a manifest (``analyze``, ``import``)."""
    csv_path = csv_path.resolve()
    name = name or table_key(csv_path.name.split(".")[0])
    entry = {"source": str(csv_path), **(table_entry or {})}
    data = {"tables": {name: entry}}
    validate_manifest(data, Path("(command line)"))
    return project_from_data(csv_path.parent, data, flags or {},
                             os.environ if environ is None else environ, None)
