"""Columnar data plane: payloads move from JSON columns into batches.

Before: each ``records`` row held its raw payload, cleaned data and features as JSON, and
every step of every record wrote its own ``record_events`` row. After: a record's row is
the narrow control row (identity, hashes, state, lease, decision, receipt, label) pointing
at its raw batch and processed batch (``batches``: Parquet, rpaml_pipeline.store.codec),
batch-wide steps are one event per batch (``record_events.batch_id``), and deliveries are
recorded per target and batch (``deliveries``).

The upgrade moves every existing record: per process, source and run, records become raw
batches of up to 10,000 (payload, capture facts and hashes as they were), those with
cleaned data a processed batch beside it; their per-record events stay as they are, so
their lineage reads exactly as before. Each record's last delivery to each target becomes
the target's manifest of that batch, so nothing is delivered again that did not change.
The claim index becomes partial (the decided and acting records robots take one by one);
processing and scoring claim batches.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import groupby
from typing import Any

import polars as pl
import sqlalchemy as sa
from alembic import op

from rpaml_pipeline.store import codec, layout
from rpaml_pipeline.store.batches import to_parquet
from rpaml_pipeline.store.context import batch_ids
from rpaml_pipeline.store.schema import UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 10_000
_MOVED = ("raw", "data", "features", "source_location", "captured_at")

_old_records = sa.table(
    "records",
    sa.column("record_id", sa.String),
    sa.column("process", sa.String),
    sa.column("source", sa.String),
    sa.column("run_id", sa.String),
    sa.column("natural_key", sa.String),
    sa.column("revision", sa.Integer),
    sa.column("raw_hash", sa.String),
    sa.column("content_hash", sa.String),
    sa.column("source_location", sa.Text),
    sa.column("captured_at", UtcDateTime),
    sa.column("updated_at", UtcDateTime),
    sa.column("raw", sa.JSON),
    sa.column("data", sa.JSON),
    sa.column("features", sa.JSON),
    sa.column("state", sa.String),
    sa.column("label", sa.Integer),
    sa.column("label_source", sa.String),
    sa.column("batch_id", sa.String),
    sa.column("batch_row", sa.Integer),
    sa.column("data_batch_id", sa.String),
)
_batches = sa.table(
    "batches",
    *(
        sa.column(name, kind)
        for name, kind in (
            ("batch_id", sa.String),
            ("process", sa.String),
            ("kind", sa.String),
            ("source", sa.String),
            ("run_id", sa.String),
            ("input_id", sa.String),
            ("rows", sa.Integer),
            ("sha256", sa.String),
            ("data", sa.LargeBinary),
            ("created_at", UtcDateTime),
            ("pending", sa.String),
            ("status", sa.String),
            ("changes", sa.Integer),
        )
    ),
)
_events = sa.table(
    "record_events",
    sa.column("record_id", sa.String),
    sa.column("step", sa.String),
    sa.column("at", UtcDateTime),
    sa.column("detail", sa.JSON),
    sa.column("run_id", sa.String),
)
_deliveries = sa.table(
    "deliveries",
    *(
        sa.column(name, kind)
        for name, kind in (
            ("process", sa.String),
            ("target", sa.String),
            ("kind", sa.String),
            ("batch_id", sa.String),
            ("changes", sa.Integer),
            ("run_id", sa.String),
            ("location", sa.Text),
            ("records", sa.Integer),
            ("manifest", sa.LargeBinary),
            ("at", UtcDateTime),
        )
    ),
)


def upgrade() -> None:
    """Create the batch tables, move every record's payloads into batches, slim records."""
    _create_tables()
    with op.batch_alter_table("records") as table:
        table.add_column(sa.Column("batch_id", sa.String(32)))
        table.add_column(sa.Column("batch_row", sa.Integer()))
        table.add_column(sa.Column("data_batch_id", sa.String(32)))
        table.add_column(sa.Column("expected_costs", sa.JSON()))
    _move_records(op.get_bind())
    op.drop_index("ix_records_process_state_updated_at_record_id", table_name="records")
    op.drop_index("ix_records_run_id", table_name="records")
    for column in _MOVED:
        op.execute(f"ALTER TABLE records DROP COLUMN {column}")
    op.create_index(
        "ix_records_claimable",
        "records",
        ["process", "state", "updated_at", "record_id"],
        sqlite_where=sa.text("state = 'decided' OR state = 'acting'"),
        postgresql_where=sa.text("state = 'decided' OR state = 'acting'"),
    )
    op.create_index("ix_records_batch_id_batch_row", "records", ["batch_id", "batch_row"])
    with op.batch_alter_table("record_events") as table:
        table.alter_column("record_id", existing_type=sa.String(32), nullable=True)
        table.add_column(sa.Column("batch_id", sa.String(32)))
    op.create_index("ix_record_events_batch_id_event_id", "record_events", ["batch_id", "event_id"])


