"""The ground truth behind the portal, for measuring decisions (``/admin/claims``)."""

from __future__ import annotations

from typing import Any

from rpaml_sandbox.portal.database import PortalDatabase
from rpaml_sandbox.portal.schema import CLEAN_COLUMNS, DISPLAY_FIELDS, claim_of


def admin_claims(database: PortalDatabase) -> list[dict[str, Any]]:
    """Every claim, hidden ones included, with clean values, the fraud ground truth (the
    claim's own probability and, given its policy too, the Bayes posterior), its decision
    and, once decided, when its outcome comes back."""
    # Imported here: the desktop's policies import the portal's generator, whose package
    # imports this module's.
    from rpaml_sandbox.desktop.policies import fraud_probability_given_policy

    with database.connect() as conn:
        seed_row = conn.execute("SELECT value FROM portal_meta WHERE key = 'seed'").fetchone()
        rows = conn.execute(
            "SELECT c.rowid AS row_order, c.*, a.action AS decision, a.receipt, a.decided_at, "
            "a.user AS decided_by, "
            "z.close_on, z.outcome AS coming_outcome "
            "FROM claims c LEFT JOIN actions a ON a.claim_id = c.claim_id "
            "LEFT JOIN closures z ON z.claim_id = c.claim_id "
            "ORDER BY c.arrival_seq IS NULL, c.arrival_seq DESC, c.late_rank"
        ).fetchall()
    seed = None if seed_row is None else int(seed_row[0])
    # A policy's record is drawn with its first claim (in generation order, which is the
    # insertion order): it tells nothing more about any later claim on the same policy.
    owners: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: int(r["row_order"])):
        owners.setdefault(row["policy_number"], row["claim_id"])
    claims: list[dict[str, Any]] = []
    for row in rows:
        values = dict(row)
        item: dict[str, Any] = {name: values[name] for name in CLEAN_COLUMNS}
        item["is_fraud"] = bool(values["is_fraud"])
        posterior = None
        if seed is not None:
            claim = claim_of(row)
            owner = owners[claim.policy_number] == claim.claim_id
            posterior = (
                fraud_probability_given_policy(claim, seed) if owner else claim.fraud_probability
            )
        item["fraud_probability_given_policy"] = posterior
        item["hidden"] = values["arrival_seq"] is None
        item["display"] = {name: values[f"{name}_display"] for name in DISPLAY_FIELDS}
        for name in ("decision", "receipt", "decided_at", "decided_by", "close_on"):
            item[name] = values[name]
        item["outcome_to_come"] = values["coming_outcome"]
        claims.append(item)
    return claims
