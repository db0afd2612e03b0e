"""Extraction throughput and peak memory: connector (ADBC / SQLAlchemy) vs raw driver.

For each size and backend, a 10-column table is generated once; then each *path* runs in
its own subprocess (so ``ru_maxrss`` is that path's peak) and streams the table into a
zstd Parquet file:

* ``raw-adbc``    — ADBC ``fetch_record_batch`` → ParquetWriter (the ceiling)
* ``conn-adbc``   — the hub's SQL connector, ``fast_path: adbc``
* ``conn-sqla``   — the hub's SQL connector, ``fast_path: off`` (SQLAlchemy, server cursor)

Usage::

    python bench/bench_extract.py --rows 1000000,5000000 --backends sqlite,postgresql
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
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PG_URL = os.environ.get("HRSS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BATCH = 100_000
ROW_GROUP = 1_000_000
PATHS = ("raw-adbc", "conn-adbc", "conn-sqla")


def _table_name(rows: int) -> str:
    return f"bench_ac01_{rows}"


def generate(backend: str, rows: int, workdir: Path) -> str:
    """Create the bench table (if absent) and return its SQLAlchemy URL."""
    import sqlalchemy as sa

    url = f"sqlite:///{workdir / f'bench_{rows}.db'}" if backend == "sqlite" else PG_URL
    engine = sa.create_engine(url)
    name = _table_name(rows)
    if sa.inspect(engine).has_table(name):
        with engine.begin() as conn:  # the cursor column of a real source is indexed
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS ix_{name}_cur "
                                 f"ON {name} (updated_at, id)")
        return url
    ddl = (f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, national_id VARCHAR(18), "
           "name VARCHAR(40), dept VARCHAR(20), age INTEGER, salary NUMERIC(12,2), "
           "city VARCHAR(20), updated_at TIMESTAMP, score DOUBLE PRECISION, flag INTEGER)")
    if backend == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql(ddl)
            conn.exec_driver_sql(
                f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {rows}) "
                f"INSERT INTO {name} SELECT i, printf('11010519%010d', i), '张三' || (i % 997), "
                "'dept' || (i % 50), 18 + i % 50, (i % 100000) / 10.0 + 0.25, 'city' || (i % 300), "
                "strftime('%Y-%m-%d %H:%M:%f', 1700000000 + i / 3, 'unixepoch'), "
                "(i % 1000) / 7.0, i % 2 FROM s")
            conn.exec_driver_sql(f"CREATE INDEX ix_{name}_cur ON {name} (updated_at, id)")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql(ddl)
            conn.execute(sa.text(
                f"INSERT INTO {name} SELECT i, lpad(i::text, 18, '1'), '张三' || (i % 997), "
                "'dept' || (i % 50), 18 + i % 50, (i % 100000) / 10.0 + 0.25, 'city' || (i % 300), "
                "timestamp '2024-01-01' + (i / 3) * interval '1 second', (i % 1000) / 7.0, "
                f"i % 2 FROM generate_series(1, {rows}) AS i"))
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE INDEX ix_{name}_cur ON {name} (updated_at, id)")
            conn.exec_driver_sql(f"ANALYZE {name}")
    engine.dispose()
    return url


def _writer_loop(batches: object, out: Path) -> int:
    """Stream batches to Parquet, coalescing to ~1M-row row groups; return rows."""
    writer: pq.ParquetWriter | None = None
    pending: list[pa.RecordBatch] = []
    pending_rows = total = 0
    for batch in batches:  # type: ignore[attr-defined]
        if writer is None:
            writer = pq.ParquetWriter(out, batch.schema, compression="zstd",
                                      compression_level=1)
        pending.append(batch)
        pending_rows += batch.num_rows
        total += batch.num_rows
        if pending_rows >= ROW_GROUP:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP)
            pending, pending_rows = [], 0
    if writer is not None:
        if pending:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP)
        writer.close()
    return total


def run_path(path: str, url: str, rows: int, out: Path) -> dict[str, float]:
    """Run one path in this process; return rows/s and peak RSS."""
    import sqlalchemy as sa

    from hrss_hub.connectors.config import parse_system
    from hrss_hub.connectors.registry import create_connector
    from hrss_hub.connectors.sql_fetch import adbc_connect

    name = _table_name(rows)
    start = time.perf_counter()  # imports excluded: they are a constant, not throughput
    if path == "raw-adbc":
        conn = adbc_connect(sa.make_url(url))
        cur = conn.cursor()
        if url.startswith("sqlite"):
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH)})
        # same order as the connector's incremental read: (cursor, primary key)
        cur.execute(f"SELECT * FROM {name} ORDER BY updated_at, id")
        n = _writer_loop(cur.fetch_record_batch(), out)
        conn.close()
    else:
        os.environ["BENCH_URL"] = url
        cfg = parse_system({"kind": "sql", "batch_size": BATCH, "connection": {
            "url_env": "BENCH_URL", "fast_path": "adbc" if path == "conn-adbc" else "off"},
            "streams": [{"name": "AC01", "table": name, "primary_key": ["id"],
                         "cursor": "updated_at"}]}, out.with_suffix(".yaml"), out.parent)
        connector = create_connector(cfg)
        n = _writer_loop((c.batch for c in connector.read("AC01")), out)
    seconds = time.perf_counter() - start
    assert n == rows, f"{path}: read {n} rows, expected {rows}"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": n, "seconds": round(seconds, 2), "rows_per_s": round(n / seconds),
            "peak_rss_mb": round(peak_mb)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,5000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--_child", nargs=4, metavar=("PATH", "URL", "ROWS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        path, url, rows, out = args._child
        print(json.dumps(run_path(path, url, int(rows), Path(out))))
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="hrss-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{'backend':<11}{'rows':>9}  {'path':<10}{'rows/s':>10}{'seconds':>9}{'peak MB':>9}")
    for backend in args.backends.split(","):
        for rows in (int(r) for r in args.rows.split(",")):
            url = generate(backend, rows, workdir)
            for path in args.paths.split(","):
                out = workdir / f"{backend}_{rows}_{path}.parquet"
                proc = subprocess.run([sys.executable, __file__, "--_child", path, url,
                                       str(rows), str(out)], capture_output=True, text=True)
                if proc.returncode:
                    print(f"{backend:<11}{rows:>9}  {path:<10} FAILED\n{proc.stderr[-2000:]}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{backend:<11}{rows:>9}  {path:<10}{r['rows_per_s']:>10}"
                      f"{r['seconds']:>9}{r['peak_rss_mb']:>9}", flush=True)
                out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
