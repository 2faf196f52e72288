"""The profile's main pass in compiled code: ``profile.scan``'s counts at DuckDB's reading speed.

Contract: ``scan(path, dialect, n_columns, null_tokens, proposals, unique)`` reads ``path``
once with ``_c/fastscan.c`` (one thread per CPU, each over its own byte range) and returns
a ``Scan``: the records; per column the ``profile.ColumnCounts`` that ``profile.scan``
gives for the column's proposal, every null token read as NULL and counted; the columns it
left ``unsettled``; and exact uniqueness for the ``unique`` columns. Where it cannot answer
for the whole file it returns why, as a string, and the caller scans with DuckDB as before:
no C compiler (or ``CSV2PG_FASTSCAN=0``), a file DuckDB is not given either
(``profile.supports``), an encoding other than UTF-8, or a record it does not read exactly
as ``dialect.open_records`` does (another number of fields, a stray or unterminated quote,
a lone CR, a NUL byte, invalid UTF-8).

It judges only values of the proposal's tight shape (``predicates``: integers, plain and
exponent decimals, the boolean words, ISO dates, timestamps with and without zone, times,
uuids), taken as they are: the calendar, clock and zone ranges, integer ranges, decimal
digits, scale and bounds as ``pgtypes`` computes them (tests/unit/test_fastscan.py
compares the documents with the Python profile's). A value of any other shape (blanks
around it, a word, 19 integer digits, an inet) is not judged: its column is ``unsettled``
and the caller proves that column with DuckDB's exact predicates. The distinct estimate is
``colstats.DistinctSketch``'s (the K minimum xxh3_64 hashes), the Python profile's, not
DuckDB's HyperLogLog; uniqueness compares xxh3_128 hashes, the hash the build already
trusts to tell two files apart.

The library is compiled on first use with the system's C compiler (``CC``, else ``cc``)
into the user's cache directory (``$XDG_CACHE_HOME/csv2pg``), named by a hash of its
source and flags, and loaded with ctypes; the call releases the GIL.

Reads the CSV and the C source; writes only the compiled library. Imports no duckdb.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import xxhash

from csv2pg import profile
from csv2pg import records as records_module
from csv2pg.colstats import KMV_K
from csv2pg.dialect import Dialect

SOURCE_DIR = Path(__file__).parent / "_c"
MAX_TOKENS = 32
# Hashes kept for exact uniqueness, all columns together (16 bytes each: 256 MB). Past it
# the columns left are counted by DuckDB's count(DISTINCT), which spills to disk.
UNIQUE_LIMIT = 16_000_000
THREAD_BYTES = 16 << 20  # a thread for every this many bytes, up to the CPUs
MAX_THREADS = 16         # each keeps a 16 MB buffer and its own counts of every column

# The kinds of fastscan.c (enum kind): what a proposal's proof counts.
TEXT, INTEGER, NUMBER, OTHER = 0, 1, 2, 9
KIND: dict[str, int] = {
    "smallint": INTEGER, "integer": INTEGER, "bigint": INTEGER, "numeric": NUMBER,
    "double precision": NUMBER, "boolean": 3, "date": 4, "timestamp": 5, "timestamptz": 6,
    "time": 7, "uuid": 8,
}
STATUS: dict[int, str] = {
    1: "a read error", 2: "a record with another number of fields",
    3: "bytes that are not UTF-8", 4: "NUL bytes",
    5: "a quote inside an unquoted field or left open", 6: "a carriage return alone",
    7: "memory", 8: "a field over the csv module's size limit",
}


class ColumnResult(ctypes.Structure):
    """``col_result`` of fastscan.c, field for field."""

    _fields_ = [
        ("non_null", ctypes.c_int64), ("min_len", ctypes.c_int64),
        ("max_len", ctypes.c_int64), ("leading_zeros", ctypes.c_int64),
        ("tokens", ctypes.c_int64 * MAX_TOKENS), ("unsettled", ctypes.c_int64),
        ("ok_bigint", ctypes.c_int64), ("ok_integer", ctypes.c_int64),
        ("ok_smallint", ctypes.c_int64), ("ok_dates", ctypes.c_int64),
        ("has_int", ctypes.c_int64), ("int_min", ctypes.c_int64), ("int_max", ctypes.c_int64),
        ("has_shape", ctypes.c_int64), ("max_digits", ctypes.c_int64),
        ("max_scale", ctypes.c_int64), ("exponent", ctypes.c_int64),
        ("has_double", ctypes.c_int64), ("double_min", ctypes.c_double),
        ("double_max", ctypes.c_double),
        ("has_bound", ctypes.c_int64), ("bound_min", ctypes.c_int64),
        ("bound_max", ctypes.c_int64),
        ("distinct_kept", ctypes.c_int64), ("distinct_saturated", ctypes.c_int64),
        ("distinct_kth", ctypes.c_uint64), ("unique", ctypes.c_int64),
    ]


@dataclass
class Scan:
    rows: int
    counts: list[profile.ColumnCounts]
    unsettled: set[int]      # columns to prove with DuckDB (their proof counts are not taken)
    unique: dict[int, bool]  # exact, for the columns asked that stayed under UNIQUE_LIMIT


_lock = threading.Lock()
_loaded: list[ctypes.CDLL | None] = []


def library() -> ctypes.CDLL | None:
    """The compiled scanner, built on first use; None without a working C compiler."""
    with _lock:
        if not _loaded:
            _loaded.append(_build())
        return _loaded[0]


def _enabled() -> ctypes.CDLL | None:
    """The library, unless ``CSV2PG_FASTSCAN=0`` (read at each call: tests switch it)."""
    return None if os.environ.get("CSV2PG_FASTSCAN", "1") == "0" else library()


def _build(extra_flags: Sequence[str] = ()) -> ctypes.CDLL | None:
    sources = [SOURCE_DIR / "fastscan.c", SOURCE_DIR / "xxhash.h"]
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    flags = ["-O3", "-shared", "-fPIC", "-pthread", "-std=gnu11", *extra_flags]
    digest = xxhash.xxh3_64()
    for part in [*(s.read_bytes() for s in sources), compiler.encode(), " ".join(flags).encode()]:
        digest.update(part)
    cache = _cache_dir()
    if cache is None:
        return None
    target = cache / f"fastscan-{digest.hexdigest()}.so"
    try:
        lib = ctypes.CDLL(str(target)) if target.exists() else None
    except OSError:   # not a library (a damaged cache): built again
        lib = None
    if lib is None:
        if not _compile(compiler, [*flags, "-o"], sources[0], target):
            return None
        try:
            lib = ctypes.CDLL(str(target))
        except OSError:
            return None
    i64, p32 = ctypes.c_int64, ctypes.POINTER(ctypes.c_int32)
    lib.fastscan.argtypes = [
        ctypes.c_char_p, i64, ctypes.c_int, p32, p32, ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p), p32, ctypes.c_char, ctypes.c_char, ctypes.c_int,
        i64, i64, i64, ctypes.POINTER(ColumnResult), ctypes.POINTER(i64), ctypes.POINTER(i64)]
    lib.fastscan.restype = ctypes.c_int
    lib.fastscan_record_starts.argtypes = [
        ctypes.c_char_p, i64, i64, ctypes.c_char, ctypes.POINTER(i64), i64,
        ctypes.POINTER(i64), ctypes.POINTER(i64)]
    lib.fastscan_record_starts.restype = i64
    lib.fastscan_result_size.restype = ctypes.c_int
    if lib.fastscan_result_size() != ctypes.sizeof(ColumnResult):
        return None
    return lib


def _compile(compiler: str, flags: list[str], source: Path, target: Path) -> bool:
    """Compile into a temporary name, then rename: a concurrent build writes the same bytes."""
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        built = Path(work) / target.name
        try:
            done = subprocess.run([compiler, *flags, str(built), str(source)],
                                  capture_output=True, check=False)
        except OSError:
            return False
        if done.returncode != 0 or not built.exists():
            return False
        os.replace(built, target)
    return True


def _cache_dir() -> Path | None:
    """Where the library is kept: ``$XDG_CACHE_HOME/csv2pg`` (``~/.cache/csv2pg``), else a
    directory of this user's under the temporary directory. None when neither is ours alone
    (a library another user could replace is never loaded)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for path in (Path(base) / "csv2pg", Path(tempfile.gettempdir()) / f"csv2pg-{os.getuid()}"):
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = path.stat()
            if info.st_uid == os.getuid() and not info.st_mode & 0o022 and os.access(path, os.W_OK):
                return path
        except OSError:
            continue
    return None


