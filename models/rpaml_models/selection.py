"""Training that chooses and calibrates: candidates compared by out-of-fold business cost.

Each candidate recipe, uncalibrated and with each calibration, is fitted on K-1 folds of
a seeded stratified split and scores the held-out fold, so every labeled record gets one
out-of-fold probability per candidate. The candidate whose out-of-fold probabilities,
decided by the policy, cost least wins (log loss breaks ties); it is refitted on every
labeled record. The same records, recipes and seed give the same model, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from rpaml_models.card_data import curves, importance
from rpaml_models.drift import DriftReference, build_reference
from rpaml_models.evaluation import (
    amounts_of,
    calibration_table,
    cost_report,
    probability_metrics,
    realised_costs,
)
from rpaml_models.explain import BaselineValue, compute_baseline
from rpaml_models.policy import DecisionPolicy
from rpaml_models.recipes import Calibration, RecipeKind, build_recipe
from rpaml_models.schema import FeatureSchema
from rpaml_models.training import Labels, check_labels

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Candidate:
    """A recipe training may choose: a name, a kind and its parameters."""

    name: str
    kind: RecipeKind
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SelectionSettings:
    """How candidates are compared."""

    folds: int = 5
    seed: int = 0
    calibrations: tuple[Calibration, ...] = ("none", "sigmoid", "isotonic")
    bootstrap: int = 1000
    tie_standard_errors: float = 1.0
    """Out-of-fold costs within this many standard errors of the cheapest are a tie."""


@dataclass(frozen=True)
class SelectionResult:
    """The winner refitted on every record, and the evidence for choosing it.

    Attributes
    ----------
    pipeline : Pipeline
        The winning recipe (calibration included) fitted on all the records.
    winner : dict
        ``name``, ``kind``, ``calibration`` and ``params`` of the winner.
    metrics : dict of str to float
        The winner's out-of-fold metrics and cost per record.
    evaluation : dict
        Candidates' scores, calibration table, costs with intervals, action mix.
    oof : ndarray
        The winner's out-of-fold probabilities, one per record.
    """

    pipeline: Pipeline
    winner: dict[str, Any]
    metrics: dict[str, float]
    evaluation: dict[str, Any]
    oof: FloatArray
    baseline: dict[str, BaselineValue]
    data: pd.DataFrame
    reference: DriftReference | None = None
    """The features' and out-of-fold scores' binned distributions, for monitoring."""


def out_of_fold(
    schema: FeatureSchema,
    candidate: Candidate,
    data: pd.DataFrame,
    y: npt.NDArray[np.int64],
    settings: SelectionSettings,
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Each record's uncalibrated probability from the model fitted on the other folds,
    and the fold each record was held out in."""
    folds = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    oof = np.empty(len(y), dtype=np.float64)
    fold_of = np.empty(len(y), dtype=np.int64)
    for index, (train, test) in enumerate(folds.split(data, y)):
        model = build_recipe(schema, candidate.kind, candidate.params, seed=settings.seed)
        model.fit(data.iloc[train], y[train])
        positive = list(model.classes_).index(1)
        oof[test] = model.predict_proba(data.iloc[test])[:, positive]
        fold_of[test] = index
    return oof, fold_of


def calibrated_out_of_fold(
    oof: FloatArray,
    fold_of: npt.NDArray[np.int64],
    y: npt.NDArray[np.int64],
    calibration: Calibration,
) -> FloatArray:
    """Out-of-fold probabilities after ``calibration``, the calibrator of each fold fitted
    on the other folds' out-of-fold scores.

    The refitted model (``CalibratedClassifierCV`` with ``ensemble=False`` over the same
    folds) fits its calibrator on exactly these out-of-fold scores; fitting it on the
    other folds only is what keeps each fold's estimate honest, and reusing the scores
    spares refitting every candidate once per calibration and fold.
    """
    if calibration == "none":
        return oof
    out = np.empty_like(oof)
    for fold in np.unique(fold_of):
        held = fold_of == fold
        calibrator = fit_calibrator(oof[~held], y[~held], calibration)
        out[held] = calibrator(oof[held])
    return out


def fit_calibrator(scores: FloatArray, y: npt.NDArray[np.int64], calibration: Calibration) -> Any:
    """The map from scores to calibrated probabilities ``CalibratedClassifierCV`` fits."""
    if calibration == "isotonic":
        isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        isotonic.fit(scores, y)
        return lambda s: np.asarray(isotonic.predict(s), dtype=np.float64)
    # Platt scaling on the score's log-odds, as sklearn's sigmoid calibration does on the
    # decision function (for these recipes, the log-odds).
    logit = _logit(scores)
    platt = LogisticRegression(C=1e6).fit(logit[:, None], y)
    return lambda s: np.asarray(platt.predict_proba(_logit(s)[:, None])[:, 1], np.float64)


def _logit(p: FloatArray) -> FloatArray:
    clipped = np.clip(p, 1e-12, 1 - 1e-12)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=np.float64)


