"""Delta Sharing bearer tokens of recipients (hashed), for ``hrss-hub share``.

Revision ID: 0003
Revises: 0001
Create Date: 2027-01-04 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hrss_hub.ledger.coltypes import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "share_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_share_tokens_token_sha256")),
    )
    op.create_index("ix_share_tokens_recipient", "share_tokens", ["recipient"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_share_tokens_recipient", table_name="share_tokens")
    op.drop_table("share_tokens")
