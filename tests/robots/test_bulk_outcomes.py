"""How the bulk screen's rows become results: receipts, business and application errors."""

from __future__ import annotations

import pytest

from rpaml_robots.errors import ApplicationError
from rpaml_robots.portal import _bulk_outcome


def test_a_receipt_is_applied_or_already_decided() -> None:
    row = {"decision": "approve", "receipt": "RCPT-ABCDEFGH"}
    assert _bulk_outcome("CLM-000001", "applied", row)["outcome"] == "applied"
    for state in ("decided", "already_decided"):
        result = _bulk_outcome("CLM-000001", state, row)
        assert result == {
            "outcome": "already_decided",
            "receipt": "RCPT-ABCDEFGH",
            "decision": "approve",
            "error": "",
        }


@pytest.mark.parametrize(
    ("state", "reason"),
    [("not_found", "does not exist"), ("closed", "cannot be decided"), ("not_open", "closed")],
)
def test_a_bad_claim_is_a_business_failure(state: str, reason: str) -> None:
    result = _bulk_outcome("CLM-000002", state, {})
    assert result["outcome"] == "failed" and result["failure_kind"] == "business"
    assert reason in result["error"] and "CLM-000002" in result["error"]


def test_anything_else_is_an_application_error() -> None:
    with pytest.raises(ApplicationError, match="'expired' for claim CLM-000003"):
        _bulk_outcome("CLM-000003", "expired", {})
    # "applied" without a receipt is not a receipt.
    with pytest.raises(ApplicationError):
        _bulk_outcome("CLM-000003", "applied", {"receipt": ""})
