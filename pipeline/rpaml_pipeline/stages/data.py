"""The stages that move data: ingest from a declared source, score, deliver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rpaml_models import ModelRegistry
from rpaml_pipeline.delivery import deliver
from rpaml_pipeline.delivery.run import chosen_targets, output_datasets
from rpaml_pipeline.exploration import exploration_for
from rpaml_pipeline.lineage.openlineage import Dataset
from rpaml_pipeline.monitoring.drift_check import ALERTS_KEY
from rpaml_pipeline.monitoring.references import drift_monitor, export_metrics
from rpaml_pipeline.process.definition import SourceSpec
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.scoring_stage import score_validated
from rpaml_pipeline.sources import ingest_source, source_location
from rpaml_pipeline.sources.stream_ingest import STREAM_KINDS
from rpaml_pipeline.sources.streams import PullLimits
from rpaml_pipeline.stages import datasets
from rpaml_pipeline.stages.runner import StageOutcome


@dataclass(frozen=True)
class IngestStage:
    """Stage the records of one declared source (inbox, SQL, HTTP...)."""

    source: SourceSpec
    kind: str = "ingest"
    robot: str | None = None
    limits: PullLimits | None = field(default=None, compare=False)
    """How long a stream source's pull lasts (one bounded pull when not given)."""

    @property
    def job(self) -> str:
        return f"ingest.{self.source.name}"

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        where = source_location(self.source, runtime.data_dir)
        return {"source": self.source.name, "kind": self.source.kind, "location": where}

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        where = source_location(self.source, runtime.data_dir)
        if self.source.kind in STREAM_KINDS or self.source.kind == "object_store":
            # The stream, queue or bucket itself: namespace its server, name its path.
            server, _, path = where.partition("://")[2].partition("/")
            scheme = where.partition("://")[0]
            return [Dataset(namespace=f"{scheme}://{server}", name=path or "/")]
        return [Dataset(namespace=f"{self.source.kind}:{self.source.name}", name=where)]

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        report = ingest_source(
            runtime.store,
            runtime.process,
            self.source,
            run_id,
            data_dir=runtime.data_dir,
            variables=runtime.variables,
            limits=self.limits,
        )
        staged = datasets.records(runtime, "collected", rows=report.new + report.revised)
        return StageOutcome(report.as_dict(), outputs=[staged], failed=report.error)


@dataclass(frozen=True)
class ScoreStage:
    """Score every validated record through the scoring service."""

    kind: str = "score"
    robot: str | None = None
    job: str = "score"

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        return {"service_url": runtime.service_url, "model": runtime.process.model.name}

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        return [datasets.records(runtime, "validated", typed=True), datasets.model(runtime, None)]

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        monitor = drift_monitor(runtime)
        registry = ModelRegistry(runtime.registry_dir)
        exploration = exploration_for(runtime.store, runtime.process, registry)
        with runtime.scoring_client() as client:
            summary = score_validated(
                runtime.store,
                runtime.process,
                client,
                run_id=run_id,
                owner=runtime.owner,
                monitor=monitor,
                exploration=exploration,
            )
        drift = monitor.report()
        if drift["alerts"]:
            runtime.store.annotate_run(run_id, {ALERTS_KEY: drift["alerts"]})
        try:
            export_metrics(runtime, current=(run_id, drift))
        except OSError as error:
            # The decisions are stored: a metrics folder that cannot be written is named
            # in the run's summary rather than failing the scoring run.
            drift["metrics_error"] = f"metrics textfile not written: {error}"
        used = [datasets.model(runtime, version) for version in summary.model_versions]
        inputs = [datasets.records(runtime, "validated", typed=True), *used]
        outputs = [datasets.records(runtime, "decided", rows=summary.scored, typed=True)]
        failed = None
        if summary.error:
            failed = f"scoring stopped: {summary.error}; {summary.waiting} records wait"
        return StageOutcome(
            {**summary.as_dict(), "drift": drift}, outputs=outputs, inputs=inputs, failed=failed
        )


@dataclass(frozen=True)
class DeliverStage:
    """Deliver processed records, scores and decisions to the declared targets."""

    names: tuple[str, ...] = ()
    kind: str = "deliver"
    robot: str | None = None
    job: str = "deliver"
    sleep: Any = field(default=None, compare=False)
    """How to wait between a webhook's retries (tests pass one that does not sleep)."""

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        return {"targets": [target.name for target in chosen_targets(runtime.process, self.names)]}

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        return [datasets.records(runtime, "decided", typed=True)]

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        extra = {} if self.sleep is None else {"sleep": self.sleep}
        report = deliver(
            runtime.store,
            runtime.process,
            run_id,
            data_dir=runtime.data_dir,
            names=self.names,
            variables=runtime.variables,
            **extra,
        )
        failed = [f"{t.target}: {t.error}" for t in report.targets if t.status == "failed"]
        return StageOutcome(
            report.as_dict(),
            outputs=output_datasets(report, runtime.process),
            failed="; ".join(failed) or None,
        )
