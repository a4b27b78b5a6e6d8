"""``PolicyDesktop``: the Robot Framework keyword library that drives the sandbox
policy-administration desktop application (Tkinter) through keyboard and clipboard."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError

from rpaml_pipeline.helper_ledger import helper_environment, ledger_from_environment
from rpaml_pipeline.host_processes import ProcessIdentity
from rpaml_robots.errors import ApplicationError, BusinessError, ConfigurationError
from rpaml_robots.policy_records import (
    CopiedRecord,
    lookup_exported,
    normalise_policy_number,
    parse_copied_record,
    parse_policy_export,
)
from rpaml_robots.retries import doubling_retries
from rpaml_robots.virtual_display import VirtualDisplay
from rpaml_robots.x_windows import find_window, focus_window, read_clipboard

WINDOW_TITLE = "Policy Administration"
EXPORT_TITLE = "Export policies"
#: The module that runs the application (started by name: robots import no sandbox code).
APPLICATION_MODULE = "rpaml_sandbox.desktop"


@library(scope="GLOBAL", auto_keywords=False)
class PolicyDesktop:
    """Keywords that look policies up in the policy-administration desktop application.

    The application is a Tk window: Tk has no accessibility tree on Linux and OCR misreads
    values, so the robot works as a keyboard user does. `Look Up Policy` presses
    ``Ctrl+L`` (new search), types the policy number, presses ``Return`` and then
    ``Ctrl+Shift+C`` (Copy record), and reads the record from the clipboard as
    tab-separated text; `Export Policies` uses ``Ctrl+E`` (File > Export) to get every
    policy as CSV at once, which is much faster when many records need the same lookup.

    `Start Policy Application` starts the application on ``$DISPLAY``, or on a private
    Xvfb display it starts itself when ``DISPLAY`` is not set (a server, CI); both are
    stopped by `Close Policy Application`. RPA.Desktop is imported only then, because it
    needs a display to import.

    A policy that does not exist is a ``BusinessError`` (quarantine the claim, go on);
    an application that does not answer is an ``ApplicationError``, after bounded retries
    with backoff and with a screenshot in the log.

    = Usage =

    | *** Settings ***
    | Library    rpaml_robots.policy_desktop.PolicyDesktop
    | Suite Setup       Start Policy Application    %{RPAML_POLICY_DATA}
    | Suite Teardown    Close Policy Application
    |
    | *** Tasks ***
    | Look Up One Policy
    |     ${policy}=    Look Up Policy    POL-123456
    |     Log    ${policy}[risk_segment]
    """

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(
        self, answer_timeout: float = 5.0, attempts: int = 3, start_timeout: float = 30.0
    ) -> None:
        """``answer_timeout`` seconds to wait for the application's answer on the
        clipboard, ``attempts`` tries of a lookup (with backoff) before it is an
        application error, ``start_timeout`` seconds for the window to show."""
        self.answer_timeout = float(answer_timeout)
        self.attempts = max(1, int(attempts))
        self.start_timeout = float(start_timeout)
        self._display: VirtualDisplay | None = None
        self._app: subprocess.Popen[bytes] | None = None
        self._app_recorded: ProcessIdentity | None = None
        self._desktop: Any = None
        self._window_id = ""
        self._workdir: Path | None = None
        self.lookups = 0

    # -- lifecycle -----------------------------------------------------------------

    @keyword
    def start_policy_application(self, data_file: str = "") -> str:
        """Start the application with its policy data file and return the window title.

        ``data_file`` defaults to ``RPAML_POLICY_DATA``. Without ``DISPLAY`` a private
        Xvfb display is started first. Fails with an application error when the window
        does not show within the start timeout.

        Example:
        | Start Policy Application    ${DATA_DIR}/desktop/policies.json
        """
        data = Path(data_file or os.environ.get("RPAML_POLICY_DATA", ""))
        if not str(data) or not data.is_file():
            raise ConfigurationError(
                f"policy data file {str(data)!r} not found: pass it or set RPAML_POLICY_DATA"
            )
        if self._app is not None:
            self.close_policy_application()
        for tool in ("xdotool", "xclip"):
            if shutil.which(tool) is None:
                raise ConfigurationError(f"{tool} is not installed (Debian package {tool})")
        if not os.environ.get("DISPLAY"):
            self._display = VirtualDisplay()
            # RPA.Desktop (pynput), xclip and xdotool all read DISPLAY from the environment.
            os.environ["DISPLAY"] = self._display.start()
            logger.info(f"Started Xvfb on {os.environ['DISPLAY']} (PID {self._display.pid})")
        self._workdir = Path(tempfile.mkdtemp(prefix="rpaml-desktop-"))
        ready = self._workdir / "ready"
        self._app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                APPLICATION_MODULE,
                "run",
                "--data",
                str(data),
                "--ready-file",
                str(ready),
            ],
            env=helper_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self._workdir / "app.log").open("wb"),
        )
        # Written down so that a worker or robot run reaps it if this robot is killed.
        self._app_recorded = ledger_from_environment().record("desktop application", self._app.pid)
        deadline = time.monotonic() + self.start_timeout
        while not ready.exists():
            if self._app.poll() is not None:
                log = (self._workdir / "app.log").read_text(errors="replace").strip()
                self.close_policy_application()
                raise ApplicationError(f"the policy application exited at start: {log}")
            if time.monotonic() > deadline:
                self.close_policy_application()
                raise ApplicationError(
                    f"the policy application did not show within {self.start_timeout} s"
                )
            time.sleep(0.05)
        from RPA.Desktop import Desktop  # needs a display to import

        self._desktop = Desktop()
        self._window_id = self._find_window(WINDOW_TITLE)
        focus_window(self._window_id)
        logger.info(f"Policy application started (PID {self._app.pid}) on {os.environ['DISPLAY']}")
        return WINDOW_TITLE

    @keyword
    def close_policy_application(self) -> None:
        """Stop the application and the Xvfb display this library started, by their PIDs.

        Example:
        | Suite Teardown    Close Policy Application
        """
        app, self._app = self._app, None
        if app is not None and app.poll() is None:
            app.terminate()
            try:
                app.wait(5)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait(5)
        if self._app_recorded is not None:
            ledger_from_environment().release(self._app_recorded)
            self._app_recorded = None
        # Drop the X connections (pynput's) before their server goes away.
        self._desktop = None
        gc.collect()
        if self._display is not None:
            self._display.stop()
            if os.environ.get("DISPLAY") == self._display.display:
                del os.environ["DISPLAY"]
            self._display = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._desktop = None

    @keyword
    def policy_application_location(self) -> str:
        """Where lookups are read from, for lineage: ``desktop:<window title>@<display>``.

        Example:
        | ${location}=    Policy Application Location
        """
        return f"desktop:{WINDOW_TITLE}@{os.environ.get('DISPLAY', '')}"

    # -- lookups -------------------------------------------------------------------

    @keyword
    def look_up_policy(self, policy_number: str) -> dict[str, str]:
        """Search ``policy_number`` in the application and return the policy's fields
        (policy_number, holder_name, holder_age, start_date, product, coverage_limit,
        annual_premium, prior_claims, missed_payments, risk_segment, status).

        Raises ``BusinessError`` when the policy does not exist, ``ApplicationError``
        when the application gives no answer after the retries.

        Example:
        | ${policy}=    Look Up Policy    POL-123456
        | Should Be Equal    ${policy}[policy_number]    POL-123456
        """
        desktop = self._require_desktop()
        term = normalise_policy_number(policy_number)
        if not term:
            raise BusinessError("the claim has no policy number to look up")
        try:
            copied: CopiedRecord = doubling_retries(
                self.attempts,
                0.2,
                max_delay=2.0,
                retry_on=lambda error: isinstance(error, ApplicationError),
                on_failure=lambda attempt, _: self.take_desktop_screenshot(
                    f"lookup-{term}-{attempt}"
                ),
                before_retry=self._refocus,  # the window may have lost the focus
            )(self._search_and_copy, desktop, term)
        except ApplicationError as error:
            raise ApplicationError(
                f"the policy application gave no answer for {term} after {self.attempts} "
                f"attempts: {error}"
            ) from error
        self.lookups += 1
        if not copied.found:
            raise BusinessError(f"policy {term} not found in the policy application")
        return copied.fields

    def _refocus(self) -> None:
        self._window_id = self._find_window(WINDOW_TITLE)
        focus_window(self._window_id)

    def _search_and_copy(self, desktop: Any, term: str) -> CopiedRecord:
        if self._app is None or self._app.poll() is not None:
            raise ApplicationError("the policy application is not running")
        desktop.press_keys("ctrl", "l")
        desktop.type_text(term, enter=True)
        desktop.press_keys("ctrl", "shift", "c")
        deadline = time.monotonic() + self.answer_timeout
        while True:
            copied = parse_copied_record(read_clipboard())
            if copied is not None and copied.search_term == term:
                return copied
            if time.monotonic() > deadline:
                raise ApplicationError(
                    f"no copied record for {term} on the clipboard within {self.answer_timeout} s"
                )
            time.sleep(0.01)

    @keyword
    def export_policies(self, path: str = "") -> str:
        """Export every policy through File > Export (``Ctrl+E``) to ``path`` (CSV) and
        return the path once the file is written.

        Example:
        | ${export}=    Export Policies    ${OUTPUT DIR}/policies.csv
        | ${policies}=    Read Policy Export    ${export}
        """
        desktop = self._require_desktop()
        target = Path(path) if path else self._require_workdir() / "policies-export.csv"
        target = target.resolve()
        before = target.stat().st_mtime_ns if target.exists() else None
        focus_window(self._window_id)
        desktop.press_keys("ctrl", "e")
        dialog = self._find_window(EXPORT_TITLE)
        focus_window(dialog)
        desktop.press_keys("ctrl", "l")
        desktop.type_text(str(target), enter=True)
        deadline = time.monotonic() + self.start_timeout
        while not target.exists() or target.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                self.take_desktop_screenshot("export")
                raise ApplicationError(f"the policy export did not appear at {target}")
            time.sleep(0.05)
        focus_window(self._window_id)
        logger.info(f"Exported the policies to {target}")
        return str(target)

    @keyword
    def read_policy_export(self, path: str) -> dict[str, dict[str, str]]:
        """Read an export written by `Export Policies`: policy number to its fields.

        Example:
        | ${policies}=    Read Policy Export    ${export}
        | Log    ${policies}[POL-123456][risk_segment]
        """
        text = Path(path).read_text(encoding="utf-8")
        policies = parse_policy_export(text)
        logger.info(f"Read {len(policies)} policies from {path}")
        return policies

    @keyword
    def find_policy_in_export(
        self, policies: Mapping[str, Mapping[str, str]], policy_number: str
    ) -> dict[str, str]:
        """The fields of ``policy_number`` in an export read by `Read Policy Export`.

        Raises ``BusinessError`` when the policy is not in the export, as `Look Up Policy`
        does when the application does not find it.

        Example:
        | ${policy}=    Find Policy In Export    ${policies}    POL-123456
        """
        term = normalise_policy_number(policy_number)
        if not term:
            raise BusinessError("the claim has no policy number to look up")
        found = lookup_exported(policies, term)
        if found is None:
            raise BusinessError(f"policy {term} not found in the policy application")
        return found

    @keyword
    def policy_export_location(self, path: str) -> str:
        """Where exported lookups are read from, for lineage:
        ``desktop:<window title>@<display>/export:<path>``.

        Example:
        | ${location}=    Policy Export Location    ${export}
        """
        return f"{self.policy_application_location()}/export:{path}"

    @keyword
    def take_desktop_screenshot(self, name: str = "desktop") -> str:
        """Save a screenshot of the display into the output folder and embed it in the log;
        return its path ("" when no screenshot could be taken, e.g. no display).

        Example:
        | Take Desktop Screenshot    before-export
        """
        if self._desktop is None:
            return ""
        folder = _output_dir()
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        path = folder / f"desktop-{safe}-{time.time_ns()}.png"
        try:
            self._desktop.take_screenshot(str(path))
        except Exception as error:  # a screenshot must never hide the failure it documents
            logger.warn(f"Could not take a desktop screenshot: {error}")
            return ""
        logger.info(f'<img src="{path.name}" width="600">', html=True)
        return str(path)

    # -- helpers -------------------------------------------------------------------

    def _require_desktop(self) -> Any:
        if self._desktop is None:
            raise ApplicationError("the policy application is not started")
        return self._desktop

    def _require_workdir(self) -> Path:
        if self._workdir is None:
            raise ApplicationError("the policy application is not started")
        return self._workdir

    def _find_window(self, title: str) -> str:
        return find_window(title, self.start_timeout)


def _output_dir() -> Path:
    try:
        folder = BuiltIn().get_variable_value("${OUTPUT DIR}")
    except RobotNotRunningError:
        folder = None
    path = Path(folder) if folder else Path(tempfile.gettempdir())
    path.mkdir(parents=True, exist_ok=True)
    return path
