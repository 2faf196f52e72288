"""Content hashes: xxh3_128 of files through a persistent (path, size, mtime_ns) cache.

An unchanged multi-GB file is read once: later runs find its digest by (size, mtime_ns).
A touched but unchanged file is re-hashed once, gives the same digest, and changes nothing.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import xxhash

from csv2pg.artifacts import atomic_write_text, canonical_json

_BLOCK = 1 << 20


def hash_bytes(data: bytes) -> str:
    return str(xxhash.xxh3_128_hexdigest(data))


def hash_value(value: Any) -> str:
    """The hash of a JSON-serialisable value (options, settings), independent of key order."""
    return hash_bytes(canonical_json(value).encode("utf-8"))


def hash_file_uncached(path: Path) -> str:
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return str(digest.hexdigest())


class HashCache:
    """A thread-safe ``path -> (size, mtime_ns, digest)`` cache kept in one JSON file."""

    def __init__(self, cache_file: Path | None) -> None:
        self._file = cache_file
        self._lock = threading.Lock()
        self._entries: dict[str, list[Any]] = {}
        self._dirty = False
        if cache_file is not None:
            try:
                loaded = json.loads(cache_file.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self._entries = loaded
            except (OSError, ValueError):
                self._entries = {}
        self.hashed: list[str] = []  # files actually read in this process (tests look at this)

    def file_hash(self, path: Path) -> str:
        key = str(Path(path).resolve())
        stat = os.stat(key)
        with self._lock:
            hit = self._entries.get(key)
            if hit and hit[0] == stat.st_size and hit[1] == stat.st_mtime_ns:
                return str(hit[2])
        digest = hash_file_uncached(Path(key))
        with self._lock:
            self._entries[key] = [stat.st_size, stat.st_mtime_ns, digest]
            self._dirty = True
            self.hashed.append(key)
        return digest

    def save(self) -> None:
        if self._file is None:
            return
        with self._lock:
            if not self._dirty:
                return
            # Forget files that no longer exist so the cache does not grow forever.
            entries = {k: v for k, v in self._entries.items() if os.path.exists(k)}
            atomic_write_text(self._file, canonical_json(entries))
            self._dirty = False


def files_hash(cache: HashCache, files: tuple[Path, ...] | list[Path]) -> str:
    """One hash for a table's files: the file's own hash, or a hash over (name, hash) of each."""
    if len(files) == 1:
        return cache.file_hash(files[0])
    return hash_value([[Path(f).name, cache.file_hash(f)] for f in files])
