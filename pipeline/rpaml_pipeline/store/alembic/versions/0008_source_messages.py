"""Source messages and positions: what stream, object-store and incremental SQL sources
have taken, recorded with the records they brought.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rpaml_pipeline.store.schema import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``source_messages`` and ``source_positions``."""
    op.create_table(
        "source_messages",
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(1100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("location", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("process", "source", "message_id", name="pk_source_messages"),
    )
    op.create_index("ix_source_messages_status", "source_messages", ["process", "status"])
    op.create_table(
        "source_positions",
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("position", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("process", "source", name="pk_source_positions"),
    )


def downgrade() -> None:
    """Drop both tables (the records the sources brought stay)."""
    op.drop_index("ix_source_messages_status", table_name="source_messages")
    op.drop_table("source_messages")
    op.drop_table("source_positions")
