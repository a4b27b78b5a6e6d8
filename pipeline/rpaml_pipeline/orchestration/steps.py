"""The loop's stages as DBOS steps: each runs the stage the CLI and demo run.

A stage that fails raises :class:`JobFailedError`; DBOS retries it with exponential
backoff (``step_retry_seconds``, doubled each time, ``step_attempts`` in all) and then
fails the workflow, which ends in ``ERROR`` with the reason (``rpaml status`` lists it).
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS, StepOptions

from rpaml_pipeline.orchestration.errors import JobFailedError
from rpaml_pipeline.orchestration.runtime import WorkerRuntime, current
from rpaml_pipeline.stages import (
    DeliverStage,
    MonitorStage,
    ProcessStage,
    RetrainStage,
    RobotStage,
    ScoreStage,
    Stage,
    TrainStage,
    run_stage,
)

STAGE_NAMES = (
    "history", "collect", "enrich", "process", "score", "act", "deliver", "train", "monitor",
    "retrain",
)  # fmt: skip


def run_stage_step(stage: str) -> dict[str, Any]:
    """Run ``stage`` of the installed worker as a checkpointed, retried DBOS step."""
    worker = current()
    options: StepOptions = {
        "name": f"rpaml.{stage}",
        "retries_allowed": True,
        "max_attempts": worker.engine.step_attempts,
        "interval_seconds": worker.engine.step_retry_seconds,
        "backoff_rate": 2.0,
    }
    return DBOS.run_step(options, _run, worker, stage)


def _run(worker: WorkerRuntime, name: str) -> dict[str, Any]:
    process = worker.process
    if name == "enrich" and process.enrichment is None:
        return {"skipped": "the process declares no enrichment"}
    result = run_stage(worker.runtime, stage_of(worker, name))
    if not result.succeeded:
        raise JobFailedError(result.error or f"stage {name} failed")
    return result.as_dict()


def stage_of(worker: WorkerRuntime, name: str) -> Stage:
    """The stage called ``name`` (:data:`STAGE_NAMES`)."""
    if name in ("history", "collect", "enrich", "act"):
        return RobotStage.of(worker.process, name)
    stages: dict[str, Stage] = {
        "process": ProcessStage(),
        "score": ScoreStage(),
        "deliver": DeliverStage(),
        "train": TrainStage(),
        "monitor": MonitorStage(),
        "retrain": RetrainStage(),
    }
    if name not in stages:
        raise JobFailedError(f"unknown stage {name!r}; known: {', '.join(STAGE_NAMES)}")
    return stages[name]
