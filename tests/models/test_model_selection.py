"""Training that chooses and calibrates: out-of-fold cost decides, reproducibly."""

from __future__ import annotations

import hashlib
import io

import joblib
import numpy as np
import pandas as pd
import pytest

from rpaml_models import CostCell, DecisionPolicy, FeatureSchema
from rpaml_models.comparison import compare_versions
from rpaml_models.evaluation import (
    amounts_of,
    calibration_table,
    expected_calibration_error,
    realised_costs,
)
from rpaml_models.selection import Candidate, SelectionSettings, select_and_train

POLICY = DecisionPolicy(
    version="c1",
    kind="costs",
    actions=("pay", "review", "deny"),
    outcomes=("good", "bad"),
    costs={
        "pay": {"bad": CostCell(per_unit=1.0), "good": CostCell()},
        "review": {"bad": CostCell(fixed=150), "good": CostCell(fixed=150)},
        "deny": {"bad": CostCell(), "good": CostCell(fixed=2500)},
    },
    amount_feature="amount",
)
CANDIDATES = [
    Candidate("splines", "spline_logistic", {"C": 0.3, "n_knots": 4}),
    Candidate("boosting", "gradient_boosting", {"max_iter": 60}),
]
SETTINGS = SelectionSettings(folds=3, seed=5, calibrations=("none", "sigmoid"), bootstrap=200)


@pytest.fixture(scope="module")
def selected(claims: tuple[pd.DataFrame, np.ndarray], schema: FeatureSchema):
    frame, labels = claims
    return select_and_train(frame, labels, schema, CANDIDATES, POLICY, SETTINGS)


def _artifact_hash(pipeline: object) -> str:
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def test_the_cheapest_out_of_fold_candidate_wins(selected, claims) -> None:
    evaluation = selected.evaluation
    scored = evaluation["candidates"]
    assert len(scored) == len(CANDIDATES) * len(SETTINGS.calibrations)
    # The winner has the lowest log loss among the candidates whose out-of-fold cost is
    # within one standard error of the cheapest's (the cheapest itself is always tied).
    cheapest = min(scored, key=lambda row: row["cost_per_record"])
    assert cheapest["tied_with_cheapest"]
    tied = [row for row in scored if row["tied_with_cheapest"]]
    best = min(tied, key=lambda row: row["log_loss"])
    assert (selected.winner["name"], selected.winner["calibration"]) == (
        best["name"],
        best["calibration"],
    )
    chosen = next(
        row
        for row in scored
        if (row["name"], row["calibration"]) == (best["name"], best["calibration"])
    )
    # The winner's recorded cost is the realised cost of its out-of-fold decisions.
    frame, labels = claims
    amounts = amounts_of(POLICY, frame)
    realised = realised_costs(POLICY, POLICY.choose(selected.oof, amounts), labels, amounts)
    assert evaluation["cost_per_record"]["policy"]["mean"] == pytest.approx(realised.mean())
    assert chosen["cost_per_record"] == pytest.approx(realised.mean())


def test_the_evaluation_holds_metrics_intervals_and_baselines(selected) -> None:
    evaluation = selected.evaluation
    for key in ("roc_auc", "average_precision", "log_loss", "brier", "ece"):
        assert key in selected.metrics
    costs = evaluation["cost_per_record"]
    assert {"policy", "always pay", "always review", "always deny", "best single threshold"} <= set(
        costs
    )
    for row in costs.values():
        assert row["low"] <= row["mean"] <= row["high"]
    # Reviewing everything costs exactly the fixed 150.
    assert costs["always review"]["mean"] == pytest.approx(150.0)
    assert costs["policy"]["mean"] < costs["always pay"]["mean"]
    assert sum(evaluation["action_mix"].values()) == pytest.approx(1.0)
    assert len(evaluation["calibration_table"]) == 10
    assert "lowest out-of-fold expected cost" in evaluation["why"]


def test_without_a_tie_tolerance_the_cheapest_candidate_wins(claims, schema) -> None:
    frame, labels = claims
    strict = SelectionSettings(folds=3, seed=5, calibrations=("none",), bootstrap=200,
                               tie_standard_errors=0.0)  # fmt: skip
    result = select_and_train(frame, labels, schema, CANDIDATES, POLICY, strict)
    cheapest = min(result.evaluation["candidates"], key=lambda row: row["cost_per_record"])
    assert result.winner["name"] == cheapest["name"]


def test_same_records_and_seed_give_the_same_model(selected, claims, schema) -> None:
    frame, labels = claims
    again = select_and_train(frame, labels, schema, CANDIDATES, POLICY, SETTINGS)
    assert again.metrics == selected.metrics
    assert _artifact_hash(again.pipeline) == _artifact_hash(selected.pipeline)
    other_seed = SelectionSettings(folds=3, seed=6, calibrations=("none", "sigmoid"), bootstrap=200)
    moved = select_and_train(frame, labels, schema, CANDIDATES, POLICY, other_seed)
    assert moved.metrics != selected.metrics


def test_calibration_error_measures_the_gap() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(20_000)
    y = (rng.random(20_000) < p).astype(np.int64)
    assert expected_calibration_error(y, p) < 0.02
    # Scores twice too confident are far from the observed rates.
    assert expected_calibration_error(y, np.clip(p * 2 - 0.5, 0, 1)) > 0.1
    table = calibration_table(y, p)
    assert sum(row["count"] for row in table) == 20_000


def test_a_paired_comparison_sees_a_worse_challenger() -> None:
    rng = np.random.default_rng(1)
    truth = rng.random(2000) * 0.3
    y = (rng.random(2000) < truth).astype(np.int64)
    amounts = rng.lognormal(8, 1, 2000)
    good = compare_versions(POLICY, y, amounts, truth, 1 - truth, records_hash="sha256:x")
    assert good["verdict"] == "better" and good["difference"]["high"] < 0
    bad = compare_versions(POLICY, y, amounts, 1 - truth, truth, records_hash="sha256:x")
    assert bad["verdict"] == "worse" and bad["difference"]["low"] > 0
