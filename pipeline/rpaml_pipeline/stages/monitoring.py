"""The monitor stage: the monitoring report, performance alerts and metrics, as one run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rpaml_pipeline.lineage.openlineage import Dataset
from rpaml_pipeline.monitoring.drift_check import ALERTS_KEY
from rpaml_pipeline.monitoring.references import export_metrics
from rpaml_pipeline.monitoring.report import monitor_facts, write_report
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import datasets
from rpaml_pipeline.stages.runner import StageOutcome


@dataclass(frozen=True)
class MonitorStage:
    """Write the monitoring report (:mod:`rpaml_pipeline.monitoring.report`) into
    ``output`` (default ``<data>/monitoring``), record the performance alerts on the run
    and rewrite the Prometheus textfile."""

    output: Path | None = None
    kind: str = "monitor"
    robot: str | None = None
    job: str = "monitor"

    def folder(self, runtime: Runtime) -> Path:
        return self.output or runtime.data_dir / "monitoring"

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        return {"output": str(self.folder(runtime)), "model": runtime.process.model.name}

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        return [datasets.records(runtime, "decided", typed=True)]

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        facts = monitor_facts(runtime.store, runtime.process, runtime.registry_dir)
        page, data = write_report(facts, self.folder(runtime))
        performance = facts["alerts"]["performance"]
        if performance:
            runtime.store.annotate_run(run_id, {ALERTS_KEY: performance})
        judged = [week for week in facts["weeks"] if week["cost_per_decision"] is not None]
        latest = {}
        if judged:
            last = judged[-1]
            latest[runtime.process.name] = {
                "week": last["week"],
                "cost_per_decision": last["cost_per_decision"],
                "ece": last["ece"],
                "auc": last["auc"],
                "labels": last["labels"],
                "alerts": last["alerts"],
            }
        metrics = export_metrics(runtime, outcomes=latest)
        summary = {
            "report": str(page),
            "facts": str(data),
            "metrics": str(metrics),
            "scoring_runs": len(facts["scoring_runs"]),
            "weeks": len(facts["weeks"]),
            "labels": facts["labels"],
            "champion": facts["champion"],
            "alerts": [*facts["alerts"]["drift"], *performance],
        }
        return StageOutcome(summary)
