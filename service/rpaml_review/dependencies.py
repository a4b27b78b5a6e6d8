"""FastAPI dependencies of the review app, as ``Annotated`` aliases.

Every page but the login needs a live session (:data:`SessionDep`); admin pages need an
admin (:data:`AdminDep`); every form needs its session's CSRF token (:data:`CsrfDep`).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Form, Request

from rpaml_review.context import ReviewContext
from rpaml_review.errors import RefusedError
from rpaml_review.sessions import COOKIE, Session


class LoginRequiredError(Exception):
    """No live session: the app sends the browser to the login page."""


def get_context(request: Request) -> ReviewContext:
    """The app's context (each app its own, so tests never share one)."""
    context: ReviewContext = request.app.state.review
    return context


ContextDep = Annotated[ReviewContext, Depends(get_context)]


def get_session(request: Request, context: ContextDep) -> Session:
    """The live session named by the cookie."""
    session = context.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise LoginRequiredError
    return session


SessionDep = Annotated[Session, Depends(get_session)]


def get_admin(session: SessionDep) -> Session:
    """The session, when its reviewer is an admin."""
    if not session.is_admin:
        raise RefusedError(403, "this page is for admins: your account is a reviewer's")
    return session


AdminDep = Annotated[Session, Depends(get_admin)]


def check_csrf(session: SessionDep, csrf: Annotated[str, Form()] = "") -> Session:
    """The session, when the form carried its CSRF token."""
    if not csrf:
        raise RefusedError(403, "the form carried no CSRF token: nothing was changed")
    if not secrets.compare_digest(csrf, session.csrf):
        raise RefusedError(
            403, "the form's CSRF token is not this session's (an old or forged form): "
            "nothing was changed",
        )  # fmt: skip
    return session


CsrfDep = Annotated[Session, Depends(check_csrf)]
