"""Administration: reload promoted champions now, and Prometheus metrics (admin scope).

``/metrics`` needs the admin scope like the reload: the series name every model,
version and decision count, which is operational detail for operators, not for the
scoring clients that hold score-only keys. Prometheus sends the key with the scrape
job's ``http_headers`` option, read from a file so it stays out of the configuration::

    scrape_configs:
      - job_name: rpaml-service
        static_configs: [{targets: ["service:8000"]}]
        http_headers:
          X-API-Key: {files: [/etc/prometheus/rpaml-service-key]}
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rpaml_service.dependencies import MetricsDep, ModelStoreDep, require_admin_scope
from rpaml_service.schemas import ErrorMessage, ReloadResponse

_AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorMessage, "description": "Missing or unknown API key."},
    403: {"model": ErrorMessage, "description": "The key lacks the admin scope."},
}

router = APIRouter(
    tags=["administration"],
    dependencies=[Depends(require_admin_scope)],
    responses=_AUTH_RESPONSES,
)


@router.post("/v1/admin/reload", summary="Serve the registry's current champions now")
async def reload_models(store: ModelStoreDep, metrics: MetricsDep) -> ReloadResponse:
    """Load newly promoted champions and swap them in atomically.

    The service also does this by itself every ``reload_interval`` seconds; requests
    in flight finish on the version they started with.
    """
    served = await run_in_threadpool(store.reload)
    metrics.publish_served(store.models)
    return ReloadResponse(models=served, failures=dict(store.failures))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def prometheus_metrics(metrics: MetricsDep) -> Response:
    """Requests and latency per model and version, batch sizes, decisions, failures."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
