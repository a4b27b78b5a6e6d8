"""Candidate recipes: the model families training chooses among, each a Pipeline.

Every recipe keeps the two-step shape of :func:`rpaml_models.build_pipeline`: the same
one-column-per-feature ``preprocess`` step (so explanations, the column encoder and the
compiled path read the same matrix), then a ``classifier`` step that may itself expand
the columns (splines, one-hot) or be wrapped in a calibrator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    SplineTransformer,
    StandardScaler,
)

from rpaml_models.features import CLASSIFIER_STEP, PREPROCESS_STEP, build_pipeline
from rpaml_models.schema import FeatureSchema

RecipeKind = Literal["spline_logistic", "gradient_boosting"]
Calibration = Literal["none", "sigmoid", "isotonic"]
RECIPE_KINDS: tuple[RecipeKind, ...] = ("spline_logistic", "gradient_boosting")

# Small data (a few thousand labeled rows) overfit easily: boosting stops early on a
# validation split, and the logistic regression is regularised; both can be overridden.
GRADIENT_BOOSTING_DEFAULTS: Mapping[str, object] = {
    "learning_rate": 0.05,
    "max_iter": 400,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.2,
    "n_iter_no_change": 20,
}
SPLINE_LOGISTIC_DEFAULTS: Mapping[str, object] = {
    "C": 1.0,
    "n_knots": 5,
    "degree": 3,
    "log_scale": True,
    "extrapolation": "linear",
}


def signed_log1p(values: Any) -> Any:
    """``sign(x) * log(1 + |x|)``: tames heavy tails (amounts, durations), keeps order."""
    array = np.asarray(values, dtype=np.float64)
    return np.sign(array) * np.log1p(np.abs(array))


def build_recipe(
    schema: FeatureSchema,
    kind: RecipeKind,
    params: Mapping[str, object],
    *,
    calibration: Calibration = "none",
    seed: int = 0,
    calibration_folds: int = 5,
) -> Pipeline:
    """An unfitted pipeline of recipe ``kind``, optionally calibrated.

    Parameters
    ----------
    schema : FeatureSchema
        The model's inputs.
    kind : {"spline_logistic", "gradient_boosting"}
        ``spline_logistic``: B-splines on quantile knots for each numeric feature (after
        median imputation with a missing indicator), one-hot categories and booleans,
        into an L2-regularised logistic regression (``C``, ``n_knots``, ``degree``).
        ``gradient_boosting``: HistGradientBoostingClassifier with early stopping.
    params : mapping
        Overrides of the recipe's defaults.
    calibration : {"none", "sigmoid", "isotonic"}
        Wrap the classifier in ``CalibratedClassifierCV`` (``calibration_folds`` seeded
        stratified folds,
        ``ensemble=False``: one refitted classifier and one calibrator, so serving costs
        one model).
    seed : int
        Seeds every random choice of the recipe.

    Raises
    ------
    ValueError
        For an unknown kind or parameter.
    """
    if kind == "gradient_boosting":
        merged = {**GRADIENT_BOOSTING_DEFAULTS, **params, "random_state": seed}
        pipeline = build_pipeline(schema, merged)
    elif kind == "spline_logistic":
        pipeline = _spline_logistic(schema, params, seed)
    else:
        raise ValueError(f"unknown recipe {kind!r}; expected one of {', '.join(RECIPE_KINDS)}")
    if calibration == "none":
        return pipeline
    if calibration not in ("sigmoid", "isotonic"):
        raise ValueError(f"unknown calibration {calibration!r}")
    calibrated = CalibratedClassifierCV(
        pipeline[-1],
        method=calibration,
        cv=StratifiedKFold(calibration_folds, shuffle=True, random_state=seed),
        ensemble=False,
    )
    return Pipeline([(PREPROCESS_STEP, pipeline[0]), (CLASSIFIER_STEP, calibrated)])


def _spline_logistic(schema: FeatureSchema, params: Mapping[str, object], seed: int) -> Pipeline:
    merged: dict[str, Any] = {**SPLINE_LOGISTIC_DEFAULTS, **params}
    unknown = sorted(set(merged) - set(SPLINE_LOGISTIC_DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown spline_logistic parameter(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(SPLINE_LOGISTIC_DEFAULTS))}"
        )
    # The preprocess step's output is numeric, then boolean, then categorical columns
    # (rpaml_models.features.encoded_feature_order); the expansion addresses them by index.
    n_numeric = len(schema.names_of_kind("numeric"))
    n_boolean = len(schema.names_of_kind("boolean"))
    n_categorical = len(schema.names_of_kind("categorical"))
    numeric = list(range(n_numeric))
    discrete = list(range(n_numeric, n_numeric + n_boolean + n_categorical))
    parts: list[tuple[str, object, list[int]]] = []
    if numeric:
        # Quantile knots put the basis where the values are.
        # Heavy tails (amounts) spread over a log scale, so a linear extrapolation beyond
        # the largest training value grows with the value's order of magnitude.
        scale = [FunctionTransformer(signed_log1p)] if merged["log_scale"] else []
        splines = make_pipeline(
            *scale,
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ColumnTransformer(
                [
                    (
                        "splines",
                        SplineTransformer(
                            n_knots=int(merged["n_knots"]),
                            degree=int(merged["degree"]),
                            knots="quantile",
                            extrapolation=str(merged["extrapolation"]),
                        ),
                        list(range(n_numeric)),
                    )
                ],
                remainder="passthrough",
            ),
            StandardScaler(),
        )
        parts.append(("numeric", splines, numeric))
    if discrete:
        # Missing and unknown codes are NaN: NaN seen in training is a category of its
        # own, an unseen one is ignored (all zeros).
        parts.append(
            (
                "discrete",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64),
                discrete,
            )
        )
    expand = ColumnTransformer(parts, remainder="drop")
    classifier = Pipeline(
        [
            ("expand", expand),
            (
                "logistic",
                LogisticRegression(C=float(merged["C"]), max_iter=2000, random_state=seed),
            ),
        ]
    )
    base = build_pipeline(schema, {})
    return Pipeline([(PREPROCESS_STEP, base[0]), (CLASSIFIER_STEP, classifier)])
