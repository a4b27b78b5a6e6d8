"""The portal's HTML pages: login, claims list and detail, decisions, reports and export."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from rpaml_sandbox.portal.auth import (
    SESSION_ID_KEY,
    SESSION_USER_KEY,
    credentials_match,
    current_user,
    require_user,
)
from rpaml_sandbox.portal.bulk import MAX_BULK_CLAIMS, confirm_bulk, parse_claim_ids, review_bulk
from rpaml_sandbox.portal.database import (
    ACTIONS,
    STATUS_FILTERS,
    ClaimDetail,
    ClaimFilters,
    ClaimNotFoundError,
    DecisionConflictError,
    InvalidTokenError,
    PortalDatabase,
)
from rpaml_sandbox.portal.export import XLSX_MEDIA_TYPE, closed_claims_workbook
from rpaml_sandbox.portal.generator import CATEGORIES, CHANNELS
from rpaml_sandbox.portal.settings import PortalSettings
from rpaml_sandbox.portal.switches import SwitchBoard

DEFAULT_PER_PAGE: Final = 50
MAX_PER_PAGE: Final = 200

# (data-field, label) in the order the detail page lists them.
DETAIL_FIELDS: Final = (
    ("claim_id", "Claim ID"),
    ("policy_number", "Policy No."),
    ("claimant_name", "Claimant"),
    ("claimant_age", "Claimant age"),
    ("amount", "Amount"),
    ("incident_date", "Incident date"),
    ("reported_date", "Reported date"),
    ("policy_start_date", "Policy start"),
    ("channel", "Channel"),
    ("category", "Category"),
    ("region", "Region"),
    ("prior_claims", "Prior claims"),
    ("police_report", "Police report"),
    ("description", "Description"),
)
ACTION_VERBS: Final = {"approve": "Approve", "escalate": "Escalate", "reject": "Reject"}
#: The "misaligned" layout shows these fields' values in each other's place.
MISALIGNED_FIELDS: Final = {"amount": "incident_date", "incident_date": "amount"}

User = Annotated[str, Depends(require_user)]


class PageError(Exception):
    """An error answered with the portal's HTML error page."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message


