"""The FastAPI application factory of the scoring service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from rpaml_service.model_store import ModelStore
from rpaml_service.routers import health, models, scoring
from rpaml_service.settings import ServiceSettings, get_settings

API_DESCRIPTION = """\
Scores records with versioned scikit-learn models from the rpaml model registry and
decides an action (approve / escalate / reject) with the policy registered alongside.
Every result names the model version and policy version that produced it.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the models before the first request; release them at shutdown."""
    store: ModelStore = app.state.model_store
    # Unpickling and hashing artifacts is blocking work; a thread keeps the event loop
    # free (e.g. for other apps sharing it) while it runs.
    await run_in_threadpool(store.load)
    try:
        yield
    finally:
        store.clear()


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the scoring service.

    Parameters
    ----------
    settings : ServiceSettings, optional
        The service's settings; read from ``RPAML_SERVICE_*`` environment variables
        (:func:`~rpaml_service.settings.get_settings`) when omitted.

    Returns
    -------
    FastAPI
        The app; models are loaded by its lifespan, so it is ready to score only once
        the server (or ``TestClient`` used as a context manager) has started it.
    """
    resolved = settings if settings is not None else get_settings()
    app = FastAPI(
        title="rpaml scoring service",
        version="1",
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = resolved
    app.state.model_store = ModelStore(resolved.registry_dir, resolved.models)

    async def provide_settings() -> ServiceSettings:
        return resolved

    # Routes depend on get_settings (FastAPI's documented pattern); each app answers it
    # with its own settings, so two apps in one process (tests) never share them. The
    # provider is async so FastAPI does not send it to the thread pool.
    app.dependency_overrides[get_settings] = provide_settings

    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(scoring.router)
    return app
