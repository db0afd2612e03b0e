"""Cutting dataset versions after a run, and delivering them: the pipeline's entry point.

``publish_pending(cfg, ledger, summary)`` is called by ``pipeline.after_run``. For every
entity with staged files it merges the current version with the staged rows (latest
record per key wins), commits version N+1 (files → signed manifest → atomic pointer),
records it in the ledger and the audit chain, then delivers it to every recipient whose
agreement covers it. It is safe to rerun after a crash at any point:

- staged files already absorbed by the current version (their SHA-256 is in its
  ``lineage.inputs``) are not merged twice, just cleared;
- a version missing from the ledger is recorded; an outbox already cut from the current
  version is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from hrss_hub.config import HubConfig, env
from hrss_hub.exchange.commit import (
    CommittedVersion,
    commit_version,
    current_version,
    publish_lock,
)
from hrss_hub.exchange.deliver import DeliveryResult, deliver
from hrss_hub.exchange.merge import latest_by_key
from hrss_hub.exchange.pending import PendingFile, consume, list_pending, pending_entities
from hrss_hub.exchange.policy import load_agreements
from hrss_hub.exchange.reading import read_version
from hrss_hub.exchange.signing import Signer, load_signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.writer import sort_for_output
from hrss_hub.standard.model import Entity, load_standard

__all__ = ["PublishReport", "current", "exchange_store", "outbox_store", "publish_entity",
           "publish_pending", "read_version"]

#: where the published exchange lives when it is not the local ``exchange_root``
#: (resolved with hub.yaml's ``exchange_uri`` by :func:`hrss_hub.config.load_config`)
ENV_EXCHANGE_URI = env.EXCHANGE_URI.name
#: where recipients' outboxes live (default: ``<exchange_root>/../outbox``)
ENV_OUTBOX_URI = env.OUTBOX_URI.name


@dataclass
class PublishReport:
    """What one ``publish_pending`` call did."""

    versions: list[CommittedVersion] = field(default_factory=list)
    deliveries: list[DeliveryResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (CLI)."""
        return {
            "versions": [{"dataset": v.dataset, "version": v.version, "rows": v.rows,
                          "manifest": v.manifest_path} for v in self.versions],
            "deliveries": [{"recipient": d.recipient, "dataset": d.dataset,
                            "status": d.status, "rows": d.rows,
                            "outbox_version": d.outbox_version, "reason": d.reason}
                           for d in self.deliveries],
        }


def exchange_store(cfg: HubConfig) -> Store:
    """The published exchange of a workspace (``cfg.exchange_uri``: hub.yaml's
    ``exchange_uri`` or ``HRSS_HUB_EXCHANGE_URI``, default ``exchange_root``)."""
    return Store.open(cfg.exchange_uri)


def outbox_store(cfg: HubConfig) -> Store:
    """The recipients' outboxes (``cfg.outbox_uri``; ``HRSS_HUB_OUTBOX_URI`` overrides)."""
    return Store.open(cfg.outbox_uri)


def publisher_of(cfg: HubConfig) -> dict[str, str]:
    """The publisher section of manifests."""
    return {"hub_id": cfg.hub_id, "level": cfg.level, "division": cfg.division}


def signer_of(cfg: HubConfig) -> Signer:
    """This hub's manifest signer."""
    return load_signer(cfg.signing_key, cfg.state_dir)


def current(store: Store, dataset: str) -> CommittedVersion | None:
    """The current version of ``dataset`` (or ``None``)."""
    return current_version(store, dataset)


