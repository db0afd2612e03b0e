"""The run's publish step: staged rows → exchange versions → recipients' outboxes.

``publish_pending(cfg, ledger, summary)`` is called once per run (the CLI at run end, the
``hrss_publish`` DAG under Airflow). For every entity with staged files it publishes the
next version of the entity's Delta table (:mod:`publish`), records it in the ledger and
the audit chain, then brings every recipient's outbox up to date with its agreement
(:mod:`deliver`): changed rows flow from the exchange's Change Data Feed; a changed,
expired or revoked agreement re-derives or withdraws the outbox. It is safe to rerun
after a crash at any point:

- staged files already absorbed by a version (their SHA-256 is in its manifest's
  ``lineage.inputs``) are not merged twice, just cleared;
- a Delta version committed without its manifest is completed (:func:`commit.recover`);
- a version missing from the ledger is recorded; an outbox already at the exchange's
  version is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hrss_hub.config import HubConfig, env
from hrss_hub.exchange.commit import CommittedVersion, latest_signed
from hrss_hub.exchange.deliver import DeliveryResult, deliver, withdraw_stale
from hrss_hub.exchange.pending import PendingFile, list_pending, pending_entities
from hrss_hub.exchange.policy import load_agreements
from hrss_hub.exchange.publish import publish_entity
from hrss_hub.exchange.signing import Signer, load_signer
from hrss_hub.exchange.storage import Store
from hrss_hub.exchange.tables import Table
from hrss_hub.exchange.winner import WinRule
from hrss_hub.run import crashpoints
from hrss_hub.standard.model import load_standard

__all__ = ["PublishReport", "current", "exchange_store", "outbox_store", "publish_entity",
           "publish_pending", "record_version", "signer_of"]

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
                            "changed_rows": d.changed_rows,
                            "outbox_version": d.outbox_version, "reason": d.reason,
                            "fill_rates": d.fill_rates, "empty_columns": d.empty_columns()}
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
    """This hub's manifest signer (its ``signature_suite`` checked against the key)."""
    return load_signer(cfg.signing_key, cfg.state_dir,
                       suite=getattr(cfg, "signature_suite", None))


def retention_hours(cfg: HubConfig) -> int:
    """The vacuum grace period of this hub (``retention_hours`` in hub.yaml, 168 h)."""
    return int(getattr(cfg, "retention_hours", None) or 168)


def current(store: Store, dataset: str) -> CommittedVersion | None:
    """The newest signed version of ``dataset`` (or ``None``)."""
    return latest_signed(Table(store, dataset))


def _watermarks(ledger: Any, pending: Sequence[PendingFile]) -> dict[str, Any]:
    marks: dict[str, Any] = {}
    for p in pending:
        key = f"{p.system}/{p.stream}"
        if key not in marks and ledger is not None:
            marks[key] = ledger.get_state(p.system, p.stream)
    return marks


def publish_pending(cfg: HubConfig, ledger: Any, summary: Any = None, *,
                    trigger: str = "cli") -> PublishReport:
    """Publish every entity with staged files, then bring outboxes up to date.

    ``summary`` is the pipeline's RunSummary (its run owns the versions and deliveries);
    without one (``hrss-hub publish pending``, Airflow's publish DAG) a run of its own
    (``trigger``) holding the publish lock is opened in the ledger.
    A version's quality block describes the runs whose staged rows it absorbed (from the
    staged files' sidecars), whichever run publishes it.
    """
    run_id = getattr(summary, "run_id", None)
    own_run = ledger is not None and run_id is None
    if own_run:
        from hrss_hub.ledger.locks import PUBLISH

        # its own run holds the publish lock: one publisher per workspace at a time
        run_id = ledger.start_run(cfg.hub_id, trigger,
                                  str(cfg.source_file) if cfg.source_file else None,
                                  locks=[PUBLISH])
    try:
        report = _publish_and_deliver(cfg, ledger, summary, run_id)
    except BaseException:
        if own_run:
            ledger.finish_run(run_id, "failed", {}, "publish failed")
            ledger.release_locks(run_id)
        raise
    if own_run:
        ledger.finish_run(run_id, "succeeded", report.to_dict())
        ledger.release_locks(run_id)
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
    rule = WinRule.of(cfg)
    for name in entities:
        entity = standard.entity(name)
        pending = list_pending(cfg.exchange_root, name)
        head = None if ledger is None else ledger.append_audit(
            actor, "publish_started", name, {"staged_files": len(pending),
                                             "staged_rows": sum(p.rows for p in pending)})
        committed = publish_entity(
            store, entity, pending, signer=signer, standard_version=standard.version,
            publisher=publisher_of(cfg), rule=rule, watermarks=_watermarks(ledger, pending),
            audit_head=head, retention_hours=retention_hours(cfg),
            # its .publish-* scratch folder lives beside the tables and is removed after;
            # inside .staging it would leave an empty .staging behind after every publish
            scratch=cfg.exchange_root)
        if committed is not None:
            report.versions.append(committed)
        crashpoints.hit("publish.entity")
    agreements = load_agreements(cfg.sharing_dir)
    for name in sorted(standard.entities):
        version = current(store, name)
        if version is None:
            continue
        if ledger is not None:
            record_version(ledger, version, actor, run_id)
        report.deliveries.extend(deliver_current(cfg, ledger, store, version, signer, run_id,
                                                 agreements))
        crashpoints.hit("publish.delivered")
    report.deliveries.extend(withdraw_stale(outbox_store(cfg), agreements, signer,
                                            publisher_of(cfg), ledger=ledger, actor=actor))
    return report


