"""The process stage: collected records cleaned, validated, labeled and transformed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rpaml_pipeline.lineage.openlineage import (
    PRODUCER,
    RPAML_FACET_SCHEMA,
    Dataset,
    rpaml_run_facet,
)
from rpaml_pipeline.process import process_hash
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import datasets
from rpaml_pipeline.stages.runner import StageOutcome


@dataclass(frozen=True)
class ProcessStage:
    """Process every claimable collected record (:func:`process_collected`)."""

    chunk_size: int = 50_000
    kind: str = "process"
    robot: str | None = None
    job: str = "process"

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        return {}

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        return [datasets.records(runtime, "collected")]

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        summary = process_collected(
            runtime.store,
            runtime.process,
            run_id,
            chunk_size=self.chunk_size,
            owner=runtime.owner,
        )
        # Outcomes of decided records that came back as labeled revisions judge those
        # decisions: linked once, with provenance (rpaml_pipeline.store.labels).
        outcome_labels = runtime.store.labels.link_outcomes(runtime.process.name, run_id=run_id)
        # Features are derived from the contract fields of the records that validated.
        lineage = {"columnLineage": datasets.column_lineage(runtime, runtime.process)}
        outputs = [
            datasets.records(runtime, state, rows=rows, typed=True, facets=facets)
            for state, rows, facets in (
                ("validated", summary.validated, lineage),
                ("labeled", summary.labeled, lineage),
                ("quarantined", summary.quarantined, {}),
            )
        ]
        run_facets: dict[str, Any] = {
            "rpaml": rpaml_run_facet(
                process=runtime.process.name,
                process_file_hash=process_hash(runtime.process),
                robot_runs=summary.robot_runs,
                model_name=runtime.process.model.name,
            )
        }
        if summary.drift_alerts or runtime.process.quality is not None:
            run_facets["rpamlDrift"] = {
                "_producer": PRODUCER,
                "_schemaURL": RPAML_FACET_SCHEMA.replace("RpamlRunFacet", "RpamlDriftRunFacet"),
                "alerts": summary.drift_alerts,
            }
        return StageOutcome(
            {**summary.as_dict(), "outcome_labels": outcome_labels},
            outputs=outputs,
            facets=run_facets,
        )
