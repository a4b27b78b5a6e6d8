"""How good probabilities and the decisions taken on them are, with intervals.

Everything here is in the policy's own terms: the realised cost of a decision is the cost
table's cell for the action taken and the outcome that came true, so "cheaper" means what
the business said it means.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from rpaml_models.policy import DecisionPolicy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CALIBRATION_BINS = 10


def probability_metrics(y: IntArray, p: FloatArray) -> dict[str, float]:
    """ROC AUC, average precision, log loss, Brier score and calibration error."""
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, clipped, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "base_rate": float(np.mean(y)),
    }


def calibration_table(
    y: FloatArray | IntArray, p: FloatArray, bins: int = CALIBRATION_BINS
) -> list[dict[str, float]]:
    """Rows sorted by score, cut in ``bins`` groups of equal size.

    Equal-count bins: with a rare positive outcome most scores are small, and equal-width
    bins would put nearly every row in the first one. ``y`` may be labels or, where they
    are known (a simulation), true probabilities.
    """
    order = np.argsort(p, kind="stable")
    table: list[dict[str, float]] = []
    for part in np.array_split(order, min(bins, len(order))):
        if len(part) == 0:
            continue
        table.append(
            {
                "count": float(len(part)),
                "score_low": float(p[part].min()),
                "score_high": float(p[part].max()),
                "mean_score": float(p[part].mean()),
                "observed_rate": float(np.mean(y[part])),
            }
        )
    return table


def expected_calibration_error(
    y: FloatArray | IntArray, p: FloatArray, bins: int = CALIBRATION_BINS
) -> float:
    """Count-weighted mean gap between mean score and observed rate over the bins."""
    table = calibration_table(y, p, bins)
    total = sum(row["count"] for row in table)
    return float(
        sum(row["count"] * abs(row["mean_score"] - row["observed_rate"]) for row in table) / total
    )


def amounts_of(policy: DecisionPolicy, columns: Any) -> FloatArray:
    """The policy's amount column of a frame (or mapping of columns), NaN where missing."""
    if policy.amount_feature is None:
        return np.zeros(len(columns))
    values = np.asarray(columns[policy.amount_feature], dtype=object)
    out = np.full(len(values), np.nan)
    for index, value in enumerate(values.tolist()):
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[index] = float(value)
    return out


def realised_costs(
    policy: DecisionPolicy, choices: IntArray, y: IntArray, amounts: FloatArray
) -> FloatArray:
    """Cost of taking action ``choices[i]`` when the outcome was ``y[i]``."""
    if_negative, if_positive = policy.cost_matrices(amounts)
    rows = np.arange(len(choices))
    return np.where(y == 1, if_positive[rows, choices], if_negative[rows, choices])


def expected_costs_given_truth(
    policy: DecisionPolicy, choices: IntArray, truth: FloatArray, amounts: FloatArray
) -> FloatArray:
    """Expected cost of ``choices`` when the true positive probabilities are ``truth``."""
    if_negative, if_positive = policy.cost_matrices(amounts)
    rows = np.arange(len(choices))
    return np.asarray(
        truth * if_positive[rows, choices] + (1 - truth) * if_negative[rows, choices],
        dtype=np.float64,
    )


def bootstrap_interval(values: FloatArray, *, seed: int, n: int = 1000) -> dict[str, float]:
    """Mean of ``values`` with a percentile bootstrap 95% interval (seeded)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n, len(values)))].mean(axis=1)
    return {
        "mean": float(values.mean()),
        "low": float(np.percentile(means, 2.5)),
        "high": float(np.percentile(means, 97.5)),
    }


def paired_difference(
    first: FloatArray, second: FloatArray, *, seed: int, n: int = 2000
) -> dict[str, float]:
    """``first - second`` per record, its mean and paired bootstrap 95% interval."""
    if len(first) != len(second):
        raise ValueError("a paired comparison needs the same records on both sides")
    return bootstrap_interval(np.asarray(first - second, dtype=np.float64), seed=seed, n=n)


def best_single_threshold(
    policy: DecisionPolicy, p: FloatArray, y: IntArray, amounts: FloatArray
) -> tuple[FloatArray, dict[str, Any]]:
    """The best rule "action A below a score threshold, action B at or above it".

    Searched over every ordered pair of actions and the scores' quantiles, on the same
    records it is measured on (so it flatters the baseline, not the model).
    """
    best: tuple[float, FloatArray, dict[str, Any]] | None = None
    cuts = np.unique(np.quantile(p, np.linspace(0, 1, 101)))
    for below in range(len(policy.actions)):
        for above in range(len(policy.actions)):
            for cut in cuts:
                choices = np.where(p >= cut, above, below).astype(np.int64)
                costs = realised_costs(policy, choices, y, amounts)
                mean = float(costs.mean())
                if best is None or mean < best[0]:
                    rule = {
                        "below": policy.actions[below],
                        "at_or_above": policy.actions[above],
                        "threshold": float(cut),
                    }
                    best = (mean, costs, rule)
    assert best is not None
    return best[1], best[2]


def cost_report(
    policy: DecisionPolicy,
    p: FloatArray,
    y: IntArray,
    amounts: FloatArray,
    *,
    seed: int,
    n_bootstrap: int = 1000,
    champion: FloatArray | None = None,
) -> dict[str, Any]:
    """Realised cost per record of the policy on ``p`` and of the baselines, with intervals.

    Baselines: every action taken for every record (``always <action>``), the best single
    threshold, and the champion's probabilities under the same policy when given.
    """
    choices = policy.choose(p, amounts)
    rows: dict[str, dict[str, Any]] = {}
    policy_costs = realised_costs(policy, choices, y, amounts)
    rows["policy"] = bootstrap_interval(policy_costs, seed=seed, n=n_bootstrap)
    for index, action in enumerate(policy.actions):
        always = np.full(len(p), index, dtype=np.int64)
        costs = realised_costs(policy, always, y, amounts)
        rows[f"always {action}"] = bootstrap_interval(costs, seed=seed, n=n_bootstrap)
    threshold_costs, rule = best_single_threshold(policy, p, y, amounts)
    rows["best single threshold"] = {
        **bootstrap_interval(threshold_costs, seed=seed, n=n_bootstrap),
        "rule": rule,
    }
    if champion is not None:
        champion_costs = realised_costs(policy, policy.choose(champion, amounts), y, amounts)
        rows["champion"] = bootstrap_interval(champion_costs, seed=seed, n=n_bootstrap)
    mix = np.bincount(choices, minlength=len(policy.actions)) / max(len(choices), 1)
    return {
        "cost_per_record": rows,
        "action_mix": {a: float(share) for a, share in zip(policy.actions, mix, strict=True)},
    }
