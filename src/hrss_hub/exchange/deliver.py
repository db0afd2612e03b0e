"""Recipients' outboxes: one Delta table per recipient and dataset, kept to its agreement.

``<outbox>/<recipient>/<dataset>/`` is a Delta table with the agreement's columns (others
never leave the hub), masking (partial / per-recipient HMAC pseudonyms) and row scope
(division prefixes) applied, Change Data Feed on and its own signed manifest per version,
which records the agreement's policy and the exchange version it follows. On each run:

- **incremental**: when the policy is unchanged, only the exchange's changes since the
  outbox's source version flow (its CDF: per key the last state — present and in scope:
  upsert; deleted or moved out of scope: delete), applied with one MERGE (or an append
  when every change is a new key);
- **re-derived**: when the policy changed (a column dropped or added, masking, row scope,
  a new pseudonym key) or the exchange can no longer give the changes, the outbox is
  replaced in one version from the exchange's current rows, so a dropped column
  disappears from the current version and the recipient's CDF shows the change;
- **withdrawn**: when the agreement expired, was revoked (``revoked: true``) or no longer
  exists, the outbox's current version is emptied (older versions stay readable only until
  vacuum, and the sharing server refuses the recipient at once).

A row's outbox key is the entity key as delivered when every key column is kept or
pseudonymized (HMAC is deterministic per recipient); otherwise a ``_row_id`` column (an
HMAC of the key under the recipient's key) identifies rows without revealing them.
Every delivery and refusal is recorded in the ledger's hash-chained audit log.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.errors import HubError
from hrss_hub.exchange.commit import CommittedVersion, commit_version, latest_signed, recover
from hrss_hub.exchange.layout import (
    TableLayout,
    layout_from_manifest,
    outbox_layout,
    partition_in,
    table_properties,
)
from hrss_hub.exchange.masking import in_scope, key_id, pseudonym_key, pseudonymize, transform
from hrss_hub.exchange.policy import Agreement, DatasetGrant
from hrss_hub.exchange.publish import publish_lock
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table, load_changes, with_retries, write_files

ROW_ID = "_row_id"
_OP = "_hrss_op"
#: change rows applied per MERGE source batch when re-deriving
_BATCH = 65_536


@dataclass(frozen=True)
class DeliveryResult:
    """What happened for one recipient and dataset."""

    recipient: str
    dataset: str
    status: str  # delivered | rederived | withdrawn | unchanged | refused
    rows: int = 0
    outbox_version: int | None = None
    reason: str | None = None
    committed: CommittedVersion | None = None
    changed_rows: int = 0
    #: share of non-null values per delivered column (``exchange.fill.fill_rates``)
    fill_rates: dict[str, float | None] | None = None

    def empty_columns(self) -> list[str]:
        """Delivered columns null in every row of the delivered version."""
        return sorted(c for c, rate in (self.fill_rates or {}).items() if rate == 0.0)


def direction(hub_level: str, recipient_level: str | None) -> str:
    """上报 (up), 下发 (down) or 横向 (same tier / department) for the manifest."""
    from hrss_hub.config.levels import direction as tier_direction

    return tier_direction(hub_level, recipient_level)


def _active(agreement: Agreement, today: date) -> str | None:
    """Why ``agreement`` delivers nothing today (``None``: it is in force)."""
    if getattr(agreement, "revoked", False):
        return "agreement revoked"
    if not agreement.active_on(today):
        return (f"agreement not in force on {today} "
                f"(valid {agreement.valid_from}..{agreement.valid_to})")
    return None


def policy_of(agreement: Agreement, grant: DatasetGrant,
              pkey_id: str | None) -> dict[str, Any]:
    """The policy section of an outbox manifest; its ``fingerprint`` changes exactly
    when what the recipient receives changes (columns, masking, scope, pseudonym key)."""
    core = {"columns": dict(sorted(grant.columns.items())),
            "division_prefix": list(grant.division_prefixes or []) or None,
            "pseudonym_key_id": pkey_id,
            "allow_raw_identifiers": agreement.allow_raw_identifiers}
    fingerprint = hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]
    return {**agreement.summary(), **core, "columns": dict(grant.columns),
            "fingerprint": fingerprint}


@dataclass(frozen=True)
class _Plan:
    """How the recipient's rows are cut from the exchange's."""

    grant: DatasetGrant
    key: bytes | None
    layout: TableLayout  # the outbox table
    merge_key: tuple[str, ...]

    def cut(self, rows: pa.Table, exchange_key: tuple[str, ...]) -> pa.Table:
        """Recipient columns of ``rows`` (no scope filter), with ``_row_id`` if needed."""
        out = transform(rows, self.grant, self.key)
        if ROW_ID in self.layout.schema.names:
            out = out.append_column(ROW_ID, row_ids(rows, exchange_key, self.key))
        return out.select(self.layout.schema.names).cast(self.layout.schema)


def row_ids(rows: pa.Table, key: tuple[str, ...], secret: bytes | None) -> pa.Array:
    """Per-recipient pseudonymous row ids: HMAC of the key columns joined by ``|``."""
    assert secret is not None
    parts = [pc.fill_null(rows[k].cast(pa.string()), "") for k in key]
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "|")
    return pseudonymize(joined, secret)


def _plan(source: TableLayout, agreement: Agreement, grant: DatasetGrant,
          keys_dir: Path | None) -> _Plan:
    key_actions = [grant.columns.get(k, "drop") for k in source.key]
    keyed = all(a in ("keep", "pseudonym") for a in key_actions)
    needs_key = "pseudonym" in grant.columns.values() or not keyed
    secret = pseudonym_key(agreement.recipient_id, keys_dir) if needs_key else None
    schema = transform(source.schema.empty_table(), grant, secret).schema
    merge_key = tuple(source.key)
    if not keyed:
        schema = schema.append(pa.field(ROW_ID, pa.string(), nullable=False))
        merge_key = (ROW_ID,)
    return _Plan(grant, secret, outbox_layout(source, schema, merge_key), merge_key)


def deliver(outbox: Store, exchange: Store, source: CommittedVersion, agreement: Agreement,
            signer: Signer, *, keys_dir: Path | None, publisher: dict[str, str],
            retention_hours: int = 168, today: date | None = None) -> DeliveryResult:
    """Bring ``agreement``'s outbox of ``source``'s dataset to ``source``'s version."""
    dataset = source.dataset
    rid = agreement.recipient_id
    grant = agreement.datasets.get(dataset)
    if grant is None:
        return DeliveryResult(rid, dataset, "refused", reason="dataset not in the agreement")
    box = Table(outbox.sub(rid), dataset)
    reason = _active(agreement, today or date.today())
    if reason is not None:
        withdrawn = withdraw(box, signer, publisher, reason)
        if withdrawn is None:
            return DeliveryResult(rid, dataset, "refused", reason=reason)
        return DeliveryResult(rid, dataset, "withdrawn", 0, withdrawn.version, reason,
                              withdrawn)
    src_table = Table(exchange, dataset)
    src_layout = _source_layout(src_table, source)
    plan = _plan(src_layout, agreement, grant, keys_dir)
    policy = policy_of(agreement, grant, None if plan.key is None else key_id(plan.key))
    meta = {
        "kind": "outbox",
        "standard_version": source.manifest.get("standard_version"),
        "publisher": publisher,
        "recipient": {"id": rid, "name": agreement.recipient_name,
                      "level": agreement.recipient_level,
                      "division": agreement.recipient_division},
        "direction": direction(publisher.get("level", ""), agreement.recipient_level),
        "policy": policy,
        "source": {"dataset": dataset, "version": source.version,
                   "manifest_sha256": source.manifest_sha256, "rows": source.rows,
                   "table_id": source.manifest.get("table_id")},
        "quality": source.manifest.get("quality", {}),
        # no watermarks: a cursor value may be a raw identifier
        "lineage": {k: v for k, v in source.manifest.get("lineage", {}).items()
                    if k in ("systems", "runs", "upstream")},
    }
    with publish_lock(box.store, dataset):
        if box.exists():
            recover(box, plan.layout, signer)
        current = latest_signed(box)
        if current is not None and current.manifest.get("operation") != "withdraw":
            src = current.manifest.get("source", {})
            same_policy = current.manifest.get("policy", {}).get("fingerprint") == policy[
                "fingerprint"]
            if same_policy and src.get("version") == source.version:
                return DeliveryResult(rid, dataset, "unchanged", current.rows,
                                      current.version, committed=current)
            if same_policy and src.get("table_id") == source.manifest.get("table_id") \
                    and isinstance(src.get("version"), int) and src["version"] < source.version:
                try:
                    done, changed = with_retries(lambda: _incremental(
                        box, plan, src_table, src_layout, int(src["version"]), source, signer,
                        meta), f"deliver {rid}:{dataset}")
                    return DeliveryResult(rid, dataset, "delivered", done.rows, done.version,
                                          committed=done, changed_rows=changed)
                except _ChangesUnavailable:
                    pass  # vacuumed or expired log: re-derive below
        done = with_retries(lambda: _rederive(box, plan, src_table, source, signer, meta,
                                              retention_hours, current is not None),
                            f"deliver {rid}:{dataset}")
    status = "delivered" if current is None else "rederived"
    return DeliveryResult(rid, dataset, status, done.rows, done.version, committed=done,
                          changed_rows=done.rows)


