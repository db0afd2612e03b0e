"""Validation cost as a share of a stream's run time, at 1M rows, streamed in batches.

Synthesizes contribution rows (citizen ID, USCC, insurance type, period, base, amounts,
division; ~3% bad values of several kinds) batch by batch — never holding all rows — and
times each step per batch: map (mapping + normalizers), gate (the validation frame, every
expectation of the suites through the rule registry, row verdicts, the quarantine table),
validation counts (adding up the gate's per-expectation counts), and GX
``SUMMARY`` on the same frame (optional: ``--gx``). Prints the seconds and share of each
step, rows/s and the peak RSS growth (psutil).

Run: ``python bench/bench_validation.py [--rows 1000000] [--batch 50000] [--gx]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa

from hrss_hub.config import bundled_expectations_dir
from hrss_hub.mapping import compile_mapping, parse_mapping
from hrss_hub.quality.gate import RowGate
from hrss_hub.quality.suites import load_suites
from hrss_hub.quality.validate import StreamValidator
from hrss_hub.standard.identifiers import CITIZEN_CHECK_CHARS, CITIZEN_WEIGHTS
from hrss_hub.standard.model import load_standard

MAPPING = {
    "entity": "contribution", "source_key": ["id"],
    "fields": {
        "citizen_id": {"from": "AAC002", "normalize": "citizen_id"},
        "employer_uscc": {"from": "AAB998", "normalize": "uscc"},
        "insurance_type": {"from": "AAE140", "codes": "insurance_type"},
        "period": {"from": "AAE003", "normalize": "period"},
        "base": {"from": "AAE180", "normalize": "amount"},
        "personal_amount": {"from": "AAE021", "normalize": "amount"},
        "employer_amount": {"from": "AAE022", "normalize": "amount"},
        "division": {"const": "510107"},
    },
}
USCC = "91510107MA61234567"  # replaced below by a valid code


def _citizen_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    body = np.zeros((n, 17), dtype=np.int64)
    body[:, :6] = [5, 1, 0, 1, 0, 7]
    year = rng.integers(1960, 2004, n)
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    for i, v in enumerate((year // 1000, year // 100 % 10, year // 10 % 10, year % 10,
                           month // 10, month % 10, day // 10, day % 10)):
        body[:, 6 + i] = v
    body[:, 14:17] = rng.integers(0, 10, (n, 3))
    check = (body * np.array(CITIZEN_WEIGHTS)).sum(axis=1) % 11
    chars = np.array(list(CITIZEN_CHECK_CHARS))[check]
    digits = body.astype("U1")
    return np.array(["".join(r) for r in digits], dtype=object) + chars


def batches(rows: int, size: int, seed: int = 1) -> Iterator[pa.RecordBatch]:
    """Synthetic source batches (the ID pool is built once, then sampled)."""
    from hrss_hub.demo.checks import org_code_check_char, uscc_check_char

    rng = np.random.default_rng(seed)
    pool = _citizen_ids(rng, 20_000)
    body = "91510107" + "MA6123456"
    body = body[:8] + body[8:16] + org_code_check_char(body[8:16])
    uscc = body + uscc_check_char(body)
    start = 0
    while start < rows:
        n = min(size, rows - start)
        ids = pool[rng.integers(0, len(pool), n)].astype(object)
        bad = rng.random(n)
        ids = np.where(bad < 0.01, "51010719900101123", ids)  # wrong length
        period = np.array([f"{y}{m:02d}" for y, m in zip(rng.integers(2019, 2026, 12),
                                                           range(1, 13), strict=True)])
        periods = period[rng.integers(0, 12, n)].astype(object)
        periods = np.where((bad > 0.01) & (bad < 0.02), "2023-13", periods)
        base = rng.integers(4500, 15000, n).astype(str).astype(object)
        base = np.where((bad > 0.02) & (bad < 0.03), "99", base)  # out of bounds
        itype = np.array(["110", "210", "310", "410"])[rng.integers(0, 4, n)].astype(object)
        yield pa.record_batch({
            "id": pa.array(np.arange(start, start + n).astype(str)),
            "AAC002": pa.array(ids, pa.string()), "AAB998": pa.array([uscc] * n, pa.string()),
            "AAE140": pa.array(itype, pa.string()), "AAE003": pa.array(periods, pa.string()),
            "AAE180": pa.array(base, pa.string()),
            "AAE021": pa.array(np.full(n, "400.00"), pa.string()),
            "AAE022": pa.array(np.full(n, "1000.00"), pa.string()),
        })
        start += n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--gx", action="store_true", help="also run GX SUMMARY per batch")
    args = ap.parse_args()
    std = load_standard()
    compiled = compile_mapping(parse_mapping(MAPPING, "bench", "mapping"), std)
    entity = compiled.entity
    suites = load_suites(bundled_expectations_dir(), std)[entity.name]
    proc = psutil.Process()
    context = None
    tmp = tempfile.TemporaryDirectory()
    if args.gx:
        from hrss_hub.quality import gx

        t = time.perf_counter()
        gx.import_gx()
        context = gx.file_context(Path(tmp.name) / "gx").__enter__()
        print(f"GX import + context: {time.perf_counter() - t:.1f} s (once per process)")
    validator = StreamValidator(std, entity, suites, run_id="bench", system="bench",
                                stream="AC43", gx_context=context)
    gate = RowGate(entity, std, "bench", "bench", "AC43", datetime.now(UTC), suites=suites)
    times: dict[str, float] = defaultdict(float)
    rss0 = proc.memory_info().rss
    peak = rss0
    quarantined = 0
    source = batches(args.rows, args.batch)
    t_all = time.perf_counter()
    while True:
        t = time.perf_counter()
        batch = next(source, None)
        times["source (synthetic)"] += time.perf_counter() - t
        if batch is None:
            break
        t = time.perf_counter()
        mb = compiled.apply(batch)
        times["map"] += time.perf_counter() - t
        t = time.perf_counter()
        verdict = gate.evaluate(mb)
        times["gate (frame + rules + quarantine rows)"] += time.perf_counter() - t
        quarantined += verdict.quarantined.num_rows
        t = time.perf_counter()
        gx_before = validator.result.seconds_gx
        validator.add(mb, verdict)
        validator.wait_gx()  # GX runs on its own thread: charge this batch's GX to it
        gx_spent = validator.result.seconds_gx - gx_before
        times["validation counts (Arrow)"] += time.perf_counter() - t - gx_spent
        times["GX SUMMARY"] += gx_spent
        peak = max(peak, proc.memory_info().rss)
    total = time.perf_counter() - t_all
    print(f"{args.rows:,} rows in batches of {args.batch:,}: {total:.2f} s "
          f"({args.rows / total:,.0f} rows/s), quarantined {quarantined:,}")
    for step, sec in times.items():
        print(f"  {step:38} {sec:7.2f} s  {100 * sec / total:5.1f} %")
    validation = (times["gate (frame + rules + quarantine rows)"]
                  + times["validation counts (Arrow)"] + times["GX SUMMARY"])
    print(f"  validation share (gate + counts + GX): {100 * validation / total:.1f} %")
    print(f"  peak RSS growth: {(peak - rss0) / 2**20:.0f} MiB")
    bad = [e for e in validator.result.expectations if e.gx_unexpected not in (None, e.unexpected)]
    if args.gx:
        gx_rows = validator.result.gx_rows
        print(f"  GX validated {gx_rows:,} of {validator.result.rows:,} rows "
              "(HRSS_HUB_GX_ROWS; 'all' for every row)")
        if gx_rows == validator.result.rows:
            # uniqueness across batches is seen by the gate only (GX validates per batch)
            print(f"  GX vs gate mismatches: {len(bad)} "
                  + ", ".join(f"{e.rule}({e.field}) {e.unexpected} vs {e.gx_unexpected}"
                              for e in bad))


if __name__ == "__main__":
    main()
