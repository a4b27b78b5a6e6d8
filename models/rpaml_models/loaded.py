"""A model loaded from the registry, ready to score requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.pipeline import Pipeline

from rpaml_models.compiled import ColumnEncoder, CompiledClassifier
from rpaml_models.explain import BaselineExplainer
from rpaml_models.linear_path import LinearPath
from rpaml_models.metadata import ModelMetadata
from rpaml_models.policy import Action, DecisionPolicy
from rpaml_models.schema import FeatureSchema, FieldIssue


@dataclass(frozen=True, slots=True)
class Scored:
    """The score, decision and reasons for one row.

    Attributes
    ----------
    score : float
        Probability of the positive outcome (label 1).
    action : str
        One of the policy's actions.
    reasons : tuple of str
        The policy's reason first, then the model's (features raising the score).
    expected_costs : dict of str to float or None
        Every action's expected cost, when the policy is a costs policy.
    """

    score: float
    action: Action
    reasons: tuple[str, ...]
    expected_costs: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class ScoringOutcome:
    """Result of :meth:`LoadedModel.score`: either issues or one result per row.

    Attributes
    ----------
    results : list of Scored
        One per input row, in order; empty when ``issues`` is not.
    issues : list of FieldIssue
        Every validation problem; nothing is scored when there is any.
    """

    results: list[Scored] = field(default_factory=list)
    issues: list[FieldIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the rows were valid and scored."""
        return not self.issues


class ColumnRows(Sequence[Mapping[str, object]]):
    """Rows of a batch sent column by column, each built only when read.

    The policy reads a row only to scale costs by an amount, and errors point at a
    row's value, so the bulk path never builds one mapping per row otherwise.

    Parameters
    ----------
    columns : mapping of str to sequence
        Feature name -> one value per row.
    n_rows : int
        Number of rows.
    """

    def __init__(self, columns: Mapping[str, Sequence[object]], n_rows: int) -> None:
        self._columns = columns
        self._n_rows = n_rows

    def __len__(self) -> int:
        return self._n_rows

    @overload
    def __getitem__(self, index: int) -> Mapping[str, object]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, object]]: ...

    def __getitem__(
        self, index: int | slice
    ) -> Mapping[str, object] | Sequence[Mapping[str, object]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n_rows))]
        if not -self._n_rows <= index < self._n_rows:
            raise IndexError(index)
        return {name: values[index] for name, values in self._columns.items()}


@dataclass(frozen=True, slots=True)
class ValidatedRows:
    """Rows that passed the schema, encoded and ready to score.

    Several requests' rows can be scored together (:meth:`concat`), which is how the
    scoring service batches concurrent requests.

    Attributes
    ----------
    rows : sequence of mappings
        The rows as given (the policy reads amounts from them).
    columns : dict of str to array
        Validated columns (:meth:`FeatureSchema.validate_columns`), for the reasons.
    encoded : ndarray of shape (n_rows, n_features)
        The preprocessed matrix the classifier reads.
    """

    rows: Sequence[Mapping[str, object]]
    columns: dict[str, Any]
    encoded: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.rows)

    @staticmethod
    def concat(parts: Sequence[ValidatedRows]) -> ValidatedRows:
        """One batch holding ``parts`` in order."""
        if len(parts) == 1:
            return parts[0]
        rows: list[Mapping[str, object]] = []
        for part in parts:
            rows.extend(part.rows)
        names = parts[0].columns.keys()
        columns = {
            name: np.concatenate([np.asarray(part.columns[name]) for part in parts])
            for name in names
        }
        encoded = np.vstack([part.encoded for part in parts])
        return ValidatedRows(rows=rows, columns=columns, encoded=encoded)


