"""Keys seen so far in a stream's run, in bounded memory and without a Python loop per row.

The row gate's ``duplicate_key`` rule must know, for every candidate row, whether its key
occurred earlier in the run. An exact Python ``set`` of the encoded keys costs ~100 MiB per
million keys (a ``str`` object and a hash-table slot each) and one interpreter step per
row; at 10M keys it alone is a gigabyte. Here a key is its 64-bit hash
(:func:`hrss_hub.keys.hash64`, a murmur-style mix over the encoded key's UTF-8 bytes,
vectorized with numpy) and the seen hashes are kept in sorted ``uint64`` runs:

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

from hrss_hub.keys import U64

#: largest sorted run built by merging (8 MiB of hashes)
RUN_CAP = 1 << 20


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
