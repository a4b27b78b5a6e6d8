"""The sandbox's hidden truth about its claims, read from the portal's admin API.

For measuring only (the demo's and the loop's cost against the oracle): nothing that
decides may read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


def sandbox_claims(portal_url: str, secrets: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every claim of the portal with its truth (``GET /admin/claims``)."""
    response = httpx.get(
        f"{portal_url}/admin/claims",
        headers={"X-Admin-Token": secrets["RPAML_PORTAL_ADMIN_TOKEN"]},
        timeout=60,
    )
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()
    return rows


def probabilities(claims: list[dict[str, Any]]) -> dict[str, float]:
    """Each claim's true fraud probability (claim id -> probability)."""
    # The probability given the claim and its policy's data: the most any policy could know.
    return {
        row["claim_id"]: float(
            row.get("fraud_probability_given_policy") or row["fraud_probability"]
        )
        for row in claims
    }


def outcomes(claims: list[dict[str, Any]]) -> dict[str, int]:
    """Each claim's realised outcome (claim id -> 1 for a fraud, 0 for a legitimate claim)."""
    return {row["claim_id"]: int(row["is_fraud"]) for row in claims}


def sandbox_truth(portal_url: str, secrets: Mapping[str, str]) -> dict[str, float]:
    """Each sandbox claim's true fraud probability (claim id -> probability)."""
    return probabilities(sandbox_claims(portal_url, secrets))
