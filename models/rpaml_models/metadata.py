"""What the registry records about each model version."""

from __future__ import annotations

import platform
from datetime import datetime
from importlib import metadata as distributions
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rpaml_models.compiled import CompilationReport
from rpaml_models.drift import DriftReference
from rpaml_models.explain import BaselineValue
from rpaml_models.schema import FeatureSchema

# Import name -> distribution name. The registry records all of them; loading refuses
# a different major.minor of the ones in CHECKED_LIBRARIES, because their pickles are
# not guaranteed to load (or to predict the same) across those releases.
RECORDED_LIBRARIES = {
    "sklearn": "scikit-learn",
    "numpy": "numpy",
    "pandas": "pandas",
    "joblib": "joblib",
}
CHECKED_LIBRARIES = ("sklearn", "numpy", "joblib")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a model artifact depends on."""
    versions = {"python": platform.python_version()}
    for module, distribution in RECORDED_LIBRARIES.items():
        versions[module] = distributions.version(distribution)
    return versions


class ModelMetadata(BaseModel):
    """Everything recorded about one registered model version (``metadata.json``).

    Attributes
    ----------
    name, version : str
        Model name and version (an integer as a string, "1", "2", ...).
    created_at : datetime
        Registration time (UTC).
    training_data_hash : str
        :func:`rpaml_models.training_data_hash` of the training data.
    lineage_run_id : str or None
        The pipeline run that produced the training data.
    params : dict
        Classifier parameters.
    metrics : dict of str to float
        Holdout metrics from training.
    feature_schema : FeatureSchema
        The inputs the model takes.
    policy_version : str
        Version of the decision policy stored with the model (``policy.json``).
    library_versions : dict of str to str
        Python and library versions at registration.
    artifact_sha256 : str
        SHA-256 (hex) of ``model.joblib``.
    baseline : dict or None
        Per-feature baseline for explanations; ``None`` disables model reasons.
    compilation : CompilationReport or None
        The compiled (ONNX) path's parity result and the runtime to serve; ``None``
        for versions registered before compilation existed (served by scikit-learn).
    evaluation : dict or None
        How the version was chosen and how good it is: the candidates' out-of-fold
        scores, the calibration table, the cost per record with bootstrap intervals for
        the policy and its baselines, the action mix (:mod:`rpaml_models.selection`).
    reference : DriftReference or None
        Binned distributions of every feature and of the out-of-fold scores at
        training, which monitoring compares live batches with; ``None`` for versions
        registered before monitoring existed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    name: str
    version: str
    created_at: datetime
    training_data_hash: str
    lineage_run_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    feature_schema: FeatureSchema
    policy_version: str
    library_versions: dict[str, str]
    artifact_sha256: str
    baseline: dict[str, BaselineValue] | None = None
    compilation: CompilationReport | None = None
    evaluation: dict[str, Any] | None = None
    reference: DriftReference | None = None


class PromotionRecord(BaseModel):
    """A decision to make a version the champion (``champion.json``, ``promotions.jsonl``).

    Attributes
    ----------
    version : str
        The promoted version.
    reason : str
        Why, in words.
    evidence : dict
        What supports it, e.g. challenger and champion metrics on a replay.
    promoted_at : datetime
        When (UTC).
    previous : str or None
        The champion it replaced.
    verdict : str or None
        What the comparison on shared evidence concluded (``better``, ``worse``...).
    override : bool
        True when a person promoted against, or without, the evidence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    reason: str
    evidence: dict[str, Any]
    promoted_at: datetime
    previous: str | None = None
    verdict: str | None = None
    override: bool = False


class ModelSummary(BaseModel):
    """One model name in the registry: its versions and current champion."""

    model_config = ConfigDict(frozen=True)

    name: str
    versions: tuple[str, ...]
    champion: str | None = None
