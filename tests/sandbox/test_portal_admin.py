"""Admin JSON (token-guarded ground truth) and the unauthenticated health check."""

from __future__ import annotations

import httpx
from portal_client import CLOSED_CLAIMS, OPEN_CLAIMS, TLS_CONTEXT


def test_admin_endpoints_need_the_token(portal_url: str) -> None:
    for path in ("/admin/actions", "/admin/claims"):
        for headers in ({}, {"X-Admin-Token": ""}, {"X-Admin-Token": "wrong-token"}):
            response = httpx.get(portal_url + path, headers=headers, verify=TLS_CONTEXT)
            assert response.status_code == 401, (path, headers)
            assert response.json() == {"detail": "missing or invalid X-Admin-Token header"}


def test_admin_claims_hold_the_ground_truth(admin: httpx.Client) -> None:
    claims = admin.get("/admin/claims").json()
    assert len(claims) == OPEN_CLAIMS + CLOSED_CLAIMS
    for claim in claims:
        assert 0.0 < claim["fraud_probability"] < 1.0
        assert isinstance(claim["is_fraud"], bool)
        assert claim["policy_number"].startswith("POL-")
        assert claim["channel"] in ("web", "phone", "agent", "email")
        assert claim["decision"] is None and claim["receipt"] is None
        if claim["status"] == "closed":
            assert claim["outcome"] == ("Fraud confirmed" if claim["is_fraud"] else "Paid")
    assert admin.get("/admin/actions").json() == []


def test_healthz_needs_no_login(portal_url: str) -> None:
    response = httpx.get(portal_url + "/healthz", verify=TLS_CONTEXT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
