"""build_pipeline, train_model and training_data_hash on learnable synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rpaml_models import (
    FeatureSchema,
    TrainingResult,
    build_pipeline,
    train_model,
    training_data_hash,
)


def test_training_learns_and_reports_holdout_metrics(trained: TrainingResult, claims):
    frame, labels = claims
    metrics = trained.metrics
    assert set(metrics) == {"roc_auc", "average_precision", "log_loss", "brier", "base_rate"}
    assert metrics["roc_auc"] > 0.75
    assert metrics["average_precision"] > metrics["base_rate"]
    assert 0.0 < metrics["brier"] < 0.25
    assert metrics["base_rate"] == pytest.approx(labels.mean())
    assert trained.n_train + trained.n_test == len(frame)
    assert trained.n_test == pytest.approx(0.25 * len(frame), abs=1)


def test_refitted_pipeline_scores_unseen_categories_and_missing_values(
    trained: TrainingResult, schema: FeatureSchema
):
    frame, issues = schema.validate_rows(
        [
            {
                "amount": None,
                "prior_claims": 1,
                "claimant_age": None,
                "police_report": None,
                "channel": "fax",
                "region": None,
            }
        ]
    )
    assert issues == []
    proba = trained.pipeline.predict_proba(frame)
    assert proba.shape == (1, 2)
    assert 0.0 < proba[0, 1] < 1.0


def test_training_is_deterministic_for_a_seed(claims, schema, params):
    frame, labels = claims
    first = train_model(frame, labels, schema, params, seed=5)
    second = train_model(frame, labels, schema, params, seed=5)
    assert first.metrics == second.metrics
    np.testing.assert_array_equal(
        first.pipeline.predict_proba(frame.head(50)), second.pipeline.predict_proba(frame.head(50))
    )


def test_baseline_is_median_and_most_frequent(trained: TrainingResult, claims):
    frame, _ = claims
    assert trained.baseline["prior_claims"] == frame["prior_claims"].median()
    assert trained.baseline["channel"] == frame["channel"].mode().sort_values().iloc[0]
    assert trained.baseline["police_report"] in (0.0, 1.0)


def test_bad_labels_and_params_are_refused(claims, schema, params):
    frame, labels = claims
    with pytest.raises(ValueError, match="expected 1200 labels"):
        train_model(frame, labels[:-1], schema, params)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        train_model(frame, labels * 2, schema, params)
    with pytest.raises(ValueError, match="at least two rows of each class"):
        train_model(frame, np.zeros(len(frame), dtype=int), schema, params)
    with pytest.raises(ValueError, match="unknown model parameter\\(s\\): max_itr"):
        build_pipeline(schema, {"max_itr": 10})


def test_pipeline_marks_categoricals_for_the_classifier(schema, params):
    pipeline = build_pipeline(schema, params)
    mask = pipeline.named_steps["classifier"].categorical_features
    # numeric (3), boolean (1), then the two categoricals.
    assert mask.tolist() == [False, False, False, False, True, True]


def test_training_data_hash_is_stable_and_order_independent(claims):
    frame, labels = claims
    reference = training_data_hash(frame, labels)
    assert reference.startswith("sha256:") and len(reference) == len("sha256:") + 64
    assert training_data_hash(frame.copy(), list(labels)) == reference

    order = np.random.default_rng(1).permutation(len(frame))
    shuffled = frame.iloc[order][list(reversed(frame.columns))].reset_index(drop=True)
    assert training_data_hash(shuffled, labels[order]) == reference

    # Integers and equal floats are the same data.
    as_float = frame.assign(prior_claims=frame["prior_claims"].astype(float))
    assert training_data_hash(as_float, labels) == reference


def test_training_data_hash_changes_with_data(claims):
    frame, labels = claims
    reference = training_data_hash(frame, labels)
    flipped = labels.copy()
    flipped[0] = 1 - flipped[0]
    assert training_data_hash(frame, flipped) != reference
    edited = frame.copy()
    edited.loc[3, "amount"] += 0.01
    assert training_data_hash(edited, labels) != reference
    renamed = frame.rename(columns={"amount": "claim_amount"})
    assert training_data_hash(renamed, labels) != reference
    missing = frame.copy()
    missing.loc[0, "channel"] = None
    assert training_data_hash(missing, labels) != reference
    assert training_data_hash(frame.head(10), labels[:10]) != training_data_hash(
        pd.concat([frame.head(10), frame.head(1)]), np.append(labels[:10], labels[0])
    )


def test_a_feature_missing_in_every_row_is_named(claims, schema, params):
    frame, labels = claims
    name = schema.names_of_kind("numeric")[0]
    empty = frame.assign(**{name: np.nan})
    with pytest.raises(ValueError, match=f"no training row has a value for {name}"):
        train_model(empty, labels, schema, params)
