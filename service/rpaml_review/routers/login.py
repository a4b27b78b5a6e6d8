"""The login session: ``GET/POST /login``, ``POST /logout``."""

from __future__ import annotations

import contextlib
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from rpaml_pipeline.errors import ReviewLeaseError
from rpaml_review.context import TEMPLATES
from rpaml_review.dependencies import ContextDep, CsrfDep
from rpaml_review.errors import RefusedError
from rpaml_review.sessions import COOKIE, LOGIN_COOKIE

logger = logging.getLogger(__name__)
router = APIRouter(tags=["session"])


@router.get("/login")
def login_page(request: Request, context: ContextDep) -> Response:
    """The login form, with its own CSRF token (double-submitted as a cookie)."""
    token = secrets.token_urlsafe(24)
    response = TEMPLATES.TemplateResponse(
        request, "login.html", {"csrf": token, "process": context.process.name}
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=context.settings.cookie_secure)  # fmt: skip
    return response


@router.post("/login")
async def login(
    request: Request,
    context: ContextDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Check the password against the account's hash; open a session."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not csrf or not expected or not secrets.compare_digest(csrf, expected):
        raise RefusedError(403, "the login form's CSRF token is missing or wrong: reload the page")
    # Argon2 is deliberately slow: verify off the event loop.
    account = await run_in_threadpool(context.accounts.verify, username.strip(), password)
    if account is None:
        logger.info("failed login for %r", username[:64])
        return TEMPLATES.TemplateResponse(
            request, "login.html",
            {"csrf": expected, "process": context.process.name,
             "error": "unknown name or wrong password"},
            status_code=401,
        )  # fmt: skip
    session = context.sessions.open(account)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, session.session_id, httponly=True, samesite="strict",
                        secure=context.settings.cookie_secure)  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(session: CsrfDep, context: ContextDep) -> Response:
    """End the session and give back the item it held."""
    held = context.store.review.held_by(context.process.name, session.reviewer)
    if held is not None and held.lease_token is not None:
        # A lease that expired meanwhile is already back in the queue.
        with contextlib.suppress(ReviewLeaseError):
            context.store.review.release(
                held.record_id, session.reviewer, held.lease_token, reason="logout"
            )
    context.sessions.close(session.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
