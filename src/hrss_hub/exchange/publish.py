"""Publishing staged rows of one entity as the next version of its Delta table.

One publish is one Delta version (one hub version number). It costs in proportion to the
rows it brings and the files they touch, never a rewrite of the table in memory:

1. **candidates**: the fresh staged files (those no recent version absorbed, by digest)
   are decided per key-hash bucket (:mod:`buckets`), at most ``BUCKET_ROWS`` rows at a
   time, so an initial publish of 10M rows is as flat in memory as one of 1M;
2. **lookup**: for a bucket's keys, the table's current records are probed with a
   narrow scan (key, partition and lineage columns), pruned by the files' key statistics;
3. **decision** (:mod:`winner`): the best record per key among the staged candidates and
   the current one; unchanged keys drop out, the rest are inserts or updates;
4. **commit**: only new keys → the hub writes their files (hashed while written) and
   appends them; any update → one ``MERGE`` on the key, restricted to the partitions the
   updated keys live in now (a record that moved division is matched where it was and
   written where it goes), with DataFusion spilling past ``MERGE_SPILL_BYTES``.

The commit is made against the snapshot the decision was read from; if another publisher
committed meanwhile, the whole decision is re-taken on the new snapshot (no lost update,
no duplicate key).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hrss_hub.errors import PublishError
from hrss_hub.exchange import buckets
from hrss_hub.exchange.commit import (
    CommittedVersion,
    commit_version,
    latest_signed,
    manifest_versions,
    read_manifest,
    recover,
    sweep_intents,
)
from hrss_hub.exchange.layout import (
    SOURCE_UPDATED_AT,
    TableLayout,
    entity_layout,
    partition_in,
    sql_literal,
    table_properties,
)
from hrss_hub.exchange.pending import PendingFile, consume
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import BUFFER_ROWS, Table, with_retries, write_files
from hrss_hub.exchange.winner import (
    WinRule,
    content_hashes,
    first_of_each_key,
    order,
    winners,
)
from hrss_hub.filelock import exclusive_file_lock
from hrss_hub.standard.model import Entity

#: how many recent versions are searched for staged files they already absorbed
_ABSORBED_LOOKBACK = 50
#: the column of a MERGE source telling upserts (U) from retractions (D)
OP = "_hrss_op"
#: rows per batch of the lookup scan
_LOOKUP_BATCH = 65_536
_LINEAGE = ("source_system", "source_key", SOURCE_UPDATED_AT, "extracted_at", "run_id")


@dataclass
class Decision:
    """What one publish will write: new keys and updated keys, each as in-memory tables
    or scratch Parquet files (a decision over several buckets is spilled to disk)."""

    inserts: list[pa.Table | Path] = field(default_factory=list)
    updates: list[pa.Table | Path] = field(default_factory=list)
    #: full rows of current records to delete when still from the same origin (an
    #: upstream hub retracted them); matched on key, source_system and source_key
    deletes: list[pa.Table] = field(default_factory=list)
    old_partitions: set[str | None] = field(default_factory=set)
    candidates: int = 0
    unchanged: int = 0
    inserted: int = 0
    updated: int = 0

    def add(self, kind: str, table: pa.Table, spill: Path | None) -> None:
        """Record decided rows (written to ``spill`` when given)."""
        if table.num_rows == 0:
            return
        target = self.inserts if kind == "insert" else self.updates
        if kind == "insert":
            self.inserted += table.num_rows
        else:
            self.updated += table.num_rows
        if spill is None:
            target.append(table)
            return
        path = spill / f"{kind}-{len(target):05d}.parquet"
        pq.write_table(table, path, compression="lz4")
        target.append(path)


def _tables(parts: Sequence[pa.Table | Path]) -> Iterator[pa.Table]:
    for part in parts:
        yield pq.read_table(part) if isinstance(part, Path) else part


@contextmanager
def publish_lock(store: Store, name: str) -> Iterator[None]:
    """One publisher per table at a time on a local store (an advisory ``flock``): it
    saves conflicting work; correctness never depends on it (commits are checked against
    the snapshot they were decided on, which is what protects tables on S3)."""
    if not store.is_local:
        yield
        return
    path = Path(store.path(f"{name}/_hrss/.lock"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_file_lock(path):
        yield


def ensure_table(table: Table, layout: TableLayout, signer: Signer, meta: dict[str, Any],
                 retention_hours: int) -> None:
    """Create the table (version 0, signed) if it does not exist; finish any version a
    crash left without manifest."""
    if not table.exists():
        def create(custom: dict[str, Any]) -> None:
            table.create(layout, table_properties(retention_hours), custom)

        commit_version(table, layout, signer, base=None, operation="create",
                       meta={**meta, "quality": {}, "lineage": {}}, do_commit=create)
    recover(table, layout, signer)
    add_new_columns(table, layout, signer, meta)


def add_new_columns(table: Table, layout: TableLayout, signer: Signer,
                    meta: dict[str, Any]) -> CommittedVersion | None:
    """Add the entity's new optional fields to an existing table as one signed version.

    A standard profile (or a newer standard) may add optional fields to an entity whose
    table exists: without this, files carrying the new column would be committed under the
    old table schema and readers would never see its values. New required fields cannot be
    added to published data (its rows lack them) and are refused.
    """
    import pyarrow as pa

    dt = table.open()
    have = set(pa.schema(dt.schema().to_arrow()).names)
    missing = [f for f in layout.schema if f.name not in have]
    if not missing:
        return None
    required = [f.name for f in missing if not f.nullable]
    if required:
        raise PublishError(
            f"the standard adds required field(s) {', '.join(required)} to the published "
            f"table {table.name}", {"table": table.display()},
            "fields added to published data must be optional (required: false)")

    def add(custom: dict[str, Any]) -> None:
        from deltalake import CommitProperties
        from deltalake.schema import Field

        dt.alter.add_columns([Field.from_arrow(f) for f in missing],
                             commit_properties=CommitProperties(custom_metadata=custom))

    names = [f.name for f in missing]
    return commit_version(table, layout, signer, base=dt.version(), operation="add_columns",
                          meta={**meta, "quality": {}, "lineage": {}, "added_columns": names},
                          do_commit=add)


def absorbed_inputs(table: Table) -> set[str]:
    """Digests of staged files absorbed by recent versions (a crash between the commit
    and the clean-up leaves them staged: they are cleared, never merged twice)."""
    out: set[str] = set()
    for version in manifest_versions(table)[-_ABSORBED_LOOKBACK:]:
        doc, _ = read_manifest(table, version)
        out.update(str(i["sha256"]) for i in doc.get("lineage", {}).get("inputs", []))
    return out


def publish_entity(store: Store, entity: Entity, pending: Sequence[PendingFile], *,
                   signer: Signer, standard_version: str, publisher: dict[str, str],
                   quality: dict[str, Any] | None = None, rule: WinRule | None = None,
                   watermarks: dict[str, Any] | None = None, audit_head: str | None = None,
                   retention_hours: int = 168, keep: int = 10,
                   scratch: Path | None = None) -> CommittedVersion | None:
    """Publish ``pending`` staged files of ``entity`` as its next version; ``None`` when
    they were all absorbed already. Consumed files are deleted after the commit.

    ``keep`` is accepted for compatibility; retention is vacuum's job
    (:mod:`maintenance`), which never breaks a version a recipient may still read.
    """
    del keep
    layout = entity_layout(entity)
    table = Table(store, entity.name)
    rule = rule or WinRule()
    base_meta = {"standard_version": standard_version, "publisher": publisher,
                 "audit_head": audit_head, "kind": "exchange"}
    with publish_lock(store, entity.name):
        ensure_table(table, layout, signer, base_meta, retention_hours)
        sweep_intents(table)
        absorbed = absorbed_inputs(table)
        fresh = [p for p in pending if p.sha256 not in absorbed]
        if not fresh:
            consume(list(pending))
            return None
        previous = latest_signed(table)
        prev_lineage = {} if previous is None else previous.manifest.get("lineage", {})
        meta = {**base_meta, "quality": quality if quality is not None else
                quality_of_inputs(fresh), "rule": rule.describe()}
        work = scratch or Path(tempfile.gettempdir())
        committed = with_retries(lambda: _publish_once(
            table, layout, fresh, signer, rule, meta, prev_lineage, watermarks or {}, work),
            f"publish {entity.name}")
    consume(list(pending))
    return committed


def _publish_once(table: Table, layout: TableLayout, fresh: Sequence[PendingFile],
                  signer: Signer, rule: WinRule, meta: dict[str, Any],
                  prev_lineage: dict[str, Any], watermarks: dict[str, Any],
                  scratch: Path) -> CommittedVersion:
    dt = table.open()
    base = int(dt.version())
    empty = not table.active_files(dt)
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".publish-", dir=scratch) as tmp:
        decision = Decision()
        parts = candidate_buckets(layout, fresh, Path(tmp))
        if empty and _distinct_keys(layout, fresh, Path(tmp)):
            # an initial publish whose keys are all distinct (one stream's run: the gate
            # already quarantined later duplicates): every row is its key's winner, so
            # the staged rows stream straight into data files, no buckets, no sort
            files, stats = write_files(table, layout, _straight(layout, fresh, decision),
                                       signer.suite)
        elif empty:
            # nothing to look up or update: winners stream straight into data files
            files, stats = write_files(table, layout, _initial(layout, parts, rule, decision),
                                       signer.suite)
        else:
            spill = Path(tmp) if buckets.bucket_count(sum(p.rows for p in fresh)) > 1 else None
            for bucket in parts:
                decide_bucket(table, dt, layout, bucket, rule, decision, spill)
                del bucket
                pa.default_memory_pool().release_unused()
        lineage = {
            "inputs": [p.lineage() for p in fresh],
            "runs": sorted({p.run_id for p in fresh}),
            "systems": sorted(set(prev_lineage.get("systems", [])) | {p.system for p in fresh}),
            "watermarks": {**prev_lineage.get("watermarks", {}), **watermarks},
            "upstream": prev_lineage.get("upstream", []),
            "merge": merge_stats(sum(p.rows for p in fresh), decision),
        }
        full = {**meta, "lineage": lineage}
        if empty:
            def append(custom: dict[str, Any]) -> None:
                table.append_files(dt, layout, files, stats, custom)

            return commit_version(table, layout, signer, base=base, operation="publish",
                                  meta=full, do_commit=append,
                                  known_digests={f.path: str(f.digest) for f in files})
        return apply_decision(table, layout, signer, dt, base, decision, "publish", full)


def merge_stats(input_rows: int, decision: Decision) -> dict[str, int]:
    """Reconciliation of a publish: staged rows in, keys inserted/updated/unchanged."""
    return {"input_rows": input_rows, "candidates": decision.candidates,
            "inserted": decision.inserted, "updated": decision.updated,
            "unchanged": decision.unchanged,
            "superseded": input_rows - decision.inserted - decision.updated}


def _distinct_keys(layout: TableLayout, fresh: Sequence[PendingFile], scratch: Path) -> bool:
    """Whether no key occurs twice among the staged rows (key columns read only)."""
    if not layout.key:
        return False
    key = list(layout.key)
    # batch by batch: the hashing temporaries of a whole file's keys cost ~100 MB per 1M
    tables = (pa.Table.from_batches([b]) for p in fresh
              for b in pq.ParquetFile(p.path).iter_batches(batch_size=65_536, columns=key))
    n = buckets.bucket_count(sum(p.rows for p in fresh))
    return buckets.keys_unique(tables, key, n, scratch / "keys")


def _straight(layout: TableLayout, fresh: Sequence[PendingFile],
              decision: Decision) -> Iterator[pa.Table]:
    """The staged rows in parts of ``BUFFER_ROWS`` (what ``write_files`` buffers before a
    flush: each part is sorted by the cluster columns and written as one buffer, so memory
    holds about one part and its sorted copy), each one inserted."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    for p in fresh:
        for batch in p.batches(layout.schema):
            batches.append(batch)
            rows += batch.num_rows
            if rows >= BUFFER_ROWS:
                yield _counted(pa.Table.from_batches(batches, schema=layout.schema), decision)
                batches, rows = [], 0
    if batches:
        yield _counted(pa.Table.from_batches(batches, schema=layout.schema), decision)


