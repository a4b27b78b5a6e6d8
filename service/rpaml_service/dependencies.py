"""FastAPI dependencies shared by the routers, as ``Annotated`` aliases.

The dependencies are ``async`` on purpose: they only read app state, and FastAPI runs
plain ``def`` dependencies in a thread pool, which would add a thread hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Security, status
from fastapi.security import APIKeyHeader

from rpaml_models import LoadedModel
from rpaml_service.auth import KeyRing, Scope
from rpaml_service.batching import MicroBatcher
from rpaml_service.metrics import ServiceMetrics
from rpaml_service.model_store import ModelStore
from rpaml_service.settings import ServiceSettings


async def get_app_settings(request: Request) -> ServiceSettings:
    """The settings the app was built with (each app its own, so tests never share them).

    Read from app state rather than through ``dependency_overrides``: FastAPI analyses
    an overridden dependency's signature again on every request, which cost more than
    scoring a record.
    """
    settings: ServiceSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[ServiceSettings, Depends(get_app_settings)]

API_KEY_HEADER = "X-API-Key"
_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description=(
        "API key with the route's scope (score or admin); required on every route but "
        "the health probes. Any known key may read the API's documentation."
    ),
)


async def get_model_store(request: Request) -> ModelStore:
    """The app's model store (filled by the lifespan)."""
    store: ModelStore = request.app.state.model_store
    return store


ModelStoreDep = Annotated[ModelStore, Depends(get_model_store)]


async def get_metrics(request: Request) -> ServiceMetrics:
    """The app's Prometheus metrics."""
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]


async def get_batcher(request: Request) -> MicroBatcher:
    """The app's micro-batcher (started by the lifespan)."""
    batcher: MicroBatcher = request.app.state.batcher
    return batcher


BatcherDep = Annotated[MicroBatcher, Depends(get_batcher)]


async def get_loaded_model(
    name: Annotated[str, Path(description="Model name, e.g. claims_fraud.")],
    store: ModelStoreDep,
) -> LoadedModel:
    """The served model named in the path, or 404 listing the served ones."""
    model = store.get(name)
    if model is None:
        raise HTTPException(
            status_code=status.HTTP_404_NOT_FOUND,
            detail=f"model {name!r} is not loaded; loaded: {sorted(store.models)}",
        )
    return model


LoadedModelDep = Annotated[LoadedModel, Depends(get_loaded_model)]


def _authorise(request: Request, presented: str | None, scope: Scope | None) -> str:
    """The name of the presented key; 401 without a known key, 403 without ``scope``.

    ``scope`` None accepts any known key (the API's documentation).
    """
    keys: KeyRing = request.app.state.keys
    if presented is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"missing API key: send it in the {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    key = keys.find(presented)
    if key is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"unknown API key (sent in the {API_KEY_HEADER} header)",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    if scope is not None and scope not in key.scopes:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"API key {key.name!r} lacks the {scope!r} scope this route needs",
        )
    return key.name


async def require_score_scope(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)]
) -> str:
    """The calling key's name; 401 without a known key, 403 without the score scope."""
    return _authorise(request, api_key, "score")


async def require_admin_scope(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)]
) -> str:
    """The calling key's name; 401 without a known key, 403 without the admin scope."""
    return _authorise(request, api_key, "admin")


async def require_any_key(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)]
) -> str:
    """The calling key's name, whatever its scopes; 401 without a known key."""
    return _authorise(request, api_key, None)


async def optional_key(request: Request) -> str | None:
    """The calling key's name when a known key is sent, else None; never refuses (the
    health probes answer everyone, and say more to a caller with a key).

    Read from the header directly, not as a ``Security`` dependency: OpenAPI would then
    declare the key required on the probes, which it is not.
    """
    api_key = request.headers.get(API_KEY_HEADER)
    if not api_key:
        return None
    keys: KeyRing = request.app.state.keys
    key = keys.find(api_key)
    return key.name if key is not None else None


OptionalKeyDep = Annotated[str | None, Depends(optional_key)]
