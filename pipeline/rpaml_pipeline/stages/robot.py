"""Robot stages: a task suite run against an application, in the stage's run.

The runner opens the run and hands its id to the robot (``RPAML_RUN_ID``); the robot's
``Staging`` library works in it and records what it staged or did in the run's details
(``robot_summary``), which become the run's figures. Before the act robot runs, records a
dead robot left in ``acting`` go back to ``decided`` (whoever starts the stage), so this
robot checks them in the application.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rpaml_pipeline.errors import RecordNotFoundError, RobotRunError
from rpaml_pipeline.lineage.openlineage import Dataset
from rpaml_pipeline.process import ProcessDefinition
from rpaml_pipeline.robot_runs import run_robot, suite_path
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.stages import datasets
from rpaml_pipeline.stages.runner import StageOutcome
from rpaml_pipeline.stranded import requeue_stranded

ROBOT_SUMMARY = "robot_summary"
"""The run detail in which a robot working in its caller's run records its figures."""


def robot_name(process: ProcessDefinition, name_or_role: str) -> str:
    """The robot (task suite) playing a role of the process (history, collect, enrich,
    act), or ``name_or_role`` itself when it is not a role."""
    roles = process.robots.model_dump()
    roles["enrich"] = process.enrichment.robot if process.enrichment is not None else None
    if name_or_role in roles:
        name = roles[name_or_role]
        if name is None:
            raise RobotRunError(f"process {process.name} names no {name_or_role} robot")
        return str(name)
    return name_or_role


@dataclass(frozen=True)
class RobotStage:
    """Run the robot playing ``kind`` (a role of the process, or a robot's name)."""

    kind: str
    robot: str

    @classmethod
    def of(cls, process: ProcessDefinition, role: str) -> RobotStage:
        """The stage of ``role`` (``collect``, ``history``, ``enrich``, ``act``...)."""
        robot = robot_name(process, role)
        kind = role if role != robot else _role_of(process, robot)
        return cls(kind, robot)

    @property
    def job(self) -> str:
        return self.kind

    def details(self, runtime: Runtime) -> Mapping[str, Any]:
        return {"robot": self.robot}

    def inputs(self, runtime: Runtime) -> list[Dataset]:
        if self.kind == "act":
            return [datasets.records(runtime, "decided", typed=True)]
        if self.kind == "enrich":
            return [datasets.records(runtime, "collected"), datasets.application(runtime, "enrich")]
        return [datasets.application(runtime, self.kind)]

    def run(self, runtime: Runtime, run_id: str) -> StageOutcome:
        requeued: dict[str, int] = {}
        if self.kind == "act":
            stranded = requeue_stranded(runtime.store, runtime.process.name, run_id=run_id)
            requeued = {
                "requeued_stranded": len(stranded.requeued),
                "leases_released": len(stranded.released),
                "dead_runs_closed": len(stranded.runs_closed),
            }
        result = run_robot(
            suite_path(runtime.robots_dir, self.robot),
            output_dir=runtime.data_dir / "robot-runs" / f"{self.robot}-{run_id[:8]}",
            env={**runtime.robot_env, "RPAML_RUN_ID": run_id},
        )
        figures = {**robot_figures(runtime, run_id), **requeued, "log": str(result.log_html)}
        failed = None
        if not result.succeeded:
            messages = "; ".join(result.failure_messages) or f"exit code {result.return_code}"
            failed = f"robot {result.suite} failed: {messages} (log: {result.log_html})"
        return StageOutcome(figures, outputs=self._outputs(runtime, figures), failed=failed)

    def _outputs(self, runtime: Runtime, figures: Mapping[str, Any]) -> list[Dataset]:
        if self.kind == "act":
            return [datasets.application(runtime, "act")]
        if self.kind == "enrich":
            return [Dataset(datasets.records(runtime, "collected").namespace,
                            f"{runtime.process.name}.enrichments",
                            row_count=int(figures.get("enriched", 0)))]  # fmt: skip
        staged = int(figures.get("new", 0)) + int(figures.get("revised", 0))
        return [datasets.records(runtime, "collected", rows=staged)]


def _role_of(process: ProcessDefinition, robot: str) -> str:
    for role, suite in process.robots.model_dump().items():
        if suite == robot:
            return str(role)
    if process.enrichment is not None and process.enrichment.robot == robot:
        return "enrich"
    return robot


def robot_figures(runtime: Runtime, run_id: str) -> dict[str, Any]:
    """The figures a robot recorded in its run, flattened for reports (zero for a robot
    that failed before it could record any)."""
    try:
        run = runtime.store.get_run(run_id)
    except RecordNotFoundError:
        return {"robot_status": "not started"}
    summary = dict((run.details or {}).get(ROBOT_SUMMARY) or run.summary or {})
    staged = summary.get("staged", {})
    acted = summary.get("acted", {})
    failures = summary.get("failures", {})
    collection = summary.get("collection", {})
    return {
        "new": int(staged.get("new", 0)),
        "revised": int(staged.get("revised", 0)),
        "unchanged": int(staged.get("unchanged", 0)),
        "on_screen": int(collection.get("claims", 0)),
        "duplicates": int(collection.get("duplicates", 0)),
        "applied": int(acted.get("applied", 0)),
        "already_decided": int(acted.get("already_decided", 0)),
        "failed": int(failures.get("business", 0)) + int(failures.get("application", 0)),
        "enriched": int(summary.get("enriched", 0)),
        "quarantined": int(summary.get("quarantined", 0)),
        "already_enriched": int(summary.get("already_enriched", 0)),
        "robot": summary,
    }