def publish_entity(store: Store, entity: Entity, pending: Sequence[PendingFile], *,
                   signer: Signer, standard_version: str, publisher: dict[str, str],
                   quality: dict[str, Any] | None = None,
                   watermarks: dict[str, Any] | None = None,
                   keep: int = 10) -> CommittedVersion | None:
    """Merge ``pending`` files into the next version of ``entity``; ``None`` if they were
    all absorbed already. Consumed files are deleted after the pointer swap."""
    schema = entity.arrow_schema(include_lineage=True)
    with publish_lock(store, entity.name):
        base = current(store, entity.name)
        absorbed = set() if base is None else {
            i["sha256"] for i in base.manifest.get("lineage", {}).get("inputs", [])}
        fresh = [p for p in pending if p.sha256 not in absorbed]
        if not fresh:
            consume(list(pending))
            return None
        tables = [] if base is None else [read_version(store, entity.name, base.version)]
        tables += [p.read(schema) for p in fresh]
        previous_marks = {} if base is None else base.manifest.get("lineage", {}).get(
            "watermarks", {})
        committed = _commit_merged(
            store, entity, tables, signer=signer, keep=keep, meta_extra={
                "standard_version": standard_version, "publisher": publisher,
                "quality": quality or {},
            }, lineage_extra={
                "inputs": [p.lineage() for p in fresh],
                "watermarks": {**previous_marks, **(watermarks or {})},
            })
    consume(list(pending))
    return committed


def _commit_merged(store: Store, entity: Entity, tables: list[pa.Table], *, signer: Signer,
                   keep: int, meta_extra: dict[str, Any],
                   lineage_extra: dict[str, Any]) -> CommittedVersion:
    """Deduplicate ``tables`` (oldest first) by key and commit the result."""
    schema = entity.arrow_schema(include_lineage=True)
    merged, stats = latest_by_key(tables, entity.key, schema)
    merged = sort_for_output(merged, entity.key)
    lineage = {
        "systems": _distinct(merged, "source_system"),
        "runs": _distinct(merged, "run_id"),
        "merge": {"input_rows": stats.input_rows, "output_rows": stats.output_rows,
                  "superseded": stats.superseded},
        **lineage_extra,
    }
    meta = {"key": list(entity.key), **meta_extra, "lineage": lineage}
    return commit_version(store, entity.name, merged, meta, signer, keep=keep)


def _distinct(table: pa.Table, column: str) -> list[str]:
    if column not in table.column_names or table.num_rows == 0:
        return []
    return sorted(str(v) for v in pc.unique(table[column]).to_pylist() if v is not None)


def quality_of(summary: Any, entity: str) -> dict[str, Any]:
    """The run's quality figures for the streams that feed ``entity``."""
    totals = {"read": 0, "published": 0, "quarantined": 0, "filtered": 0}
    by_rule: dict[str, int] = {}
    streams = []
    for system in getattr(summary, "systems", []):
        for s in system.streams:
            if s.entity != entity:
                continue
            for k in totals:
                totals[k] += int(getattr(s, k))
            for rule, n in s.quarantined_by_rule.items():
                by_rule[rule] = by_rule.get(rule, 0) + n
            streams.append(f"{s.system}/{s.stream}")
    return {"run_id": getattr(summary, "run_id", None), "streams": streams, **totals,
            "quarantined_by_rule": dict(sorted(by_rule.items()))}


def _watermarks(ledger: Any, pending: Sequence[PendingFile]) -> dict[str, Any]:
    marks: dict[str, Any] = {}
    for p in pending:
        key = f"{p.system}/{p.stream}"
        if key not in marks and ledger is not None:
            marks[key] = ledger.get_state(p.system, p.stream)
    return marks


def publish_pending(cfg: HubConfig, ledger: Any, summary: Any = None) -> PublishReport:
    """Publish every entity with staged files, then deliver current versions.

    ``summary`` is the pipeline's RunSummary (its run owns the versions and deliveries);
    without one (``hrss-hub publish pending``) a run of its own is opened in the ledger.
    """
    run_id = getattr(summary, "run_id", None)
    own_run = ledger is not None and run_id is None
    if own_run:
        run_id = ledger.start_run(cfg.hub_id, "cli",
                                  str(cfg.source_file) if cfg.source_file else None)
    try:
        report = _publish_and_deliver(cfg, ledger, summary, run_id)
    except BaseException:
        if own_run:
            ledger.finish_run(run_id, "failed", {}, "publish failed")
        raise
    if own_run:
        ledger.finish_run(run_id, "succeeded", report.to_dict())
    return report


