"""The lifecycle of findings, kept in the ledger (``findings``, ``finding_events``).

A run reconciles what it found with what the ledger knows, per check that ran:

- a new id is **open** (first seen now);
- a known id is seen again (last seen now); a **resolved** one is reopened (the data matches
  again); **confirmed** and **dismissed** keep the steward's decision;
- a known **open** or **confirmed** id that the check no longer finds is **resolved** (the
  data no longer matches). A check that could not run resolves nothing.

Stewards change the status with ``confirm`` / ``dismiss`` (who and why in
``finding_events`` and in the audit chain). The ledger holds no citizen ID: ``subject`` is a
digest, the evidence lives in the exchange's ``finding`` dataset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from hrss_hub.errors import ConfigError
from hrss_hub.ledger.coltypes import utcnow
from hrss_hub.ledger.models import Finding, FindingEvent
from hrss_hub.supervision.evaluate import Found
from hrss_hub.supervision.steward import LedgerStore, decided_row

#: statuses a steward may set, and the verb of the CLI that sets them
STEWARD_ACTIONS = {"confirm": "confirmed", "dismiss": "dismissed"}


@dataclass(frozen=True)
class FindingInfo:
    """A finding as the ledger knows it."""

    id: str
    check_id: str
    severity: str
    status: str
    divisions: tuple[str, ...]
    evidence_rows: int
    first_seen: datetime
    last_seen: datetime


@dataclass
class Reconciled:
    """What one run changed."""

    new: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Counts per kind of change (JSON)."""
        return {"new": len(self.new), "seen": len(self.seen),
                "reopened": len(self.reopened), "resolved": len(self.resolved)}


def _info(row: Finding) -> FindingInfo:
    return FindingInfo(row.id, row.check_id, row.severity, row.status,
                       tuple(d for d in row.divisions.split(",") if d), row.evidence_rows,
                       row.first_seen, row.last_seen)


class FindingStore(LedgerStore):
    """Findings of one ledger."""

    def reconcile(self, found: Iterable[Found], ran: Iterable[str], *, run_id: str | None,
                  actor: str, now: datetime | None = None) -> Reconciled:
        """Record one run's findings of the checks ``ran``; see the module docstring."""
        now = now or utcnow()
        ran = set(ran)
        out = Reconciled()
        found_ids: set[str] = set()
        with self._tx() as s:
            for f in found:
                found_ids.add(f.id)
                row = s.get(Finding, f.id)
                if row is None:
                    s.add(Finding(id=f.id, check_id=f.check_id, severity=f.severity,
                                  status="open", subject=f.subject,
                                  divisions=",".join(f.divisions),
                                  evidence_rows=len(f.evidence), first_seen=now,
                                  last_seen=now, last_run=run_id))
                    s.add(FindingEvent(finding_id=f.id, at=now, actor=actor, action="found",
                                       run_id=run_id))
                    out.new.append(f.id)
                    continue
                row.last_seen, row.last_run = now, run_id
                row.divisions, row.evidence_rows = ",".join(f.divisions), len(f.evidence)
                if row.status == "resolved":
                    row.status = "open"
                    s.add(FindingEvent(finding_id=f.id, at=now, actor=actor, action="reopened",
                                       run_id=run_id))
                    out.reopened.append(f.id)
                else:
                    out.seen.append(f.id)
            if ran:
                stale = s.scalars(select(Finding).where(Finding.check_id.in_(sorted(ran)),
                                                        Finding.status.in_(("open",
                                                                            "confirmed"))))
                for row in stale:
                    if row.id in found_ids:
                        continue
                    row.status = "resolved"
                    s.add(FindingEvent(finding_id=row.id, at=now, actor=actor,
                                       action="resolved", run_id=run_id,
                                       reason="the data no longer matches the check"))
                    out.resolved.append(row.id)
        return out

    def set_status(self, finding_id: str, action: str, *, actor: str, reason: str) -> FindingInfo:
        """A steward's ``confirm`` or ``dismiss`` of a finding (audited)."""
        if action not in STEWARD_ACTIONS:
            raise ConfigError(f"unknown finding action {action!r}", {},
                              "valid: " + ", ".join(STEWARD_ACTIONS))
        with self._tx() as s:
            row = decided_row(s, Finding, finding_id, kind="finding", reason=reason,
                              example="死亡证明已核实", list_command="hrss-hub findings list")
            before = row.status
            row.status = STEWARD_ACTIONS[action]
            s.add(FindingEvent(finding_id=finding_id, at=utcnow(), actor=actor, action=action,
                               reason=reason))
            info = _info(row)
        self.ledger.append_audit(actor, f"finding_{action}", finding_id,
                                 {"check": info.check_id, "from": before, "to": info.status,
                                  "reason": reason})
        return info

    def all(self, *, status: str | None = None, check: str | None = None) -> list[FindingInfo]:
        """Findings (with a status / of a check), by check then id."""
        query = select(Finding).order_by(Finding.check_id, Finding.id)
        if status is not None:
            query = query.where(Finding.status == status)
        if check is not None:
            query = query.where(Finding.check_id == check)
        with self._tx() as s:
            return [_info(r) for r in s.scalars(query)]

    def subjects(self) -> dict[str, set[str]]:
        """Per check, the person digests of its findings not resolved (answer-key checks)."""
        out: dict[str, set[str]] = {}
        with self._tx() as s:
            for row in s.execute(select(Finding.check_id, Finding.subject)
                                 .where(Finding.status != "resolved")):
                out.setdefault(row.check_id, set()).add(row.subject)
        return out

    def get(self, finding_id: str) -> FindingInfo | None:
        """One finding, or ``None``."""
        with self._tx() as s:
            row = s.get(Finding, finding_id)
            return None if row is None else _info(row)

    def events(self, finding_id: str) -> list[dict[str, object]]:
        """The history of one finding, oldest first."""
        with self._tx() as s:
            rows = s.scalars(select(FindingEvent).where(FindingEvent.finding_id == finding_id)
                             .order_by(FindingEvent.id))
            return [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                     "reason": r.reason, "run_id": r.run_id} for r in rows]
