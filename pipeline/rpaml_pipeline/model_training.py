"""Train a process's model from its labeled records and register it.

Training reads only what the pipeline produced: records in state ``labeled``, whose
features the same transform step derived as for the records that will be scored. The
training data's hash makes training idempotent: the same labeled data never produce a
second model version.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rpaml_models import ModelRegistry, train_model, training_data_hash
from rpaml_pipeline.errors import TrainingError
from rpaml_pipeline.model_spec import decision_policy, feature_schema
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.store import RecordState, Store

# Fewer labeled records than this, or fewer than this many of either class, cannot give
# a holdout measurement worth promoting on.
MIN_RECORDS = 50
MIN_PER_CLASS = 5


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training run did."""

    model: str
    version: str
    trained: bool
    """False when a model for exactly these training data already existed."""
    promoted: bool
    champion: str | None
    n_records: int
    training_data_hash: str
    metrics: dict[str, float]
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def labeled_frame(store: Store, process: ProcessDefinition) -> tuple[pd.DataFrame, list[int]]:
    """The features and labels of every current labeled record of ``process``."""
    names = [feature.name for feature in process.model.features]
    keyed: list[tuple[str, dict[str, Any], int]] = []
    for chunk in store.iter_records(process.name, RecordState.LABELED):
        for record in chunk:
            if record.superseded_by is not None or record.label is None:
                continue
            features = record.features or {}
            keyed.append(
                (record.natural_key, {name: features.get(name) for name in names}, record.label)
            )
    # Record ids are random: order by natural key so the same data always give the same
    # split, the same model and the same holdout metrics.
    keyed.sort(key=lambda item: item[0])
    rows = [features for _, features, _ in keyed]
    labels = [int(label) for _, _, label in keyed]
    schema = feature_schema(process)
    frame, issues = schema.validate_rows(rows)
    if issues:
        first = "; ".join(f"row {i.index} {i.field}: {i.message}" for i in issues[:5])
        raise TrainingError(f"labeled records do not fit the model's features: {first}")
    return frame, labels


def train_from_store(
    store: Store,
    process: ProcessDefinition,
    registry_dir: Path,
    *,
    run_id: str | None = None,
    seed: int = 0,
) -> TrainingOutcome:
    """Train on the labeled records, register the model and promote it when it is better.

    A first model becomes champion; a later one only when its holdout ROC AUC is at least
    the champion's, and the promotion record carries both figures as evidence.
    """
    registry = ModelRegistry(registry_dir)
    name = process.model.name
    frame, labels = labeled_frame(store, process)
    positives = sum(labels)
    if len(labels) < MIN_RECORDS or min(positives, len(labels) - positives) < MIN_PER_CLASS:
        raise TrainingError(
            f"not enough labeled records to train {name!r}: {len(labels)} records, "
            f"{positives} positive (need {MIN_RECORDS} and {MIN_PER_CLASS} of each class)"
        )
    data_hash = training_data_hash(frame, labels)
    existing = registry.find_by_training_hash(name, data_hash)
    champion = registry.champion(name)
    if existing is not None:
        return TrainingOutcome(
            model=name,
            version=existing.version,
            trained=False,
            promoted=False,
            champion=champion,
            n_records=len(labels),
            training_data_hash=data_hash,
            metrics=dict(existing.metrics),
            message=f"model {name} v{existing.version} was already trained on these data",
        )
    params = dict(process.model.params)
    try:
        result = train_model(frame, labels, feature_schema(process), params, seed=seed)
    except ValueError as error:
        raise TrainingError(f"cannot train {name!r}: {error}") from error
    metadata = registry.register(
        name,
        result.pipeline,
        schema=feature_schema(process),
        policy=decision_policy(process),
        training_data_hash=data_hash,
        metrics=result.metrics,
        params=params,
        lineage_run_id=run_id,
        baseline=result.baseline,
        holdout=result.holdout,
    )
    promoted, reason, evidence = _promotion(registry, name, champion, result.metrics)
    if promoted:
        registry.promote(name, metadata.version, reason=reason, evidence=evidence)
    return TrainingOutcome(
        model=name,
        version=metadata.version,
        trained=True,
        promoted=promoted,
        champion=metadata.version if promoted else champion,
        n_records=len(labels),
        training_data_hash=data_hash,
        metrics=dict(result.metrics),
        message=reason,
    )


def _promotion(
    registry: ModelRegistry, name: str, champion: str | None, metrics: dict[str, float]
) -> tuple[bool, str, dict[str, Any]]:
    """Decide whether a new version replaces the champion, with the evidence."""
    new_auc = metrics.get("roc_auc", math.nan)
    if champion is None:
        return True, "first model of this process", {"challenger": metrics}
    champion_metrics = registry.metadata(name, champion).metrics
    old_auc = champion_metrics.get("roc_auc", math.nan)
    evidence = {"challenger": metrics, "champion": champion_metrics, "champion_version": champion}
    if math.isnan(old_auc) or new_auc >= old_auc:
        return True, f"holdout ROC AUC {new_auc:.3f} >= champion's {old_auc:.3f}", evidence
    return False, f"holdout ROC AUC {new_auc:.3f} < champion's {old_auc:.3f}", evidence
