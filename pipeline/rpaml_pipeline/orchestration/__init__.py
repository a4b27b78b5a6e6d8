"""Durable orchestration of the loop on DBOS Transact: jobs, schedules, queues, workers.

A *job* is a named sequence of the loop's stages (``collect``, ``process``, ``act``,
``loop``...). Each job runs as a DBOS workflow whose stages are DBOS steps, so a worker
that dies mid-job resumes at the stage it was in when it (or another worker) restarts.
The system database is SQLite next to the store on one machine, or the store's own
PostgreSQL database when several workers share the work.
"""

from rpaml_pipeline.orchestration.engine import EngineSettings, engine_settings
from rpaml_pipeline.orchestration.errors import (
    JobFailedError,
    OrchestrationError,
    UnknownJobError,
)
from rpaml_pipeline.orchestration.jobs import JOBS, job_queue, job_stages
from rpaml_pipeline.orchestration.schedules import ScheduleEntry, missed_tick, schedule_entries

__all__ = [
    "JOBS",
    "EngineSettings",
    "JobFailedError",
    "OrchestrationError",
    "ScheduleEntry",
    "UnknownJobError",
    "engine_settings",
    "job_queue",
    "job_stages",
    "missed_tick",
    "schedule_entries",
]
