"""The sandbox's claims as model features, for bench/decisions.py.

The features are what the process file's transform derives from a cleaned claim and its
policy (the same names and units); the hidden true probability is kept beside them for
measuring only, never given to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from rpaml_sandbox.desktop.policies import policy_for_claim
from rpaml_sandbox.portal.generator import GeneratedClaim, generate_claims

HISTORY_OPEN, HISTORY_CLOSED = 120, 1500


@dataclass(frozen=True)
class ClaimSet:
    """Features, realised labels and hidden true probabilities of some claims."""

    features: pd.DataFrame
    labels: npt.NDArray[np.int64]
    truth: npt.NDArray[np.float64]


def _row(claim: GeneratedClaim, seed: int) -> dict[str, object]:
    policy = policy_for_claim(claim, seed)
    return {
        "amount": claim.amount,
        "claimant_age": float(claim.claimant_age),
        "prior_claims": float(claim.prior_claims),
        "days_policy_active": float((claim.incident_date - claim.policy_start_date).days),
        "report_delay_days": float((claim.reported_date - claim.incident_date).days),
        # The process file's cleaning: no report on file means no police report.
        "police_report": claim.police_report == "yes",
        "channel": claim.channel,
        "category": claim.category,
        "region": claim.region,
        "coverage_limit": float(policy.coverage_limit),
        "missed_payments": float(policy.missed_payments),
        "risk_segment": policy.risk_segment,
    }


def _claim_set(claims: list[GeneratedClaim], seed: int) -> ClaimSet:
    return ClaimSet(
        features=pd.DataFrame([_row(c, seed) for c in claims]),
        labels=np.array([int(c.is_fraud) for c in claims], dtype=np.int64),
        truth=np.array([c.fraud_probability for c in claims], dtype=np.float64),
    )


def history(seed: int) -> ClaimSet:
    """The closed claims of the portal started with ``seed`` (the demo's history export)."""
    claims = [
        c
        for c in generate_claims(seed, HISTORY_OPEN, HISTORY_CLOSED)
        if c.status == "closed" or c.outcome
    ]
    return _claim_set(claims, seed)


def fresh(seed: int, n: int) -> ClaimSet:
    """``n`` new open claims of the same generator (another stream of the seed)."""
    stream = 1_000_003 + seed
    return _claim_set(generate_claims(stream, n, 0), stream)
