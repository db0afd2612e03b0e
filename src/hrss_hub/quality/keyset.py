"""Keys seen so far in a stream's run, in bounded memory and without a Python loop per row.

The row gate's ``duplicate_key`` rule must know, for every candidate row, whether its key
occurred earlier in the run. An exact Python ``set`` of the encoded keys costs ~100 MiB per
million keys (a ``str`` object and a hash-table slot each) and one interpreter step per
row; at 10M keys it alone is a gigabyte. Here a key is its 64-bit hash (:func:`hash64`, a
murmur-style mix over the key's UTF-8 bytes, vectorized with numpy) and the seen hashes are
kept in sorted ``uint64`` runs:

* 8 bytes per distinct key (80 MB at 10M), probed with ``searchsorted`` per run;
* new hashes of a batch become a sorted run; the two youngest runs are merged while they
  are of similar size, up to ``RUN_CAP`` keys, so there are few runs (about
  ``keys / RUN_CAP`` plus a logarithmic tail) and a merge never needs more than a few
  ``RUN_CAP``-sized temporaries.

Two different keys collide with probability 2^-64 per pair: among 10M distinct keys of one
run that is ~3·10^-6 for the whole run, and the colliding row would be quarantined as a
``duplicate_key`` (kept for review and re-processing, never lost).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

#: largest sorted run built by merging (8 MiB of hashes)
RUN_CAP = 1 << 20

_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_SEED = np.uint64(0x9E3779B97F4A7C15)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)

U64 = np.ndarray[Any, np.dtype[np.uint64]]


def _fmix(h: U64) -> U64:
    # murmur3's 64-bit finalizer: every input bit affects every output bit
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(33)
        h *= _C1
        h ^= h >> np.uint64(33)
        h *= _C2
        h ^= h >> np.uint64(33)
    return h


def hash64(values: pa.Array | pa.ChunkedArray) -> U64:
    """A 64-bit hash of every value of a string array (nulls hash as the empty string;
    callers pass encoded keys, which have no nulls)."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + n + 1]
    buf = arr.buffers()[2]
    raw = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    # 8 zero bytes of padding, so that a word read at a value's end stays in bounds
    data = np.concatenate([raw[:int(offsets[-1]) if n else 0], np.zeros(8, np.uint8)])
    # every byte position as the start of an (unaligned, little-endian) 64-bit word: one
    # gather per row and word instead of eight
    words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    start = offsets[:-1]
    length = offsets[1:] - start
    with np.errstate(over="ignore"):
        h = (length.astype(np.uint64) * _C2) ^ _SEED
        longest = int(length.max(initial=0))
        for word in range(0, longest, 8):
            rows = np.flatnonzero(length > word) if word else np.flatnonzero(length)
            left = np.minimum(length[rows] - word, 8).astype(np.uint64)
            # bytes past the value's end belong to the next value: masked out
            keep = np.where(left >= 8, _ALL, (np.uint64(1) << (left * np.uint64(8))) - 1)
            w = words[start[rows] + word] & keep
            h[rows] = _fmix(h[rows] ^ _fmix(w + np.uint64(word + 1)))
    return _fmix(h)


class SeenKeys:
    """The 64-bit hashes of the keys seen so far (see the module docstring)."""

    def __init__(self) -> None:
        self._runs: list[U64] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    @property
    def nbytes(self) -> int:
        """Memory held by the hashes."""
        return sum(r.nbytes for r in self._runs)

    def _seen(self, h: U64) -> np.ndarray[Any, np.dtype[np.bool_]]:
        found = np.zeros(len(h), dtype=bool)
        for run in self._runs:
            pos = np.searchsorted(run, h)
            pos[pos == len(run)] = len(run) - 1
            found |= run[pos] == h
        return found

    def add(self, hashes: U64) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Record ``hashes`` (one batch, in row order); True where the hash was seen
        before: in an earlier batch, or earlier in this one (the first occurrence wins)."""
        h = np.asarray(hashes, dtype=np.uint64)
        if not len(h):
            return np.zeros(0, dtype=bool)
        uniq, first = np.unique(h, return_index=True)
        repeated = np.ones(len(h), dtype=bool)
        repeated[first] = False
        old = self._seen(uniq)
        # a key new to the run counts as seen on every later row of the batch only
        dup = repeated | np.isin(h, uniq[old], assume_unique=False) if old.any() else repeated
        fresh = uniq[~old]
        if len(fresh):
            self._runs.append(fresh)
            self._compact()
        return dup

    def _compact(self) -> None:
        runs = self._runs
        while (len(runs) > 1 and len(runs[-2]) <= 2 * len(runs[-1])
               and len(runs[-2]) + len(runs[-1]) <= RUN_CAP):
            merged = np.concatenate([runs[-2], runs[-1]])
            merged.sort(kind="stable")  # two sorted runs: timsort merges them in one pass
            runs[-2:] = [merged]
