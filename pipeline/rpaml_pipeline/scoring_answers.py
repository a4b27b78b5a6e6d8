"""What the scoring service answers, as the pipeline reads it: results, refused fields,
the error hierarchy, and the decoding of the service's JSON (:mod:`rpaml_pipeline.scoring`
is the client that sends the requests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from rpaml_pipeline.errors import RpamlPipelineError
from rpaml_pipeline.shadow_results import ShadowResult, shadow_of_result


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """Score and decision for one item, as returned by the service."""

    id: str
    score: float
    decision: str
    reasons: tuple[str, ...]
    model_version: str
    policy_version: str
    expected_costs: dict[str, float] | None = None
    shadow: ShadowResult | None = None
    """The challenger's decision, when the client asked for shadow scoring."""


@dataclass(frozen=True, slots=True)
class RejectedField:
    """One field the service refused.

    Attributes
    ----------
    index : int
        Position of the item in the list given to :meth:`ScoringClient.score`.
    id : str
        The item's id.
    field : str | None
        Feature name, or ``None`` when the problem concerns the record as a whole.
    message : str
        The service's explanation.
    type : str
        The service's error type.
    """

    index: int
    id: str
    field: str | None
    message: str
    type: str


class ScoringError(RpamlPipelineError):
    """Base class of every error the scoring client raises.

    Raised as such for answers that are neither transient nor a validation refusal
    (unknown model, wrong API key, a malformed response).
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ScoringUnavailableError(ScoringError):
    """The service did not answer usefully even after the retries."""


class ScoringCircuitOpenError(ScoringUnavailableError):
    """The circuit breaker is open: the service failed repeatedly, so no request was sent."""


class ScoringRejectedError(ScoringError):
    """The service refused some items' features (HTTP 422).

    Every chunk is still sent, so :attr:`issues` names every failing field of every
    item, and :attr:`scored` holds the results of the chunks that were accepted
    (the service refuses a chunk as a whole, so an item is either scored or in a
    refused chunk; ``rejected_ids`` lists the ids that carry issues).
    """

    def __init__(
        self, message: str, *, issues: list[RejectedField], scored: list[ScoreResult]
    ) -> None:
        super().__init__(message, status_code=422)
        self.issues = issues
        self.scored = scored

    @property
    def rejected_ids(self) -> list[str]:
        """Ids of the items with at least one issue, in input order, without repeats."""
        return list(dict.fromkeys(issue.id for issue in self.issues))


def costs_of(raw: object) -> dict[str, float] | None:
    """Every action's expected cost from an answer (absent for a thresholds policy)."""
    if not isinstance(raw, dict):
        return None
    return {str(action): float(cost) for action, cost in raw.items()}


def score_result_of(raw: object) -> ScoreResult | None:
    if not isinstance(raw, dict):
        return None
    try:
        reasons = raw["reasons"]
        return ScoreResult(
            id=str(raw["id"]),
            score=float(raw["score"]),
            decision=str(raw["decision"]),
            reasons=tuple(str(reason) for reason in reasons),
            model_version=str(raw["model_version"]),
            policy_version=str(raw["policy_version"]),
            expected_costs=costs_of(raw.get("expected_costs")),
            shadow=shadow_of_result(raw),
        )
    except (KeyError, TypeError, ValueError):
        return None


def rejected_fields_of(
    response: httpx.Response, ids: list[str], offset: int
) -> list[RejectedField]:
    """Translate the service's 422 body into issues indexed like the caller's items."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if not isinstance(detail, list) or not detail:
        raise ScoringError(
            f"service refused the request (422) without field details: {response.text[:500]}",
            status_code=422,
        )
    issues: list[RejectedField] = []
    for error in detail:
        loc = error.get("loc", []) if isinstance(error, dict) else []
        message = str(error.get("msg", "")) if isinstance(error, dict) else str(error)
        kind = str(error.get("type", "")) if isinstance(error, dict) else ""
        # Feature issues are located at ["body", "records", i, "features", field?].
        if len(loc) >= 3 and loc[:2] == ["body", "records"] and isinstance(loc[2], int):
            position = loc[2]
            if not 0 <= position < len(ids):
                raise ScoringError(f"service named record {position} of {len(ids)}: {error!r}")
            name = str(loc[4]) if len(loc) >= 5 and loc[3] == "features" else None
            issues.append(RejectedField(offset + position, ids[position], name, message, kind))
        else:
            # Not about one record (e.g. the whole batch was refused): nothing the
            # caller can quarantine, so it is an error of the request itself.
            raise ScoringError(
                f"service refused the request: {message} (at {loc!r})", status_code=422
            )
    return issues


def describe_field(issue: RejectedField) -> str:
    where = f"{issue.id}.{issue.field}" if issue.field else issue.id
    return f"{where}: {issue.message}"


def json_object_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise ScoringError(
            f"service answered {response.status_code} with a body that is not JSON",
            status_code=response.status_code,
        ) from error
    if not isinstance(body, dict):
        raise ScoringError(
            f"service answered {response.status_code} with JSON that is not an object",
            status_code=response.status_code,
        )
    return body


def detail_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:500]
    return str(body)[:200]


def unexpected_answer(response: httpx.Response) -> ScoringError:
    return ScoringError(
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}: {detail_of(response)}",
        status_code=response.status_code,
    )
