"""Fault switches: latency, transient 500s, session expiry and layout versions."""

from __future__ import annotations

import time

import httpx
import pytest
from portal_client import PortalUser, parse_html
from pydantic import ValidationError

from rpaml_sandbox.portal.switches import PortalSwitches, SwitchBoard, SwitchUpdate


def switch(admin: httpx.Client, **values: object) -> dict[str, object]:
    response = admin.put("/admin/switches", json=values)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_switches_are_off_by_default_and_change_at_run_time(admin: httpx.Client) -> None:
    current = admin.get("/admin/switches").json()
    assert current["latency_ms"] == 0 and current["error_rate"] == 0.0
    assert current["session_expiry_requests"] == 0 and current["layout"] == "classic"
    changed = switch(admin, latency_ms=20, layout="redesign")
    assert changed["latency_ms"] == 20 and changed["layout"] == "redesign"
    # A partial change keeps the others.
    assert switch(admin, error_rate=0.5)["layout"] == "redesign"


def test_switches_need_the_admin_token_and_valid_values(
    portal_url: str, admin: httpx.Client
) -> None:
    assert httpx.put(f"{portal_url}/admin/switches", json={}).status_code == 401
    bad = admin.put("/admin/switches", json={"error_rate": 2})
    assert bad.status_code == 422 and "error_rate" in bad.text
    unknown = admin.put("/admin/switches", json={"latencyms": 5})
    assert unknown.status_code == 422
    assert admin.put("/admin/switches", json={"layout": "v9"}).status_code == 422


def test_latency_delays_pages_but_not_the_admin_api(clerk: PortalUser, admin: httpx.Client) -> None:
    switch(admin, latency_ms=300)
    started = time.monotonic()
    assert clerk.http.get("/claims").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    admin.get("/admin/switches")
    assert time.monotonic() - started < 0.3


def test_transient_errors_are_seeded_and_never_more_than_the_limit_in_a_row(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    def statuses() -> list[int]:
        switch(admin, error_rate=0.5, max_consecutive_errors=2, fault_seed=42)
        return [clerk.http.get("/claims").status_code for _ in range(40)]

    first = statuses()
    assert set(first) == {200, 500}
    assert "500,500,500" not in ",".join(map(str, first))
    # Same seed, same faults: a failing run can be repeated.
    assert statuses() == first
    assert admin.get("/admin/switches").json()["faults_injected"] == first.count(500)
    page = clerk.http.get("/claims")
    while page.status_code != 500:
        page = clerk.http.get("/claims")
    assert parse_html(page.text).by_id("server-error") is not None


def test_a_faulted_post_does_its_work_but_loses_the_answer(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    claim_id = next(
        c["claim_id"]
        for c in admin.get("/admin/claims").json()
        if c["status"] == "open" and not c["hidden"]
    )
    form = clerk.confirm_form(claim_id, "approve")
    switch(admin, error_rate=1.0, max_consecutive_errors=1)
    assert clerk.confirm(claim_id, form).status_code == 500
    switch(admin, error_rate=0.0)
    actions = [a for a in admin.get("/admin/actions").json() if a["claim_id"] == claim_id]
    assert [a["action"] for a in actions] == ["approve"]


def test_sessions_expire_after_the_configured_number_of_pages(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    switch(admin, session_expiry_requests=3)
    assert [clerk.http.get("/claims").status_code for _ in range(3)] == [200, 200, 200]
    expired = clerk.http.get("/claims")
    assert expired.status_code == 303 and expired.headers["location"] == "/login"
    # Logging in again starts a new session with a new allowance.
    assert clerk.login().status_code == 303
    assert clerk.http.get("/claims").status_code == 200


def test_the_redesign_layout_changes_the_markup(clerk: PortalUser, admin: httpx.Client) -> None:
    classic = parse_html(clerk.http.get("/claims").text)
    assert classic.by_id("claims") is not None
    switch(admin, layout="redesign")
    redesigned = parse_html(clerk.http.get("/claims").text)
    assert redesigned.by_id("claims") is None and redesigned.by_id("claim-grid") is not None
    cards = redesigned.find_all("article", **{"data-ref": None})
    claim_id = cards[0].attrs["data-ref"]
    detail = parse_html(clerk.http.get(f"/claims/{claim_id}").text)
    assert detail.by_id("claim-details") is None and detail.by_id("claim-summary") is not None


def test_the_misaligned_layout_swaps_amount_and_incident_date(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    before = clerk.list_page()
    claim_id = before.claim_ids[0]
    fields, _ = clerk.detail(claim_id)
    switch(admin, layout="misaligned")
    after = clerk.list_page()
    assert after.headers == before.headers
    amount, incident = before.headers.index("Amount"), before.headers.index("Incident Date")
    row_before, row_after = before.cells[0], after.cells[after.claim_ids.index(claim_id)]
    assert row_after[amount] == row_before[incident]
    assert row_after[incident] == row_before[amount]
    shifted, _ = clerk.detail(claim_id)
    assert shifted["amount"] == fields["incident_date"]
    assert shifted["incident_date"] == fields["amount"]
    assert shifted["claimant_name"] == fields["claimant_name"]


def test_the_switch_board_rejects_bad_values() -> None:
    board = SwitchBoard(PortalSwitches())
    with pytest.raises(ValidationError):
        SwitchUpdate(error_rate=-0.1)
    assert board.update(SwitchUpdate(error_rate=1.0, max_consecutive_errors=3)).error_rate == 1.0
    assert [board.draw_fault() for _ in range(5)] == [True, True, True, False, True]
