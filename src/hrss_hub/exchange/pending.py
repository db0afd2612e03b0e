"""Staged files waiting for the next dataset version (written by ``publish_files``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
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

    def lineage(self) -> dict[str, Any]:
        """Entry for the manifest's ``lineage.inputs``."""
        return {"name": self.path.name, "sha256": self.sha256, "rows": self.rows,
                "system": self.system, "stream": self.stream, "run_id": self.run_id}

    def read(self, schema: pa.Schema) -> pa.Table:
        """The file's rows in the entity schema."""
        return pq.read_table(self.path).select(schema.names).cast(schema)


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
            str(doc["stream"]), str(doc["run_id"]))))
    return [p for _, p in sorted(out, key=lambda item: item[0])]


def consume(files: list[PendingFile]) -> None:
    """Delete staged files that a committed version has absorbed."""
    for f in files:
        f.path.with_name(f.path.name + ".json").unlink(missing_ok=True)
        f.path.unlink(missing_ok=True)