class LoadedModel:
    """A verified model version with its policy, as returned by ``ModelRegistry.load``.

    Parameters
    ----------
    metadata : ModelMetadata
        The version's metadata.
    policy : DecisionPolicy
        The policy registered with it.
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline.
    compiled : CompiledClassifier, optional
        The verified ONNX classifier; scikit-learn scores when omitted.
    runtime_reason : str, default=""
        Why this runtime serves the model (from the registration's parity check, or
        why the compiled artifact could not be used here).

    Attributes
    ----------
    name, version : str
    metadata : ModelMetadata
    policy : DecisionPolicy
    schema : FeatureSchema
    pipeline : sklearn.pipeline.Pipeline
    runtime : {"onnxruntime", "numpy", "sklearn"}
    runtime_reason : str
    """

    def __init__(
        self,
        *,
        metadata: ModelMetadata,
        policy: DecisionPolicy,
        pipeline: Pipeline,
        compiled: CompiledClassifier | LinearPath | None = None,
        runtime_reason: str = "",
    ) -> None:
        self.name = metadata.name
        self.version = metadata.version
        self.metadata = metadata
        self.policy = policy
        self.schema: FeatureSchema = metadata.feature_schema
        self.pipeline = pipeline
        # Preprocessing and classifier are called separately so the explainer reuses
        # the encoded matrix instead of preprocessing the batch a second time.
        self._preprocess = pipeline[:-1]
        self._classifier = pipeline[-1]
        self._positive = list(self._classifier.classes_).index(1)
        self._compiled = compiled
        self._encoder = ColumnEncoder(pipeline, self.schema) if compiled is not None else None
        self.runtime: Literal["onnxruntime", "numpy", "sklearn"] = (
            "sklearn"
            if compiled is None
            else "numpy"
            if isinstance(compiled, LinearPath)
            else "onnxruntime"
        )
        self.runtime_reason = runtime_reason or (
            "compiled path verified at registration" if compiled else "scikit-learn"
        )
        self._explainer = (
            BaselineExplainer(
                pipeline,
                self.schema,
                metadata.baseline,
                predict_positive=self._predict_encoded,
            )
            if metadata.baseline is not None
            else None
        )

    def __repr__(self) -> str:
        return (
            f"LoadedModel(name={self.name!r}, version={self.version!r}, "
            f"policy_version={self.policy.version!r}, runtime={self.runtime!r})"
        )

    def _predict_encoded(self, encoded: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if encoded.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        if self._compiled is not None:
            return self._compiled.predict_positive(encoded)
        proba = self._classifier.predict_proba(encoded)
        return np.asarray(proba[:, self._positive], dtype=np.float64)

    def predict_encoded(self, encoded: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Positive-outcome probabilities of rows already encoded by :meth:`encode`."""
        return self._predict_encoded(encoded)

    def encodes_like(self, other: LoadedModel) -> bool:
        """Whether this model encodes validated columns exactly as ``other`` does: both
        served compiled, with the same column order, kinds and fitted category codes (the
        usual case, the categories being declared in the schema), so ``other``'s encoded
        matrix is this model's too."""
        mine, theirs = self._encoder, other._encoder
        if mine is None or theirs is None:
            return False
        return (mine.order, mine.kinds, mine.codes) == (theirs.order, theirs.kinds, theirs.codes)

    def encode(self, columns: dict[str, Any], n_rows: int) -> npt.NDArray[np.float64]:
        """The classifier's matrix of columns validated against this model's schema."""
        if n_rows == 0:
            return np.empty((0, len(self.schema.names)), dtype=np.float64)
        if self._encoder is not None:
            return self._encoder.encode(columns)
        frame = self.schema.input_frame(columns, n_rows)
        return np.asarray(self._preprocess.transform(frame), dtype=np.float64)

    def score_frame(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Positive-outcome probabilities for a frame with the schema's columns.

        Parameters
        ----------
        frame : pandas.DataFrame
            Rows with the schema's columns and dtypes (see
            :meth:`FeatureSchema.validate_rows`); extra columns are ignored.

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        if len(frame) == 0:
            return np.empty(0, dtype=np.float64)
        encoded = np.asarray(self._preprocess.transform(frame), dtype=np.float64)
        return self._predict_encoded(encoded)

    def validate(
        self, rows: Sequence[Mapping[str, object]]
    ) -> tuple[ValidatedRows | None, list[FieldIssue]]:
        """Check rows against the schema and encode them, without scoring.

        Returns
        -------
        validated : ValidatedRows or None
            None when there is any issue.
        issues : list of FieldIssue
            Every invalid field.
        """
        columns, issues = self.schema.validate_columns(rows)
        if issues:
            return None, issues
        encoded = self.encode(columns, len(rows))
        return ValidatedRows(rows=rows, columns=columns, encoded=encoded), []

    def validate_columns(
        self, columns: Mapping[str, Sequence[object]], n_rows: int
    ) -> tuple[ValidatedRows | None, list[FieldIssue]]:
        """:meth:`validate` for rows sent column by column (no mapping per row).

        Parameters
        ----------
        columns : mapping of str to sequence
            Feature name -> one value per row; every sequence ``n_rows`` long.
        n_rows : int
            Number of rows.

        Returns
        -------
        validated, issues
            As :meth:`validate` returns them for the same rows.
        """
        converted, issues = self.schema.validate_column_lists(columns, n_rows)
        if issues:
            return None, issues
        rows = ColumnRows(columns, n_rows)
        encoded = self.encode(converted, n_rows)
        return ValidatedRows(rows=rows, columns=converted, encoded=encoded), []

    def score_validated(self, validated: ValidatedRows, *, explain: bool = True) -> list[Scored]:
        """Score, decide and explain rows that passed :meth:`validate`."""
        if not len(validated):
            return []
        transformed = validated.encoded
        model_reasons: list[tuple[str, ...]]
        if explain and self._explainer is not None:
            explainer = self._explainer
            substitution = explainer.substitute(transformed)
            # One prediction for the rows and their baseline variants together.
            combined = explainer.predict(np.vstack([transformed, substitution.variants]))
            scores = combined[: len(validated)]
            effects = explainer.effects(substitution, scores, combined[len(validated) :])
            model_reasons = explainer.reasons(validated.columns, effects)
        else:
            scores = self._predict_encoded(transformed)
            model_reasons = [()] * len(validated)
        decisions = self.policy.decide(scores.tolist(), validated.rows)
        return [
            Scored(score, decision.action, decision.reasons + reasons, decision.expected_costs)
            for score, decision, reasons in zip(
                scores.tolist(), decisions, model_reasons, strict=True
            )
        ]

    def score(
        self, rows: Sequence[Mapping[str, object]], *, explain: bool = True
    ) -> ScoringOutcome:
        """Validate, score, decide and explain a batch of rows.

        Parameters
        ----------
        rows : sequence of mappings
            Feature values by name.
        explain : bool, default=True
            Add model reasons (one extra prediction over at most
            ``n_rows * n_features`` rows; see :mod:`rpaml_models.explain`).

        Returns
        -------
        ScoringOutcome
            ``issues`` naming every invalid field, or one :class:`Scored` per row.
        """
        validated, issues = self.validate(rows)
        if validated is None:
            return ScoringOutcome(issues=issues)
        return ScoringOutcome(results=self.score_validated(validated, explain=explain))

    def explain_frame(self, frame: pd.DataFrame) -> list[tuple[str, ...]]:
        """Model reasons for each row of a validated frame (empty without a baseline)."""
        if self._explainer is None:
            return [()] * len(frame)
        return self._explainer.explain(frame)
