"""The ledger's tables (SQLAlchemy 2.x declarative).

Portable across SQLite, PostgreSQL and MySQL/MariaDB: every indexed string has a
length, JSON uses ``sqlalchemy.JSON`` and timestamps use :class:`UTCDateTime`.
A change here needs a new migration in ``migrations/versions`` (a test compares both).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from hrss_hub.ledger.coltypes import UTCDateTime, utcnow

RUN_STATUSES = ("running", "succeeded", "failed", "partial")
RUN_TRIGGERS = ("cli", "airflow", "demo")
QUARANTINE_ACTIONS = ("release", "reject")

# Named constraints: future migrations (and SQLite batch mode) can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Short, fixed lengths keep composite unique keys under MySQL's 3072-byte index limit.
SYSTEM = 100
STREAM = 200
NAME = 200
SHA256 = 64


def _in(name: str, values: tuple[str, ...]) -> ColumnElement[bool]:
    # an expression, not raw SQL, so reserved words (``trigger`` on MySQL) get quoted
    return column(name).in_(values)


class Base(DeclarativeBase):
    """Declarative base carrying the ledger's :class:`MetaData`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Run(Base):
    """One execution of the pipeline (all systems/streams it touched)."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint(_in("trigger", RUN_TRIGGERS), name="trigger"),
        Index("ix_runs_started_at", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    hub_id: Mapped[str] = mapped_column(String(NAME))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="running")
    trigger: Mapped[str] = mapped_column(String(16))
    config_path: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class StreamState(Base):
    """The committed watermark of one stream; only written after a successful publish."""

    __tablename__ = "stream_states"

    system: Mapped[str] = mapped_column(String(SYSTEM), primary_key=True)
    stream: Mapped[str] = mapped_column(String(STREAM), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Batch(Base):
    """Row counts of one Arrow batch as it went through the pipeline."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_run_id", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    system: Mapped[str] = mapped_column(String(SYSTEM))
    stream: Mapped[str] = mapped_column(String(STREAM))
    seq: Mapped[int] = mapped_column(Integer)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_mapped: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_published: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_filtered: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the rest of the stream's summary (rules, quarantine file, warnings), so that a
    #: retried task reports what the committed attempt did
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ProcessedFile(Base):
    """A source file (by content hash) that a file stream has fully processed."""

    __tablename__ = "processed_files"
    __table_args__ = (UniqueConstraint("system", "stream", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system: Mapped[str] = mapped_column(String(SYSTEM))
    stream: Mapped[str] = mapped_column(String(STREAM))
    sha256: Mapped[str] = mapped_column(String(SHA256))
    file_name: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int | None] = mapped_column(BigInteger)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SchemaSnapshot(Base):
    """A discovered source schema, kept so the next run can detect drift."""

    __tablename__ = "schema_snapshots"
    __table_args__ = (Index("ix_schema_snapshots_system_stream", "system", "stream"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    system: Mapped[str] = mapped_column(String(SYSTEM))
    stream: Mapped[str] = mapped_column(String(STREAM))
    schema_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QualityResultRow(Base):
    """Suite-level outcome of one rule on one entity in one run."""

    __tablename__ = "quality_results"
    __table_args__ = (Index("ix_quality_results_run_id", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    system: Mapped[str] = mapped_column(String(SYSTEM))
    stream: Mapped[str] = mapped_column(String(STREAM))
    entity: Mapped[str] = mapped_column(String(NAME))
    rule: Mapped[str] = mapped_column(String(NAME))
    severity: Mapped[str] = mapped_column(String(16))
    evaluated: Mapped[int] = mapped_column(BigInteger)
    failed: Mapped[int] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ExchangeVersion(Base):
    """A published, immutable dataset version."""

    __tablename__ = "exchange_versions"
    __table_args__ = (UniqueConstraint("dataset", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(NAME))
    version: Mapped[int] = mapped_column(Integer)
    manifest_path: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(SHA256))
    rows: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Delivery(Base):
    """A dataset version handed to a recipient under a sharing agreement."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_recipient_dataset_version", "recipient", "dataset", "version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(NAME))
    dataset: Mapped[str] = mapped_column(String(NAME))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger)
    manifest_sha256: Mapped[str] = mapped_column(String(SHA256))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEvent(Base):
    """One link of the tamper-evident audit chain (see :mod:`hrss_hub.ledger.audit`)."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("hash"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(NAME))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(SHA256))
    hash: Mapped[str] = mapped_column(String(SHA256))


class AuditHead(Base):
    """Single row (id=1): the chain's last hash and length.

    Appenders lock this row first, so concurrent writers cannot fork the chain, and
    verification can tell a truncated tail from an intact one.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(SHA256))


class QuarantineAction(Base):
    """A steward's decision on a quarantined row: release it, or reject it for good."""

    __tablename__ = "quarantine_actions"
    __table_args__ = (
        CheckConstraint(_in("action", QUARANTINE_ACTIONS), name="action"),
        Index("ix_quarantine_actions_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    system: Mapped[str] = mapped_column(String(SYSTEM))
    entity: Mapped[str] = mapped_column(String(NAME))
    row_key: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(NAME))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShareToken(Base):
    """A Delta Sharing bearer token of one recipient (``hrss-hub share token``).

    Only the SHA-256 of the token is stored: the token itself exists in the recipient's
    profile file and nowhere else. ``id`` is public (listed, audited, put in file URLs).
    """

    __tablename__ = "share_tokens"
    __table_args__ = (
        UniqueConstraint("token_sha256"),
        Index("ix_share_tokens_recipient", "recipient"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(NAME))
    token_sha256: Mapped[str] = mapped_column(String(SHA256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(NAME))
    endpoint: Mapped[str] = mapped_column(Text)


class RunLock(Base):
    """A named lock a run holds while it works (``system:<name>``, ``publish``).

    Acquired in the same transaction that records the run, renewed by a heartbeat,
    released when the run ends. A lock whose lease expired, or whose owner process is gone
    from this host, is stale: the next run takes it over and marks the holder's run
    ``failed`` (interrupted). ``pid`` is empty for holders that span processes (an Airflow
    run's tasks), which only the lease can declare dead.
    """

    __tablename__ = "run_locks"
    __table_args__ = (Index("ix_run_locks_holder", "holder"),)

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    holder: Mapped[str] = mapped_column(String(NAME))
    host: Mapped[str] = mapped_column(String(NAME))
    pid: Mapped[int | None] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
