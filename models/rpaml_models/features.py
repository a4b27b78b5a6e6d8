"""The feature pipeline: preprocessing and classifier in one scikit-learn Pipeline.

Preprocessing lives inside the pipeline, so the artifact that is trained is the artifact
that is served and the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from rpaml_models.schema import FeatureSchema

PREPROCESS_STEP = "preprocess"
CLASSIFIER_STEP = "classifier"

# Defaults chosen for small tabular data sets (a few thousand rows): shallow trees
# and moderate regularisation; callers override any of them through ``params``.
DEFAULT_PARAMS: Mapping[str, object] = {
    "max_iter": 200,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "random_state": 0,
}


def booleans_to_float(frame: pd.DataFrame | npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Encode boolean columns as 0.0 / 1.0, keeping missing values as NaN.

    Accepts plain ``bool`` columns, nullable ``boolean`` columns, object columns of
    ``True`` / ``False`` / ``None`` and float columns already holding 0/1/NaN, because
    training frames and request frames reach the pipeline with different dtypes.

    Parameters
    ----------
    frame : DataFrame or ndarray of shape (n_samples, n_features)
        Boolean-like columns.

    Returns
    -------
    ndarray of shape (n_samples, n_features), dtype float64
    """
    data = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    out = np.empty(data.shape, dtype=np.float64)
    for position in range(data.shape[1]):
        column = data.iloc[:, position]
        if pd.api.types.is_float_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            out[:, position] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            # dict.get semantics: np.True_ and 1.0 hash like True; anything else is NaN.
            out[:, position] = column.map({True: 1.0, False: 0.0}).to_numpy(
                dtype=np.float64, na_value=np.nan
            )
    return out


def classifier_params(params: Mapping[str, object]) -> dict[str, object]:
    """Merge ``params`` over the defaults and refuse names the classifier lacks.

    Parameters
    ----------
    params : mapping
        HistGradientBoostingClassifier parameters, e.g. ``max_iter``,
        ``learning_rate``, ``max_leaf_nodes``, ``l2_regularization``,
        ``random_state``.

    Returns
    -------
    dict
        The parameters the classifier is built with.

    Raises
    ------
    ValueError
        If a name is not a parameter of the classifier, or is one the feature
        pipeline sets itself (``categorical_features``).
    """
    allowed = set(HistGradientBoostingClassifier().get_params()) - {"categorical_features"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(
            f"unknown model parameter(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    return {**DEFAULT_PARAMS, **params}


def build_pipeline(schema: FeatureSchema, params: Mapping[str, object]) -> Pipeline:
    """Build an unfitted pipeline for ``schema``.

    The pipeline has two steps. ``"preprocess"`` is a ColumnTransformer that passes
    numeric features through, encodes booleans as 0/1 floats and ordinal-encodes each
    categorical (unknown categories and missing values become NaN, which the
    classifier routes as missing). ``"classifier"`` is a HistGradientBoostingClassifier
    told which encoded columns are categorical.

    Each input feature maps to exactly one output column, in the order numeric,
    boolean, categorical; :mod:`rpaml_models.explain` relies on that one-to-one map.

    Parameters
    ----------
    schema : FeatureSchema
        The model's inputs.
    params : mapping
        Classifier parameters, merged over :data:`DEFAULT_PARAMS`.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Notes
    -----
    The ColumnTransformer outputs a NumPy array rather than a pandas frame
    (``set_output(transform="pandas")`` is deliberately not used): the categorical
    columns are given to the classifier as a boolean mask, and building a frame on
    every scoring call would only add overhead to the service's hot path. A
    categorical feature may have at most 255 distinct training values (the
    classifier's bin limit).
    """
    merged = classifier_params(params)
    transformers: list[tuple[str, object, list[str]]] = []
    mask: list[bool] = []
    numeric = list(schema.names_of_kind("numeric"))
    if numeric:
        transformers.append(("numeric", "passthrough", numeric))
        mask.extend([False] * len(numeric))
    boolean = list(schema.names_of_kind("boolean"))
    if boolean:
        transformers.append(
            (
                "boolean",
                FunctionTransformer(
                    booleans_to_float, feature_names_out="one-to-one", validate=False
                ),
                boolean,
            )
        )
        mask.extend([False] * len(boolean))
    # One encoder per categorical: each can then carry its own fixed category list.
    for spec in schema.features:
        if spec.kind != "categorical":
            continue
        encoder = OrdinalEncoder(
            categories=[list(spec.categories)] if spec.categories is not None else "auto",
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
            dtype=np.float64,
        )
        transformers.append((f"categorical_{spec.name}", encoder, [spec.name]))
        mask.append(True)
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    classifier = HistGradientBoostingClassifier(
        categorical_features=np.array(mask) if any(mask) else None, **merged
    )
    return Pipeline([(PREPROCESS_STEP, preprocess), (CLASSIFIER_STEP, classifier)])


def encoded_feature_order(schema: FeatureSchema) -> tuple[str, ...]:
    """Feature names in the column order of the preprocessing step's output."""
    return (
        schema.names_of_kind("numeric")
        + schema.names_of_kind("boolean")
        + schema.names_of_kind("categorical")
    )
