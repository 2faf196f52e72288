"""``csv2pg init``: write a commented csv2pg.toml, or add new CSV files to an existing one.

Edits go through tomlkit so the user's comments, order and formatting survive; the result
is re-parsed before it is written, guarding against tomlkit serialisation bugs (tech.md 4.2).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from csv2pg.artifacts import atomic_write_text
from csv2pg.errors import ConfigError
from csv2pg.manifest import MANIFEST_NAME, read_manifest_document, table_key, validate_manifest

DEFAULT_GLOBS = ("**/*.csv", "**/*.tsv", "**/*.psv")
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", ".csv2pg", "__pycache__"}

HEADER = """\
# csv2pg.toml: which CSV files become which PostgreSQL tables.
# `csv2pg build` loads them; `csv2pg status` shows what is loaded; `csv2pg plan` what would run.
# Settings here are overridden by CSV2PG_* environment variables and command-line flags.

[project]
# database = "postgresql://user@localhost:5432/mydb"   # or "env:DATABASE_URL"; unset = embedded server
db_schema = "public"
# build_dir = ".csv2pg"        # git-ignore it
# schemas_dir = "schemas"      # commit it: the reviewable table schemas

[defaults]
# chunk_size = 20              # columns per inference step
# inference = "heuristic"      # or "llm"
# engine = "pgloader"
# max_rejects = 0              # rows a table may reject before the build fails
# null_tokens = ["NA", "N/A", "null", "NULL", "-", "#NULL!"]   # NULL where a column is otherwise typed
"""


@dataclass
class InitResult:
    path: Path
    created: bool
    added: list[tuple[str, str]] = field(default_factory=list)


def find_csvs(root: Path, globs: list[str]) -> list[Path]:
    found: set[Path] = set()
    for pattern in globs or DEFAULT_GLOBS:
        for path in root.glob(pattern):
            relative = path.relative_to(root)
            if path.is_file() and not _SKIP_DIRS.intersection(relative.parts[:-1]):
                found.add(path)
    return sorted(found)


def _unique_name(stem: str, taken: set[str]) -> str:
    base = table_key(stem)
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def init_manifest(root: Path, globs: list[str]) -> InitResult:
    path = root / MANIFEST_NAME
    created = not path.exists()
    document = tomlkit.parse(HEADER) if created else read_manifest_document(path)
    if not created:
        validate_manifest(document.unwrap(), path)
    tables = document.get("tables")
    if tables is None:
        tables = tomlkit.table(is_super_table=True)
        document.add(tomlkit.nl())
        document["tables"] = tables
    known_sources = {(root / str(entry["source"])).resolve() for entry in tables.values()}
    taken = set(tables.keys())
    result = InitResult(path, created)
    for csv in find_csvs(root, globs):
        if csv.resolve() in known_sources:
            continue
        source = csv.relative_to(root).as_posix()
        name = _unique_name(csv.name.split(".")[0], taken)
        entry = tomlkit.table()
        entry.add(tomlkit.comment("from `csv2pg init`; override the dialect or column types here"))
        entry["source"] = source
        entry.add(tomlkit.comment('delimiter = ";"   encoding = "cp1252"   header = false'))
        entry.add(tomlkit.comment("[tables.NAME.columns] zip = \"text\""))
        tables[name] = entry
        result.added.append((name, source))
    if created and not result.added:
        raise ConfigError("no CSV files found", path=root,
                          hint="pass patterns, e.g. `csv2pg init 'data/*.csv'`")
    text = tomlkit.dumps(document)
    validate_manifest(tomllib.loads(text), path)  # guard against tomlkit serialisation bugs
    atomic_write_text(path, text)
    return result
