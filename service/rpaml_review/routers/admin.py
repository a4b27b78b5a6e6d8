"""Admin pages: ``GET /admin``, the audit trail and the latest decisions (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from rpaml_review.context import TEMPLATES
from rpaml_review.dependencies import AdminDep, ContextDep

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("")
def admin_page(request: Request, context: ContextDep, session: AdminDep) -> Response:
    """The queue's figures, the latest decisions and the latest audit rows."""
    name = context.process.name
    store = context.store
    return TEMPLATES.TemplateResponse(
        request,
        "admin.html",
        {
            "session": session,
            "flash": session.take_flash(),
            "process": name,
            "stats": store.review.stats(name),
            "decisions": store.review_decisions.decisions(name, limit=50),
            "audit": store.review_decisions.audit_trail(name, limit=200)[::-1],
        },
    )
