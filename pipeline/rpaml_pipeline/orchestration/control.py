"""Managing workflows from outside a worker: enqueue a job, list workflows, queues and
schedules, recover a dead worker's workflows.

These talk to the system database through a ``DBOSClient`` (no workflow code runs in
the calling process), except :func:`recover_executor`, which launches DBOS without
listening to any queue so that the live workers, not this command, run what it hands
over.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions, WorkflowHandle
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from rpaml_pipeline.orchestration.engine import EngineSettings
from rpaml_pipeline.orchestration.errors import OrchestrationError
from rpaml_pipeline.orchestration.jobs import job_queue, job_stages
from rpaml_pipeline.orchestration.schedules import ScheduleEntry
from rpaml_pipeline.process import ProcessDefinition

#: DBOS's workflow states as rpaml reports them; ``dead`` needs a person.
WORKFLOW_STATES = {
    "ENQUEUED": "queued",
    "DELAYED": "queued",
    "PENDING": "running",
    "SUCCESS": "succeeded",
    "ERROR": "dead",
    "CANCELLED": "cancelled",
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": "dead",
}


@dataclass(frozen=True)
class WorkflowView:
    """A job's workflow as ``rpaml status`` shows it."""

    workflow_id: str
    job: str
    state: str
    dbos_status: str
    queue: str | None
    executor_id: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    error: str | None


def system_database_exists(engine: EngineSettings) -> bool:
    """False while no worker has created the DBOS system tables (SQLite file or schema)."""
    url = engine.system_database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).is_file()
    sa_url = make_url(url)
    if sa_url.drivername == "postgresql":
        # DBOS takes plain postgresql:// URLs; SQLAlchemy's default driver for those
        # (psycopg2) is not installed, psycopg 3 is.
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    probe = create_engine(sa_url)
    try:
        with probe.connect() as conn:
            return inspect(conn).has_table("workflow_status", schema="dbos")
    except SQLAlchemyError:
        return False
    finally:
        probe.dispose()


@contextmanager
def client(engine: EngineSettings) -> Iterator[DBOSClient]:
    """A DBOS client of the process's application; raises when no worker ever ran."""
    if not system_database_exists(engine):
        raise OrchestrationError(
            f"no system database at {engine.system_database_url}: start `rpaml worker` first"
        )
    dbos_client = DBOSClient(
        system_database_url=engine.system_database_url, application_name=engine.app_name
    )
    try:
        yield dbos_client
    finally:
        dbos_client.destroy()


def enqueue_job(engine: EngineSettings, process: ProcessDefinition, job: str) -> str:
    """Put ``job`` on its queue for a worker; return the workflow id."""
    job_stages(process, job)
    options: EnqueueOptions = {
        "queue_name": job_queue(process, job),
        "workflow_name": "rpaml.run_job",
        "app_version": engine.app_version,
    }
    with client(engine) as dbos_client:
        handle: WorkflowHandle[dict[str, Any]] = dbos_client.enqueue(options, process.name, job)
        return handle.get_workflow_id()


def wait_for(engine: EngineSettings, workflow_id: str, timeout: float) -> WorkflowView:
    """Wait until the workflow has finished (or ``timeout`` passed); return its view."""
    deadline = time.monotonic() + timeout
    with client(engine) as dbos_client:
        while True:
            found = dbos_client.list_workflows(workflow_ids=[workflow_id])
            if found and found[0].status not in ("ENQUEUED", "DELAYED", "PENDING"):
                return _view(found[0])
            if time.monotonic() > deadline:
                raise OrchestrationError(f"workflow {workflow_id} did not finish in {timeout} s")
            time.sleep(0.5)


def list_workflows(engine: EngineSettings, limit: int = 20) -> list[WorkflowView]:
    """The newest workflows of the process, newest first."""
    with client(engine) as dbos_client:
        found = dbos_client.list_workflows(limit=limit, sort_desc=True)
    return [_view(status) for status in found]


def list_queues(engine: EngineSettings) -> list[dict[str, Any]]:
    """Each queue with its per-worker limit and how many workflows wait or run on it."""
    with client(engine) as dbos_client:
        queues = dbos_client.list_queues()
        views = []
        for queue in queues:
            queued = dbos_client.list_queued_workflows(queue_name=queue.name, load_input=False)
            views.append(
                {
                    "queue": queue.name,
                    "worker_concurrency": queue.worker_concurrency,
                    "queued": sum(1 for w in queued if w.status in ("ENQUEUED", "DELAYED")),
                    "running": sum(1 for w in queued if w.status == "PENDING"),
                }
            )
    return views


