"""Keyword library ``ReviewDesk``: the simulated reviewer that works the review queue.

It uses the review app as a person does: headless Chromium (Debian's, with its
chromedriver), logs in through the form, and decides item after item with the keyboard
alone. Its answer for each claim is the sandbox portal's investigation result (the ground
truth the portal's admin API tells, as an investigator would find out), wrong on purpose
with probability ``error_rate`` (seeded, so a run is repeatable). Its account is one of
the review app's ``RPAML_REVIEW_SIMULATED_REVIEWERS``, so its labels are marked
simulated (source ``review:simulated``).

Settings (environment, or the ``KEY=value`` file named by ``RPAML_SECRETS_FILE``):

| ``RPAML_REVIEW_URL`` | the review app |
| ``RPAML_REVIEW_USERNAME`` / ``RPAML_REVIEW_PASSWORD`` | the simulated reviewer's account |
| ``RPAML_PORTAL_URL`` / ``RPAML_PORTAL_ADMIN_TOKEN`` | where the investigation results are |
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import httpx
from robot.api import logger
from robot.api.deco import keyword, library

from rpaml_pipeline.secrets_file import read_secrets
from rpaml_robots.browser import ChromiumBrowser
from rpaml_robots.errors import ApplicationError, ConfigurationError

_SWAPS = "return Number(document.body.dataset.swaps || 0);"
_ON_SCREEN = "var e = document.querySelector('#natural-key'); return e ? e.textContent : '';"
_KEY_OF = (
    "var b = document.querySelector('#decision button[data-outcome=\"' + arguments[0] + '\"]');"
    " return b ? b.dataset.key : '';"
)


@library(scope="SUITE", auto_keywords=False)
class ReviewDesk:
    """Works the review app's queue like a person, by keyboard (see the module docs)."""

    def __init__(self, error_rate: float = 0.0, seed: int = 0, timeout: float = 15.0) -> None:
        rate = float(error_rate)
        if not 0.0 <= rate <= 1.0:
            raise ConfigurationError(f"error_rate must be between 0 and 1, not {error_rate}")
        self._error_rate = rate
        self._random = random.Random(int(seed))
        self._timeout = float(timeout)
        self._browser = ChromiumBrowser(timeout=float(timeout))
        self._truth: dict[str, bool] = {}
        self.reviewed = 0
        self.wrong_on_purpose = 0

    @keyword
    def open_the_review_app(self) -> None:
        """Start Chromium and log in with the simulated reviewer's account."""
        settings = _settings()
        self._settings = settings
        if not self._browser.has_browser():
            self._browser.open(Path(os.environ.get("RPAML_DATA_DIR", ".")) / "review-desk")
        selenium = self._browser.selenium
        self._browser.driver.get(settings["RPAML_REVIEW_URL"].rstrip("/") + "/login")
        self._browser.wait_for("input[name=username]")
        selenium.input_text("css:input[name=username]", settings["RPAML_REVIEW_USERNAME"])
        field = self._browser.driver.find_element("css selector", "input[name=password]")
        # Typed through WebDriver itself, which logs nothing.
        field.send_keys(settings["RPAML_REVIEW_PASSWORD"] + "\n")
        if self._browser.wait_for("#start") != "ready":
            raise ApplicationError("the review app refused the simulated reviewer's log-in")

    @keyword
    def start_reviewing(self) -> str:
        """Press ``n`` on the queue page; return the claim on screen ("" when none)."""
        return self._press("n")

    @keyword
    def investigation_result(self, claim_id: str) -> str:
        """``fraud`` or ``legitimate``: what investigating ``claim_id`` finds out."""
        if claim_id not in self._truth:
            self._truth = self._load_truth()
        if claim_id not in self._truth:
            raise ApplicationError(f"the portal knows no claim {claim_id}")
        return "fraud" if self._truth[claim_id] else "legitimate"

    @keyword
    def decide_by_keyboard(self, outcome: str) -> str:
        """Press the key of the choice asserting ``outcome`` (or of the other choice, with
        probability ``error_rate``); return the next claim on screen ("" when done)."""
        answer = outcome
        if self._random.random() < self._error_rate:
            answer = "legitimate" if outcome == "fraud" else "fraud"
            self.wrong_on_purpose += 1
        key = str(self._browser.script(_KEY_OF, answer))
        if not key:
            raise ApplicationError(f"the item page offers no choice for {answer!r}")
        self.reviewed += 1
        return self._press(key)

    @keyword
    def close_the_review_app(self) -> dict[str, int]:
        """Close Chromium; return how many items were reviewed (and answered wrong on
        purpose)."""
        self._browser.close()
        summary = {"reviewed": self.reviewed, "wrong_on_purpose": self.wrong_on_purpose}
        logger.info(f"reviewed {self.reviewed} items ({self.wrong_on_purpose} wrong on purpose)")
        return summary

    def _press(self, key: str) -> str:
        """Press ``key`` and wait for the page's answer to be swapped in."""
        from selenium.webdriver.common.action_chains import ActionChains

        driver: Any = self._browser.driver
        before = int(self._browser.script(_SWAPS))
        ActionChains(driver).send_keys(key).perform()
        deadline = time.monotonic() + self._timeout
        while int(self._browser.script(_SWAPS)) <= before:
            if time.monotonic() > deadline:
                raise ApplicationError(f"the review app did not answer the key {key!r}")
            time.sleep(0.02)
        if self._browser.script("return !!document.querySelector('#message');"):
            message = self._browser.script("return document.querySelector('#message').textContent")
            raise ApplicationError(f"the review app refused: {message}")
        return str(self._browser.script(_ON_SCREEN)).strip()

    def _load_truth(self) -> dict[str, bool]:
        settings = self._settings
        try:
            answer = httpx.get(
                settings["RPAML_PORTAL_URL"].rstrip("/") + "/admin/claims",
                headers={"X-Admin-Token": settings["RPAML_PORTAL_ADMIN_TOKEN"]},
                timeout=self._timeout,
            )
            answer.raise_for_status()
        except httpx.HTTPError as error:
            raise ApplicationError(f"the portal's investigation results: {error}") from error
        return {claim["claim_id"]: bool(claim["is_fraud"]) for claim in answer.json()}


def _settings() -> dict[str, str]:
    names = ("RPAML_REVIEW_URL", "RPAML_REVIEW_USERNAME", "RPAML_REVIEW_PASSWORD",
             "RPAML_PORTAL_URL", "RPAML_PORTAL_ADMIN_TOKEN")  # fmt: skip
    file = os.environ.get("RPAML_SECRETS_FILE")
    found = read_secrets(Path(file)) if file and Path(file).exists() else {}
    values = {name: os.environ.get(name) or found.get(name, "") for name in names}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ConfigurationError(f"the simulated reviewer needs {', '.join(missing)}")
    return values
