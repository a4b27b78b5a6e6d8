"""FastAPI dependencies shared by the routers, as ``Annotated`` aliases.

The dependencies are ``async`` on purpose: they only read app state, and FastAPI runs
plain ``def`` dependencies in a thread pool, which would add a thread hop per request.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Security, status
from fastapi.security import APIKeyHeader

from rpaml_models import LoadedModel
from rpaml_service.model_store import ModelStore
from rpaml_service.settings import ServiceSettings, get_settings

SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]

API_KEY_HEADER = "X-API-Key"
_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Required on model routes when the service runs with RPAML_SERVICE_API_KEY.",
)


async def get_model_store(request: Request) -> ModelStore:
    """The app's model store (filled by the lifespan)."""
    store: ModelStore = request.app.state.model_store
    return store


ModelStoreDep = Annotated[ModelStore, Depends(get_model_store)]


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


async def require_api_key(
    settings: SettingsDep,
    api_key: Annotated[str | None, Security(_api_key_header)],
) -> None:
    """Refuse the request (401) when the service has an API key and it was not sent."""
    expected = settings.api_key
    if expected is None:
        return
    # Constant-time comparison: the answer time must not reveal how much matched.
    if api_key is None or not hmac.compare_digest(
        api_key.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"missing or wrong API key (send it in the {API_KEY_HEADER} header)",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
