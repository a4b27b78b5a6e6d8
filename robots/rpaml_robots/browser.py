"""A headless Debian Chromium driven through rpaframework's Selenium library.

The browser is never downloaded: ``download=False`` makes rpaframework use the
chromedriver on PATH (Debian's ``/usr/bin/chromedriver``), and the flags below stop
Chromium from calling home, which fails (slowly) on a machine without internet.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from RPA.Browser.Selenium import Selenium
from tenacity import Retrying

from rpaml_pipeline.helper_ledger import ledger_from_environment, owning_helpers
from rpaml_pipeline.host_processes import ProcessIdentity, children_of
from rpaml_robots.errors import ApplicationError, BusinessError, PageLayoutError
from rpaml_robots.http_probe import ProbeResult, probe
from rpaml_robots.page_scripts import PAGE_STATE
from rpaml_robots.retries import doubling_retries

LOGGER = logging.getLogger(__name__)

#: Chromium flags for a headless, offline, root-capable run.
CHROMIUM_ARGUMENTS = (
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1024",
)


class PageNotReadyError(Exception):
    """One failed try of a page load, to be retried: why, and whether the page answered
    without the element the robot waits for (its layout may have changed)."""

    def __init__(self, reason: str, *, layout_changed: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.layout_changed = layout_changed


def chromedriver_directory() -> str | None:
    """The folder of a chromedriver to put on PATH, if PATH does not have one."""
    if shutil.which("chromedriver"):
        return None
    debian = Path("/usr/bin/chromedriver")
    return str(debian.parent) if debian.exists() else None


def first_line(error: BaseException) -> str:
    """``TimeoutException: timeout ...`` without WebDriver's stack trace."""
    message = str(getattr(error, "msg", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else ''}".rstrip(": ")


class ChromiumBrowser:
    """One headless Chromium session with bounded, classified page loads."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        page_attempts: int = 3,
        retry_delay: float = 0.5,
        screenshots: bool = True,
    ) -> None:
        self.timeout = timeout
        self.page_attempts = max(1, page_attempts)
        self.retry_delay = retry_delay
        self.screenshots = screenshots
        self.selenium = Selenium(auto_close=False)
        self.download_dir: Path | None = None
        self._profile_dir: Path | None = None
        self._helpers: list[ProcessIdentity] = []

    def has_browser(self) -> bool:
        try:
            return bool(self.selenium.get_browser_ids())
        except Exception:
            return False

    @property
    def driver(self) -> Any:
        return self.selenium.driver

    def open(self, download_dir: Path) -> None:
        """Start Chromium with a fresh profile and downloads going to ``download_dir``."""
        # Never let Selenium Manager look for a driver on the internet.
        os.environ.setdefault("SE_OFFLINE", "true")
        extra_path = chromedriver_directory()
        if extra_path:
            os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), extra_path])
        download_dir.mkdir(parents=True, exist_ok=True)
        self.download_dir = download_dir
        # A fresh user-data-dir: a reused profile brings sync and update checks back.
        self._profile_dir = Path(tempfile.mkdtemp(prefix="rpaml-chromium-"))
        self.selenium.set_download_directory(str(download_dir))
        options = {
            "arguments": [*CHROMIUM_ARGUMENTS, f"--user-data-dir={self._profile_dir}"],
        }
        try:
            # chromedriver and Chromium name this process their owner from their start:
            # a robot killed before _record_helpers still has them reaped.
            with owning_helpers():
                self.selenium.open_available_browser(
                    headless=True,
                    browser_selection="Chrome",
                    download=False,
                    options=options,
                )
        except Exception as error:
            self._remove_profile()
            raise ApplicationError(
                f"Chromium could not be started (is Debian's chromium and chromedriver "
                f"installed?): {error}"
            ) from error
        self._record_helpers()
        self.selenium.set_selenium_timeout(self.timeout)
        self.driver.set_page_load_timeout(max(30.0, self.timeout))
        self.allow_downloads(download_dir)

    def _record_helpers(self) -> None:
        """Write chromedriver and Chromium into the host's helper ledger.

        chromedriver starts Chromium in a process group of its own, so neither this
        robot's exit nor a SIGKILL to its process group stops the browser; the ledger
        lets the next worker or robot run on this host reap it if this process dies.
        """
        process = getattr(getattr(self.driver, "service", None), "process", None)
        if process is None:  # a remote WebDriver: nothing runs on this host
            return
        ledger = ledger_from_environment()
        recorded = [ledger.record("chromedriver", process.pid)]
        recorded += [ledger.record("chromium", child.pid) for child in children_of(process.pid)]
        self._helpers += [helper for helper in recorded if helper is not None]

    def allow_downloads(self, directory: Path) -> None:
        """Send downloads to ``directory`` (headless Chromium ignores prefs alone)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.download_dir = directory
        self.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(directory), "eventsEnabled": True},
        )

    def close(self) -> None:
        """Quit Chromium and chromedriver, then remove the throw-away profile."""
        try:
            self.selenium.close_all_browsers()
        finally:
            self._remove_profile()
            # A browser that did not quit stays in the ledger, to be reaped after us.
            ledger = ledger_from_environment()
            self._helpers = [helper for helper in self._helpers if not ledger.release(helper)]

    def _remove_profile(self) -> None:
        if self._profile_dir is not None:
            shutil.rmtree(self._profile_dir, ignore_errors=True)
            self._profile_dir = None

    def script(self, code: str, *args: object) -> Any:
        """Run JavaScript in the page and return its JSON result."""
        return self.driver.execute_script(code, *args)

    def async_script(self, code: str, *args: object) -> Any:
        """Run asynchronous JavaScript (it calls its last argument with the result)."""
        return self.driver.execute_async_script(code, *args)

    def current_url(self) -> str:
        return str(self.driver.current_url)

    def cookies(self) -> dict[str, str]:
        return {cookie["name"]: cookie["value"] for cookie in self.driver.get_cookies()}

    def screenshot(self) -> None:
        """Embed a screenshot of the page in the Robot log; never fail because of it."""
        if not self.screenshots or not self.has_browser():
            return
        try:
            self.selenium.capture_page_screenshot()
        except Exception as error:  # a screenshot must not hide the real failure
            LOGGER.debug("No screenshot: %s", error)

    def load(
        self,
        url: str,
        ready_css: str,
        what: str,
        *,
        not_found_is_business: bool = False,
        on_login_page: Callable[[], None] | None = None,
    ) -> None:
        """Open ``url`` and wait until ``ready_css`` is on the page.

        Tries ``page_attempts`` times with a doubling delay. A 404 raises
        ``BusinessError`` at once when ``not_found_is_business`` (the record is
        missing; retrying will not bring it back). Being sent to the log-in page calls
        ``on_login_page`` (log in again) before the next try. A page that answers but
        never shows ``ready_css`` raises ``PageLayoutError`` (the portal changed);
        anything else raises ``ApplicationError`` naming the page, the URL and the last
        reason. A screenshot of the page goes into the log on every failure.
        """
        retrying = self.page_retries(
            lambda attempt, error: LOGGER.info(
                "%s did not load (attempt %d): %s", what, attempt, error
            ),
            stop_early=lambda attempt, error: (
                attempt >= 2 and isinstance(error, PageNotReadyError) and error.layout_changed
            ),
        )
        try:
            retrying(self._load_once, url, ready_css, what, not_found_is_business, on_login_page)
        except PageNotReadyError as failure:
            if failure.layout_changed:
                raise PageLayoutError(
                    f"{what} at {url} does not look as expected: no element matches "
                    f"{ready_css!r} (has the portal's layout changed?)"
                ) from None
            raise ApplicationError(
                f"{what} did not load from {url} after {self.page_attempts} attempts: "
                f"{failure.reason}"
            ) from None

    def page_retries(
        self,
        on_failure: Callable[[int, BaseException], object],
        *,
        stop_early: Callable[[int, BaseException], bool] | None = None,
    ) -> Retrying:
        """The policy of every page a robot reads: ``page_attempts`` tries with a delay
        doubling from ``retry_delay``, retrying a ``PageNotReadyError``; ``on_failure``
        hears of each failed try (see :func:`rpaml_robots.retries.doubling_retries`)."""
        return doubling_retries(
            self.page_attempts,
            self.retry_delay,
            retry_on=lambda error: isinstance(error, PageNotReadyError),
            on_failure=on_failure,
            stop_early=stop_early,
        )

    def _load_once(
        self,
        url: str,
        ready_css: str,
        what: str,
        not_found_is_business: bool,
        on_login_page: Callable[[], None] | None,
    ) -> None:
        """One try of :meth:`load`: returns once the page is ready, raises ``PageNotReadyError``
        (to be retried) or ``BusinessError`` (a 404 that is the record's fault)."""
        layout_changed = False
        try:
            self.driver.get(url)
            state = self.wait_for(ready_css)
            if state == "ready":
                return
            if state == "server-error":
                outcome = ProbeResult(status=500, error="the portal answered with its error page")
            elif state == "login-page":
                outcome = ProbeResult(status=303, error="the portal asked to log in")
            else:
                outcome = self._why_not_ready(url)
                layout_changed = state == "waiting" and outcome.status == 200
        except Exception as error:  # WebDriver time-outs, refused connections, lost sessions
            # Ask the server itself: its answer is clearer than a WebDriver stack trace.
            outcome = self._why_not_ready(url)
            if outcome.status == 200:
                outcome = ProbeResult(status=None, error=first_line(error))
        if outcome.status == 404 and not_found_is_business:
            self.screenshot()
            raise BusinessError(f"{what} does not exist on the portal ({url} answered 404)")
        reason = outcome.describe
        # Every failed try goes into the log with what the page showed.
        self.screenshot()
        if on_login_page is not None and self.at_login_page():
            reason = "the portal sent the robot back to the log-in page"
            layout_changed = False
            on_login_page()
        raise PageNotReadyError(reason, layout_changed=layout_changed)

    def at_login_page(self) -> bool:
        """Whether the portal sent the browser to its log-in page (the session ended)."""
        return urlsplit(self.current_url()).path == "/login"

    def wait_for(self, css: str) -> str:
        """Wait until ``css`` is on the page; return the page's state.

        ``ready``, ``server-error`` (the portal's error page), ``login-page``,
        ``browser-error`` (Chromium's own page: no answer) or ``waiting`` (time-out).
        """
        # The page has loaded when get() returns; a short wait covers scripts that
        # finish rendering just after the load event.
        deadline = time.monotonic() + min(self.timeout, 2.0)
        while True:
            state = str(self.script(PAGE_STATE, css))
            if state != "waiting" or time.monotonic() >= deadline:
                return state
            time.sleep(0.05)

    def wait_after_submit(self, css: str, old_page: Any) -> str:
        """After a form was submitted: wait for the next page, then for ``css``.

        ``old_page`` is an element of the page the form was on; it goes stale once the
        browser has left it, whatever the answer was.
        """
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                old_page.is_enabled()
            except Exception:  # StaleElementReferenceException: the page changed
                return self.wait_for(css)
            time.sleep(0.02)
        return "waiting"

    def _why_not_ready(self, url: str) -> ProbeResult:
        result = probe(url, self.cookies(), timeout=min(self.timeout, 5.0))
        if result.status == 200:
            return ProbeResult(status=200, error="page does not look as expected")
        return result
