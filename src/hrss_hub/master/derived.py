"""Publishing datasets the hub derives itself (person master, links, findings).

They are entities of the standard like any other, so they are staged and published the
way a source stream is (:func:`hrss_hub.exchange.staging.publish_files`, then the run's
publish step), delivered under sharing agreements and merged upward by the levels. Only
rows that differ from the published version are staged: an unchanged master or finding
set publishes no new version (incremental maintenance).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.errors import QualityError
from hrss_hub.exchange.commit import latest_signed
from hrss_hub.exchange.layout import entity_schema, sql_literal
from hrss_hub.exchange.pending import conform
from hrss_hub.exchange.reading import dataset
from hrss_hub.exchange.staging import ParquetSink, StagedFile, publish_files
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table
from hrss_hub.standard.model import Entity

if TYPE_CHECKING:
    import duckdb

    from hrss_hub.config import HubConfig

#: the lineage columns a derived row gets from its build, not from a source
BUILD_COLUMNS = ("run_id", "extracted_at", "source_updated_at")
#: rows per row group of a file DuckDB stages (about the size ParquetSink writes)
COPY_ROW_GROUP_ROWS = 131_072


def published(store: Store, entity: Entity, columns: list[str] | None = None) -> pa.Table:
    """The rows of ``entity``'s newest signed version (empty, in its schema, if none)."""
    schema = entity_schema(entity)
    if latest_signed(Table(store, entity.name)) is None:
        return schema.empty_table() if columns is None else pa.schema(
            [schema.field(c) for c in columns]).empty_table()
    return dataset(store, entity.name).to_table(columns=columns)


def changed_rows(new: pa.Table, old: pa.Table, entity: Entity) -> pa.Table:
    """The rows of ``new`` that are not in ``old`` with the same values (build lineage
    columns ignored): inserts and updates only."""
    compare = [f.name for f in entity_schema(entity) if f.name not in BUILD_COLUMNS]
    if old.num_rows == 0 or new.num_rows == 0:
        return new
    left = new.select(compare).append_column("__row", pa.array(range(new.num_rows),
                                                               pa.int64()))
    right = old.select(compare).append_column("__old", pa.array([True] * old.num_rows))
    # a join on every compared column finds the unchanged rows (nulls compared as equal)
    joined = left.join(right, keys=compare, join_type="left outer", coalesce_keys=True)
    unchanged = pc.is_valid(joined["__old"])
    keep_rows = pc.filter(joined["__row"], pc.invert(unchanged))
    mask = pc.is_in(pa.array(range(new.num_rows), pa.int64()), value_set=keep_rows)
    return new.filter(mask)


def stage_derived(cfg: HubConfig, entity: Entity, rows: pa.Table, *, run_id: str,
                  system: str, stream: str, standard_version: str,
                  now: datetime | None = None) -> int:
    """Stage ``rows`` (the entity's fields plus ``source_system``/``source_key``) for the
    next publish; build lineage columns are filled in here. Returns the rows staged."""
    return stage_batches(cfg, entity, rows.to_batches(), run_id=run_id, system=system,
                         stream=stream, standard_version=standard_version, now=now)


def stage_batches(cfg: HubConfig, entity: Entity, batches: Iterable[pa.RecordBatch], *,
                  run_id: str, system: str, stream: str, standard_version: str,
                  now: datetime | None = None) -> int:
    """:func:`stage_derived` for rows that come batch by batch (a DuckDB result read with
    ``to_arrow_reader``): each batch is written as it comes, so memory stays bounded
    by the batch, not by the rows staged. Returns the rows staged."""
    assert cfg.exchange_root is not None
    schema = entity_schema(entity)
    at = now or datetime.now(UTC)
    sink: ParquetSink | None = None
    n = 0
    for batch in batches:
        k = int(batch.num_rows)
        if k == 0:
            continue
        rows = pa.Table.from_batches([batch])
        if "run_id" not in rows.column_names:
            rows = rows.append_column("run_id", pa.array([run_id] * k, pa.string()))
        # the build time is the rows' update time too: a derived row replaces the published
        # one of its key (the publisher's winner rule compares source_updated_at first)
        for column in ("extracted_at", "source_updated_at"):
            if column in schema.names and column not in rows.column_names:
                rows = rows.append_column(column, pa.array([at] * k, schema.field(column).type))
        if sink is None:
            sink = ParquetSink(cfg.exchange_root / ".staging" / run_id / entity.name,
                               f"{system}.{stream}.{run_id}", schema)
        sink.write(conform(rows, schema))
        n += k
    if sink is None:
        return 0
    _hand_over(cfg, entity, schema, sink.close(), n, run_id=run_id, system=system,
               stream=stream, standard_version=standard_version)
    return n


def duck_type(typ: pa.DataType) -> str:
    """The DuckDB type of an Arrow type of the standard's entities."""
    if pa.types.is_decimal(typ):
        return f"DECIMAL({typ.precision},{typ.scale})"
    if pa.types.is_timestamp(typ):
        return "TIMESTAMPTZ" if typ.tz else "TIMESTAMP"
    if pa.types.is_date(typ):
        return "DATE"
    if pa.types.is_integer(typ):
        return {8: "TINYINT", 16: "SMALLINT", 32: "INTEGER"}.get(typ.bit_width, "BIGINT")
    return "VARCHAR"


