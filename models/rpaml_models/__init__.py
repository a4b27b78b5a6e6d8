"""rpaml model layer: feature pipelines, training, registry, decision policies.

This package imports no other rpaml package: the scoring service and the pipeline
both build on it.
"""

from rpaml_models.challenger import ChallengerRecord
from rpaml_models.compiled import CompilationReport
from rpaml_models.errors import (
    ArtifactIntegrityError,
    CompilationError,
    InvalidNameError,
    LibraryMismatchError,
    ModelNotFoundError,
    RegistryError,
)
from rpaml_models.explain import BaselineExplainer, BaselineValue, compute_baseline
from rpaml_models.features import build_pipeline
from rpaml_models.loaded import ColumnRows, LoadedModel, Scored, ScoringOutcome, ValidatedRows
from rpaml_models.metadata import ModelMetadata, ModelSummary, PromotionRecord, library_versions
from rpaml_models.policy import Action, CostCell, Decision, DecisionPolicy
from rpaml_models.registry import ModelRegistry
from rpaml_models.schema import FeatureKind, FeatureSchema, FeatureSpec, FieldIssue
from rpaml_models.training import TrainingResult, train_model, training_data_hash

__all__ = [
    "Action",
    "ArtifactIntegrityError",
    "BaselineExplainer",
    "BaselineValue",
    "ChallengerRecord",
    "ColumnRows",
    "CompilationError",
    "CompilationReport",
    "CostCell",
    "Decision",
    "DecisionPolicy",
    "FeatureKind",
    "FeatureSchema",
    "FeatureSpec",
    "FieldIssue",
    "InvalidNameError",
    "LibraryMismatchError",
    "LoadedModel",
    "ModelMetadata",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelSummary",
    "PromotionRecord",
    "RegistryError",
    "Scored",
    "ScoringOutcome",
    "TrainingResult",
    "ValidatedRows",
    "build_pipeline",
    "compute_baseline",
    "library_versions",
    "train_model",
    "training_data_hash",
]
