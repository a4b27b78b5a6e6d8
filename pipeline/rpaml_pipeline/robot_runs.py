"""Running Robot Framework task suites as child processes.

A robot runs in its own interpreter, as it would under a scheduler or on a worker
machine: a crash of the browser or of Robot itself cannot take the pipeline down, and
every run leaves its own output.xml, log.html and report.html in a folder of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rpaml_pipeline.errors import RobotRunError
from rpaml_pipeline.helper_ledger import ledger_from_environment


@dataclass(frozen=True)
class RobotRunResult:
    """What a robot run left behind: its exit code, task counts and artefacts."""

    suite: str
    return_code: int
    passed: int
    failed: int
    output_dir: Path
    failure_messages: tuple[str, ...]

    @property
    def log_html(self) -> Path:
        """The Robot log of this run."""
        return self.output_dir / "log.html"

    @property
    def succeeded(self) -> bool:
        """True when every task passed."""
        return self.return_code == 0


# A robot must not outlive the process that started it: when a worker is killed (even
# with SIGKILL, which runs no handler), its robot would go on acting in the application
# while a restarted worker starts another one. Linux's PR_SET_PDEATHSIG kills the child
# when its parent dies; it is set in the child, then the child execs Robot (the setting
# survives exec), which avoids preexec_fn, unsafe in the threaded workers.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "parent = int(sys.argv[1])\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG\n"
    "if os.getppid() != parent:\n"
    "    sys.exit('the process that started this robot is gone')\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


def suite_path(robots_dir: Path, name: str) -> Path:
    """The task suite file for a robot name such as ``collect_claims``."""
    path = robots_dir / "tasks" / f"{name}.robot"
    if not path.is_file():
        known = sorted(p.stem for p in (robots_dir / "tasks").glob("*.robot"))
        raise RobotRunError(f"no robot named {name!r} in {robots_dir / 'tasks'}; known: {known}")
    return path


def run_robot(
    suite: Path,
    *,
    output_dir: Path,
    env: Mapping[str, str],
    timeout: float = 1800.0,
) -> RobotRunResult:
    """Run one task suite with ``env`` added to this process's environment.

    Raises :class:`RobotRunError` only when Robot could not run at all (timeout, missing
    output); failed tasks are reported in the result, with their messages.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **env, "SE_OFFLINE": "true"}
    # What an earlier robot of this host left running when it was killed goes first.
    ledger_from_environment(child_env).reap()
    # The venv's bin must be on PATH so chromedriver lookups and pabot work alike.
    child_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{child_env.get('PATH', '')}"
    command = [
        sys.executable,
        "-c",
        _DIE_WITH_PARENT,
        str(os.getpid()),
        "-m",
        "robot",
        "--rpa",
        "--outputdir",
        str(output_dir),
        "--loglevel",
        "INFO",
        "--consolecolors",
        "off",
        str(suite),
    ]
    try:
        completed = subprocess.run(
            command,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RobotRunError(f"robot {suite.stem} did not finish within {timeout:.0f} s") from exc
    (output_dir / "console.txt").write_bytes(completed.stdout)
    output_xml = output_dir / "output.xml"
    if not output_xml.is_file():
        tail = completed.stdout.decode(errors="replace")[-2000:]
        raise RobotRunError(f"robot {suite.stem} produced no output.xml:\n{tail}")
    passed, failed, messages = _task_outcomes(output_xml)
    return RobotRunResult(
        suite=suite.stem,
        return_code=completed.returncode,
        passed=passed,
        failed=failed,
        output_dir=output_dir,
        failure_messages=messages,
    )


def _task_outcomes(output_xml: Path) -> tuple[int, int, tuple[str, ...]]:
    """Count passed and failed tasks in an output.xml and collect the failure messages."""
    root = ET.parse(output_xml).getroot()
    passed = failed = 0
    messages: list[str] = []
    for test in root.iter("test"):
        status = test.find("status")
        if status is None:
            continue
        if status.get("status") == "PASS":
            passed += 1
        elif status.get("status") == "FAIL":
            failed += 1
            messages.append(f"{test.get('name')}: {(status.text or '').strip()}")
    return passed, failed, tuple(messages)
