"""csv2pg.toml: validation messages, precedence, and DATABASE_URL safety."""

from __future__ import annotations

from pathlib import Path

import pytest

from csv2pg.cli import main
from csv2pg.errors import ConfigError
from csv2pg.manifest import SETTINGS, load_project

GOOD = """\
[project]
db_schema = "public"

[tables.orders]
source = "orders.csv"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "orders.csv").write_text("id,amount\n1,2.5\n", encoding="utf-8")
    (tmp_path / "csv2pg.toml").write_text(text, encoding="utf-8")
    return tmp_path


BAD = [
    pytest.param('[project]\ndatabse = "postgresql://x/y"\n',
                 'unknown key "project.databse" in [project]; allowed keys: build_dir, database, db_schema, name, schemas_dir\n  hint: did you mean "database"?',
                 id="typo-in-project"),
    pytest.param('[defaults]\nchunk_sise = 3\n',
                 'unknown key "defaults.chunk_sise" in [defaults]; allowed keys: chunk_size, engine, inference, max_rejects, mode, null_tokens, sample_rows\n  hint: did you mean "chunk_size"?',
                 id="typo-in-defaults"),
    pytest.param('[tables.orders]\nsource = "orders.csv"\ndelimter = ";"\n',
                 'unknown key "tables.orders.delimter" in [tables.orders]',
                 id="typo-in-table"),
    pytest.param('[tables.orders]\ntable = "orders"\n',
                 "[tables.orders] is missing a required key: 'source'",
                 id="missing-source"),
    pytest.param('[defaults]\ninference = "magic"\n',
                 'defaults.inference = "magic" is not allowed; allowed values: "heuristic", "llm"',
                 id="bad-enum"),
    pytest.param('[defaults]\nengine = "pgloadr"\n',
                 'defaults.engine = "pgloadr" is not allowed; allowed values: "pgloader", "copy"\n  hint: did you mean "pgloader"?',
                 id="enum-typo"),
    pytest.param('[defaults]\nmax_rejects = "ten"\n',
                 'defaults.max_rejects must be an integer, not "ten"',
                 id="wrong-type"),
    pytest.param('[project]\ndatabase = "mysql://localhost/db"\n',
                 'project.database = "mysql://localhost/db" is not a database setting',
                 id="bad-database"),
    pytest.param('[tables.orders]\nsource = "orders.csv"\n[tables.orders.columns]\namount = "money please"\n',
                 'tables.orders.columns.amount = "money please" is not a PostgreSQL type csv2pg knows',
                 id="bad-override-type"),
    pytest.param('[projet]\ndb_schema = "x"\n',
                 'unknown key "projet" in the top level; allowed keys: defaults, llm, project, tables\n  hint: did you mean "project"?',
                 id="typo-section"),
    pytest.param('[tables."my table"]\nsource = "orders.csv"\n',
                 'table name "my table" in [tables] is not allowed',
                 id="bad-table-name"),
    pytest.param('[project\n', "not valid TOML", id="toml-syntax"),
    pytest.param('[tables.orders]\nsource = "orders.csv"\nprimary_key = "id"\n',
                 'tables.orders.primary_key = "id" is not allowed: give a list of column names, or "infer"',
                 id="bad-primary-key"),
    pytest.param('[defaults]\nchunk_size = 0\n', "defaults.chunk_size: 0 is less than the minimum of 1",
                 id="out-of-range"),
    pytest.param('[tables.a]\nsource = "orders.csv"\n[tables.b]\nsource = "orders.csv"\ntable = "a"\n',
                 "[tables.b] and [tables.a] both load into public.a", id="same-target"),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_manifest_names_file_key_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    root = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_project(root, environ={})
    message = str(caught.value)
    assert message.startswith(str(root / "csv2pg.toml"))
    assert expected in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("text", "expected"), BAD[:4])
def test_bad_manifest_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                text: str, expected: str) -> None:
    root = write(tmp_path, text)
    assert main(["-C", str(root), "plan"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert expected.split("\n")[0] in " ".join(err.split())


def test_precedence_flag_over_env_over_manifest(tmp_path: Path) -> None:
    root = write(tmp_path, GOOD + "max_rejects = 3\nchunk_size = 7\n")
    project = load_project(root, environ={})
    assert (project.tables[0].max_rejects, project.tables[0].chunk_size) == (3, 7)
    project = load_project(root, environ={"CSV2PG_MAX_REJECTS": "5"})
    assert project.tables[0].max_rejects == 5
    project = load_project(root, flags={"max_rejects": 9}, environ={"CSV2PG_MAX_REJECTS": "5"})
    assert project.tables[0].max_rejects == 9
    assert project.tables[0].chunk_size == 7  # untouched by either


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    root = write(tmp_path, GOOD)
    with pytest.raises(ConfigError, match="environment variable CSV2PG_CHUNK_SIZE must be an integer"):
        load_project(root, environ={"CSV2PG_CHUNK_SIZE": "lots"})
    with pytest.raises(ConfigError, match=r"defaults.inference = \"guess\" is not allowed.*CSV2PG_INFERENCE"):
        load_project(root, environ={"CSV2PG_INFERENCE": "guess"})


def test_database_url_is_ignored_unless_the_manifest_asks(tmp_path: Path) -> None:
    root = write(tmp_path, GOOD)
    environ = {"DATABASE_URL": "postgresql://app@prod/app"}
    assert load_project(root, environ=environ).database is None  # embedded, not production
    root = write(tmp_path, '[project]\ndatabase = "env:DATABASE_URL"\n')
    assert load_project(root, environ=environ).database == "env:DATABASE_URL"


def test_defaults_and_paths(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, GOOD), environ={})
    table = project.tables[0]
    assert table.source == (tmp_path / "orders.csv").resolve()
    assert (table.table, table.db_schema, table.engine, table.max_rejects) == ("orders", "public", "pgloader", 0)
    assert project.build_dir == (tmp_path / ".csv2pg").resolve()
    assert project.schemas_dir == (tmp_path / "schemas").resolve()


def test_readme_publishes_every_environment_variable() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.env}`" in readme, setting.env
        assert f"`{setting.flag}`" in readme, setting.flag
