"""Publish throughput and delivery overhead per recipient.

Builds N person rows (default 1,000,000, ten districts of 成都) in the standard's schema,
stages them exactly as the pipeline does, then times:

1. ``publish v1``: read staged Parquet, dedup by key, sort, write zstd parts, hash, sign,
   swap the pointer (rows/s and MB/s of Arrow bytes in);
2. ``publish v2``: merge v1 with 10% updated rows (the steady-state case);
3. ``verify``: deep verification of v2 (SHA-256 of every part, footers, signature);
4. one delivery per recipient profile, each measured on its own:
   ``keep`` (5 columns, all rows), ``masked`` (HMAC pseudonym + partial name, all rows),
   ``scoped`` (pseudonym + partial, one district = ~10% of rows).

Run: ``python bench/bench_publish.py [--rows N]``. Correctness (row counts, unique keys,
no raw ID in the masked extract) is asserted before any figure is printed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.exchange.deliver import deliver
from hrss_hub.exchange.pending import list_pending
from hrss_hub.exchange.policy import Agreement, DatasetGrant
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.signing import generate_key_file, load_signer
from hrss_hub.exchange.staging import ParquetSink, publish_files
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.verify import verify_version
from hrss_hub.exchange.versions import publish_entity
from hrss_hub.standard.model import load_standard

DIVISIONS = ["510104", "510105", "510106", "510107", "510108", "510112", "510113",
             "510114", "510115", "510116"]


def people(n: int, start: int, run_id: str, minute: int) -> pa.Table:
    """``n`` synthetic persons with ids ``start..start+n`` (vectorised, no Python loop)."""
    schema = load_standard().entity("person").arrow_schema(include_lineage=True)
    idx = np.arange(start, start + n)
    division = np.array(DIVISIONS)[idx % len(DIVISIONS)]
    serial = np.char.zfill(idx.astype(str), 12)
    ids = np.char.add(np.char.add(division, serial), "X")[:, None].ravel()
    birth = (np.datetime64("1950-01-01") + (idx % 20000)).astype("datetime64[D]")
    cols = {
        "citizen_id": pa.array(ids, pa.string()),
        "citizen_id_raw": pa.array(ids, pa.string()),
        "id_type": pa.array(np.full(n, "01"), pa.string()),
        "name": pc.binary_join_element_wise("张", pa.array(idx.astype(str)), ""),
        "gender": pa.array(np.where(idx % 2 == 0, "1", "2"), pa.string()),
        "birth_date": pa.array(birth, pa.date32()),
        "address_division": pa.array(division, pa.string()),
        "phone": pa.array(np.char.add("138", np.char.zfill((idx % 10**8).astype(str), 8)),
                          pa.string()),
        "source_system": pa.array(np.full(n, "si_core"), pa.string()),
        "source_key": pa.array(np.char.add("AC01|", idx.astype(str)), pa.string()),
        "run_id": pa.array(np.full(n, run_id), pa.string()),
        "extracted_at": pa.array(np.full(n, datetime(2026, 1, 1, 0, minute, tzinfo=UTC)),
                                 pa.timestamp("us", tz="UTC")),
    }
    arrays = [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def stage(root: Path, table: pa.Table, run_id: str) -> None:
    schema = table.schema
    sink = ParquetSink(root / ".staging" / run_id / "person", f"si_core.AC01.{run_id}", schema)
    for batch in table.to_batches(max_chunksize=100_000):
        sink.write(pa.Table.from_batches([batch]))
    publish_files(root, "person", schema, sink.close(), run_id=run_id, system="si_core",
                  stream="AC01", standard_version="1.0.0",
                  hub={"hub_id": "bench", "level": "city", "division": "510100"})


def agreement(rid: str, columns: dict[str, str], prefix: str | None) -> Agreement:
    grant = DatasetGrant("person", columns, (prefix,) if prefix else None)
    return Agreement(rid, rid, "bench", "bench", date(2026, 1, 1), date(2099, 1, 1),
                     {"person": grant}, Path(f"{rid}.yaml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.rows
    entity = load_standard().entity("person")
    publisher = {"hub_id": "bench", "level": "city", "division": "510100"}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        generate_key_file(base / "key.pem")
        signer = load_signer(str(base / "key.pem"))
        root, store = base / "exchange", Store.open(base / "exchange")
        first = people(n, 0, "r1", 0)
        arrow_mb = first.nbytes / 1e6
        stage(root, first, "r1")
        t0 = time.perf_counter()
        v1 = publish_entity(store, entity, list_pending(root, "person"), signer=signer,
                            standard_version="1.0.0", publisher=publisher)
        t1 = time.perf_counter() - t0
        assert v1 is not None and v1.rows == n
        out_mb = sum(f["size"] for f in v1.manifest["files"]) / 1e6
        results["publish v1"] = {"seconds": t1, "rows_per_s": n / t1, "mb_per_s": arrow_mb / t1}

        updates = people(n // 10, n - n // 20, "r2", 5)  # half updates, half new persons
        stage(root, updates, "r2")
        t0 = time.perf_counter()
        v2 = publish_entity(store, entity, list_pending(root, "person"), signer=signer,
                            standard_version="1.0.0", publisher=publisher)
        t2 = time.perf_counter() - t0
        assert v2 is not None and v2.rows == n + n // 20
        rows_in = n + n // 10
        results["publish v2 (merge)"] = {"seconds": t2, "rows_per_s": rows_in / t2,
                                         "mb_per_s": (arrow_mb * 1.1) / t2}
        t0 = time.perf_counter()
        report = verify_version(store, "person", 2, expected_sha256=v2.manifest_sha256)
        t3 = time.perf_counter() - t0
        assert report.ok, report.problems
        results["verify v2"] = {"seconds": t3, "rows_per_s": v2.rows / t3,
                                "mb_per_s": out_mb / t3}

        table = read_version(store, "person")
        profiles = {
            "keep": agreement("keep", dict.fromkeys((
                "citizen_id", "gender", "birth_date", "address_division", "retired"), "keep"),
                None),
            "masked": agreement("masked", {"citizen_id": "pseudonym", "name": "partial",
                                           "gender": "keep", "birth_date": "keep"}, None),
            "scoped": agreement("scoped", {"citizen_id": "pseudonym", "name": "partial",
                                           "gender": "keep", "address_division": "keep"},
                                "510107"),
        }
        outbox = Store.open(base / "outbox")
        raw_sample = set(table["citizen_id"].slice(0, 1000).to_pylist())
        for name, a in profiles.items():
            t0 = time.perf_counter()
            d = deliver(outbox, v2, table, a, signer, keys_dir=base / "keys",
                        publisher=publisher)
            td = time.perf_counter() - t0
            assert d.status == "delivered"
            if name == "masked":
                got = read_version(outbox.sub(name), "person", columns=["citizen_id"])
                assert not raw_sample & set(got["citizen_id"].slice(0, 1000).to_pylist())
            results[f"deliver {name} ({d.rows} rows)"] = {
                "seconds": td, "rows_per_s": d.rows / td, "mb_per_s": 0.0,
                "overhead_vs_publish": td / t2}
    print(f"rows={n:,}  arrow={arrow_mb:.0f} MB  parquet={out_mb:.0f} MB "
          f"({out_mb / arrow_mb:.2f}x)")
    print(f"{'step':<34} {'seconds':>8} {'rows/s':>12} {'MB/s':>8}  overhead")
    for step, r in results.items():
        extra = f"{r['overhead_vs_publish']:.2f}x v2" if "overhead_vs_publish" in r else ""
        mbs = f"{r['mb_per_s']:.0f}" if r["mb_per_s"] else "-"
        print(f"{step:<34} {r['seconds']:>8.2f} {r['rows_per_s']:>12,.0f} {mbs:>8}  {extra}")
    print(json.dumps({"rows": n, "results": results}))


if __name__ == "__main__":
    main()
