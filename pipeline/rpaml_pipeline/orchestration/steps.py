"""The loop's stages as DBOS steps: each calls the stage function the CLI and demo use.

A stage that fails raises :class:`JobFailedError`; DBOS retries it with exponential
backoff (``step_retry_seconds``, doubled each time, ``step_attempts`` in all) and then
fails the workflow, which ends in ``ERROR`` with the reason (``rpaml status`` lists it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbos import DBOS, StepOptions

from rpaml_pipeline.model_training import train_from_store
from rpaml_pipeline.orchestration.errors import JobFailedError
from rpaml_pipeline.orchestration.runtime import WorkerRuntime, current
from rpaml_pipeline.orchestration.stranded import requeue_stranded
from rpaml_pipeline.scoring import ScoringClient
from rpaml_pipeline.stages import (
    deliver_stage,
    process_stage,
    robot_name,
    robot_stage,
    score_stage,
)


def run_stage(stage: str) -> dict[str, Any]:
    """Run ``stage`` of the installed worker as a checkpointed, retried DBOS step."""
    runtime = current()
    options: StepOptions = {
        "name": f"rpaml.{stage}",
        "retries_allowed": True,
        "max_attempts": runtime.engine.step_attempts,
        "interval_seconds": runtime.engine.step_retry_seconds,
        "backoff_rate": 2.0,
    }
    return DBOS.run_step(options, STAGES[stage], runtime)


def _robot(runtime: WorkerRuntime, role: str) -> dict[str, Any]:
    settings = runtime.settings
    result, figures = robot_stage(
        runtime.store,
        robot_name(runtime.process, role),
        robots_dir=settings.project_dir / "robots",
        output_root=settings.data_dir / "robot-runs",
        env=runtime.robot_env,
    )
    figures["log"] = str(result.log_html)
    if not result.succeeded:
        messages = "; ".join(result.failure_messages) or f"exit code {result.return_code}"
        raise JobFailedError(f"robot {result.suite} failed: {messages} (log: {result.log_html})")
    return figures


def _history(runtime: WorkerRuntime) -> dict[str, Any]:
    return _robot(runtime, "history")


def _collect(runtime: WorkerRuntime) -> dict[str, Any]:
    return _robot(runtime, "collect")


def _enrich(runtime: WorkerRuntime) -> dict[str, Any]:
    enrichment = runtime.process.enrichment
    if enrichment is None:
        return {"skipped": "the process declares no enrichment"}
    return _robot(runtime, enrichment.robot)


def _act(runtime: WorkerRuntime) -> dict[str, Any]:
    # Records a robot that died left in ``acting`` go back first, so this robot can
    # check them in the application (see ``stranded``).
    stranded = requeue_stranded(runtime.store, runtime.process.name)
    figures = _robot(runtime, "act")
    figures["requeued_stranded"] = len(stranded.requeued)
    figures["leases_released"] = len(stranded.released)
    figures["dead_runs_closed"] = len(stranded.runs_closed)
    return figures


def _process(runtime: WorkerRuntime) -> dict[str, Any]:
    return process_stage(runtime.store, runtime.process, runtime.emitter)


def _score(runtime: WorkerRuntime) -> dict[str, Any]:
    service_url = runtime.settings.service_url
    with ScoringClient(service_url, api_key=runtime.service_api_key) as client:
        figures = score_stage(runtime.store, runtime.process, client)
    if figures["error"]:
        raise JobFailedError(
            f"scoring stopped: {figures['error']}; {figures['waiting']} records wait"
        )
    return figures


def _deliver(runtime: WorkerRuntime) -> dict[str, Any]:
    settings = runtime.settings
    return deliver_stage(
        runtime.store,
        runtime.process,
        settings.data_dir,
        runtime.emitter,
        variables=settings.variables(),
    )


def _train(runtime: WorkerRuntime) -> dict[str, Any]:
    store, process = runtime.store, runtime.process
    run_id = store.start_run(process.name, "train")
    try:
        outcome = train_from_store(store, process, runtime.settings.registry_dir, run_id=run_id)
    except Exception as error:
        store.finish_run(run_id, "failed", {"error": str(error)})
        raise
    store.finish_run(run_id, "succeeded", outcome.as_dict())
    return {"run_id": run_id, **outcome.as_dict()}


STAGES: dict[str, Callable[[WorkerRuntime], dict[str, Any]]] = {
    "history": _history,
    "collect": _collect,
    "enrich": _enrich,
    "process": _process,
    "score": _score,
    "act": _act,
    "deliver": _deliver,
    "train": _train,
}
