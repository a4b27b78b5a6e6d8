"""The compiled (ONNX, double precision) scoring path: parity, fallback and integrity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from rpaml_models import (
    ArtifactIntegrityError,
    DecisionPolicy,
    FeatureSchema,
    ModelRegistry,
    TrainingResult,
)
from rpaml_models.compiled import ClassifierLayout, compile_model


def _register(
    registry: ModelRegistry,
    pipeline: Pipeline,
    trained: TrainingResult,
    schema: FeatureSchema,
    policy: DecisionPolicy,
    **options: Any,
) -> str:
    metadata = registry.register(
        "claims_fraud",
        pipeline,
        schema=schema,
        policy=policy,
        training_data_hash="sha256:abc",
        metrics=trained.metrics,
        params={},
        baseline=trained.baseline,
        **options,
    )
    return metadata.version


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in rows
    ]


def test_compiled_path_matches_scikit_learn_exactly(
    tmp_path: Path,
    trained: TrainingResult,
    schema: FeatureSchema,
    policy: DecisionPolicy,
    claims_factory: Callable[[int, int], tuple[pd.DataFrame, np.ndarray]],
) -> None:
    holdout, _ = claims_factory(400, 5)
    registry = ModelRegistry(tmp_path)
    compiled_version = _register(
        registry, trained.pipeline, trained, schema, policy, holdout=holdout
    )
    plain_version = _register(registry, trained.pipeline, trained, schema, policy, compile=False)

    report = registry.metadata("claims_fraud", compiled_version).compilation
    assert report is not None and report.runtime == "onnxruntime"
    assert report.decision_mismatches == 0
    assert report.max_probability_difference is not None
    assert report.max_probability_difference < 1e-12
    assert report.parity_rows > 400  # held-out rows plus threshold probes
    compiled = registry.load("claims_fraud", compiled_version)
    plain = registry.load("claims_fraud", plain_version)
    assert (compiled.runtime, plain.runtime) == ("onnxruntime", "sklearn")
    assert plain.runtime_reason == "registered without compilation"

    rows = _rows(holdout)
    fast = compiled.score(rows)
    slow = plain.score(rows)
    assert [r.action for r in fast.results] == [r.action for r in slow.results]
    assert [r.reasons for r in fast.results] == [r.reasons for r in slow.results]
    np.testing.assert_allclose(
        [r.score for r in fast.results], [r.score for r in slow.results], rtol=0, atol=1e-12
    )


def test_a_model_that_cannot_be_compiled_is_served_by_scikit_learn_with_the_reason(
    tmp_path: Path,
    trained: TrainingResult,
    schema: FeatureSchema,
    policy: DecisionPolicy,
    claims: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame, labels = claims
    preprocess = trained.pipeline[0]
    encoded = np.nan_to_num(preprocess.transform(schema.coerce_frame(frame)))
    linear = Pipeline(
        [("preprocess", preprocess), ("classifier", LogisticRegression(max_iter=1000))]
    )
    linear.steps[-1][1].fit(encoded, labels)

    onnx_bytes, report = compile_model(linear, schema, policy)

    assert onnx_bytes is None
    assert report.runtime == "sklearn"
    assert report.reason == "not compiled: cannot score a LogisticRegression in NumPy"


def test_parity_beyond_the_policys_tolerance_keeps_scikit_learn(
    trained: TrainingResult, schema: FeatureSchema
) -> None:
    # A negative tolerance is impossible, so the strictest allowed one is used: exact
    # equality of every probability, which double-precision trees may miss by an ulp.
    strict = DecisionPolicy(
        version="strict",
        actions=("approve", "escalate", "reject"),
        lower=0.3,
        upper=0.7,
        compiled_score_tolerance=0.0,
    )
    onnx_bytes, report = compile_model(trained.pipeline, schema, strict)

    assert report.decision_mismatches == 0
    if report.max_probability_difference == 0.0:
        assert onnx_bytes is not None and report.runtime == "onnxruntime"
    else:
        assert onnx_bytes is None and report.runtime == "sklearn"
        assert report.reason.startswith("parity failed: ")


def test_a_tampered_compiled_artifact_is_refused(
    tmp_path: Path, trained: TrainingResult, schema: FeatureSchema, policy: DecisionPolicy
) -> None:
    registry = ModelRegistry(tmp_path)
    version = _register(registry, trained.pipeline, trained, schema, policy)
    onnx_file = tmp_path / "claims_fraud" / version / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes().replace(b"trees", b"TREES"))

    with pytest.raises(ArtifactIntegrityError, match=r"model\.onnx"):
        registry.load("claims_fraud", version)


def test_categorical_lookup_tables_arrange_as_the_general_path() -> None:
    layout = ClassifierLayout(
        0.0, (1, 0), {0: np.array([0.0, 2.0, 5.0])}, {0: np.array([0.0, 2.0])}
    )
    general = ClassifierLayout(
        0.0, (1, 0), {0: np.array([0.0, 2.0, 5.0])}, {0: np.array([0.0, 2.0])}
    )
    object.__setattr__(general, "_tables", {})  # the searchsorted path
    codes = [0.0, 2.0, 5.0, 1.0, np.nan, 7.0, -1.0, 2.5, np.inf]
    encoded = np.column_stack([np.arange(len(codes), dtype=np.float64), codes])

    arranged = layout.arrange(encoded)

    np.testing.assert_array_equal(arranged, general.arrange(encoded))
    # Seen code 0 is tree code 0 (known); 2 is tree code 1 (unknown to the trees);
    # 5 is tree code 2 (known); anything else is missing.
    np.testing.assert_array_equal(
        arranged[:, 0], [0.0, np.nan, 2.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan]
    )
    assert layout._tables and not general._tables
