"""quality.keyset: the duplicate-key memory of the row gate (hashed, sorted runs)."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hrss_hub.keys import hash64
from hrss_hub.quality import keyset
from hrss_hub.quality.keyset import SeenKeys


def _exact(keys: list[str]) -> list[bool]:
    seen: set[str] = set()
    out = []
    for k in keys:
        out.append(k in seen)
        seen.add(k)
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=60), st.integers(1, 7))
def test_same_verdicts_as_an_exact_set(keys: list[str], batch: int) -> None:
    """Across batches of any size, later occurrences (and only they) are flagged."""
    seen = SeenKeys()
    got: list[bool] = []
    for i in range(0, len(keys), batch):
        got.extend(seen.add(hash64(pa.array(keys[i:i + batch], pa.string()))).tolist())
    assert got == _exact(keys)


def test_hash_reads_only_each_values_bytes() -> None:
    """A slice hashes like the same values on their own; prefixes, padding zeros and
    lengths across the 8-byte word boundary all differ."""
    values = ["", "a", "a\x00", "ab", "a" * 8, "a" * 9, "a" * 16, "a" * 17, "是", "是否"]
    h = hash64(pa.array(values))
    assert len(set(h.tolist())) == len(values)
    whole = hash64(pa.array(["x", *values, "y"]))
    assert whole[1:-1].tolist() == h.tolist()
    assert hash64(pa.array(["x", *values]).slice(1)).tolist() == h.tolist()


def test_memory_is_eight_bytes_per_key_and_runs_stay_few() -> None:
    """200k distinct keys in 50 batches: 8 bytes each (an exact set of str took ~100 MiB
    per million) and the runs are merged, not one per batch."""
    rng = random.Random(7)
    keys = [f"{rng.randrange(10**17):018d}" for _ in range(200_000)]
    seen = SeenKeys()
    flagged = 0
    for i in range(0, len(keys), 4_000):
        flagged += int(seen.add(hash64(pa.array(keys[i:i + 4_000]))).sum())
    assert flagged == len(keys) - len(set(keys))
    assert len(seen) == len(set(keys))
    assert seen.nbytes == 8 * len(seen)
    assert len(seen._runs) <= 8


def test_runs_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """No run grows past RUN_CAP (a merge's temporaries stay small at 10M keys)."""
    monkeypatch.setattr(keyset, "RUN_CAP", 1_000)
    seen = SeenKeys()
    for i in range(20):
        seen.add(np.arange(i * 300, (i + 1) * 300, dtype=np.uint64))
    assert max(len(r) for r in seen._runs) <= 1_000
    assert seen.add(np.array([5, 5_999, 6_000], dtype=np.uint64)).tolist() == [True, True, False]
