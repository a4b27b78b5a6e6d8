"""The API's documentation: ``/openapi.json``, ``/docs`` (Swagger UI), ``/redoc``.

FastAPI serves these to anyone by default; here they need a known key of any scope,
like every route but the health probes. Not open, because the document is the map of
every operation and body, and carries an example body per served model, i.e. each
model's feature names (see :mod:`rpaml_service.openapi`), which the ``score`` scope
guards at ``/v1/models/{name}``; and whoever has a use for it (a client generator,
schemathesis, a developer) holds a key anyway. Any scope, not one in particular,
because an operator's admin-only key and a client's score-only key both need to know
what the routes expect.

The pages fetch ``/openapi.json`` from the browser, so open ``/docs`` through
something that adds the ``X-API-Key`` header to every request to the service (a
browser extension, an operator's proxy). The OAuth2 redirect page FastAPI would add
is not served: no route uses OAuth2.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from rpaml_service.dependencies import require_any_key

OPENAPI_PATH = "/openapi.json"

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_any_key)])


def _root_path(request: Request) -> str:
    """The prefix a proxy serves the app under (``--root-path``), or ''."""
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get(OPENAPI_PATH)
async def openapi_document(request: Request) -> JSONResponse:
    """The OpenAPI document, with the models served now as examples."""
    document: dict[str, Any] = request.app.openapi()
    root_path = _root_path(request)
    if root_path:  # as FastAPI does: calls from /docs must go through the proxy prefix
        document["servers"] = [{"url": root_path}]
    return JSONResponse(document)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the OpenAPI document."""
    return get_swagger_ui_html(
        openapi_url=_root_path(request) + OPENAPI_PATH,
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=None,
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the OpenAPI document."""
    return get_redoc_html(
        openapi_url=_root_path(request) + OPENAPI_PATH, title=f"{request.app.title} - ReDoc"
    )
