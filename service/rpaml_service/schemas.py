"""Request and response bodies of the v1 API.

These pydantic models are the API's contract: FastAPI validates requests with them and
describes every route with them in the OpenAPI document (``/openapi.json``, ``/docs``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

from rpaml_models import DecisionPolicy, FeatureSchema

# Request bodies are TypedDicts validated straight from the raw JSON bytes by pydantic
# (routers/scoring.py): no Python object per record, and the same pydantic error shapes
# and JSON schema a BaseModel gives. A record's features stay an untyped JSON object on
# purpose: each model has its own feature schema, which rpaml_models checks column by
# column after parsing (one pass for the whole batch, every failing field at once).
FeatureValues = dict[str, Any]


class ScoreRecord(TypedDict):
    """One record to score."""

    id: NotRequired[
        Annotated[
            str | None,
            Field(
                description="Caller's identifier, echoed in the result; optional.",
                examples=["CLM-000123"],
            ),
        ]
    ]
    features: Annotated[
        FeatureValues,
        Field(
            description=(
                "Feature values by name, exactly the model's feature schema "
                "(see GET /v1/models/{name}); null means unknown."
            ),
            examples=[{"amount": 1250.0, "channel": "web", "police_report": True}],
        ),
    ]


_EXPLAIN = (
    "Add the model's reasons (the features that raised the score most) after the "
    "policy's reason; default false. Costs up to one extra prediction per feature "
    "and row, so ask only when the reasons are kept."
)


_SHADOW = (
    "Also score the model's challenger (the version the registry names to shadow the "
    "champion) and return its decision beside each result; default false. The champion's "
    "decision stays the decision; without a challenger the answer's shadow is null."
)


class ScoreRequest(TypedDict):
    """A batch of records scored by one model in one call."""

    records: Annotated[
        list[ScoreRecord],
        Field(
            min_length=1,
            description="Records to score, 1 up to the service's max_batch (default 10000).",
        ),
    ]
    explain: NotRequired[Annotated[bool, Field(description=_EXPLAIN)]]
    shadow: NotRequired[Annotated[bool, Field(description=_SHADOW)]]


class ShadowDecision(BaseModel):
    """The challenger's decision for one record: recorded, never acted on."""

    model_version: str = Field(description="The challenger version.")
    policy_version: str
    score: float
    decision: str
    expected_costs: dict[str, float] | None = None


class ScoreResult(BaseModel):
    """Score and decision for one record, in request order."""

    id: str | None = Field(description="The record's id as sent (null when none was sent).")
    score: float = Field(description="Model score: the probability of the positive outcome.")
    decision: str = Field(
        description="Action chosen by the decision policy, e.g. approve, escalate, reject."
    )
    reasons: list[str] = Field(description="Why the policy chose this action, readable.")
    expected_costs: dict[str, float] | None = Field(
        default=None, description="Every action's expected cost (a costs policy only)."
    )
    model_version: str
    policy_version: str
    shadow: ShadowDecision | None = Field(
        default=None, description="The challenger's decision, when the request asked."
    )


class ScoreResponse(BaseModel):
    """Results of one scoring request."""

    model: str = Field(description="Name of the model that scored the batch.")
    model_version: str
    policy_version: str
    results: list[ScoreResult] = Field(description="One result per record, in request order.")


class ServedModelHealth(BaseModel):
    """A model that loaded and is being served."""

    model_config = ConfigDict(extra="forbid")

    version: str
    policy_version: str
    runtime: Literal["onnxruntime", "numpy", "sklearn"] = Field(
        description="Scoring path: the parity-checked ONNX model, or scikit-learn."
    )
    runtime_reason: str = Field(description="Why this runtime (parity figures or cause).")
    challenger: str | None = Field(
        default=None,
        description="The challenger version scored in shadow when a request asks, if any.",
    )
    challenger_error: str | None = Field(
        default=None, description="Why the registry's challenger could not be loaded."
    )


class FailedModelHealth(BaseModel):
    """A model that could not be loaded, so it is not served."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="Why loading failed, e.g. an artifact hash mismatch.")


class HealthResponse(BaseModel):
    """Liveness and readiness of the service."""

    status: Literal["ok"] = Field(description="Always ok while the process answers.")
    ready: bool = Field(description="True once loading finished and at least one model serves.")
    models: dict[str, ServedModelHealth | FailedModelHealth] | None = Field(
        description=(
            "Every model the service tried to load, by name; null for a caller without "
            "a known API key (the probes answer everyone, the deployment's details only "
            "key holders)."
        )
    )


class ModelInfo(BaseModel):
    """A served model: what it expects and how good it was when trained."""

    name: str
    version: str
    policy_version: str
    feature_schema: FeatureSchema = Field(
        description="The features a record must carry, in order, with their kinds."
    )
    metrics: dict[str, float] = Field(description="Holdout metrics recorded at training.")
    trained_at: datetime = Field(description="When the model version was registered (UTC).")
    policy: DecisionPolicy = Field(description="The decision policy served with the model.")


class ErrorMessage(BaseModel):
    """Body of a 401/403/404/413 answer (FastAPI's HTTPException shape)."""

    detail: str


@with_config(ConfigDict(extra="forbid"))
class ColumnarScoreRequest(TypedDict):
    """A batch sent column by column: no JSON object per record (the bulk path)."""

    ids: NotRequired[
        Annotated[list[str] | None, Field(description="One id per row, echoed back; optional.")]
    ]
    columns: Annotated[
        dict[str, list[Any]],
        Field(
            description="Feature name -> one value per row; every column the same length.",
            examples=[{"amount": [1250.0, 90.5], "channel": ["web", "phone"]}],
        ),
    ]
    explain: NotRequired[Annotated[bool, Field(description=_EXPLAIN)]]
    shadow: NotRequired[Annotated[bool, Field(description=_SHADOW)]]


SCORE_REQUEST: TypeAdapter[ScoreRequest] = TypeAdapter(ScoreRequest)
COLUMNAR_SCORE_REQUEST: TypeAdapter[ColumnarScoreRequest] = TypeAdapter(ColumnarScoreRequest)


def request_body_components() -> dict[str, Any]:
    """OpenAPI component schemas of the request bodies the scoring routes parse themselves.

    Those routes read the raw body (so FastAPI does not describe it); the app adds
    these components to its OpenAPI document, and the routes refer to them.
    """
    components: dict[str, Any] = {}
    for adapter in (SCORE_REQUEST, COLUMNAR_SCORE_REQUEST):
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[schema["title"]] = schema
    return components


class ShadowColumns(BaseModel):
    """The challenger's decisions column by column, in row order: recorded, never acted on."""

    model_version: str = Field(description="The challenger version.")
    policy_version: str
    scores: list[float]
    decisions: list[str]
    expected_costs: list[dict[str, float]] | None = None


class ColumnarScoreResponse(BaseModel):
    """Results column by column, in row order."""

    model: str
    model_version: str
    policy_version: str
    ids: list[str] | None
    scores: list[float]
    decisions: list[str]
    reasons: list[list[str]]
    expected_costs: list[dict[str, float] | None] | None = None
    shadow: ShadowColumns | None = Field(
        default=None, description="The challenger's decisions, when the request asked."
    )


class ReloadResponse(BaseModel):
    """Served versions after a reload, and models that failed to load."""

    models: dict[str, str] = Field(description="Model name -> version now served.")
    failures: dict[str, str] = Field(description="Model name -> why loading failed.")
