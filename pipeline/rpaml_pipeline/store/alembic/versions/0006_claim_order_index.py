"""Claim in index order: the records of a process in a state, oldest first.

``Store.claim`` takes the oldest claimable records of a state (``ORDER BY updated_at,
record_id LIMIT n``). With an index on ``(process, state)`` only, each claim sorted every
record waiting in that state, so working off a backlog of a million collected records
cost a million-row sort per chunk. This index serves the order directly (and still every
query by process and state).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Replace the ``(process, state)`` index by ``(process, state, updated_at, record_id)``."""
    op.create_index(
        "ix_records_process_state_updated_at_record_id",
        "records",
        ["process", "state", "updated_at", "record_id"],
    )
    op.drop_index("ix_records_process_state", table_name="records")


def downgrade() -> None:
    """Back to the ``(process, state)`` index."""
    op.create_index("ix_records_process_state", "records", ["process", "state"])
    op.drop_index("ix_records_process_state_updated_at_record_id", table_name="records")