def data_start(path: Path, dialect: Dialect) -> int:
    """The byte offset of the first data record: past ``header_lines`` physical lines, or
    when there are none past the byte-order mark the decoder drops and the second one
    ``records.LineSource`` drops (``profile.supports`` refuses a mark in a plain "utf-8")."""
    with open(path, "rb") as handle:
        if dialect.header_lines == 0:
            head = handle.read(6)
            if not head.startswith(codecs.BOM_UTF8):
                return 0
            return 6 if head[3:] == codecs.BOM_UTF8 else 3
        lines, offset = 0, 0
        while block := handle.read(1 << 20):
            start = 0
            while (found := block.find(b"\n", start)) >= 0:
                lines += 1
                if lines == dialect.header_lines:
                    return offset + found + 1
                start = found + 1
            offset += len(block)
    return offset


def scan(path: Path, dialect: Dialect, n_columns: int, null_tokens: frozenset[str],
         proposals: Sequence[str | None], unique: Sequence[int] = (),
         threads: int | None = None, thread_bytes: int | None = None) -> Scan | str:
    """One compiled pass over ``path`` (see the module docstring), or why there is none."""
    lib = _enabled()
    quote = dialect.quotechar or '"'
    why = (("CSV2PG_FASTSCAN=0 or no C compiler" if lib is None else None)
           or profile.supports(path, dialect, n_columns)
           or (None if dialect.encoding in ("utf-8", "utf-8-sig") else f"encoding {dialect.encoding}")
           or (None if len(null_tokens) <= MAX_TOKENS else "more than 32 null tokens")
           or (None if len(dialect.delimiter.encode()) == len(quote.encode()) == 1
               else "a delimiter or quote of several bytes"))
    if why is not None or lib is None:
        return why or "no library"
    tokens = sorted(null_tokens)
    encoded = [t.encode("utf-8") for t in tokens]
    asked = set(unique)
    kinds = [TEXT if p is None else KIND.get(p, OTHER) for p in proposals]
    out = (ColumnResult * n_columns)()
    records, offset = ctypes.c_int64(0), ctypes.c_int64(-1)
    status = lib.fastscan(
        str(path).encode(), data_start(path, dialect), n_columns,
        (ctypes.c_int32 * n_columns)(*kinds),
        (ctypes.c_int32 * n_columns)(*[int(i in asked) for i in range(n_columns)]),
        len(encoded), (ctypes.c_char_p * max(len(encoded), 1))(*encoded),
        (ctypes.c_int32 * max(len(encoded), 1))(*[len(t) for t in encoded]),
        dialect.delimiter.encode(), quote.encode(), threads or min(os.cpu_count() or 1, MAX_THREADS),
        thread_bytes or THREAD_BYTES, UNIQUE_LIMIT, records_module.FIELD_SIZE_LIMIT, out,
        ctypes.byref(records),
        ctypes.byref(offset))
    if status != 0:
        return f"{STATUS.get(status, f'status {status}')} at byte {offset.value}"
    return Scan(rows=records.value,
                counts=[_counts(out[i], proposals[i], tokens) for i in range(n_columns)],
                unsettled={i for i in range(n_columns) if out[i].unsettled or kinds[i] == OTHER},
                unique={i: bool(out[i].unique) for i in asked if out[i].unique >= 0})


