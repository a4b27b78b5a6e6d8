"""A killed worker leaves nothing running: the next worker on the host reaps what it left.

The robot of these tests opens the portal in Chromium and the policy application under
Xvfb, then holds them. Killing the worker's whole process group leaves the browser
running (chromedriver starts Chromium in a process group of its own); killing the worker
alone kills its robot (PR_SET_PDEATHSIG) and leaves chromedriver, Chromium, Xvfb and the
application running. Either way a worker started on the same data folder stops them.
What ran is read from ``/proc`` (the worker's session), not from the ledger under test.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from orchestration_harness import Portal, Workers, orchestrated_process_text, wait_until

from rpaml_pipeline.helper_ledger import (
    HelperEntry,
    HelperLedger,
    helper_ledger_dir,
    reap_leftovers,
)
from rpaml_pipeline.host_processes import ProcessInfo, all_processes, command_line, is_running
from rpaml_sandbox.desktop.policies import generate_policies, save_policies

pytestmark = [pytest.mark.browser, pytest.mark.serial]

HOLDING_ROBOT = """\
*** Settings ***
Documentation     Opens a browser and the desktop application, says so, and holds them.
Library           OperatingSystem
Library           rpaml_robots.portal.ClaimsPortal
Library           rpaml_robots.policy_desktop.PolicyDesktop


*** Tasks ***
Hold A Browser And A Desktop Application
    Open Claims Portal
    Start Policy Application
    ${pid}=    Evaluate    os.getpid()    modules=os
    Create File    %{RPAML_DATA_DIR}/holding/${pid}    holding
    Sleep    10 min
"""


@pytest.fixture
def workers(portal: Portal, data_dir: Path, tmp_path: Path) -> Iterator[Workers]:
    """Workers whose collect robot is the holding robot above (in a project folder of
    the test's own), with no scoring service: collecting is all they do."""
    project = tmp_path / "project"
    (project / "robots" / "tasks").mkdir(parents=True)
    (project / "robots" / "tasks" / "hold_helpers.robot").write_text(HOLDING_ROBOT)
    process = yaml.safe_load(orchestrated_process_text({}))
    process["robots"]["collect"] = "hold_helpers"
    process_file = project / "process.yaml"
    process_file.write_text(yaml.safe_dump(process, sort_keys=False))
    save_policies(data_dir / "policies.json", generate_policies(3, 10, 5))
    env = {
        **os.environ,
        "RPAML_PROJECT_DIR": str(project),
        "RPAML_DATA_DIR": str(data_dir),
        "RPAML_PROCESS_FILE": str(process_file),
        "RPAML_REGISTRY_DIR": str(project / "registry"),
        "RPAML_PORTAL_URL": portal.url,
        "RPAML_POLICY_DATA": str(data_dir / "policies.json"),
    }
    # Without DISPLAY the desktop library starts Xvfb: one of the helpers under test.
    for key in ("DISPLAY", "RPAML_EXECUTOR_ID", "RPAML_SYSTEM_DATABASE_URL", "RPAML_STORE_URL"):
        env.pop(key, None)
    (data_dir / "logs").mkdir(exist_ok=True)
    started = Workers(env, data_dir / "logs")
    yield started
    started.stop_all()
    reap_leftovers(data_dir)


def _holding_robot(data_dir: Path, seen: set[str]) -> None:
    """Wait until a robot not seen yet says it holds its browser and application."""
    holding = data_dir / "holding"

    def new_robot() -> bool:
        return bool({p.name for p in holding.glob("*")} - seen) if holding.is_dir() else False

    wait_until(new_robot, 120, "the robot holding a browser and the desktop application")
    seen.update(p.name for p in holding.glob("*"))


def _session_of(worker_pid: int) -> list[ProcessInfo]:
    """Every process of the worker's session: the worker, its robot and their helpers."""
    return [info for info in all_processes() if info.sid == worker_pid and info.running]


def _helpers(processes: list[ProcessInfo]) -> dict[str, list[ProcessInfo]]:
    found: dict[str, list[ProcessInfo]] = {}
    for info in processes:
        found.setdefault(info.name, []).append(info)
    return found


def _running(processes: list[ProcessInfo]) -> list[ProcessInfo]:
    return [info for info in processes if is_running(info.identity)]


def _ledger_entries(data_dir: Path) -> list[HelperEntry]:
    return HelperLedger(helper_ledger_dir(data_dir)).entries()


def _worker_log(data_dir: Path, executor_id: str) -> str:
    return (data_dir / "logs" / f"worker-{executor_id}.log").read_text()


def test_a_restarted_worker_reaps_what_its_killed_predecessor_left(
    workers: Workers, data_dir: Path
) -> None:
    seen: set[str] = set()
    workers.start("holder")
    assert workers.rpaml("run", "collect").returncode == 0

    # 1. SIGKILL to the worker's whole process group: the browser escapes it.
    _holding_robot(data_dir, seen)
    before = _session_of(workers.running["holder"].pid)
    names = _helpers(before)
    assert {"chromedriver", "chromium", "Xvfb"} <= set(names), sorted(names)
    workers.kill("holder", "robot holding a browser")
    survivors = _running(before)
    assert survivors, "the browser should have escaped the process group"
    assert {info.name for info in survivors} == {"chromium"}, survivors
    assert {"chromedriver", "chromium", "xvfb"} <= {
        entry.kind for entry in _ledger_entries(data_dir)
    }

    workers.start("holder")
    assert "reaped chromium" in _worker_log(data_dir, "holder")
    assert _running(before) == []

    # 2. SIGKILL to the worker alone: its robot dies with it, every helper stays.
    _holding_robot(data_dir, seen)  # the restarted worker resumed the collect workflow
    worker = workers.running.pop("holder")
    before = _session_of(worker.pid)
    robot = [info for info in before if info.ppid == worker.pid]
    helpers = [info for info in before if info.pid != worker.pid and info not in robot]
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    wait_until(lambda: _running(robot) == [], 30, "the robot to die with its worker")
    left = _helpers(_running(helpers))
    assert {"chromedriver", "chromium", "Xvfb"} <= set(left), sorted(left)
    assert any("rpaml_sandbox.desktop" in command_line(info.pid) for info in _running(helpers))

    workers.start("holder")
    log = _worker_log(data_dir, "holder")
    for kind in ("chromedriver", "chromium", "xvfb", "desktop application"):
        assert f"reaped {kind} (PID" in log, kind
    assert _running(before) == []
    # What the living robot holds now is in the ledger, with its owner alive.
    _holding_robot(data_dir, seen)
    assert all(is_running(entry.owner) for entry in _ledger_entries(data_dir))
