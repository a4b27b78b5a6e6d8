"""A worker killed in the middle of a stage leaves no run ``running`` for ever: the next
act step closes the runs whose owning process is gone, robots' and pipeline stages' alike,
and leaves the runs of live processes alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rpaml_pipeline.owners import owner_is_gone, process_owner
from rpaml_pipeline.store import Store
from rpaml_pipeline.stranded import requeue_stranded

PROCESS = "claims_triage"


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_runs_of_dead_stages_and_robots_are_closed_and_live_ones_kept(tmp_path: Path) -> None:
    store = Store.connect(f"sqlite:///{tmp_path / 'rpaml.db'}")
    dead = process_owner("pipeline").rsplit("-", 1)[0] + f"-{dead_pid()}"
    dead_robot = dead.replace("pipeline-", "robot-", 1)
    died_processing = store.start_run(PROCESS, "process", details={"owner": dead})
    died_scoring = store.start_run(PROCESS, "score", details={"owner": dead})
    died_collecting = store.start_run(
        PROCESS, "collect", robot="collect_claims", details={"owner": dead_robot}
    )
    alive = store.start_run(PROCESS, "process", details={"owner": process_owner("pipeline")})
    elsewhere = store.start_run(PROCESS, "score", details={"owner": "pipeline-otherhost-1"})

    report = requeue_stranded(store, PROCESS)

    assert sorted(report.runs_closed) == sorted([died_processing, died_scoring, died_collecting])
    for run_id in report.runs_closed:
        run = store.get_run(run_id)
        assert run.status == "failed"
        assert run.summary is not None and "died before the run ended" in run.summary["error"]
    # A live process, and a process of another host (whose liveness cannot be checked
    # here), keep their runs.
    assert store.get_run(alive).status == "running"
    assert store.get_run(elsewhere).status == "running"
    store.close()


def test_owner_names_are_read_strictly() -> None:
    assert owner_is_gone(None)
    assert not owner_is_gone(process_owner("pipeline"))
    assert not owner_is_gone("pipeline:run-1")  # a lease owner that names no process
    assert not owner_is_gone("someone-else-12")
