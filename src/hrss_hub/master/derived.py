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

from hrss_hub.exchange.commit import latest_signed
from hrss_hub.exchange.layout import entity_schema
from hrss_hub.exchange.pending import conform
from hrss_hub.exchange.reading import dataset
from hrss_hub.exchange.staging import ParquetSink, publish_files
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table
from hrss_hub.standard.model import Entity

if TYPE_CHECKING:
    from hrss_hub.config import HubConfig

#: the lineage columns a derived row gets from its build, not from a source
BUILD_COLUMNS = ("run_id", "extracted_at", "source_updated_at")


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
    publish_files(cfg.exchange_root, entity.name, schema, sink.close(), run_id=run_id,
                  system=system, stream=stream, standard_version=standard_version,
                  hub={"hub_id": cfg.hub_id, "level": cfg.level, "division": cfg.division},
                  quality={"read": n, "published": n, "quarantined": 0, "filtered": 0})
    # the rows are pending now: leave no empty staging folder of this run behind (derived
    # rows are staged after the run's own staging was cleaned up)
    from hrss_hub.run.leftovers import prune_empty

    with suppress(OSError):  # another task of the run may be writing beside it
        prune_empty(cfg.exchange_root / ".staging" / run_id)
        prune_empty(cfg.exchange_root / ".staging")
    return n
