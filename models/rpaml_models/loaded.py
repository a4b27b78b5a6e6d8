"""A model loaded from the registry, ready to score requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.pipeline import Pipeline

from rpaml_models.explain import BaselineExplainer
from rpaml_models.metadata import ModelMetadata
from rpaml_models.policy import Action, DecisionPolicy
from rpaml_models.schema import FeatureSchema, FieldIssue


@dataclass(frozen=True, slots=True)
class Scored:
    """The score, decision and reasons for one row.

    Attributes
    ----------
    score : float
        Fraud probability.
    action : {"approve", "escalate", "reject"}
    reasons : tuple of str
        The policy's reason first, then the model's (features raising the score).
    """

    score: float
    action: Action
    reasons: tuple[str, ...]


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

    Attributes
    ----------
    name, version : str
    metadata : ModelMetadata
    policy : DecisionPolicy
    schema : FeatureSchema
    pipeline : sklearn.pipeline.Pipeline
    """

    def __init__(
        self, *, metadata: ModelMetadata, policy: DecisionPolicy, pipeline: Pipeline
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
        self._explainer = (
            BaselineExplainer(pipeline, self.schema, metadata.baseline)
            if metadata.baseline is not None
            else None
        )

    def __repr__(self) -> str:
        return (
            f"LoadedModel(name={self.name!r}, version={self.version!r}, "
            f"policy_version={self.policy.version!r})"
        )

    def score_frame(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Fraud probabilities for a frame with the schema's columns.

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
        proba = self._classifier.predict_proba(self._preprocess.transform(frame))
        return np.asarray(proba[:, self._positive], dtype=np.float64)

    def score(
        self, rows: Sequence[Mapping[str, object]], *, explain: bool = True
    ) -> ScoringOutcome:
        """Validate, score, decide and explain a batch of rows.

        Parameters
        ----------
        rows : sequence of mappings
            Feature values by name.
        explain : bool, default=True
            Add model reasons (one extra ``predict_proba`` over at most
            ``n_rows * n_features`` rows; see :mod:`rpaml_models.explain`).

        Returns
        -------
        ScoringOutcome
            ``issues`` naming every invalid field, or one :class:`Scored` per row.
        """
        frame, issues = self.schema.validate_rows(rows)
        if issues:
            return ScoringOutcome(issues=issues)
        if not rows:
            return ScoringOutcome()
        transformed = np.asarray(self._preprocess.transform(frame), dtype=np.float64)
        model_reasons: list[tuple[str, ...]]
        if explain and self._explainer is not None:
            explainer = self._explainer
            substitution = explainer.substitute(transformed)
            # One predict_proba for the rows and their baseline variants together.
            combined = explainer.predict(np.vstack([transformed, substitution.variants]))
            scores = combined[: len(frame)]
            effects = explainer.effects(substitution, scores, combined[len(frame) :])
            model_reasons = explainer.reasons(frame, effects)
        else:
            scores = np.asarray(
                self._classifier.predict_proba(transformed)[:, self._positive], dtype=np.float64
            )
            model_reasons = [()] * len(frame)
        decisions = self.policy.decide(scores.tolist(), rows)
        results = [
            Scored(score, decision.action, decision.reasons + reasons)
            for score, decision, reasons in zip(
                scores.tolist(), decisions, model_reasons, strict=True
            )
        ]
        return ScoringOutcome(results=results)

    def explain_frame(self, frame: pd.DataFrame) -> list[tuple[str, ...]]:
        """Model reasons for each row of a validated frame (empty without a baseline)."""
        if self._explainer is None:
            return [()] * len(frame)
        return self._explainer.explain(frame)
