"""The review app's factory and lifespan."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from rpaml_pipeline.errors import ReviewError, ReviewItemNotFoundError
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import Store
from rpaml_review.accounts import AccountBook
from rpaml_review.context import TEMPLATES, ReviewContext
from rpaml_review.dependencies import LoginRequiredError
from rpaml_review.errors import ConfigurationError, RefusedError
from rpaml_review.routers import admin, items, login, queue
from rpaml_review.sessions import SessionStore
from rpaml_review.settings import ReviewSettings

logger = logging.getLogger(__name__)

# The pages are the app's own: nothing is loaded from elsewhere, nothing may frame them.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the run the app's decisions belong to; finish it at shutdown (a crashed app
    leaves it open, and the owners' sweep closes it as for any dead owner)."""
    context: ReviewContext = app.state.review
    context.run_id = await run_in_threadpool(
        context.store.start_run, context.process.name, "review_app", None, None,
        {"accounts": context.accounts.names()},
    )  # fmt: skip
    try:
        yield
    finally:
        stats = await run_in_threadpool(context.store.review.stats, context.process.name)
        await run_in_threadpool(
            context.store.finish_run, context.run_id, "succeeded",
            {"open": stats.open, "decided_today": stats.decided_today},
        )  # fmt: skip


def create_app(
    settings: ReviewSettings, store: Store, process: ProcessDefinition, *, portal_url: str
) -> FastAPI:
    """Build the review app over ``store`` for ``process``.

    Raises
    ------
    ConfigurationError
        If the process has no ``review:`` section, or no account is configured.
    """
    if process.review is None:
        raise ConfigurationError(
            f"process {process.name!r} has no review section: add 'review:' to its process "
            "file (action, sla_hours, choices) to send its escalations to people"
        )
    accounts = AccountBook.load(settings.accounts, settings.accounts_file)
    # Sessions age by the store's clock: one notion of time for leases and sessions.
    sessions = SessionStore(
        idle=dt.timedelta(minutes=settings.session_idle_minutes),
        lifetime=dt.timedelta(hours=settings.session_max_hours),
        clock=store.now,
    )
    app = FastAPI(
        title="rpaml review", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    app.state.review = ReviewContext(settings, store, process, accounts, sessions, portal_url)
    logger.info("review app for %s, accounts: %s", process.name, accounts.names())
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    for router in (login.router, queue.router, items.router, admin.router):
        app.include_router(router)
    _install_handlers(app)
    return app


def _install_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        # Pages hold leases and tokens: never cached. The script and style sheet are the
        # same for every page, so the browser keeps them (an hour) between items.
        static = request.url.path.startswith("/static/")
        response.headers.setdefault("Cache-Control", "max-age=3600" if static else "no-store")
        return response

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, _: LoginRequiredError) -> Response:
        if request.method == "GET":
            return RedirectResponse("/login", status_code=303)
        return _message(request, 401, "your session has ended: log in again (nothing was changed)")

    @app.exception_handler(RefusedError)
    async def refused(request: Request, exc: RefusedError) -> Response:
        return _message(request, exc.status, exc.message)

    @app.exception_handler(ReviewError)
    async def queue_refused(request: Request, exc: ReviewError) -> Response:
        status = 404 if isinstance(exc, ReviewItemNotFoundError) else 409
        return _message(request, status, f"{exc} (nothing was changed)")


def _message(request: Request, status: int, message: str) -> Response:
    return TEMPLATES.TemplateResponse(
        request, "message.html", {"message": message, "status": status}, status_code=status
    )
