"""The reject file: every row of a table that did not load, with where it came from and why.

``<build>/<T>/rejects.jsonl``, one JSON object a line (keys sorted, UTF-8):

- ``file``: the CSV file the row is in (null when the engine did not say which row it lost);
- ``line``: the physical 1-based line its record starts on (null when unknown);
- ``reason``: why it did not load, e.g. ``invalid input syntax for type integer: "x"
  (column qty)`` or ``the record has 4 fields, the header 5``;
- ``text``: the record's text: exactly the source text on the built-in engine's fast path,
  else the fields csv2pg parsed written back as one CSV record in the file's dialect.

Written by the import step for both engines, removed when an import starts, written
atomically when it ends (kept after a failed import: that is when it matters most).
Imports only the standard library.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

REJECTS_NAME = "rejects.jsonl"


class RejectsFile:
    """Collects refused rows into ``path`` (nothing is written when there are none)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.unlink(missing_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._handle: IO[str] | None = None
        self.count = 0
        self.first: str | None = None

    def add(self, file: Path | None, line: int | None, text: str, reason: str) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self._tmp, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        entry = {"file": None if file is None else str(file), "line": line, "reason": reason,
                 "text": text}
        self._handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        self.count += 1
        if self.first is None:
            self.first = f"{file}:{line}" if file is not None and line is not None else "an unknown line"

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            os.replace(self._tmp, self.path)


def read_rejects(path: Path) -> list[dict[str, object]]:
    """The entries of a reject file (empty when there is none)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line]
