"""Initial staging store: runs, records, record_events.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from rpaml_pipeline.store.schema import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("robot", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("config_hash", sa.String(64)),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON()),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_process_started_at", "runs", ["process", "started_at"])
    op.create_table(
        "records",
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("source_location", sa.Text()),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("raw_hash", sa.String(64), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON()),
        sa.Column("features", sa.JSON()),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("captured_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime()),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", UtcDateTime()),
        sa.Column("score", sa.Float()),
        sa.Column("decision", sa.String(50)),
        sa.Column("reasons", sa.JSON()),
        sa.Column("model_name", sa.String(200)),
        sa.Column("model_version", sa.String(100)),
        sa.Column("policy_version", sa.String(100)),
        sa.Column("receipt", sa.String(200)),
        sa.Column("label", sa.Integer()),
        sa.Column("label_source", sa.String(200)),
        sa.Column("superseded_by", sa.String(32)),
        sa.PrimaryKeyConstraint("record_id", name="pk_records"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_records_run_id_runs"),
        sa.UniqueConstraint(
            "process", "natural_key", "revision", name="uq_records_process_natural_key_revision"
        ),
    )
    op.create_index("ix_records_process_state", "records", ["process", "state"])
    op.create_index("ix_records_run_id", "records", ["run_id"])
    op.create_table(
        "record_events",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("step", sa.String(100), nullable=False),
        sa.Column("step_version", sa.String(50)),
        sa.Column("config_hash", sa.String(64)),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20)),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_record_events"),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.record_id"], name="fk_record_events_record_id_records"
        ),
    )
    op.create_index(
        "ix_record_events_record_id_event_id", "record_events", ["record_id", "event_id"]
    )


def downgrade() -> None:
    """Drop everything (the staging store holds no data worth keeping after this)."""
    op.drop_table("record_events")
    op.drop_table("records")
    op.drop_index("ix_runs_process_started_at", table_name="runs")
    op.drop_table("runs")
