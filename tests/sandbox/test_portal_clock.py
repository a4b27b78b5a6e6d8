"""The portal's business clock: new claims each day, outcomes after realistic delays, the
fraud ring switch, the admin endpoints and the policy system kept in step."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest
from portal_client import PortalUser
from pydantic import SecretStr

from rpaml_sandbox.desktop.__main__ import main as desktop_main
from rpaml_sandbox.desktop.policies import load_policies
from rpaml_sandbox.portal import PortalSettings, create_app
from rpaml_sandbox.portal.generator import REFERENCE_DATE
from rpaml_sandbox.portal.outcomes import closure_for
from rpaml_sandbox.portal.truth import admin_claims


def _decide(clerk: PortalUser, claim_id: str, action: str) -> None:
    form = clerk.confirm_form(claim_id, action)
    assert clerk.confirm(claim_id, form).status_code in (200, 303)


def test_each_day_brings_the_same_new_claims_for_the_same_seed(
    tmp_path: Path, portal_settings: PortalSettings
) -> None:
    first = create_app(portal_settings.model_copy(update={"daily_claims": 25}))
    second = create_app(
        portal_settings.model_copy(update={"db_path": tmp_path / "again.db", "daily_claims": 25})
    )
    days = first.state.clock.advance(3)
    assert [(d.day, d.arrived) for d in days] == [
        (REFERENCE_DATE + timedelta(days=n), 25) for n in (1, 2, 3)
    ]
    second.state.clock.advance(3)
    assert first.state.clock.state().business_date == REFERENCE_DATE + timedelta(days=3)

    def arrivals(app_claims: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return sorted(
            (c["claim_id"], c["reported_date"], c["amount"], c["is_fraud"])
            for c in app_claims
            if str(c["reported_date"]) > REFERENCE_DATE.isoformat()
        )

    new = arrivals(admin_claims(first.state.database))
    assert len(new) == 75 and len({c[0] for c in new}) == 75
    assert new == arrivals(admin_claims(second.state.database))
    assert {c[1] for c in new} == {
        (REFERENCE_DATE + timedelta(days=n)).isoformat() for n in (1, 2, 3)
    }


def test_decided_claims_close_with_their_outcome_after_the_rules_delays(
    portal_settings: PortalSettings, clerk: PortalUser, admin: httpx.Client
) -> None:
    truth = {c["claim_id"]: c for c in admin.get("/admin/claims").json()}
    open_ids = [c for c, v in truth.items() if v["status"] == "open" and not v["hidden"]]
    actions = {c: ("escalate", "approve", "reject")[n % 3] for n, c in enumerate(open_ids)}
    for claim_id, action in actions.items():
        _decide(clerk, claim_id, action)
    before = admin.get("/admin/clock").json()
    assert before["business_date"] == REFERENCE_DATE.isoformat()

    answer = admin.post("/admin/clock/advance", json={"days": 31})
    assert answer.status_code == 200
    assert answer.json()["business_date"] == (REFERENCE_DATE + timedelta(days=31)).isoformat()
    after = {c["claim_id"]: c for c in admin.get("/admin/claims").json()}
    closed_here = 0
    for claim_id, action in actions.items():
        claim = after[claim_id]
        expected = closure_for(
            7, claim_id, action, is_fraud=claim["is_fraud"], decided_on=REFERENCE_DATE
        )
        if expected is None:
            # Only a rejected claim may never come back, and a legitimate one only sometimes.
            assert action == "reject" and claim["status"] == "rejected"
            continue
        closed_here += 1
        delay = (date.fromisoformat(claim["closed_date"]) - REFERENCE_DATE).days
        assert claim["status"] == "closed"
        assert claim["closed_date"] == expected.close_on.isoformat()
        assert claim["outcome"] == expected.outcome
        if action == "escalate":
            assert 3 <= delay <= 10
            assert claim["outcome"] == ("Fraud confirmed" if claim["is_fraud"] else "Paid")
        elif action == "approve":
            assert claim["outcome"] == "Paid" or claim["is_fraud"]
            assert delay <= 30
        else:
            assert not claim["is_fraud"] and claim["outcome"] == "Paid" and delay <= 14
    assert closed_here >= len(actions) // 2

    # The incremental export shows them, with their closing date as the portal displays it.
    since = (REFERENCE_DATE + timedelta(days=1)).isoformat()
    export = clerk.http.get("/export/closed-claims.xlsx", params={"closed_since": since})
    sheet = openpyxl.load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    exported = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert exported == {c for c in actions if after[c]["status"] == "closed"}


def test_outcome_rates_follow_the_documented_rules() -> None:
    day = date(2026, 4, 1)
    ids = [f"CLM-{n:06d}" for n in range(100_000, 104_000)]
    found = [closure_for(3, i, "approve", is_fraud=True, decided_on=day) for i in ids]
    discovered = [c for c in found if c is not None and c.outcome == "Fraud confirmed"]
    assert 0.56 < len(discovered) / len(ids) < 0.64
    assert all(1 <= (c.close_on - day).days <= 30 for c in discovered)
    # The frauds never discovered come back as "Paid", as in real life.
    assert all(c is not None for c in found)
    overturned = [closure_for(3, i, "reject", is_fraud=False, decided_on=day) for i in ids]
    share = sum(c is not None for c in overturned) / len(ids)
    assert 0.26 < share < 0.34
    assert all(closure_for(3, i, "reject", is_fraud=True, decided_on=day) is None for i in ids)
    with pytest.raises(ValueError, match="unknown action"):
        closure_for(3, ids[0], "ignore", is_fraud=False, decided_on=day)


def test_the_fraud_ring_changes_the_new_claims_from_its_first_day(
    portal_settings: PortalSettings,
) -> None:
    ring_day = REFERENCE_DATE + timedelta(days=3)
    app = create_app(
        portal_settings.model_copy(update={"daily_claims": 400, "fraud_ring_from": ring_day})
    )
    days = app.state.clock.advance(4)
    assert [d.fraud_ring for d in days] == [False, False, True, True]
    claims = admin_claims(app.state.database)

    def profile(day: date) -> tuple[float, float]:
        of_day = [c for c in claims if c["reported_date"] == day.isoformat()]
        ring = [
            c
            for c in of_day
            if (c["channel"], c["region"], c["police_report"]) == ("phone", "east", "yes")
        ]
        return len(ring) / len(of_day), sum(c["is_fraud"] for c in of_day) / len(of_day)

    ring_share_before, fraud_before = profile(ring_day - timedelta(days=1))
    ring_share_after, fraud_after = profile(ring_day)
    assert ring_share_before < 0.08 < 0.22 < ring_share_after
    assert fraud_after > fraud_before + 0.05


def test_clock_admin_endpoints(admin: httpx.Client, clerk: PortalUser) -> None:
    assert admin.get("/admin/clock").json() == {
        "business_date": REFERENCE_DATE.isoformat(),
        "daily_claims": 40,
        "fraud_ring_from": None,
    }
    changed = admin.put("/admin/clock", json={"daily_claims": 5, "fraud_ring_from": "2026-04-10"})
    assert changed.json()["daily_claims"] == 5
    assert changed.json()["fraud_ring_from"] == "2026-04-10"
    for body in ({"days": 0}, {"days": 400}, {"weeks": 1}):
        assert admin.post("/admin/clock/advance", json=body).status_code == 422
    moved = admin.post("/admin/clock/advance", json={"days": 2}).json()
    assert moved["business_date"] == "2026-04-02"
    assert [d["arrived"] for d in moved["days"]] == [5, 5]
    # The reports page shows the new business date (the history robot's watermark).
    page = clerk.http.get("/reports")
    assert '<span id="business-date">2026-04-02</span>' in page.text
    cleared = admin.put("/admin/clock", json={"clear_fraud_ring": True}).json()
    assert cleared["fraud_ring_from"] is None
    assert httpx.get(str(admin.base_url) + "/admin/clock").status_code == 401


def test_the_policy_system_syncs_with_the_new_claims(
    tmp_path: Path, portal_settings: PortalSettings
) -> None:
    app = create_app(portal_settings.model_copy(update={"daily_claims": 30}))
    app.state.clock.advance(2)
    out = tmp_path / "policies.json"
    assert (
        desktop_main(["sync", "--out", str(out), "--portal-db", str(portal_settings.db_path)]) == 0
    )
    policies = load_policies(out)
    claims = admin_claims(app.state.database)
    assert {c["policy_number"] for c in claims} <= set(policies)
    # Same as the first-start generation for the claims both know.
    generated = tmp_path / "generated.json"
    assert (
        desktop_main(
            [
                *("generate", "--out", str(generated), "--seed", "7"),
                *("--open-claims", str(portal_settings.open_claims)),
                *("--closed-claims", str(portal_settings.closed_claims)),
                *("--late-arrivals", str(portal_settings.late_arrivals)),
            ]
        )
        == 0
    )
    for number, policy in load_policies(generated).items():
        assert policies[number] == policy
    missing = desktop_main(["sync", "--out", str(out), "--portal-db", str(tmp_path / "no.db")])
    assert missing == 2


def test_settings_refuse_a_negative_daily_count(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="daily_claims"):
        PortalSettings(
            db_path=tmp_path / "p.db",
            daily_claims=-1,
            password=SecretStr("p"),
            admin_token=SecretStr("t"),
            session_secret=SecretStr("s"),
        )
