"""The one place that finds the repository's ``schemas/`` and ``templates/``.

In a checkout or an editable install they sit at the repository root, next to the package;
in a built wheel they are shipped inside the package as ``csv2pg/_data/`` (see the
``force-include`` table in pyproject.toml).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def _data_dir(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"csv2pg is installed without its {name}/ directory (looked next to {_PACKAGE})")


def schemas_dir() -> Path:
    """The directory of the JSON Schemas of the manifest and every artifact."""
    return _data_dir("schemas")


def templates_dir() -> Path:
    """The directory of the Jinja2 templates."""
    return _data_dir("templates")
