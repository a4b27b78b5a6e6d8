"""Train a process's model from its labeled records, register it, promote it on evidence.

Training reads only what the pipeline produced: records in state ``labeled``, whose
features the same transform step derived as for the records that will be scored. The
candidates of the process file's model section are compared by out-of-fold business cost
(:func:`rpaml_models.selection.select_and_train`). When a champion exists, the labeled
records it was not trained on are split: half is kept out of the challenger's training as
evidence both are scored on (:mod:`rpaml_pipeline.promotion`). The same labeled data and
the same model and policy sections never produce a second model version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rpaml_models import ModelRegistry, training_data_hash
from rpaml_models.selection import Candidate, SelectionSettings, select_and_train
from rpaml_pipeline.canonical import sha256_hex
from rpaml_pipeline.drifted_pattern import DriftedPattern
from rpaml_pipeline.errors import TrainingError
from rpaml_pipeline.label_maturity import mature_only
from rpaml_pipeline.model_spec import decision_policy, feature_schema
from rpaml_pipeline.process import ProcessDefinition, process_hash
from rpaml_pipeline.promotion import EvidenceSplit, LabeledRecords, evidence_split, judge
from rpaml_pipeline.store import RecordState, Store

# Fewer labeled records than this, or fewer than this many of either class, cannot give
# a cross-validated measurement worth promoting on.
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
    winner: dict[str, Any] = field(default_factory=dict)
    comparison: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def labeled_records(store: Store, process: ProcessDefinition) -> LabeledRecords:
    """The features, labels and natural keys of every current labeled record, but the
    outcomes of decisions not yet mature (``model.retrain.maturity``, :mod:`.label_maturity`)."""
    names = [feature.name for feature in process.model.features]
    keyed: list[tuple[str, dict[str, Any], int, str]] = []
    current = [
        record
        for chunk in store.iter_records(process.name, RecordState.LABELED)
        for record in chunk
        if record.superseded_by is None and record.label is not None
    ]
    maturity = process.model.retrain.maturity
    if maturity is not None:
        current = mature_only(current, store.labels.judged_actions(process.name), maturity)
    for record in current:
        features = record.features or {}
        keyed.append(
            (
                record.natural_key,
                {name: features.get(name) for name in names},
                int(record.label or 0),  # never None: filtered above
                record.captured_at.isoformat(timespec="microseconds"),
            )
        )
    # Record ids are random: order by natural key so the same data always give the same
    # folds, the same model and the same metrics.
    keyed.sort(key=lambda item: item[0])
    schema = feature_schema(process)
    frame, issues = schema.validate_rows([features for _, features, _, _ in keyed])
    if issues:
        first = "; ".join(f"row {i.index} {i.field}: {i.message}" for i in issues[:5])
        raise TrainingError(f"labeled records do not fit the model's features: {first}")
    captured = tuple(at for _, _, _, at in keyed)
    return LabeledRecords(
        frame=frame,
        labels=np.array([int(label) for _, _, label, _ in keyed], dtype=np.int64),
        keys=[key for key, _, _, _ in keyed],
        captured=(min(captured), max(captured)) if captured else None,
        captured_at=captured,
    )


def labeled_frame(store: Store, process: ProcessDefinition) -> tuple[pd.DataFrame, list[int]]:
    """The features and labels of every current labeled record of ``process``."""
    records = labeled_records(store, process)
    return records.frame, records.labels.tolist()


def candidates_of(process: ProcessDefinition) -> list[Candidate]:
    """The process file's candidate recipes (one boosting recipe when none is declared)."""
    declared = process.model.candidates
    if not declared:
        return [Candidate("gradient_boosting", "gradient_boosting", dict(process.model.params))]
    return [Candidate(c.name, c.kind, dict(c.params)) for c in declared]


def selection_settings(process: ProcessDefinition) -> SelectionSettings:
    spec = process.model.selection
    return SelectionSettings(
        folds=spec.folds,
        seed=spec.seed,
        calibrations=tuple(spec.calibrations),
        bootstrap=spec.bootstrap,
    )


