"""Enrichments: data robots look up for a record in other applications.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rpaml_pipeline.store.schema import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the ``enrichments`` table and its lookup index."""
    op.create_table(
        "enrichments",
        sa.Column("enrichment_id", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("location", sa.Text()),
        sa.Column("search_term", sa.Text()),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("raw_hash", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("captured_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("enrichment_id", name="pk_enrichments"),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.record_id"], name="fk_enrichments_record_id_records"
        ),
    )
    op.create_index(
        "ix_enrichments_record_id_captured_at", "enrichments", ["record_id", "captured_at"]
    )


def downgrade() -> None:
    """Drop the enrichments (the records themselves are untouched)."""
    op.drop_index("ix_enrichments_record_id_captured_at", table_name="enrichments")
    op.drop_table("enrichments")
