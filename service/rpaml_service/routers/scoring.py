"""``POST /v1/models/{name}/score`` (records) and ``.../score/columns`` (bulk, columnar).

Both validate and encode the request's rows on their own (so a bad request fails
alone, with every failing field listed), then hand them to the app's micro-batcher,
which scores concurrent requests together. Answers are serialised once with orjson
and returned directly; ``response_model`` still documents them in the OpenAPI schema.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from rpaml_models import FieldIssue, LoadedModel, Scored, ValidatedRows
from rpaml_models.schema import ROW_FIELD
from rpaml_service.batching import INLINE_ROWS
from rpaml_service.dependencies import (
    BatcherDep,
    LoadedModelDep,
    MetricsDep,
    SettingsDep,
    require_score_scope,
)
from rpaml_service.metrics import ServiceMetrics
from rpaml_service.schemas import (
    ColumnarScoreRequest,
    ColumnarScoreResponse,
    ErrorMessage,
    ScoreRequest,
    ScoreResponse,
)

router = APIRouter(
    prefix="/v1/models",
    tags=["scoring"],
    dependencies=[Depends(require_score_scope)],
    responses={
        401: {"model": ErrorMessage, "description": "Missing or unknown API key."},
        403: {"model": ErrorMessage, "description": "The key lacks the score scope."},
        404: {"model": ErrorMessage, "description": "The model is not served."},
        413: {"model": ErrorMessage, "description": "The request body is too large."},
    },
)

# Pydantic's type for errors raised by validation logic: the closest standard name for
# "the value does not satisfy the model's feature schema".
_FEATURE_ERROR_TYPE = "value_error"
_JSON = "application/json"


@router.post(
    "/{name}/score",
    summary="Score records and decide an action for each",
    response_model=ScoreResponse,
    responses={
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
    request: ScoreRequest,
    model: LoadedModelDep,
    settings: SettingsDep,
    batcher: BatcherDep,
    metrics: MetricsDep,
) -> Response:
    """Score every record with the model and apply its decision policy.

    Results come back in request order, each with the model and policy versions that
    produced it; concurrent requests are scored together by the micro-batcher.
    """
    started = time.perf_counter()
    records = request.records
    _check_length(len(records), settings.max_batch, ("body", "records"))
    rows = [record.features for record in records]
    validated = await _validate(model, rows, metrics, ("body", "records"))
    results = await batcher.score(model, validated)
    model_version = model.version
    policy_version = model.policy.version
    body = orjson.dumps(
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
                for record, scored in zip(records, results, strict=True)
            ],
        }
    )
    _observe(metrics, model, results, started)
    return Response(body, media_type=_JSON)


@router.post(
    "/{name}/score/columns",
    summary="Score a batch sent column by column (bulk path)",
    response_model=ColumnarScoreResponse,
    responses={
        422: {
            "description": (
                "Columns of different lengths, unknown or missing features, or values "
                "that do not match the schema: located at body.records[i].features.<field>."
            )
        },
    },
)
async def score_columns(
    request: ColumnarScoreRequest,
    model: LoadedModelDep,
    settings: SettingsDep,
    batcher: BatcherDep,
    metrics: MetricsDep,
) -> Response:
    """Score rows given as one list per feature; answers one list per output.

    No JSON object per record in either direction, which is what makes large batches
    cheap to encode and decode.
    """
    started = time.perf_counter()
    columns = request.columns
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "columns"),
                    "msg": f"every column needs the same length, got {sorted(lengths)}",
                }
            ]
        )
    n_rows = lengths.pop() if lengths else 0
    if n_rows == 0:
        raise RequestValidationError(
            [{"type": "too_short", "loc": ("body", "columns"), "msg": "no rows to score"}]
        )
    _check_length(n_rows, settings.max_batch, ("body", "columns"))
    if request.ids is not None and len(request.ids) != n_rows:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "ids"),
                    "msg": f"expected {n_rows} ids (one per row), got {len(request.ids)}",
                }
            ]
        )
    names = list(columns)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    validated = await _validate(model, rows, metrics, ("body", "records"))
    if request.explain:
        results = await batcher.score(model, validated)
    else:
        results = await run_in_threadpool(model.score_validated, validated, explain=False)
    body = orjson.dumps(
        {
            "model": model.name,
            "model_version": model.version,
            "policy_version": model.policy.version,
            "ids": request.ids,
            "scores": [scored.score for scored in results],
            "decisions": [scored.action for scored in results],
            "reasons": [scored.reasons for scored in results],
        }
    )
    _observe(metrics, model, results, started)
    return Response(body, media_type=_JSON)


def _check_length(n_rows: int, max_batch: int, loc: tuple[str, ...]) -> None:
    if n_rows > max_batch:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": loc,
                    "msg": (
                        f"a scoring request may carry at most {max_batch} records, "
                        f"got {n_rows}; split the batch"
                    ),
                    "ctx": {"max_length": max_batch, "actual_length": n_rows},
                }
            ]
        )


async def _validate(
    model: LoadedModel,
    rows: list[dict[str, Any]],
    metrics: ServiceMetrics,
    loc: tuple[str, ...],
) -> ValidatedRows:
    # Small requests are validated on the loop (cheaper than a thread hop); large ones
    # in a thread so the loop keeps answering.
    if len(rows) <= INLINE_ROWS:
        validated, issues = model.validate(rows)
    else:
        validated, issues = await run_in_threadpool(model.validate, rows)
    metrics.request_rows.labels(model.name).observe(len(rows))
    if validated is None:
        metrics.requests.labels(model.name, model.version, "422").inc()
        raise RequestValidationError([_feature_error(issue, rows, loc) for issue in issues])
    return validated


def _observe(
    metrics: ServiceMetrics, model: LoadedModel, results: list[Scored], started: float
) -> None:
    version = model.version
    metrics.requests.labels(model.name, version, "200").inc()
    metrics.latency.labels(model.name, version).observe(time.perf_counter() - started)
    counts: dict[str, int] = {}
    for scored in results:
        counts[scored.action] = counts.get(scored.action, 0) + 1
    for action, count in counts.items():
        metrics.decisions.labels(model.name, version, action).inc(count)


def _feature_error(
    issue: FieldIssue, rows: Sequence[Mapping[str, object]], loc: tuple[str, ...]
) -> dict[str, Any]:
    """One issue from rpaml_models in FastAPI's validation error shape."""
    error: dict[str, Any] = {"type": _FEATURE_ERROR_TYPE, "msg": issue.message}
    if issue.field == ROW_FIELD:
        error["loc"] = (*loc, issue.index, "features")
        return error
    error["loc"] = (*loc, issue.index, "features", issue.field)
    row = rows[issue.index]
    if issue.field in row:
        error["input"] = row[issue.field]
    return error