def _counted(part: pa.Table, decision: Decision) -> pa.Table:
    decision.candidates += part.num_rows
    decision.inserted += part.num_rows
    return part


def _initial(layout: TableLayout, parts: Iterator[pa.Table], rule: WinRule,
             decision: Decision) -> Iterator[pa.Table]:
    for bucket in parts:
        decision.candidates += bucket.num_rows
        best = winners(bucket, list(layout.key), rule)
        del bucket
        decision.inserted += best.num_rows
        yield best
        del best
        # hand freed buffers back to the OS between buckets, so that the peak is one
        # bucket's, not the allocator's high-water mark over all of them
        pa.default_memory_pool().release_unused()


def apply_decision(table: Table, layout: TableLayout, signer: Signer, dt: Any, base: int,
                   decision: Decision, operation: str,
                   meta: dict[str, Any]) -> CommittedVersion:
    """Commit ``decision`` on top of ``base`` as one signed version (append when there
    are only new keys, else one MERGE)."""
    if not decision.updates and not decision.deletes:
        files, stats = write_files(table, layout, _tables(decision.inserts), signer.suite)

        def append(custom: dict[str, Any]) -> None:
            table.append_files(dt, layout, files, stats, custom)

        return commit_version(table, layout, signer, base=base, operation=operation,
                              meta=meta, do_commit=append,
                              known_digests={f.path: str(f.digest) for f in files})
    parts = [*decision.updates, *decision.inserts]
    schema = layout.schema.append(pa.field(OP, pa.string()))

    def tagged() -> Iterator[pa.RecordBatch]:
        for op, group in (("U", _tables(parts)), ("D", iter(decision.deletes))):
            for t in group:
                t = t.select(layout.schema.names).cast(layout.schema)
                t = t.append_column(OP, pa.array([op] * t.num_rows, pa.string()))
                yield from t.to_batches()

    source: pa.Table | pa.RecordBatchReader
    if all(isinstance(p, pa.Table) for p in parts):
        source = pa.Table.from_batches(list(tagged()), schema=schema)
    else:
        source = pa.RecordBatchReader.from_batches(schema, tagged())
    predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in layout.key)
    if layout.partition_by:
        predicate += " AND " + partition_in(layout.partition_by[0], decision.old_partitions)
    same_origin = " AND ".join(f"t.`{c}` = s.`{c}`" for c in ("source_system", "source_key"))

    def merge(custom: dict[str, Any]) -> None:
        table.merge(dt, source, predicate, custom, lambda m: (
            m.when_matched_delete(f"s.{OP} = 'D' AND {same_origin}")
             .when_matched_update_all(f"s.{OP} = 'U'", except_cols=[OP])
             .when_not_matched_insert_all(f"s.{OP} = 'U'", except_cols=[OP])))

    return commit_version(table, layout, signer, base=base, operation=operation, meta=meta,
                          do_commit=merge)


