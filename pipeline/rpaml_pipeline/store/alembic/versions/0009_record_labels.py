"""Record labels: outcomes (and, later, people's reviews) linked to the decision they judge.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rpaml_pipeline.store.schema import UtcDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``record_labels``."""
    op.create_table(
        "record_labels",
        sa.Column("label_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(32), sa.ForeignKey("records.record_id"), nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("observed_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime()),
        sa.Column("delay_seconds", sa.Float()),
        sa.Column("action", sa.String(50)),
        sa.Column("score", sa.Float()),
        sa.Column("model_version", sa.String(100)),
        sa.Column("policy_version", sa.String(100)),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("record_id", "kind", "source", name="uq_record_labels_judged"),
    )
    op.create_index("ix_record_labels_process", "record_labels", ["process", "observed_at"])


def downgrade() -> None:
    """Drop the table (the labeled revisions themselves stay)."""
    op.drop_index("ix_record_labels_process", table_name="record_labels")
    op.drop_table("record_labels")
