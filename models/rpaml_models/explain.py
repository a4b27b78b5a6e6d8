"""Model reasons: which features push a row's score up.

The method is baseline substitution. Every model stores a baseline row (the training
median of each numeric feature, the most frequent value of each boolean and
categorical feature). For a row, the effect of feature ``j`` is::

    score(row) - score(row with feature j set to its baseline value)

A positive effect means the row's actual value raises the score relative to a typical
row. The top effects become reasons such as ``"age=5 raises the score by
0.21"``.

Cost: the batch is preprocessed once; the variants are built in NumPy on the encoded
matrix (one copy of each row per feature whose value differs from the baseline, so at
most ``n_rows * n_features`` rows) and scored in a single ``predict_proba`` call. For
a gradient-boosting model, prediction time is linear in rows, so explaining a batch
costs about ``n_features`` times as much as scoring it, with no Python loop over
features or rows except to format the top reasons. Effects are one-at-a-time
differences, not Shapley values: interactions are attributed to each feature involved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.pipeline import Pipeline

from rpaml_models.features import encoded_feature_order
from rpaml_models.schema import FeatureSchema, FeatureSpec

BaselineValue = float | str | None
"""A baseline entry: a float for numeric and boolean (0.0 / 1.0) features, a string
for categoricals, ``None`` when the training column was entirely missing."""


def compute_baseline(frame: pd.DataFrame, schema: FeatureSchema) -> dict[str, BaselineValue]:
    """Reference value of each feature: median for numerics, most frequent otherwise.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training rows with the schema's columns (any dtypes
        :meth:`FeatureSchema.coerce_frame` accepts).
    schema : FeatureSchema
        The model's inputs.

    Returns
    -------
    dict of str to float, str or None
        Ties between equally frequent values go to the smallest value, so the
        baseline is deterministic.
    """
    coerced = schema.coerce_frame(frame)
    baseline: dict[str, BaselineValue] = {}
    for spec in schema.features:
        column = coerced[spec.name].dropna()
        if column.empty:
            baseline[spec.name] = None
        elif spec.kind == "numeric":
            baseline[spec.name] = float(column.median())
        else:
            counts = column.value_counts()
            top = counts[counts == counts.max()].index
            value = sorted(top.tolist())[0]
            baseline[spec.name] = float(value) if spec.kind == "boolean" else str(value)
    return baseline


def baseline_frame(schema: FeatureSchema, baseline: Mapping[str, BaselineValue]) -> pd.DataFrame:
    """One-row frame holding the baseline, with the dtypes the pipeline expects."""
    missing = [name for name in schema.names if name not in baseline]
    if missing:
        raise ValueError(f"baseline lacks features: {', '.join(missing)}")
    columns: dict[str, Any] = {}
    for spec in schema.features:
        value = baseline[spec.name]
        if spec.kind == "categorical":
            columns[spec.name] = pd.Series([np.nan if value is None else value], dtype=object)
        else:
            columns[spec.name] = np.array([np.nan if value is None else value], dtype=float)
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class Substitution:
    """Baseline variants of a preprocessed batch.

    Attributes
    ----------
    rows, cols : ndarray of int
        For each variant, the original row and the substituted column.
    variants : ndarray of shape (n_variants, n_features)
        The rows with one column set to its baseline value.
    shape : tuple of int
        Shape of the original batch.
    """

    rows: npt.NDArray[np.intp]
    cols: npt.NDArray[np.intp]
    variants: npt.NDArray[np.float64]
    shape: tuple[int, ...]


class BaselineExplainer:
    """Explain a fitted pipeline's scores by substituting baseline values.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted pipeline from :func:`rpaml_models.build_pipeline`: a preprocessing
        step with one output column per feature, then a classifier.
    schema : FeatureSchema
        The model's inputs.
    baseline : mapping
        Baseline value per feature, from :func:`compute_baseline`.
    top_k : int, default=3
        Maximum number of reasons per row.
    min_effect : float, default=0.01
        Smallest score increase worth reporting.
    predict_positive : callable, default=None
        Positive-outcome probabilities of preprocessed rows; the compiled classifier when the
        model is served compiled, the pipeline's classifier otherwise.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        schema: FeatureSchema,
        baseline: Mapping[str, BaselineValue],
        *,
        top_k: int = 3,
        min_effect: float = 0.01,
        predict_positive: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
        | None = None,
    ) -> None:
        self._predict_positive = predict_positive
        self._preprocess = pipeline[:-1]
        self._classifier = pipeline[-1]
        self._positive = list(self._classifier.classes_).index(1)
        self._order = encoded_feature_order(schema)
        produced = tuple(str(name) for name in self._preprocess.get_feature_names_out())
        if produced != self._order:
            raise ValueError(
                "the pipeline's preprocessing does not map features one-to-one in the "
                f"expected order: expected {self._order}, got {produced}"
            )
        specs = {spec.name: spec for spec in schema.features}
        self._specs: tuple[FeatureSpec, ...] = tuple(specs[name] for name in self._order)
        self._base: npt.NDArray[np.float64] = np.asarray(
            self._preprocess.transform(baseline_frame(schema, baseline)), dtype=np.float64
        )[0]
        self.top_k = top_k
        self.min_effect = min_effect

    def substitute(self, transformed: npt.NDArray[np.float64]) -> Substitution:
        """Build the baseline variants of a preprocessed batch, without scoring them.

        Only cells whose value differs from the baseline get a variant (an equal value
        has no effect), so the matrix has at most ``n_rows * n_features`` rows.

        Parameters
        ----------
        transformed : ndarray of shape (n_rows, n_features)
            Output of the pipeline's preprocessing.

        Returns
        -------
        Substitution
        """
        base = self._base
        same = (transformed == base) | (np.isnan(transformed) & np.isnan(base))
        rows, cols = np.nonzero(~same)
        # Fancy indexing copies, so the caller's matrix is untouched.
        variants = transformed[rows]
        variants[np.arange(rows.size), cols] = base[cols]
        return Substitution(rows=rows, cols=cols, variants=variants, shape=transformed.shape)

    def effects(
        self,
        substitution: Substitution,
        scores: npt.NDArray[np.float64],
        variant_scores: npt.NDArray[np.float64] | None = None,
    ) -> npt.NDArray[np.float64]:
        """Score change caused by each feature's actual value, per row.

        Parameters
        ----------
        substitution : Substitution
            From :meth:`substitute`.
        scores : ndarray of shape (n_rows,)
            Positive-outcome probabilities of the original rows.
        variant_scores : ndarray of shape (n_variants,), default=None
            Positive-outcome probabilities of ``substitution.variants``. Callers that score the
            rows and the variants in one ``predict_proba`` call pass them here;
            computed when omitted.

        Returns
        -------
        ndarray of shape (n_rows, n_features)
            Columns in :func:`rpaml_models.features.encoded_feature_order`; zero where
            the value equals the baseline.
        """
        result = np.zeros(substitution.shape, dtype=np.float64)
        if substitution.rows.size == 0:
            return result
        if variant_scores is None:
            variant_scores = self.predict(substitution.variants)
        result[substitution.rows, substitution.cols] = scores[substitution.rows] - variant_scores
        return result

    def predict(self, transformed: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Positive-outcome probabilities of preprocessed rows."""
        if transformed.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        if self._predict_positive is not None:
            return self._predict_positive(transformed)
        proba = self._classifier.predict_proba(transformed)
        return np.asarray(proba[:, self._positive], dtype=np.float64)

    def reasons(
        self, frame: pd.DataFrame | Mapping[str, Any], effects: npt.NDArray[np.float64]
    ) -> list[tuple[str, ...]]:
        """Format the strongest positive effects of each row as readable reasons.

        Parameters
        ----------
        frame : pandas.DataFrame or mapping of column name to array
            The rows, for the values shown in the reasons.
        effects : ndarray of shape (n_rows, n_features)
            From :meth:`effects`.

        Returns
        -------
        list of tuple of str
            Up to ``top_k`` reasons per row, strongest first.
        """
        k = min(self.top_k, effects.shape[1])
        # Stable sort: equal effects keep column order, so reasons are deterministic.
        top = np.argsort(-effects, axis=1, kind="stable")[:, :k]
        top_effects = np.take_along_axis(effects, top, axis=1)
        # Python values (one tolist per column) display several times faster than
        # NumPy scalars indexed one by one.
        raw = {spec.name: np.asarray(frame[spec.name]).tolist() for spec in self._specs}
        reasons: list[tuple[str, ...]] = []
        for i in range(effects.shape[0]):
            row_reasons = []
            for column, effect in zip(top[i].tolist(), top_effects[i].tolist(), strict=True):
                if effect < self.min_effect:
                    break
                spec = self._specs[column]
                shown = _display(spec, raw[spec.name][i])
                row_reasons.append(f"{spec.name}={shown} raises the score by {effect:.2f}")
            reasons.append(tuple(row_reasons))
        return reasons

    def explain(self, frame: pd.DataFrame) -> list[tuple[str, ...]]:
        """Readable reasons, strongest first, for each row of ``frame``.

        Parameters
        ----------
        frame : pandas.DataFrame
            Rows with the schema's columns, as :meth:`FeatureSchema.validate_rows`
            returns them.

        Returns
        -------
        list of tuple of str
            Up to ``top_k`` reasons per row such as ``"age=5 raises the
            score by 0.21"``; empty when no feature raises the score by at least
            ``min_effect``.
        """
        transformed = np.asarray(self._preprocess.transform(frame), dtype=np.float64)
        substitution = self.substitute(transformed)
        # Rows and variants in one predict_proba call: with gradient boosting the
        # per-call overhead (one pass per tree) dominates small batches.
        combined = self.predict(np.vstack([transformed, substitution.variants]))
        n_rows = transformed.shape[0]
        effects = self.effects(substitution, combined[:n_rows], combined[n_rows:])
        return self.reasons(frame, effects)


def _display(spec: FeatureSpec, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if spec.kind == "boolean":
        return "true" if value else "false"
    if spec.kind == "numeric" and isinstance(value, float | int | np.number):
        return f"{float(value):g}"
    return str(value)