def build_pages_router(
    database: PortalDatabase,
    settings: PortalSettings,
    templates: Jinja2Templates,
    board: SwitchBoard,
) -> APIRouter:
    """All HTML routes; every page but /login needs a logged-in session."""
    router = APIRouter(default_response_class=HTMLResponse)

    def render(
        request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        context.setdefault("user", current_user(request))
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def render_claim_page(request: Request, name: str, context: dict[str, Any]) -> Response:
        # The list and detail pages follow the layout switch; the rest stays as it is.
        layout = board.current.layout
        if layout == "redesign":
            name = f"redesign/{name}"
        swapped = MISALIGNED_FIELDS if layout == "misaligned" else {}
        context["shown_as"] = {name: swapped.get(name, name) for name, _ in DETAIL_FIELDS}
        return render(request, name, context)

    def visible_claim(claim_id: str) -> ClaimDetail:
        claim = database.get_claim(claim_id)
        if claim is None:
            raise PageError(404, "Claim not found", f"There is no claim {claim_id}.")
        return claim

    @router.get("/")
    def home(user: User) -> Response:
        """The start page is the claims list."""
        return RedirectResponse("/claims", status_code=303)

    @router.get("/login")
    def login_form(request: Request) -> Response:
        """The login form."""
        return render(request, "login.html", {"error": None, "username": ""})

    @router.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        """Start a session and go to the claims list, or show the form again with an error."""
        if not credentials_match(settings, username, password):
            context = {"error": "Invalid username or password.", "username": username}
            return render(request, "login.html", context, status_code=401)
        request.session.clear()
        request.session[SESSION_USER_KEY] = settings.username
        request.session[SESSION_ID_KEY] = secrets.token_urlsafe(16)
        return RedirectResponse("/claims", status_code=303)

    @router.api_route("/logout", methods=["GET", "POST"])
    def logout(request: Request) -> Response:
        """End the session."""
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @router.get("/claims")
    def claims_list(request: Request, user: User) -> Response:
        """The claims list, newest first, filtered and paged."""
        filters, page, per_page = parse_list_query(request.query_params)
        if page >= 2:
            # New claims keep arriving while someone pages through the list, so a claim
            # moves down one row and shows up on two consecutive pages.
            database.reveal_late_arrival()
        result = database.list_claims(filters, page=page, per_page=per_page)
        # Paging links carry the filters, so "next" stays inside the same result set.
        base: dict[str, str | int] = {"status": filters.status, "per_page": per_page}
        chosen = {"q": filters.q, "category": filters.category, "channel": filters.channel}
        base.update({name: value for name, value in chosen.items() if value})
        next_url = prev_url = None
        if page < result.pages:
            next_url = "/claims?" + urlencode({**base, "page": page + 1})
        if page > 1:
            prev_url = "/claims?" + urlencode({**base, "page": min(page - 1, result.pages)})
        context = {
            "result": result,
            "filters": filters,
            "next_url": next_url,
            "prev_url": prev_url,
            "statuses": list(STATUS_FILTERS),
            "categories": CATEGORIES,
            "channels": CHANNELS,
        }
        return render_claim_page(request, "claims.html", context)

    @router.get("/claims/{claim_id}")
    def claim_detail(request: Request, claim_id: str, user: User) -> Response:
        """One claim's details, its decision when decided, and the decision form when open."""
        claim = visible_claim(claim_id)
        context = {"claim": claim, "fields": DETAIL_FIELDS, "verbs": ACTION_VERBS}
        return render_claim_page(request, "claim_detail.html", context)

    @router.post("/claims/{claim_id}/decision")
    def decision(
        request: Request, claim_id: str, user: User, action: Annotated[str, Form()] = ""
    ) -> Response:
        """Ask for confirmation of a decision, with a one-time token."""
        claim = visible_claim(claim_id)
        checked = checked_action(action)
        if claim.status != "open":
            return render_conflict(request, claim.claim_id, claim.status, claim)
        token = database.create_decision_token(claim.claim_id, checked, user)
        context = {"claim": claim, "action": checked, "verb": ACTION_VERBS[checked], "token": token}
        return render(request, "confirm.html", context)

    @router.post("/claims/{claim_id}/decision/confirm")
    def confirm(
        request: Request,
        claim_id: str,
        user: User,
        action: Annotated[str, Form()] = "",
        token: Annotated[str, Form()] = "",
    ) -> Response:
        """Record the decision and go to its receipt; 409 when the claim is not open."""
        checked = checked_action(action)
        try:
            database.confirm_decision(claim_id, checked, token, user)
        except ClaimNotFoundError:
            raise PageError(404, "Claim not found", f"There is no claim {claim_id}.") from None
        except DecisionConflictError as conflict:
            return render_conflict(request, claim_id, conflict.status, database.get_claim(claim_id))
        except InvalidTokenError:
            raise PageError(
                400,
                "Confirmation expired",
                "This confirmation is no longer valid (already used or expired). "
                "Open the claim and take the decision again.",
            ) from None
        return RedirectResponse(f"/claims/{claim_id}/receipt", status_code=303)

    @router.get("/claims/{claim_id}/receipt")
    def receipt(request: Request, claim_id: str, user: User) -> Response:
        """The decision taken on a claim and its receipt number."""
        claim = visible_claim(claim_id)
        if claim.action is None:
            raise PageError(404, "No decision", f"No decision has been recorded for {claim_id}.")
        context = {"claim": claim, "verb": ACTION_VERBS[claim.action.action]}
        return render(request, "receipt.html", context)

    @router.get("/bulk")
    def bulk_form(request: Request, user: User) -> Response:
        """The bulk decision screen: paste claim ids, choose one decision."""
        context = {"verbs": ACTION_VERBS, "error": None, "claim_ids": "", "limit": MAX_BULK_CLAIMS}
        return render(request, "bulk.html", context)

    @router.post("/bulk/review")
    def bulk_review(
        request: Request,
        user: User,
        claim_ids: Annotated[str, Form()] = "",
        action: Annotated[str, Form()] = "",
    ) -> Response:
        """List each chosen claim with its state; open ones get a one-time token."""
        checked = checked_action(action)
        wanted = parse_claim_ids(claim_ids)
        if not wanted or len(wanted) > MAX_BULK_CLAIMS:
            error = f"Enter between 1 and {MAX_BULK_CLAIMS} claim ids (got {len(wanted)})."
            context = {
                "verbs": ACTION_VERBS,
                "error": error,
                "claim_ids": claim_ids,
                "limit": MAX_BULK_CLAIMS,
            }
            return render(request, "bulk.html", context, status_code=422)
        items = review_bulk(database, wanted, checked, user)
        context = {"items": items, "action": checked, "verb": ACTION_VERBS[checked]}
        return render(request, "bulk_confirm.html", context)

    @router.post("/bulk/confirm")
    def bulk_confirm(
        request: Request,
        user: User,
        action: Annotated[str, Form()] = "",
        item: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        """Decide every listed open claim and show one receipt per claim."""
        checked = checked_action(action)
        tokens: dict[str, str] = {}
        for value in item or []:
            claim_id, _, token = value.partition(" ")
            if claim_id and token:
                tokens[claim_id] = token
        receipts = confirm_bulk(database, tokens, checked, user)
        context = {"receipts": receipts, "verb": ACTION_VERBS[checked]}
        return render(request, "bulk_receipts.html", context)

    @router.get("/reports")
    def reports(request: Request, user: User, closed_since: date | None = None) -> Response:
        """Reports: claim counts by status, the business date and the closed-claims export
        (all of it, or the claims closed since a date)."""
        export = "/export/closed-claims.xlsx"
        if closed_since is not None:
            export += "?" + urlencode({"closed_since": closed_since.isoformat()})
        context = {
            "counts": database.status_counts(),
            "export_href": export,
            "closed_since": closed_since,
            "business_date": database.business_date(),
        }
        return render(request, "reports.html", context)

    @router.get("/export/closed-claims.xlsx")
    def export_closed(user: User, closed_since: date | None = None) -> Response:
        """The closed claims (history) as an Excel workbook, optionally only those closed
        on or after ``closed_since`` (YYYY-MM-DD)."""
        content = closed_claims_workbook(database.closed_claims(closed_since))
        headers = {"Content-Disposition": 'attachment; filename="closed-claims.xlsx"'}
        return Response(content=content, media_type=XLSX_MEDIA_TYPE, headers=headers)

    def render_conflict(
        request: Request, claim_id: str, status: str, claim: ClaimDetail | None
    ) -> Response:
        context = {"claim_id": claim_id, "status": status, "claim": claim, "verbs": ACTION_VERBS}
        return render(request, "conflict.html", context, status_code=409)

    return router


def checked_action(action: str) -> str:
    """Return a valid decision action or raise a 422 PageError naming the allowed ones."""
    if action not in ACTIONS:
        raise PageError(
            422,
            "Invalid action",
            f"Unknown action {action!r}; expected one of: {', '.join(ACTIONS)}.",
        )
    return action


def parse_list_query(params: Mapping[str, str]) -> tuple[ClaimFilters, int, int]:
    """Read the list's query parameters; raise a 422 PageError naming a bad one.

    ``per_page`` above the maximum is clamped to it, so a robot asking for more gets the
    most the portal serves (and ``data-pages`` tells it how many pages that makes).
    """
    status = params.get("status", "").strip().lower() or "open"
    if status not in STATUS_FILTERS:
        raise PageError(
            422,
            "Invalid filter",
            f"status must be one of: {', '.join(STATUS_FILTERS)} (got {status!r}).",
        )
    category = _choice(params, "category", CATEGORIES)
    channel = _choice(params, "channel", CHANNELS)
    page = _positive_int(params, "page", 1)
    per_page = min(_positive_int(params, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    filters = ClaimFilters(
        status=status, q=params.get("q", "").strip(), category=category, channel=channel
    )
    return filters, page, per_page


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = params.get(name, "").strip().lower()
    if value and value not in allowed:
        raise PageError(
            422,
            "Invalid filter",
            f"{name} must be one of: {', '.join(allowed)} (got {value!r}).",
        )
    return value


def _positive_int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise PageError(
            422, "Invalid parameter", f"{name} must be a whole number of at least 1 (got {raw!r})."
        )
    return value
