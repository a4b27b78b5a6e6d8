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
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
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
    # The control plane: one narrow row per record revision. Its payloads (raw, cleaned,
    # features) live in columnar batches (``batches``); ``batch_id``/``batch_row`` point at
    # its raw row, ``data_batch_id`` at the processed batch holding its cleaned data.
    Column("record_id", String(32), primary_key=True),
    Column("process", String(100), nullable=False),
    Column("source", String(200), nullable=False),
    Column("natural_key", String(400), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("raw_hash", String(64), nullable=False),
    Column("state", String(20), nullable=False),
    Column("reason", Text),
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
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
    Column("batch_id", String(32)),
    Column("batch_row", Integer),
    Column("data_batch_id", String(32)),
    Column("expected_costs", JSON),
    UniqueConstraint("process", "natural_key", "revision"),
    # Per-record claims (robots acting on decisions, requeueing stranded actions) take the
    # oldest records of these states; processing and scoring claim whole batches instead,
    # so the index holds only the few records a robot works on one by one (0007).
    Index(
        "ix_records_claimable",
        "process",
        "state",
        "updated_at",
        "record_id",
        sqlite_where=text("state = 'decided' OR state = 'acting'"),
        postgresql_where=text("state = 'decided' OR state = 'acting'"),
    ),
    # Records of a batch, in the batch's order: processing and scoring read a batch's
    # records, and claims of collected or validated records walk this order (oldest first).
    Index(None, "batch_id", "batch_row"),
)

batches = Table(
    "batches",
    metadata,
    # The data plane: records' payloads, column by column (Parquet, rpaml_pipeline.store.
    # codec), in the same database as the control rows. A batch never changes once
    # written; what changes is which work is still pending on it and who holds it.
    Column("batch_id", String(32), primary_key=True),
    Column("process", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("source", String(200)),
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("input_id", String(32)),
    Column("rows", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("pending", String(20)),
    Column("status", String(20), nullable=False),
    Column("gate", JSON),
    Column("changes", Integer, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", UtcDateTime),
    Index(None, "process", "pending", "batch_id"),
    Index(None, "input_id"),
)
"""``kind`` is ``raw`` (what a source delivered, ``pending`` = ``process`` while some of its
records wait in ``collected``) or ``processed`` (cleaned data, features and each record's
step details; ``input_id`` is its raw batch, ``pending`` = ``score`` while some of its records
wait in ``validated``). ``status`` is ``open``, or ``held`` / ``released`` / ``rejected`` by
the batch gate (``gate`` says why); ``changes`` counts the changes of its records since it
was written, so a delivery knows which batches to look at again."""

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
    Column("record_id", String(32), ForeignKey("records.record_id")),
    Column("batch_id", String(32)),
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
    Index(None, "batch_id", "event_id"),
)
"""A record's lineage: rows naming the record (its own events: a supersede, an
enrichment, a decision, an action...) and rows naming a batch (a step applied to every
record of the batch: ingest, processing), one id sequence ordering both."""

deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "delivery_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("process", String(100), nullable=False),
    Column("target", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("batch_id", String(32), nullable=False),
    Column("changes", Integer, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("location", Text, nullable=False),
    Column("records", Integer, nullable=False),
    Column("manifest", LargeBinary, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "process", "target", "batch_id"),
    Index(None, "batch_id"),
)
"""What a delivery run handed one target from one processed batch: ``manifest`` lists the
records (id and the ``updated_at`` they were delivered at) and ``changes`` the batch's
change count then. A record goes to a target again only once it changed after that."""

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

source_messages = Table(
    "source_messages",
    metadata,
    Column("process", String(100), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("message_id", String(1100), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("location", Text),
    Column("reason", Text),
    Column("run_id", String(32), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_source_messages_status", "process", "status"),
)
"""What stream and object-store sources (and incremental SQL rows) have taken, one row
per message (stream message id, object key and ETag, row key and cursor value):
``staged`` in the transaction that staged its records, ``failing`` with the attempts so
far, or ``dead`` (dead-lettered) with its reason."""

source_positions = Table(
    "source_positions",
    metadata,
    Column("process", String(100), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("position", JSON, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""Where an incremental source stands (an SQL source's cursor watermark), moved in the
transaction that staged the rows up to it."""

record_labels = Table(
    "record_labels",
    metadata,
    Column("label_id", Integer, primary_key=True, autoincrement=True),
    Column("process", String(100), nullable=False),
    Column("record_id", String(32), ForeignKey("records.record_id"), nullable=False),
    Column("natural_key", String(400), nullable=False),
    Column("label", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("source", String(200), nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
    Column("delay_seconds", Float),
    Column("action", String(50)),
    Column("score", Float),
    Column("model_version", String(100)),
    Column("policy_version", String(100)),
    Column("run_id", String(32), nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("record_id", "kind", "source", name="uq_record_labels_judged"),
    Index("ix_record_labels_process", "process", "observed_at"),
)
"""Labels that judge a decision: an outcome that came back (``kind`` ``outcome``) or, later,
a person's review, linked to the decided record (``record_id``) with what it judges (the
action, score, model and policy versions) and when it became known. The labeled revision
that brought an outcome stays a training record of its own; this row is its provenance."""

shadow_decisions = Table(
    "shadow_decisions",
    metadata,
    Column("shadow_id", Integer, primary_key=True, autoincrement=True),
    Column("process", String(100), nullable=False),
    Column("record_id", String(32), ForeignKey("records.record_id"), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("model_name", String(100), nullable=False),
    Column("model_version", String(100), nullable=False),
    Column("champion_version", String(100), nullable=False),
    Column("policy_version", String(100), nullable=False),
    Column("score", Float, nullable=False),
    Column("decision", String(50), nullable=False),
    Column("expected_costs", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_shadow_decisions_record", "record_id"),
    Index("ix_shadow_decisions_process", "process", "model_name", "model_version"),
)
"""The challenger's decision for a record the champion decided in the same scoring run
(shadow mode): ``model_version`` is the challenger's, ``champion_version`` the one whose
decision the record carries and the robots act on. Nothing acts on these rows; they are
compared with the champion's decisions once outcomes judge them (``rpaml model compare``)."""


# The review queue's tables live in their own module, on this metadata; imported here so
# that whoever reads the metadata (create_all, migrations' checks) sees every table.
from rpaml_pipeline.store.review_schema import (  # noqa: E402
    review_audit as review_audit,
)
from rpaml_pipeline.store.review_schema import (  # noqa: E402
    review_decisions as review_decisions,
)
from rpaml_pipeline.store.review_schema import (  # noqa: E402
    review_items as review_items,
)