def record_starts(path: Path, dialect: Dialect, ordinals: set[int]) -> dict[int, tuple[int, int]] | None:
    """(line, byte offset) where each data record in ``ordinals`` (1-based) starts, as
    ``locate._record_starts`` finds them, read in C; None without the library."""
    lib = _enabled()
    quote = (dialect.quotechar or "").encode()
    if lib is None or len(quote) != 1:
        return None
    wanted = sorted(o for o in ordinals if o >= 1)
    n = len(wanted)
    lines, offsets = (ctypes.c_int64 * max(n, 1))(), (ctypes.c_int64 * max(n, 1))()
    found = lib.fastscan_record_starts(
        str(path).encode(), dialect.preamble_lines, int(dialect.has_header), quote,
        (ctypes.c_int64 * max(n, 1))(*wanted), n, lines, offsets)
    if found < 0:
        return None
    return {wanted[k]: (int(lines[k]), int(offsets[k])) for k in range(found)}


def _counts(r: ColumnResult, proposal: str | None, tokens: list[str]) -> profile.ColumnCounts:
    """``profile.scan``'s counts for the column (see ``profile._read_proof``)."""
    found = {t: int(r.tokens[k]) for k, t in enumerate(tokens) if r.tokens[k]}
    n = int(r.non_null)
    counts = profile.ColumnCounts(
        non_null=n, null_tokens=found,
        min_length=int(r.min_len) if n else None, max_length=int(r.max_len) if n else None,
        leading_zeros=int(r.leading_zeros), distinct=_estimate(r))
    counts.empty = -(n + sum(found.values()))  # completed by the caller, as in profile.scan
    kind = TEXT if proposal is None else KIND.get(proposal, OTHER)
    if kind in (TEXT, OTHER) or r.unsettled:
        return counts
    assert proposal is not None
    if kind in (INTEGER, NUMBER):
        counts.ok.update(bigint=int(r.ok_bigint), integer=int(r.ok_integer),
                         smallint=int(r.ok_smallint))
        if r.has_int:
            counts.integer_min, counts.integer_max = int(r.int_min), int(r.int_max)
    if kind == NUMBER:
        counts.ok.update({"numeric": n, "double precision": n})
        if r.has_shape:
            counts.max_integer_digits, counts.max_scale = int(r.max_digits), int(r.max_scale)
        counts.exponent_values = int(r.exponent)
        if r.has_double:
            counts.bounds["number"] = (float(r.double_min), float(r.double_max))
        return counts
    if kind == INTEGER:
        return counts
    counts.ok[proposal] = n
    if proposal == "date":
        counts.ok.update(timestamp=n, timestamptz=0)
    elif proposal == "timestamp":
        counts.ok.update(date=int(r.ok_dates), timestamptz=0)
    elif proposal == "timestamptz":
        counts.ok.update(date=0, timestamp=0)
    if r.has_bound and proposal in profile.PROOF_BOUNDS:
        counts.bounds[proposal] = (int(r.bound_min), int(r.bound_max))
    return counts


def _estimate(r: ColumnResult) -> int:
    """``colstats.DistinctSketch.estimate`` from the merged sketch."""
    if not r.distinct_saturated:
        return int(r.distinct_kept)
    return round((KMV_K - 1) * 2**64 / (int(r.distinct_kth) + 1))
