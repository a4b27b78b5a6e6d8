"""Local child processes (the portal, the scoring service) that the CLI starts and stops.

Each child binds its own socket on a free loopback port and writes its base URL to a
ready file once it is listening; waiting for that file (not for a fixed sleep) is what
makes start-up both fast and reliable. Children are stopped by their own PID only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from rpaml_pipeline.errors import LaunchError


class ManagedProcess:
    """A child process that announces its URL through a ready file.

    Use it as a context manager: the process is started on enter and stopped (SIGTERM,
    then SIGKILL after ``stop_timeout``) on exit, whatever happened in between.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        ready_file: Path,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.ready_file = ready_file
        self.log_file = log_file
        self.env = dict(env) if env is not None else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.url = ""
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's PID while it runs."""
        return self._popen.pid if self._popen is not None else None

    def start(self) -> str:
        """Start the child and wait until it has written its URL; return the URL."""
        self.ready_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        with self.log_file.open("ab") as log:
            self._popen = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                raise LaunchError(
                    f"{self.name} exited with code {self._popen.returncode} before it was "
                    f"ready; see {self.log_file}{self._log_tail()}"
                )
            if self.ready_file.exists():
                url = self.ready_file.read_text(encoding="utf-8").strip()
                if url:
                    self.url = url
                    return url
            time.sleep(0.05)
        self.stop()
        raise LaunchError(
            f"{self.name} was not ready after {self.start_timeout:.0f} s; "
            f"see {self.log_file}{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        """The end of the child's log, so the error says why without opening the file."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        tail = text.splitlines()[-lines:]
        return ":\n" + "\n".join(tail) if tail else ""

    def stop(self) -> None:
        """Stop the child by its PID: SIGTERM, then SIGKILL if it does not exit in time."""
        popen = self._popen
        if popen is None or popen.poll() is not None:
            return
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.kill(popen.pid, signal.SIGKILL)
            popen.wait(timeout=self.stop_timeout)

    def __enter__(self) -> ManagedProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def sandbox_portal(
    database: Path,
    *,
    ready_file: Path,
    log_file: Path,
    env: Mapping[str, str],
    arguments: Sequence[str] = (),
    start_timeout: float = 60.0,
) -> ManagedProcess:
    """The sandbox claims portal (``python -m rpaml_sandbox.portal``) on a free loopback
    port, its data in ``database``; ``env`` carries its secrets, ``arguments`` its other
    options (seed, claim counts, fault switches)."""
    command = [
        sys.executable,
        "-m",
        "rpaml_sandbox.portal",
        "--db",
        str(database),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--ready-file",
        str(ready_file),
        *arguments,
    ]
    return ManagedProcess(
        "claims portal",
        command,
        ready_file=ready_file,
        log_file=log_file,
        env=env,
        start_timeout=start_timeout,
    )


def review_app(
    *,
    ready_file: Path,
    log_file: Path,
    env: Mapping[str, str],
    start_timeout: float = 60.0,
) -> ManagedProcess:
    """The review app (``python -m rpaml_review``) on a free loopback port; ``env`` carries
    its settings (store, process file, portal URL, ``RPAML_REVIEW_ACCOUNTS``)."""
    command = [sys.executable, "-m", "rpaml_review", "--host", "127.0.0.1", "--port", "0",
               "--ready-file", str(ready_file), "--log-level", "warning"]  # fmt: skip
    return ManagedProcess(
        "review app", command, ready_file=ready_file, log_file=log_file, env=env,
        start_timeout=start_timeout,
    )  # fmt: skip
