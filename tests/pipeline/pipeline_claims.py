"""Test helpers of the pipeline tests: claim payloads as the portal robots capture them
(raw strings) and a clock the tests move by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rpaml_pipeline.process import ProcessDefinition

PROCESS_FILE = Path(__file__).resolve().parents[2] / "pipeline" / "processes" / "claims_triage.yaml"


# What the policy enrichment robot looks up for a claim (the fields the shipped process
# file's ``enrichment`` section merges). Pipeline tests carry them in the raw claim and run
# the process without the enrichment wait (``unenriched``), so they test the steps alone.
POLICY_LOOKUP: dict[str, str] = {
    "coverage_limit": "$250,000.00",
    "annual_premium": "1,180.00",
    "missed_payments": "0",
    "risk_segment": "B",
}


def unenriched(process: ProcessDefinition) -> ProcessDefinition:
    """``process`` without its enrichment section (records carry the looked-up fields)."""
    return process.model_copy(update={"enrichment": None})


def claim(number: int, **overrides: Any) -> dict[str, Any]:
    """A valid open claim, messy the way the portal shows it; ``overrides`` replace fields."""
    payload: dict[str, Any] = {
        "claim_id": f"CLM-{number:06d}",
        "policy_number": f"POL-{(number * 7) % 1_000_000:06d}",
        "claimant_name": "Ada Lovelace",
        "claimant_age": "42",
        "amount": ["$12,345.67", "USD 1,200.00", "880.5"][number % 3],
        "incident_date": ["2026-03-14", "14/03/2026", "Mar 14, 2026"][number % 3],
        "reported_date": "2026-03-20",
        "policy_start_date": "01/06/2024",
        "channel": [" Web ", "PHONE", "agent", "Email  "][number % 4],
        "category": ["auto", "Home", " travel", "HEALTH", "property"][number % 5],
        "region": ["north", "South ", "EAST", "west", "Central"][number % 5],
        "prior_claims": str(number % 4),
        "police_report": ["yes", "no", ""][number % 3],
        "description": "Rear-ended at a junction",
        "status": "Open",
        **POLICY_LOOKUP,
    }
    payload.update(overrides)
    return payload


def history_row(number: int, outcome: str = "Paid", **overrides: Any) -> dict[str, Any]:
    """A closed claim from the Excel export (keys already snake_case)."""
    row = claim(number, status="Closed", closed_date="2026-04-02", outcome=outcome)
    row.update(overrides)
    return row


class FakeClock:
    """A clock the tests move by hand (leases, backoff)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
