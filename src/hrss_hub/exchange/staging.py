"""Streaming Parquet writers for one stream of one run, and the publish step.

Rows are written to ``<exchange>/.staging/<run_id>/`` while a stream runs; only when the
stream finished do the files move to ``<exchange>/.staged/<entity>/``, from where the
publisher (``exchange.versions``) merges them into the next dataset version. File names
derive from (system, stream, the state the run started from, sequence): a rerun from the
same state over the same source rewrites the same names instead of adding duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: where staged files wait for the next dataset version (see ``publish_files``)
PENDING_DIR = ".staged"

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
                 max_rows_per_file: int = 1_000_000, *, background: bool = False) -> None:
        self.directory = directory
        #: write row groups in one background thread (Parquet encoding and zstd run
        #: outside the GIL): the stream goes on mapping while the last group is written;
        #: one group at most is in flight, so memory stays flat
        self._pool = ThreadPoolExecutor(1, "hrss-stage") if background else None
        self._pending: Future[None] | None = None
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
        table = pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        self._wait()
        if self._pool is None:
            self._write(table)
        else:
            self._pending = self._pool.submit(self._write, table)

    def _wait(self) -> None:
        """Wait for the row group in flight (its error, if any, is raised here)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _write(self, table: pa.Table) -> None:
        # the writer cuts row groups of ``row_group_size`` rows whatever the table's
        # chunks: no combined copy of the buffer (a row group's worth of memory less)
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
        del table
        # the buffer's and the encoder's memory goes back to the system once per row
        # group, so the stream's RSS stays at its working set instead of the allocator's
        # high-water mark (mimalloc/jemalloc keep freed pages otherwise)
        pa.default_memory_pool().release_unused()

    def close(self) -> list[StagedFile]:
        """Flush and close; returns the files written (none if no rows)."""
        try:
            self._flush()
            self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
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


def publish_files(exchange_root: Path, entity: str, schema: pa.Schema, staged: list[StagedFile],
                  *, run_id: str, system: str, stream: str, standard_version: str,
                  hub: dict[str, str],
                  quality: Mapping[str, Any] | None = None) -> list[ManifestFile]:
    """Hand a finished stream's files over to the publisher.

    The files move to ``<exchange_root>/.staged/<entity>/``, each with a ``.json`` sidecar
    (rows, SHA-256, system, stream, run, standard version, schema fingerprint, and the
    stream's ``quality`` counts of its run: read, published, quarantined, filtered, so
    that the version absorbing the files describes the run that produced them). They
    become visible to readers only when :func:`hrss_hub.exchange.versions.publish_pending`
    merges them into the next immutable dataset version and swaps the pointer.
    """
    target = exchange_root / PENDING_DIR / entity
    target.mkdir(parents=True, exist_ok=True)
    published: list[ManifestFile] = []
    for f in staged:
        final = target / f.path.name
        mf = ManifestFile(path=final.name, rows=f.rows, sha256=sha256_file(f.path),
                          size=f.path.stat().st_size, system=system, stream=stream,
                          run_id=run_id)
        sidecar = {**asdict(mf), "entity": entity, "standard_version": standard_version,
                   "schema_fingerprint": schema_fingerprint(schema), "publisher": hub,
                   "staged_at": datetime.now(UTC).isoformat(timespec="seconds"),
                   "quality": dict(quality or {})}
        # the sidecar goes first: a data file without one is incomplete and ignored
        tmp = final.with_name(final.name + ".json.tmp")
        tmp.write_text(json.dumps(sidecar, ensure_ascii=False, indent=1), encoding="utf-8")
        f.path.replace(final)
        tmp.replace(final.with_name(final.name + ".json"))
        published.append(mf)
    return published
