"""The challenger's decisions in the scoring service's answers (shadow mode).

A request with ``"shadow": true`` comes back with the challenger's decision beside each
result: one object per result on the records path, one block of columns on the bulk
path. Read here into :class:`ShadowResult`, attached to each
:class:`~rpaml_pipeline.scoring.ScoreResult`; an answer without a shadow (no challenger
served) gives None, and a malformed one raises, never a shadow decision for the wrong row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ShadowResult:
    """The challenger's decision for one item: recorded, never acted on."""

    model_version: str
    policy_version: str
    score: float
    decision: str
    expected_costs: dict[str, float] | None = None


def _costs(raw: object) -> dict[str, float] | None:
    if not isinstance(raw, dict):
        return None
    return {str(action): float(cost) for action, cost in raw.items()}


def shadow_of_result(raw: Mapping[str, Any]) -> ShadowResult | None:
    """The ``shadow`` of one result of the records path (None when absent).

    Raises KeyError, TypeError or ValueError for a malformed one (the caller's
    ``ScoringError``).
    """
    shadow = raw.get("shadow")
    if shadow is None:
        return None
    return ShadowResult(
        model_version=str(shadow["model_version"]),
        policy_version=str(shadow["policy_version"]),
        score=float(shadow["score"]),
        decision=str(shadow["decision"]),
        expected_costs=_costs(shadow.get("expected_costs")),
    )


def shadow_columns(body: Mapping[str, Any], n_rows: int) -> list[ShadowResult | None]:
    """The ``shadow`` block of a bulk answer, one per row (None each when absent).

    Raises ValueError when its columns do not have one value per row.
    """
    block = body.get("shadow")
    if block is None:
        return [None] * n_rows
    scores = [float(score) for score in block["scores"]]
    decisions = [str(decision) for decision in block["decisions"]]
    costs = block.get("expected_costs") or [None] * n_rows
    if not len(scores) == len(decisions) == len(costs) == n_rows:
        raise ValueError(f"the shadow block does not hold {n_rows} rows")
    version, policy = str(block["model_version"]), str(block["policy_version"])
    return [
        ShadowResult(version, policy, score, decision, _costs(cost))
        for score, decision, cost in zip(scores, decisions, costs, strict=True)
    ]
