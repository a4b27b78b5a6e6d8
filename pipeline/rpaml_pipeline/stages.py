"""The loop's stages as plain functions over a store: each records its run and summary.

The CLI commands, the demo and any scheduler call these, so a stage behaves the same
whoever starts it: it opens a run in the store, does its work, and closes the run with
its summary (or as failed, with the error, when it raises).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rpaml_pipeline.delivery import deliver
from rpaml_pipeline.errors import RecordNotFoundError, RobotRunError
from rpaml_pipeline.lineage.openlineage import OpenLineageEmitter
from rpaml_pipeline.owners import process_owner
from rpaml_pipeline.process import ProcessDefinition, process_hash
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.robot_runs import RobotRunResult, run_robot, suite_path
from rpaml_pipeline.scoring import ScoringClient
from rpaml_pipeline.scoring_stage import score_validated
from rpaml_pipeline.store import RunInfo, Store


def process_stage(
    store: Store, process: ProcessDefinition, emitter: OpenLineageEmitter | None = None
) -> dict[str, Any]:
    """Clean, validate, label and transform every collected record of ``process``."""
    run_id = store.start_run(
        process.name,
        "process",
        config_hash=process_hash(process),
        details={"owner": process_owner("pipeline")},  # closed as failed if we die
    )
    try:
        result = process_collected(store, process, run_id, emitter=emitter)
    except Exception as error:
        store.finish_run(run_id, "failed", {"error": str(error)})
        raise
    store.finish_run(run_id, "succeeded", result.as_dict())
    return {"run_id": run_id, **result.as_dict()}


def deliver_stage(
    store: Store,
    process: ProcessDefinition,
    data_dir: Path,
    emitter: OpenLineageEmitter | None = None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Deliver processed records, scores and decisions to the targets ``process`` declares
    (paths relative to ``data_dir``; ``${NAME}`` in URLs and headers from ``variables``);
    the delivery opens and closes its own run."""
    report = deliver(store, process, data_dir=data_dir, emitter=emitter, variables=variables)
    return report.as_dict()


def score_stage(store: Store, process: ProcessDefinition, client: ScoringClient) -> dict[str, Any]:
    """Score every validated record of ``process``; ``error`` is set when the service
    stopped answering or refused the requests (e.g. 401 without a valid API key); the
    records it did not score stay ``validated``."""
    run_id = store.start_run(
        process.name,
        "score",
        config_hash=process_hash(process),
        details={"owner": process_owner("pipeline")},  # closed as failed if we die
    )
    result = score_validated(store, process, client, run_id=run_id)
    store.finish_run(run_id, "failed" if result.error else "succeeded", result.as_dict())
    return {"run_id": run_id, **result.as_dict()}


def robot_name(process: ProcessDefinition, name_or_role: str) -> str:
    """The robot (task suite) name for a role of the process (history, collect, enrich,
    act), or ``name_or_role`` itself when it is not a role."""
    roles = process.robots.model_dump()
    roles["enrich"] = process.enrichment.robot if process.enrichment is not None else None
    if name_or_role in roles:
        name = roles[name_or_role]
        if name is None:
            raise RobotRunError(f"process {process.name} names no {name_or_role} robot")
        return str(name)
    return name_or_role


def robot_stage(
    store: Store,
    robot: str,
    *,
    robots_dir: Path,
    output_root: Path,
    env: Mapping[str, str],
) -> tuple[RobotRunResult, dict[str, Any]]:
    """Run the robot (task suite) ``robot`` and read its figures from the store.

    The robot starts and finishes its own run under an id given here, so its summary
    (what it staged or acted on) can be read back from the store.
    """
    suite = suite_path(robots_dir, robot)
    run_id = uuid.uuid4().hex
    result = run_robot(
        suite,
        output_dir=output_root / f"{robot}-{run_id[:8]}",
        env={**env, "RPAML_RUN_ID": run_id},
    )
    return result, robot_run_figures(store, run_id, robot)


def robot_run_figures(store: Store, run_id: str, robot: str) -> dict[str, Any]:
    """The figures a robot's run recorded in its summary, flattened for reports.

    A robot that failed before it could start its run has no run: its figures are zero.
    """
    try:
        run: RunInfo | None = store.get_run(run_id)
    except RecordNotFoundError:
        run = None
    summary = (run.summary if run else None) or {}
    staged = summary.get("staged", {})
    acted = summary.get("acted", {})
    failures = summary.get("failures", {})
    collection = summary.get("collection", {})
    return {
        "run_id": run_id,
        "robot": robot,
        "status": run.status if run else "not started",
        "new": int(staged.get("new", 0)),
        "revised": int(staged.get("revised", 0)),
        "unchanged": int(staged.get("unchanged", 0)),
        "on_screen": int(collection.get("claims", 0)),
        "duplicates": int(collection.get("duplicates", 0)),
        "applied": int(acted.get("applied", 0)),
        "already_decided": int(acted.get("already_decided", 0)),
        "failed": int(failures.get("business", 0)) + int(failures.get("application", 0)),
    }
