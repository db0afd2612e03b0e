"""Throughput of vectorized citizen-ID and USCC validation.

Builds 1,000,000 citizen IDs (90% valid, 5% one-digit typos, 3% legacy 15-digit, 1% dirty
check chars such as ``x``/``Ｘ``/spaces, 1% wrong length) and 1,000,000 USCCs (95% valid, 5%
typos), then times ``validate_citizen_ids`` / ``validate_usccs`` (median of 5 runs, wall and
process CPU time). Run: ``python bench/bench_identifiers.py [--rows N] [--runs R]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.standard.identifiers import (
    CITIZEN_CHECK_CHARS,
    CITIZEN_WEIGHTS,
    ORG_ALPHABET,
    ORG_CHECK_CHARS,
    ORG_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    validate_citizen_ids,
    validate_usccs,
)

U8 = npt.NDArray[np.uint8]
PROVINCES = np.array([11, 12, 13, 21, 31, 32, 33, 37, 41, 44, 51, 61, 65], dtype=np.int64)


def _strings(mat: U8) -> pa.Array:
    """Rows of an ASCII byte matrix as a string array."""
    return pc.cast(
        pa.array(np.ascontiguousarray(mat).view(f"S{mat.shape[1]}").ravel()), pa.string()
    )


def _digits(rng: np.random.Generator, n: int, k: int) -> U8:
    return rng.integers(48, 58, size=(n, k), dtype=np.uint8)


def _citizen_bodies(rng: np.random.Generator, n: int) -> U8:
    body = np.empty((n, 17), dtype=np.uint8)
    province = rng.choice(PROVINCES, n)
    body[:, 0] = 48 + province // 10
    body[:, 1] = 48 + province % 10
    body[:, 2:6] = _digits(rng, n, 4)
    start, stop = date(1930, 1, 1).toordinal(), date(2008, 12, 31).toordinal()
    born = np.datetime64("0001-01-01") + (rng.integers(start, stop, n) - 1).astype("timedelta64[D]")
    text = np.datetime_as_string(born.astype("datetime64[D]"))  # 'YYYY-MM-DD'
    ymd = np.char.replace(text, "-", "").astype("S8").view(np.uint8).reshape(n, 8)
    body[:, 6:14] = ymd
    body[:, 14:17] = _digits(rng, n, 3)
    return body


def _with_check(body: U8, weights: tuple[int, ...], modulus: int, chars: str, lut: U8) -> U8:
    """Append the check char: MOD 11-2 (citizen ID, chars indexed by S mod 11) or GB 32100."""
    total = lut[body].astype(np.int64) @ np.asarray(weights, dtype=np.int64)
    index = total % 11 if modulus == 11 else (31 - total % 31) % 31
    check = np.frombuffer(chars.encode(), np.uint8)[index]
    return np.concatenate([body, check[:, None]], axis=1)


def _lut(alphabet: str) -> U8:
    table = np.zeros(256, dtype=np.uint8)
    for value, char in enumerate(alphabet):
        table[ord(char)] = value
    return table


def _typo(rng: np.random.Generator, mat: U8, alphabet: str) -> U8:
    """Replace one random position per row with a different character of ``alphabet``."""
    out = mat.copy()
    rows = np.arange(len(out))
    pos = rng.integers(0, out.shape[1] - 1, len(out))
    chars = np.frombuffer(alphabet.encode(), np.uint8)
    shift = rng.integers(1, len(chars), len(out))
    current = _lut(alphabet)[out[rows, pos]]
    out[rows, pos] = chars[(current + shift) % len(chars)]
    return out


def citizen_column(n: int, seed: int = 7) -> tuple[pa.Array, int]:
    """n mixed citizen IDs (shuffled) and how many of them are valid."""
    rng = np.random.default_rng(seed)
    digit_lut = _lut("0123456789")
    ids = _with_check(_citizen_bodies(rng, n), CITIZEN_WEIGHTS, 11, CITIZEN_CHECK_CHARS, digit_lut)
    n_typo, n_legacy, n_dirty, n_len = (int(n * f) for f in (0.05, 0.03, 0.01, 0.01))
    n_valid = n - n_typo - n_legacy - n_dirty - n_len
    parts = [
        _strings(ids[:n_valid]),
        _strings(_typo(rng, ids[n_valid : n_valid + n_typo], "0123456789")),
    ]
    legacy = ids[len(ids) - n_legacy :].copy()
    # a legacy number means 19YY: map 200Y births to 196Y (same leap-ness, so 02-29 stays real)
    legacy[(legacy[:, 6] == ord("2")), 8] = ord("6")
    legacy = np.delete(legacy, [6, 7, 17], axis=1)
    parts.append(_strings(legacy))
    dirty = ids[-n_legacy - n_dirty : -n_legacy] if n_legacy else ids[:0]
    parts.append(pc.binary_join_element_wise(_strings(dirty[:, :6]), _strings(dirty[:, 6:]), " "))
    parts.append(_strings(ids[:n_len, :16]))
    column = pa.concat_arrays([p.cast(pa.string()) for p in parts])
    return column.take(pa.array(rng.permutation(n))), n_valid + n_legacy + n_dirty


def uscc_column(n: int, seed: int = 11) -> tuple[pa.Array, int]:
    """n USCCs (95% valid, 5% one-character typos) and how many are valid."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(USCC_ALPHABET.encode(), np.uint8)
    head = np.empty((n, 8), dtype=np.uint8)
    head[:, 0] = ord("9")
    head[:, 1] = rng.choice(np.frombuffer(b"123", np.uint8), n)
    head[:, 2:8] = _digits(rng, n, 6)
    org_body = alphabet[rng.integers(0, len(alphabet), (n, 8))]
    # GB 11714: C9 = 11 - (S mod 11), 10 → X, 11 → 0
    total = _lut(ORG_ALPHABET)[org_body].astype(np.int64) @ np.asarray(ORG_WEIGHTS, np.int64)
    org_check = np.frombuffer(ORG_CHECK_CHARS.encode(), np.uint8)[(11 - total % 11) % 11]
    org = np.concatenate([org_body, org_check[:, None]], axis=1)
    codes = _with_check(
        np.concatenate([head, org], axis=1), USCC_WEIGHTS, 31, USCC_ALPHABET, _lut(USCC_ALPHABET)
    )
    n_typo = int(n * 0.05)
    codes[:n_typo] = _typo(rng, codes[:n_typo], USCC_ALPHABET)
    return _strings(codes).take(pa.array(rng.permutation(n))), n - n_typo


def measure(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median wall and process-CPU seconds of ``fn`` over ``runs`` calls (after a warm-up)."""
    fn()
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    """Run the benchmark and print one line per validator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ids, ids_valid = citizen_column(args.rows)
    usccs, usccs_valid = uscc_column(args.rows)
    today = date(2026, 1, 1)
    checks = [
        ("citizen_id", lambda: validate_citizen_ids(ids, today=today), ids_valid),
        ("uscc", lambda: validate_usccs(usccs), usccs_valid),
    ]
    for name, fn, expected_valid in checks:
        got = pc.sum(fn().field("valid")).as_py()
        assert got == expected_valid, f"{name}: {got} valid, expected {expected_valid}"
        wall, cpu = measure(fn, args.runs)
        print(
            f"{name:<11} rows={args.rows:>9,}  wall={wall:.3f}s ({args.rows / wall:,.0f} rows/s)"
            f"  cpu={cpu:.3f}s ({args.rows / cpu:,.0f} rows/s)  median of {args.runs}"
        )


if __name__ == "__main__":
    main()
