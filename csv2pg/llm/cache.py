"""Answers on disk, keyed by a hash of (provider, model, base URL, request).

A project keeps them in its build directory (``.csv2pg/llm-cache/``); ``analyze`` without a
manifest in the user's cache directory (``$XDG_CACHE_HOME/csv2pg/llm`` or
``~/.cache/csv2pg/llm``). Only answers that validated are stored, so a malformed or
truncated answer is asked again next time. Files hold the answer text and token counts,
never a key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from csv2pg.artifacts import atomic_write_text, canonical_json
from csv2pg.hashing import hash_value
from csv2pg.llm.base import LlmReply, LlmRequest

CACHE_VERSION = 1


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``analyze`` keeps answers when there is no project."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "csv2pg" / "llm"


def cache_key(provider: str, model: str, base_url: str | None, request: LlmRequest) -> str:
    return hash_value({"version": CACHE_VERSION, "provider": provider, "model": model,
                       "base_url": base_url, "request": request.as_dict()})


class AnswerCache:
    """``get``/``put`` of replies by key in one directory (None: no caching at all)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{key}.json"

    def get(self, key: str) -> LlmReply | None:
        if self.directory is None:
            return None
        try:
            data: dict[str, Any] = json.loads(self._path(key).read_text(encoding="utf-8"))
            return LlmReply.from_dict(data["reply"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or damaged: ask again

    def put(self, key: str, provider: str, model: str, reply: LlmReply) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self._path(key), canonical_json(
            {"version": CACHE_VERSION, "provider": provider, "model": model, "reply": reply.as_dict()}))
