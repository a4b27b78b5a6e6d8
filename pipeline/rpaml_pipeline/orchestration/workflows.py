"""The DBOS workflows: a job run on demand, and a job run by a schedule.

Both run the stages of the job one after another as steps; a stage already completed
before a crash is not run again when the workflow resumes, its checkpointed result is
reused. Importing this module registers the workflows with DBOS (as DBOS requires,
before launch); it builds nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dbos import DBOS

from rpaml_pipeline.orchestration.errors import OrchestrationError
from rpaml_pipeline.orchestration.jobs import job_stages
from rpaml_pipeline.orchestration.runtime import current
from rpaml_pipeline.orchestration.steps import run_stage_step

#: A workflow restarted this many times after crashes is left in
#: MAX_RECOVERY_ATTEMPTS_EXCEEDED for a person (DBOS's dead-letter state).
MAX_RECOVERY_ATTEMPTS = 5

RUN_JOB = "rpaml.run_job"
SCHEDULED_JOB = "rpaml.scheduled_job"


def _run_stages(process_name: str, job: str) -> dict[str, Any]:
    runtime = current()
    if process_name != runtime.process.name:
        raise OrchestrationError(
            f"job {job!r} is for process {process_name}, this worker runs {runtime.process.name}"
        )
    results: dict[str, Any] = {}
    for stage in job_stages(runtime.process, job):
        results[stage] = run_stage_step(stage)
    return {"process": process_name, "job": job, "stages": results}


@DBOS.workflow(name=RUN_JOB, max_recovery_attempts=MAX_RECOVERY_ATTEMPTS)
def run_job(process_name: str, job: str) -> dict[str, Any]:
    """Run ``job`` of ``process_name`` (enqueued by ``rpaml run``)."""
    return _run_stages(process_name, job)


@DBOS.workflow(name=SCHEDULED_JOB, max_recovery_attempts=MAX_RECOVERY_ATTEMPTS)
def scheduled_job(scheduled_at: dt.datetime, context: Any) -> None:
    """Run the job a schedule names (``context``: ``{"process": ..., "job": ...}``)."""
    if not isinstance(context, dict) or "job" not in context or "process" not in context:
        raise OrchestrationError(f"schedule context {context!r} names no process and job")
    _run_stages(str(context["process"]), str(context["job"]))
