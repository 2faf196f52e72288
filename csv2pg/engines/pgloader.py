"""The pgloader engine: run a generated ``.load`` file and report what pgloader saw.

Reads the ``.load`` file and the environment it is given (``CSV2PG_SOURCE``,
``CSV2PG_TARGET``, ``PGPASSWORD``); writes only under ``<work_dir>/pgloader/`` (its log, the
``--summary`` CSV, reject files, its console output). It decides nothing: the importer
compares the numbers with its own, because pgloader's exit status does not say whether the
rows arrived (tech.md 3.5: exit 0 after rejects, after a mid-file parse error, after a wrong
encoding).

pgloader 3.6 can fall into the SBCL debugger and wait on stdin (tech.md 3.8), so it runs with
stdin closed, in its own process group, under a watchdog that kills the group when nothing
moves for ``stall_timeout`` seconds: not its log, summary or console output, nor (on Linux)
its CPU time or I/O counters.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csv2pg.dialect import Dialect
from csv2pg.engines.copy import csv_text
from csv2pg.errors import DataError, ImportFailedError
from csv2pg.records import open_records
from csv2pg.transforms import RowTransform

INSTALL_HINT = ("install pgloader: `apt-get install -y pgloader` (Debian, Ubuntu) or "
                "`brew install pgloader` (macOS); or use the built-in engine (engine = \"copy\")")
POLL_S = 0.25
FAILED_THREAD_GRACE_S = 5.0
# After this, pgloader 3.6 never exits by itself: a worker thread died (e.g. a decoding error
# in the header line) and the main thread waits for it forever.
_HANG_MARKERS = (b"A thread failed with error",)
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")
_LEVEL = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+Z )?(ERROR|FATAL) ")
# Lines of pgloader's own summary sections, i.e. not a table.
_SECTIONS = {"fetch", "before load", "after load", "files processed", "copy threads completion",
             "total import time", "create indexes", "index build completion", "reset sequences",
             "primary keys", "foreign keys", "install comments", "fetch meta data",
             "create schemas", "create sql types", "create tables", "set table oids",
             "drop foreign keys", "triggers", "load errors"}


@dataclass(frozen=True)
class SummaryLine:
    """One line of pgloader's ``--summary x.csv``: ``"name";read;imported;errors;bytes;"time"``."""

    name: str
    read: int
    imported: int
    errors: int


@dataclass(frozen=True)
class PgloaderResult:
    read: int                      # rows pgloader read for the table (0 when it never got there)
    imported: int                  # rows it says it loaded
    rejects_logged: int            # rows in its reject files (*.dat)
    returncode: int
    log_path: Path
    summary: tuple[SummaryLine, ...]
    reject_files: tuple[Path, ...] = ()
    messages: tuple[str, ...] = ()  # the first ERROR/FATAL lines of its log and output
    output_path: Path | None = None
    stopped: str | None = None     # why csv2pg stopped pgloader, when it did

    @property
    def rejected(self) -> int:
        """Rows read but not loaded (pgloader's own ``errors`` column double-counts)."""
        return max(self.read - self.imported, 0)


def pgloader_available() -> bool:
    """Whether a ``pgloader`` is on PATH (the importer falls back to ``copy`` otherwise)."""
    return shutil.which("pgloader") is not None


def pgloader_executable() -> str:
    found = shutil.which("pgloader")
    if found is None:
        raise DataError("pgloader is not installed (no `pgloader` on PATH)", hint=INSTALL_HINT)
    return found


def run_pgloader(load_file: Path, work_dir: Path, env: dict[str, str], *,
                 stall_timeout: float = 120, on_progress: Callable[[int], None] | None = None,
                 table: str | None = None) -> PgloaderResult:
    """Run pgloader on ``load_file``; its numbers, logs and reject files.

    ``env`` is added to this process's environment. ``on_progress`` is called with the
    number of bytes of ``CSV2PG_SOURCE`` read so far, when that can be known (Linux).
    ``table`` is the target as the .load file names it (e.g. ``"public"."t"``), to pick its
    summary line; without it the one line that is not a pgloader section is used.
    """
    exe = pgloader_executable()
    root = Path(work_dir) / "pgloader"
    if root.exists():
        shutil.rmtree(root)   # stale summaries and reject files would be read as this run's
    root.mkdir(parents=True)
    summary_path, log_path, output_path = root / "summary.csv", root / "pgloader.log", root / "output.txt"
    command = [*_die_with_parent(), exe, "--root-dir", str(root), "--summary", str(summary_path),
               "--logfile", str(log_path), str(Path(load_file).absolute())]
    source = env.get("CSV2PG_SOURCE")
    with open(output_path, "wb") as output:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=root,
                                   start_new_session=True)
        try:
            stopped = _watch(process, [log_path, summary_path, output_path], stall_timeout,
                             source, on_progress)
        except BaseException:
            _kill_group(process)
            raise
    summary = parse_summary(summary_path)
    line = pick_table_line(summary, table)
    reject_files = tuple(sorted(p for p in root.rglob("*.dat") if p.is_file()))
    return PgloaderResult(
        read=line.read if line else 0, imported=line.imported if line else 0,
        rejects_logged=sum(_count_rows(p) for p in reject_files),
        returncode=process.returncode if process.returncode is not None else -9,
        log_path=log_path, summary=summary, reject_files=reject_files,
        messages=_messages([log_path, output_path]), output_path=output_path, stopped=stopped)


