"""Streaming Parquet writers for one stream of one run, and the publish step.

Rows are written to ``<exchange>/.staging/<run_id>/`` while a stream runs; only when the
stream finished do the files move into ``<exchange>/<entity>/`` and the entity manifest
is replaced atomically. File names derive from (system, stream, the state the run started
from, sequence): a rerun from the same state over the same source rewrites the same
names instead of adding duplicates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hrss_hub.errors import PublishError

#: rows buffered before a row group is written (bounded memory, readable row groups)
ROW_GROUP_ROWS = 128_000


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def schema_fingerprint(schema: pa.Schema) -> str:
    """A stable fingerprint of an Arrow schema (names, types, nullability)."""
    text = json.dumps([[f.name, str(f.type), f.nullable] for f in schema], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class StagedFile:
    """A finished Parquet file waiting to be published."""

    path: Path
    rows: int


class ParquetSink:
    """Appends tables to Parquet files of at most ``max_rows_per_file`` rows (zstd)."""

    def __init__(self, directory: Path, stem: str, schema: pa.Schema,
                 max_rows_per_file: int = 1_000_000) -> None:
        self.directory = directory
        self.stem = stem
        self.schema = schema
        self.max_rows = max_rows_per_file
        self.files: list[StagedFile] = []
        self._writer: pq.ParquetWriter | None = None
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._rows_in_file = 0
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        """Buffer ``table``; flush row groups of ~ROW_GROUP_ROWS rows."""
        if table.num_rows == 0:
            return
        self._buffer.append(table)
        self._buffered += table.num_rows
        self.rows += table.num_rows
        if self._buffered >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._buffered:
            return
        table = pa.concat_tables(self._buffer).combine_chunks()
        self._buffer, self._buffered = [], 0
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{self.stem}.{len(self.files):04d}.parquet"
            self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
            self.files.append(StagedFile(path, 0))
            self._rows_in_file = 0
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.files[-1].rows += table.num_rows
        self._rows_in_file += table.num_rows
        if self._rows_in_file >= self.max_rows:
            self._writer.close()
            self._writer = None

    def close(self) -> list[StagedFile]:
        """Flush and close; returns the files written (none if no rows)."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.files


@dataclass
class ManifestFile:
    """One data file of an entity dataset."""

    path: str
    rows: int
    sha256: str
    size: int
    system: str
    stream: str
    run_id: str


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PublishError(f"manifest is not valid JSON: {exc}", {"file": str(path)}) from None
    return data


def publish_files(exchange_root: Path, entity: str, schema: pa.Schema, staged: list[StagedFile],
                  *, run_id: str, system: str, stream: str, standard_version: str,
                  hub: dict[str, str]) -> list[ManifestFile]:
    """Move staged files into ``<exchange_root>/<entity>/`` and rewrite its manifest atomically."""
    target = exchange_root / entity
    target.mkdir(parents=True, exist_ok=True)
    published: list[ManifestFile] = []
    for f in staged:
        final = target / f.path.name
        f.path.replace(final)
        published.append(ManifestFile(
            path=final.name, rows=f.rows, sha256=sha256_file(final), size=final.stat().st_size,
            system=system, stream=stream, run_id=run_id))
    manifest_path = target / "_manifest.json"
    manifest = _read_manifest(manifest_path)
    files = {f["path"]: f for f in manifest.get("files", [])}
    for mf in published:
        files[mf.path] = asdict(mf)
    manifest = {
        "dataset": entity,
        "standard_version": standard_version,
        "schema_fingerprint": schema_fingerprint(schema),
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "rows": sum(f["rows"] for f in files.values()),
        "files": sorted(files.values(), key=lambda f: f["path"]),
        "publisher": hub,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(manifest_path)
    return published
