"""Shadow scoring: the challenger scores the rows the champion validated, beside it.

What a shadow decision needs is the challenger's probability, the action its policy
chooses and every action's expected cost; not reasons, which nobody reads for a decision
that is never acted on. So the rows are not validated again when the challenger has the
champion's feature schema (the usual case: the same process file trained both): the
champion's validated columns are encoded by the challenger's own preprocessing (or, when
that encodes exactly as the champion's does, the champion's matrix is read as it is), it
predicts once, and the policy decides as one vectorised step. That is what keeps shadow
mode to a fraction of the champion's cost per request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rpaml_models.loaded import LoadedModel, ValidatedRows


@dataclass(frozen=True, slots=True)
class ShadowScores:
    """The challenger's decisions for a batch, in row order.

    Attributes
    ----------
    version, policy_version : str
        The challenger version and the policy registered with it.
    scores : list of float
        Probabilities of the positive outcome.
    actions : list of str
        The action the challenger's policy chooses for each row.
    expected_costs : list of dict, or None
        Every action's expected cost per row (a costs policy only).
    """

    version: str
    policy_version: str
    scores: list[float]
    actions: list[str]
    expected_costs: list[dict[str, float]] | None

    def __len__(self) -> int:
        return len(self.scores)

    def part(self, start: int, end: int) -> ShadowScores:
        """Rows ``start`` to ``end`` (one request's share of a micro-batch)."""
        return ShadowScores(
            self.version,
            self.policy_version,
            self.scores[start:end],
            self.actions[start:end],
            None if self.expected_costs is None else self.expected_costs[start:end],
        )


def score_in_shadow(
    challenger: LoadedModel, champion: LoadedModel, validated: ValidatedRows
) -> ShadowScores | None:
    """The challenger's decisions for rows ``champion`` validated.

    Returns None when the rows do not fit the challenger's schema (a challenger trained
    on other features): the champion's answer must not fail because of its shadow.
    """
    n_rows = len(validated)
    if challenger.schema == champion.schema:
        columns = validated.columns
        encoded = (
            validated.encoded
            if challenger.encodes_like(champion)
            else challenger.encode(columns, n_rows)
        )
    else:
        # Only the challenger's own features: one the champion has and it has not is
        # not the request's mistake.
        names = challenger.schema.names
        rows = [{k: row[k] for k in names if k in row} for row in validated.rows]
        own, _ = challenger.validate(rows)
        if own is None:
            return None
        encoded, columns = own.encoded, own.columns
    scores = challenger.predict_encoded(encoded) if n_rows else np.empty(0, dtype=np.float64)
    policy = challenger.policy
    actions = policy.actions
    if policy.kind == "thresholds":
        chosen = policy.choose(scores)
        return ShadowScores(
            challenger.version,
            policy.version,
            scores.tolist(),
            [actions[i] for i in chosen.tolist()],
            None,
        )
    amounts: npt.NDArray[np.float64] = (
        np.asarray(columns[policy.amount_feature], dtype=np.float64)
        if policy.amount_feature is not None
        else np.zeros(n_rows)
    )
    expected = policy.expected_costs(scores, amounts)
    # argmin keeps the first of equal costs, as DecisionPolicy.decide does.
    chosen = np.argmin(expected, axis=1) if n_rows else np.empty(0, dtype=np.int64)
    return ShadowScores(
        challenger.version,
        policy.version,
        scores.tolist(),
        [actions[i] for i in chosen.tolist()],
        [dict(zip(actions, row, strict=True)) for row in expected.tolist()],
    )
