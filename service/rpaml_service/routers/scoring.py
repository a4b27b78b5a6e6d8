"""``POST /v1/models/{name}/score`` (records) and ``.../score/columns`` (bulk, columnar).

The hot path, kept lean on purpose: the body is read raw and validated by pydantic
straight from the JSON bytes into plain dicts and lists (no Python object per record;
FastAPI's own body handling decodes JSON with the standard library first, several times
slower for large batches). Each request validates and encodes its own rows against the
model's feature schema (so a bad request fails alone, with every failing field listed),
then hands them to the app's micro-batcher, which scores concurrent requests together.
Answers are serialised once with orjson; ``response_model`` and the request body
components (:func:`~rpaml_service.schemas.request_body_components`) still describe both
directions in the OpenAPI schema.

Model reasons are computed only when the request asks (``explain: true``): they cost up
to one extra prediction per feature and row. The policy's reason is always returned.

``shadow: true`` asks for the model's challenger too (:mod:`rpaml_service.model_store`):
its decision comes back beside each result (``shadow``), while the champion's stays the
decision. Shadow mode is asked per request, not assumed from the registry, so a process
that did not opt in never pays for it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from rpaml_models import ColumnRows, FieldIssue, LoadedModel, Scored, ValidatedRows
from rpaml_models.schema import ROW_FIELD
from rpaml_models.shadow import ShadowScores
from rpaml_service.batching import INLINE_ROWS, MicroBatcher
from rpaml_service.dependencies import LoadedModelDep, require_score_scope
from rpaml_service.metrics import ModelMetrics, ServiceMetrics
from rpaml_service.schemas import (
    COLUMNAR_SCORE_REQUEST,
    SCORE_REQUEST,
    ColumnarScoreResponse,
    ErrorMessage,
    ScoreResponse,
)
from rpaml_service.settings import ServiceSettings

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
_Body = TypeVar("_Body")


def _body(component: str) -> dict[str, Any]:
    """``openapi_extra`` describing a JSON body by its component schema."""
    return {
        "requestBody": {
            "required": True,
            "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{component}"}}},
        }
    }


@router.post(
    "/{name}/score",
    summary="Score records and decide an action for each",
    response_model=ScoreResponse,
    openapi_extra=_body("ScoreRequest"),
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
async def score(request: Request, model: LoadedModelDep) -> Response:
    """Score every record with the model and apply its decision policy.

    Results come back in request order, each with the model and policy versions that
    produced it; concurrent requests are scored together by the micro-batcher. Reasons
    hold the policy's reason, then the model's when the request sets ``explain``.
    """
    started = time.perf_counter()
    state = request.app.state
    metrics: ServiceMetrics = state.metrics
    bound = metrics.of(model)
    parsed = _parse(SCORE_REQUEST, await request.body())
    records = parsed["records"]
    _check_length(len(records), state.settings, ("body", "records"))
    rows = [record["features"] for record in records]
    validated = await _validate(model, rows, bound, ("body", "records"))
    batcher: MicroBatcher = state.batcher
    answer = await batcher.score_beside(
        model,
        validated,
        explain=parsed.get("explain", False),
        shadow=shadow_of(state, model, parsed),
    )
    body = records_answer(model, records, answer.results, answer.shadow)
    observe(bound, answer.results, started)
    return Response(body, media_type=_JSON)


def shadow_of(state: Any, model: LoadedModel, parsed: Mapping[str, Any]) -> LoadedModel | None:
    """The challenger to score in shadow, when the request asks and one is served."""
    if not parsed.get("shadow", False):
        return None
    challenger: LoadedModel | None = state.model_store.challenger(model.name)
    return challenger


def records_answer(
    model: LoadedModel,
    records: Sequence[Mapping[str, Any]],
    results: list[Scored],
    shadow: ShadowScores | None = None,
) -> bytes:
    """The JSON body answering a records request (a :class:`ScoreResponse`)."""
    model_version = model.version
    policy_version = model.policy.version
    beside: list[dict[str, Any] | None] = [None] * len(results)
    if shadow is not None:
        costs: Sequence[dict[str, float] | None] = shadow.expected_costs or [None] * len(shadow)
        beside = [
            {
                "model_version": shadow.version,
                "policy_version": shadow.policy_version,
                "score": score,
                "decision": action,
                "expected_costs": cost,
            }
            for score, action, cost in zip(shadow.scores, shadow.actions, costs, strict=True)
        ]
    return orjson.dumps(
        {
            "model": model.name,
            "model_version": model_version,
            "policy_version": policy_version,
            "results": [
                {
                    "id": record.get("id"),
                    "score": scored.score,
                    "decision": scored.action,
                    "reasons": scored.reasons,
                    "expected_costs": scored.expected_costs,
                    "model_version": model_version,
                    "policy_version": policy_version,
                    "shadow": shadowed,
                }
                for record, scored, shadowed in zip(records, results, beside, strict=True)
            ],
        }
    )


def columns_answer(
    model: LoadedModel,
    ids: list[str] | None,
    results: list[Scored],
    shadow: ShadowScores | None = None,
) -> bytes:
    """The JSON body answering a columnar request (a :class:`ColumnarScoreResponse`)."""
    return orjson.dumps(
        {
            "model": model.name,
            "model_version": model.version,
            "policy_version": model.policy.version,
            "ids": ids,
            "scores": [scored.score for scored in results],
            "decisions": [scored.action for scored in results],
            "reasons": [scored.reasons for scored in results],
            "expected_costs": [scored.expected_costs for scored in results],
            "shadow": None
            if shadow is None
            else {
                "model_version": shadow.version,
                "policy_version": shadow.policy_version,
                "scores": shadow.scores,
                "decisions": shadow.actions,
                "expected_costs": shadow.expected_costs,
            },
        }
    )


@router.post(
    "/{name}/score/columns",
    summary="Score a batch sent column by column (bulk path)",
    response_model=ColumnarScoreResponse,
    openapi_extra=_body("ColumnarScoreRequest"),
    responses={
        422: {
            "description": (
                "Columns of different lengths, unknown or missing features, or values "
                "that do not match the schema: located at body.records[i].features.<field>."
            )
        },
    },
)
async def score_columns(request: Request, model: LoadedModelDep) -> Response:
    """Score rows given as one list per feature; answers one list per output.

    No JSON object per record in either direction, which is what makes large batches
    cheap to encode and decode. Reasons hold the policy's reason, then the model's when
    the request sets ``explain`` (the pipeline's scoring stage does, and stores them).
    """
    started = time.perf_counter()
    state = request.app.state
    metrics: ServiceMetrics = state.metrics
    bound = metrics.of(model)
    parsed = _parse(COLUMNAR_SCORE_REQUEST, await request.body())
    columns = parsed["columns"]
    ids = parsed.get("ids")
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
    _check_length(n_rows, state.settings, ("body", "columns"))
    if ids is not None and len(ids) != n_rows:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "ids"),
                    "msg": f"expected {n_rows} ids (one per row), got {len(ids)}",
                }
            ]
        )
    if n_rows <= INLINE_ROWS:
        validated, issues = model.validate_columns(columns, n_rows)
    else:
        validated, issues = await run_in_threadpool(model.validate_columns, columns, n_rows)
    bound.request_rows.observe(n_rows)
    if validated is None:
        bound.invalid.inc()
        view = ColumnRows(columns, n_rows)
        raise RequestValidationError(
            [_feature_error(issue, view, ("body", "records")) for issue in issues]
        )
    batcher: MicroBatcher = state.batcher
    answer = await batcher.score_beside(
        model,
        validated,
        explain=parsed.get("explain", False),
        shadow=shadow_of(state, model, parsed),
    )
    body = columns_answer(model, ids, answer.results, answer.shadow)
    observe(bound, answer.results, started)
    return Response(body, media_type=_JSON)


def _parse(adapter: TypeAdapter[_Body], raw: bytes) -> _Body:
    """The body validated from its JSON bytes, or a 422 in FastAPI's error shape."""
    try:
        return adapter.validate_json(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {**issue, "loc": ("body", *issue["loc"])}
                for issue in error.errors(include_url=False, include_context=False)
            ]
        ) from None


def _check_length(n_rows: int, settings: ServiceSettings, loc: tuple[str, ...]) -> None:
    max_batch = settings.max_batch
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
    bound: ModelMetrics,
    loc: tuple[str, ...],
) -> ValidatedRows:
    # Small requests are validated on the loop (cheaper than a thread hop); large ones
    # in a thread so the loop keeps answering.
    if len(rows) <= INLINE_ROWS:
        validated, issues = model.validate(rows)
    else:
        validated, issues = await run_in_threadpool(model.validate, rows)
    bound.request_rows.observe(len(rows))
    if validated is None:
        bound.invalid.inc()
        raise RequestValidationError([_feature_error(issue, rows, loc) for issue in issues])
    return validated


def observe(bound: ModelMetrics, results: list[Scored], started: float) -> None:
    """Count one answered request: status 200, latency, decisions."""
    bound.ok.inc()
    bound.latency.observe(time.perf_counter() - started)
    counts: dict[str, int] = {}
    for scored in results:
        counts[scored.action] = counts.get(scored.action, 0) + 1
    for action, count in counts.items():
        bound.decisions[action].inc(count)


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
