"""How an entity is laid out as a Delta table: columns, partitions, clustering, properties.

One owner for these choices, so that publishing, delivery, levels, optimize and the
catalog agree:

- **schema**: the standard's fields, then the lineage columns, in the standard's order
  and types (Delta keeps them in its log, so a division code stays a string in every
  reader, unlike inferred Hive folders);
- **partitions**: the entity's division column (``division``, else ``address_division``)
  as a Hive partition, so readers and the MERGE prune by division. More partition
  columns (e.g. the year of a contribution's period) were measured and not taken: see
  the workstream note — the period clusters inside the division's files instead, and
  file statistics prune it as well without a column that is not in the standard;
- **clustering**: rows are written sorted by the cluster columns, so per-file min/max
  statistics prune lookups (contribution and benefit payments by period, then key);
- **properties**: Change Data Feed on (outboxes and upper levels follow changes), the
  log and deleted-file retention from ``hub.yaml`` (see :mod:`maintenance`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from hrss_hub.standard.model import Entity

#: hidden hub folder inside every table (Delta readers ignore ``_``-prefixed folders)
HUB_DIR = "_hrss"
#: the lineage column carrying the source's own update time (nullable, optional)
SOURCE_UPDATED_AT = "source_updated_at"
#: entities whose rows arrive by period: cluster by period so new periods prune old files
_CLUSTER_FIRST = {"contribution": ("period",), "benefit_payment": ("period",)}
#: size at which delta-rs closes a file it writes in a MERGE (see table_properties)
TARGET_FILE_BYTES = 4 * 1024 * 1024
#: default grace period before removed files may be vacuumed (hours); see maintenance
DEFAULT_RETENTION_HOURS = 168


def division_column(schema: pa.Schema) -> str | None:
    """The column that places a record in a division (``division``, else
    ``address_division``), or ``None`` when the entity has none."""
    for name in ("division", "address_division"):
        if name in schema.names:
            return name
    return None


@dataclass(frozen=True)
class TableLayout:
    """The Delta layout of one table (an entity in the exchange, or an outbox)."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    partition_by: tuple[str, ...]
    cluster_by: tuple[str, ...]

    @property
    def data_columns(self) -> list[str]:
        """Columns stored in the Parquet files (Delta keeps partition values in the log)."""
        return [n for n in self.schema.names if n not in self.partition_by]

    def properties(self, retention_hours: int = DEFAULT_RETENTION_HOURS) -> dict[str, str]:
        """Delta table properties of a new table."""
        return table_properties(retention_hours)


def table_properties(retention_hours: int = DEFAULT_RETENTION_HOURS) -> dict[str, str]:
    """Properties every hub table gets: CDF on, retention as configured."""
    hours = max(int(retention_hours), 1)
    return {
        "delta.enableChangeDataFeed": "true",
        # a removed file stays readable this long: the grace period of vacuum
        "delta.deletedFileRetentionDuration": f"interval {hours} hours",
        # the log (and thus time travel and CDF) is kept at least as long
        "delta.logRetentionDuration": f"interval {max(hours, 720)} hours",
        # files delta-rs writes in a MERGE are buffered until this size, one per partition
        # it touches (measured, 10k updates, 20 partitions: peak 602 MB at 1M rows, 851 MB
        # at 10M; 16 MB files with a 64 MB pool gave 792 MB but that pool can hang)
        "delta.targetFileSize": str(TARGET_FILE_BYTES),
    }


def entity_schema(entity: Entity) -> pa.Schema:
    """The exchange schema of ``entity``: fields, then lineage, always with the nullable
    ``source_updated_at`` (the source's own update time that decides which record wins;
    appended when the standard does not declare it yet)."""
    schema = entity.arrow_schema(include_lineage=True)
    if SOURCE_UPDATED_AT not in schema.names:
        schema = schema.append(pa.field(SOURCE_UPDATED_AT, pa.timestamp("us", tz="UTC"),
                                        nullable=True))
    return schema


def entity_layout(entity: Entity) -> TableLayout:
    """The layout of ``entity``'s exchange table."""
    schema = entity_schema(entity)
    div = division_column(schema)
    cluster = _CLUSTER_FIRST.get(entity.name, ()) + tuple(
        k for k in entity.key if k not in _CLUSTER_FIRST.get(entity.name, ()))
    return TableLayout(entity.name, schema, tuple(entity.key),
                       (div,) if div else (), tuple(c for c in cluster if c != div))


def layout_from_manifest(name: str, manifest: dict[str, Any]) -> TableLayout:
    """The layout a table was written with, from one of its manifests (no standard
    needed: outboxes and upper levels read it from what the publisher signed)."""
    from hrss_hub.exchange.manifest import schema_from_json

    schema = schema_from_json(manifest["schema"])
    key = tuple(manifest.get("key") or ())
    parts = tuple(manifest.get("partition_columns") or ())
    first = _CLUSTER_FIRST.get(name, ())
    cluster = tuple(c for c in (*first, *(k for k in key if k not in first))
                    if c not in parts and c in schema.names)
    return TableLayout(name, schema, key, parts, cluster)


def outbox_layout(source: TableLayout, schema: pa.Schema, key: tuple[str, ...]) -> TableLayout:
    """The layout of an outbox table cut from ``source`` with delivered ``schema``.

    It keeps the source's partition column when it is delivered as is (``keep``), so a
    recipient prunes by division too; otherwise the outbox is not partitioned.
    """
    parts = tuple(p for p in source.partition_by
                  if p in schema.names and schema.field(p).type == source.schema.field(p).type)
    cluster = tuple(c for c in (*source.cluster_by, *key) if c in schema.names
                    and c not in parts)
    return TableLayout(source.name, schema, key, parts, tuple(dict.fromkeys(cluster)))


def sql_literal(value: object) -> str:
    """A SQL string literal for a partition value (quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def partition_in(column: str, values: Mapping[str | None, object] | set[str | None],
                 alias: str = "t") -> str:
    """``alias.column IN (...)`` (with ``IS NULL`` for a null value) for a MERGE predicate."""
    present = sorted(v for v in values if v is not None)
    parts = []
    if present:
        parts.append(f"{alias}.`{column}` IN ({', '.join(sql_literal(v) for v in present)})")
    if None in values:
        parts.append(f"{alias}.`{column}` IS NULL")
    if not parts:
        return "FALSE"
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
