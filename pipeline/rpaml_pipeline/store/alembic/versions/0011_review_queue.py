"""The human review queue: queued items with their leases, reviewers' decisions, audit.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rpaml_pipeline.store.schema import UtcDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``review_items``, ``review_decisions`` and ``review_audit``."""
    op.create_table(
        "review_items",
        sa.Column("record_id", sa.String(32), sa.ForeignKey("records.record_id"), primary_key=True),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("queued_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_token", sa.String(64)),
        sa.Column("leased_at", UtcDateTime()),
        sa.Column("lease_expires_at", UtcDateTime()),
    )
    op.create_index(
        "ix_review_items_due", "review_items", ["process", "status", "due_at", "record_id"]
    )
    op.create_index(
        "ix_review_items_value", "review_items", ["process", "status", "value", "record_id"]
    )
    op.create_index("ix_review_items_owner", "review_items", ["lease_owner", "process", "status"])
    op.create_table(
        "review_decisions",
        sa.Column("decision_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(32), sa.ForeignKey("records.record_id"), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("choice", sa.String(50), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("outcome", sa.String(50), nullable=False),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("model_action", sa.String(50)),
        sa.Column("score", sa.Float()),
        sa.Column("model_version", sa.String(100)),
        sa.Column("policy_version", sa.String(100)),
        sa.Column("shown_hash", sa.String(64), nullable=False),
        sa.Column("queued_at", UtcDateTime(), nullable=False),
        sa.Column("leased_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.Column("seconds_spent", sa.Float(), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.UniqueConstraint("record_id", name="uq_review_decisions_record"),
    )
    op.create_index("ix_review_decisions_process", "review_decisions", ["process", "decided_at"])
    op.create_table(
        "review_audit",
        sa.Column(
            "audit_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_review_audit_process", "review_audit", ["process", "audit_id"])
    op.create_index("ix_review_audit_record", "review_audit", ["record_id", "audit_id"])


def downgrade() -> None:
    """Drop the review tables (the records keep their states and decisions)."""
    for index, table in (
        ("ix_review_audit_record", "review_audit"),
        ("ix_review_audit_process", "review_audit"),
        ("ix_review_decisions_process", "review_decisions"),
        ("ix_review_items_owner", "review_items"),
        ("ix_review_items_value", "review_items"),
        ("ix_review_items_due", "review_items"),
    ):
        op.drop_index(index, table_name=table)
    op.drop_table("review_audit")
    op.drop_table("review_decisions")
    op.drop_table("review_items")