def candidate_buckets(layout: TableLayout, fresh: Sequence[PendingFile],
                      scratch: Path) -> Iterator[pa.Table]:
    """The staged candidates, one key-hash bucket at a time (one in-memory bucket when
    they fit, see :mod:`buckets`)."""
    total = sum(p.rows for p in fresh)
    n = buckets.bucket_count(total)
    if n == 1:
        yield pa.concat_tables([p.read(layout.schema) for p in fresh]) if fresh else \
            layout.schema.empty_table()
        return
    batches = (b for p in fresh for b in p.batches(layout.schema))
    paths = buckets.spread(batches, layout.key, layout.schema, n, scratch / "buckets")
    yield from buckets.read_buckets(paths)


def decide_bucket(table: Table, dt: Any, layout: TableLayout, incoming: pa.Table,
                  rule: WinRule, decision: Decision, spill: Path | None) -> None:
    """Decide one bucket of candidates against the table's current records and add its
    inserts/updates to ``decision``."""
    if incoming.num_rows == 0:
        return
    key = list(layout.key)
    decision.candidates += incoming.num_rows
    # a partition column can also be a key column (finding: [finding_id, division]):
    # listed once, or the lookup's join sees two columns of that name
    narrow = [c for c in dict.fromkeys((*key, *layout.partition_by, *_LINEAGE))
              if c in layout.schema.names]
    existing = lookup(dt, layout, incoming, narrow, table)
    cand = incoming.select(narrow).append_column(
        "__origin", pa.array(np.zeros(incoming.num_rows, dtype=np.int8))).append_column(
        "__row", pa.array(np.arange(incoming.num_rows, dtype=np.int64)))
    ex = existing.select(narrow).cast(pa.schema([layout.schema.field(c) for c in narrow]))
    ex = ex.append_column(
        "__origin", pa.array(np.ones(existing.num_rows, dtype=np.int8))).append_column(
        "__row", pa.array(np.full(existing.num_rows, -1, dtype=np.int64)))

    def hashes(tied: pa.Table) -> list[str]:
        return _tie_hashes(table, dt, layout, incoming, tied)

    ordered = order(pa.concat_tables([cand, ex]), key, rule, hashes=hashes)
    first = ordered.filter(pa.array(first_of_each_key(ordered, key)))
    new = first.filter(pc.equal(first["__origin"], 0))
    decision.unchanged += first.num_rows - new.num_rows
    if new.num_rows == 0:
        return
    had = in_keys(new, ex, key)
    rows = new["__row"]
    decision.add("insert", incoming.take(pc.filter(rows, pc.invert(had))), spill)
    updated = incoming.take(pc.filter(rows, had))
    decision.add("update", updated, spill)
    if updated.num_rows and layout.partition_by:
        part = layout.partition_by[0]
        moved_from = ex.filter(in_keys(ex, updated, key))[part]
        decision.old_partitions.update(pc.unique(moved_from).to_pylist())


