"""Decision policies: from a model's probability to an action a robot can carry out.

A policy is versioned and stored next to the model it was registered with, so every
decision can be traced to the exact rule that produced it. The actions and outcomes are
names the process file gives; this module knows none of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = str


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one score and why.

    Attributes
    ----------
    action : str
        One of the policy's actions.
    reasons : tuple of str
        Readable statements of the rule applied, e.g.
        ``"expected cost: a 310, b 150, c 2,210 -> b"``.
    expected_costs : dict of str to float or None
        Every action's expected cost (a costs policy only).
    """

    action: Action
    reasons: tuple[str, ...]
    expected_costs: dict[str, float] | None = None


class CostCell(BaseModel):
    """The cost of one action when one outcome turns out true: ``fixed + per_unit * amount``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fixed: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    per_unit: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)


class DecisionPolicy(BaseModel):
    """A versioned rule mapping a positive-outcome probability to an action.

    ``kind="thresholds"``: ``actions[0]`` when ``score < lower``, ``actions[2]`` when
    ``score >= upper``, ``actions[1]`` in between.

    ``kind="costs"``: the action of lowest expected cost::

        cost(a) = p * cell(a, outcomes[1]) + (1 - p) * cell(a, outcomes[0])

    where ``p`` is the model's probability of label 1 (``outcomes[1]``) and a cell is
    ``fixed + per_unit * amount`` with ``amount`` the row's ``amount_feature`` (a missing
    amount counts the fixed costs only). Ties go to the action listed first.

    Parameters
    ----------
    version : str
        Identifier recorded with every decision.
    kind : {"thresholds", "costs"}
    actions : tuple of str
        The actions, in tie-break order (three, low to high, for thresholds).
    lower, upper : float, default=None
        Thresholds, ``0 <= lower <= upper <= 1``; thresholds policies only.
    outcomes : tuple of (str, str), default=None
        Names of label 0 and label 1; costs policies only.
    costs : dict, default=None
        ``costs[action][outcome]`` as :class:`CostCell`; every action needs every outcome.
    amount_feature : str, default=None
        Feature holding the amount the ``per_unit`` costs multiply.
    compiled_score_tolerance : float, default=1e-9
        Largest probability difference between the compiled (ONNX) path and
        scikit-learn that still lets the compiled path be served.
    compiled_max_decision_mismatches : int, default=0
        Parity rows allowed to be decided differently by the compiled path.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    kind: Literal["thresholds", "costs"] = "thresholds"
    actions: tuple[str, ...] = Field(min_length=1)
    lower: float | None = None
    upper: float | None = None
    outcomes: tuple[str, str] | None = None
    costs: dict[str, dict[str, CostCell]] | None = None
    amount_feature: str | None = None
    compiled_score_tolerance: float = Field(
        default=1e-9,
        ge=0.0,
        le=1.0,
        description=(
            "Largest probability difference allowed between the compiled (ONNX) "
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
        if len(set(self.actions)) != len(self.actions):
            raise ValueError(f"actions must be distinct, got {list(self.actions)}")
        if self.kind == "thresholds":
            low, high = self.lower, self.upper
            if low is None or high is None or len(self.actions) != 3:
                raise ValueError("a thresholds policy needs three actions, lower and upper")
            if not (0.0 <= low <= high <= 1.0):
                raise ValueError(
                    f"thresholds must satisfy 0 <= lower <= upper <= 1, got {low} and {high}"
                )
            if self.costs is not None or self.outcomes is not None:
                raise ValueError("a thresholds policy takes no costs or outcomes")
            return self
        if self.lower is not None or self.upper is not None:
            raise ValueError("a costs policy takes no thresholds")
        if not self.costs or self.outcomes is None:
            raise ValueError("a costs policy needs outcomes and a costs table")
        missing = [a for a in self.actions if a not in self.costs]
        extra = [a for a in self.costs if a not in self.actions]
        if missing or extra:
            raise ValueError(
                f"costs must list exactly the actions {list(self.actions)} "
                f"(missing {missing}, unknown {extra})"
            )
        for action, cells in self.costs.items():
            lacking = [o for o in self.outcomes if o not in cells]
            unknown = [o for o in cells if o not in self.outcomes]
            if lacking or unknown:
                raise ValueError(
                    f"costs[{action!r}] must give every outcome {list(self.outcomes)} "
                    f"(missing {lacking}, unknown {unknown})"
                )
        per_unit = any(c.per_unit for cells in self.costs.values() for c in cells.values())
        if per_unit and self.amount_feature is None:
            raise ValueError("per_unit costs need amount_feature naming the amount")
        return self

    # -- the cost table as arrays ------------------------------------------------------

    def cost_matrices(
        self, amounts: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Per-row cost of each action under outcome 0 and under outcome 1.

        Parameters
        ----------
        amounts : ndarray of shape (n_rows,)
            The rows' amounts; NaN counts as 0 (fixed costs only).

        Returns
        -------
        if_negative, if_positive : ndarray of shape (n_rows, n_actions)
        """
        assert self.costs is not None and self.outcomes is not None
        amount = np.nan_to_num(np.asarray(amounts, dtype=np.float64), nan=0.0)[:, None]
        negative, positive = self.outcomes

        def table(outcome: str) -> npt.NDArray[np.float64]:
            assert self.costs is not None
            fixed = np.array([self.costs[a][outcome].fixed for a in self.actions])
            unit = np.array([self.costs[a][outcome].per_unit for a in self.actions])
            return np.asarray(fixed[None, :] + unit[None, :] * amount, dtype=np.float64)

        return table(negative), table(positive)

    def expected_costs(
        self, scores: npt.NDArray[np.float64], amounts: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Expected cost of every action per row, shape ``(n_rows, n_actions)``."""
        if_negative, if_positive = self.cost_matrices(amounts)
        p = np.asarray(scores, dtype=np.float64)[:, None]
        return np.asarray(p * if_positive + (1.0 - p) * if_negative, dtype=np.float64)

    def choose(
        self, scores: npt.NDArray[np.float64], amounts: npt.NDArray[np.float64] | None = None
    ) -> npt.NDArray[np.int64]:
        """Index into :attr:`actions` of each row's action (vectorised :meth:`decide`)."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.kind == "thresholds":
            assert self.lower is not None and self.upper is not None
            return np.where(scores >= self.upper, 2, np.where(scores < self.lower, 0, 1))
        if amounts is None:
            amounts = np.zeros(len(scores))
        # argmin keeps the first of equal values: ties go to the first action listed.
        return np.asarray(np.argmin(self.expected_costs(scores, amounts), axis=1), np.int64)

    def amounts_of(
        self, rows: Sequence[Mapping[str, object]] | None, n: int
    ) -> npt.NDArray[np.float64]:
        """The rows' amounts as floats (NaN where missing or not a number)."""
        if self.amount_feature is None:
            return np.zeros(n)
        if rows is None or len(rows) != n:
            raise ValueError(
                f"policy {self.version} scales costs by {self.amount_feature!r}: "
                "pass the scored rows, one per score"
            )
        name = self.amount_feature
        return np.array([_amount(row.get(name)) for row in rows], dtype=np.float64)

    # -- deciding ----------------------------------------------------------------------

    def decide(
        self,
        scores: Sequence[float],
        rows: Sequence[Mapping[str, object]] | None = None,
    ) -> list[Decision]:
        """Decide an action for each score.

        Parameters
        ----------
        scores : sequence of float
            Probabilities of label 1, in [0, 1].
        rows : sequence of mappings, default=None
            The scored rows, one per score; needed by a costs policy with an
            ``amount_feature``.

        Raises
        ------
        ValueError
            If a score is not a probability, or ``rows`` is needed and absent or of
            the wrong length.
        """
        probabilities = [_probability(index, score) for index, score in enumerate(scores)]
        if self.kind == "thresholds":
            return self._by_thresholds(probabilities)
        amounts = self.amounts_of(rows, len(probabilities))
        expected = self.expected_costs(np.array(probabilities, dtype=np.float64), amounts)
        best = np.argmin(expected, axis=1).tolist() if len(probabilities) else []
        decisions: list[Decision] = []
        for row_costs, choice in zip(expected.tolist(), best, strict=True):
            costs = dict(zip(self.actions, row_costs, strict=True))
            listed = ", ".join(f"{a} {c:,.0f}" for a, c in costs.items())
            action = self.actions[choice]
            reason = f"expected cost: {listed} -> {action}"
            decisions.append(Decision(action, (reason,), costs))
        return decisions

    def _by_thresholds(self, scores: list[float]) -> list[Decision]:
        """:meth:`_by_threshold` for a batch, formatting each distinct reason once.

        A reason shows the score to two decimals, so a batch has at most a few hundred
        distinct decisions; building each once (and sharing the frozen result) is what
        keeps deciding a large batch cheap.
        """
        low, high = self.lower, self.upper
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
        low, high = self.lower, self.upper
        assert low is not None and high is not None  # guaranteed by the validator
        first, middle, last = self.actions
        if score >= high:
            return Decision(last, (f"score {score:.2f} ≥ {last} threshold {high:.2f}",))
        if score < low:
            return Decision(first, (f"score {score:.2f} < {first} threshold {low:.2f}",))
        return Decision(
            middle,
            (
                f"score {score:.2f} between {first} threshold {low:.2f} "
                f"and {last} threshold {high:.2f}",
            ),
        )


def _probability(index: int, score: object) -> float:
    if type(score) is float and 0.0 <= score <= 1.0:  # the usual case, checked cheaply
        return score
    # NumPy scalars of any width are accepted; bools and strings are not numbers here.
    if not isinstance(score, bool) and isinstance(score, int | float | np.number):
        value = float(score)
        if 0.0 <= value <= 1.0:
            return value
    raise ValueError(f"score {index} must be a probability in [0, 1], got {score!r}")


def _amount(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan
