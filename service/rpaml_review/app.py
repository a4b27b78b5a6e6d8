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
from rpaml_pipeline.lineage.openlineage import Dataset, OpenLineageEmitter, rpaml_run_facet
from rpaml_pipeline.process import ProcessDefinition, process_hash
from rpaml_pipeline.sources.remote import masked
from rpaml_pipeline.store import Store
from rpaml_pipeline.store.states import RecordState
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
    leaves it open, and the owners' sweep closes it as for any dead owner). The run emits
    OpenLineage START and COMPLETE like every stage: it reads the records waiting for
    review and writes the decided ones (as many as its reviewers decided)."""
    context: ReviewContext = app.state.review
    context.run_id = await run_in_threadpool(
        context.store.start_run, context.process.name, "review_app", None, None,
        {"accounts": context.accounts.names()},
    )  # fmt: skip
    await run_in_threadpool(_emit, context, "START")
    try:
        yield
    finally:
        stats = await run_in_threadpool(context.store.review.stats, context.process.name)
        await run_in_threadpool(
            context.store.finish_run, context.run_id, "succeeded",
            {"open": stats.open, "decided_today": stats.decided_today},
        )  # fmt: skip
        await run_in_threadpool(_emit, context, "COMPLETE")


def _emit(context: ReviewContext, event_type: str) -> None:
    """The app's run event: START, or COMPLETE with the count of its decisions."""
    if context.emitter is None:
        return
    process = context.process
    where = masked(context.store.url)
    facets = {"rpaml": rpaml_run_facet(process=process.name,
                                       process_file_hash=process_hash(process))}  # fmt: skip
    waiting = Dataset(where, f"{process.name}.records.{RecordState.REVIEW.value}")
    outputs: list[Dataset] = []
    if event_type == "COMPLETE":
        decisions = context.store.review_decisions.decisions(process.name)
        decided = sum(1 for d in decisions if d.run_id == context.run_id)
        outputs.append(
            Dataset(where, f"{process.name}.records.{RecordState.DECIDED.value}", decided)
        )
    context.emitter.emit(
        event_type, context.run_id, f"{process.name}.review_app",
        inputs=[waiting], outputs=outputs, run_facets=facets,
    )  # fmt: skip


def create_app(
    settings: ReviewSettings,
    store: Store,
    process: ProcessDefinition,
    *,
    portal_url: str,
    emitter: OpenLineageEmitter | None = None,
) -> FastAPI:
    """Build the review app over ``store`` for ``process`` (its run's lineage to
    ``emitter``).

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
    app.state.review = ReviewContext(
        settings, store, process, accounts, sessions, portal_url, emitter
    )
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
