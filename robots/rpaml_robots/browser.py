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

from rpaml_robots.errors import ApplicationError, BusinessError
from rpaml_robots.http_probe import ProbeResult, probe
from rpaml_robots.page_scripts import PAGE_STATE

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
        self.selenium.set_selenium_timeout(self.timeout)
        self.driver.set_page_load_timeout(max(30.0, self.timeout))
        self.allow_downloads(download_dir)

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

    def _remove_profile(self) -> None:
        if self._profile_dir is not None:
            shutil.rmtree(self._profile_dir, ignore_errors=True)
            self._profile_dir = None

    def script(self, code: str, *args: object) -> Any:
        """Run JavaScript in the page and return its JSON result."""
        return self.driver.execute_script(code, *args)

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
        ``on_login_page`` (log in again) before the next try. Anything else raises
        ``ApplicationError`` naming the page, the URL and the last reason.
        """
        reason = "it did not load"
        delay = self.retry_delay
        for attempt in range(1, self.page_attempts + 1):
            try:
                self.driver.get(url)
                if self._wait_for(ready_css):
                    return
                outcome = self._why_not_ready(url)
            except Exception as error:  # WebDriver time-outs, refused connections, lost sessions
                # Ask the server itself: its answer is clearer than a WebDriver stack trace.
                outcome = self._why_not_ready(url)
                if outcome.status == 200:
                    outcome = ProbeResult(status=None, error=first_line(error))
            if outcome.status == 404 and not_found_is_business:
                raise BusinessError(f"{what} does not exist on the portal ({url} answered 404)")
            reason = outcome.describe
            if on_login_page is not None and urlsplit(self.current_url()).path == "/login":
                reason = "the portal sent the robot back to the log-in page"
                on_login_page()
            LOGGER.info("%s did not load (attempt %d): %s", what, attempt, reason)
            if attempt < self.page_attempts:
                time.sleep(delay)
                delay *= 2
        self.screenshot()
        raise ApplicationError(
            f"{what} did not load from {url} after {self.page_attempts} attempts: {reason}"
        )

    def _wait_for(self, css: str) -> bool:
        # The page has loaded when get() returns; a short wait covers scripts that
        # finish rendering just after the load event.
        deadline = time.monotonic() + min(self.timeout, 2.0)
        while True:
            state = self.script(PAGE_STATE, css)
            if state == "ready":
                return True
            # Chromium's own error page ("refused", "timed out") will not change.
            if state == "browser-error" or time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def _why_not_ready(self, url: str) -> ProbeResult:
        result = probe(url, self.cookies(), timeout=min(self.timeout, 5.0))
        if result.status == 200:
            return ProbeResult(status=200, error="page does not look as expected")
        return result
