"""Applying an agreement to a table: row scope, column allow-list, masking.

Only the pseudonym needs per-value Python (HMAC); it runs once per *distinct* value
(dictionary encoding), which for person-keyed data of one run is at most one call per
person. Everything else is Arrow compute.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.config import env
from hrss_hub.config.keys import load_pseudonym_key
from hrss_hub.errors import ConfigError
from hrss_hub.exchange.policy import DatasetGrant

KEY_ENV_PREFIX = env.PSEUDONYM_KEY_PREFIX


def partial_mask(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Display mask: ≥10 characters keep the first 6 and last 4 (``510107********123X``);
    shorter values keep their first character (``王*``), one character becomes ``*``;
    nulls stay null."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    arr = arr.cast(pa.string())
    length = pc.utf8_length(arr)
    long_ = pc.greater_equal(length, 10)
    stars_long = pc.binary_repeat("*", pc.max_element_wise(pc.subtract(length, 10), 0))
    head6 = pc.utf8_slice_codeunits(arr, 0, 6)
    tail4 = pc.utf8_slice_codeunits(arr, -4)
    masked_long = pc.binary_join_element_wise(head6, stars_long, tail4, "")
    stars_short = pc.binary_repeat("*", pc.max_element_wise(pc.subtract(length, 1), 1))
    masked_short = pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 1),
                                               stars_short, "")
    # a single character would be shown whole by the short form: hide it entirely
    masked_short = pc.if_else(pc.less_equal(length, 1), "*", masked_short)
    return pc.if_else(long_, masked_long, masked_short)


def pseudonymize(values: pa.ChunkedArray | pa.Array, key: bytes) -> pa.Array:
    """HMAC-SHA256 (hex) of each value's UTF-8 bytes under ``key``; nulls stay null."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    encoded = pc.dictionary_encode(arr.cast(pa.string()))
    digest = _hmac_sha256(key)
    out = [None if v is None else digest(v.encode("utf-8"))
           for v in encoded.dictionary.to_pylist()]
    return pa.array(out, pa.string()).take(encoded.indices)


def _hmac_sha256(key: bytes) -> Callable[[bytes], str]:
    """HMAC-SHA256 (RFC 2104) with the padded key states computed once: each value then
    costs two ``copy()``+``update()`` of prepared hashes — measured ~2x faster than
    ``hmac.digest`` per value (1.8 s vs 3.6 s per million IDs). Equal to ``hmac`` (tested)."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner0 = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer0 = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(message: bytes) -> str:
        inner = inner0.copy()
        inner.update(message)
        outer = outer0.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    return digest


def key_id(key: bytes) -> str:
    """A public id of a pseudonym key (reveals nothing about the key)."""
    return hmac.new(key, b"hrss-hub/pseudonym-key-id", hashlib.sha256).hexdigest()[:16]


def pseudonym_key(recipient: str, keys_dir: Path | None) -> bytes:
    """The recipient's HMAC key: ``HRSS_HUB_PSEUDONYM_KEY_<RECIPIENT>`` (hex, ≥ 32 bytes),
    else ``<keys_dir>/<recipient>.key`` (created once, mode 0600, kept apart from data).
    An empty, short or non-hex key is refused (:mod:`hrss_hub.config.keys`)."""
    return load_pseudonym_key(recipient, keys_dir)


def row_mask(table: pa.Table, column: str, prefixes: tuple[str, ...]) -> pa.Array:
    """True for rows whose ``column`` starts with one of ``prefixes`` (null: never)."""
    col = table[column]
    mask = pc.fill_null(pc.starts_with(col, prefixes[0]), False)
    for p in prefixes[1:]:
        mask = pc.or_(mask, pc.fill_null(pc.starts_with(col, p), False))
    return mask


def in_scope(table: pa.Table, grant: DatasetGrant) -> pa.Array:
    """Mask of the rows inside ``grant``'s row scope (all rows when it has none)."""
    from hrss_hub.exchange.layout import division_column

    if grant.division_prefixes is None:
        return pa.array(np.ones(table.num_rows, dtype=bool))
    column = division_column(table.schema)
    if column is None:
        raise ConfigError("row scope on a dataset without a division column",
                          {"dataset": grant.dataset})
    return row_mask(table, column, grant.division_prefixes)


def delivered_columns(schema: pa.Schema, grant: DatasetGrant) -> list[str]:
    """The source columns that reach the recipient, in the source's order."""
    return [c for c in schema.names if grant.columns.get(c, "drop") != "drop"]


def transform(table: pa.Table, grant: DatasetGrant, key: bytes | None) -> pa.Table:
    """The recipient's columns of ``table``: allowed columns only, masked (no row filter)."""
    columns = delivered_columns(table.schema, grant)
    out = table.select(columns)
    for i, name in enumerate(columns):
        action = grant.columns[name]
        if action == "partial":
            out = out.set_column(i, pa.field(name, pa.string(), out.schema.field(i).nullable),
                                 partial_mask(out[name]))
        elif action == "pseudonym":
            if key is None:
                raise ConfigError("pseudonym column without a key", {"column": name})
            out = out.set_column(i, pa.field(name, pa.string(), out.schema.field(i).nullable),
                                 pseudonymize(out[name], key))
    return out


def apply_grant(table: pa.Table, grant: DatasetGrant, key: bytes | None) -> pa.Table:
    """The recipient's extract: rows in scope, allowed columns only, masked."""
    return transform(table.filter(in_scope(table, grant)), grant, key)
