"""import:T end to end: the rendered .load file run by the real pgloader into a real
PostgreSQL (a fresh database per test), verified and swapped in; and T_import.sh by hand.

The table schema and sample dicts are written by hand, as the earlier steps would produce
them; the CSV files are tests/data/import_*."""

from __future__ import annotations

import csv
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from csv2pg import db
from csv2pg.artifacts import validation_errors
from csv2pg.engines.pgloader import run_pgloader
from csv2pg.errors import DatabaseError, DataError, ImportFailedError
from csv2pg.hashing import hash_file_uncached, hash_value
from csv2pg.rejects import read_rejects
from csv2pg.stages.importer import build_import
from csv2pg.stages.render import build_load

DATA = Path(__file__).resolve().parent.parent / "data"
pytestmark = pytest.mark.usefixtures("pgloader")


def column(name: str, type_: str, *, nullable: bool = True,
           null_tokens: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"header": name, "column": name, "type": type_, "nullable": nullable,
            "confidence": 1.0, "reason": "test", "source": "heuristic",
            "null_tokens": list(null_tokens)}


def schema_of(table: str, columns: list[dict[str, Any]], db_schema: str = "public") -> dict[str, Any]:
    return {"schema_version": 1, "table": table, "db_schema": db_schema,
            "inputs": {"types": "0" * 32, "overrides": "0" * 32}, "columns": columns}


def sample_of(table: str, rows: int, *, encoding: str = "utf-8", delimiter: str = ",",
              quotechar: str | None = '"', escapechar: str | None = None, header_lines: int = 1,
              line_terminator: str = "\n") -> dict[str, Any]:
    return {"schema_version": 1, "table": table,
            "inputs": {"csv": "0" * 32, "options": "0" * 32},
            "dialect": {"encoding": encoding, "delimiter": delimiter, "quotechar": quotechar,
                        "escapechar": escapechar, "has_header": header_lines > 0,
                        "header_lines": header_lines, "line_terminator": line_terminator},
            "rows": rows, "columns": [], "problems": []}


PEOPLE = schema_of("people", [
    column("id", "bigint", nullable=False),
    column("name", "text"),
    column("born", "date", null_tokens=("NA",)),
    column("amount", "numeric(12,2)", null_tokens=("NA",)),
    column("active", "boolean", nullable=False),
])
VENTES = schema_of("ventes", [
    column("région", "text", null_tokens=("N/A",)),
    column("libellé", "text", null_tokens=("N/A",)),
    column("montant", "numeric", null_tokens=("-",)),
    column("note", "text"),
], db_schema="Données 2024")
MEASURES = schema_of("measures", [
    column("column_1", "integer", nullable=False),
    column("column_2", "text"),
    column("column_3", "jsonb", null_tokens=("null",)),
])


@pytest.fixture
def database(fresh_database_url: str, tmp_path: Path) -> db.Database:
    return db.resolve_database(fresh_database_url, tmp_path / "build")


def render(work: Path, schema: dict[str, Any], sample: dict[str, Any]) -> Path:
    load_text, script_text = build_load(schema, sample["dialect"], sample["rows"],
                                        db.staging_name(schema["table"]))
    work.mkdir(parents=True, exist_ok=True)
    load = work / f"{schema['table']}.load"
    load.write_text(load_text, encoding="utf-8")
    (work / f"{schema['table']}_import.sh").write_text(script_text, encoding="utf-8")
    return load


def run_import(database: db.Database, work: Path, schema: dict[str, Any], sample: dict[str, Any],
               csv_path: Path, max_rejects: int = 0) -> dict[str, Any]:
    load = render(work, schema, sample)
    return build_import(
        table_name=schema["table"], table_schema=schema, sample=sample, load_file=load,
        csv_path=csv_path, csv_hash=hash_file_uncached(csv_path), load_hash=hash_file_uncached(load),
        database=database, work_dir=work, max_rejects=max_rejects)


def query(database: db.Database, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with db.connected(database) as conn:
        return conn.execute(text, params).fetchall()  # type: ignore[arg-type]


def columns_of(database: db.Database, db_schema: str, table: str) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in query(  # type: ignore[misc]
        database, "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position", (db_schema, table))]


