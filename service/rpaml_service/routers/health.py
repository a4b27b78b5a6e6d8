"""``/v1/health``: liveness, readiness and the state of every model.

The only routes that need no API key: load balancers, orchestrators and container
health checks probe them without credentials. Without a key they say only whether the
service is alive and ready; the models (names, versions, runtimes, load errors that may
name files) are listed for a caller with a known key of any scope, since they describe
the deployment to whoever asks.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from rpaml_service.dependencies import ModelStoreDep, OptionalKeyDep
from rpaml_service.model_store import ModelStore
from rpaml_service.schemas import FailedModelHealth, HealthResponse, ServedModelHealth

router = APIRouter(prefix="/v1/health", tags=["health"])


def _health(store: ModelStore, caller: str | None) -> HealthResponse:
    if caller is None:
        return HealthResponse(status="ok", ready=store.ready, models=None)
    models: dict[str, ServedModelHealth | FailedModelHealth] = {
        name: ServedModelHealth(
            version=model.version,
            policy_version=model.policy.version,
            runtime=model.runtime,
            runtime_reason=model.runtime_reason,
            challenger=None if shadow is None else shadow.version,
            challenger_error=store.challenger_failures.get(name),
        )
        for name, model in store.models.items()
        for shadow in [store.challenger(name)]
    }
    models.update((name, FailedModelHealth(error=error)) for name, error in store.failures.items())
    return HealthResponse(status="ok", ready=store.ready, models=dict(sorted(models.items())))


@router.get("", summary="Service health and loaded models")
async def health(store: ModelStoreDep, caller: OptionalKeyDep) -> HealthResponse:
    """Always 200 while the process answers; ``ready`` says whether it can score.

    With an API key: every model, and a model that failed to load (tampered artifact,
    library mismatch, no champion) with its error (it is not served). Without one,
    ``models`` is null.
    """
    return _health(store, caller)


@router.get(
    "/ready",
    summary="Readiness probe",
    responses={503: {"model": HealthResponse, "description": "Not ready to score yet."}},
)
async def ready(store: ModelStoreDep, caller: OptionalKeyDep, response: Response) -> HealthResponse:
    """The same body as ``/v1/health``, with status 503 until the service is ready.

    For load balancers and orchestrators that judge readiness by status code alone.
    """
    if not store.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return _health(store, caller)
