"""Delta tables of the hub: opening, creating, appending files, merging, reading the log.

A :class:`Table` is one Delta table in a :class:`Store` (``<root>/<name>/``). Every
commit the hub makes goes through :meth:`Table.commit_guard`: it is made against the
snapshot the publisher read (``max_commit_retries=0``), so a concurrent commit by
another publisher makes ours fail instead of being silently rebased over a decision
taken on stale data; the caller then re-reads and tries again
(:func:`with_retries`). Delta's log makes each commit atomic (a reader sees version N
whole or not at all), on local disks and on S3 alike.

Appends (an initial publish, new keys only) write their Parquet files here, hashing each
while it is written, and commit them as ``add`` actions with per-file statistics;
updates go through delta-rs ``MERGE`` (copy-on-write of the files they touch).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hrss_hub.errors import PublishError
from hrss_hub.exchange.layout import HUB_DIR, TableLayout
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.suites import new_digest

#: rows per Parquet row group written by the hub (selective reads, good compression)
ROW_GROUP_ROWS = 128_000
#: row groups of files delta-rs rewrites in a MERGE: it keeps one open per partition, so
#: this bounds its memory (measured at 1M rows: 128k → 16k rows took the peak 726 → 582 MB)
MERGE_ROW_GROUP_ROWS = 16_384
#: rows per data file before a new one is started
FILE_ROWS = 1_000_000
#: rows buffered over all open files before every buffer is written out: bounds memory
#: whatever the number of partitions (row groups get smaller instead)
BUFFER_ROWS = 131_072
#: zstd level 1: ~0.25x the Arrow size at ~200 MB/s per core (reference measurements)
ZSTD_LEVEL = 1
#: DataFusion memory before a MERGE spills to disk, and the spill space it may use.
#: Not lower: with a 64 MB pool a 10k-update MERGE into 1M rows hung for good (threads
#: parked waiting for memory, reproducible); 256 MB and unlimited finished in 11 s with
#: the same peak (~600 MB), so the pool is a ceiling against runaway growth, not a diet.
#: At 10M rows a 128 MB pool took the peak 840 -> ~760 MB but hung as well (1 run in 3,
#: all threads asleep), so the pool is not the lever for the 10M/1M peak ratio either
MERGE_SPILL_BYTES = 512 * 1024 * 1024
MERGE_TEMP_BYTES = 64 * 1024 * 1024 * 1024
#: attempts of one publish against concurrent publishers
COMMIT_ATTEMPTS = 8

T = TypeVar("T")


@dataclass(frozen=True)
class DataFile:
    """One active data file of a version, as the hub's manifest records it."""

    path: str  # relative to the table root, as in the Delta log
    size: int
    rows: int
    partition: dict[str, str | None] = field(default_factory=dict)
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Manifest entry."""
        return {"path": self.path, "size": self.size, "rows": self.rows,
                "partition": dict(sorted(self.partition.items())), "digest": self.digest}


class CommitConflict(PublishError):
    """Another publisher committed first; re-read and try again."""


class Table:
    """One Delta table (``<store>/<name>``)."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name

    # -- places --------------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """What delta-rs opens."""
        return self.store.delta_uri(self.name)

    @property
    def hub(self) -> Store:
        """The hub's folder inside the table (manifests, intents)."""
        return self.store.sub(self.name, HUB_DIR)

    @property
    def files(self) -> Store:
        """The table folder itself (data files and the log)."""
        return self.store.sub(self.name)

    def display(self, rel: str = "") -> str:
        """Human-readable location."""
        return self.files.display(rel)

    # -- the log -------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether a Delta log exists."""
        return bool(self.files.exists("_delta_log")) and bool(self.log_versions())

    def open(self, version: int | str | datetime | None = None) -> Any:
        """A ``deltalake.DeltaTable`` at ``version`` (number or timestamp; default latest)."""
        from deltalake import DeltaTable

        try:
            dt = DeltaTable(self.uri, storage_options=self.store.delta_options() or None)
            if version is not None:
                dt.load_as_version(version)
        except Exception as exc:  # noqa: BLE001 - delta-rs raises several unrelated types
            raise PublishError(f"cannot open the Delta table: {_first_line(exc)}",
                               {"table": self.display(), "version": _show(version)},
                               "list versions with: hrss-hub exchange history") from None
        return dt

    def log_versions(self) -> list[int]:
        """Version numbers with a commit file in ``_delta_log/`` (ascending)."""
        out = []
        for name in self.files.listdir("_delta_log"):
            stem, _, ext = name.partition(".")
            if ext == "json" and stem.isdigit():
                out.append(int(stem))
        return sorted(out)

    def commit_path(self, version: int) -> str:
        """Path of a version's commit file relative to the table root."""
        return f"_delta_log/{version:020d}.json"

    def commit_bytes(self, version: int) -> bytes:
        """The raw commit file of ``version``."""
        return self.files.read_bytes(self.commit_path(version))

    def commit_info(self, version: int) -> dict[str, Any]:
        """The ``commitInfo`` action of ``version`` (``{}`` when absent)."""
        for line in self.commit_bytes(version).splitlines():
            if line.strip():
                doc = json.loads(line)
                if "commitInfo" in doc:
                    info: dict[str, Any] = doc["commitInfo"]
                    return info
        return {}

    def active_files(self, dt: Any) -> list[DataFile]:
        """The data files of the snapshot ``dt`` is loaded at."""
        actions = pa.table(dt.get_add_actions(flatten=True))
        parts = [c for c in actions.column_names if c.startswith("partition.")]
        out = []
        for row in actions.to_pylist():
            out.append(DataFile(
                path=str(row["path"]), size=int(row["size_bytes"]),
                rows=int(row["num_records"]) if row.get("num_records") is not None else -1,
                partition={c.removeprefix("partition."): (None if row[c] is None
                                                          else str(row[c])) for c in parts}))
        return sorted(out, key=lambda f: f.path)

    def dataset(self, dt: Any, file_pruning_predicate: str | None = None) -> Any:
        """A ``pyarrow.dataset.Dataset`` over ``dt``'s snapshot with the table schema.

        Built here rather than with ``DeltaTable.to_pyarrow_dataset``: that one attaches
        per-file statistics whose string literals are ``string_view`` after a delta-rs
        MERGE, and pyarrow then refuses filters on string columns. Fragments here carry
        only their partition values; ``file_pruning_predicate`` (SQL, see
        ``DeltaTable.file_uris``) prunes files by statistics before any is opened.
        """
        import pyarrow.dataset as ds

        schema = pa.schema(dt.schema().to_arrow())
        parts = list(dt.metadata().partition_columns)
        wanted = None
        if file_pruning_predicate is not None:
            base = self.uri.rstrip("/") + "/"
            wanted = {u[len(base):] if u.startswith(base) else u.rpartition(
                f"/{self.name}/")[2] for u in dt.file_uris(
                file_pruning_predicate=file_pruning_predicate)}
        fmt = ds.ParquetFileFormat()
        fragments = []
        for f in self.active_files(dt):
            rel = _unquote(f.path)
            if wanted is not None and rel not in wanted and f.path not in wanted:
                continue
            expr = None
            for col in parts:
                value = f.partition.get(col)
                term = (ds.field(col).is_null() if value is None else
                        ds.field(col) == pa.scalar(value).cast(schema.field(col).type))
                expr = term if expr is None else expr & term
            fragments.append(fmt.make_fragment(self.files.path(rel), filesystem=self.files.fs,
                                               partition_expression=expr))
        return ds.FileSystemDataset(fragments, schema, fmt, self.files.fs)

    def digest_file(self, path: str, suite: str) -> str:
        """Digest of a data file (streamed)."""
        h = new_digest(suite)
        with self.files.fs.open_input_stream(self.files.path(_unquote(path))) as fh:
            while True:
                block = fh.read(1 << 20)
                if not block:
                    break
                h.update(block)
        return h.hexdigest()

    # -- creating and committing -----------------------------------------------------------

    def create(self, layout: TableLayout, properties: dict[str, str],
               metadata: dict[str, Any]) -> Any:
        """Create the table (version 0: schema, partitions, properties, no data)."""
        from deltalake import CommitProperties, DeltaTable

        try:
            return DeltaTable.create(
                self.uri, layout.schema, mode="error", partition_by=list(layout.partition_by),
                name=layout.name, configuration=properties,
                storage_options=self.store.delta_options() or None,
                commit_properties=CommitProperties(custom_metadata=metadata,
                                                   max_commit_retries=0))
        except Exception as exc:  # noqa: BLE001 - delta-rs errors are not one hierarchy
            if _is_conflict(exc) or "already exists" in str(exc).lower():
                raise CommitConflict("the table was created concurrently",
                                     {"table": self.display()}) from None
            raise PublishError(f"cannot create the Delta table: {_first_line(exc)}",
                               {"table": self.display()}) from None

    def append_files(self, dt: Any, layout: TableLayout, files: Sequence[DataFile],
                     stats: dict[str, str], metadata: dict[str, Any]) -> None:
        """Commit already written ``files`` as one append on top of ``dt``'s snapshot."""
        from deltalake import CommitProperties
        from deltalake.transaction import AddAction

        now = int(time.time() * 1000)
        actions = [AddAction(f.path, f.size, dict(f.partition), now, True, stats[f.path])
                   for f in files]
        with commit_guard(self):
            dt.create_write_transaction(
                actions, "append", layout.schema, partition_by=list(layout.partition_by),
                commit_properties=CommitProperties(custom_metadata=metadata,
                                                   max_commit_retries=0))

    def merge(self, dt: Any, source: pa.Table | pa.RecordBatchReader, predicate: str,
              metadata: dict[str, Any],
              build: Callable[[Any], Any]) -> dict[str, Any]:
        """Run a MERGE on ``dt``'s snapshot; ``build`` adds the when-clauses."""
        from deltalake import CommitProperties, WriterProperties

        props = WriterProperties(compression="ZSTD", compression_level=ZSTD_LEVEL,
                                 max_row_group_size=MERGE_ROW_GROUP_ROWS)
        before = self.log_versions()[-1:]
        with commit_guard(self):
            merger = dt.merge(
                source, predicate, source_alias="s", target_alias="t",
                streamed_exec=not isinstance(source, pa.Table), writer_properties=props,
                max_spill_size=MERGE_SPILL_BYTES, max_temp_directory_size=MERGE_TEMP_BYTES,
                commit_properties=CommitProperties(custom_metadata=metadata,
                                                   max_commit_retries=0))
            metrics: dict[str, Any] = build(merger).execute()
        if self.log_versions()[-1:] == before:
            # delta-rs commits nothing for a MERGE that changes no row; the hub still
            # needs the version (one publish = one version, the source version advances)
            self.append_files(dt, layout_of(dt), [], {}, metadata)
        return metrics


