"""Plain values passed into and returned by :class:`hrss_hub.ledger.Ledger`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FileRecord:
    """A source file a stream has fully processed, identified by its content hash."""

    sha256: str
    file_name: str
    size: int
    rows: int | None = None


@dataclass(frozen=True)
class AuditNote:
    """An audit event to append in the same transaction as the change it records."""

    actor: str
    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QualityResult:
    """Suite-level outcome of one rule on one entity."""

    system: str
    stream: str
    entity: str
    rule: str
    severity: str
    evaluated: int
    failed: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo:
    """One run as recorded in the ledger."""

    id: str
    hub_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    trigger: str
    config_path: str | None
    summary: dict[str, Any] | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (timestamps as ISO 8601 text)."""
        data = asdict(self)
        for key in ("started_at", "finished_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


@dataclass(frozen=True)
class BatchCounts:
    """The row counts a stream committed in a run, with the rest of its summary."""

    read: int = 0
    mapped: int = 0
    published: int = 0
    quarantined: int = 0
    filtered: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def plus(self, other: BatchCounts) -> BatchCounts:
        """The sum of two batches (the later one's details win)."""
        return BatchCounts(self.read + other.read, self.mapped + other.mapped,
                           self.published + other.published,
                           self.quarantined + other.quarantined,
                           self.filtered + other.filtered, {**self.details, **other.details})
