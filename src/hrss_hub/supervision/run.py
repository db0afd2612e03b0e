"""``supervise``: run every supervision check over the published exchange, reconcile the
findings with the ledger, and stage the changed rows of the ``finding`` dataset.

Called after each run's publish step (and by ``hrss-hub supervise``). The staged findings
are published and delivered by the next publish step like any entity; ``supervise`` with
``publish=True`` does that at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from hrss_hub.config import HubConfig
from hrss_hub.exchange.versions import exchange_store, publish_pending
from hrss_hub.master.derived import changed_rows, published, stage_derived
from hrss_hub.standard.model import load_standard
from hrss_hub.supervision.duck import connect, register
from hrss_hub.supervision.evaluate import Found, evaluate
from hrss_hub.supervision.lifecycle import FindingStore, Reconciled
from hrss_hub.supervision.spec import (
    CHECKS_HINT,
    MASTER_VIEWS,
    Check,
    checks_dir_problem,
    load_checks,
)

log = logging.getLogger(__name__)

FINDING = "finding"
SYSTEM = "supervision"


@dataclass(frozen=True)
class _RunRef:
    """The run a publish belongs to (what ``publish_pending`` reads of a run summary)."""

    run_id: str


@dataclass
class SupervisionReport:
    """What one ``supervise`` did."""

    ran: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # check → missing datasets
    found: dict[str, int] = field(default_factory=dict)  # check → findings
    changes: Reconciled = field(default_factory=Reconciled)
    staged_rows: int = 0
    warning: str | None = None  # why no check ran (the checks folder is missing or empty)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (CLI, run summaries)."""
        out: dict[str, Any] = {"ran": self.ran, "skipped": self.skipped, "found": self.found,
                               "changes": self.changes.counts(),
                               "staged_rows": self.staged_rows}
        if self.warning is not None:
            out["warning"] = self.warning
        return out


def run_checks(cfg: HubConfig, checks: list[Check]) -> tuple[list[Found], SupervisionReport]:
    """Evaluate ``checks`` over the published exchange (DuckDB, out of core)."""
    standard = load_standard(cfg.standard_dir)
    report = SupervisionReport()
    con = connect(cfg)
    try:
        available = register(con, exchange_store(cfg), [*standard.entities, *MASTER_VIEWS])
        found: list[Found] = []
        for check in checks:
            missing = [u for u in check.uses if u not in available]
            if missing:
                report.skipped[check.id] = missing
                continue
            results = evaluate(con, check)
            report.ran.append(check.id)
            report.found[check.id] = len(results)
            found.extend(results)
    finally:
        con.close()
    return found, report


def supervise(cfg: HubConfig, ledger: Any, *, run_id: str | None = None,
              actor: str | None = None, publish: bool = False,
              now: datetime | None = None, require_checks: bool = False
              ) -> SupervisionReport:
    """Run the workspace's checks, reconcile findings in the ledger, stage the changed
    ``finding`` rows (and publish them when ``publish``).

    A checks folder that is missing or empty is a :class:`~hrss_hub.errors.ConfigError`
    naming it when ``require_checks`` (``hrss-hub supervise``); otherwise (after a run) a
    warning, and the report's ``warning`` says so."""
    standard = load_standard(cfg.standard_dir)
    checks = load_checks(cfg.supervision_dir, frozenset(standard.entities),
                         required=require_checks)
    no_checks = checks_dir_problem(cfg.supervision_dir)
    if no_checks is not None:  # a run goes on without checks, but says so
        log.warning("%s: no supervision check runs (%s)", no_checks, CHECKS_HINT)
    actor = actor or f"hub:{cfg.hub_id}"
    own_run = run_id is None
    if own_run:
        from hrss_hub.ledger.locks import PUBLISH

        # its own run publishes the findings: it holds the publish lock like any publisher
        run_id = ledger.start_run(cfg.hub_id, "cli",
                                  str(cfg.source_file) if cfg.source_file else None,
                                  locks=[PUBLISH])
    assert run_id is not None
    now = now or datetime.now(UTC)
    found, report = run_checks(cfg, checks)
    report.warning = no_checks
    report.changes = FindingStore(ledger).reconcile(found, report.ran, run_id=run_id,
                                                    actor=actor, now=now)
    rows = finding_rows(cfg, ledger, found)
    entity = standard.entity(FINDING)
    fresh = changed_rows(rows, published(exchange_store(cfg), entity), entity)
    report.staged_rows = stage_derived(cfg, entity, fresh, run_id=run_id, system=SYSTEM,
                                       stream="checks", standard_version=standard.version,
                                       now=now)
    ledger.append_audit(actor, "supervise", run_id, {
        "ran": report.ran, "skipped": report.skipped, **report.changes.counts()})
    if publish or own_run:
        publish_pending(cfg, ledger, _RunRef(run_id))
    if own_run:
        ledger.finish_run(run_id, "succeeded", {"supervision": report.to_dict()})
        ledger.release_locks(run_id)
    return report


def finding_rows(cfg: HubConfig, ledger: Any, found: list[Found]) -> pa.Table:
    """The ``finding`` dataset as the ledger now sees it: one row per finding and division
    (evidence from this run, else from the published version)."""
    standard = load_standard(cfg.standard_dir)
    entity = standard.entity(FINDING)
    previous = published(exchange_store(cfg), entity,
                         ["finding_id", "division", "citizen_id", "evidence"]).to_pylist()
    old: dict[str, list[dict[str, Any]]] = {}
    for r in previous:
        old.setdefault(str(r["finding_id"]), []).append(r)
    now_found = {f.id: f for f in found}
    cols: dict[str, list[Any]] = {c: [] for c in (
        "finding_id", "division", "check_id", "severity", "status", "citizen_id",
        "first_seen", "last_seen", "evidence", "source_system", "source_key")}
    for info in FindingStore(ledger).all():
        f = now_found.get(info.id)
        if f is not None:
            places = [(d, f.citizen_id, f.evidence_json()) for d in f.divisions]
        else:
            places = [(str(r["division"]), str(r["citizen_id"]), str(r["evidence"]))
                      for r in old.get(info.id, [])]
        for division, person, evidence in places:
            for name, value in (("finding_id", info.id), ("division", division),
                                ("check_id", info.check_id), ("severity", info.severity),
                                ("status", info.status), ("citizen_id", person),
                                ("first_seen", info.first_seen), ("last_seen", info.last_seen),
                                ("evidence", evidence), ("source_system", SYSTEM),
                                ("source_key", f"{info.id}|{division}")):
                cols[name].append(value)
    from hrss_hub.exchange.layout import entity_schema

    schema = entity_schema(entity)
    return pa.table({name: pa.array(values, schema.field(name).type)
                     for name, values in cols.items()})