class _ChangesUnavailable(HubError):
    """The exchange no longer holds the changes since the outbox's version."""


def _source_layout(table: Table, source: CommittedVersion) -> TableLayout:
    return layout_from_manifest(table.name, source.manifest)


def _rederive(box: Table, plan: _Plan, src_table: Table, source: CommittedVersion,
              signer: Signer, meta: dict[str, Any], retention_hours: int,
              existed: bool) -> CommittedVersion:
    """The outbox replaced (or created) in one version from the exchange at ``source``."""
    layout = plan.layout
    if not box.exists():
        def create(custom: dict[str, Any]) -> None:
            box.create(layout, table_properties(retention_hours), custom)

        commit_version(box, layout, signer, base=None, operation="create",
                       meta={**meta, "policy": meta["policy"]}, do_commit=create)
    dt = box.open()
    base = int(dt.version())
    src_dt = src_table.open(source.version)
    exchange_key = tuple(source.manifest.get("key") or ())

    def extract() -> Any:
        scanner = src_table.dataset(src_dt).scanner(batch_size=_BATCH, batch_readahead=1,
                                                    fragment_readahead=1)
        for batch in scanner.to_batches():
            rows = pa.Table.from_batches([batch])
            rows = rows.filter(in_scope(rows, plan.grant))
            if rows.num_rows:
                yield plan.cut(rows, exchange_key)

    operation = "rederive" if existed else "deliver"
    if not existed and not box.active_files(dt):
        files, stats = write_files(box, layout, extract(), signer.suite)

        def append(custom: dict[str, Any]) -> None:
            box.append_files(dt, layout, files, stats, custom)

        return commit_version(box, layout, signer, base=base, operation=operation, meta=meta,
                              do_commit=append,
                              known_digests={f.path: str(f.digest) for f in files})

    def overwrite(custom: dict[str, Any]) -> None:
        from deltalake import CommitProperties, write_deltalake

        from hrss_hub.exchange.tables import commit_guard

        reader = pa.RecordBatchReader.from_batches(layout.schema, (
            b for t in extract() for b in t.to_batches()))
        with commit_guard(box):
            write_deltalake(dt, reader, mode="overwrite", schema_mode="overwrite",
                            partition_by=list(layout.partition_by),
                            commit_properties=CommitProperties(custom_metadata=custom,
                                                               max_commit_retries=0))

    return commit_version(box, layout, signer, base=base, operation=operation, meta=meta,
                          do_commit=overwrite)


