"""Request and response bodies of the v1 API.

These pydantic models are the API's contract: FastAPI validates requests with them and
describes every route with them in the OpenAPI document (``/openapi.json``, ``/docs``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rpaml_models import DecisionPolicy, FeatureSchema

# A record's features stay an untyped JSON object here on purpose: each model has its
# own feature schema, which rpaml_models checks column by column after parsing (one pass
# for the whole batch, and errors for every field at once instead of the first).
FeatureValues = dict[str, Any]


class ScoreRecord(BaseModel):
    """One record to score."""

    id: str | None = Field(
        default=None,
        description="Caller's identifier, echoed in the result; optional.",
        examples=["CLM-000123"],
    )
    features: FeatureValues = Field(
        description=(
            "Feature values by name, exactly the model's feature schema "
            "(see GET /v1/models/{name}); null means unknown."
        ),
        examples=[{"amount": 1250.0, "channel": "web", "police_report": True}],
    )


class ScoreRequest(BaseModel):
    """A batch of records scored by one model in one call."""

    records: list[ScoreRecord] = Field(
        min_length=1,
        description="Records to score, 1 up to the service's max_batch (default 10000).",
    )


class ScoreResult(BaseModel):
    """Score and decision for one record, in request order."""

    id: str | None = Field(description="The record's id as sent (null when none was sent).")
    score: float = Field(description="Model score: the estimated probability of fraud.")
    decision: str = Field(
        description="Action chosen by the decision policy, e.g. approve, escalate, reject."
    )
    reasons: list[str] = Field(description="Why the policy chose this action, readable.")
    model_version: str
    policy_version: str


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
    runtime: Literal["onnxruntime", "sklearn"] = Field(
        description="Scoring path: the parity-checked ONNX model, or scikit-learn."
    )
    runtime_reason: str = Field(description="Why this runtime (parity figures or cause).")


class FailedModelHealth(BaseModel):
    """A model that could not be loaded, so it is not served."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="Why loading failed, e.g. an artifact hash mismatch.")


class HealthResponse(BaseModel):
    """Liveness and readiness of the service."""

    status: Literal["ok"] = Field(description="Always ok while the process answers.")
    ready: bool = Field(description="True once loading finished and at least one model serves.")
    models: dict[str, ServedModelHealth | FailedModelHealth] = Field(
        description="Every model the service tried to load, by name."
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


class ColumnarScoreRequest(BaseModel):
    """A batch sent column by column: no JSON object per record (the bulk path)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = Field(
        default=None, description="One id per row, echoed back; optional."
    )
    columns: dict[str, list[Any]] = Field(
        description="Feature name -> one value per row; every column the same length.",
        examples=[{"amount": [1250.0, 90.5], "channel": ["web", "phone"]}],
    )
    explain: bool = Field(default=True, description="Add the model's reasons per row.")


class ColumnarScoreResponse(BaseModel):
    """Results column by column, in row order."""

    model: str
    model_version: str
    policy_version: str
    ids: list[str] | None
    scores: list[float]
    decisions: list[str]
    reasons: list[list[str]]


class ReloadResponse(BaseModel):
    """Served versions after a reload, and models that failed to load."""

    models: dict[str, str] = Field(description="Model name -> version now served.")
    failures: dict[str, str] = Field(description="Model name -> why loading failed.")
