"""How ``import:T`` puts the loaded rows into the live table: ``mode`` per table.

- ``replace`` (default): the staging table becomes the table (``db.swap_in``).
- ``append``: only the records added to the end of the file since the last import are
  loaded, then inserted into the live table. The stamp records the file's size, the xxh3-128
  hash of its bytes and its record count; the next import hashes the same number of leading
  bytes of the file now. Equal: the old bytes are unchanged, so csv2pg loads what follows
  them. Different (an edited, reordered or truncated file), a changed table schema, a file
  that did not end with a line break, several or compressed files, or a live table that is
  gone: every row is loaded and replaces the table, and the stamp's ``notice`` says why.
- ``upsert``: the whole file is loaded into staging, then
  ``INSERT ... ON CONFLICT (primary key) DO UPDATE`` into the live table (rows of the table
  that are not in the file stay). Needs ``primary_key``; the first import (no live table)
  is a replace.

Reads the previous stamp and the CSV; touches the database only in ``check_live`` and
``merge_in`` (one transaction). The import step verifies the staging table first, as for
every mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import xxhash
from psycopg import sql

from csv2pg import sources
from csv2pg.artifacts import try_read_artifact
from csv2pg.db import table_exists
from csv2pg.errors import DataError
from csv2pg.hashing import hash_value
from csv2pg.state import read_records

MODES = ("replace", "append", "upsert")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class ModePlan:
    mode: str
    merge: bool = False              # insert into the live table instead of replacing it
    skip_bytes: int = 0              # append: bytes of the file already loaded
    skip_records: int = 0            # append: records of the file already loaded
    primary_key: tuple[str, ...] = ()
    notice: str | None = None
    file: Path | None = None         # append: the one file whose size and hash are stamped
    first: bool = False              # append: no earlier append recorded in the build dir

    def expected_rows(self, rows: int) -> int:
        """The records the engine must load, of the ``rows`` the profile counted."""
        return rows - self.skip_records

    def source_stamp(self, rows: int) -> dict[str, Any] | None:
        """What the next append compares with: the file's size, hash and records now."""
        if self.mode != "append" or self.file is None:
            return None
        size, digest, newline = _file_facts(self.file)
        return {"bytes": size, "hash": digest, "records": rows, "ends_with_newline": newline}


def plan_mode(mode: str, stamp_path: Path, files: Sequence[Path], table_schema: dict[str, Any],
              rows: int, table_name: str) -> ModePlan:
    """What this import does, from the previous stamp and the file now."""
    if mode not in MODES:
        raise DataError(f"unknown mode {mode!r}", table=table_name,
                        hint=f"set mode to one of {', '.join(MODES)} in [tables.{table_name}]")
    key = tuple(str(c) for c in table_schema.get("primary_key", []))
    if mode == "replace":
        return ModePlan("replace")
    previous = try_read_artifact("import", stamp_path)
    schema_changed = previous is not None and previous["inputs"]["schema"] != hash_value(table_schema)
    if mode == "upsert":
        if not key:
            raise DataError("mode = \"upsert\" needs a primary key", table=table_name,
                            hint=f"set primary_key in [tables.{table_name}] (or \"infer\")")
        if schema_changed:
            return ModePlan("upsert", primary_key=key, notice=(
                "the table schema changed since the last import, so csv2pg replaced the table "
                "instead of upserting"))
        return ModePlan("upsert", merge=True, primary_key=key)
    # append
    single = len(files) == 1 and sources.compression(Path(files[0])) is None
    file = Path(files[0]) if single else None
    full = ModePlan("append", primary_key=key, file=file)
    if not single:
        return replace(full, notice="mode = \"append\" needs one uncompressed file, so csv2pg "
                                    "loaded every row")
    assert file is not None
    before = previous.get("source") if previous is not None else None
    if previous is None or not isinstance(before, dict):
        # The first import here, or the last one was not an append: nothing to compare with.
        return replace(full, first=True)
    if schema_changed:
        return replace(full, notice="the table schema changed since the last import, so "
                                    "csv2pg reloaded every row")
    return _append_after(full, file, before)


