"""Opening CSV inputs as bytes, decompressing ``.gz``, ``.zst`` and ``.bz2`` transparently.

Contract:

- ``compression(path)`` names the compression of ``path`` ("gzip", "zstd", "bz2") from its
  extension, or else from its first bytes (magic numbers); None for a plain file.
- ``is_compressed(path)`` says whether there is one.
- ``open_binary(path)`` returns a readable binary stream of the decompressed bytes. Only a
  plain file's stream is seekable: callers that sample offsets must check ``is_compressed``.

A corrupt compressed file is a ``DataError`` naming the file when it is opened or read
through ``read_checked``. Reads files; writes nothing; imports no other csv2pg module than
errors.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zlib
from pathlib import Path
from typing import BinaryIO, cast

import zstandard

from csv2pg.errors import DataError

EXTENSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh", "bz2"))
# What decompressors raise on corrupt input: reported as DataError, never a traceback.
DECOMPRESSION_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError)


def compression(path: Path) -> str | None:
    """ "gzip", "zstd" or "bz2" by extension, else by magic bytes; None for a plain file."""
    by_extension = EXTENSIONS.get(path.suffix.lower())
    if by_extension:
        return by_extension
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError:
        return None
    for prefix, name in MAGIC:
        # "BZh" alone is also how a plain text file could start: demand the block size digit.
        if magic.startswith(prefix) and (name != "bz2" or magic[3:4].isdigit()):
            return name
    return None


def is_compressed(path: Path) -> bool:
    """Whether ``path`` is read through a decompressor."""
    return compression(path) is not None


def open_binary(path: Path) -> BinaryIO:
    """A binary stream of ``path``'s (decompressed) bytes; close it when done."""
    kind = compression(path)
    try:
        if kind == "gzip":
            return cast(BinaryIO, gzip.open(path, "rb"))
        if kind == "bz2":
            return cast(BinaryIO, bz2.open(path, "rb"))
        if kind == "zstd":
            # The stream reader owns the file (closefd): closing it closes the file.
            raw = zstandard.ZstdDecompressor().stream_reader(
                open(path, "rb"), read_across_frames=True, closefd=True)  # noqa: SIM115
            return cast(BinaryIO, io.BufferedReader(cast(io.RawIOBase, raw)))
    except DECOMPRESSION_ERRORS as exc:
        raise corrupt(path, kind, exc) from None
    return open(path, "rb")


def corrupt(path: Path, kind: str | None, exc: BaseException) -> DataError:
    """The DataError for a compressed file that does not decompress."""
    return DataError(f"cannot decompress the file as {kind or 'plain'}: {exc}", path=path,
                     hint="check that the file is complete (re-download or re-compress it)")


def read_checked(path: Path, handle: BinaryIO, size: int = -1) -> bytes:
    """``handle.read(size)``, with decompression failures as a DataError naming ``path``."""
    try:
        return handle.read(size)
    except DECOMPRESSION_ERRORS as exc:
        raise corrupt(path, compression(path), exc) from None