def plain_types(table: pa.Table) -> pa.Table:
    """``table`` with view types (delta-rs returns ``string_view`` from its scans and CDF)
    cast to the plain Arrow types the standard's schemas use."""
    fields = []
    for f in table.schema:
        t = f.type
        if t == pa.string_view():
            t = pa.string()
        elif t == pa.binary_view():
            t = pa.binary()
        fields.append(f.with_type(t))
    target = pa.schema(fields)
    return table if target == table.schema else table.cast(target)


def load_changes(dt: Any, starting_version: int, ending_version: int) -> pa.Table:
    """The Change Data Feed of ``dt``'s table between two versions (inclusive)."""
    return plain_types(pa.table(dt.load_cdf(starting_version=starting_version,
                                            ending_version=ending_version)))


def layout_of(dt: Any) -> TableLayout:
    """Enough of a layout to commit on ``dt`` (its schema and partitions)."""
    schema = pa.schema(dt.schema().to_arrow())
    return TableLayout("", schema, (), tuple(dt.metadata().partition_columns), ())


class commit_guard:
    """Turn delta-rs commit conflicts into :class:`CommitConflict`, other failures into
    :class:`PublishError` naming the table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if exc is None or isinstance(exc, PublishError) or not isinstance(exc, Exception):
            return
        if _is_conflict(exc):
            raise CommitConflict("another publisher committed first",
                                 {"table": self.table.display()}) from None
        raise PublishError(f"Delta commit failed: {_first_line(exc)}",
                           {"table": self.table.display()},
                           "the previous version is intact; rerun to publish") from exc


def _is_conflict(exc: BaseException) -> bool:
    name = type(exc).__name__
    text = str(exc).lower()
    return name in ("CommitFailedError",) or "version already exists" in text or (
        "conflict" in text and "transaction" in text)


def with_retries(attempt: Callable[[], T], what: str) -> T:
    """Run ``attempt`` until it commits without a conflict (bounded, jittered backoff)."""
    for n in range(COMMIT_ATTEMPTS):
        try:
            return attempt()
        except CommitConflict:
            if n == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.2) * (n + 1))
    raise AssertionError(what)  # pragma: no cover - the loop returns or raises


# -- writing data files ---------------------------------------------------------------------

class _HashingSink:
    """A writable file object that digests and counts what passes through it."""

    def __init__(self, target: Any, suite: str) -> None:
        self._target = target
        self._digest = new_digest(suite)
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._digest.update(bytes(view))
        self.size += view.nbytes
        self._target.write(data)
        return view.nbytes

    def flush(self) -> None:
        self._target.flush()

    def close(self) -> None:
        self.closed = True

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class _OpenFile:
    def __init__(self, table: Table, layout: TableLayout, partition: dict[str, str | None],
                 suite: str) -> None:
        folder = "/".join(f"{k}={_part_path(v)}" for k, v in partition.items())
        self.rel = (f"{folder}/" if folder else "") + f"part-{uuid.uuid4()}.zstd.parquet"
        self.partition = partition
        self._ctx = table.files.open_output(self.rel)
        out = self._ctx.__enter__()
        self._sink = _HashingSink(out, suite)
        self._schema = pa.schema([layout.schema.field(c) for c in layout.data_columns])
        self._writer = pq.ParquetWriter(self._sink, self._schema, compression="zstd",
                                        compression_level=ZSTD_LEVEL)
        self.rows = 0
        self.stats = _StatsAccumulator(self._schema)
        self._buffer: list[pa.Table] = []
        self._buffered = 0

    @property
    def buffered(self) -> int:
        """Rows waiting for the next row group."""
        return self._buffered

    def write(self, table: pa.Table) -> None:
        part = table.select(self._schema.names)
        self.stats.add(part)
        self.rows += part.num_rows
        self._buffer.append(part)
        self._buffered += part.num_rows
        if self._buffered >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._buffered:
            self._writer.write_table(pa.concat_tables(self._buffer),
                                     row_group_size=ROW_GROUP_ROWS)
            self._buffer, self._buffered = [], 0

    def close(self) -> tuple[DataFile, str]:
        self.flush()
        self._writer.close()
        self._ctx.__exit__(None, None, None)
        return (DataFile(self.rel, self._sink.size, self.rows, dict(self.partition),
                         self._sink.hexdigest()), self.stats.to_json(self.rows))


def write_files(table: Table, layout: TableLayout, parts: Iterable[pa.Table],
                suite: str) -> tuple[list[DataFile], dict[str, str]]:
    """Write ``parts`` (tables in the layout's schema) as data files, one open file per
    partition (≤ ``FILE_ROWS`` rows each); return the files and their Delta stats JSON.

    Rows are sorted by the layout's cluster columns within each part, so file statistics
    prune lookups; memory holds one row group per open partition.
    """
    open_files: dict[tuple[str | None, ...], _OpenFile] = {}
    done: list[tuple[DataFile, str]] = []
    try:
        for part in parts:
            if part.num_rows == 0:
                continue
            for values, group in _split_partitions(part, layout):
                current = open_files.get(values)
                if current is None:
                    current = open_files[values] = _OpenFile(
                        table, layout, dict(zip(layout.partition_by, values, strict=True)),
                        suite)
                current.write(group)
                if current.rows >= FILE_ROWS:
                    done.append(open_files.pop(values).close())
            if sum(f.buffered for f in open_files.values()) >= BUFFER_ROWS:
                for f in open_files.values():
                    f.flush()
        for values in list(open_files):
            done.append(open_files.pop(values).close())
    finally:
        for f in open_files.values():  # an exception: close what is open (debris only)
            with suppress(Exception):
                f.close()
    files = [d for d, _ in done]
    return files, {d.path: s for d, s in done}


def _split_partitions(table: pa.Table, layout: TableLayout
                      ) -> Iterator[tuple[tuple[str | None, ...], pa.Table]]:
    """Runs of equal partition values, each sorted by the cluster columns (one sort of
    the part; the hub's tables have at most one partition column, see :mod:`layout`)."""
    cluster = [(c, "ascending") for c in layout.cluster_by if c in table.column_names]
    if not layout.partition_by:
        yield (), table.take(pc.sort_indices(table, sort_keys=cluster)) if cluster else table
        return
    (col,) = layout.partition_by
    ordered = table.take(pc.sort_indices(table, sort_keys=[(col, "ascending", "at_end"),
                                                           *cluster]))
    ree = pc.run_end_encode(ordered[col].combine_chunks())
    start = 0
    for end, value in zip(ree.run_ends.to_pylist(), ree.values.to_pylist(), strict=True):
        yield (None if value is None else str(value),), ordered.slice(start, end - start)
        start = end


def _part_path(value: str | None) -> str:
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"
    return quote(value, safe="")


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


class _StatsAccumulator:
    """Delta per-file statistics (numRecords, min/max, null counts) of what was written.

    Min/max are kept only for types whose Delta encoding is exact (strings, integers,
    dates), so that pruning on them is always correct; other columns carry null counts.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.mins: dict[str, Any] = {}
        self.maxs: dict[str, Any] = {}
        self.nulls: dict[str, int] = {f.name: 0 for f in schema}

    def add(self, table: pa.Table) -> None:
        for f in self.schema:
            col = table[f.name]
            self.nulls[f.name] += col.null_count
            if not _exact_stats(f.type) or col.null_count == len(col):
                continue
            mm = pc.min_max(col)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            if f.name not in self.mins or lo < self.mins[f.name]:
                self.mins[f.name] = lo
            if f.name not in self.maxs or hi > self.maxs[f.name]:
                self.maxs[f.name] = hi

    def to_json(self, rows: int) -> str:
        return json.dumps({"numRecords": rows,
                           "minValues": {k: _stat_value(v) for k, v in self.mins.items()},
                           "maxValues": {k: _stat_value(v) for k, v in self.maxs.items()},
                           "nullCount": self.nulls}, ensure_ascii=False, sort_keys=True)


def _exact_stats(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t)
                or pa.types.is_integer(t) or pa.types.is_date32(t))


def _stat_value(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _show(version: object) -> str | None:
    return None if version is None else str(version)