def _die_with_parent() -> list[str]:
    """A command prefix that kills pgloader when csv2pg dies (Linux: util-linux ``setpriv
    --pdeathsig``, which then runs pgloader in its own place, same pid).

    pgloader runs in a session of its own (so that csv2pg can stop its whole group); killed
    alone, csv2pg would leave it writing into a staging table that the next build drops and
    creates again. Without setpriv (not Linux) nothing is added.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL"] if setpriv and sys.platform == "linux" else []


def _watch(process: subprocess.Popen[bytes], files: list[Path], stall_timeout: float,
           source: str | None, on_progress: Callable[[int], None] | None) -> str | None:
    """Wait for pgloader; why it was stopped (None when it ended by itself)."""
    last_signature: tuple[int, ...] = ()
    last_change = time.monotonic()
    last_position = -1
    source_real = os.path.realpath(source) if source else None
    log, log_offset, failed_at = files[0], 0, None
    while True:
        try:
            process.wait(timeout=POLL_S)
            return None
        except subprocess.TimeoutExpired:
            pass
        signature = tuple(_size(p) for p in files) + _proc_activity(process.pid)
        now = time.monotonic()
        if signature != last_signature:
            last_signature, last_change = signature, now
        if failed_at is None:
            chunk, log_offset = _read_from(log, log_offset)
            if any(marker in chunk for marker in _HANG_MARKERS):
                failed_at = now
        if failed_at is not None and now - failed_at > FAILED_THREAD_GRACE_S:
            _kill_group(process)
            return ("a pgloader thread failed and pgloader did not exit (pgloader 3.6 waits "
                    "forever then); csv2pg stopped it")
        if on_progress is not None and source_real is not None:
            position = _source_position(process.pid, source_real)
            if position is not None and position != last_position:
                last_position = position
                on_progress(position)
        if now - last_change > stall_timeout:
            _kill_group(process)
            raise ImportFailedError(
                f"pgloader stalled: nothing moved for {stall_timeout:g} s (no log output, no "
                "I/O, no CPU time), so csv2pg stopped it; it may have run out of heap and "
                "dropped into its debugger", path=log,
                hint="read the log named above; for very wide or big files try the built-in "
                     "engine (engine = \"copy\")")


def _read_from(path: Path, offset: int) -> tuple[bytes, int]:
    """The bytes of ``path`` after ``offset`` (keeping a little overlap for split markers)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(offset - 64, 0))
            data = handle.read()
    except OSError:
        return b"", offset
    return data, max(offset - 64, 0) + len(data)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _proc_activity(pid: int) -> tuple[int, ...]:
    """CPU ticks and I/O counters of ``pid`` from /proc (empty where there is no /proc)."""
    values: list[int] = []
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        values += [int(fields[11]), int(fields[12])]          # utime, stime
    except (OSError, ValueError, IndexError):
        pass
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("rchar", "wchar"):
                values.append(int(value))
    except (OSError, ValueError):
        pass
    return tuple(values)


def _source_position(pid: int, source_real: str) -> int | None:
    """How far pgloader has read into the CSV file: the offset of its descriptor (Linux)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) != source_real:
                    continue
                for line in (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().splitlines():
                    if line.startswith("pos:"):
                        return int(line.split()[1])
            except (OSError, ValueError):
                continue
    except OSError:
        return None
    return None


def parse_summary(path: Path) -> tuple[SummaryLine, ...]:
    """The lines of a ``--summary x.csv`` file (empty when pgloader did not write one)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    lines: list[SummaryLine] = []
    reader = csv.reader(io.StringIO(text), delimiter=";", quotechar='"', escapechar="\\",
                        doublequote=False)
    for row in reader:
        if len(row) < 4:
            continue
        try:
            lines.append(SummaryLine(row[0], int(row[1]), int(row[2]), int(row[3])))
        except ValueError:
            continue
    return tuple(lines)


