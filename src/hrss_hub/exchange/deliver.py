"""Delivering a published version to recipients' outboxes (the 前置机 model).

Each recipient has its own outbox ``<outbox>/<recipient>/<dataset>/v<N>/`` with the same
layout and guarantees as the hub's exchange (immutable versions, signed manifest, atomic
``CURRENT``), so a department verifies and reads it exactly like a published dataset,
with any Parquet reader. The manifest adds the recipient, the agreement's purpose and
legal basis, the column actions and the pseudonym key *id* (never the key), and the
source version it was cut from. Every delivery, and every refusal, is recorded in the
ledger's hash-chained audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from hrss_hub.exchange.commit import (
    CommittedVersion,
    commit_version,
    current_version,
    publish_lock,
)
from hrss_hub.exchange.masking import apply_grant, key_id, pseudonym_key
from hrss_hub.exchange.policy import Agreement
from hrss_hub.exchange.signing import Signer
from hrss_hub.exchange.storage import Store


@dataclass(frozen=True)
class DeliveryResult:
    """What happened for one recipient and dataset."""

    recipient: str
    dataset: str
    status: str  # delivered | unchanged | refused
    rows: int = 0
    outbox_version: int | None = None
    reason: str | None = None
    committed: CommittedVersion | None = None


def direction(hub_level: str, recipient_level: str | None) -> str:
    """上报 (up), 下发 (down) or 横向 (same tier / department) for the manifest."""
    from hrss_hub.config.levels import direction as tier_direction

    return tier_direction(hub_level, recipient_level)


def deliver(outbox: Store, source: CommittedVersion, table: pa.Table, agreement: Agreement,
            signer: Signer, *, keys_dir: Path | None, publisher: dict[str, str],
            keep: int = 10, today: date | None = None) -> DeliveryResult:
    """Cut ``agreement``'s extract of ``table`` (= ``source``) into the recipient's outbox."""
    dataset = source.dataset
    rid = agreement.recipient_id
    grant = agreement.datasets.get(dataset)
    if grant is None:
        return DeliveryResult(rid, dataset, "refused", reason="dataset not in the agreement")
    today = today or date.today()
    if not agreement.active_on(today):
        return DeliveryResult(rid, dataset, "refused", reason=(
            f"agreement not in force on {today} "
            f"(valid {agreement.valid_from}..{agreement.valid_to})"))
    box = outbox.sub(rid)
    with publish_lock(box, dataset):
        existing = current_version(box, dataset)
        if existing is not None:
            src = existing.manifest.get("source", {})
            if (src.get("version"), src.get("manifest_sha256")) == (source.version,
                                                                    source.manifest_sha256):
                return DeliveryResult(rid, dataset, "unchanged", existing.rows,
                                      existing.version, committed=existing)
        needs_key = "pseudonym" in grant.columns.values()
        key = pseudonym_key(rid, keys_dir) if needs_key else None
        extract = apply_grant(table, grant, key)
        meta: dict[str, Any] = {
            "standard_version": source.manifest.get("standard_version"),
            "key": [k for k in source.manifest.get("key", []) if k in extract.column_names],
            "publisher": publisher,
            "recipient": {"id": rid, "name": agreement.recipient_name,
                          "level": agreement.recipient_level,
                          "division": agreement.recipient_division},
            "direction": direction(publisher.get("level", ""), agreement.recipient_level),
            "policy": {**agreement.summary(), "columns": dict(grant.columns),
                       "division_prefix": list(grant.division_prefixes or []) or None,
                       "pseudonym_key_id": None if key is None else key_id(key)},
            "source": {"dataset": dataset, "version": source.version,
                       "manifest_sha256": source.manifest_sha256, "rows": source.rows},
            # no watermarks: a cursor value may be a raw identifier, and recipients
            # only need to know where the data came from
            "lineage": {k: v for k, v in source.manifest.get("lineage", {}).items()
                        if k in ("systems", "runs", "upstream")},
        }
        committed = commit_version(box, dataset, extract, meta, signer, keep=keep)
    return DeliveryResult(rid, dataset, "delivered", extract.num_rows, committed.version,
                          committed=committed)
