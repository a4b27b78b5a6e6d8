"""Decision policies: from a fraud score to an action robots can carry out.

A policy is versioned and stored next to the model it was registered with, so every
decision can be traced to the exact rule that produced it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = Literal["approve", "escalate", "reject"]
Outcome = Literal["fraud", "legitimate"]
ACTIONS: tuple[Action, ...] = ("approve", "escalate", "reject")


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one score and why.

    Attributes
    ----------
    action : {"approve", "escalate", "reject"}
    reasons : tuple of str
        Readable statements of the rule applied, e.g.
        ``"score 0.82 ≥ reject threshold 0.70"``.
    """

    action: Action
    reasons: tuple[str, ...]


class DecisionPolicy(BaseModel):
    """A versioned rule mapping fraud scores to actions.

    Two kinds exist.

    ``kind="thresholds"``: approve when ``score < approve_below``, reject when
    ``score >= reject_at_or_above``, escalate in between (for a person to decide).

    ``kind="costs"``: choose the action with the lowest expected cost::

        cost(a) = p * cost[a]["fraud"] + (1 - p) * cost[a]["legitimate"]

    where each cell is ``costs[a][o] + amount_costs[a][o] * amount`` and ``amount`` is
    the row's ``amount_feature`` (so approving a fraudulent claim can cost its amount).
    A row whose amount is missing uses the fixed costs only. Ties go to the action
    listed first in ``costs``.

    Parameters
    ----------
    version : str
        Identifier recorded with every decision.
    kind : {"thresholds", "costs"}
    approve_below, reject_at_or_above : float, default=None
        Thresholds, required when ``kind="thresholds"``;
        ``0 <= approve_below <= reject_at_or_above <= 1``.
    costs : dict, default=None
        ``costs[action][outcome]``, required when ``kind="costs"``; every listed
        action needs both outcomes.
    amount_costs : dict, default=None
        Per-unit-of-amount costs with the same shape, optional.
    amount_feature : str, default=None
        Feature holding the amount; required with ``amount_costs``.
    compiled_score_tolerance : float, default=1e-9
        Largest probability difference between the compiled (ONNX) path and
        scikit-learn that still lets the compiled path be served.
    compiled_max_decision_mismatches : int, default=0
        Parity rows allowed to be decided differently by the compiled path.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    kind: Literal["thresholds", "costs"] = "thresholds"
    approve_below: float | None = None
    reject_at_or_above: float | None = None
    costs: dict[Action, dict[Outcome, float]] | None = None
    amount_costs: dict[Action, dict[Outcome, float]] | None = None
    amount_feature: str | None = None
    compiled_score_tolerance: float = Field(
        default=1e-9,
        ge=0.0,
        le=1.0,
        description=(
            "Largest fraud-probability difference allowed between the compiled (ONNX) "
            "scoring path and scikit-learn on the parity rows checked at registration."
        ),
    )
    compiled_max_decision_mismatches: int = Field(
        default=0,
        ge=0,
        description="Parity rows allowed to get another decision on the compiled path.",
    )

    @model_validator(mode="after")
    def _check_kind(self) -> DecisionPolicy:
        if self.kind == "thresholds":
            low, high = self.approve_below, self.reject_at_or_above
            if low is None or high is None:
                raise ValueError("a thresholds policy needs approve_below and reject_at_or_above")
            if not (0.0 <= low <= high <= 1.0):
                raise ValueError(
                    "thresholds must satisfy 0 <= approve_below <= reject_at_or_above <= 1, "
                    f"got approve_below={low} and reject_at_or_above={high}"
                )
            if self.costs is not None or self.amount_costs is not None:
                raise ValueError("a thresholds policy takes no costs")
            return self
        if self.approve_below is not None or self.reject_at_or_above is not None:
            raise ValueError("a costs policy takes no thresholds")
        if not self.costs:
            raise ValueError("a costs policy needs a costs table: costs[action][outcome]")
        _check_table("costs", self.costs)
        if self.amount_costs is not None:
            _check_table("amount_costs", self.amount_costs)
            extra = sorted(set(self.amount_costs) - set(self.costs))
            if extra:
                raise ValueError(f"amount_costs lists actions missing from costs: {extra}")
            if self.amount_feature is None:
                raise ValueError("amount_costs needs amount_feature naming the amount")
        elif self.amount_feature is not None:
            raise ValueError("amount_feature is only used with amount_costs")
        return self

    def decide(
        self,
        scores: Sequence[float],
        rows: Sequence[Mapping[str, object]] | None = None,
    ) -> list[Decision]:
        """Decide an action for each score.

        Parameters
        ----------
        scores : sequence of float
            Fraud probabilities in [0, 1].
        rows : sequence of mappings, default=None
            The scored rows, one per score; needed only by a costs policy with an
            ``amount_feature``.

        Returns
        -------
        list of Decision

        Raises
        ------
        ValueError
            If a score is not a probability, or ``rows`` is needed and absent or of
            the wrong length.
        """
        probabilities = [_probability(index, score) for index, score in enumerate(scores)]
        if self.kind == "thresholds":
            return self._by_thresholds(probabilities)
        amounts: list[float | None] = [None] * len(scores)
        if self.amount_feature is not None:
            if rows is None or len(rows) != len(scores):
                raise ValueError(
                    f"policy {self.version} scales costs by {self.amount_feature!r}: "
                    "pass the scored rows, one per score"
                )
            amounts = [_amount(row.get(self.amount_feature)) for row in rows]
        return [
            self._by_cost(score, amount)
            for score, amount in zip(probabilities, amounts, strict=True)
        ]

    def _by_thresholds(self, scores: list[float]) -> list[Decision]:
        """:meth:`_by_threshold` for a batch, formatting each distinct reason once.

        A reason shows the score to two decimals, so a batch has at most a few hundred
        distinct decisions; building each once (and sharing the frozen result) is what
        keeps deciding a large batch cheap.
        """
        low, high = self.approve_below, self.reject_at_or_above
        assert low is not None and high is not None  # guaranteed by the validator
        made: dict[tuple[int, str], Decision] = {}
        decisions: list[Decision] = []
        for score in scores:
            band = 2 if score >= high else 0 if score < low else 1
            key = (band, f"{score:.2f}")
            decision = made.get(key)
            if decision is None:
                decision = made[key] = self._by_threshold(score)
            decisions.append(decision)
        return decisions

    def _by_threshold(self, score: float) -> Decision:
        low, high = self.approve_below, self.reject_at_or_above
        assert low is not None and high is not None  # guaranteed by the validator
        if score >= high:
            return Decision("reject", (f"score {score:.2f} ≥ reject threshold {high:.2f}",))
        if score < low:
            return Decision("approve", (f"score {score:.2f} < approve threshold {low:.2f}",))
        return Decision(
            "escalate",
            (
                f"score {score:.2f} between approve threshold {low:.2f} "
                f"and reject threshold {high:.2f}",
            ),
        )

    def _by_cost(self, score: float, amount: float | None) -> Decision:
        assert self.costs is not None  # guaranteed by the validator
        expected: dict[Action, float] = {}
        for action, cells in self.costs.items():
            fraud, legitimate = cells["fraud"], cells["legitimate"]
            if amount is not None and self.amount_costs and action in self.amount_costs:
                fraud += self.amount_costs[action]["fraud"] * amount
                legitimate += self.amount_costs[action]["legitimate"] * amount
            expected[action] = score * fraud + (1.0 - score) * legitimate
        # min() keeps the first of equal values: ties go to the table's first action.
        best = min(expected, key=expected.__getitem__)
        others = ", ".join(f"{a} {c:.2f}" for a, c in expected.items() if a != best)
        reasons = [
            f"expected cost of {best} {expected[best]:.2f} at score {score:.2f} is the lowest"
            + (f" ({others})" if others else "")
        ]
        if self.amount_feature is not None:
            if amount is None:
                reasons.append(f"{self.amount_feature} missing: fixed costs only")
            else:
                reasons.append(f"costs scaled by {self.amount_feature}={amount:g}")
        return Decision(best, tuple(reasons))


def _check_table(name: str, table: Mapping[Action, Mapping[Outcome, float]]) -> None:
    for action, cells in table.items():
        missing = sorted({"fraud", "legitimate"} - set(cells))
        if missing:
            raise ValueError(f"{name}[{action!r}] lacks outcome(s): {', '.join(missing)}")
        for outcome, value in cells.items():
            if not math.isfinite(value):
                raise ValueError(f"{name}[{action!r}][{outcome!r}] must be finite")


def _probability(index: int, score: object) -> float:
    if type(score) is float and 0.0 <= score <= 1.0:  # the usual case, checked cheaply
        return score
    # NumPy scalars of any width are accepted; bools and strings are not numbers here.
    if not isinstance(score, bool) and isinstance(score, int | float | np.number):
        value = float(score)
        if 0.0 <= value <= 1.0:
            return value
    raise ValueError(f"score {index} must be a probability in [0, 1], got {score!r}")


def _amount(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
