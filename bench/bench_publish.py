"""Publishing into Delta exchange tables: initial publishes and small changes, time and
peak memory of each publish in its own child process.

For every size N (default 1M and 10M rows) and two tables:

- ``contribution``-like (key citizen, employer, insurance type, period; partition
  division): the initial publish of N staged rows, then 10,000 *new* rows (next month's
  contributions — changes are appends);
- ``person``-like (key citizen ID; partition address division): the initial publish of N
  staged rows, then 10,000 *updates* of random existing persons (newer source update
  time — copy-on-write MERGE of the files they touch).

Each publish runs in a fresh child process (``--child``) that reports wall seconds and its
peak RSS (``VmHWM``); staging happens in the parent and is not timed. The targets of
issue #11 are checked and printed:

- 10k new rows into the N-row contribution table ≤ 1/5 of its initial publish;
- 10k updates into the N-row person table ≤ 2× a full rewrite (the initial publish);
- peak RSS of every publish ≤ 1 GiB at the largest N and within ±25% of the smallest N's.

Run: ``python bench/bench_publish.py [--sizes 1000000,10000000] [--keep DIR]``; develop at
small N (``--sizes 100000,1000000``). Correctness (row counts, unique keys, the changed
rows present, the version verifying) is asserted before a figure is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.staging import ParquetSink, publish_files
from hrss_hub.standard.model import load_standard

DIVISIONS = ["510104", "510105", "510106", "510107", "510108", "510112", "510113",
             "510114", "510115", "510116", "510117", "510118", "510121", "510129",
             "510131", "510132", "510181", "510182", "510183", "510184"]
CHANGES = 10_000
CHUNK = 500_000
MONTHS = 60  # the contribution table holds five years of months


def _ids(idx: np.ndarray) -> pa.Array:
    division = np.array(DIVISIONS)[idx % len(DIVISIONS)]
    serial = np.char.zfill(idx.astype(str), 11)
    return pa.array(np.char.add(np.char.add(division, serial), "X"), pa.string())


def persons(idx: np.ndarray, run_id: str, updated_minute: int) -> pa.Table:
    """Person rows for citizen numbers ``idx`` (vectorised)."""
    schema = entity_schema(load_standard().entity("person"))
    n = len(idx)
    ids = _ids(idx)
    birth = (np.datetime64("1950-01-01") + (idx % 20000)).astype("datetime64[D]")
    at = pa.scalar(datetime(2026, 1, 1, tzinfo=UTC), pa.timestamp("us", tz="UTC"))
    upd = pa.scalar(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1e6 + updated_minute * 6e7)
    cols = {
        "citizen_id": ids, "citizen_id_raw": ids,
        "id_type": pa.repeat("01", n),
        "name": pc.binary_join_element_wise("张", pa.array(idx.astype(str)), ""),
        "gender": pa.array(np.where(idx % 2 == 0, "1", "2"), pa.string()),
        "birth_date": pa.array(birth, pa.date32()),
        "address_division": pa.array(np.array(DIVISIONS)[idx % len(DIVISIONS)], pa.string()),
        "phone": pc.binary_join_element_wise("138", pa.array(np.char.zfill(
            (idx % 10**8).astype(str), 8)), ""),
        "source_system": pa.repeat("si_core", n),
        "source_key": pc.binary_join_element_wise("AC01|", pa.array(idx.astype(str)), ""),
        "run_id": pa.repeat(run_id, n),
        "extracted_at": pa.repeat(at, n),
        "source_updated_at": pa.repeat(pa.scalar(int(upd.as_py()), pa.int64()), n).cast(
            pa.timestamp("us", tz="UTC")),
    }
    return _table(schema, cols, n)


def contributions(idx: np.ndarray, months: np.ndarray, run_id: str) -> pa.Table:
    """Contribution rows: citizen ``idx`` in month number ``months`` (0 = 2021-01)."""
    schema = entity_schema(load_standard().entity("contribution"))
    n = len(idx)
    year = 2021 + months // 12
    period = np.char.add(year.astype(str), np.char.zfill((months % 12 + 1).astype(str), 2))
    at = pa.scalar(datetime(2026, 1, 1, tzinfo=UTC), pa.timestamp("us", tz="UTC"))
    base = pa.array((4000 + idx % 20000).astype(np.int32)).cast(pa.decimal128(18, 2))
    cols = {
        "citizen_id": _ids(idx),
        "employer_uscc": pa.array(np.char.add("91510100MA", np.char.zfill(
            (idx % 5000).astype(str), 8)), pa.string()),
        "insurance_type": pa.repeat("110", n),
        "period": pa.array(period, pa.string()),
        "base": base, "personal_amount": base, "employer_amount": base,
        "division": pa.array(np.array(DIVISIONS)[idx % len(DIVISIONS)], pa.string()),
        "source_system": pa.repeat("si_core", n),
        "source_key": pc.binary_join_element_wise(
            "AC43|", pa.array(idx.astype(str)), "|", pa.array(period, pa.string()), ""),
        "run_id": pa.repeat(run_id, n),
        "extracted_at": pa.repeat(at, n),
    }
    return _table(schema, cols, n)


def _table(schema: pa.Schema, cols: dict[str, pa.Array], n: int) -> pa.Table:
    arrays = [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def stage(root: Path, entity: str, parts: list[pa.Table] | object, run_id: str) -> int:
    """Stage tables as the pipeline does; returns rows staged."""
    schema = entity_schema(load_standard().entity(entity))
    sink = ParquetSink(root / ".staging" / run_id / entity, f"bench.{entity}.{run_id}", schema)
    rows = 0
    for part in parts:  # type: ignore[attr-defined]
        sink.write(part)
        rows += part.num_rows
    publish_files(root, entity, schema, sink.close(), run_id=run_id, system="si_core",
                  stream=entity, standard_version="1.0.0",
                  hub={"hub_id": "bench", "level": "city", "division": "510100"})
    return rows


def person_rows(n: int) -> object:
    for start in range(0, n, CHUNK):
        yield persons(np.arange(start, min(n, start + CHUNK)), "r1", 0)


def contribution_rows(n: int) -> object:
    people = -(-n // MONTHS)  # ceil: months stay below MONTHS
    for start in range(0, n, CHUNK):
        k = np.arange(start, min(n, start + CHUNK))
        yield contributions(k % people, k // people, "r1")


# -- the child: one publish, timed, with its peak RSS -------------------------------------

def child(root: Path, entity: str, key: Path) -> None:
    from hrss_hub.exchange.pending import list_pending
    from hrss_hub.exchange.publish import publish_entity
    from hrss_hub.exchange.signing import load_signer
    from hrss_hub.exchange.storage import Store

    signer = load_signer(str(key))
    pending = list_pending(root, entity)
    t0 = time.perf_counter()
    v = publish_entity(Store.open(root), load_standard().entity(entity), pending,
                       signer=signer, standard_version="1.0.0",
                       publisher={"hub_id": "bench", "level": "city", "division": "510100"},
                       scratch=root / ".staging")
    seconds = time.perf_counter() - t0
    assert v is not None
    peak = peak_rss()
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "version": v.version,
                      "rows": v.rows, "merge": v.manifest["lineage"]["merge"]}))


def peak_rss() -> int:
    """This process's peak RSS in bytes: ``VmHWM`` of its own address space.

    Not ``getrusage(...).ru_maxrss``: Linux carries the high-water mark of the forked
    parent over ``exec``, so a child of a big parent would report the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(root: Path, entity: str, key: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", str(root), entity, str(key)],
                         capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-4000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def check(root: Path, entity: str, rows: int) -> None:
    from hrss_hub.exchange.reading import read_version
    from hrss_hub.exchange.storage import Store
    from hrss_hub.exchange.tables import Table
    from hrss_hub.exchange.verify import verify_table

    key = list(load_standard().entity(entity).key)
    table = read_version(root, entity, columns=key)
    assert table.num_rows == rows, (entity, table.num_rows, rows)
    assert table.group_by(key).aggregate([]).num_rows == rows, "duplicate keys"
    assert all(r.ok for r in verify_table(Table(Store.open(root), entity), deep=False))


def bench_size(n: int, base: Path, key: Path,
               tables: tuple[str, ...] = ("contribution", "person")
               ) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    rng = np.random.default_rng(n)
    if "contribution" in tables:
        out.update(bench_contribution(n, base, key))
    if "person" in tables:
        out.update(bench_person(n, base, key, rng))
    return out


def bench_contribution(n: int, base: Path, key: Path) -> dict[str, dict[str, object]]:
    """Initial N contribution rows, then 10k rows of a new month."""
    out: dict[str, dict[str, object]] = {}
    root = base / f"contribution-{n}"
    stage(root, "contribution", contribution_rows(n), "r1")
    out["contribution initial"] = run_child(root, "contribution", key)
    check(root, "contribution", n)
    people = -(-n // MONTHS)
    new = np.arange(min(CHANGES, people))  # next month of as many persons
    stage(root, "contribution", [contributions(new, np.full(len(new), MONTHS), "r2")], "r2")
    out["contribution +10k new"] = run_child(root, "contribution", key)
    merge = out["contribution +10k new"]["merge"]
    assert merge["inserted"] == len(new) and merge["updated"] == 0, merge  # type: ignore[index]
    check(root, "contribution", n + len(new))
    return out


def bench_person(n: int, base: Path, key: Path,
                 rng: np.random.Generator) -> dict[str, dict[str, object]]:
    """Initial N person rows, then 10k updates of random persons."""
    out: dict[str, dict[str, object]] = {}
    root = base / f"person-{n}"
    stage(root, "person", person_rows(n), "r1")
    out["person initial"] = run_child(root, "person", key)
    check(root, "person", n)
    changed = np.sort(rng.choice(n, size=min(CHANGES, n), replace=False))
    stage(root, "person", [persons(changed, "r2", 60)], "r2")
    out["person 10k updates"] = run_child(root, "person", key)
    merge = out["person 10k updates"]["merge"]
    assert merge["updated"] == len(changed), merge  # type: ignore[index]
    check(root, "person", n)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--keep", type=Path, default=None,
                        help="Work in this folder and keep it (default: a temp folder).")
    parser.add_argument("--tables", default="contribution,person",
                        help="Which tables to bench (default both).")
    parser.add_argument("--child", nargs=3, metavar=("ROOT", "ENTITY", "KEY"))
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return
    from hrss_hub.exchange.signing import generate_key_file

    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        base = Path(tmp)
        key = base / "key.pem"
        generate_key_file(key)
        tables = tuple(args.tables.split(","))
        results = {n: bench_size(n, base, key, tables) for n in sizes}
    print(f"{'rows':>11}  {'publish':<22} {'seconds':>8} {'rows/s':>10} {'peak RSS MiB':>13}")
    for n, res in results.items():
        for name, r in res.items():
            rows = n if "initial" in name else CHANGES
            print(f"{n:>11,}  {name:<22} {r['seconds']:>8.2f} "
                  f"{rows / float(r['seconds']):>10,.0f} "  # type: ignore[arg-type]
                  f"{int(r['peak_rss']) / 2**20:>13,.0f}")  # type: ignore[call-overload]
    big, small = max(sizes), min(sizes)
    r = results[big]

    def sec(name: str, n: int = big) -> float:
        return float(results[n][name]["seconds"])  # type: ignore[arg-type]

    print(f"\ntargets at {big:,} rows:")
    if "contribution initial" in r:
        ratio_new = sec("contribution +10k new") / sec("contribution initial")
        print(f"  10k new into contribution / initial = {ratio_new:.3f} (≤ 0.2: "
              f"{'met' if ratio_new <= 0.2 else 'MISSED'})")
    if "person initial" in r:
        ratio_upd = sec("person 10k updates") / sec("person initial")
        print(f"  10k updates into person / full rewrite = {ratio_upd:.2f} (≤ 2: "
              f"{'met' if ratio_upd <= 2 else 'MISSED'})")
    peaks = {name: int(v["peak_rss"]) for name, v in r.items()}  # type: ignore[call-overload]
    small_peaks = {name: int(v["peak_rss"]) for name, v in results[small].items()}  # type: ignore[call-overload]
    worst = max(peaks.values())
    print(f"  peak RSS max {worst / 2**20:,.0f} MiB (≤ 1024: "
          f"{'met' if worst <= 2**30 else 'MISSED'})")
    for name in peaks:
        change = peaks[name] / small_peaks[name] - 1
        print(f"  {name}: peak RSS {change:+.0%} vs {small:,} rows (±25%: "
              f"{'met' if abs(change) <= 0.25 else 'MISSED'})")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
