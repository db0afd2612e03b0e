"""Supervision findings and their events, and the person master's steward review queue.

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-10 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hrss_hub.ledger.coltypes import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "findings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("check_id", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("divisions", sa.Text(), nullable=False),
        sa.Column("evidence_rows", sa.Integer(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("last_run", sa.String(length=40), nullable=True),
        sa.CheckConstraint("status IN ('open', 'confirmed', 'dismissed', 'resolved')",
                           name=op.f("ck_findings_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index("ix_findings_check_id", "findings", ["check_id"], unique=False)
    op.create_table(
        "finding_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("finding_id", sa.String(length=40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"],
                                name=op.f("fk_finding_events_finding_id_findings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_events")),
    )
    op.create_index("ix_finding_events_finding_id", "finding_events", ["finding_id"],
                    unique=False)
    op.create_table(
        "master_reviews",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("left_record", sa.Text(), nullable=False),
        sa.Column("right_record", sa.Text(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')",
                           name=op.f("ck_master_reviews_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_master_reviews")),
    )
    op.create_index("ix_master_reviews_status", "master_reviews", ["status"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_master_reviews_status", table_name="master_reviews")
    op.drop_table("master_reviews")
    op.drop_index("ix_finding_events_finding_id", table_name="finding_events")
    op.drop_table("finding_events")
    op.drop_index("ix_findings_check_id", table_name="findings")
    op.drop_table("findings")
