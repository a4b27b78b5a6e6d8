"""``rpaml worker``, ``rpaml run``, ``rpaml schedule list`` and ``rpaml recover``:
the loop as durable, scheduled jobs on DBOS."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from dataclasses import asdict
from types import FrameType

import click

from rpaml_pipeline.cli import main
from rpaml_pipeline.cli.common import echo_json, friendly_errors, settings_of
from rpaml_pipeline.orchestration import JOBS, engine_settings, schedule_entries
from rpaml_pipeline.orchestration.control import (
    describe_schedules,
    enqueue_job,
    recover_executor,
    schedule_states,
    wait_for,
)
from rpaml_pipeline.orchestration.engine import OrchestrationSettings
from rpaml_pipeline.process import load_process


def _orchestration(executor_id: str | None = None) -> OrchestrationSettings:
    settings = OrchestrationSettings()
    if executor_id:
        settings = settings.model_copy(update={"executor_id": executor_id})
    return settings


@main.command()
@click.option("--executor-id", help="This worker's id (default: RPAML_EXECUTOR_ID or host name).")
@click.pass_context
@friendly_errors
def worker(ctx: click.Context, executor_id: str | None) -> None:
    """Run the process's schedules and queued jobs until SIGTERM or Ctrl-C.

    Robots reach the portal at RPAML_PORTAL_URL and the scoring service at
    RPAML_SERVICE_URL; RPAML_WORKER_BROWSERS robot jobs run at once (default 1).
    """
    from rpaml_pipeline.orchestration.runtime import WorkerRuntime
    from rpaml_pipeline.orchestration.worker import run_worker

    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    engine = engine_settings(settings, process, _orchestration(executor_id))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"worker {engine.executor_id}: {signal.Signals(signum).name}, stopping")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runtime = WorkerRuntime.build(settings, engine, process)
    run_worker(runtime, stop, progress=lambda line: click.echo(line))


@main.command("run")
@click.argument("job", type=click.Choice(sorted(JOBS)))
@click.option("--wait", "wait_seconds", type=float, help="Wait up to this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@friendly_errors
def run_command(ctx: click.Context, job: str, wait_seconds: float | None, as_json: bool) -> None:
    """Enqueue JOB for the workers (``loop`` is the whole loop); print its workflow id."""
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    engine = engine_settings(settings, process, _orchestration())
    workflow_id = enqueue_job(engine, process, job)
    if wait_seconds is None:
        echo_json({"workflow_id": workflow_id}) if as_json else click.echo(workflow_id)
        return
    view = wait_for(engine, workflow_id, wait_seconds)
    if as_json:
        echo_json(asdict(view))
    else:
        click.echo(f"{workflow_id}: {view.state}" + (f" ({view.error})" if view.error else ""))
    if view.state != "succeeded":
        raise SystemExit(1)


@main.group()
def schedule() -> None:
    """The process file's schedules."""


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@friendly_errors
def schedule_list(ctx: click.Context, as_json: bool) -> None:
    """List each schedule with its job, cron expression, queue and next run (UTC)."""
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    engine = engine_settings(settings, process, _orchestration())
    rows = describe_schedules(
        schedule_entries(process), schedule_states(engine), dt.datetime.now(dt.UTC)
    )
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"process {process.name} declares no schedules")
    for row in rows:
        click.echo(
            f"{row['schedule']:<28} {row['cron']:<20} next {row['next_run']}  "
            f"[{row['queue']}] {row['status']}"
        )


@main.command()
@click.argument("executor_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
@friendly_errors
def recover(ctx: click.Context, executor_id: str, as_json: bool) -> None:
    """Hand the unfinished workflows of dead worker EXECUTOR_ID to the live workers."""
    settings = settings_of(ctx)
    process = load_process(settings.process_file)
    engine = engine_settings(settings, process, _orchestration())
    workflow_ids = recover_executor(engine, executor_id)
    if as_json:
        echo_json({"executor_id": executor_id, "recovered": workflow_ids})
        return
    click.echo(f"{len(workflow_ids)} workflows of {executor_id} handed to the live workers")
    for workflow_id in workflow_ids:
        click.echo(f"  {workflow_id}")
