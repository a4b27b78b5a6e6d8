"""The spline logistic regression (calibration included) scored in NumPy.

scikit-learn's own pipeline spends most of a single row's time in input validation and
in routing columns through ColumnTransformers. The recipe is simple underneath: per
numeric column a log scale, imputation, a B-spline basis and standardisation; per
discrete column a one-hot code; one dot product; the calibrator. This path does the same
steps on the encoded matrix with the fitted objects' own parameters (the B-spline basis
through the fitted ``SplineTransformer`` itself), so it is checked against scikit-learn at
registration like the ONNX path (:func:`rpaml_models.compiled.compile_model`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    SplineTransformer,
    StandardScaler,
)

from rpaml_models.errors import CompilationError

FloatMatrix = npt.NDArray[np.float64]
_PROBE_ROWS = 256


class LinearPath:
    """``predict_positive(encoded)`` for a fitted spline-logistic classifier step.

    Raises
    ------
    CompilationError
        If the classifier step is not the ``spline_logistic`` recipe's shape.
    """

    def __init__(self, classifier: Any) -> None:
        self.calibrator: Any = None
        if isinstance(classifier, CalibratedClassifierCV):
            fitted = classifier.calibrated_classifiers_
            if len(fitted) != 1 or len(fitted[0].calibrators) != 1:
                raise CompilationError("only ensemble=False binary calibration is supported")
            self.calibrator = fitted[0].calibrators[0]
            classifier = fitted[0].estimator
        if not isinstance(classifier, Pipeline) or len(classifier.steps) != 2:
            raise CompilationError(f"cannot score a {type(classifier).__name__} in NumPy")
        expand, logistic = classifier[0], classifier[-1]
        if not isinstance(expand, ColumnTransformer) or not isinstance(
            logistic, LogisticRegression
        ):
            raise CompilationError(
                "expected an expansion ColumnTransformer and a logistic regression"
            )
        if list(logistic.classes_) != [0, 1]:
            raise CompilationError("only binary classifiers with classes [0, 1] are supported")
        self.coef = np.asarray(logistic.coef_, dtype=np.float64).ravel()
        self.intercept = float(np.asarray(logistic.intercept_).ravel()[0])
        self.numeric: list[int] = []
        self.numeric_steps: list[Any] = []
        self.discrete: list[int] = []
        self.categories: list[FloatMatrix] = []
        for name, transformer, columns in expand.transformers_:
            if name == "remainder":
                if transformer != "drop":
                    raise CompilationError("the expansion must drop unlisted columns")
                continue
            if name == "numeric" and isinstance(transformer, Pipeline):
                self.numeric = [int(c) for c in columns]
                self.numeric_steps = [step for _, step in transformer.steps]
                _check_numeric_steps(self.numeric_steps)
            elif name == "discrete" and isinstance(transformer, OneHotEncoder):
                if transformer.drop is not None:
                    raise CompilationError("one-hot encoding with drop is not supported")
                self.discrete = [int(c) for c in columns]
                self.categories = [np.asarray(c, dtype=np.float64) for c in transformer.categories_]
            else:
                raise CompilationError(f"unexpected expansion step {name!r}")

    def logit(self, encoded: FloatMatrix) -> FloatMatrix:
        """The logistic regression's decision function for encoded rows."""
        parts: list[FloatMatrix] = []
        if self.numeric:
            parts.append(self._numeric(np.array(encoded[:, self.numeric], dtype=np.float64)))
        for column, seen in zip(self.discrete, self.categories, strict=True):
            values = encoded[:, column][:, None]
            nan_seen = np.isnan(seen)[None, :]
            hot = (values == seen[None, :]) | (np.isnan(values) & nan_seen)
            parts.append(hot.astype(np.float64))
        expanded = np.hstack(parts) if parts else np.empty((len(encoded), 0))
        return np.asarray(expanded @ self.coef + self.intercept, dtype=np.float64)

    def _numeric(self, values: FloatMatrix) -> FloatMatrix:
        for step in self.numeric_steps:
            if isinstance(step, FunctionTransformer):
                values = np.asarray(step.func(values), dtype=np.float64)
            elif isinstance(step, SimpleImputer):
                missing = np.isnan(values)
                indicator = step.indicator_
                flags = missing[:, indicator.features_].astype(np.float64) if indicator else None
                values = np.where(missing, step.statistics_[None, :], values)
                if flags is not None:
                    values = np.hstack([values, flags])
            elif isinstance(step, ColumnTransformer):
                splines, columns = step.transformers_[0][1], step.transformers_[0][2]
                n = len(columns)
                basis = splines.transform(values[:, :n])
                values = np.hstack([np.asarray(basis, dtype=np.float64), values[:, n:]])
            else:  # StandardScaler, as _check_numeric_steps made sure
                values = (values - step.mean_) / step.scale_
        return values

    def predict_positive(self, encoded: FloatMatrix) -> FloatMatrix:
        """Probability of label 1 for encoded rows, as the pipeline's classifier gives it."""
        logit = self.logit(encoded)
        if self.calibrator is None:
            return np.asarray(expit(logit), dtype=np.float64)
        proba = np.asarray(self.calibrator.predict(logit), dtype=np.float64)
        # As CalibratedClassifierCV does: values a hair above 1 are 1.
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


def _check_numeric_steps(steps: list[Any]) -> None:
    for step in steps:
        if isinstance(step, ColumnTransformer):
            inner = step.transformers_
            if (
                not inner
                or inner[0][0] != "splines"
                or not isinstance(inner[0][1], SplineTransformer)
                or any(name not in ("splines", "remainder") for name, _, _ in inner)
                or list(inner[0][2]) != list(range(len(inner[0][2])))
            ):
                raise CompilationError("unexpected spline step")
            remainder = [t for name, t, _ in inner if name == "remainder"]
            if remainder and remainder[0] != "passthrough":
                raise CompilationError("the spline step must pass other columns through")
        elif isinstance(step, StandardScaler):
            if step.mean_ is None or step.scale_ is None:
                raise CompilationError("a scaler without centring is not supported")
        elif isinstance(step, SimpleImputer):
            if step.strategy == "constant" and step.fill_value is None:
                raise CompilationError("unexpected imputer")
        elif not isinstance(step, FunctionTransformer) or step.func is None:
            raise CompilationError(f"unexpected numeric step {type(step).__name__}")


def linear_probe_rows(encoded: FloatMatrix, *, seed: int = 0) -> FloatMatrix:
    """Rows beyond the held-out ones: missing values, unseen codes and values far outside
    the training range (where the splines extrapolate)."""
    rng = np.random.default_rng(seed)
    n_features = encoded.shape[1]
    base = (
        encoded[rng.integers(0, encoded.shape[0], _PROBE_ROWS)]
        if encoded.shape[0]
        else np.zeros((_PROBE_ROWS, n_features))
    )
    probes = base.copy()
    for column in range(n_features):
        replace = rng.random(_PROBE_ROWS) < 0.3
        scale = np.nanmax(np.abs(base[:, column])) if np.isfinite(base[:, column]).any() else 1.0
        choices = np.array([np.nan, -1.0, 0.0, scale * 10.0, -scale * 10.0, 97.0])
        probes[replace, column] = rng.choice(choices, int(replace.sum()))
    return probes
