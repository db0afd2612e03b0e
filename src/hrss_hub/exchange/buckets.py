"""Spreading rows over key-hash buckets on disk, so that a big publish stays flat in memory.

The winner of a key must be chosen among *all* its candidates, which for an initial
publish of 10M staged rows means a global view. Instead of holding it in memory, rows are
routed by a hash of their key into ``n`` bucket files (one pass, batch by batch); every
candidate of a key lands in the same bucket, so each bucket is decided alone with at most
``BUCKET_ROWS`` rows in memory. The hash is vectorized (numpy over Arrow buffers) and
only needs to be deterministic and well spread, not cryptographic.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: candidates decided together in memory (≈ 100 MB of person rows with their sort)
BUCKET_ROWS = 300_000
#: rows buffered over all buckets before every buffer is written (memory stays flat
#: however many buckets a big publish needs)
_FLUSH_ROWS = 131_072
_P = np.uint64(0x100000001B3)  # FNV prime: the polynomial base of the string hash
_MIX = np.uint64(0x9E3779B97F4A7C15)
_MAX_POW = 4096


def _powers(n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    acc = np.uint64(1)
    with np.errstate(over="ignore"):
        for i in range(n):
            out[i] = acc
            acc = acc * _P
    return out


_POW = _powers(_MAX_POW)


def _string_hash(arr: pa.Array) -> np.ndarray:
    arr = arr.cast(pa.large_string()) if pa.types.is_string(arr.type) else arr
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + n + 1]
    data_buf = arr.buffers()[2]
    data = (np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None
            else np.zeros(0, dtype=np.uint8))
    start, end = offsets[:-1], offsets[1:]
    lengths = end - start
    out = lengths.astype(np.uint64)
    if lengths.max(initial=0) > 0:
        base = int(offsets[0])
        seg = data[base:int(offsets[-1])].astype(np.uint64)
        pos = np.arange(base, int(offsets[-1]), dtype=np.int64) - np.repeat(start, lengths)
        with np.errstate(over="ignore"):
            prod = seg * _POW[np.minimum(pos, _MAX_POW - 1)]
        nonempty = lengths > 0
        sums = np.add.reduceat(prod, (start[nonempty] - base).astype(np.int64))
        with np.errstate(over="ignore"):
            out[nonempty] = out[nonempty] * _MIX + sums
    return out


def key_hash(table: pa.Table | pa.RecordBatch, key: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each row's key columns (nulls hash alike)."""
    n = table.num_rows
    h = np.zeros(n, dtype=np.uint64)
    for name in key:
        col = table.column(name)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            part = _string_hash(pc.fill_null(arr, "\x00null"))
        else:
            if pa.types.is_temporal(arr.type) or pa.types.is_boolean(arr.type):
                arr = arr.cast(pa.int64()) if not pa.types.is_boolean(arr.type) else \
                    arr.cast(pa.int8()).cast(pa.int64())
            part = pc.fill_null(arr.cast(pa.int64()), -1).to_numpy(
                zero_copy_only=False).astype(np.uint64)
        with np.errstate(over="ignore"):
            h = (h ^ part) * _MIX
            h ^= h >> np.uint64(29)
    return h


def bucket_count(rows: int) -> int:
    """How many buckets ``rows`` candidates need (1: decide in memory)."""
    return max(1, math.ceil(rows / BUCKET_ROWS))


def spread(batches: Iterable[pa.RecordBatch], key: Sequence[str], schema: pa.Schema,
           n: int, folder: Path) -> list[Path]:
    """Route ``batches`` into ``n`` bucket files under ``folder`` (lz4 Parquet)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"bucket-{i:04d}.parquet" for i in range(n)]
    writers: list[pq.ParquetWriter | None] = [None] * n
    buffers: list[list[pa.Table]] = [[] for _ in range(n)]
    counts = [0] * n

    def flush(i: int) -> None:
        if not buffers[i]:
            return
        if writers[i] is None:
            writers[i] = pq.ParquetWriter(paths[i], schema, compression="lz4")
        writer = writers[i]
        assert writer is not None
        writer.write_table(pa.concat_tables(buffers[i]))
        buffers[i], counts[i] = [], 0

    try:
        for batch in batches:
            table = pa.Table.from_batches([batch]).select(schema.names).cast(schema)
            which = (key_hash(table, key) % np.uint64(n)).astype(np.int64)
            order = np.argsort(which, kind="stable")
            bounds = np.searchsorted(which[order], np.arange(n + 1))
            for i in range(n):
                lo, hi = int(bounds[i]), int(bounds[i + 1])
                if hi > lo:
                    buffers[i].append(table.take(pa.array(order[lo:hi])))
                    counts[i] += hi - lo
            if sum(counts) >= _FLUSH_ROWS:
                for i in range(n):
                    flush(i)
        for i in range(n):
            flush(i)
    finally:
        for w in writers:
            if w is not None:
                w.close()
    return [p for p in paths if p.exists()]


def keys_unique(tables: Iterable[pa.Table], key: Sequence[str], n: int, folder: Path) -> bool:
    """True when no two rows of ``tables`` share a key.

    Each row's key is hashed (:func:`hrss_hub.keys.hash64` of the key's one encoding) and
    the hashes are spilled into ``n`` partition files by hash, so memory holds one batch
    and then one partition (8 bytes a row), however many rows there are. Equal hashes count
    as a shared key: a collision (p ≈ 2^-64 a pair) only sends the caller down its exact
    path.
    """
    from hrss_hub import keys

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"keys-{i:04d}.u64" for i in range(n)]
    handles = [p.open("wb") for p in paths]
    try:
        for table in tables:
            h = keys.hash64(keys.encode_table(table, key))
            if n == 1:
                h.tofile(handles[0])
                continue
            which = (h % np.uint64(n)).astype(np.int64)
            order = np.argsort(which, kind="stable")
            bounds = np.searchsorted(which[order], np.arange(n + 1))
            ordered = h[order]
            for i in range(n):
                if bounds[i + 1] > bounds[i]:
                    ordered[bounds[i]:bounds[i + 1]].tofile(handles[i])
    finally:
        for fh in handles:
            fh.close()
    try:
        for path in paths:
            part = np.fromfile(path, dtype=np.uint64)
            part.sort()  # in place; equal neighbours are a shared hash
            if len(part) > 1 and bool((part[1:] == part[:-1]).any()):
                return False
        return True
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


def read_buckets(paths: Sequence[Path]) -> Iterator[pa.Table]:
    """Each bucket file as one table, in order."""
    for path in paths:
        yield pq.read_table(path)


def remove(folder: Path) -> None:
    """Delete a bucket folder (scratch space)."""
    shutil.rmtree(folder, ignore_errors=True)