def _append_after(full: ModePlan, file: Path, before: dict[str, Any]) -> ModePlan:
    """Append what follows the part of ``file`` an earlier import loaded (``before``: its
    ``source_stamp``), or ``full`` with the reason when that part changed."""
    old_bytes, old_hash = int(before["bytes"]), str(before["hash"])
    if not before.get("ends_with_newline", False):
        return replace(full, notice="the file did not end with a line break at the last "
                                    "import, so csv2pg reloaded every row")
    if file.stat().st_size < old_bytes or prefix_hash(file, old_bytes) != old_hash:
        return replace(full, notice=(
            f"the first {old_bytes} bytes of {file.name} changed since the last import (rows "
            "were edited, removed or reordered, not only added at the end), so csv2pg "
            "reloaded every row"))
    return replace(full, merge=True, skip_bytes=old_bytes, skip_records=int(before["records"]))


def check_live(conn: psycopg.Connection[Any], plan: ModePlan, db_schema: str, live: str,
               schema_hash: str) -> ModePlan:
    """A merge into a table that is not there becomes a full load. An append with no stamp
    in the build directory (a fresh clone) asks the database's record of the table
    (``state.TableRecord.source``) what the last import loaded."""
    if plan.merge and not table_exists(conn, db_schema, live):
        return replace(plan, merge=False, skip_bytes=0, skip_records=0, notice=(
            f"{db_schema}.{live} did not exist, so csv2pg loaded every row"))
    if plan.first and table_exists(conn, db_schema, live):
        record = read_records(conn).get((db_schema, live))
        if record is not None and record.present and record.source and plan.file is not None:
            if record.schema_hash != schema_hash:
                return replace(plan, first=False, notice=(
                    "the table schema changed since the last import, so csv2pg reloaded "
                    "every row"))
            return replace(_append_after(plan, plan.file, record.source), first=False)
        return replace(plan, notice=(
            f"neither the build directory nor the database holds a record of an earlier "
            f"append to {db_schema}.{live}, so csv2pg cannot tell which rows it has and "
            "loaded every row"))
    return plan


def merge_in(conn: psycopg.Connection[Any], plan: ModePlan, db_schema: str, staging: str,
             live: str, table_schema: dict[str, Any]) -> None:
    """In one transaction: the staging table's rows into the live table, then drop staging."""
    columns = [str(c["column"]) for c in table_schema["columns"]]
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    target = sql.SQL("{}.{}").format(sql.Identifier(db_schema), sql.Identifier(live))
    source = sql.SQL("{}.{}").format(sql.Identifier(db_schema), sql.Identifier(staging))
    statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(target, names, names, source)
    if plan.mode == "upsert":
        others = [c for c in columns if c not in plan.primary_key]
        key = sql.SQL(", ").join(sql.Identifier(c) for c in plan.primary_key)
        if others:
            sets = sql.SQL(", ").join(sql.SQL("{} = EXCLUDED.{}").format(
                sql.Identifier(c), sql.Identifier(c)) for c in others)
            statement += sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(key, sets)
        else:
            statement += sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(key)
    with conn.transaction():
        conn.execute(statement)
        conn.execute(sql.SQL("DROP TABLE {}").format(source))


def prefix_hash(path: Path, size: int) -> str:
    """xxh3-128 of the first ``size`` bytes of ``path``."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        left = size
        while left > 0:
            block = handle.read(min(_BLOCK, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return str(digest.hexdigest())


def _file_facts(path: Path) -> tuple[int, str, bool]:
    digest = xxhash.xxh3_128()
    size = 0
    last = b""
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
            last = block[-1:]
    return size, str(digest.hexdigest()), last == b"\n"
