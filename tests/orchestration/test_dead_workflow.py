"""A job that keeps failing ends in a visible dead state with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from orchestration_harness import Workers, process_file_with

pytestmark = pytest.mark.serial


def test_a_job_that_keeps_failing_ends_dead_with_its_reason(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    env = {
        **os.environ,
        "RPAML_DATA_DIR": str(data),
        "RPAML_REGISTRY_DIR": str(tmp_path / "registry"),
        "RPAML_PROCESS_FILE": str(process_file_with(tmp_path)),
        "RPAML_STEP_ATTEMPTS": "2",
        "RPAML_STEP_RETRY_SECONDS": "0.1",
    }
    for key in ("RPAML_EXECUTOR_ID", "RPAML_SYSTEM_DATABASE_URL", "RPAML_STORE_URL"):
        env.pop(key, None)
    workers = Workers(env, data / "logs")
    try:
        workers.start("lonely")
        # An empty store has no labeled records: training fails on every attempt.
        ran = workers.rpaml("run", "train", "--wait", "60", "--json")
        outcome = json.loads(ran.stdout)
        assert outcome["state"] == "dead", ran.stdout + ran.stderr
        assert "not enough labeled records" in outcome["error"]
        shown = json.loads(workers.rpaml("status", "--json").stdout)
        (workflow,) = [w for w in shown["workflows"] if w["workflow_id"] == outcome["workflow_id"]]
        assert workflow["state"] == "dead"
        assert "exceeded its maximum of 2 retries" in workflow["error"]
        assert "TrainingError: not enough labeled records" in workflow["error"]
    finally:
        workers.stop_all()
