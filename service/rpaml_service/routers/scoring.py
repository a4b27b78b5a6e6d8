"""``POST /v1/models/{name}/score``: score a batch and decide an action per record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from rpaml_models import FieldIssue
from rpaml_models.schema import ROW_FIELD
from rpaml_service.dependencies import LoadedModelDep, SettingsDep, require_api_key
from rpaml_service.schemas import ErrorMessage, ScoreRequest, ScoreResponse

router = APIRouter(
    prefix="/v1/models",
    tags=["scoring"],
    dependencies=[Depends(require_api_key)],
    responses={401: {"model": ErrorMessage, "description": "Missing or wrong API key."}},
)

# Pydantic's type for errors raised by validation logic: the closest standard name for
# "the value does not satisfy the model's feature schema".
_FEATURE_ERROR_TYPE = "value_error"


@router.post(
    "/{name}/score",
    summary="Score records and decide an action for each",
    responses={
        404: {"model": ErrorMessage, "description": "The model is not served."},
        422: {
            "description": (
                "The body is malformed, the batch is empty or larger than max_batch, or "
                "features do not match the model's schema: every failing field of every "
                "record is listed, located at body.records[i].features.<field>."
            )
        },
    },
)
async def score(
    request: ScoreRequest, model: LoadedModelDep, settings: SettingsDep
) -> ScoreResponse:
    """Score every record with the model and apply its decision policy.

    The batch is validated, scored and explained in one pass (one ``predict_proba``
    for the scores and one for the reasons), never record by record. Results come back
    in request order, each with the model and policy versions that produced it.
    """
    records = request.records
    if len(records) > settings.max_batch:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("body", "records"),
                    "msg": (
                        f"a scoring request may carry at most {settings.max_batch} records, "
                        f"got {len(records)}; split the batch"
                    ),
                    "ctx": {"max_length": settings.max_batch, "actual_length": len(records)},
                }
            ]
        )
    rows = [record.features for record in records]
    # scikit-learn work is CPU-bound: run it off the event loop so health checks and
    # other requests are still answered while a large batch is scored.
    outcome = await run_in_threadpool(model.score, rows)
    if outcome.issues:
        raise RequestValidationError([_feature_error(issue, rows) for issue in outcome.issues])
    model_version = model.version
    policy_version = model.policy.version
    # Plain dicts, validated once by the response model: cheaper than building a
    # pydantic object per record, and the output is still checked and documented.
    return ScoreResponse.model_validate(
        {
            "model": model.name,
            "model_version": model_version,
            "policy_version": policy_version,
            "results": [
                {
                    "id": record.id,
                    "score": scored.score,
                    "decision": scored.action,
                    "reasons": scored.reasons,
                    "model_version": model_version,
                    "policy_version": policy_version,
                }
                for record, scored in zip(records, outcome.results, strict=True)
            ],
        }
    )


def _feature_error(issue: FieldIssue, rows: Sequence[Mapping[str, object]]) -> dict[str, Any]:
    """One issue from rpaml_models in FastAPI's validation error shape."""
    error: dict[str, Any] = {"type": _FEATURE_ERROR_TYPE, "msg": issue.message}
    if issue.field == ROW_FIELD:
        error["loc"] = ("body", "records", issue.index, "features")
        return error
    error["loc"] = ("body", "records", issue.index, "features", issue.field)
    row = rows[issue.index]
    if issue.field in row:
        error["input"] = row[issue.field]
    return error
