"""The model card's curves, computed when a version is trained and stored with it.

The card is drawn later from the registry alone, so the registry keeps these small
summaries (a few hundred numbers) rather than the training records themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.pipeline import Pipeline

from rpaml_models.evaluation import realised_costs
from rpaml_models.policy import CostCell, DecisionPolicy

FloatArray = npt.NDArray[np.float64]
MAX_POINTS = 200
MULTIPLIERS = (0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)


def _thin(*columns: FloatArray) -> list[list[float]]:
    """At most MAX_POINTS evenly spaced points of each curve (ends kept)."""
    n = len(columns[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int))
    return [np.round(column[keep], 6).tolist() for column in columns]


def curves(
    policy: DecisionPolicy, p: FloatArray, y: npt.NDArray[np.int64], amounts: FloatArray
) -> dict[str, Any]:
    """ROC and precision-recall curves, score histograms per outcome, and the cost of
    deciding with the middle action's costs scaled (a wider or narrower band of it)."""
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    roc_x, roc_y = _thin(fpr, tpr)
    pr_x, pr_y = _thin(recall, precision)
    edges = np.linspace(0.0, 1.0, 21)
    histograms = {
        str(label): np.histogram(p[y == label], bins=edges)[0].tolist() for label in (0, 1)
    }
    return {
        "roc": {"fpr": roc_x, "tpr": roc_y},
        "precision_recall": {"recall": pr_x, "precision": pr_y},
        "score_histograms": {"edges": edges.round(3).tolist(), "counts": histograms},
        "band": band_curve(policy, p, y, amounts),
    }


def band_curve(
    policy: DecisionPolicy, p: FloatArray, y: npt.NDArray[np.int64], amounts: FloatArray
) -> dict[str, Any]:
    """Realised cost per record when the policy decides as if its middle action cost
    ``multiplier`` times what it does (measured with the true table).

    A cheaper middle action widens the band of records given it, a dearer one narrows
    it; the curve shows what either would cost, and where the table's own choice sits.
    """
    if policy.kind != "costs" or policy.costs is None or len(policy.actions) < 3:
        return {}
    middle = policy.actions[len(policy.actions) // 2]
    points: list[dict[str, float]] = []
    for multiplier in MULTIPLIERS:
        scaled = {
            action: {
                outcome: CostCell(
                    fixed=cell.fixed * (multiplier if action == middle else 1.0),
                    per_unit=cell.per_unit * (multiplier if action == middle else 1.0),
                )
                for outcome, cell in cells.items()
            }
            for action, cells in policy.costs.items()
        }
        deciding = policy.model_copy(update={"costs": scaled})
        choices = deciding.choose(p, amounts)
        costs = realised_costs(policy, choices, y, amounts)
        share = float(np.mean(choices == policy.actions.index(middle)))
        points.append({"multiplier": multiplier, "cost": float(costs.mean()), "share": share})
    return {"action": middle, "points": points}


def importance(
    pipeline: Pipeline, data: pd.DataFrame, y: npt.NDArray[np.int64], *, seed: int
) -> list[dict[str, float | str]]:
    """Permutation importance of each input feature (drop in log loss when shuffled)."""
    result = permutation_importance(
        pipeline, data, y, scoring="neg_log_loss", n_repeats=5, random_state=seed, n_jobs=1
    )
    rows: list[dict[str, float | str]] = [
        {"feature": str(name), "mean": float(mean), "std": float(std)}
        for name, mean, std in zip(
            data.columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return sorted(rows, key=lambda row: -float(row["mean"]))
