"""The portal's pages over a real server: login, list, filters, paging, detail, export."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import openpyxl
from portal_client import (
    CLOSED_CLAIMS,
    LATE_ARRIVALS,
    OPEN_CLAIMS,
    PASSWORD,
    PortalUser,
    parse_html,
)

from rpaml_sandbox.portal import PortalSettings, create_app
from rpaml_sandbox.portal.database import ClaimFilters
from rpaml_sandbox.portal.truth import admin_claims

LIST_HEADERS = [
    "Claim ID",
    "Policy No.",
    "Claimant",
    "Amount",
    "Incident Date",
    "Channel",
    "Category",
    "Status",
]
DETAIL_FIELDS = [
    "claim_id",
    "policy_number",
    "claimant_name",
    "claimant_age",
    "amount",
    "incident_date",
    "reported_date",
    "policy_start_date",
    "channel",
    "category",
    "region",
    "prior_claims",
    "police_report",
    "description",
    "status",
]
EXPORT_COLUMNS = [
    "Claim ID",
    "Policy No.",
    "Claimant",
    "Claimant Age",
    "Amount",
    "Incident Date",
    "Reported Date",
    "Policy Start",
    "Channel",
    "Category",
    "Region",
    "Prior Claims",
    "Police Report",
    "Description",
    "Closed Date",
    "Outcome",
]
VISIBLE_OPEN = OPEN_CLAIMS - LATE_ARRIVALS


PROTECTED_PATHS = (
    "/",
    "/claims",
    "/claims?status=all",
    "/claims/CLM-000000",
    "/claims/CLM-000000/receipt",
    "/reports",
    "/export/closed-claims.xlsx",
)


def test_pages_redirect_to_login_without_a_session(visitor: PortalUser) -> None:
    for path in PROTECTED_PATHS:
        response = visitor.http.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login", path


def test_posting_a_decision_without_a_session_redirects_to_login(visitor: PortalUser) -> None:
    response = visitor.http.post("/claims/CLM-000000/decision", data={"action": "approve"})
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_login_form_has_the_contract_ids(visitor: PortalUser) -> None:
    doc = parse_html(visitor.http.get("/login").text)
    for element_id in ("login-form", "username", "password", "login-button"):
        assert doc.by_id(element_id) is not None, element_id


def test_wrong_password_re_renders_the_form_with_an_error(visitor: PortalUser) -> None:
    response = visitor.login(password="wrong")
    assert response.status_code == 401
    doc = parse_html(response.text)
    errors = doc.find_all("div", **{"class": "error"})
    assert errors and "Invalid" in errors[0].text()
    assert doc.by_id("login-form") is not None
    assert visitor.http.get("/claims").status_code == 303
    assert visitor.login(username="admin").status_code == 401


def test_login_then_logout(visitor: PortalUser) -> None:
    response = visitor.login()
    assert (response.status_code, response.headers["location"]) == (303, "/claims")
    page = parse_html(visitor.http.get("/claims").text)
    for element_id in ("nav-claims", "nav-reports", "logout"):
        assert page.by_id(element_id) is not None
    assert visitor.http.get("/logout").headers["location"] == "/login"
    assert visitor.http.get("/claims").status_code == 303


def test_list_shows_open_claims_newest_first_with_contract_columns(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    page = clerk.list_page()
    assert page.headers == LIST_HEADERS
    assert (page.page, page.pages) == (1, 1)
    assert len(page.claim_ids) == VISIBLE_OPEN
    assert all(cells[7] == "open" for cells in page.cells)
    assert all(
        cells[0] == claim_id for cells, claim_id in zip(page.cells, page.claim_ids, strict=True)
    )
    truth = {c["claim_id"]: c for c in admin.get("/admin/claims").json()}
    seqs = [truth[claim_id]["arrival_seq"] for claim_id in page.claim_ids]
    assert seqs == sorted(seqs, reverse=True)
    for claim_id, cells in zip(page.claim_ids, page.cells, strict=True):
        display = truth[claim_id]["display"]
        assert cells[1:7] == [
            display["policy_number"],
            display["claimant_name"],
            display["amount"],
            display["incident_date"],
            display["channel"],
            display["category"],
        ]
    # The first cell links to the detail page.
    doc = parse_html(clerk.http.get("/claims").text)
    first_row = doc.find_all("tr", **{"data-claim-id": page.claim_ids[0]})[0]
    assert first_row.find_all("a")[0].attrs["href"] == f"/claims/{page.claim_ids[0]}"


def test_paging_through_closed_claims_visits_each_once(clerk: PortalUser) -> None:
    seen: list[str] = []
    page = clerk.list_page(status="closed", per_page=30)
    assert page.pages == -(-CLOSED_CLAIMS // 30)
    assert page.prev_href is None
    while True:
        seen.extend(page.claim_ids)
        if page.next_href is None:
            break
        query = parse_qs(urlsplit(page.next_href).query)
        assert query["status"] == ["closed"] and query["per_page"] == ["30"]
        page = clerk.list_page(page.next_href)
        assert page.prev_href is not None
    assert page.page == page.pages
    assert len(seen) == len(set(seen)) == CLOSED_CLAIMS


def test_status_filters(clerk: PortalUser) -> None:
    everything = clerk.list_page(status="all", per_page=200)
    assert everything.pages == 2  # 35 visible open + 200 closed
    statuses = {cells[7] for cells in everything.cells}
    assert statuses == {"open", "closed"}
    assert clerk.list_page(status="CLOSED", per_page=200).pages == 1


def test_filters_by_category_channel_and_search(clerk: PortalUser, admin: httpx.Client) -> None:
    travel = clerk.list_page(status="all", category="travel", per_page=200)
    assert travel.claim_ids
    assert all(cells[6].strip().lower() == "travel" for cells in travel.cells)
    web_home = clerk.list_page(status="all", category="home", channel=" Web ", per_page=200)
    assert web_home.claim_ids
    assert all(c[5].strip().lower() == "web" and c[6].strip().lower() == "home"
               for c in web_home.cells)  # fmt: skip

    claims = [c for c in admin.get("/admin/claims").json() if not c["hidden"]]
    target = claims[10]
    by_id = clerk.list_page(status="all", q=target["claim_id"][-4:].lower())
    assert target["claim_id"] in by_id.claim_ids
    surname = target["claimant_name"].split()[-1]
    by_name = clerk.list_page(status="all", q=surname.upper(), per_page=200)
    expected = {c["claim_id"] for c in claims if surname.lower() in c["claimant_name"].lower()}
    assert set(by_name.claim_ids) == expected
    assert clerk.list_page(status="all", q="100%_").claim_ids == []


def test_next_link_keeps_the_filters(clerk: PortalUser) -> None:
    page = clerk.list_page(status="all", category="auto", q="CLM", per_page=10)
    assert page.next_href is not None
    query = parse_qs(urlsplit(page.next_href).query)
    assert query == {
        "status": ["all"],
        "category": ["auto"],
        "q": ["CLM"],
        "per_page": ["10"],
        "page": ["2"],
    }


def test_per_page_is_capped_and_bad_parameters_are_rejected(clerk: PortalUser) -> None:
    capped = clerk.list_page(status="closed", per_page=500)
    assert len(capped.claim_ids) == 200 and capped.pages == 1
    for params in (
        {"per_page": "0"},
        {"per_page": "-5"},
        {"per_page": "many"},
        {"page": "0"},
        {"page": "x"},
        {"status": "pending"},
        {"category": "boats"},
        {"channel": "fax"},
    ):
        response = clerk.http.get("/claims", params=params)
        assert response.status_code == 422, params
        name = next(iter(params))
        assert name in parse_html(response.text).find_all("div", **{"class": "error"})[0].text()


def test_a_page_past_the_end_is_empty(clerk: PortalUser) -> None:
    page = clerk.list_page(status="closed", per_page=100, page=9)
    assert page.claim_ids == [] and page.next_href is None
    assert (page.page, page.pages) == (9, 2)


def test_late_arrivals_shift_a_row_onto_the_next_page(
    clerk: PortalUser, admin: httpx.Client, portal_settings: PortalSettings
) -> None:
    first = clerk.list_page(per_page=10)
    assert len(first.claim_ids) == 10 and first.next_href is not None
    second = clerk.list_page(first.next_href)
    # A new claim arrived at the top while we paged: the last row of page 1 moved down.
    assert second.claim_ids[0] == first.claim_ids[-1]
    third = clerk.list_page(second.next_href or "")
    assert third.claim_ids[0] == second.claim_ids[-1]

    refreshed = clerk.list_page(per_page=10)
    arrived = refreshed.claim_ids[:2]
    assert not set(arrived) & set(first.claim_ids + second.claim_ids)
    assert refreshed.claim_ids[2:] == first.claim_ids[:8]
    hidden = {c["claim_id"] for c in admin.get("/admin/claims").json() if c["hidden"]}
    assert len(hidden) == LATE_ARRIVALS - 2 and not hidden & set(arrived)

    # The revealed state is kept in the database: a restarted portal shows the same list.
    restarted = create_app(portal_settings)
    rows = restarted.state.database.list_claims(ClaimFilters(), page=1, per_page=10).rows
    assert [row.claim_id for row in rows] == refreshed.claim_ids


def test_late_arrivals_stop_when_none_is_left(clerk: PortalUser) -> None:
    for _ in range(LATE_ARRIVALS + 3):
        clerk.list_page(page=2, per_page=5)
    assert len(clerk.list_page(per_page=200).claim_ids) == OPEN_CLAIMS


def test_detail_page_shows_every_field(clerk: PortalUser, admin: httpx.Client) -> None:
    claims = [c for c in admin.get("/admin/claims").json() if not c["hidden"]]
    missing_report = next(c for c in claims if c["police_report"] is None)
    for claim in (claims[0], missing_report):
        fields, _ = clerk.detail(claim["claim_id"])
        assert list(fields)[: len(DETAIL_FIELDS)] == DETAIL_FIELDS
        for name in DETAIL_FIELDS[1:-1]:
            assert fields[name] == claim["display"][name], name
        assert fields["claim_id"] == claim["claim_id"]
        assert fields["status"] == claim["status"]
    fields, _ = clerk.detail(missing_report["claim_id"])
    assert fields["police_report"] == ""


def test_open_claim_has_the_decision_form_and_closed_claim_has_not(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    claims = [c for c in admin.get("/admin/claims").json() if not c["hidden"]]
    open_claim = next(c for c in claims if c["status"] == "open")
    _, doc = clerk.detail(open_claim["claim_id"])
    form = doc.by_id("decision-form")
    assert form is not None
    buttons = {b.attrs["id"]: (b.attrs["name"], b.attrs["value"]) for b in form.find_all("button")}
    assert buttons == {
        "approve": ("action", "approve"),
        "escalate": ("action", "escalate"),
        "reject": ("action", "reject"),
    }
    closed = next(c for c in claims if c["status"] == "closed")
    fields, doc = clerk.detail(closed["claim_id"])
    assert doc.by_id("decision-form") is None
    assert fields["status"] == "closed"
    assert fields["outcome"] == ("Fraud confirmed" if closed["is_fraud"] else "Paid")
    assert "decision" not in fields and "receipt" not in fields


def test_unknown_and_not_yet_arrived_claims_are_404_pages(
    clerk: PortalUser, admin: httpx.Client
) -> None:
    hidden = next(c for c in admin.get("/admin/claims").json() if c["hidden"])
    for claim_id in ("CLM-000000", hidden["claim_id"]):
        response = clerk.http.get(f"/claims/{claim_id}")
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]
        assert claim_id in response.text


def test_export_has_one_row_per_closed_claim(clerk: PortalUser, admin: httpx.Client) -> None:
    reports = parse_html(clerk.http.get("/reports").text)
    link = reports.by_id("export-closed")
    assert link is not None and link.attrs["href"] == "/export/closed-claims.xlsx"
    response = clerk.http.get(link.attrs["href"])
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert "closed-claims.xlsx" in response.headers["content-disposition"]

    workbook = openpyxl.load_workbook(BytesIO(response.content), read_only=True)
    assert workbook.sheetnames == ["Closed claims"]
    rows = list(workbook["Closed claims"].iter_rows(values_only=True))
    assert list(rows[0]) == EXPORT_COLUMNS
    body = rows[1:]
    assert len(body) == CLOSED_CLAIMS
    truth = {c["claim_id"]: c for c in admin.get("/admin/claims").json()}
    assert {row[0] for row in body} == {k for k, c in truth.items() if c["status"] == "closed"}
    for row in body:
        claim = truth[row[0]]
        record = dict(zip(EXPORT_COLUMNS, row, strict=True))
        assert record["Outcome"] == ("Fraud confirmed" if claim["is_fraud"] else "Paid")
        assert record["Amount"] == claim["display"]["amount"]
        assert record["Claimant Age"] == claim["claimant_age"]
        assert record["Closed Date"] == claim["display"]["closed_date"]
        assert (record["Police Report"] is None) == (claim["police_report"] is None)
    assert {row[-1] for row in body} == {"Fraud confirmed", "Paid"}
    assert any(not re.fullmatch(r"\d+\.\d{2}", row[4]) for row in body)


def test_database_is_generated_once_and_kept(portal_settings: PortalSettings) -> None:
    create_app(portal_settings)
    db_path = Path(portal_settings.db_path)
    first = db_path.stat().st_size
    again = create_app(portal_settings.model_copy(update={"seed": 99}))
    claims = admin_claims(again.state.database)
    assert len(claims) == OPEN_CLAIMS + CLOSED_CLAIMS
    assert db_path.stat().st_size == first
    assert PASSWORD not in db_path.read_bytes().decode("latin-1")


def test_export_of_the_claims_closed_since_a_date(clerk: PortalUser, admin: httpx.Client) -> None:
    closed = [c for c in admin.get("/admin/claims").json() if c["status"] == "closed"]
    dates = sorted(str(c["closed_date"]) for c in closed)
    since = dates[len(dates) // 2]  # a date some claims closed on: the day itself is included
    reports = parse_html(clerk.http.get("/reports", params={"closed_since": since}).text)
    link = reports.by_id("export-closed")
    assert (
        link is not None
        and link.attrs["href"] == f"/export/closed-claims.xlsx?closed_since={since}"
    )
    business_date = reports.by_id("business-date")
    assert business_date is not None and business_date.text() == "2026-03-31"
    response = clerk.http.get(link.attrs["href"])
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(BytesIO(response.content), read_only=True)
    body = list(workbook["Closed claims"].iter_rows(values_only=True))[1:]
    expected = {c["claim_id"] for c in closed if str(c["closed_date"]) >= since}
    assert {row[0] for row in body} == expected and 0 < len(expected) < len(closed)
    # A date that is no date is refused, naming the parameter.
    refused = clerk.http.get("/export/closed-claims.xlsx", params={"closed_since": "31/03/2026"})
    assert refused.status_code == 422 and "closed_since" in refused.text
