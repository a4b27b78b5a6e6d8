"""Table definitions of the staging store (SQLAlchemy Core, shared by SQLite and PostgreSQL).

The Alembic migrations in ``alembic/versions`` create exactly these tables; a test checks
that the migrated database matches this metadata, so the two cannot drift.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

# Stable constraint names, so migrations can refer to them on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend.

    Stored as naive UTC (SQLite has no time zones, and comparing naive UTC strings sorts
    correctly there); returned as aware UTC. Naive input is refused: it is a bug.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: rpaml stores aware UTC datetimes")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("process", String(100), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("robot", String(200)),
    Column("status", String(20), nullable=False),
    Column("config_hash", String(64)),
    Column("details", JSON, nullable=False),
    Column("summary", JSON),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Index(None, "process", "started_at"),
)

records = Table(
    "records",
    metadata,
    Column("record_id", String(32), primary_key=True),
    Column("process", String(100), nullable=False),
    Column("source", String(200), nullable=False),
    Column("source_location", Text),
    Column("natural_key", String(400), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("raw_hash", String(64), nullable=False),
    Column("raw", JSON, nullable=False),
    Column("data", JSON),
    Column("features", JSON),
    Column("state", String(20), nullable=False),
    Column("reason", Text),
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UtcDateTime),
    Column("score", Float),
    Column("decision", String(50)),
    Column("reasons", JSON),
    Column("model_name", String(200)),
    Column("model_version", String(100)),
    Column("policy_version", String(100)),
    Column("receipt", String(200)),
    Column("label", Integer),
    Column("label_source", String(200)),
    Column("superseded_by", String(32)),
    UniqueConstraint("process", "natural_key", "revision"),
    # Claims take the oldest records of a state: this index serves that order (0006).
    Index(None, "process", "state", "updated_at", "record_id"),
    Index(None, "run_id"),
)

record_events = Table(
    "record_events",
    metadata,
    # BigInteger on PostgreSQL, INTEGER on SQLite (so it stays the rowid alias and
    # autoincrements): the event id orders a record's lineage.
    Column(
        "event_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("record_id", String(32), ForeignKey("records.record_id"), nullable=False),
    Column("run_id", String(32)),
    Column("step", String(100), nullable=False),
    Column("step_version", String(50)),
    Column("config_hash", String(64)),
    Column("from_state", String(20)),
    Column("to_state", String(20)),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", JSON, nullable=False),
    Index(None, "record_id", "event_id"),
    Index(None, "run_id", "step"),
)

enrichments = Table(
    "enrichments",
    metadata,
    Column("enrichment_id", String(32), primary_key=True),
    Column("record_id", String(32), ForeignKey("records.record_id"), nullable=False),
    Column("process", String(100), nullable=False),
    Column("source", String(200), nullable=False),
    Column("location", Text),
    Column("search_term", Text),
    Column("payload", JSON, nullable=False),
    Column("raw_hash", String(64), nullable=False),
    Column("run_id", String(32)),
    Column("captured_at", UtcDateTime, nullable=False),
    Index(None, "record_id", "captured_at"),
)
"""Data a robot looked up for a record in another application (e.g. the policy screen of
a desktop app): kept beside the raw record, never merged into it, so the raw hash stays
the hash of what the collecting robot saw."""

source_files = Table(
    "source_files",
    metadata,
    Column("process", String(100), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("content_hash", String(64), primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("records", Integer, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("taken_at", UtcDateTime, nullable=False),
)
"""Files an inbox source has taken (by content hash), so the same file is taken once even
when it is dropped again under another name."""

source_profiles = Table(
    "source_profiles",
    metadata,
    Column("process", String(100), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("records", Integer, nullable=False),
    Column("profile", JSON, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""What each source of a process delivered in earlier runs (columns, raw types, numeric
ranges, categories): the baseline contract-drift checks compare new records with."""
