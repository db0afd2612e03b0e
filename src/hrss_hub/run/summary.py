"""What a run did: per stream, per system, for the whole run.

A leaf module (standard library only), so the CLI, Airflow tasks, the quality report and
the exchange may all import these types without importing the engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StreamSummary:
    """What happened to one stream in one run (the numbers of the summary table).

    Warnings are appended with :meth:`warn` and never overwritten: two steps that each
    have something to say (released rows still lacking a value, a threshold's warning)
    both end up in :attr:`warnings`.
    """

    system: str
    stream: str
    entity: str | None
    read: int = 0
    mapped: int = 0
    published: int = 0
    quarantined: int = 0
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    filtered: int = 0
    duration_seconds: float = 0.0
    status: str = "succeeded"
    error: str | None = None
    quarantine_file: str | None = None
    warnings: list[str] = field(default_factory=list)
    published_released: int = 0  # of ``published``: rows a steward released from quarantine
    schema_drift: str | None = None  # the accepted (evolve) or ignored schema change
    #: ``True`` when the counts come from the ledger: a retried task found the stream
    #: already committed by an earlier attempt of the same run
    recovered: bool = False

    def warn(self, message: str | None) -> None:
        """Append a warning (``None`` or an empty text: nothing to say)."""
        if message and message not in self.warnings:
            self.warnings.append(message)

    @property
    def quality_warning(self) -> str | None:
        """Every warning in one line (``None`` without any)."""
        return "; ".join(self.warnings) or None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamSummary:
        """Rebuild from :func:`dataclasses.asdict` output (an XCom, the ledger's summary);
        a summary written before ``warnings`` existed keeps its one ``quality_warning``."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        summary = cls(**known)
        summary.warn(data.get("quality_warning"))
        return summary


@dataclass
class SystemSummary:
    """One system's streams and outcome."""

    system: str
    status: str = "succeeded"
    error: str | None = None
    streams: list[StreamSummary] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SystemSummary:
        """Rebuild from :func:`dataclasses.asdict` output."""
        return cls(data["system"], data.get("status", "succeeded"), data.get("error"),
                   [StreamSummary.from_dict(x) for x in data.get("streams", [])])


@dataclass
class RunSummary:
    """A whole run."""

    run_id: str
    status: str
    started_at: str
    duration_seconds: float
    systems: list[SystemSummary]
    data_docs: str | None = None
    report: str | None = None
    publish_error: str | None = None
    notes: list[str] = field(default_factory=list)
    publishing: dict[str, Any] | None = None  # dataset versions cut and deliveries made

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``hrss-hub run --json``)."""
        data = asdict(self)
        for system, streams in zip(data["systems"], self.systems, strict=True):
            for item, stream in zip(system["streams"], streams.streams, strict=True):
                item["quality_warning"] = stream.quality_warning
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """Rebuild from :meth:`to_dict` output (e.g. the summary the ledger keeps)."""
        return cls(data["run_id"], data["status"], data["started_at"],
                   data["duration_seconds"],
                   [SystemSummary.from_dict(s) for s in data.get("systems", [])],
                   data.get("data_docs"), data.get("report"), data.get("publish_error"),
                   list(data.get("notes") or []), data.get("publishing"))

    @property
    def failed(self) -> bool:
        """True when at least one system, or publishing, failed."""
        return bool(self.publish_error) or any(s.status == "failed" for s in self.systems)


def system_status(streams: list[StreamSummary]) -> tuple[str, str | None]:
    """A system's status and error from its streams: the error names *every* failed
    stream, not only the last one."""
    failed = [s for s in streams if s.status == "failed"]
    if not failed:
        return "succeeded", None
    return "failed", "; ".join(f"{s.stream}: {s.error}" for s in failed)
