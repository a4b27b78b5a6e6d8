"""The queue page: ``GET /``, what waits, how long, and what a review of each is worth."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from rpaml_review.context import TEMPLATES
from rpaml_review.dependencies import ContextDep, SessionDep

router = APIRouter(tags=["queue"])


@router.get("/")
def queue_page(request: Request, context: ContextDep, session: SessionDep) -> Response:
    """The first items in the queue's order, with their age; past-SLA items stand out."""
    store = context.store
    name = context.process.name
    now = store.now()
    items = store.review.listing(name, limit=context.settings.queue_page_size)
    return TEMPLATES.TemplateResponse(
        request,
        "queue.html",
        {
            "session": session,
            "flash": session.take_flash(),
            "process": name,
            "stats": store.review.stats(name),
            "sla_hours": context.review.sla_hours,
            "rows": [
                {
                    "item": item,
                    "age": _age(item.age_seconds(now)),
                    "past_sla": item.past_sla(now),
                    "leased": item.lease_expires_at is not None and item.lease_expires_at >= now,
                }
                for item in items
            ],
        },
    )


@router.get("/queue")
def queue_alias() -> Response:
    """``/queue`` is the queue page too."""
    return RedirectResponse("/", status_code=303)


def _age(seconds: float) -> str:
    """``3 d 4 h``, ``5 h 12 min``, ``7 min``: how long an item has waited."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