def select_and_train(
    frame: pd.DataFrame,
    labels: Labels,
    schema: FeatureSchema,
    candidates: Sequence[Candidate],
    policy: DecisionPolicy,
    settings: SelectionSettings | None = None,
    *,
    champion: FloatArray | None = None,
) -> SelectionResult:
    """Compare ``candidates`` by out-of-fold cost under ``policy``; refit the cheapest.

    Parameters
    ----------
    frame : DataFrame
        Labeled rows with the schema's columns.
    labels : sequence of int
        1 for the policy's second outcome, 0 for its first.
    schema : FeatureSchema
    candidates : sequence of Candidate
        At least one.
    policy : DecisionPolicy
        A costs policy (a thresholds policy is compared by log loss alone).
    settings : SelectionSettings, optional
    champion : ndarray, optional
        The champion's probabilities for the same rows, reported as a baseline.

    Raises
    ------
    ValueError
        Without candidates, for bad labels, or a class too small for the folds.
    """
    settings = settings or SelectionSettings()
    if not candidates:
        raise ValueError("no candidate recipes to train")
    data = schema.coerce_frame(frame).reset_index(drop=True)
    y = check_labels(labels, len(data))
    smallest = int(np.bincount(y, minlength=2).min())
    if smallest < settings.folds:
        raise ValueError(
            f"{settings.folds}-fold cross-validation needs at least {settings.folds} rows of "
            f"each class, the smaller has {smallest}"
        )
    amounts = amounts_of(policy, data)
    scored: list[dict[str, Any]] = []
    predictions: list[FloatArray] = []
    per_record: list[FloatArray] = []
    for candidate in candidates:
        raw, fold_of = out_of_fold(schema, candidate, data, y, settings)
        for calibration in settings.calibrations:
            oof = calibrated_out_of_fold(raw, fold_of, y, calibration)
            metrics = probability_metrics(y, oof)
            per_record.append(_costs(policy, oof, y, amounts))
            cost = float(per_record[-1].mean())
            scored.append(
                {
                    "name": candidate.name,
                    "kind": candidate.kind,
                    "calibration": calibration,
                    "params": dict(candidate.params),
                    "cost_per_record": cost,
                    **metrics,
                }
            )
            predictions.append(oof)
    best = _choose(scored, per_record, settings.tie_standard_errors)
    chosen, oof = scored[best], predictions[best]
    pipeline = build_recipe(
        schema,
        chosen["kind"],
        chosen["params"],
        calibration=chosen["calibration"],
        seed=settings.seed,
        calibration_folds=settings.folds,
    ).fit(data, y)
    report = cost_report(
        policy, oof, y, amounts, seed=settings.seed, n_bootstrap=settings.bootstrap,
        champion=champion,
    )  # fmt: skip
    metrics = {
        k: float(v)
        for k, v in chosen.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    evaluation = {
        "method": (
            f"{settings.folds}-fold stratified cross-validation (seed {settings.seed}), "
            "out-of-fold probabilities; calibrations: " + ", ".join(settings.calibrations)
        ),
        "records": len(y),
        "candidates": scored,
        "winner": {k: chosen[k] for k in ("name", "kind", "calibration", "params")},
        "why": _why(scored, best),
        "calibration_table": calibration_table(y, oof),
        **report,
        "curves": curves(policy, oof, y, amounts),
        "permutation_importance": importance(pipeline, data, y, seed=settings.seed),
    }
    return SelectionResult(
        pipeline=pipeline,
        winner=evaluation["winner"],
        metrics=metrics,
        evaluation=evaluation,
        oof=oof,
        baseline=compute_baseline(data, schema),
        data=data,
        reference=build_reference(data, schema, oof),
    )


def _costs(
    policy: DecisionPolicy, p: FloatArray, y: npt.NDArray[np.int64], amounts: FloatArray
) -> FloatArray:
    if policy.kind != "costs":
        return np.zeros(len(y))
    return realised_costs(policy, policy.choose(p, amounts), y, amounts)


def _choose(scored: list[dict[str, Any]], per_record: list[FloatArray], ties: float) -> int:
    """The cheapest candidate, where costs within ``ties`` standard errors of the paired
    difference to the cheapest are a tie that log loss decides.

    A few large positive records move a realised cost a lot: two candidates whose
    difference is well inside its own noise are not told apart by cost, and the less
    noisy log loss is the better judge between them.
    """
    cheapest = min(range(len(scored)), key=lambda i: scored[i]["cost_per_record"])
    tied = []
    for index, costs in enumerate(per_record):
        difference = costs - per_record[cheapest]
        error = float(difference.std(ddof=1) / np.sqrt(len(difference))) if len(costs) > 1 else 0.0
        margin = ties * error
        scored[index]["tied_with_cheapest"] = bool(difference.mean() <= margin + 1e-9)
        if scored[index]["tied_with_cheapest"]:
            tied.append(index)
    return min(tied, key=lambda i: (scored[i]["log_loss"], scored[i]["cost_per_record"]))


def _why(scored: list[dict[str, Any]], best: int) -> str:
    winner = scored[best]
    cheapest = min(scored, key=lambda row: row["cost_per_record"])
    tied = sum(row["tied_with_cheapest"] for row in scored)
    if winner is cheapest or winner["cost_per_record"] == cheapest["cost_per_record"]:
        text = (
            f"{winner['name']} ({winner['calibration']} calibration) had the lowest "
            f"out-of-fold expected cost, {winner['cost_per_record']:,.2f} per record"
        )
    else:
        text = (
            f"{winner['name']} ({winner['calibration']} calibration) had the lowest "
            f"out-of-fold expected cost within the noise ({winner['cost_per_record']:,.2f} "
            f"per record against the cheapest's {cheapest['cost_per_record']:,.2f}: "
            f"{tied} candidates tied within one standard error) and the lowest log loss "
            f"among them, {winner['log_loss']:.4f}"
        )
    return text
