"""Initial ledger schema: runs, watermarks, batches, files, schemas, quality, exchange
versions, deliveries, the audit chain and quarantine actions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 05:12:37.374186
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hrss_hub.ledger.coltypes import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # the chain starts empty; appenders lock and update this one row
    audit_head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer()),
        sa.column("count", sa.BigInteger()),
        sa.column("hash", sa.String(64)),
    )
    op.bulk_insert(audit_head, [{"id": 1, "count": 0, "hash": ""}])
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("hub_id", sa.String(length=200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("config_path", sa.Text(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            sa.column("status").in_(["running", "succeeded", "failed", "partial"]),
            name=op.f("ck_runs_status"),
        ),
        sa.CheckConstraint(
            sa.column("trigger").in_(["cli", "airflow", "demo"]), name=op.f("ck_runs_trigger")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_started_at", "runs", ["started_at"], unique=False)
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_mapped", sa.BigInteger(), nullable=False),
        sa.Column("rows_published", sa.BigInteger(), nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger(), nullable=False),
        sa.Column("rows_filtered", sa.BigInteger(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_batches_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index("ix_batches_run_id", "batches", ["run_id"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_deliveries_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index(
        "ix_deliveries_recipient_dataset_version",
        "deliveries",
        ["recipient", "dataset", "version"],
        unique=False,
    )
    op.create_table(
        "exchange_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("manifest_path", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_exchange_versions_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_versions")),
        sa.UniqueConstraint(
            "dataset", "version", name=op.f("uq_exchange_versions_dataset_version")
        ),
    )
    op.create_table(
        "processed_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_processed_files_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_files")),
        sa.UniqueConstraint(
            "system", "stream", "sha256", name=op.f("uq_processed_files_system_stream_sha256")
        ),
    )
    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("evaluated", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_quality_results_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_results")),
    )
    op.create_index("ix_quality_results_run_id", "quality_results", ["run_id"], unique=False)
    op.create_table(
        "quarantine_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            sa.column("action").in_(["release", "reject"]),
            name=op.f("ck_quarantine_actions_action"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_quarantine_actions_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_actions")),
    )
    op.create_index("ix_quarantine_actions_run_id", "quarantine_actions", ["run_id"], unique=False)
    op.create_table(
        "schema_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("schema_json", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_schema_snapshots_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schema_snapshots")),
    )
    op.create_index(
        "ix_schema_snapshots_system_stream", "schema_snapshots", ["system", "stream"], unique=False
    )
    op.create_table(
        "stream_states",
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=200), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_stream_states_run_id_runs")),
        sa.PrimaryKeyConstraint("system", "stream", name=op.f("pk_stream_states")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("stream_states")
    op.drop_index("ix_schema_snapshots_system_stream", table_name="schema_snapshots")
    op.drop_table("schema_snapshots")
    op.drop_index("ix_quarantine_actions_run_id", table_name="quarantine_actions")
    op.drop_table("quarantine_actions")
    op.drop_index("ix_quality_results_run_id", table_name="quality_results")
    op.drop_table("quality_results")
    op.drop_table("processed_files")
    op.drop_table("exchange_versions")
    op.drop_index("ix_deliveries_recipient_dataset_version", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_batches_run_id", table_name="batches")
    op.drop_table("batches")
    op.drop_index("ix_runs_started_at", table_name="runs")
    op.drop_table("runs")
    op.drop_table("audit_head")
    op.drop_table("audit_events")
