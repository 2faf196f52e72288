"""Canonical JSON, atomic writes, and artifact validation against the JSON Schemas.

Every artifact carries ``schema_version`` and is validated against ``schemas/<kind>.v1.json``
both when written and when read. Content-hashed artifacts are byte-deterministic: sorted
keys, two-space indent, a trailing newline, no timestamps (only the import stamp has them).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from csv2pg.errors import ArtifactError
from csv2pg.resources import schemas_dir

SCHEMA_VERSION = 1


def canonical_json(value: Any) -> str:
    """The one JSON spelling used for every artifact: sorted keys, stable, newline-terminated."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cache
def validator(kind: str) -> Draft202012Validator:
    """The validator for ``schemas/<kind>.v1.json``."""
    schema_path = schemas_dir() / f"{kind}.v{SCHEMA_VERSION}.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def validation_errors(kind: str, document: Any) -> list[str]:
    """Human-readable problems of ``document`` as a ``kind`` artifact (empty when valid)."""
    errors = sorted(validator(kind).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


class _ValidatedFiles:
    """File versions, by (kind, path, size, mtime_ns), already validated in this process.

    A build reads sample.json several times (up-to-date checks, then each step); validating
    a wide table's profile costs far more than parsing it, so each version is validated once.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self._seen: set[tuple[str, str, int, int]] = set()
        self._lock = threading.Lock()

    @staticmethod
    def _key(kind: str, path: Path) -> tuple[str, str, int, int] | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return kind, str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns

    def known(self, kind: str, path: Path) -> bool:
        key = self._key(kind, path)
        with self._lock:
            return key is not None and key in self._seen

    def add(self, kind: str, path: Path) -> None:
        key = self._key(kind, path)
        if key is None:
            return
        with self._lock:
            if len(self._seen) >= self.LIMIT:
                self._seen.clear()
            self._seen.add(key)


_validated = _ValidatedFiles()


def write_artifact(kind: str, path: Path, document: dict[str, Any]) -> None:
    """Validate ``document`` as a ``kind`` artifact and write it atomically and canonically."""
    document = {**document, "schema_version": SCHEMA_VERSION}
    problems = validation_errors(kind, document)
    if problems:
        # A bug in csv2pg, not in the user's data: say exactly what is wrong.
        raise AssertionError(f"csv2pg produced an invalid {kind} artifact {path}: {problems[:5]}")
    atomic_write_text(path, canonical_json(document))
    _validated.add(kind, path)


def read_artifact(kind: str, path: Path) -> dict[str, Any]:
    """Read, version-check and validate a ``kind`` artifact."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{kind} artifact is missing", path=path) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read {kind} artifact: {exc}", path=path,
                            hint="delete it and run `csv2pg build` again") from None
    if not isinstance(document, dict):
        raise ArtifactError(f"{kind} artifact is not a JSON object", path=path)
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"{kind} artifact has schema_version {version!r}; this csv2pg reads {SCHEMA_VERSION}",
            path=path, hint="run `csv2pg clean` and build again")
    if _validated.known(kind, path):
        return document
    problems = validation_errors(kind, document)
    if problems:
        raise ArtifactError(f"{kind} artifact does not match its schema: {'; '.join(problems[:3])}",
                            path=path, hint="delete it and run `csv2pg build` again")
    _validated.add(kind, path)
    return document


def try_read_artifact(kind: str, path: Path) -> dict[str, Any] | None:
    """The artifact, or None when it is missing or unusable (then its step simply re-runs)."""
    try:
        return read_artifact(kind, path)
    except ArtifactError:
        return None