def _create_tables() -> None:
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(200)),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("input_id", sa.String(32)),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("pending", sa.String(20)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("gate", sa.JSON()),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("batch_id", name="pk_batches"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], name="fk_batches_run_id_runs"),
    )
    op.create_index(
        "ix_batches_process_pending_batch_id", "batches", ["process", "pending", "batch_id"]
    )
    op.create_index("ix_batches_input_id", "batches", ["input_id"])
    op.create_table(
        "deliveries",
        sa.Column(
            "delivery_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("process", sa.String(100), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_deliveries"),
    )
    op.create_index(
        "ix_deliveries_process_target_batch_id", "deliveries", ["process", "target", "batch_id"]
    )
    op.create_index("ix_deliveries_batch_id", "deliveries", ["batch_id"])


def _move_records(conn: sa.Connection) -> None:
    """Every record's payloads into batches (see the module docstring)."""
    order = (_old_records.c.process, _old_records.c.source, _old_records.c.run_id)
    query = sa.select(_old_records).order_by(*order, _old_records.c.record_id)
    rows = [dict(row) for row in conn.execute(query).mappings()]
    now = dt.datetime.now(dt.UTC)
    for _, group in groupby(rows, key=lambda row: (row["process"], row["source"], row["run_id"])):
        members = list(group)
        for start in range(0, len(members), _CHUNK):
            _move_chunk(conn, members[start : start + _CHUNK], now)


def _move_chunk(conn: sa.Connection, chunk: list[dict[str, Any]], now: dt.datetime) -> None:
    first = chunk[0]
    raw_id, _ = batch_ids(0)
    control = pl.DataFrame(
        {
            "record_id": [row["record_id"] for row in chunk],
            "natural_key": [row["natural_key"] for row in chunk],
            "revision": [row["revision"] for row in chunk],
            "previous_record_id": [None] * len(chunk),
            "source_location": [row["source_location"] for row in chunk],
            "captured_at": [row["captured_at"] for row in chunk],
            "raw_hash": [row["raw_hash"] for row in chunk],
            "content_hash": [row["content_hash"] for row in chunk],
        },
        schema={
            "record_id": pl.String,
            "natural_key": pl.String,
            "revision": pl.Int64,
            "previous_record_id": pl.String,
            "source_location": pl.String,
            "captured_at": pl.Datetime("us", "UTC"),
            "raw_hash": pl.String,
            "content_hash": pl.String,
        },
    )
    payloads = codec.encode([dict(row["raw"] or {}) for row in chunk], layout.PAYLOAD)
    frame = pl.concat([control, payloads], how="horizontal") if payloads.width else control
    collected = any(row["state"] == "collected" for row in chunk)
    _insert_batch(conn, raw_id, first, "raw", frame, None, "process" if collected else None, now)
    conn.execute(
        sa.update(_old_records)
        .where(_old_records.c.record_id == sa.bindparam("b_id"))
        .values(batch_id=raw_id, batch_row=sa.bindparam("b_row")),
        [{"b_id": row["record_id"], "b_row": index} for index, row in enumerate(chunk)],
    )
    done = [row for row in chunk if row["data"] is not None or row["features"] is not None]
    if not done:
        return
    data_id, _ = batch_ids(0)
    processed = pl.DataFrame(
        {
            "record_id": [row["record_id"] for row in done],
            "to_state": [row["state"] for row in done],
            "step_details": [None] * len(done),
            "has_features": [row["features"] is not None for row in done],
            "label": [row["label"] for row in done],
            "label_source": [row["label_source"] for row in done],
        },
        schema=dict(layout.PROCESSED_SCHEMA),
    ).with_columns(pl.Series("has_data", [row["data"] is not None for row in done]))
    data = codec.encode([dict(row["data"] or {}) for row in done], layout.DATA, dates=True)
    features = codec.encode([dict(row["features"] or {}) for row in done], layout.FEATURES)
    processed = pl.concat([processed, *(f for f in (data, features) if f.width)], how="horizontal")
    scoring = any(row["state"] == "validated" for row in done)
    _insert_batch(
        conn, data_id, first, "processed", processed, raw_id, "score" if scoring else None, now
    )
    conn.execute(
        sa.update(_old_records)
        .where(_old_records.c.record_id == sa.bindparam("b_id"))
        .values(data_batch_id=data_id),
        [{"b_id": row["record_id"]} for row in done],
    )
    _move_deliveries(conn, first["process"], data_id, done, now)