def schedule_states(engine: EngineSettings) -> dict[str, dict[str, Any]]:
    """Stored state (status, last tick fired) of every schedule, by name."""
    if not system_database_exists(engine):
        return {}
    with client(engine) as dbos_client:
        return {
            schedule["schedule_name"]: {
                "status": schedule["status"],
                "last_fired_at": schedule["last_fired_at"],
            }
            for schedule in dbos_client.list_schedules()
        }


def describe_schedules(
    entries: list[ScheduleEntry], states: dict[str, dict[str, Any]], now: dt.datetime
) -> list[dict[str, Any]]:
    """The schedules with their next run, for ``rpaml schedule list``."""
    rows = []
    for entry in entries:
        state = states.get(entry.name, {})
        rows.append(
            {
                "schedule": entry.name,
                "job": entry.job,
                "cron": entry.cron,
                "queue": entry.queue,
                "next_run": entry.next_runs(now)[0].isoformat(),
                "status": state.get("status", "not applied (no worker started yet)"),
                "last_fired_at": state.get("last_fired_at"),
            }
        )
    return rows


def recover_executor(engine: EngineSettings, executor_id: str) -> list[str]:
    """Hand the unfinished workflows of a dead worker to the live ones.

    The workflows go back to their queues; any worker of the process dequeues them
    (DBOS lets exactly one do so) and resumes them after their last completed stage.
    Returns the workflow ids handed over.
    """
    if executor_id == engine.executor_id:
        raise OrchestrationError(
            f"{executor_id!r} is this machine's own executor id: a restarted worker "
            "recovers its own workflows; set RPAML_EXECUTOR_ID to recover another one"
        )
    from rpaml_pipeline.orchestration.worker import launch

    # A one-off executor id: DBOS recovers the launching executor's own pending
    # workflows at launch, and this command must not take a live worker's.
    launch(replace(engine, executor_id=f"recover-{uuid.uuid4().hex[:12]}"), listen=False)
    try:
        # DBOS's own recovery entry point (what its admin endpoint calls).
        handles = DBOS._recover_pending_workflows([executor_id])
        return [handle.get_workflow_id() for handle in handles]
    finally:
        DBOS.destroy(destroy_registry=False)


def _view(status: Any) -> WorkflowView:
    job = "?"
    inputs = status.input
    if inputs is not None:
        args = inputs.get("args", ())
        if status.name == "rpaml.run_job" and len(args) >= 2:
            job = str(args[1])
        elif len(args) >= 2 and isinstance(args[1], dict):
            job = f"{args[1].get('job', '?')} (scheduled)"
    error = status.error
    return WorkflowView(
        workflow_id=status.workflow_id,
        job=job,
        state=WORKFLOW_STATES.get(status.status, status.status.lower()),
        dbos_status=status.status,
        queue=status.queue_name,
        executor_id=status.executor_id,
        created_at=_ms(status.created_at),
        updated_at=_ms(status.updated_at),
        error=None if error is None else _reason(error),
    )


def _reason(error: object) -> str:
    """Why a workflow ended, in words: DBOS's "exceeded its maximum of N retries" says
    nothing a person can act on, so the last underlying error is added."""
    attempts = getattr(error, "errors", None)
    if isinstance(attempts, list) and attempts:
        last = attempts[-1]
        return f"{error}; last error: {type(last).__name__}: {last}"
    return str(error)


def _ms(value: int | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value / 1000, dt.UTC)


def orchestration_summary(engine: EngineSettings, limit: int = 10) -> dict[str, Any]:
    """Workflows (newest first, with the reason of dead ones) and queues, for
    ``rpaml status``; empty lists before any worker created the system database."""
    if not system_database_exists(engine):
        return {"system_database": engine.system_database_url, "workflows": [], "queues": []}
    return {
        "system_database": engine.system_database_url,
        "workflows": [asdict(view) for view in list_workflows(engine, limit)],
        "queues": list_queues(engine),
    }