def in_keys(table: pa.Table, other: pa.Table, key: Sequence[str]) -> pa.Array:
    """Mask: whether each row's key occurs in ``other`` (exact, all key columns)."""
    if other.num_rows == 0:
        return pa.array(np.zeros(table.num_rows, dtype=bool))
    if len(key) == 1:
        return pc.fill_null(pc.is_in(table[key[0]], value_set=other[key[0]].combine_chunks()),
                            False)
    probe = table.select(list(key)).append_column(
        "__i", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    hit = probe.join(other.select(list(key)).group_by(list(key)).aggregate([]), keys=list(key),
                     join_type="left semi")
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[hit["__i"].to_numpy()] = True
    return pa.array(mask)


def _key_tuple(row: dict[str, Any], key: Sequence[str]) -> tuple[Any, ...]:
    return tuple(row[k] for k in key)


def _key_set(table: pa.Table, key: Sequence[str]) -> set[tuple[Any, ...]]:
    return {_key_tuple(r, key) for r in table.select(list(key)).to_pylist()}


def _tie_hashes(table: Table, dt: Any, layout: TableLayout, incoming: pa.Table,
                tied: pa.Table) -> list[str]:
    """Content hashes of tied candidates: staged ones from ``incoming``, current ones
    read back in full from the table (only the tied keys)."""
    out: list[str] = [""] * tied.num_rows
    origin = tied["__origin"].to_pylist()
    rows = tied["__row"].to_pylist()
    mine = [i for i, o in enumerate(origin) if o == 0]
    if mine:
        full = incoming.take(pa.array([rows[i] for i in mine]))
        for i, h in zip(mine, content_hashes(full), strict=True):
            out[i] = h
    theirs = [i for i, o in enumerate(origin) if o == 1]
    if theirs:
        key = list(layout.key)
        probe = tied.take(pa.array(theirs)).select(key)
        current = lookup(dt, layout, probe, layout.schema.names, table)
        by_key = {_key_tuple(r, key): h for r, h in zip(
            current.select(key).to_pylist(), content_hashes(current), strict=True)}
        for i, r in zip(theirs, probe.to_pylist(), strict=True):
            out[i] = by_key.get(_key_tuple(r, key), "")
    return out


def lookup(dt: Any, layout: TableLayout, probe: pa.Table, columns: Sequence[str],
           table: Table) -> pa.Table:
    """The table's current rows whose key is among ``probe``'s keys (``columns`` only).

    Files are pruned by their key statistics (min/max of the probe's keys) before any is
    opened; rows are matched exactly on the full key. The key filter is applied batch by
    batch here, not pushed into pyarrow: files delta-rs wrote carry ``string_view`` row
    group statistics that pyarrow cannot compare with a string filter.
    """
    key = list(layout.key)
    keys = probe.select(key)
    predicate = _stats_predicate(layout, keys)
    dataset = table.dataset(dt, predicate)
    sets = {k: pc.unique(keys[k].combine_chunks()).drop_null() for k in key}
    wanted = list(dict.fromkeys([*columns, *key]))
    hits = []
    for batch in _narrow_batches(dataset, wanted):
        mask = None
        for k in key:
            m = pc.fill_null(pc.is_in(batch.column(k), value_set=sets[k]), False)
            mask = m if mask is None else pc.and_(mask, m)
        assert mask is not None
        if pc.any(mask).as_py():
            hits.append(pa.Table.from_batches([batch.filter(mask)]))
    found = (pa.concat_tables(hits) if hits else dataset.schema.empty_table().select(wanted)
             ).select(list(columns))
    if found.num_rows == 0 or len(key) == 1:
        return found
    distinct = keys.group_by(key).aggregate([])
    return found.join(distinct, keys=key, join_type="left semi")


def _narrow_batches(dataset: Any, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """``columns`` of every row of ``dataset``, one file after the other and one batch at
    a time: no read-ahead and no pre-buffering of a whole file's column chunks, so the
    lookup's memory is one batch, whatever the size of the files it has to scan."""
    import pyarrow.dataset as ds

    options = ds.ParquetFragmentScanOptions(pre_buffer=False)
    for fragment in dataset.get_fragments():
        yield from fragment.to_batches(schema=dataset.schema, columns=columns,
                                       batch_size=_LOOKUP_BATCH, batch_readahead=0,
                                       fragment_readahead=0, use_threads=True,
                                       fragment_scan_options=options)


def _stats_predicate(layout: TableLayout, keys: pa.Table) -> str | None:
    terms = []
    for k in layout.key:
        f = layout.schema.field(k)
        if k in layout.partition_by or not (pa.types.is_string(f.type)
                                            or pa.types.is_integer(f.type)):
            continue
        mm = pc.min_max(keys[k])
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        if lo is None or hi is None:
            continue
        if pa.types.is_integer(f.type):
            terms.append(f"`{k}` >= {int(lo)} AND `{k}` <= {int(hi)}")
        else:
            terms.append(f"`{k}` >= {sql_literal(lo)} AND `{k}` <= {sql_literal(hi)}")
    return " AND ".join(terms) or None


def quality_of_inputs(files: Sequence[PendingFile]) -> dict[str, Any]:
    """The quality block of a version: per contributing run, system and stream, the
    counts its stager recorded (read, published, quarantined, filtered), and the rows it
    staged into this version (#16: not whichever run happened to publish)."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for f in files:
        g = groups.setdefault((f.run_id, f.system, f.stream), {
            "run_id": f.run_id, "system": f.system, "stream": f.stream, "staged_rows": 0,
            **{k: v for k, v in f.quality.items() if k in (
                "read", "published", "quarantined", "filtered", "quarantined_by_rule")}})
        g["staged_rows"] += f.rows
    contributions = [groups[k] for k in sorted(groups)]
    totals = {k: sum(int(c.get(k, 0)) for c in contributions)
              for k in ("read", "published", "quarantined", "filtered", "staged_rows")}
    return {"contributions": contributions, **totals,
            "runs": sorted({c["run_id"] for c in contributions})}


