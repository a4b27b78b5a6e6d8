"""The spline logistic recipe's NumPy path: the same probabilities as scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rpaml_models import DecisionPolicy, FeatureSchema, ModelRegistry
from rpaml_models.compiled import compile_model
from rpaml_models.recipes import build_recipe


@pytest.mark.parametrize("calibration", ["none", "sigmoid", "isotonic"])
def test_the_numpy_path_matches_scikit_learn(
    calibration: str,
    claims: tuple[pd.DataFrame, np.ndarray],
    schema: FeatureSchema,
    policy: DecisionPolicy,
    tmp_path: Path,
) -> None:
    frame, labels = claims
    data = schema.coerce_frame(frame)
    pipeline = build_recipe(
        schema, "spline_logistic", {}, calibration=calibration
    ).fit(  # type: ignore[arg-type]
        data.iloc[:900], labels[:900]
    )
    holdout = data.iloc[900:].reset_index(drop=True)
    # Values the training never saw: missing numbers, unknown categories, huge amounts.
    odd = holdout.head(20).copy()
    odd.loc[:4, "amount"] = np.nan
    odd.loc[5:9, "amount"] = 1e9
    odd.loc[10:14, "channel"] = None
    _, report = compile_model(pipeline, schema, policy, pd.concat([holdout, odd]))
    assert report.runtime == "numpy", report.reason
    assert report.decision_mismatches == 0
    assert report.max_probability_difference is not None
    assert report.max_probability_difference <= 1e-9

    registry = ModelRegistry(tmp_path)
    registry.register(
        "m", pipeline, schema=schema, policy=policy, training_data_hash="sha256:x",
        metrics={}, params={}, holdout=holdout,
    )  # fmt: skip
    loaded = registry.load("m", "1")
    assert loaded.runtime == "numpy"
    rows = frame.iloc[900:920].to_dict(orient="records")
    rows[0]["amount"], rows[1]["amount"], rows[2]["channel"] = None, 1e9, None
    outcome = loaded.score(rows, explain=False)
    assert outcome.ok, outcome.issues
    checked, issues = schema.validate_rows(rows)
    assert not issues
    expected = pipeline.predict_proba(checked)[:, 1]
    np.testing.assert_allclose([r.score for r in outcome.results], expected, rtol=0, atol=1e-12)