def pick_table_line(summary: tuple[SummaryLine, ...], table: str | None) -> SummaryLine | None:
    """The summary line of the loaded table."""
    if table is not None:
        wanted = table.replace('"', "")
        for line in summary:
            if line.name.replace('"', "") == wanted:
                return line
        return None
    candidates = [line for line in summary if line.name.lower() not in _SECTIONS]
    return candidates[0] if len(candidates) == 1 else None


def _count_rows(dat: Path) -> int:
    """Rows in a reject file: COPY text lines, which pgloader follows with an empty line."""
    try:
        with open(dat, "rb") as handle:
            return sum(1 for line in handle if line.strip(b"\r\n"))
    except OSError:
        return 0


def _messages(paths: list[Path], limit: int = 5) -> tuple[str, ...]:
    found: list[str] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines):
            if line.strip() == "KABOOM!":
                # The condition's name and text are on the next line of the console output.
                line = next((ln for ln in lines[number + 1:] if ln.strip()), line)
            elif not _LEVEL.match(line) or "Date/time:" in line:
                continue
            else:
                # A multi-line condition continues on indented lines.
                for more in lines[number + 1:number + 6]:
                    if not more.strip():
                        continue
                    if not more[:1].isspace():
                        break
                    line += " " + more
            text = " ".join(_TIMESTAMP.sub("", line).split())[:400]
            if text and text not in found:
                found.append(text)
            if len(found) >= limit:
                return tuple(found)
    return tuple(found)


# --- rejected rows, traced back to their source lines ------------------------------------

_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_COPY_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_LOG_ERROR = re.compile(r"Database error [0-9A-Z]{5}: (.*)$")
_LOG_CONTEXT = re.compile(r"CONTEXT: COPY [^,]*, line \d+, column ([^:]+):")


def _copy_text_field(value: str) -> str | None:
    if value == "\\N":
        return None
    return _COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES.get(m.group(1), m.group(1)), value)


def read_reject_rows(dat: Path) -> list[list[str | None]]:
    """The rows of a pgloader ``.dat`` reject file (COPY text format, blank line after each)."""
    rows: list[list[str | None]] = []
    with open(dat, encoding="utf-8", errors="replace", newline="\n") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line:
                rows.append([_copy_text_field(v) for v in line.split("\t")])
    return rows


def read_reject_reasons(log: Path) -> list[str]:
    """The reason of each rejected row in a pgloader ``.log`` reject file, in order."""
    reasons: list[str] = []
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return reasons
    for line in lines:
        error = _LOG_ERROR.search(line)
        if error:
            reasons.append(" ".join(error.group(1).split()))
            continue
        context = _LOG_CONTEXT.search(line)
        if context and reasons and "(column " not in reasons[-1]:
            reasons[-1] += f" (column {context.group(1).strip()})"
    return reasons


def pgloader_rejects(result: PgloaderResult, files: Sequence[Path], dialect: Dialect,
                     columns: Sequence[dict[str, Any]], transform: RowTransform | None,
                     add: Callable[[Path | None, int | None, str, str], None]) -> None:
    """Each row of pgloader's reject files, found again in the source with its line.

    pgloader writes a rejected row after its own transformation and without a line number
    (tech.md 3.4), so the source records are read again (only when there are rejects) and
    compared with the rejected rows as pgloader would have sent them: null tokens and
    empty values as NULL.
    """
    wanted: dict[tuple[str | None, ...], list[str]] = {}
    pending = 0
    for dat in result.reject_files:
        reasons = read_reject_reasons(dat.with_suffix(".log"))
        for number, row in enumerate(read_reject_rows(dat)):
            reason = reasons[number] if number < len(reasons) else "PostgreSQL refused the row"
            wanted.setdefault(_key(row), []).append(reason)
            pending += 1
    tokens = [frozenset(c.get("null_tokens", [])) | {""} for c in columns]
    for path in files:
        if not pending:
            break
        for line, fields in open_records(Path(path), dialect):
            values = fields if transform is None else transform(list(fields))
            key = tuple(None if v in tokens[i] else v for i, v in enumerate(values)) \
                if len(values) == len(tokens) else None
            if key is None or key not in wanted:
                continue
            add(Path(path), line, csv_text(fields, dialect), wanted[key].pop(0))
            if not wanted[key]:
                del wanted[key]
            pending -= 1
            if not pending:
                break
    for key, reasons in wanted.items():
        for reason in reasons:
            add(None, None, "\t".join("\\N" if v is None else v for v in key),
                f"{reason}; csv2pg did not find the row in the source as pgloader sent it")


def _key(row: list[str | None]) -> tuple[str | None, ...]:
    return tuple(None if v == "" else v for v in row)
