"""The review queue's tables (:mod:`rpaml_pipeline.store.review_queue`,
:mod:`rpaml_pipeline.store.review_decisions`), on the store's one metadata."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from rpaml_pipeline.store.schema import UtcDateTime, metadata

review_items = Table(
    "review_items",
    metadata,
    Column("record_id", String(32), ForeignKey("records.record_id"), primary_key=True),
    Column("process", String(100), nullable=False),
    Column("natural_key", String(400), nullable=False),
    Column("status", String(16), nullable=False),
    Column("value", Float, nullable=False),
    Column("queued_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_token", String(64)),
    Column("leased_at", UtcDateTime),
    Column("lease_expires_at", UtcDateTime),
    Index("ix_review_items_due", "process", "status", "due_at", "record_id"),
    Index("ix_review_items_value", "process", "status", "value", "record_id"),
    Index("ix_review_items_owner", "lease_owner", "process", "status"),
)
"""The review queue: a row per record sent to people (``open``, then ``decided``), its value
of review, queue time, SLA and the lease of the one reviewer on it."""

review_decisions = Table(
    "review_decisions",
    metadata,
    Column("decision_id", Integer, primary_key=True, autoincrement=True),
    Column("process", String(100), nullable=False),
    Column("record_id", String(32), ForeignKey("records.record_id"), nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("choice", String(50), nullable=False),
    Column("action", String(50), nullable=False),
    Column("outcome", String(50), nullable=False),
    Column("label", Integer, nullable=False),
    Column("note", Text),
    Column("model_action", String(50)),
    Column("score", Float),
    Column("model_version", String(100)),
    Column("policy_version", String(100)),
    Column("shown_hash", String(64), nullable=False),
    Column("queued_at", UtcDateTime, nullable=False),
    Column("leased_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("seconds_spent", Float, nullable=False),
    Column("simulated", Boolean, nullable=False),
    Column("run_id", String(32), nullable=False),
    UniqueConstraint("record_id", name="uq_review_decisions_record"),
    Index("ix_review_decisions_process", "process", "decided_at"),
)
"""A person's decision, once per record: the choice, its action and label, what was shown
(model action, score, versions, SHA-256 of the page's facts), waiting and working time."""

review_audit = Table(
    "review_audit",
    metadata,
    Column(
        "audit_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("process", String(100), nullable=False),
    Column("record_id", String(32), nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("event", String(20), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_review_audit_process", "process", "audit_id"),
    Index("ix_review_audit_record", "record_id", "audit_id"),
)
"""The review queue's append-only trail: every ``lease``, ``release`` and ``decision``."""
