"""Training: fit a pipeline, measure it on a stratified holdout, refit on all data."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from rpaml_models.explain import BaselineValue, compute_baseline
from rpaml_models.features import build_pipeline
from rpaml_models.schema import FeatureSchema

Labels: TypeAlias = "Sequence[int] | npt.NDArray[Any] | pd.Series[Any]"


@dataclass(frozen=True)
class TrainingResult:
    """A trained model and how well it did on held-out data.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Refitted on all the data after the holdout measurement.
    metrics : dict of str to float
        Holdout ``roc_auc``, ``average_precision``, ``log_loss``, ``brier`` and the
        positive rate of all labels, ``base_rate``.
    n_train, n_test : int
        Sizes of the split the metrics come from.
    baseline : dict
        Per-feature reference values (median / most frequent) for explanations;
        pass it to :meth:`ModelRegistry.register`.
    """

    pipeline: Pipeline
    metrics: dict[str, float]
    n_train: int
    n_test: int
    baseline: dict[str, BaselineValue] = field(default_factory=dict)
    holdout: pd.DataFrame | None = None
    """The held-out rows the metrics come from; pass them to
    :meth:`ModelRegistry.register` for the compiled path's parity check."""


def train_model(
    frame: pd.DataFrame,
    labels: Labels,
    schema: FeatureSchema,
    params: Mapping[str, object],
    *,
    seed: int = 0,
    test_size: float = 0.25,
) -> TrainingResult:
    """Train a model for ``schema`` and measure it on a stratified holdout.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training rows; must contain the schema's columns (others are ignored).
    labels : sequence of int
        1 for the positive outcome, 0 for the negative, one per row of ``frame``.
    schema : FeatureSchema
        The model's inputs.
    params : mapping
        Classifier parameters (see :func:`rpaml_models.build_pipeline`).
        ``random_state`` defaults to ``seed``.
    seed : int, default=0
        Seeds the holdout split and, unless ``params`` sets it, the classifier.
    test_size : float, default=0.25
        Fraction of rows held out for the metrics.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ValueError
        If labels are not 0/1, their count differs from the rows, or either class
        has fewer than two rows (a stratified split needs both in each part).
    """
    data = schema.coerce_frame(frame).reset_index(drop=True)
    y = check_labels(labels, len(data))
    # A feature missing in every row gives the model nothing to split on (and makes the
    # gradient-boosting binner fail obscurely): name it, so the gap upstream is found.
    empty = [name for name in schema.names if data[name].isna().all()]
    if empty:
        raise ValueError(
            f"no training row has a value for {', '.join(empty)}; "
            "every feature needs values in the training data"
        )
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    model_params = {"random_state": seed, **params}
    data_train, data_test, y_train, y_test = train_test_split(
        data, y, test_size=test_size, stratify=y, random_state=seed
    )
    holdout = build_pipeline(schema, model_params).fit(data_train, y_train)
    proba = holdout.predict_proba(data_test)[:, list(holdout.classes_).index(1)]
    metrics = {
        "roc_auc": float(roc_auc_score(y_test, proba)),
        "average_precision": float(average_precision_score(y_test, proba)),
        "log_loss": float(log_loss(y_test, proba, labels=[0, 1])),
        "brier": float(brier_score_loss(y_test, proba)),
        "base_rate": float(y.mean()),
    }
    # The served model uses every labelled row; the holdout numbers describe how
    # the same recipe generalises.
    pipeline = build_pipeline(schema, model_params).fit(data, y)
    return TrainingResult(
        pipeline=pipeline,
        metrics=metrics,
        n_train=len(y_train),
        n_test=len(y_test),
        baseline=compute_baseline(data, schema),
        holdout=data_test,
    )


def check_labels(labels: Labels, n_rows: int) -> npt.NDArray[np.int64]:
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n_rows:
        raise ValueError(f"expected {n_rows} labels (one per row), got shape {y.shape}")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"labels must be 0 or 1, found {sorted(values, key=str)}")
    y = y.astype(np.int64)
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise ValueError(
            f"need at least two rows of each class, got {counts[0]} negative and "
            f"{counts[1]} positive"
        )
    return y


def training_data_hash(frame: pd.DataFrame, labels: Labels) -> str:
    """SHA-256 of the training data, independent of row and column order.

    Each row (its values by column name, plus its label) is serialised canonically:
    numbers as floats (so ``1`` and ``1.0`` agree), booleans, strings, and NaN /
    None / NA all as null. The row digests are sorted before hashing, so the same
    rows in any order, and the same columns in any order, give the same hash.

    Parameters
    ----------
    frame : pandas.DataFrame
        Feature columns.
    labels : sequence of int
        One label per row.

    Returns
    -------
    str
        ``"sha256:"`` followed by 64 hex digits.
    """
    y = np.asarray(labels)
    if len(y) != len(frame):
        raise ValueError(f"expected {len(frame)} labels, got {len(y)}")
    names = sorted(map(str, frame.columns))
    by_name = {str(column): frame[column] for column in frame.columns}
    columns = [[_canonical(v) for v in by_name[name].tolist()] for name in names]
    columns.append([_canonical(v) for v in y.tolist()])
    row_digests = sorted(
        hashlib.sha256(json.dumps(row, separators=(",", ":")).encode()).digest()
        for row in zip(*columns, strict=True)
    )
    digest = hashlib.sha256()
    digest.update(json.dumps([*names, "__label__"]).encode())
    for row_digest in row_digests:
        digest.update(row_digest)
    return "sha256:" + digest.hexdigest()


def _canonical(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        # json writes floats with repr, which round-trips exactly; NaN means missing.
        return None if math.isnan(number) else number
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)
