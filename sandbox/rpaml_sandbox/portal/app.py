"""The portal's application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from rpaml_sandbox.portal.admin import build_admin_router
from rpaml_sandbox.portal.auth import LoginRequiredError, current_user
from rpaml_sandbox.portal.clock import BusinessClock
from rpaml_sandbox.portal.database import PortalDatabase
from rpaml_sandbox.portal.pages import PageError, build_pages_router
from rpaml_sandbox.portal.settings import PortalSettings
from rpaml_sandbox.portal.switches import SwitchBoard, fault_middleware

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
SESSION_COOKIE: Final = "portal_session"
_JSON_PREFIXES: Final = ("/admin", "/healthz")


def create_app(settings: PortalSettings) -> FastAPI:
    """Build the claims portal for ``settings``.

    The database is generated here on first start (deterministic for the seed) and kept
    afterwards, so the app is ready to serve as soon as this returns.
    """
    database = PortalDatabase(settings.db_path)
    database.ensure_ready(
        seed=settings.seed,
        open_claims=settings.open_claims,
        closed_claims=settings.closed_claims,
        late_arrivals=settings.late_arrivals,
    )
    templates = Jinja2Templates(directory=TEMPLATES_DIR)

    # No OpenAPI pages: this is an HTML back office, and robots should not discover the
    # admin endpoints by browsing.
    app = FastAPI(title="Claims portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.database = database
    board = SwitchBoard(settings.initial_switches())
    app.state.switches = board
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        same_site="lax",
        max_age=8 * 60 * 60,  # one working day
    )
    # Added after the sessions, so it runs outside them: a lost answer loses its cookie too.
    app.middleware("http")(fault_middleware(board))
    app.include_router(build_pages_router(database, settings, templates, board))
    clock = BusinessClock(
        database, daily_claims=settings.daily_claims, fraud_ring_from=settings.fraud_ring_from
    )
    app.state.clock = clock
    app.include_router(build_admin_router(database, settings, board, clock))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness for process supervisors; no login needed."""
        return {"status": "ok"}

    def error_page(request: Request, status_code: int, title: str, message: str) -> Response:
        context = {"title": title, "message": message, "user": current_user(request)}
        return templates.TemplateResponse(request, "error.html", context, status_code=status_code)

    @app.exception_handler(LoginRequiredError)
    def login_required(request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(PageError)
    def page_error(request: Request, exc: PageError) -> Response:
        return error_page(request, exc.status_code, exc.title, exc.message)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(_JSON_PREFIXES):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        title = "Page not found" if exc.status_code == 404 else "Request failed"
        return error_page(request, exc.status_code, title, str(exc.detail))

    return app
