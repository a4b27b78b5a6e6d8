"""The FastAPI application factory of the scoring service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from rpaml_service.auth import key_ring
from rpaml_service.batching import MicroBatcher
from rpaml_service.fast_path import ScoringFastPath
from rpaml_service.metrics import ServiceMetrics
from rpaml_service.middleware import RequestContextMiddleware
from rpaml_service.model_store import ModelStore
from rpaml_service.openapi import install_openapi
from rpaml_service.routers import admin, docs, health, models, scoring
from rpaml_service.settings import ServiceSettings, get_settings

logger = logging.getLogger(__name__)

API_DESCRIPTION = """\
Scores records with versioned scikit-learn models from the rpaml model registry and
decides an action (approve / escalate / reject) with the policy registered alongside.
Every result names the model version and policy version that produced it. Models are
served through a parity-checked ONNX path when registration verified it, otherwise by
scikit-learn; concurrent requests are scored together (micro-batching).

Every result carries the policy's reason for its decision. The model's reasons (the
features that raised the score most) are added only when the request sets
`"explain": true`: they cost up to one extra prediction per feature and row, so the
default is off. The pipeline's scoring stage asks for them and stores them.

Every route but the health probes needs an API key in the `X-API-Key` header: scope
`score` for models and scoring, `admin` for reloading and metrics; any key reads this
document. A missing or unknown key gets 401, a key without the route's scope 403.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the models, start the batcher and the champion watcher; stop them at shutdown."""
    store: ModelStore = app.state.model_store
    settings: ServiceSettings = app.state.settings
    metrics: ServiceMetrics = app.state.metrics
    batcher: MicroBatcher = app.state.batcher
    # Unpickling and hashing artifacts is blocking work; a thread keeps the event loop
    # free (e.g. for other apps sharing it) while it runs.
    await run_in_threadpool(store.load)
    metrics.publish_served(store.models)
    batcher.start()
    watcher = (
        asyncio.get_running_loop().create_task(_watch_champions(app, settings.reload_interval))
        if settings.reload_interval > 0
        else None
    )
    try:
        yield
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await batcher.close()
        store.clear()


async def _watch_champions(app: FastAPI, interval: float) -> None:
    """Reload when a served model's champion changes in the registry."""
    store: ModelStore = app.state.model_store
    metrics: ServiceMetrics = app.state.metrics
    while True:
        await asyncio.sleep(interval)
        try:
            if await run_in_threadpool(store.stale):
                await run_in_threadpool(store.reload)
                metrics.publish_served(store.models)
        except Exception:  # the watcher must survive a bad registry state
            logger.exception("checking the registry for new champions failed")


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

    Raises
    ------
    ConfigurationError
        If no API key is configured, or a key entry or the keys file is malformed.
    """
    resolved = settings if settings is not None else get_settings()
    # Checked first: a service without keys must not come up, not even half-built.
    keys = key_ring(resolved)
    app = FastAPI(
        title="rpaml scoring service",
        version="1",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own documentation routes would be open to anyone; routers.docs
        # serves them behind a key.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    metrics = ServiceMetrics()
    app.state.settings = resolved
    app.state.metrics = metrics
    app.state.keys = keys
    app.state.model_store = ModelStore(
        resolved.registry_dir,
        resolved.models,
        on_failure=lambda name: metrics.load_failures.labels(name).inc(),
    )
    app.state.batcher = MicroBatcher(
        max_rows=resolved.batch_max_rows,
        wait=resolved.batch_wait_ms / 1000.0,
        on_batch=metrics.observe_batch,
    )
    logger.info("accepting %d API key(s): %s", len(keys), sorted(keys.names()))

    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(scoring.router)
    app.include_router(admin.router)
    app.include_router(docs.router)
    # Added first so it runs inside the request-context middleware (ids, body limit).
    app.add_middleware(ScoringFastPath, state=app.state)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=resolved.max_body_bytes)
    install_openapi(app, app.state.model_store)
    return app