def net_changes(changes: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """Per key, its last state in ``changes`` (a CDF slice): the last insert/post-image,
    or the delete if that came last; pre-images dropped. Column ``_hrss_op``: U or D."""
    if changes.num_rows == 0:
        return changes.append_column(_OP, pa.array([], pa.string()))
    kinds = changes["_change_type"]
    keep = pc.invert(pc.equal(kinds, "update_preimage"))
    rows = changes.filter(keep)
    rank = pc.if_else(pc.equal(rows["_change_type"], "delete"), 0, 1).cast(pa.int8())
    rows = rows.append_column("__rank", rank)
    rows = rows.take(pc.sort_indices(rows, sort_keys=[
        *((k, "ascending") for k in key), ("_commit_version", "descending"),
        ("__rank", "descending")]))
    from hrss_hub.exchange.winner import first_of_each_key

    last = rows.filter(pa.array(first_of_each_key(rows, key)))
    op = pc.if_else(pc.equal(last["_change_type"], "delete"), "D", "U")
    return last.drop_columns(["__rank"]).append_column(_OP, op)


def prior_states(changes: pa.Table, key: tuple[str, ...]) -> pa.Table:
    """Per key that existed before ``changes`` began, its state then: the first change
    of a key is a pre-image or a delete exactly when the key existed (an insert means
    it is new). These are the rows the outbox may hold now."""
    if changes.num_rows == 0:
        return changes
    rank = pc.if_else(pc.is_in(changes["_change_type"], value_set=pa.array(
        ["update_preimage", "delete"])), 0, 1).cast(pa.int8())
    rows = changes.append_column("__rank", rank)
    rows = rows.take(pc.sort_indices(rows, sort_keys=[
        *((k, "ascending") for k in key), ("_commit_version", "ascending"),
        ("__rank", "ascending")]))
    from hrss_hub.exchange.winner import first_of_each_key

    first = rows.filter(pa.array(first_of_each_key(rows, key)))
    return first.filter(pc.equal(first["__rank"], 0)).drop_columns(["__rank"])


def _incremental(box: Table, plan: _Plan, src_table: Table, src_layout: TableLayout,
                 since: int, source: CommittedVersion, signer: Signer,
                 meta: dict[str, Any]) -> tuple[CommittedVersion, int]:
    """Apply the exchange's changes after version ``since`` to the outbox."""
    try:
        changes = load_changes(src_table.open(source.version), since + 1, source.version)
    except Exception as exc:  # noqa: BLE001 - delta-rs: vacuumed files, expired log
        raise _ChangesUnavailable(f"changes since v{since} unavailable: {exc}") from None
    key = src_layout.key
    net = net_changes(changes, key)
    layout = plan.layout
    part = layout.partition_by[0] if layout.partition_by else None
    touched: set[str | None] = set()
    if part is not None and part in changes.column_names:
        touched = set(pc.unique(changes[part]).to_pylist())
    data_cols = [c for c in src_layout.schema.names if c in net.column_names]
    data_schema = pa.schema([src_layout.schema.field(c) for c in data_cols])
    full = net.select(data_cols).cast(data_schema)
    scope = pc.and_(pc.equal(net[_OP], "U"), in_scope(full, plan.grant))
    ups = plan.cut(full.filter(scope), key)
    # retract only rows the outbox holds: keys that existed in scope before the changes
    # and are now gone or out of scope (delta-rs' MERGE also rejects unmatched source
    # rows that no clause inserts when they would violate a NOT NULL column)
    prior = prior_states(changes, key).select(data_cols).cast(data_schema)
    prior = prior.filter(in_scope(prior, plan.grant))
    gone = full.filter(pc.invert(scope))
    from hrss_hub.exchange.publish import in_keys

    downs = plan.cut(prior.filter(in_keys(prior, gone, key)), key)
    dt = box.open()
    base = int(dt.version())
    only_new = bool(pc.all(pc.equal(changes["_change_type"], "insert")).as_py()) \
        if changes.num_rows else True
    if only_new and downs.num_rows == 0:
        files, stats = write_files(box, layout, iter([ups]), signer.suite)

        def append(custom: dict[str, Any]) -> None:
            box.append_files(dt, layout, files, stats, custom)

        done = commit_version(box, layout, signer, base=base, operation="deliver", meta=meta,
                              do_commit=append,
                              known_digests={f.path: str(f.digest) for f in files})
        return done, ups.num_rows
    source_rows = pa.concat_tables([
        ups.append_column(_OP, pa.array(np.full(ups.num_rows, "U", dtype=object), pa.string())),
        downs.append_column(_OP, pa.array(np.full(downs.num_rows, "D", dtype=object),
                                          pa.string()))])
    predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in plan.merge_key)
    if part is not None:
        touched |= set(pc.unique(ups[part]).to_pylist()) if ups.num_rows else set()
        predicate += " AND " + partition_in(part, touched)

    metrics: dict[str, Any] = {}

    def merge(custom: dict[str, Any]) -> None:
        metrics.update(box.merge(dt, source_rows, predicate, custom, lambda m: (
            m.when_matched_delete(f"s.{_OP} = 'D'")
             .when_matched_update_all(f"s.{_OP} = 'U'", except_cols=[_OP])
             .when_not_matched_insert_all(f"s.{_OP} = 'U'", except_cols=[_OP]))))

    done = commit_version(box, layout, signer, base=base, operation="deliver", meta=meta,
                          do_commit=merge)
    effective = sum(int(metrics.get(k, 0)) for k in (
        "num_target_rows_inserted", "num_target_rows_updated", "num_target_rows_deleted"))
    return done, effective


