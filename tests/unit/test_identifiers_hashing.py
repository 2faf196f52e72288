"""Identifiers from headers, the escaping functions, and the content-hash cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from csv2pg.hashing import HashCache, hash_value
from csv2pg.identifiers import (
    quote_ident,
    quote_literal,
    shell_word,
    to_identifier,
    unique_identifiers,
)


@pytest.mark.parametrize(("header", "expected"), [
    ("Order ID", "order_id"),
    ("orderId", "order_id"),
    ("HTTPStatus", "http_status"),
    ("  Unit Price (€)  ", "unit_price"),
    ("% change", "pct_change"),
    ("#", "num"),
    ("2019", "c_2019"),
    ("", "column_3"),
    ("\ufeffid", "id"),
    ("Straße", "straße"),
    ('a"b;drop table x', "a_b_drop_table_x"),
    ("cost$", "cost"),
])
def test_to_identifier(header: str, expected: str) -> None:
    assert to_identifier(header, 3) == expected


def test_identifiers_are_unique_and_fit_63_bytes() -> None:
    long = "é" * 40  # 80 bytes in UTF-8
    names = unique_identifiers(["id", "ID", "Id ", long, long, ""])
    assert names[:3] == ["id", "id_2", "id_3"]
    assert all(len(n.encode("utf-8")) <= 63 for n in names)
    assert names[3] != names[4] and names[4].endswith("_2")
    assert names[5] == "column_6"
    assert len(set(names)) == len(names)


def test_escaping_functions() -> None:
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_literal("it's") == "'it''s'"
    assert shell_word("plain/path.csv") == "plain/path.csv"
    assert shell_word("it's $HOME") == "'it'\"'\"'s $HOME'"
    with pytest.raises(ValueError):
        quote_ident("nul\x00")


def test_hash_cache_reads_a_file_once_until_it_changes(tmp_path: Path) -> None:
    data = tmp_path / "big.csv"
    data.write_bytes(b"a,b\n" * 1000)
    cache_file = tmp_path / "hashes.json"
    cache = HashCache(cache_file)
    first = cache.file_hash(data)
    assert cache.file_hash(data) == first
    assert cache.hashed == [str(data.resolve())]
    cache.save()

    again = HashCache(cache_file)  # a later run: the digest comes from the cache file
    assert again.file_hash(data) == first and again.hashed == []

    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same bytes
    assert again.file_hash(data) == first and len(again.hashed) == 1

    data.write_bytes(b"a,b\n" * 999 + b"a,c\n")  # same size, other bytes
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    assert again.file_hash(data) != first


def test_hash_value_ignores_key_order() -> None:
    assert hash_value({"a": 1, "b": [1, 2]}) == hash_value({"b": [1, 2], "a": 1})
    assert hash_value({"a": 1}) != hash_value({"a": 2})
