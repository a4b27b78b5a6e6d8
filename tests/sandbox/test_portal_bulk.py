"""The bulk decision screen: one confirmation, one receipt per claim, never twice."""

from __future__ import annotations

import re

import httpx
from portal_client import PortalUser, parse_html


def open_claim_ids(admin: httpx.Client) -> list[str]:
    claims = admin.get("/admin/claims").json()
    return [c["claim_id"] for c in claims if c["status"] == "open" and not c["hidden"]]


def review(clerk: PortalUser, claim_ids: list[str], action: str) -> httpx.Response:
    return clerk.http.post(
        "/bulk/review", data={"claim_ids": "\n".join(claim_ids), "action": action}
    )


def confirm_form(page: httpx.Response) -> dict[str, list[str]]:
    form = parse_html(page.text).by_id("bulk-confirm-form")
    assert form is not None
    fields: dict[str, list[str]] = {}
    for field in form.find_all("input"):
        fields.setdefault(field.attrs["name"], []).append(field.attrs["value"])
    return fields


def rows(page: httpx.Response, table: str) -> dict[str, dict[str, str]]:
    node = parse_html(page.text).by_id(table)
    assert node is not None, page.text
    return {
        tr.attrs["data-claim-id"]: tr.attrs for tr in node.find_all("tr", **{"data-claim-id": None})
    }


def test_the_bulk_screen_needs_a_login(visitor: PortalUser) -> None:
    response = visitor.http.get("/bulk")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_bulk_approve_decides_every_open_claim_once(clerk: PortalUser, admin: httpx.Client) -> None:
    form = parse_html(clerk.http.get("/bulk").text)
    assert form.by_id("claim-ids") is not None and form.by_id("bulk-action") is not None
    chosen = open_claim_ids(admin)[:6]
    decided_by_hand = chosen[0]
    clerk.confirm(decided_by_hand, clerk.confirm_form(decided_by_hand, "reject"))

    page = review(clerk, [*chosen, "CLM-999999", chosen[1].lower()], "approve")
    assert page.status_code == 200
    states = {claim: attrs["data-state"] for claim, attrs in rows(page, "bulk-items").items()}
    assert states == {
        decided_by_hand: "decided",
        **dict.fromkeys(chosen[1:], "open"),
        "CLM-999999": "not_found",
    }
    # Reviewing decides nothing.
    assert [a["claim_id"] for a in admin.get("/admin/actions").json()] == [decided_by_hand]

    fields = confirm_form(page)
    receipts_page = clerk.http.post("/bulk/confirm", data=fields)
    assert receipts_page.status_code == 200
    receipts = rows(receipts_page, "bulk-receipts")
    assert set(receipts) == set(chosen[1:])
    for attrs in receipts.values():
        assert attrs["data-outcome"] == "applied" and attrs["data-decision"] == "approve"
        assert re.fullmatch(r"RCPT-[A-Z0-9]{8}", attrs["data-receipt"])
    actions = admin.get("/admin/actions").json()
    assert sorted(a["claim_id"] for a in actions) == sorted(chosen)
    assert {a["claim_id"]: a["receipt"] for a in actions if a["claim_id"] != decided_by_hand} == {
        claim: attrs["data-receipt"] for claim, attrs in receipts.items()
    }

    # The same confirmation sent again decides nothing twice.
    again = rows(clerk.http.post("/bulk/confirm", data=fields), "bulk-receipts")
    assert {attrs["data-outcome"] for attrs in again.values()} == {"already_decided"}
    assert len(admin.get("/admin/actions").json()) == len(chosen)
    # A new review shows them decided, with their receipts.
    reread = rows(review(clerk, chosen, "approve"), "bulk-items")
    assert {attrs["data-state"] for attrs in reread.values()} == {"decided"}
    assert reread[chosen[1]]["data-receipt"] == receipts[chosen[1]]["data-receipt"]


def test_bulk_review_refuses_an_empty_list_or_an_unknown_action(clerk: PortalUser) -> None:
    empty = review(clerk, [], "approve")
    assert empty.status_code == 422 and "Enter between 1 and" in empty.text
    assert review(clerk, ["CLM-000001"], "pay").status_code == 422
