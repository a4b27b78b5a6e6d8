"""Deciding a claim: confirmation, receipt, once-only (409) and atomic under concurrency."""

from __future__ import annotations

import re
import threading

import httpx
from portal_client import TLS_CONTEXT, PortalUser, parse_html


def open_claim_ids(admin: httpx.Client) -> list[str]:
    claims = admin.get("/admin/claims").json()
    return [c["claim_id"] for c in claims if c["status"] == "open" and not c["hidden"]]


def test_approve_flow_shows_a_receipt_and_is_recorded(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    claim_id = open_claim_ids(admin)[0]
    confirmation = clerk.ask_decision(claim_id, "approve")
    assert confirmation.status_code == 200
    doc = parse_html(confirmation.text)
    assert f"Approve claim {claim_id}?" in doc.find_all("h1")[0].text()
    assert doc.by_id("confirm") is not None
    cancel = doc.by_id("cancel")
    assert cancel is not None and cancel.attrs["href"] == f"/claims/{claim_id}"
    form = {i.attrs["name"]: i.attrs["value"] for i in doc.find_all("input")}
    assert form["action"] == "approve" and len(form["token"]) >= 20
    # Asking is not deciding.
    assert clerk.detail(claim_id)[0]["status"] == "open"

    response = clerk.confirm(claim_id, form)
    assert response.status_code == 303
    assert response.headers["location"] == f"/claims/{claim_id}/receipt"
    receipt_page = parse_html(clerk.http.get(response.headers["location"]).text)
    decision, receipt = receipt_page.by_id("decision"), receipt_page.by_id("receipt")
    assert decision is not None and decision.text() == "approve"
    assert receipt is not None and re.fullmatch(r"RCPT-[A-Z0-9]{8}", receipt.text())

    actions = admin.get("/admin/actions").json()
    assert len(actions) == 1
    assert actions[0]["claim_id"] == claim_id
    assert actions[0]["action"] == "approve"
    assert actions[0]["receipt"] == receipt.text()
    assert actions[0]["user"] == "clerk"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", actions[0]["decided_at"])

    fields, doc = clerk.detail(claim_id)
    assert fields["status"] == "approved"
    assert (fields["decision"], fields["receipt"]) == ("approve", receipt.text())
    assert doc.by_id("decision-form") is None
    assert claim_id not in clerk.list_page(per_page=200).claim_ids
    assert claim_id in clerk.list_page(status="approved").claim_ids
    truth = {c["claim_id"]: c for c in admin.get("/admin/claims").json()}[claim_id]
    assert (truth["status"], truth["decision"], truth["receipt"]) == (
        "approved",
        "approve",
        receipt.text(),
    )


def test_each_action_sets_its_status(clerk: PortalUser, admin: httpx.Client) -> None:
    ids = open_claim_ids(admin)
    for claim_id, action, status in zip(
        ids[:3],
        ("approve", "escalate", "reject"),
        ("approved", "escalated", "rejected"),
        strict=True,
    ):
        assert clerk.confirm(claim_id, clerk.confirm_form(claim_id, action)).status_code == 303
        assert clerk.detail(claim_id)[0]["status"] == status
    receipts = [a["receipt"] for a in admin.get("/admin/actions").json()]
    assert len(receipts) == len(set(receipts)) == 3


def test_a_second_confirm_answers_409_and_changes_nothing(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    claim_id = open_claim_ids(admin)[0]
    approve = clerk.confirm_form(claim_id, "approve")
    reject = clerk.confirm_form(claim_id, "reject")
    assert clerk.confirm(claim_id, approve).status_code == 303
    before = admin.get("/admin/actions").json()

    for form in (reject, approve):
        response = clerk.confirm(claim_id, form)
        assert response.status_code == 409
        doc = parse_html(response.text)
        decision, receipt = doc.by_id("decision"), doc.by_id("receipt")
        assert decision is not None and decision.text() == "approve"
        assert receipt is not None and receipt.text() == before[0]["receipt"]
    # Asking again for a decided claim is refused the same way.
    assert clerk.ask_decision(claim_id, "escalate").status_code == 409
    assert admin.get("/admin/actions").json() == before
    assert clerk.detail(claim_id)[0]["status"] == "approved"


def test_concurrent_confirms_yield_exactly_one_action(
    portal_url: str, clerk: PortalUser, admin: httpx.Client
) -> None:
    claim_id = open_claim_ids(admin)[0]
    forms = [clerk.confirm_form(claim_id, a) for a in ("approve", "reject", "escalate") * 3]
    forms.append(forms[0])  # the same token twice, too
    cookies = dict(clerk.http.cookies)
    barrier = threading.Barrier(len(forms))
    statuses: list[int] = []
    lock = threading.Lock()

    def confirm(form: dict[str, str]) -> None:
        # One connection per thread, as separate browsers would have.
        with httpx.Client(
            base_url=portal_url, cookies=cookies, timeout=20, verify=TLS_CONTEXT
        ) as http:
            barrier.wait()
            response = http.post(f"/claims/{claim_id}/decision/confirm", data=form)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=confirm, args=(form,)) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [303] + [409] * (len(forms) - 1)
    actions = [a for a in admin.get("/admin/actions").json() if a["claim_id"] == claim_id]
    assert len(actions) == 1
    status = clerk.detail(claim_id)[0]["status"]
    assert (
        status
        == {"approve": "approved", "reject": "rejected", "escalate": "escalated"}[
            actions[0]["action"]
        ]
    )


def test_closed_claims_cannot_be_decided(clerk: PortalUser, admin: httpx.Client) -> None:
    closed = next(c for c in admin.get("/admin/claims").json() if c["status"] == "closed")
    claim_id = closed["claim_id"]
    response = clerk.ask_decision(claim_id, "approve")
    assert response.status_code == 409
    status = parse_html(response.text).by_id("status")
    assert status is not None and status.text() == "closed"
    forged = {"action": "approve", "token": "forged"}
    assert clerk.confirm(claim_id, forged).status_code == 409
    assert admin.get("/admin/actions").json() == []


def test_invalid_action_unknown_claim_and_bad_token(clerk: PortalUser, admin: httpx.Client) -> None:
    claim_id = open_claim_ids(admin)[0]
    for response in (
        clerk.ask_decision(claim_id, "delete"),
        clerk.ask_decision(claim_id, ""),
        clerk.confirm(claim_id, {"action": "pay", "token": "x"}),
    ):
        assert response.status_code == 422
        assert "approve, escalate, reject" in response.text
    assert clerk.ask_decision("CLM-000000", "approve").status_code == 404
    assert clerk.confirm("CLM-000000", {"action": "approve", "token": "x"}).status_code == 404

    form = clerk.confirm_form(claim_id, "approve")
    # A token is bound to its claim and action.
    assert clerk.confirm(claim_id, {**form, "action": "reject"}).status_code == 400
    other = open_claim_ids(admin)[1]
    assert clerk.confirm(other, form).status_code == 400
    assert clerk.confirm(claim_id, {**form, "token": "made-up"}).status_code == 400
    assert admin.get("/admin/actions").json() == []
    assert clerk.detail(claim_id)[0]["status"] == "open"
    # The rejected attempts did not burn the genuine token.
    assert clerk.confirm(claim_id, form).status_code == 303


def test_receipt_page_of_an_undecided_claim_is_404(clerk: PortalUser, admin: httpx.Client) -> None:
    claim_id = open_claim_ids(admin)[0]
    assert clerk.http.get(f"/claims/{claim_id}/receipt").status_code == 404
