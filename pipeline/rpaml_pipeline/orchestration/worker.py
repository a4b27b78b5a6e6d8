"""``rpaml worker``: run a process's schedules and queued jobs until stopped.

On start the worker reaps the helper processes (browsers, Xvfb) that dead robots of this
host left behind (see :mod:`rpaml_pipeline.helper_ledger`), launches DBOS (which first
resumes this executor's unfinished workflows), declares the process's queues with their
per-worker concurrency, writes the process file's schedules to the system database, runs
the missed tick the policy owes (see :mod:`rpaml_pipeline.orchestration.schedules`), and
starts one long-lived consumer per stream source
(:mod:`rpaml_pipeline.orchestration.consumers`), and then works until SIGTERM or SIGINT.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from dbos import DBOS

from rpaml_pipeline.helper_ledger import reap_leftovers
from rpaml_pipeline.orchestration import workflows
from rpaml_pipeline.orchestration.consumers import StreamConsumers
from rpaml_pipeline.orchestration.engine import EngineSettings
from rpaml_pipeline.orchestration.jobs import queue_name
from rpaml_pipeline.orchestration.runtime import WorkerRuntime, install
from rpaml_pipeline.orchestration.schedules import ScheduleEntry, missed_tick, schedule_entries
from rpaml_pipeline.stranded import close_dead_runs

Progress = Callable[[str], None]


@dataclass
class WorkerStart:
    """What the worker did while starting."""

    executor_id: str
    queues: dict[str, int] = field(default_factory=dict)
    schedules: list[str] = field(default_factory=list)
    caught_up: list[str] = field(default_factory=list)


def launch(engine: EngineSettings, *, listen: bool = True) -> None:
    """Configure and launch DBOS for ``engine``; ``listen=False`` runs no queued job
    (for commands such as ``rpaml recover`` that only manage workflows)."""
    DBOS(config=engine.dbos_config())  # type: ignore[arg-type]
    if not listen:
        DBOS.listen_queues([])
    DBOS.launch()


def declare_queues(engine: EngineSettings, process_name: str) -> dict[str, int]:
    """Declare the robots and pipeline queues with their per-worker concurrency."""
    limits = {
        queue_name(process_name, "robots"): engine.worker_browsers,
        queue_name(process_name, "pipeline"): engine.worker_pipeline_jobs,
    }
    for name, limit in limits.items():
        DBOS.register_queue(name, worker_concurrency=limit, on_conflict="always_update")
    return limits


def apply_schedules(entries: list[ScheduleEntry], process_name: str) -> None:
    """Make the system database hold exactly the process file's schedules."""
    DBOS.apply_schedules(
        [
            {
                "schedule_name": entry.name,
                "workflow_fn": workflows.scheduled_job,
                "schedule": entry.cron,
                "context": {"process": entry.process, "job": entry.job},
                "queue_name": entry.queue,
            }
            for entry in entries
        ]
    )
    wanted = {entry.name for entry in entries}
    for existing in DBOS.list_schedules(schedule_name_prefix=f"{process_name}."):
        if existing["schedule_name"] not in wanted:
            DBOS.delete_schedule(existing["schedule_name"])


def catch_up(entries: list[ScheduleEntry], now: dt.datetime) -> list[str]:
    """Enqueue the one missed tick per schedule the coalescing policy owes.

    The tick gets the workflow id the scheduler itself would have given it, so two
    workers starting together still run it once.
    """
    enqueued = []
    for entry in entries:
        stored = DBOS.get_schedule(entry.name)
        fired = stored.get("last_fired_at") if stored else None
        last = dt.datetime.fromisoformat(fired) if fired else None
        tick = missed_tick(entry.cron, last, now)
        if tick is None:
            continue
        second = dt.timedelta(seconds=1)
        for handle in DBOS.backfill_schedule(entry.name, tick - second, tick + second):
            enqueued.append(handle.get_workflow_id())
    return enqueued


def start_worker(runtime: WorkerRuntime, progress: Progress = lambda _: None) -> WorkerStart:
    """Install ``runtime``, launch DBOS and set up queues and schedules."""
    engine = runtime.engine
    # Before DBOS resumes any workflow: a dead predecessor's browsers must not linger.
    for helper in reap_leftovers(runtime.runtime.data_dir):
        progress(f"worker {engine.executor_id}: reaped {helper.describe()}")
    install(runtime)
    # The runs of a worker killed on this host (any stage) are closed before new ones open.
    for run_id in close_dead_runs(runtime.store, runtime.process.name):
        progress(f"  closed run {run_id}: its owner died")
    entries = schedule_entries(runtime.process)
    launch(engine)
    started = WorkerStart(executor_id=engine.executor_id)
    started.queues = declare_queues(engine, runtime.process.name)
    apply_schedules(entries, runtime.process.name)
    started.schedules = [f"{entry.name} {entry.cron}" for entry in entries]
    started.caught_up = catch_up(entries, dt.datetime.now(dt.UTC))
    progress(
        f"worker {engine.executor_id}: process {runtime.process.name}, queues "
        + ", ".join(f"{name} x{limit}" for name, limit in started.queues.items())
    )
    for line in started.schedules:
        progress(f"  schedule {line}")
    for workflow_id in started.caught_up:
        progress(f"  catching up missed tick: {workflow_id}")
    return started


def stop_worker(runtime: WorkerRuntime) -> None:
    """Shut DBOS down and release the runtime."""
    DBOS.destroy(destroy_registry=False)
    install(None)
    runtime.runtime.close()


def run_worker(
    runtime: WorkerRuntime, stop: threading.Event, progress: Progress = lambda _: None
) -> WorkerStart:
    """Start the worker, work until ``stop`` is set, then shut down cleanly."""
    started = start_worker(runtime, progress)
    consumers = StreamConsumers(runtime.runtime, threading.Event(), progress)
    try:
        consumers.start()
        stop.wait()
    finally:
        consumers.join()
        stop_worker(runtime)
    return started