def _insert_batch(
    conn: sa.Connection,
    batch_id: str,
    first: dict[str, Any],
    kind: str,
    frame: pl.DataFrame,
    input_id: str | None,
    pending: str | None,
    now: dt.datetime,
) -> None:
    import hashlib

    data = to_parquet(frame)
    conn.execute(
        sa.insert(_batches).values(
            batch_id=batch_id,
            process=first["process"],
            kind=kind,
            source=first["source"],
            run_id=first["run_id"],
            input_id=input_id,
            rows=frame.height,
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
            created_at=now,
            pending=pending,
            status="open",
            # A migrated batch is looked at by the next delivery, which sends what its
            # manifests (below) do not already hold.
            changes=1 if kind == "processed" else 0,
        )
    )


def _move_deliveries(
    conn: sa.Connection, process: str, batch_id: str, done: list[dict[str, Any]], now: dt.datetime
) -> None:
    """Each target's last delivery of these records, as that target's manifest."""
    by_id = {row["record_id"]: row for row in done}
    events = conn.execute(
        sa.select(_events.c.record_id, _events.c.at, _events.c.detail, _events.c.run_id)
        .where(_events.c.step == "deliver", _events.c.record_id.in_(list(by_id)))
        .order_by(_events.c.at)
    ).all()
    manifests: dict[str, dict[str, tuple[dt.datetime, str, str]]] = {}
    kinds: dict[str, str] = {}
    for record_id, at, detail, run_id in events:
        target = (detail or {}).get("target")
        if target:
            kinds[str(target)] = str(detail.get("kind") or "")
            manifests.setdefault(str(target), {})[record_id] = (
                at,
                str(detail.get("location")),
                run_id,
            )
    for target, delivered in manifests.items():
        current = {
            record_id: by_id[record_id]["updated_at"]
            for record_id, (at, _, _) in delivered.items()
            if by_id[record_id]["updated_at"] <= at  # delivered as it is now
        }
        if not current:
            continue
        # No row hash: the next delivery compares the record's updated_at instead.
        manifest = pl.DataFrame(
            {
                "record_id": list(current),
                "row_hash": [None] * len(current),
                "updated_at": list(current.values()),
            },
            schema={
                "record_id": pl.String,
                "row_hash": pl.String,
                "updated_at": pl.Datetime("us", "UTC"),
            },
        )
        last = max(delivered.values())
        conn.execute(
            sa.insert(_deliveries).values(
                process=process,
                target=target,
                kind=kinds[target],
                batch_id=batch_id,
                changes=0,
                run_id=last[2] or "migration-0007",
                location=last[1],
                records=len(current),
                manifest=to_parquet(manifest),
                at=now,
            )
        )


def downgrade() -> None:
    """Not supported: the per-record JSON layout cannot hold what batches record."""
    raise NotImplementedError("0007 cannot be downgraded; restore a backup of the store")