def tables_of(database: db.Database, db_schema: str) -> list[str]:
    return [r[0] for r in query(database, "SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = %s ORDER BY 1", (db_schema,))]


# --------------------------------------------------------------------------------------------


def test_import_people(database: db.Database, tmp_path: Path) -> None:
    csv_path = DATA / "import_people.csv"
    stamp = run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5), csv_path)

    assert validation_errors("import", {**stamp, "schema_version": 1}) == []
    identity = database.identity()
    assert stamp["table"] == "public.people"
    assert stamp["rows"] == 5
    assert stamp["rejects"] == 0
    assert stamp["engine"] == "pgloader"
    assert stamp["database"] == identity
    assert stamp["inputs"]["csv"] == hash_file_uncached(csv_path)
    assert stamp["inputs"]["database"] == hash_value(identity)
    assert stamp["started_at"].endswith("Z")
    assert "://" not in str(stamp)

    assert columns_of(database, "public", "people") == [
        ("id", "bigint", "NO"), ("name", "text", "YES"), ("born", "date", "YES"),
        ("amount", "numeric", "YES"), ("active", "boolean", "NO")]
    rows = query(database, "SELECT id, name, born::text, amount::text, active FROM people ORDER BY id")
    assert rows == [
        (1, "Zoë", "1990-01-02", "12.50", True),
        (2, "Smith, John", None, None, False),   # NA is a null token of born and amount
        (3, None, "1985-12-31", None, True),     # empty unquoted: NULL everywhere
        (4, "", "2001-02-03", None, False),      # quoted "": text keeps it, numeric gets NULL
        (5, "  padded  ", "2000-01-01", "-3.25", True),   # blanks kept, like csv2pg's parse
    ]
    assert tables_of(database, "public") == ["people"]   # no staging table left


def test_import_cp1252_text_is_the_source_text(database: db.Database, tmp_path: Path) -> None:
    csv_path = DATA / "import_ventes_cp1252.csv"
    sample = sample_of("ventes", 3, encoding="cp1252", delimiter=";", line_terminator="\r\n")
    stamp = run_import(database, tmp_path / "ventes", VENTES, sample, csv_path)
    assert stamp["table"] == "Données 2024.ventes"
    assert stamp["rows"] == 3

    with open(csv_path, encoding="cp1252", newline="") as handle:
        source = list(csv.reader(handle, delimiter=";"))[1:]
    loaded = query(database, 'SELECT "région", "libellé", montant::text, note '
                             'FROM "Données 2024".ventes')
    assert loaded == [
        (source[0][0], source[0][1], "1234.50", "déjà vu"),   # no CR left from the CRLF
        (source[1][0], None, None, None),
        (source[2][0], source[2][1], "12", "fin ; ici"),
    ]
    assert loaded[0][1] == "Crème brûlée « spéciale » à 5 €"
    assert loaded[2][1] == "Œuvre; très « chère »"


def test_import_tab_separated_without_header_and_with_a_bom(database: db.Database,
                                                            tmp_path: Path) -> None:
    sample = sample_of("measures", 3, encoding="utf-8-sig", delimiter="\t", quotechar=None,
                       header_lines=0)
    stamp = run_import(database, tmp_path / "measures", MEASURES, sample,
                       DATA / "import_measures_bom.tsv")
    assert stamp["rows"] == 3
    assert query(database, "SELECT column_1, column_2, column_3::text FROM measures ORDER BY 1") == [
        (1, "alpha", '{"a": 1}'), (2, "beta", None), (3, None, "[1, 2]")]


def test_rejected_row_fails_and_leaves_the_live_table(database: db.Database, tmp_path: Path) -> None:
    run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5),
               DATA / "import_people.csv")
    bad = DATA / "import_people_bad.csv"
    with pytest.raises(ImportFailedError) as info:
        run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 4), bad)

    message = str(info.value)
    assert message.splitlines()[0] == (
        f"{bad}: the import of public.people does not add up: 1 of the file's 4 data rows were "
        f"rejected (max_rejects = 0), the first at {bad}:3; pgloader imported 3, the staging "
        "table holds 3; public.people was left as it was")
    assert 'invalid input syntax for type numeric: "abc"' in message
    reject_file = tmp_path / "people" / "rejects.jsonl"
    assert f"rejected rows: {reject_file}" in message
    # The row pgloader refused, traced back to its line in the source, with the reason.
    assert read_rejects(reject_file) == [{
        "file": str(bad), "line": 3, "text": '2,"Smith, John",NA,abc,false',
        "reason": 'invalid input syntax for type numeric: "abc" (column amount)'}]
    assert info.value.exit_code == 1
    assert info.value.table == "people"

    assert query(database, "SELECT count(*) FROM people") == [(5,)]   # the previous version
    assert tables_of(database, "public") == ["people"]                 # staging dropped