def withdraw(box: Table, signer: Signer, publisher: dict[str, str],
             reason: str) -> CommittedVersion | None:
    """Empty the outbox's current version (``None`` when it holds nothing already)."""
    if not box.exists():
        return None
    current = latest_signed(box)
    if current is None or (current.rows == 0 and current.manifest.get("operation") in (
            "withdraw", "create")):
        return None
    layout = layout_from_manifest(box.name, current.manifest)
    with publish_lock(box.store, box.name):
        recover(box, layout, signer)
        dt = box.open()
        base = int(dt.version())
        meta = {k: current.manifest.get(k) for k in (
            "kind", "standard_version", "recipient", "direction", "policy", "source")}
        meta.update(publisher=publisher, quality={}, lineage={},
                    withdrawn={"reason": reason})

        def delete_all(custom: dict[str, Any]) -> None:
            from deltalake import CommitProperties

            from hrss_hub.exchange.tables import commit_guard

            with commit_guard(box):
                dt.delete(commit_properties=CommitProperties(custom_metadata=custom,
                                                             max_commit_retries=0))

        return commit_version(box, layout, signer, base=base, operation="withdraw", meta=meta,
                              do_commit=delete_all)


def withdraw_stale(outbox: Store, agreements: list[Agreement] | Any, signer: Signer,
                   publisher: dict[str, str], *, ledger: Any = None,
                   actor: str = "hub") -> list[DeliveryResult]:
    """Withdraw outboxes no agreement covers any more (agreement file removed, dataset
    dropped from it): their data leaves the current version on the next run."""
    covered = {(a.recipient_id, d) for a in agreements for d in a.datasets}
    out: list[DeliveryResult] = []
    for rid in outbox.listdir():
        if rid.startswith((".", "_")) or not outbox.is_dir(rid):
            continue
        box_root = outbox.sub(rid)
        for name in box_root.listdir():
            if name.startswith((".", "_")) or (rid, name) in covered:
                continue
            box = Table(box_root, name)
            if not box.exists():
                continue
            reason = "no agreement covers this dataset any more (revoked)"
            done = withdraw(box, signer, publisher, reason)
            if done is None:
                continue
            out.append(DeliveryResult(rid, name, "withdrawn", 0, done.version, reason, done))
            if ledger is not None:
                ledger.append_audit(actor, "withdraw", f"{rid}:{name}@v{done.version}",
                                    {"reason": reason,
                                     "manifest_sha256": done.manifest_sha256})
    return out
