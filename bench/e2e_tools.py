"""The peers of ``bench_e2e.py``: plain copies of the source table to Parquet.

Each function runs inside its own child process (``bench_e2e.py --_tool NAME``), so the
process's peak RSS is that tool's alone; it imports its library itself (a user pays for
the imports too) and returns the rows the tool says it wrote. The parent counts the rows
in the files independently.

* ``dlt``        — dlt ``sql_table(backend="pyarrow")`` → filesystem destination, Parquet
* ``adbc``       — raw ADBC ``fetch_record_batch`` → ``ParquetWriter`` zstd (the ceiling)
* ``connectorx`` — connectorx ``read_sql(return_type="arrow")`` → Parquet zstd
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """Where the bench table lives, in the forms each tool wants."""

    backend: str  # sqlite | postgresql
    sqlalchemy_url: str  # sqlite:////abs/file.db or postgresql+psycopg://user@host:port/db
    table: str

    @property
    def sqlite_path(self) -> str:
        """The database file (SQLite only)."""
        return self.sqlalchemy_url.removeprefix("sqlite:///")

    @property
    def database(self) -> str:
        """The SQLite file, or the PostgreSQL database name (no credentials)."""
        return self.sqlalchemy_url.rsplit("/", 1)[-1] if self.backend == "postgresql" \
            else self.sqlite_path

    @property
    def libpq_url(self) -> str:
        """``postgresql://…`` as libpq, ADBC and connectorx want it."""
        return "postgresql://" + self.sqlalchemy_url.split("://", 1)[1]


def run_dlt(source: Source, out: Path) -> int:
    """dlt's plain copy; returns the row count dlt's normalize step reports."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    from dlt.sources.sql_database import sql_table

    pipeline = dlt.pipeline(pipeline_name="bench_e2e", pipelines_dir=str(out / ".dlt"),
                            destination=dlt.destinations.filesystem(bucket_url=str(out)),
                            dataset_name="bench")
    resource = sql_table(credentials=source.sqlalchemy_url, table=source.table,
                         backend="pyarrow")
    pipeline.run(resource, loader_file_format="parquet")
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace is not None else None
    if info is None:
        raise RuntimeError("dlt left no normalize info in its trace")
    return int(info.row_counts[source.table.lower()])


def _adbc_connect(source: Source) -> object:
    if source.backend == "sqlite":
        import adbc_driver_sqlite.dbapi as sqlite_dbapi

        return sqlite_dbapi.connect(source.sqlite_path)
    import adbc_driver_postgresql.dbapi as pg_dbapi

    return pg_dbapi.connect(source.libpq_url)


def run_adbc(source: Source, out: Path, batch_rows: int = 50_000) -> int:
    """ADBC record batches straight into one zstd Parquet file, a row group per batch."""
    import pyarrow.parquet as pq

    conn = _adbc_connect(source)
    cur = conn.cursor()  # type: ignore[attr-defined]
    if source.backend == "sqlite":  # the driver's default is 1,024-row batches
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
    cur.execute(f"SELECT * FROM {source.table}")
    reader = cur.fetch_record_batch()
    rows = 0
    with pq.ParquetWriter(out / "ac01.parquet", reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    cur.close()
    conn.close()  # type: ignore[attr-defined]
    return rows


def run_connectorx(source: Source, out: Path) -> int:
    """connectorx reads the whole table into Arrow, then one zstd Parquet write."""
    import connectorx as cx
    import pyarrow.parquet as pq

    url = ("sqlite://" + source.sqlite_path if source.backend == "sqlite"
           else source.libpq_url)
    table = cx.read_sql(url, f"SELECT * FROM {source.table}", return_type="arrow")
    pq.write_table(table, out / "ac01.parquet", compression="zstd")
    return int(table.num_rows)


PEERS: dict[str, Callable[[Source, Path], int]] = {
    "dlt": run_dlt,
    "adbc": run_adbc,
    "connectorx": run_connectorx,
}


def run_peer(name: str, source: Source, out: Path) -> dict[str, float]:
    """Run one peer; the rows it reports and the seconds it took after its start-up."""
    t0 = time.perf_counter()
    rows = PEERS[name](source, out)
    return {"rows": rows, "work_seconds": round(time.perf_counter() - t0, 3)}
