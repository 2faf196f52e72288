"""sources: compressed inputs read like plain ones, by extension or by magic bytes."""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from csv2pg.dialect import detect_dialect, open_records, read_header
from csv2pg.errors import DataError
from csv2pg.settings import DialectOverrides
from csv2pg.sources import compression, is_compressed, open_binary

PLAIN = "id;name;amount\r\n1;Müller;3,5 €\r\n2;\"two\nlines\";4\r\n".encode("cp1252") * 3000
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress, ".bz2": bz2.compress,
    ".zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_compressed_files_read_like_the_plain_file(tmp_path: Path, suffix: str) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_bytes(PLAIN)
    packed = tmp_path / f"data.csv{suffix}"
    packed.write_bytes(COMPRESSORS[suffix](PLAIN))
    assert is_compressed(packed) and not is_compressed(plain)
    with open_binary(packed) as handle:
        assert handle.read() == PLAIN
    expected = detect_dialect(plain, DialectOverrides())
    dialect = detect_dialect(packed, DialectOverrides())
    assert dialect == expected
    assert dialect.encoding == "cp1252"
    assert read_header(packed, dialect) == read_header(plain, expected)
    assert list(open_records(packed, dialect)) == list(open_records(plain, expected))


@pytest.mark.parametrize(("suffix", "kind"), [(".gz", "gzip"), (".zst", "zstd"), (".bz2", "bz2")])
def test_compression_is_recognised_by_magic_bytes_without_an_extension(
        tmp_path: Path, suffix: str, kind: str) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(COMPRESSORS[suffix](PLAIN))
    assert compression(path) == kind
    with open_binary(path) as handle:
        assert handle.read() == PLAIN


def test_a_truncated_archive_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(PLAIN)[:200])
    with pytest.raises(DataError) as caught:
        dialect = detect_dialect(path, DialectOverrides())
        list(open_records(path, dialect))
    assert caught.value.path == str(path)
    assert "decompress" in caught.value.message
