"""Index record events by run and step (replay and delivery lineage read a run's records).

Revision ID: 0003
Revises: 0002
Create Date: 2026-03-20
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the (run_id, step) index on ``record_events``."""
    op.create_index("ix_record_events_run_id_step", "record_events", ["run_id", "step"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_record_events_run_id_step", table_name="record_events")
