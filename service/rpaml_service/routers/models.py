"""``/v1/models``: the served models, their feature schemas, metrics and policies."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from rpaml_models import LoadedModel
from rpaml_service.dependencies import LoadedModelDep, ModelStoreDep, require_score_scope
from rpaml_service.schemas import ErrorMessage, ModelInfo

router = APIRouter(
    prefix="/v1/models",
    tags=["models"],
    dependencies=[Depends(require_score_scope)],
    responses={
        401: {"model": ErrorMessage, "description": "Missing or unknown API key."},
        403: {"model": ErrorMessage, "description": "The key lacks the score scope."},
    },
)


def model_info(model: LoadedModel) -> ModelInfo:
    """What a client needs to know about a served model."""
    metadata = model.metadata
    return ModelInfo(
        name=model.name,
        version=model.version,
        policy_version=model.policy.version,
        feature_schema=model.schema,
        metrics=metadata.metrics,
        trained_at=metadata.created_at,
        policy=model.policy,
    )


@router.get("", summary="List the served models")
async def list_models(store: ModelStoreDep) -> list[ModelInfo]:
    """Every model being served, sorted by name (failed ones are in ``/v1/health``)."""
    return [model_info(store.models[name]) for name in sorted(store.models)]


@router.get(
    "/{name}",
    summary="Describe one served model",
    responses={404: {"model": ErrorMessage, "description": "The model is not served."}},
)
async def get_model(model: LoadedModelDep) -> ModelInfo:
    """The model's version, policy, feature schema and training metrics."""
    return model_info(model)