def test_rejects_within_max_rejects_are_counted(database: db.Database, tmp_path: Path) -> None:
    stamp = run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 4),
                       DATA / "import_people_bad.csv", max_rejects=1)
    assert (stamp["rows"], stamp["rejects"]) == (3, 1)
    assert query(database, "SELECT id FROM people ORDER BY id") == [(1,), (3,), (4,)]


def test_row_count_disagreement_fails(database: db.Database, tmp_path: Path) -> None:
    # csv2pg's parse said 6 rows; pgloader finds 5, so csv2pg loads again with its own engine,
    # which finds 5 too: someone must be wrong, nothing is swapped in.
    with pytest.raises(ImportFailedError) as info:
        run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 6),
                   DATA / "import_people.csv")
    assert "the file has 6 data rows (csv2pg's parse), copy read 5 and imported 5, the " \
           "staging table holds 5" in str(info.value)
    assert "the file changed since it was profiled" in str(info.value)
    assert tables_of(database, "public") == []


def test_wrong_encoding_fails_although_pgloader_exits_0(database: db.Database,
                                                        tmp_path: Path) -> None:
    sample = sample_of("ventes", 3, encoding="utf-8", delimiter=";", line_terminator="\r\n")
    with pytest.raises(ImportFailedError) as info:
        run_import(database, tmp_path / "ventes", VENTES, sample, DATA / "import_ventes_cp1252.csv")
    # The undecodable byte is in the header line: a pgloader thread dies and pgloader would
    # wait forever; csv2pg stops it after a few seconds instead of the stall timeout.
    message = str(info.value)
    assert ("the file has 3 data rows (csv2pg's parse), pgloader read 0 and imported 0, the "
            "staging table holds 0") in message
    assert ("a pgloader thread failed and pgloader did not exit (pgloader 3.6 waits forever "
            "then); csv2pg stopped it") in message
    assert "pgloader said: ERROR A thread failed with error: :UTF-8 stream decoding error on" in message
    assert "the octet sequence #(233 103 105) cannot be decoded." in message
    assert tables_of(database, "Données 2024") == []


def test_undecodable_data_row_fails(database: db.Database, tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,name,born,amount,active\n1,Zoë,,,true\n2,Zoé,,,false\n".encode("latin-1"))
    # pgloader stops at the bad byte with exit status 0 and says which rows it lost nowhere;
    # csv2pg loads the file again with its own engine, which names the line.
    with pytest.raises(DataError) as info:
        run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 2), latin1)
    assert str(info.value).splitlines()[0] == (
        f"{latin1}:2: the file is not valid utf-8: cannot decode the bytes b'\\xeb'")
    assert info.value.exit_code == 1
    assert tables_of(database, "public") == []


def test_not_null_violation_fails_the_swap(database: db.Database, tmp_path: Path) -> None:
    strict = schema_of("people", [dict(c, nullable=False) for c in PEOPLE["columns"]])
    csv_path = DATA / "import_people.csv"
    with pytest.raises(ImportFailedError) as info:
        run_import(database, tmp_path / "people", strict, sample_of("people", 5), csv_path)
    # name and born both have empty values; PostgreSQL names one of them.
    assert re.fullmatch(
        re.escape(f"{csv_path}: could not swap the loaded rows into public.people: column ")
        + '"(name|born)"' + re.escape(
            " of relation \"people__csv2pg_staging\" contains null values; the table was left as "
            "it was\n  hint: a column the schema marks nullable: false has empty values; fix the "
            "schema"), str(info.value)), str(info.value)
    assert tables_of(database, "public") == []


