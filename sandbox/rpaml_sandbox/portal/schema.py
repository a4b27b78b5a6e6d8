"""The portal database's schema and how a generated claim maps to a row and back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date
from typing import Any, Final

from rpaml_sandbox.portal.display import DisplayValues, display_values
from rpaml_sandbox.portal.generator import GeneratedClaim

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS portal_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    claim_id TEXT PRIMARY KEY,
    policy_number TEXT NOT NULL,
    claimant_name TEXT NOT NULL,
    claimant_age INTEGER NOT NULL,
    amount REAL NOT NULL,
    incident_date TEXT NOT NULL,
    reported_date TEXT NOT NULL,
    policy_start_date TEXT NOT NULL,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    region TEXT NOT NULL,
    prior_claims INTEGER NOT NULL,
    police_report TEXT,
    description TEXT,
    fraud_probability REAL NOT NULL,
    is_fraud INTEGER NOT NULL,
    status TEXT NOT NULL,
    closed_date TEXT,
    outcome TEXT,
    -- Position in the list (newest = highest), NULL while a late arrival is still hidden.
    arrival_seq INTEGER UNIQUE,
    late_rank INTEGER,
    policy_number_display TEXT NOT NULL,
    claimant_name_display TEXT NOT NULL,
    claimant_age_display TEXT NOT NULL,
    amount_display TEXT NOT NULL,
    incident_date_display TEXT NOT NULL,
    reported_date_display TEXT NOT NULL,
    policy_start_date_display TEXT NOT NULL,
    channel_display TEXT NOT NULL,
    category_display TEXT NOT NULL,
    region_display TEXT NOT NULL,
    prior_claims_display TEXT NOT NULL,
    police_report_display TEXT NOT NULL,
    description_display TEXT NOT NULL,
    closed_date_display TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_status_seq ON claims (status, arrival_seq);
CREATE INDEX IF NOT EXISTS claims_category_seq ON claims (category, arrival_seq);
CREATE INDEX IF NOT EXISTS claims_channel_seq ON claims (channel, arrival_seq);
CREATE INDEX IF NOT EXISTS claims_late_rank ON claims (late_rank) WHERE arrival_seq IS NULL;
CREATE TABLE IF NOT EXISTS actions (
    claim_id TEXT PRIMARY KEY REFERENCES claims (claim_id),
    action TEXT NOT NULL,
    receipt TEXT NOT NULL UNIQUE,
    decided_at TEXT NOT NULL,
    user TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decision_tokens (
    token TEXT PRIMARY KEY,
    claim_id TEXT NOT NULL REFERENCES claims (claim_id),
    action TEXT NOT NULL,
    user TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- A decided claim's outcome, drawn when it was decided: the business clock closes it on
-- close_on (rpaml_sandbox.portal.outcomes). No row: its outcome never comes back.
CREATE TABLE IF NOT EXISTS closures (
    claim_id TEXT PRIMARY KEY REFERENCES claims (claim_id),
    decided_on TEXT NOT NULL,
    close_on TEXT NOT NULL,
    outcome TEXT NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS closures_due ON closures (closed, close_on);
"""

DISPLAY_FIELDS: Final = tuple(DisplayValues.__dataclass_fields__)

CLEAN_COLUMNS: Final = (
    "claim_id",
    "policy_number",
    "claimant_name",
    "claimant_age",
    "amount",
    "incident_date",
    "reported_date",
    "policy_start_date",
    "channel",
    "category",
    "region",
    "prior_claims",
    "police_report",
    "description",
    "fraud_probability",
    "is_fraud",
    "status",
    "closed_date",
    "outcome",
    "arrival_seq",
    "late_rank",
)
INSERT_COLUMNS: Final = CLEAN_COLUMNS + tuple(f"{name}_display" for name in DISPLAY_FIELDS)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables that do not exist yet, inside the caller's transaction."""
    # executescript() would commit first, so the statements run one by one.
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def insert_claims(conn: sqlite3.Connection, claims: Iterable[GeneratedClaim], seed: int) -> None:
    """Insert generated claims with their display strings."""
    placeholders = ", ".join("?" for _ in INSERT_COLUMNS)
    conn.executemany(
        f"INSERT INTO claims ({', '.join(INSERT_COLUMNS)}) VALUES ({placeholders})",
        (_claim_row(claim, display_values(claim, seed)) for claim in claims),
    )


def display_of(row: sqlite3.Row) -> DisplayValues:
    """The display strings stored with a claim row."""
    return DisplayValues(**{name: row[f"{name}_display"] for name in DISPLAY_FIELDS})


def claim_of(row: sqlite3.Row | dict[str, Any]) -> GeneratedClaim:
    """The clean claim stored in a row (the inverse of the insert)."""

    def day(name: str) -> date | None:
        value = row[name]
        return None if value is None else date.fromisoformat(str(value))

    return GeneratedClaim(
        claim_id=row["claim_id"],
        policy_number=row["policy_number"],
        claimant_name=row["claimant_name"],
        claimant_age=int(row["claimant_age"]),
        amount=float(row["amount"]),
        incident_date=date.fromisoformat(row["incident_date"]),
        reported_date=date.fromisoformat(row["reported_date"]),
        policy_start_date=date.fromisoformat(row["policy_start_date"]),
        channel=row["channel"],
        category=row["category"],
        region=row["region"],
        prior_claims=int(row["prior_claims"]),
        police_report=row["police_report"],
        description=row["description"],
        fraud_probability=float(row["fraud_probability"]),
        is_fraud=bool(row["is_fraud"]),
        status=row["status"],
        closed_date=day("closed_date"),
        outcome=row["outcome"],
        arrival_order=row["arrival_seq"],
        late_rank=row["late_rank"],
    )


def _claim_row(claim: GeneratedClaim, display: DisplayValues) -> tuple[Any, ...]:
    clean: tuple[Any, ...] = (
        claim.claim_id,
        claim.policy_number,
        claim.claimant_name,
        claim.claimant_age,
        claim.amount,
        claim.incident_date.isoformat(),
        claim.reported_date.isoformat(),
        claim.policy_start_date.isoformat(),
        claim.channel,
        claim.category,
        claim.region,
        claim.prior_claims,
        claim.police_report,
        claim.description,
        claim.fraud_probability,
        int(claim.is_fraud),
        claim.status,
        None if claim.closed_date is None else claim.closed_date.isoformat(),
        claim.outcome,
        claim.arrival_order,
        claim.late_rank,
    )
    return clean + tuple(getattr(display, name) for name in DISPLAY_FIELDS)
