"""A private X display (Xvfb) for desktop robots on a machine without a screen.

Xvfb picks a free display number itself (``-displayfd``) and writes it to a pipe once it
accepts connections, so there is neither a guessed number that another user may hold nor
a fixed sleep. The server is stopped by its own PID, and written into the host's helper
ledger while it runs, so a worker or robot run reaps it if its robot is killed.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time

from rpaml_pipeline.helper_ledger import helper_environment, ledger_from_environment
from rpaml_pipeline.host_processes import ProcessIdentity
from rpaml_robots.errors import ApplicationError, ConfigurationError


class VirtualDisplay:
    """One Xvfb server started by this process; ``display`` is e.g. ``:12``."""

    def __init__(self, *, size: str = "1024x768x24", start_timeout: float = 15.0) -> None:
        self.size = size
        self.start_timeout = start_timeout
        self.display = ""
        self._popen: subprocess.Popen[bytes] | None = None
        self._recorded: ProcessIdentity | None = None

    @property
    def pid(self) -> int | None:
        """The server's PID while it runs."""
        return self._popen.pid if self._popen is not None else None

    def start(self) -> str:
        """Start Xvfb and return its display name once it accepts clients."""
        executable = shutil.which("Xvfb")
        if executable is None:
            raise ConfigurationError("Xvfb is not installed (Debian package xvfb)")
        read_end, write_end = os.pipe()
        try:
            self._popen = subprocess.Popen(
                [
                    executable,
                    "-displayfd",
                    str(write_end),
                    "-screen",
                    "0",
                    self.size,
                    "-nolisten",
                    "tcp",
                ],
                pass_fds=(write_end,),
                env=helper_environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            os.close(write_end)
            write_end = -1
            self._recorded = ledger_from_environment().record("xvfb", self._popen.pid)
            number = self._read_display_number(read_end)
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
        self.display = f":{number}"
        return self.display

    def _read_display_number(self, read_end: int) -> str:
        deadline = time.monotonic() + self.start_timeout
        received = b""
        while not received.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise ApplicationError(f"Xvfb did not start within {self.start_timeout} s")
            ready, _, _ = select.select([read_end], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_end, 64)
            if not chunk:
                code = self._popen.poll() if self._popen else None
                self.stop()
                raise ApplicationError(f"Xvfb exited before it was ready (code {code})")
            received += chunk
        return received.decode().strip()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) by its PID; safe to call twice."""
        popen, self._popen = self._popen, None
        if popen is not None and popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout)
        if self._recorded is not None:
            ledger_from_environment().release(self._recorded)
            self._recorded = None