def _publish_and_deliver(cfg: HubConfig, ledger: Any, summary: Any,
                         run_id: str | None) -> PublishReport:
    assert cfg.exchange_root is not None
    report = PublishReport()
    entities = pending_entities(cfg.exchange_root)
    store = exchange_store(cfg)
    if not entities and not store.exists(""):
        return report
    standard = load_standard(cfg.standard_dir)
    signer = signer_of(cfg)
    actor = f"hub:{cfg.hub_id}"
    for name in entities:
        entity = standard.entity(name)
        pending = list_pending(cfg.exchange_root, name)
        committed = publish_entity(
            store, entity, pending, signer=signer, standard_version=standard.version,
            publisher=publisher_of(cfg), quality=quality_of(summary, name),
            watermarks=_watermarks(ledger, pending), keep=cfg.keep_versions)
        if committed is not None:
            report.versions.append(committed)
    for name in sorted(standard.entities):
        version = current(store, name)
        if version is None:
            continue
        if ledger is not None:
            record_version(ledger, version, actor, run_id)
        report.deliveries.extend(deliver_current(cfg, ledger, store, version, signer, run_id))
    return report


def record_version(ledger: Any, version: CommittedVersion, actor: str,
                   run_id: str | None) -> None:
    """Record a committed version in the ledger and the audit chain (idempotent)."""
    latest = ledger.latest_exchange_version(version.dataset)
    if latest is not None and latest >= version.version:
        return
    ledger.record_exchange_version(version.dataset, version.version, version.manifest_path,
                                   version.manifest_sha256, version.rows, run_id)
    ledger.append_audit(actor, "publish", f"{version.dataset}@v{version.version}",
                        {"rows": version.rows, "manifest_sha256": version.manifest_sha256,
                         "location": version.manifest_path})


def deliver_current(cfg: HubConfig, ledger: Any, store: Store, version: CommittedVersion,
                    signer: Signer, run_id: str | None = None) -> list[DeliveryResult]:
    """Deliver ``version`` to every agreement that covers its dataset."""
    agreements = [a for a in load_agreements(cfg.sharing_dir)
                  if version.dataset in a.datasets]
    if not agreements:
        return []
    table = read_version(store, version.dataset, version.version)
    keys_dir = cfg.pseudonym_keys_dir
    out: list[DeliveryResult] = []
    actor = f"hub:{cfg.hub_id}"
    for agreement in agreements:
        result = deliver(outbox_store(cfg), version, table, agreement, signer,
                         keys_dir=keys_dir, publisher=publisher_of(cfg),
                         keep=cfg.keep_versions)
        out.append(result)
        if ledger is not None:
            _record_delivery(ledger, actor, version, result, agreement.summary(), run_id)
    return out


def _record_delivery(ledger: Any, actor: str, version: CommittedVersion,
                     result: DeliveryResult, agreement: dict[str, Any],
                     run_id: str | None) -> None:
    subject = f"{result.recipient}:{version.dataset}@v{version.version}"
    if result.status == "refused":
        ledger.append_audit(actor, "delivery_refused", subject,
                            {"reason": result.reason, **agreement})
        return
    if ledger.is_delivered(result.recipient, version.dataset, version.version):
        return
    committed = result.committed
    if committed is None:  # cut before a crash: read what the outbox holds
        return
    ledger.record_delivery(result.recipient, version.dataset, version.version,
                           committed.manifest_path, result.rows, committed.manifest_sha256,
                           run_id)
    policy = committed.manifest.get("policy", {})
    ledger.append_audit(actor, "deliver", subject, {
        "rows": result.rows, "outbox_version": result.outbox_version,
        "columns": policy.get("columns"), "division_prefix": policy.get("division_prefix"),
        "pseudonym_key_id": policy.get("pseudonym_key_id"),
        "manifest_sha256": committed.manifest_sha256, **agreement})
