"""Items: lease the next one, show it, decide it or skip it.

``POST /items/next`` leases the first free item and sends the browser to it;
``GET /items/{id}`` shows an item its reviewer holds; ``POST /items/{id}/decision`` stores a
decision and goes on to the next item; ``POST /items/{id}/skip`` gives the item back and
goes on. Every form carries the session's CSRF token, the lease token of the item it was
shown with, and (decisions) the hash of what was shown.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from rpaml_pipeline.errors import ReviewDecidedError, ReviewLeaseError
from rpaml_pipeline.store.review_decisions import ReviewVerdict
from rpaml_review.context import TEMPLATES, ReviewContext
from rpaml_review.dependencies import ContextDep, CsrfDep, SessionDep
from rpaml_review.errors import RefusedError
from rpaml_review.item_view import item_view
from rpaml_review.sessions import Session

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/items", tags=["items"])
_RECORD_ID = r"^[0-9a-f]{32}$"

LeaseForm = Annotated[str, Form()]


@router.post("/next")
def next_item(session: CsrfDep, context: ContextDep) -> Response:
    """Lease the next item (the one already held first) and show it."""
    return _go_next(context, session)


@router.get("/{record_id}")
def item_page(
    request: Request, record_id: str, session: SessionDep, context: ContextDep
) -> Response:
    """An item its reviewer holds."""
    item = context.store.review.item(_checked_id(record_id))
    now = context.store.now()
    if item.status != "open":
        raise ReviewDecidedError(f"{item.natural_key} was already decided")
    if not item.leased_to(session.reviewer, now):
        raise ReviewLeaseError(
            f"{item.natural_key} is not leased to you (its lease expired or is another "
            "reviewer's): take the next item"
        )
    view = item_view(context.store, context.process, item, context.portal_url)
    return TEMPLATES.TemplateResponse(
        request,
        "item.html",
        {
            "session": session,
            "flash": session.take_flash(),
            "view": view,
            "review": context.review,
            "now": now,
            "past_sla": item.past_sla(now),
            "waited_hours": item.age_seconds(now) / 3600,
            "lease_left": int(((item.lease_expires_at or now) - now).total_seconds() // 60),
        },
    )


@router.post("/{record_id}/decision")
def decide(
    record_id: str,
    session: CsrfDep,
    context: ContextDep,
    lease: LeaseForm = "",
    shown: Annotated[str, Form()] = "",
    choice: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Store the reviewer's decision, then show the next item."""
    review = context.review
    picked = review.choices.get(choice)
    if picked is None:
        raise RefusedError(422, f"unknown choice {choice[:40]!r}: expected one of "
                           f"{', '.join(review.choices)}")  # fmt: skip
    if not lease or not shown:
        raise RefusedError(400, "the form lacks its lease or what it showed: reload the item")
    item = context.store.review.item(_checked_id(record_id))
    # The facts must still be the ones shown (checked again under the lease by the store).
    if item.status == "open" and item.leased_to(session.reviewer, context.store.now()):
        current = item_view(context.store, context.process, item, context.portal_url)
        if current.shown_hash != shown:
            raise RefusedError(409, f"{item.natural_key} is not what this form showed: "
                               "reload the item")  # fmt: skip
    outcomes = context.process.policy.outcomes or {}
    verdict = ReviewVerdict(
        choice=choice,
        action=picked.action,
        outcome=picked.outcome,
        label=int(outcomes[picked.outcome]),
        shown_hash=shown,
        note=note.strip() or None,
        simulated=session.reviewer in context.settings.simulated_reviewers,
    )
    context.store.review_decisions.decide(record_id, session.reviewer, lease, verdict,
                                          run_id=context.run_id)  # fmt: skip
    session.flash = f"{item.natural_key}: {choice} — saved; the robot will {picked.action} it"
    return _go_next(context, session)


@router.post("/{record_id}/skip")
def skip(record_id: str, session: CsrfDep, context: ContextDep, lease: LeaseForm = "") -> Response:
    """Give the item back to the queue and show the next one."""
    item = context.store.review.item(_checked_id(record_id))
    context.store.review.release(record_id, session.reviewer, lease, reason="skipped")
    session.skip(record_id)
    session.flash = f"{item.natural_key} skipped: it is back in the queue"
    return _go_next(context, session)


def _go_next(context: ReviewContext, session: Session) -> Response:
    item = context.store.review.lease_next(
        context.process.name, session.reviewer,
        lease_seconds=context.review.lease_seconds, exclude=session.skipped,
    )  # fmt: skip
    if item is None:
        session.flash = (session.flash + ". " if session.flash else "") + "The queue is empty."
        return RedirectResponse("/", status_code=303)
    return RedirectResponse(f"/items/{item.record_id}", status_code=303)


def _checked_id(record_id: str) -> str:
    if not re.match(_RECORD_ID, record_id):
        raise RefusedError(404, f"{record_id[:40]!r} is not a record id")
    return record_id