def test_a_dependent_view_survives_the_swap(database: db.Database, tmp_path: Path) -> None:
    # The swap re-creates dependent views on the new table (csv2pg/swap.py; tests/e2e/test_state*).
    csv_path = DATA / "import_people.csv"
    run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5), csv_path)
    with db.connected(database) as conn:
        conn.execute("CREATE VIEW rich AS SELECT * FROM people WHERE amount > 10")
    run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5), csv_path)
    assert tables_of(database, "public") == ["people", "rich"]
    assert query(database, "SELECT count(*) FROM rich") == [(1,)]


def test_a_file_with_a_header_only(database: db.Database, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("id,name,born,amount,active\n", encoding="utf-8")
    stamp = run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 0), empty)
    assert (stamp["rows"], stamp["rejects"]) == (0, 0)
    assert columns_of(database, "public", "people")[0] == ("id", "bigint", "NO")


def test_a_stale_load_file_is_refused(database: db.Database, tmp_path: Path) -> None:
    work = tmp_path / "people"
    sample = sample_of("people", 5)
    load_text, _ = build_load(PEOPLE, sample["dialect"], 5, "people_old_staging")
    work.mkdir()
    (work / "people.load").write_text(load_text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        build_import(table_name="people", table_schema=PEOPLE, sample=sample,
                     load_file=work / "people.load", csv_path=DATA / "import_people.csv",
                     csv_hash="0" * 32, load_hash="0" * 32, database=database, work_dir=work,
                     max_rejects=0)
    assert str(info.value) == (
        f"{work / 'people.load'}: the pgloader command file does not load into "
        '"public"."people__csv2pg_staging"\n'
        "  hint: it was edited or is stale; `csv2pg build` regenerates it")


def test_a_path_with_a_single_quote(database: db.Database, tmp_path: Path) -> None:
    odd = tmp_path / "it's & data" / "people (copy).csv"
    odd.parent.mkdir()
    odd.write_bytes((DATA / "import_people.csv").read_bytes())
    stamp = run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5), odd)
    assert stamp["rows"] == 5


# --- by hand ---------------------------------------------------------------------------------