def conformed_sql(query: str, have: list[str], schema: pa.Schema,
                  fill: dict[str, str]) -> str:
    """A SELECT of the rows of ``query`` (columns ``have``) in exactly ``schema``: its
    columns in its order, cast to its types, the columns ``query`` lacks from ``fill``
    (SQL expressions) or NULL.

    DuckDB writes a Parquet column REQUIRED when its statistics prove it holds no NULL, so
    nullability is spelled out: a nullable column passes through a ``CASE`` that may give
    NULL as far as DuckDB knows, and the rows are filtered on every required column being
    set, which is what DuckDB's statistics see. The filter must drop nothing:
    :func:`stage_query` refuses rows lacking a required value before, and checks the
    file's schema after.
    """
    cols, required = [], []
    for f in schema:
        value = f'q."{f.name}"' if f.name in have else fill.get(f.name, "NULL")
        if f.nullable and f.name in have:
            value = f"CASE WHEN {value} IS NULL THEN NULL ELSE {value} END"
        elif f.nullable:
            # a constant would be folded (and written REQUIRED): a volatile condition that
            # never holds keeps the column nullable
            value = f"CASE WHEN random() < 0 THEN NULL ELSE {value} END"
        else:
            required.append(f'q."{f.name}" IS NOT NULL' if f.name in have
                            else f"{value} IS NOT NULL")
        cols.append(f'CAST({value} AS {duck_type(f.type)}) AS "{f.name}"')
    where = f" WHERE {' AND '.join(required)}" if required else ""
    return f"SELECT {', '.join(cols)} FROM ({query}) q{where}"


def stage_query(cfg: HubConfig, con: duckdb.DuckDBPyConnection, entity: Entity, query: str,
                *, run_id: str, system: str, stream: str, standard_version: str,
                now: datetime | None = None) -> int:
    """:func:`stage_derived` for the rows a DuckDB ``query`` selects: DuckDB writes them
    to the staged Parquet file itself (``COPY … TO``, zstd, row groups of 131,072 rows),
    so no row passes through Python and memory is bounded by ``duckdb.memory_limit``.
    The file has the entity's schema exactly (types, order, nullability), as
    :class:`~hrss_hub.exchange.staging.ParquetSink` writes it. Returns the rows staged."""
    import pyarrow.parquet as pq

    assert cfg.exchange_root is not None
    schema = entity_schema(entity)
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    # the build time is the rows' update time too (see stage_batches)
    stamp = f"CAST({sql_literal(at)} AS TIMESTAMPTZ)"
    fill = {"run_id": sql_literal(run_id), "extracted_at": stamp, "source_updated_at": stamp}
    have = con.sql(f"SELECT * FROM ({query}) LIMIT 0").columns
    _refuse_missing(con, entity.name, query, [f.name for f in schema
                                              if not f.nullable and f.name in have])
    folder = cfg.exchange_root / ".staging" / run_id / entity.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{system}.{stream}.{run_id}.0000.parquet"
    rows = con.execute(f"COPY ({conformed_sql(query, have, schema, fill)}) TO "
                       f"{sql_literal(str(path))} (FORMAT parquet, COMPRESSION zstd, "
                       f"ROW_GROUP_SIZE {COPY_ROW_GROUP_ROWS})").fetchall()
    n = int(rows[0][0])
    if n == 0:
        path.unlink(missing_ok=True)
        _prune(cfg, run_id)
        return 0
    written = pq.read_schema(path)
    if not written.equals(schema):  # a DuckDB that decides nullability otherwise
        path.unlink()
        raise QualityError(f"staged {entity.name} file does not have the entity's schema",
                           {"entity": entity.name, "written": str(written),
                            "expected": str(schema)},
                           "a DuckDB version that writes nullability otherwise: report it")
    _hand_over(cfg, entity, schema, [StagedFile(path, n)], n, run_id=run_id, system=system,
               stream=stream, standard_version=standard_version)
    return n


def _refuse_missing(con: duckdb.DuckDBPyConnection, entity: str, query: str,
                    required: list[str]) -> None:
    """Raise if a row of ``query`` lacks a value of a ``required`` column (the Python sink
    refused such a row too). The filter reaches DuckDB's scans: a cheap pass."""
    if not required:
        return
    counts = con.execute("SELECT " + ", ".join(
        f'count(*) FILTER (WHERE "{c}" IS NULL)' for c in required)
        + f" FROM ({query}) WHERE " + " OR ".join(f'"{c}" IS NULL' for c in required)
        ).fetchall()[0]
    missing = [c for c, k in zip(required, counts, strict=True) if k]
    if missing:  # column names only: no value of a record in the error
        raise QualityError(f"{entity} rows lack a value of required column(s) "
                           f"{', '.join(missing)}", {"entity": entity, "stage": "derived"},
                           "the master build produced them: report it as a bug")


def _hand_over(cfg: HubConfig, entity: Entity, schema: pa.Schema, files: list[StagedFile],
               n: int, *, run_id: str, system: str, stream: str,
               standard_version: str) -> None:
    """Hand the staged ``files`` (``n`` rows) over to the publisher."""
    assert cfg.exchange_root is not None
    publish_files(cfg.exchange_root, entity.name, schema, files, run_id=run_id,
                  system=system, stream=stream, standard_version=standard_version,
                  hub={"hub_id": cfg.hub_id, "level": cfg.level, "division": cfg.division},
                  quality={"read": n, "published": n, "quarantined": 0, "filtered": 0})
    _prune(cfg, run_id)


def _prune(cfg: HubConfig, run_id: str) -> None:
    """Leave no empty staging folder of this run behind: derived rows are staged after
    the run's own staging was cleaned up."""
    from hrss_hub.run.leftovers import prune_empty

    assert cfg.exchange_root is not None
    with suppress(OSError):  # another task of the run may be writing beside it
        prune_empty(cfg.exchange_root / ".staging" / run_id)
        prune_empty(cfg.exchange_root / ".staging")