def recipe_hash(process: ProcessDefinition) -> str:
    """Hash of what training depends on besides the data: features, recipes, policy."""
    return sha256_hex(
        {
            "model": process.model.model_dump(mode="json"),
            # Exploration changes which decisions are taken, not what a model learns.
            "policy": process.policy.model_dump(mode="json", exclude={"exploration"}),
        }
    )


def train_from_store(
    store: Store,
    process: ProcessDefinition,
    registry_dir: Path,
    *,
    run_id: str | None = None,
    split: EvidenceSplit = evidence_split,
    pattern: DriftedPattern | None = None,
) -> TrainingOutcome:
    """Train on the labeled records, register the model, promote it when it is better.

    A first model becomes champion. A later one only when, on labeled records neither
    was trained on, its cost per record is lower with the whole paired bootstrap interval
    of the difference below zero; the comparison is stored with the promotion.
    ``split`` chooses the evidence (a random stratified half of what the champion never
    saw by default; :func:`rpaml_pipeline.retraining.time_split` for the retrain job);
    with ``pattern`` the inputs drift, and the challenger must be better on the evidence
    like it too (:func:`rpaml_pipeline.promotion.judge`).
    """
    registry = ModelRegistry(registry_dir)
    name = process.model.name
    records = labeled_records(store, process)
    labels = records.labels
    positives = int(labels.sum())
    if len(labels) < MIN_RECORDS or min(positives, len(labels) - positives) < MIN_PER_CLASS:
        raise TrainingError(
            f"not enough labeled records to train {name!r}: {len(labels)} records, "
            f"{positives} positive (need {MIN_RECORDS} and {MIN_PER_CLASS} of each class)"
        )
    data_hash = training_data_hash(records.frame, labels)
    recipes = recipe_hash(process)
    champion = registry.champion(name)
    for version in reversed(registry.versions(name)):
        existing = registry.metadata(name, version)
        if existing.training_data_hash == data_hash and existing.params.get("recipes") == recipes:
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
    policy = decision_policy(process)
    settings = selection_settings(process)
    train, evidence = split(registry, name, champion, records, settings.seed)
    schema = feature_schema(process)
    try:
        result = select_and_train(
            train.frame, train.labels, schema, candidates_of(process), policy, settings
        )
    except ValueError as error:
        raise TrainingError(f"cannot train {name!r}: {error}") from error
    params = {"recipes": recipes, "winner": result.winner, "seed": settings.seed}
    metadata = registry.register(
        name,
        result.pipeline,
        schema=schema,
        policy=policy,
        training_data_hash=data_hash,
        metrics=result.metrics,
        params=params,
        lineage_run_id=run_id,
        baseline=result.baseline,
        holdout=result.data,
        evaluation={
            **result.evaluation,
            "evidence_records": len(evidence.keys),
            "training_data": {
                "process": process.name,
                "process_hash": "sha256:" + process_hash(process),
                "label_source": process.labeling.source if process.labeling else None,
                "positives": int(train.labels.sum()),
                "captured_from": records.captured[0] if records.captured else None,
                "captured_to": records.captured[1] if records.captured else None,
            },
        },
        training_keys=train.keys,
        reference=result.reference,
    )
    decision = judge(
        registry, name, metadata.version, champion, evidence, policy, settings.seed, pattern
    )
    if decision.promote:
        registry.promote(
            name,
            metadata.version,
            reason=decision.reason,
            evidence=decision.evidence,
            verdict=decision.verdict,
        )
    return TrainingOutcome(
        model=name,
        version=metadata.version,
        trained=True,
        promoted=decision.promote,
        champion=metadata.version if decision.promote else champion,
        n_records=len(labels),
        training_data_hash=data_hash,
        metrics=dict(result.metrics),
        message=f"{result.evaluation['why']}; {decision.reason}",
        winner=dict(result.winner),
        comparison=decision.evidence.get("comparison"),
    )