def test_import_script_by_hand(database: db.Database, tmp_path: Path) -> None:
    work = tmp_path / "people"
    render(work, PEOPLE, sample_of("people", 5))
    target, extra = database.pgloader_target()
    env = {**os.environ, **extra, "CSV2PG_SOURCE": str(DATA / "import_people.csv"),
           "CSV2PG_TARGET": target, "CSV2PG_DATABASE_URL": database.url()}
    result = subprocess.run(["bash", str(work / "people_import.sh")], env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith('loaded 5 rows into "public"."people"\n')
    assert columns_of(database, "public", "people")[0] == ("id", "bigint", "NO")
    assert query(database, "SELECT count(*) FROM people") == [(5,)]
    assert tables_of(database, "public") == ["people"]

    # A bad file: the script fails and the table keeps its rows.
    env["CSV2PG_SOURCE"] = str(DATA / "import_people_bad.csv")
    result = subprocess.run(["bash", str(work / "people_import.sh")], env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 1
    assert "the file has 5 data rows but 3 rows arrived in the staging table" in result.stderr
    assert query(database, "SELECT count(*) FROM people") == [(5,)]
    assert tables_of(database, "public") == ["people"]


# --- the engine's own failure modes ----------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (pgloader then waits)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_stalled_pgloader_is_stopped(silent_server: int, tmp_path: Path) -> None:
    load = render(tmp_path / "people", PEOPLE, sample_of("people", 5))
    env = {"CSV2PG_SOURCE": str(DATA / "import_people.csv"),
           "CSV2PG_TARGET": f"postgresql://127.0.0.1:{silent_server}/?dbname=x&user=y&sslmode=disable"}
    with pytest.raises(ImportFailedError) as info:
        run_pgloader(load, tmp_path / "people", env, stall_timeout=2)
    assert str(info.value).startswith(
        f"{tmp_path / 'people' / 'pgloader' / 'pgloader.log'}: pgloader stalled: nothing moved "
        "for 2 s (no log output, no I/O, no CPU time), so csv2pg stopped it")
    assert subprocess.run(["pgrep", "-f", str(load)], check=False).returncode == 1


def test_missing_pgloader_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DataError) as info:
        run_pgloader(tmp_path / "x.load", tmp_path, {})
    assert str(info.value) == (
        "pgloader is not installed (no `pgloader` on PATH)\n"
        "  hint: install pgloader: `apt-get install -y pgloader` (Debian, Ubuntu) or "
        "`brew install pgloader` (macOS); or use the built-in engine (engine = \"copy\")")


def test_progress_reports_bytes_read(database: db.Database, tmp_path: Path) -> None:
    seen: list[int] = []
    big = tmp_path / "big.csv"
    with open(big, "w", encoding="utf-8") as handle:
        handle.write("id,name,born,amount,active\n")
        for i in range(200_000):
            handle.write(f"{i},name {i},2000-01-01,{i}.5,true\n")
    load = render(tmp_path / "people", PEOPLE, sample_of("people", 200_000))
    stamp = build_import(
        table_name="people", table_schema=PEOPLE, sample=sample_of("people", 200_000),
        load_file=load, csv_path=big, csv_hash="0" * 32, load_hash="0" * 32, database=database,
        work_dir=tmp_path / "people", max_rejects=0, on_progress=seen.append)
    assert stamp["rows"] == 200_000
    assert seen, "pgloader runs for seconds here: at least one poll saw its read offset"
    assert seen == sorted(seen)
    assert all(0 <= n <= big.stat().st_size for n in seen)


def test_psycopg_sees_what_pgloader_loaded(database: db.Database, tmp_path: Path) -> None:
    run_import(database, tmp_path / "people", PEOPLE, sample_of("people", 5),
               DATA / "import_people.csv")
    with psycopg.connect(database.url()) as conn:
        row = conn.execute("SELECT sum(amount) FROM people").fetchone()
    assert row is not None and str(row[0]) == "9.25"


# --- a password: PGPASSWORD only ------------------------------------------------------------

PASSWORD = "p@ss:w/rd#1% ' \"x"


@pytest.fixture
def password_url() -> Iterator[str]:
    """A libpq URL (with password) of a role that must authenticate with SCRAM, on an embedded
    server of its own (outside pytest's basetemp, see tests/unit/test_db.py)."""
    root = Path(tempfile.mkdtemp(prefix="csv2pg-test-"))
    pgdata = root / "pg"
    try:
        url = db.embedded_start(pgdata)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL('CREATE ROLE "app user" LOGIN PASSWORD {}').format(
                psycopg.sql.Literal(PASSWORD)))
            conn.execute('CREATE DATABASE "my db" OWNER "app user"')
            hba = pgdata / "pg_hba.conf"
            hba.write_text('local all "app user" scram-sha-256\n' + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")
        socket_dir = db.embedded_status(pgdata)["socket_dir"]
        yield (f"postgresql://app%20user:{urllib.parse.quote(PASSWORD, safe='')}@/my%20db"
               f"?host={urllib.parse.quote(socket_dir, safe='')}")
    finally:
        db.embedded_stop(pgdata)
        shutil.rmtree(root, ignore_errors=True)


def test_the_password_reaches_pgloader_through_the_environment_only(password_url: str,
                                                                    tmp_path: Path) -> None:
    database = db.resolve_database(password_url, tmp_path)
    target, extra = database.pgloader_target()
    assert extra == {"PGPASSWORD": PASSWORD}
    assert "p%40ss" not in target and "p@ss" not in target
    work = tmp_path / "people"
    stamp = run_import(database, work, PEOPLE, sample_of("people", 5), DATA / "import_people.csv")
    assert stamp["rows"] == 5
    assert stamp["database"]["database"] == "my db"
    for path in [*work.rglob("*"), tmp_path]:
        if path.is_file():
            text = path.read_bytes()
            assert b"p@ss" not in text and b"p%40ss" not in text, path

    wrong = db.resolve_database(password_url.replace("p%40ss", "nope"), tmp_path)
    with pytest.raises(DatabaseError) as info:
        run_import(wrong, work, PEOPLE, sample_of("people", 5), DATA / "import_people.csv")
    assert "password authentication failed for user \"app user\"" in str(info.value)
    assert "nope" not in str(info.value)
