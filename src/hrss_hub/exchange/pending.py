"""Staged files waiting for the next dataset version (written by ``publish_files``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hrss_hub.exchange.staging import PENDING_DIR


@dataclass(frozen=True)
class PendingFile:
    """A staged Parquet file and what its sidecar says about it."""

    path: Path
    sha256: str
    rows: int
    system: str
    stream: str
    run_id: str
    #: the stream's own counts for its run (read, published, quarantined, filtered, …)
    #: as the stager recorded them; empty for files staged before they were recorded
    quality: dict[str, Any] = field(default_factory=dict)

    def lineage(self) -> dict[str, Any]:
        """Entry for the manifest's ``lineage.inputs``."""
        return {"name": self.path.name, "sha256": self.sha256, "rows": self.rows,
                "system": self.system, "stream": self.stream, "run_id": self.run_id}

    def read(self, schema: pa.Schema) -> pa.Table:
        """The file's rows in the entity schema (a missing optional lineage column, such
        as ``source_updated_at`` from an older stager, is null)."""
        return conform(pq.read_table(self.path), schema)

    def batches(self, schema: pa.Schema, rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        """The file's rows in ``schema``, batch by batch (bounded memory)."""
        pf = pq.ParquetFile(self.path)
        for batch in pf.iter_batches(batch_size=rows):
            yield from conform(pa.Table.from_batches([batch]), schema).to_batches()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns (missing nullable ones as nulls)."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table[f.name].cast(f.type))
        elif f.nullable:
            cols.append(pa.nulls(table.num_rows, f.type))
        else:
            raise KeyError(f"staged file lacks required column {f.name!r}")
    return pa.Table.from_arrays(cols, schema=schema)


def pending_entities(exchange_root: Path) -> list[str]:
    """Entities with staged files."""
    base = exchange_root / PENDING_DIR
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and list_pending(exchange_root,
                                                                               p.name))


def list_pending(exchange_root: Path, entity: str) -> list[PendingFile]:
    """Staged files of ``entity`` in the order they were staged (complete ones only)."""
    folder = exchange_root / PENDING_DIR / entity
    if not folder.is_dir():
        return []
    out: list[tuple[str, PendingFile]] = []
    for data in folder.glob("*.parquet"):
        sidecar = data.with_name(data.name + ".json")
        if not sidecar.exists():
            continue  # moved but not yet described: the stager was interrupted
        doc = json.loads(sidecar.read_text(encoding="utf-8"))
        out.append((str(doc.get("staged_at", "")) + data.name, PendingFile(
            data, str(doc["sha256"]), int(doc["rows"]), str(doc["system"]),
            str(doc["stream"]), str(doc["run_id"]), dict(doc.get("quality") or {}))))
    return [p for _, p in sorted(out, key=lambda item: item[0])]


def consume(files: list[PendingFile]) -> None:
    """Delete staged files that a committed version has absorbed."""
    for f in files:
        f.path.with_name(f.path.name + ".json").unlink(missing_ok=True)
        f.path.unlink(missing_ok=True)
