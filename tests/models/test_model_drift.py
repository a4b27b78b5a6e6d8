"""Binned references at training and their shift: PSI, binned KS, unseen and missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_model_selection import CANDIDATES, POLICY, SETTINGS

from rpaml_models import FeatureSchema, ModelRegistry
from rpaml_models.drift import (
    DriftReference,
    bin_categorical,
    bin_numeric,
    count_into,
    feature_shifts,
    ks_binned,
    psi,
    shift,
)
from rpaml_models.selection import select_and_train


def test_numeric_bins_are_quantiles_with_open_outer_bins() -> None:
    values = np.arange(1, 1001, dtype=float)
    reference = bin_numeric(np.concatenate([values, [np.nan] * 7]), n_bins=10)
    assert len(reference.edges) == 9
    assert reference.counts == [100] * 10
    assert reference.missing == 7
    # Values far outside the training range still land in the outer bins.
    assert count_into(reference, [-1e9, 1e9, None]) == [1, *([0] * 8), 1, 1]


def test_a_mostly_constant_feature_keeps_distinct_edges() -> None:
    reference = bin_numeric([0.0] * 95 + [1.0, 2.0, 3.0, 4.0, 5.0])
    assert reference.edges == sorted(set(reference.edges))
    assert sum(reference.counts) == 100


def test_unseen_categories_go_to_other_and_booleans_are_categories() -> None:
    reference = bin_categorical(["a", "a", "b", None])
    assert reference.categories == ["a", "b"]
    assert reference.counts == [2, 1, 0]
    assert reference.missing == 1
    assert count_into(reference, ["b", "zzz", "zzz", None]) == [0, 1, 2, 1]
    flags = bin_categorical([True, False, True])
    assert count_into(flags, [True, "true", False]) == [2, 1, 0, 0]


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(1)
    reference = bin_numeric(rng.normal(0, 1, 20_000))
    same = shift(reference, rng.normal(0, 1, 20_000))
    small = shift(reference, rng.normal(0.3, 1, 20_000))
    large = shift(reference, rng.normal(1.0, 1, 20_000))
    assert same.psi < 0.01
    assert 0.05 < small.psi < 0.25
    assert large.psi > 0.5
    assert same.ks is not None and large.ks is not None
    assert same.ks < 0.03 and large.ks > 0.3
    assert large.ks_pvalue is not None and large.ks_pvalue < 1e-6
    assert same.rows == 20_000


def test_psi_matches_its_formula_and_an_empty_bin_stays_finite() -> None:
    expected = np.array([0.5, 0.5])
    actual = np.array([0.8, 0.2])
    by_hand = float(np.sum((actual - expected) * np.log(actual / expected)))
    assert psi([50, 50], [80, 20]) == pytest.approx(by_hand)
    assert np.isfinite(psi([100, 0], [0, 100]))


def test_binned_ks_matches_scipy_when_every_value_has_its_bin() -> None:
    from scipy import stats

    a = np.repeat([1.0, 2.0, 3.0, 4.0], [40, 30, 20, 10])
    b = np.repeat([1.0, 2.0, 3.0, 4.0], [10, 20, 30, 40])
    reference = bin_numeric(a, n_bins=4)
    statistic, _ = ks_binned(reference.counts, count_into(reference, b)[:-1])
    assert statistic == pytest.approx(stats.ks_2samp(a, b).statistic)


def test_training_stores_a_reference_for_every_feature_and_the_score(
    claims: tuple[pd.DataFrame, np.ndarray], schema: FeatureSchema, tmp_path
) -> None:
    frame, labels = claims
    result = select_and_train(frame, labels, schema, CANDIDATES, POLICY, SETTINGS)
    reference = result.reference
    assert reference is not None
    assert set(reference.features) == set(schema.names)
    assert reference.rows == len(frame)
    assert reference.score.total == len(frame)
    assert reference.features["channel"].kind == "categorical"
    registry = ModelRegistry(tmp_path)
    metadata = registry.register(
        "m",
        result.pipeline,
        schema=schema,
        policy=POLICY,
        training_data_hash="sha256:" + "0" * 64,
        metrics=result.metrics,
        params={},
        compile=False,
        reference=reference,
    )
    stored = registry.metadata("m", metadata.version).reference
    assert isinstance(stored, DriftReference)
    assert stored == reference
    # The training data itself is not drifted from its own reference.
    shifts = feature_shifts(stored, {name: frame[name] for name in schema.names})
    assert max(item.psi for item in shifts.values()) < 1e-6


def test_a_version_registered_without_reference_reads_back_without_one(
    claims: tuple[pd.DataFrame, np.ndarray], schema: FeatureSchema, tmp_path
) -> None:
    frame, labels = claims
    result = select_and_train(frame, labels, schema, CANDIDATES[:1], POLICY, SETTINGS)
    registry = ModelRegistry(tmp_path)
    metadata = registry.register(
        "m", result.pipeline, schema=schema, policy=POLICY,
        training_data_hash="sha256:" + "0" * 64, metrics={}, params={}, compile=False,
    )  # fmt: skip
    path = tmp_path / "m" / metadata.version / "metadata.json"
    assert '"reference": null' in path.read_text()
    # A file written before the field existed has no key at all.
    text = path.read_text().replace(',\n  "reference": null', "")
    path.write_text(text)
    assert registry.metadata("m", metadata.version).reference is None
