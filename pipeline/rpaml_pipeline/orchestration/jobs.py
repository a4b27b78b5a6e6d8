"""The jobs a worker runs: each one a fixed sequence of the loop's stages.

Schedules in the process file name jobs (``collect: "*/15 * * * *"``). Every stage is
idempotent (natural-key ingest, leased claims, a robot that re-reads the application
before acting), which is what makes retrying a stage and resuming a workflow safe.
"""

from __future__ import annotations

from collections.abc import Mapping

from rpaml_pipeline.orchestration.errors import UnknownJobError
from rpaml_pipeline.process import ProcessDefinition

#: Stages of each job, in order. ``process`` scores as well: a record is only worth
#: acting on once it is decided, so the scheduled processing takes it that far.
JOBS: Mapping[str, tuple[str, ...]] = {
    "history": ("history", "enrich", "process", "train"),
    "collect": ("collect",),
    "enrich": ("enrich",),
    "process": ("process", "score"),
    "score": ("score",),
    "act": ("act",),
    "train": ("train",),
    "deliver": ("deliver",),
    "monitor": ("monitor",),
    "retrain": ("retrain",),
    "loop": ("collect", "enrich", "process", "score", "act", "deliver"),
}

#: Stages that drive an application through a browser.
ROBOT_STAGES = frozenset({"history", "collect", "enrich", "act"})


def job_stages(process: ProcessDefinition, job: str) -> tuple[str, ...]:
    """The stages ``job`` runs for ``process`` (``enrich`` and ``deliver`` only when it
    declares an enrichment and delivery targets)."""
    try:
        stages = JOBS[job]
    except KeyError:
        raise UnknownJobError(
            f"unknown job {job!r} in process {process.name}; known jobs: {', '.join(JOBS)}"
        ) from None
    declared = {"enrich": process.enrichment is not None, "deliver": bool(process.delivery)}
    chosen = tuple(stage for stage in stages if declared.get(stage, True))
    if not chosen:
        raise UnknownJobError(
            f"job {job!r} has nothing to do: process {process.name} declares no {job} step"
        )
    return chosen


def job_queue(process: ProcessDefinition, job: str) -> str:
    """The queue a job runs on: robot jobs share the browser queue."""
    stages = job_stages(process, job)
    kind = "robots" if ROBOT_STAGES.intersection(stages) else "pipeline"
    return queue_name(process.name, kind)


def queue_name(process_name: str, kind: str) -> str:
    """The DBOS queue of ``kind`` (``robots`` or ``pipeline``) for a process."""
    return f"{process_name}.{kind}"
