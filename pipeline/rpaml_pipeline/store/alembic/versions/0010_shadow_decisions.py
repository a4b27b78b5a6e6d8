"""Shadow decisions: the challenger's decision beside the champion's, per scored record.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rpaml_pipeline.store.schema import UtcDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``shadow_decisions``."""
    op.create_table(
        "shadow_decisions",
        sa.Column("shadow_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(32), sa.ForeignKey("records.record_id"), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("champion_version", sa.String(100), nullable=False),
        sa.Column("policy_version", sa.String(100), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(50), nullable=False),
        sa.Column("expected_costs", sa.JSON()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_shadow_decisions_record", "shadow_decisions", ["record_id"])
    op.create_index(
        "ix_shadow_decisions_process",
        "shadow_decisions",
        ["process", "model_name", "model_version"],
    )


def downgrade() -> None:
    """Drop the table (the champion's decisions stay on the records)."""
    op.drop_index("ix_shadow_decisions_process", table_name="shadow_decisions")
    op.drop_index("ix_shadow_decisions_record", table_name="shadow_decisions")
    op.drop_table("shadow_decisions")
