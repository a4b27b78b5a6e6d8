"""The train and retrain stages: a model trained from the labeled records, registered,
promoted on evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rpaml_models import ModelRegistry
from rpaml_pipeline.lineage.openlineage import Dataset
from rpaml_pipeline.model_training import train_from_store
from rpaml_pipeline.retraining import retrain_from_store
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import datasets
from rpaml_pipeline.stages.runner import StageOutcome


@dataclass(frozen=True)
class TrainStage:
    """Train the process's model (:func:`train_from_store`)."""

    kind: str = "train"
    robot: str | None = None
    job: str = "train"

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        return {"model": runtime.process.model.name, "registry": str(runtime.registry_dir)}

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        return [datasets.records(runtime, "labeled", typed=True)]

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        outcome = train_from_store(
            runtime.store, runtime.process, runtime.registry_dir, run_id=run_id
        )
        metadata = ModelRegistry(runtime.registry_dir).metadata(outcome.model, outcome.version)
        facet = {
            "artifactSha256": metadata.artifact_sha256,
            "trainingDataHash": metadata.training_data_hash,
            "metrics": dict(metadata.metrics),
            "trained": outcome.trained,
            "promoted": outcome.promoted,
        }
        labeled = datasets.records(runtime, "labeled", rows=outcome.n_records, typed=True)
        model = datasets.model(runtime, outcome.version, facet)
        return StageOutcome(outcome.as_dict(), outputs=[model], inputs=[labeled])


@dataclass(frozen=True)
class RetrainStage:
    """Retrain on the labels observed so far, judged by time (:func:`retrain_from_store`);
    skipped, with the reason in its summary, while too few new labels arrived."""

    kind: str = "retrain"
    robot: str | None = None
    job: str = "retrain"

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        spec = runtime.process.model.retrain
        return {
            "model": runtime.process.model.name,
            "registry": str(runtime.registry_dir),
            "min_new_labels": spec.min_new_labels,
            "evidence_share": spec.evidence_share,
        }

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        return [datasets.records(runtime, "labeled", typed=True)]

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        outcome = retrain_from_store(
            runtime.store, runtime.process, runtime.registry_dir, run_id=run_id
        )
        if outcome.training is None:
            return StageOutcome(outcome.as_dict())
        trained = outcome.training
        metadata = ModelRegistry(runtime.registry_dir).metadata(trained.model, trained.version)
        facet = {
            "artifactSha256": metadata.artifact_sha256,
            "trainingDataHash": metadata.training_data_hash,
            "metrics": dict(metadata.metrics),
            "trained": trained.trained,
            "promoted": trained.promoted,
        }
        labeled = datasets.records(runtime, "labeled", rows=trained.n_records, typed=True)
        model = datasets.model(runtime, trained.version, facet)
        return StageOutcome(outcome.as_dict(), outputs=[model], inputs=[labeled])
