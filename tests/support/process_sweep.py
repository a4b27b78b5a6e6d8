"""The test session ends with no process of its own alive, or fails naming them.

Every process a test starts inherits two variables set here when pytest starts:
``RPAML_TEST_SESSION`` (the session's id, appended to those of an enclosing session) and
``RPAML_TEST_RUNNER`` (the PID of the pytest process, controller or xdist worker, that
runs the test, appended likewise). The kernel keeps a process's start-up environment in
``/proc/<pid>/environ``, so a process is found whatever it did since: moved to a session
or process group of its own (Chromium, crashpad), or orphaned by a killed parent.
Chromium's children write their titles over that memory; they are found as descendants
of a tagged process instead.

At the end of the session (after every fixture is torn down) each xdist worker stops the
processes its own tests left and reports them; the controller then stops whatever is
still tagged with the session, adds the workers' reports, and fails the session naming
every survivor. Processes are stopped by PID and start time only.
"""

from __future__ import annotations

import bisect
import os
import sys
import time
import uuid
from collections.abc import Generator
from typing import Any

import pytest

from rpaml_pipeline.host_processes import (
    ProcessIdentity,
    all_processes,
    command_line,
    descendants,
    environment_of,
    process_info,
    stop_processes,
)

SESSION_KEY = "RPAML_TEST_SESSION"
RUNNER_KEY = "RPAML_TEST_RUNNER"
_REPORT_KEY = "rpaml_survivors"
_reported: list[str] = []
# When each test of this runner started, in the clock /proc's start times count in
# (clock ticks since boot): a survivor is named with the test it was started under.
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
_test_starts: list[tuple[int, str]] = []


def _ticks_now() -> int:
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _TICKS_PER_SECOND)


def _append(key: str, value: str) -> None:
    earlier = os.environ.get(key, "")
    os.environ[key] = f"{earlier}:{value}" if earlier else value


def tag_this_runner(*, xdist_worker: bool) -> str:
    """Tag what this pytest process starts; return the session id it belongs to.

    An xdist worker keeps the session its controller started (inherited) and names
    itself as the runner; any other pytest process, a pytest run by a test included,
    starts a session of its own.
    """
    if not xdist_worker:
        _append(SESSION_KEY, uuid.uuid4().hex)
    _append(RUNNER_KEY, str(os.getpid()))
    return os.environ[SESSION_KEY].rsplit(":", 1)[-1]


_session = {"id": ""}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Before xdist starts its workers (at session start), so they inherit the tags. A
    # worker is known by its workerinput: PYTEST_XDIST_WORKER is also inherited by a
    # pytest that a test of a worker runs, which must not take over the outer session.
    _session["id"] = tag_this_runner(xdist_worker=hasattr(config, "workerinput"))


def _interpreter_helper(ppid: int, pid: int) -> bool:
    """multiprocessing's resource tracker or fork server of this very pytest process:
    Python starts it for a test that spawns processes, and it ends when its interpreter
    does (at the end of its pipe), after this hook."""
    return ppid == os.getpid() and any(
        f"from multiprocessing.{module} import main" in command_line(pid)
        for module in ("resource_tracker", "forkserver")
    )


def _ancestors() -> set[int]:
    found, pid = set(), os.getpid()
    while pid > 1 and (info := process_info(pid)) is not None:
        found.add(pid)
        pid = info.ppid
    return found


def _tagged(*, runner: int | None) -> list[ProcessIdentity]:
    """Running processes of this session (started under ``runner`` when given), and
    what they started, less this process."""
    session = _session["id"]
    spared = _ancestors()  # this pytest and what runs it are never stopped
    tagged = []
    for info in all_processes():
        if info.pid in spared or not info.running or _interpreter_helper(info.ppid, info.pid):
            continue
        env = environment_of(info.pid)
        if not session or session not in env.get(SESSION_KEY, "").split(":"):
            continue
        if runner is not None and str(runner) not in env.get(RUNNER_KEY, "").split(":"):
            continue
        tagged.append(info.identity)
    found = dict.fromkeys([*tagged, *descendants(tagged)])
    return [identity for identity in found if identity.pid not in spared]


def _started_under(identity: ProcessIdentity) -> str:
    """The test of this runner during which ``identity`` started ('' if none). Start
    times count in 1/100 s: a test that began in the same tick is named too."""
    ticks = identity.start_ticks
    starts = [start for start, _ in _test_starts]
    before = bisect.bisect_left(starts, ticks)
    tied = bisect.bisect_right(starts, ticks)
    names = [name for _, name in _test_starts[max(0, before - 1) : tied]]
    return f", started during {' or '.join(names)}" if names else ""


def _describe(identity: ProcessIdentity) -> str:
    info = process_info(identity.pid)
    name = info.name if info is not None else "?"
    command = command_line(identity.pid)[:160]
    return f"PID {identity.pid} {name}{_started_under(identity)}: {command}"


def pytest_runtest_logstart(nodeid: str) -> None:
    """Note when each test starts (its set-up included)."""
    _test_starts.append((_ticks_now(), nodeid))


def sweep(*, runner: int | None) -> list[str]:
    """Stop this session's surviving processes; return a line naming each."""
    survivors = _tagged(runner=runner)
    named = [_describe(identity) for identity in survivors]
    stop_processes(survivors, grace=5.0)
    return named


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Controller: keep what a finished xdist worker reported."""
    worker = getattr(node, "workeroutput", {}) or {}
    gateway = getattr(getattr(node, "gateway", None), "id", "?")
    _reported.extend(f"{line} (on worker {gateway})" for line in worker.get(_REPORT_KEY, []))


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    # Innermost wrapper: fixtures are torn down (and xdist's workers gone) when it resumes,
    # and on a worker it resumes before xdist sends the worker's output to the controller.
    yield
    config = session.config
    if hasattr(config, "workerinput"):
        config.workeroutput[_REPORT_KEY] = sweep(runner=os.getpid())  # type: ignore[attr-defined]
        return
    survivors = [*_reported, *sweep(runner=None)]
    if not survivors:
        return
    message = "\n".join(
        ["tests left these processes running (now stopped):", *(f"  {s}" for s in survivors)]
    )
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, red=True)
    else:
        print(message, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