def record_version(ledger: Any, version: CommittedVersion, actor: str,
                   run_id: str | None) -> None:
    """Record a signed version in the ledger and the audit chain (idempotent)."""
    latest = ledger.latest_exchange_version(version.dataset)
    if latest is not None and latest >= version.version:
        return
    if version.manifest.get("operation") not in ("publish", "merge-upstream"):
        return  # table creation and maintenance are not dataset versions for the ledger
    ledger.record_exchange_version(version.dataset, version.version, version.manifest_path,
                                   version.manifest_sha256, version.rows, run_id)
    ledger.append_audit(actor, "publish", f"{version.dataset}@v{version.version}",
                        {"rows": version.rows, "manifest_sha256": version.manifest_sha256,
                         "location": version.manifest_path})


def deliver_current(cfg: HubConfig, ledger: Any, store: Store, version: CommittedVersion,
                    signer: Signer, run_id: str | None = None,
                    agreements: Sequence[Any] | None = None) -> list[DeliveryResult]:
    """Bring every outbox of ``version``'s dataset up to date with its agreement."""
    if agreements is None:
        agreements = load_agreements(cfg.sharing_dir)
    covering = [a for a in agreements if version.dataset in a.datasets]
    if not covering:
        return []
    keys_dir = None if cfg.state_dir is None else cfg.state_dir / "pseudonym-keys"
    out: list[DeliveryResult] = []
    actor = f"hub:{cfg.hub_id}"
    for agreement in covering:
        result = deliver(outbox_store(cfg), store, version, agreement, signer,
                         keys_dir=keys_dir, publisher=publisher_of(cfg),
                         retention_hours=retention_hours(cfg))
        result = _with_fill_rates(cfg, result)
        out.append(result)
        if ledger is not None:
            _record_delivery(ledger, actor, version, result, agreement.summary(), run_id)
    return out


def _with_fill_rates(cfg: HubConfig, result: DeliveryResult) -> DeliveryResult:
    """``result`` with the fill rates of the outbox version it delivered (Delta stats)."""
    if result.status not in ("delivered", "rederived", "unchanged") or \
            result.outbox_version is None:
        return result
    from dataclasses import replace

    from hrss_hub.exchange.fill import fill_rates

    box = Table(outbox_store(cfg).sub(result.recipient), result.dataset)
    return replace(result, fill_rates=fill_rates(box.open(result.outbox_version)))


def _record_delivery(ledger: Any, actor: str, version: CommittedVersion,
                     result: DeliveryResult, agreement: dict[str, Any],
                     run_id: str | None) -> None:
    subject = f"{result.recipient}:{version.dataset}@v{version.version}"
    if result.status == "refused":
        ledger.append_audit(actor, "delivery_refused", subject,
                            {"reason": result.reason, **agreement})
        return
    committed = result.committed
    if committed is None or ledger.is_delivered(result.recipient, version.dataset,
                                                version.version):
        return
    ledger.record_delivery(result.recipient, version.dataset, version.version,
                           committed.manifest_path, result.rows, committed.manifest_sha256,
                           run_id)
    policy = committed.manifest.get("policy", {})
    ledger.append_audit(actor, "deliver", subject, {
        "rows": result.rows, "changed_rows": result.changed_rows,
        "outbox_version": result.outbox_version, "mode": result.status,
        "columns": policy.get("columns"), "division_prefix": policy.get("division_prefix"),
        "pseudonym_key_id": policy.get("pseudonym_key_id"),
        "fill_rates": result.fill_rates, "empty_columns": result.empty_columns(),
        "manifest_sha256": committed.manifest_sha256, **agreement})
