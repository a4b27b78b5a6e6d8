"""When and how a decided claim closes: the outcomes that come back to rpaml as labels.

Drawn once, when the claim is decided, from a generator seeded with the portal seed and
the claim id (so a repeated run closes the same claims on the same business days), and
carried out by the business clock (:mod:`rpaml_sandbox.portal.clock`):

- escalated: an investigator looks at it; the truth is known 3 to 10 days later
  ("Fraud confirmed" or "Paid");
- approved: a fraud is discovered within 30 days in 60 % of cases and closes
  "Fraud confirmed" that day; every other approved claim, the undiscovered frauds
  included, closes "Paid" once paid, 2 to 7 days later (so some frauds come back labeled
  "Paid", as in real life);
- rejected: a legitimate claim is appealed and overturned within 14 days in 30 % of cases
  and closes "Paid"; every other rejected claim stays rejected, its truth never known.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

FRAUD_CONFIRMED: Final = "Fraud confirmed"
PAID: Final = "Paid"

INVESTIGATION_DAYS: Final = (3, 10)
PAYMENT_DAYS: Final = (2, 7)
FRAUD_DISCOVERY_DAYS: Final = 30
FRAUD_DISCOVERY_RATE: Final = 0.6
APPEAL_DAYS: Final = 14
OVERTURN_RATE: Final = 0.3


@dataclass(frozen=True, slots=True)
class Closure:
    """A decided claim closes on ``close_on`` with ``outcome``."""

    close_on: date
    outcome: str


def closure_for(
    seed: int, claim_id: str, action: str, *, is_fraud: bool, decided_on: date
) -> Closure | None:
    """How the claim decided with ``action`` on ``decided_on`` closes, or None if never
    (rules in the module doc). Raises ValueError for an unknown action."""
    rng = random.Random(f"rpaml-portal:{seed}:outcome:{claim_id}")
    if action == "escalate":
        days = rng.randint(*INVESTIGATION_DAYS)
        return Closure(decided_on + timedelta(days=days), FRAUD_CONFIRMED if is_fraud else PAID)
    if action == "approve":
        if is_fraud and rng.random() < FRAUD_DISCOVERY_RATE:
            days = rng.randint(1, FRAUD_DISCOVERY_DAYS)
            return Closure(decided_on + timedelta(days=days), FRAUD_CONFIRMED)
        return Closure(decided_on + timedelta(days=rng.randint(*PAYMENT_DAYS)), PAID)
    if action == "reject":
        if not is_fraud and rng.random() < OVERTURN_RATE:
            return Closure(decided_on + timedelta(days=rng.randint(1, APPEAL_DAYS)), PAID)
        return None
    raise ValueError(f"unknown action {action!r}")
