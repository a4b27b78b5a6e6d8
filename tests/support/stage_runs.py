"""Running stages in tests the way entry points do: through the stage runner, on a
runtime around the test's store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rpaml_pipeline.delivery import DeliveryReport, TargetReport
from rpaml_pipeline.lineage import OpenLineageEmitter
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.sources import FileOutcome, SourceReport, declared_sources
from rpaml_pipeline.stages import DeliverStage, IngestStage, Stage, StageResult, run_stage
from rpaml_pipeline.store import Store


def runtime_for(
    store: Store,
    process: ProcessDefinition,
    data_dir: Path,
    *,
    emitter: OpenLineageEmitter | None = None,
    variables: Mapping[str, str] | None = None,
) -> Runtime:
    """A runtime around ``store`` (lineage to ``data_dir`` unless ``emitter`` says)."""
    return Runtime.of(store, process, data_dir=data_dir, emitter=emitter, variables=variables)


def staged_run(
    store: Store,
    process: ProcessDefinition,
    stage: Stage,
    data_dir: Path,
    **options: Any,
) -> StageResult:
    """``stage`` through the stage runner."""
    return run_stage(runtime_for(store, process, data_dir, **options), stage)


def delivered(
    store: Store,
    process: ProcessDefinition,
    *,
    data_dir: Path,
    names: Sequence[str] = (),
    variables: Mapping[str, str] | None = None,
    emitter: OpenLineageEmitter | None = None,
) -> DeliveryReport:
    """The report of a deliver stage run."""
    runtime = runtime_for(store, process, data_dir, emitter=emitter, variables=variables)
    summary = run_stage(runtime, DeliverStage(tuple(names))).summary
    targets = [TargetReport(**target) for target in summary["targets"]]
    return DeliveryReport(summary["run_id"], summary["process"], targets)


def ingested(
    store: Store,
    process: ProcessDefinition,
    *,
    data_dir: Path,
    names: Sequence[str] = (),
    variables: Mapping[str, str] | None = None,
    emitter: OpenLineageEmitter | None = None,
) -> list[SourceReport]:
    """The reports of an ingest stage run per declared source (all, or ``names``)."""
    runtime = runtime_for(store, process, data_dir, emitter=emitter, variables=variables)
    reports = []
    for spec in declared_sources(process, names):
        summary = dict(run_stage(runtime, IngestStage(spec)).summary)
        files = [FileOutcome(**item) for item in summary.pop("files")]
        reports.append(SourceReport(**summary, files=files))
    return reports
