"""``ClaimsPortal``: the Robot Framework keyword library for the claims web portal."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

from robot.api import logger
from robot.api.deco import keyword, library

from rpaml_robots.browser import ChromiumBrowser, PageNotReadyError, first_line
from rpaml_robots.claim_rows import (
    LIST_COLUMNS,
    SOURCE_LOCATION,
    Row,
    drop_duplicates,
    merge_details,
    normalise_history_row,
    rows_from_table,
)
from rpaml_robots.credentials import PortalCredentials, load_credentials
from rpaml_robots.errors import (
    ApplicationError,
    BusinessError,
    ConfigurationError,
    PageLayoutError,
    failure_kind,
)
from rpaml_robots.page_scripts import (
    FETCH_CLAIM_DETAILS,
    FETCH_CLAIMS_PAGE,
    FILL_BULK_FORM,
    READ_BULK_ROWS,
    READ_CLAIM_DETAILS,
    READ_CLAIMS_TABLE,
    READ_RECEIPT,
)
from rpaml_robots.retries import doubling_retries

PORTAL_URL_KEY = "RPAML_PORTAL_URL"
DECISION_ACTIONS = ("approve", "escalate", "reject")
HISTORY_SHEET = "Closed claims"
#: Upper bound on list pages followed: a portal whose "next" link never ends must
#: not keep a robot busy forever.
MAX_PAGES = 1000
#: Detail pages fetched at once: enough to hide the round trips, few enough not to
#: flood a portal that serves people too.
DETAIL_BATCH = 10
_T = TypeVar("_T")


@library(scope="GLOBAL", auto_keywords=False)
class ClaimsPortal:
    """Keywords that work on the rpaml sandbox claims portal in headless Chromium.

    The library opens Debian's Chromium through rpaframework's
    ``RPA.Browser.Selenium`` (never downloading a driver), logs in with credentials
    from the environment, reads the claims list and detail pages with one
    JavaScript call per page, downloads the closed-claims export and applies
    decisions *effectively once*: the claim is re-read before acting, and a claim
    someone else decided meanwhile is reported, not decided twice.

    Failures are classified like Robocorp work items: ``BusinessError`` when a
    record is bad (the claim does not exist), ``ApplicationError`` when the portal
    is down, slow or changed. Page loads are retried ``page_attempts`` times with a
    doubling delay before an ``ApplicationError`` is raised; a screenshot goes into
    the log on such failures.

    = Settings =

    | =Environment variable= | =Meaning= |
    | ``RPAML_PORTAL_URL`` | Base URL of the portal when `Open Claims Portal` gets none. |
    | ``RPAML_PORTAL_USERNAME`` | Portal user name. |
    | ``RPAML_PORTAL_PASSWORD`` | Portal password (never logged). |
    | ``RPAML_SECRETS_FILE`` | ``KEY=value`` file with the two above when not in the env. |
    | ``RPAML_DATA_DIR`` | Downloads go to ``<data dir>/downloads`` by default. |

    = Usage =

    | *** Settings ***
    | Library    rpaml_robots.portal.ClaimsPortal    page_attempts=3
    | Suite Setup       Open Claims Portal    %{RPAML_PORTAL_URL}
    | Suite Teardown    Close Claims Portal
    |
    | *** Tasks ***
    | Collect Open Claims
    |     Log In To Claims Portal
    |     ${claims}=    Collect Open Claims    per_page=200
    |     ${claims}=    Add Claim Details    ${claims}
    |     Log    Collected ${claims.__len__()} claims
    """

    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(
        self,
        page_attempts: int = 3,
        retry_delay: float = 0.5,
        timeout: float = 10.0,
        download_dir: str | None = None,
        action_attempts: int = 5,
    ) -> None:
        """``page_attempts`` loads per page before giving up, ``retry_delay`` the
        first pause between them in seconds (doubled each time), ``timeout`` seconds
        to wait for an element, ``download_dir`` where the browser saves files,
        ``action_attempts`` tries of a decision (each one starting with a re-read)."""
        self._action_attempts = max(1, int(action_attempts))
        # Listening to its own scope lets the library quit Chromium and chromedriver
        # even when a suite forgot `Close Claims Portal` or Robot was interrupted.
        self.ROBOT_LIBRARY_LISTENER = self
        self._browser = ChromiumBrowser(
            timeout=float(timeout), page_attempts=int(page_attempts), retry_delay=float(retry_delay)
        )
        self._download_dir = Path(download_dir) if download_dir else None
        self._base_url = ""
        self._credentials: PortalCredentials | None = None
        self.last_collection: dict[str, int] = {}
        # Downloaded file -> the URL it came from: the source location of its rows.
        self._export_sources: dict[str, str] = {}

    # -- session -------------------------------------------------------------------

    @keyword
    def open_claims_portal(self, url: str | None = None) -> str:
        """Start headless Chromium and open the portal's log-in page.

        ``url`` is the portal's base URL; without it ``RPAML_PORTAL_URL`` is used.
        Returns the base URL. Raises ``ApplicationError`` when the portal does not
        answer (after the configured retries).

        Example:
        | Open Claims Portal    http://127.0.0.1:8010
        | Open Claims Portal    # uses %{RPAML_PORTAL_URL}
        """
        base = (url or os.environ.get(PORTAL_URL_KEY, "")).strip()
        if not base:
            raise ConfigurationError(f"No portal URL: pass url= or set {PORTAL_URL_KEY}")
        if urlsplit(base).scheme not in ("http", "https"):
            raise ConfigurationError(f"Portal URL must start with http:// or https://: {base!r}")
        self._base_url = base.rstrip("/") + "/"
        if not self._browser.has_browser():
            self._browser.open(self._default_download_dir())
        self._browser.load(self._url("login"), "form#login-form", "The portal's log-in page")
        return self._base_url

    @keyword
    def log_in_to_claims_portal(self) -> None:
        """Log in with ``RPAML_PORTAL_USERNAME`` / ``RPAML_PORTAL_PASSWORD``.

        The credentials come from the environment or from the ``KEY=value`` file
        named by ``RPAML_SECRETS_FILE``; they are never arguments, so they never
        appear in a suite or a log. A refused log-in raises ``ApplicationError``.

        Example:
        | Open Claims Portal
        | Log In To Claims Portal
        """
        self._require_open()
        self._credentials = load_credentials()
        self._log_in(self._credentials)

    def _log_in(self, credentials: PortalCredentials) -> None:
        # A transient error page is retried like any page load; a refusal is not.
        browser = self._browser
        try:
            browser.page_retries(
                lambda attempt, _: logger.info(
                    f"The portal failed while logging in (attempt {attempt}); retrying"
                )
            )(self._try_log_in, credentials)
        except PageNotReadyError:
            browser.screenshot()
            raise ApplicationError(
                f"The portal kept failing while logging in ({browser.page_attempts} attempts)"
            ) from None

    def _try_log_in(self, credentials: PortalCredentials) -> None:
        """Log in once; ``PageNotReadyError`` on the portal's transient error page."""
        browser = self._browser
        if urlsplit(browser.current_url()).path != "/login" or not browser.script(
            "return !!document.querySelector('form#login-form');"
        ):
            browser.load(self._url("login"), "form#login-form", "The portal's log-in page")
        browser.selenium.input_text("css:input#username", credentials.username)
        # Typed through WebDriver itself, which logs nothing (Input Password would too, but
        # needs a running Robot to switch logging off, and the library also runs without).
        password_field = browser.driver.find_element("css selector", "input#password")
        password_field.clear()
        password_field.send_keys(credentials.password.value)
        browser.selenium.click_button("css:button#login-button")
        deadline = time.monotonic() + browser.timeout
        while time.monotonic() < deadline:
            if browser.script("return !!document.querySelector('#server-error');"):
                raise PageNotReadyError("the portal's error page", layout_changed=False)
            if browser.script("return !!document.querySelector('div.error');"):
                error = str(browser.script("return document.querySelector('div.error').innerText;"))
                browser.screenshot()
                raise ApplicationError(
                    f"The portal refused the log-in of {credentials.username!r}: {error.strip()}"
                )
            if urlsplit(browser.current_url()).path != "/login":
                logger.info(f"Logged in to the claims portal as {credentials.username}")
                return
            time.sleep(0.05)
        browser.screenshot()
        raise ApplicationError("The portal did not answer the log-in within the time-out")

    def _relogin(self) -> None:
        # A session can expire during a long run: log in again once per page load.
        if self._credentials is not None:
            logger.info("Session expired; logging in to the claims portal again")
            self._log_in(self._credentials)

    @keyword
    def close_claims_portal(self) -> None:
        """Close the browser and its chromedriver (safe when none is open).

        Example:
        | [Teardown]    Close Claims Portal
        """
        self._browser.close()

    def close(self) -> None:
        """Listener hook, called when the library goes out of scope."""
        if self._browser.has_browser():
            self._browser.close()

    # -- closed claims history -------------------------------------------------------

    @keyword
    def download_closed_claims_history(
        self, target_dir: str | None = None, closed_since: str | None = None
    ) -> str:
        """Download the closed-claims export from ``/reports`` and return its path.

        With ``closed_since`` (YYYY-MM-DD) the reports page is filtered to the claims
        closed on or after that day, as a clerk would choose it. Clicks
        ``a#export-closed`` and waits until the ``.xlsx`` has finished downloading into
        ``target_dir`` (default: ``<RPAML_DATA_DIR>/downloads``).

        Example:
        | ${path}=    Download Closed Claims History    ${OUTPUT_DIR}/downloads
        | ${path}=    Download Closed Claims History    closed_since=2026-03-30
        """
        self._require_open()
        folder = Path(target_dir) if target_dir else self._default_download_dir()
        folder = folder.expanduser().resolve()
        browser = self._browser
        browser.allow_downloads(folder)
        before = self._xlsx_versions(folder)
        since = f"?{urlencode({'closed_since': closed_since})}" if closed_since else ""
        browser.load(
            self._url("reports") + since,
            "a#export-closed",
            "The reports page",
            on_login_page=self._relogin,
        )
        export_url = str(browser.script("return document.querySelector('a#export-closed').href;"))
        browser.selenium.click_element("css:a#export-closed")
        path = self._wait_for_download(folder, before)
        self._export_sources[str(path)] = export_url
        logger.info(f"Downloaded the closed claims history to {path}")
        return str(path)

    @keyword
    def portal_business_date(self) -> str:
        """The portal's business date (YYYY-MM-DD), as its reports page shows it.

        Read before an export, it is the day a later export starts from: a claim that
        closes on that day after the export is in the next one.

        Example:
        | ${through}=    Portal Business Date
        """
        self._require_open()
        browser = self._browser
        browser.load(
            self._url("reports"),
            "span#business-date",
            "The reports page",
            on_login_page=self._relogin,
        )
        shown = browser.script("return document.querySelector('span#business-date').textContent;")
        return str(shown).strip()

    @staticmethod
    def _xlsx_versions(folder: Path) -> dict[str, int]:
        return {path.name: path.stat().st_mtime_ns for path in folder.glob("*.xlsx")}

    def _wait_for_download(self, folder: Path, before: Mapping[str, int]) -> Path:
        # Chromium writes "<name>.crdownload" and renames it when done; a size that
        # stays the same between two looks confirms the file is complete.
        deadline = time.monotonic() + max(30.0, self._browser.timeout * 3)
        last_size = -1
        while time.monotonic() < deadline:
            pending = list(folder.glob("*.crdownload"))
            # Chromium may overwrite an earlier export of the same name: a changed
            # modification time counts as a new file too.
            current = self._xlsx_versions(folder)
            new = sorted(
                (folder / name for name, mtime in current.items() if before.get(name) != mtime),
                key=lambda path: current[path.name],
            )
            if new and not pending:
                size = new[-1].stat().st_size
                if size > 0 and size == last_size:
                    return new[-1]
                last_size = size
            time.sleep(0.2)
        self._browser.screenshot()
        raise ApplicationError(f"The closed claims export did not finish downloading into {folder}")

    @keyword
    def read_closed_claims_history(self, path: str) -> list[Row]:
        """Read the export into rows keyed like the store's fields.

        Keys: claim_id, policy_number, claimant_name, claimant_age, amount,
        incident_date, reported_date, policy_start_date, channel, category, region,
        prior_claims, police_report, description, closed_date, outcome. Values are
        text as shown; an empty cell is a missing key.

        Example:
        | ${path}=    Download Closed Claims History
        | ${rows}=    Read Closed Claims History    ${path}
        """
        from RPA.Excel.Files import Files  # loaded on use: a heavy import

        excel = Files()
        try:
            # Not read_only: the portal writes a streamed workbook without dimensions,
            # which openpyxl's read-only mode cannot size.
            excel.open_workbook(path)
        except Exception as error:
            raise ApplicationError(
                f"The export {path} is not a readable workbook: {error}"
            ) from error
        try:
            sheets = list(excel.list_worksheets())
            sheet = HISTORY_SHEET if HISTORY_SHEET in sheets else None
            if sheet is None:
                raise ApplicationError(
                    f"The export {path} has no sheet {HISTORY_SHEET!r} (sheets: {sheets})"
                )
            table = excel.read_worksheet(sheet, header=True)
        finally:
            excel.close_workbook()
        source = self._export_sources.get(str(path)) or Path(path).resolve().as_uri()
        rows = []
        for row in table:
            normalised = normalise_history_row(row)
            if normalised:  # a sheet's trailing blank lines are not claims
                normalised[SOURCE_LOCATION] = source
                rows.append(normalised)
        logger.info(f"Read {len(rows)} closed claims from {path}")
        return rows

    # -- open claims ----------------------------------------------------------------

    @keyword
    def collect_open_claims(self, per_page: int = 200) -> list[Row]:
        """Page through ``/claims?status=open`` and return every open claim once.

        Reads each page with one JavaScript call and follows ``a#next-page``. Each
        row holds the list columns (claim_id, policy_number, claimant_name, amount,
        incident_date, channel, category, status) and ``source_location``, the page's
        URL. Claims arriving while the robot pages push rows onto the next page: the
        first sighting is kept and the repeats are counted in the log.

        Example:
        | ${claims}=    Collect Open Claims    per_page=200
        """
        self._require_open()
        query = urlencode({"status": "open", "page": 1, "per_page": int(per_page)})
        url: str | None = self._url(f"claims?{query}")
        collected: list[Row] = []
        pages = 0
        while url is not None and pages < MAX_PAGES:
            # The first page is opened in the browser (log-in and layout are checked on
            # the real page); the next ones are fetched within the session, one script
            # call each, without rendering them.
            page = self._read_claims_page(url) if pages == 0 else self._fetch_claims_page(url)
            pages += 1
            rows = rows_from_table(page["headers"], [row["cells"] for row in page["rows"]])
            for row, raw in zip(rows, page["rows"], strict=True):
                # The row's data attribute is the portal's own key: trust it over the text.
                if raw.get("claim_id"):
                    row["claim_id"] = str(raw["claim_id"])
                row[SOURCE_LOCATION] = str(page["url"])
            collected.extend(rows)
            url = page.get("next_url") or None
        unique, duplicates = drop_duplicates(collected)
        self.last_collection = {
            "pages": pages,
            "rows_seen": len(collected),
            "claims": len(unique),
            "duplicates": duplicates,
        }
        logger.info(
            f"Collected {len(unique)} open claims from {pages} pages "
            f"({duplicates} repeated rows skipped: claims that arrived while paging)"
        )
        return unique

    def _read_claims_page(self, url: str) -> dict[str, Any]:
        self._browser.load(url, "table#claims", "The claims list", on_login_page=self._relogin)
        return self._checked_claims_page(url, self._browser.script(READ_CLAIMS_TABLE))

    def _fetch_claims_page(self, url: str) -> dict[str, Any]:
        browser = self._browser
        try:
            page: dict[str, Any] = browser.page_retries(
                lambda attempt, error: logger.info(
                    f"The claims list did not load (attempt {attempt}): {error}"
                )
            )(self._fetch_claims_page_once, url)
        except PageNotReadyError as failure:
            browser.screenshot()
            raise ApplicationError(
                f"The claims list did not load from {url} after {browser.page_attempts} "
                f"attempts: {failure.reason}"
            ) from None
        return page

    def _fetch_claims_page_once(self, url: str) -> dict[str, Any]:
        """One try of :meth:`_fetch_claims_page`; ``PageNotReadyError`` to try again."""
        try:
            answer = self._browser.async_script(FETCH_CLAIMS_PAGE, url)
        except Exception as error:  # script time-out, lost browser
            answer = {"status": 0, "error": first_line(error)}
        status = int(answer.get("status") or 0) if isinstance(answer, dict) else 0
        if status == 200 and urlsplit(str(answer.get("url", ""))).path == "/login":
            self._relogin()
            raise PageNotReadyError(
                "the portal sent the robot back to the log-in page", layout_changed=False
            )
        if status != 200:
            reason = f"HTTP {status}" if status else str(answer.get("error") or "no answer")
            raise PageNotReadyError(reason, layout_changed=False)
        page = answer.get("page")
        if not isinstance(page, dict) or not page.get("headers"):
            # Open it for real: the layout error then comes with a screenshot.
            return self._read_claims_page(url)
        return self._checked_claims_page(url, page)

    def _checked_claims_page(self, url: str, page: Any) -> dict[str, Any]:
        """The page as read, or a ``PageLayoutError`` when it is not the list we know."""
        if not isinstance(page, dict) or not page.get("headers"):
            self._browser.screenshot()
            raise PageLayoutError(f"The claims list at {url} does not look as expected")
        headers = {" ".join(str(header).split()).lower() for header in page["headers"]}
        missing = [label for label in LIST_COLUMNS if label.lower() not in headers]
        if missing:
            # Guessing which cell is which would stage garbage: stop instead.
            self._browser.screenshot()
            raise PageLayoutError(
                f"The claims list at {url} does not look as expected: columns "
                f"{', '.join(missing)} are missing (shown: {', '.join(page['headers'])}); "
                "has the portal's layout changed?"
            )
        return page

    @keyword
    def collection_statistics(self) -> dict[str, int]:
        """Figures of the last `Collect Open Claims`: pages, rows_seen, claims, duplicates.

        Example:
        | ${stats}=    Collection Statistics
        | Log    ${stats}[duplicates] repeated rows
        """
        return dict(self.last_collection)

    @keyword
    def read_claim_details(self, claim_id: str) -> Row:
        """Open ``/claims/{claim_id}`` and return every ``dd[data-field]`` as text.

        Also returns ``source_location`` (the page's URL). A claim that does not
        exist raises ``BusinessError``.

        Example:
        | ${details}=    Read Claim Details    CLM-000123
        | Log    ${details}[amount]
        """
        page = self._claim_page(claim_id)
        details: Row = {
            str(name): str(value) for name, value in page["fields"].items() if str(value)
        }
        details[SOURCE_LOCATION] = str(page["url"])
        return details

    def _claim_page(self, claim_id: str) -> dict[str, Any]:
        self._require_open()
        claim_id = str(claim_id).strip()
        if not claim_id or "/" in claim_id:
            raise BusinessError(f"{claim_id!r} is not a claim id")
        url = self._url(f"claims/{claim_id}")
        self._browser.load(
            url,
            "dl#claim-details",
            f"Claim {claim_id}",
            not_found_is_business=True,
            on_login_page=self._relogin,
        )
        page = self._browser.script(READ_CLAIM_DETAILS)
        fields = page.get("fields") if isinstance(page, dict) else None
        if not isinstance(fields, dict) or fields.get("claim_id") != claim_id:
            self._browser.screenshot()
            raise PageLayoutError(
                f"The page of claim {claim_id} does not look as expected: its details "
                "do not name the claim (has the portal's layout changed?)"
            )
        return dict(page)

    @keyword
    def add_claim_details(self, rows: Sequence[Mapping[str, str]]) -> list[Row]:
        """Read the detail page of each row's claim and merge it into the row.

        The detail page wins where both show a field and becomes the
        ``source_location``. A claim that vanished (404) is left out with a warning;
        an application error stops the keyword.

        Pages are fetched within the browser's session ``DETAIL_BATCH`` at a time, in
        one script call, without rendering them. A page that did not answer as
        expected (error, ended session, other markup) is opened in the browser
        instead, with the retries, log-in and layout checks of `Read Claim Details`.

        Example:
        | ${new}=       Claims Needing Details    ${claims}
        | ${full}=      Add Claim Details    ${new}
        """
        self._require_open()
        merged: list[Row] = []
        for start in range(0, len(rows), DETAIL_BATCH):
            batch = list(rows[start : start + DETAIL_BATCH])
            fetched = self._fetch_claim_details([row.get("claim_id", "") for row in batch])
            for row, details in zip(batch, fetched, strict=True):
                claim_id = row.get("claim_id", "")
                try:
                    if details is None:
                        details = self.read_claim_details(claim_id)
                except BusinessError as error:
                    logger.warn(f"Claim {claim_id} left out: {error}")
                    continue
                merged.append(merge_details(row, details))
        logger.info(f"Read the details of {len(merged)} of {len(rows)} claims")
        return merged

    def _fetch_claim_details(self, claim_ids: Sequence[str]) -> list[Row | None]:
        """Details of each claim read from a fetched page, or None where the page must be
        opened in the browser (any answer but the expected page, a 404 included: the
        browser path turns it into a classified error with a screenshot)."""
        wanted = [str(claim_id).strip() for claim_id in claim_ids]
        if not all(claim_id and "/" not in claim_id for claim_id in wanted):
            return [None] * len(wanted)
        urls = [self._url(f"claims/{claim_id}") for claim_id in wanted]
        try:
            answers = self._browser.async_script(FETCH_CLAIM_DETAILS, urls)
        except Exception as error:  # script time-out, lost browser: the slow path decides
            logger.info(f"Fetching {len(urls)} claim pages failed: {first_line(error)}")
            return [None] * len(wanted)
        found: list[Row | None] = []
        for claim_id, answer in zip(wanted, answers, strict=True):
            page = answer.get("page") if answer.get("status") == 200 else None
            if not isinstance(page, dict):
                found.append(None)
                continue
            fields = page.get("fields")
            if not isinstance(fields, dict) or fields.get("claim_id") != claim_id:
                found.append(None)
                continue
            details: Row = {str(name): str(value) for name, value in fields.items() if value}
            details[SOURCE_LOCATION] = str(page["url"])
            found.append(details)
        return found

    # -- decisions -----------------------------------------------------------------

    @keyword
    def apply_decision(self, claim_id: str, action: str) -> dict[str, str]:
        """Decide a claim in the portal, effectively once.

        ``action`` is approve, escalate or reject. The claim page is re-read first:
        a claim that is already decided is not touched and the result is
        ``{outcome: already_decided, receipt, portal_status, decision}``. Otherwise the
        action button is clicked and confirmed and the receipt page read:
        ``{outcome: applied, receipt, portal_status, decision}``. If someone decided
        the claim between the re-read and the confirmation (409), the existing
        decision is returned as ``already_decided``.

        An application error (an error page, an expired session, a lost answer) is
        retried ``action_attempts`` times with a doubling delay, each try starting with
        the re-read, so a decision whose answer was lost is found, not taken twice.

        Raises ``BusinessError`` for an unknown action or claim, ``ApplicationError``
        when the portal keeps failing, ``PageLayoutError`` when its pages changed.

        Example:
        | ${result}=    Apply Decision    CLM-000123    approve
        | Log    ${result}[outcome]: ${result}[receipt]
        """
        wanted = str(action).strip().lower()
        if wanted not in DECISION_ACTIONS:
            raise BusinessError(
                f"{action!r} is not a portal action (expected one of {', '.join(DECISION_ACTIONS)})"
            )
        claim_id = str(claim_id).strip()
        return self._with_retries(
            f"the {wanted} of claim {claim_id}", lambda: self._apply_once(claim_id, wanted)
        )

    def _with_retries(self, what: str, attempt_once: Callable[[], _T]) -> _T:
        """Run ``attempt_once`` until it succeeds, retrying application errors, WebDriver
        errors too (but not a changed layout, which will not change back, nor a bad
        record), with a doubling delay."""
        attempts = self._action_attempts
        try:
            return doubling_retries(
                attempts,
                self._browser.retry_delay,
                retry_on=lambda error: not isinstance(error, PageLayoutError | BusinessError),
                on_retry=lambda attempt, error: logger.info(
                    f"{what} failed (attempt {attempt}): {error}; retrying"
                ),
            )(attempt_once)
        except (PageLayoutError, BusinessError):
            raise
        except Exception as error:
            why = error if isinstance(error, ApplicationError) else first_line(error)
            raise ApplicationError(f"Gave up on {what} after {attempts} attempts: {why}") from error

    def _apply_once(self, claim_id: str, wanted: str) -> dict[str, str]:
        page = self._claim_page(claim_id)
        if not page.get("decision_form"):
            return self._already_decided(claim_id, page)
        browser = self._browser
        form = browser.driver.find_element("css selector", "form#decision-form")
        browser.selenium.click_button(f"css:form#decision-form button#{wanted}")
        state = browser.wait_after_submit("button#confirm", form)
        if state != "ready":
            browser.screenshot()
            raise ApplicationError(
                f"The portal did not ask to confirm the {wanted} of claim {claim_id} ({state})"
            )
        button = browser.driver.find_element("css selector", "button#confirm")
        button.click()
        state = browser.wait_after_submit("span#receipt", button)
        receipt_page = browser.script(READ_RECEIPT) if state == "ready" else {}
        path = urlsplit(str(receipt_page.get("url", ""))).path
        if path.endswith("/receipt") and receipt_page.get("receipt"):
            # Read the claim back: its status is the portal's word that the decision
            # stuck, and the receipt must be the one the receipt page showed.
            fields = self._claim_page(claim_id).get("fields", {})
            result = {
                "outcome": "applied",
                "receipt": str(receipt_page["receipt"]),
                "decision": str(receipt_page.get("decision") or wanted),
                "portal_status": str(fields.get("status", "")),
            }
            if fields.get("receipt") and fields["receipt"] != result["receipt"]:
                raise ApplicationError(
                    f"Claim {claim_id} shows receipt {fields['receipt']}, "
                    f"not {result['receipt']} from its receipt page"
                )
            logger.info(f"Claim {claim_id}: {wanted} applied, receipt {result['receipt']}")
            return result
        # Not the receipt page: someone decided first (409), the answer was lost or the
        # session ended. The claim's own page says which.
        logger.info(f"Confirming claim {claim_id} gave no receipt ({state}); re-reading it")
        browser.screenshot()
        page = self._claim_page(claim_id)
        if not page.get("decision_form"):
            return self._already_decided(claim_id, page)
        raise ApplicationError(
            f"The portal did not record the {wanted} of claim {claim_id}: it is still open"
        )

    # -- bulk decisions ------------------------------------------------------------

    @keyword
    def apply_decisions_in_bulk(
        self, work_items: Sequence[Mapping[str, str]], chunk_size: int = 100
    ) -> list[dict[str, str]]:
        """Decide many claims through the portal's bulk screen, effectively once.

        ``work_items`` are dicts with ``claim_id`` and ``decision`` (as returned by
        ``Claim Decisions To Apply``; other keys such as ``record_id`` are passed
        through). Claims are grouped by decision and sent ``chunk_size`` at a time:
        the bulk screen lists each claim's current state, one confirmation decides the
        open ones, and the receipts page gives one receipt per claim.

        Returns one result per work item, in order, with the item's keys and
        ``outcome`` (applied, already_decided or failed), ``receipt``, ``decision``,
        ``failure_kind`` (business or application, for failed items) and ``error``.
        The keyword itself does not fail: a portal that keeps failing (or whose bulk
        screen changed) makes every item of the chunk an application failure.
        A claim the portal does not know or that is closed is a business failure. When
        the confirmation fails (error page, lost answer, expired session) the screen
        is reviewed again: its states show which claims were decided, with their
        receipts, and only the still-open ones are confirmed again.

        Example:
        | ${work}=       Claim Decisions To Apply    limit=200
        | ${results}=    Apply Decisions In Bulk    ${work}
        | Record Portal Results    ${results}
        """
        self._require_open()
        size = max(1, min(int(chunk_size), 500))
        results: dict[int, dict[str, str]] = {}
        groups: dict[str, list[int]] = {}
        for index, item in enumerate(work_items):
            wanted = str(item.get("decision", "")).strip().lower()
            if wanted not in DECISION_ACTIONS:
                results[index] = _failed(item, "business", f"{wanted!r} is not a portal action")
                continue
            groups.setdefault(wanted, []).append(index)
        for wanted, indexes in groups.items():
            for start in range(0, len(indexes), size):
                chunk = indexes[start : start + size]
                claims = {str(work_items[i]["claim_id"]).strip().upper(): i for i in chunk}
                try:
                    outcomes = self._with_retries(
                        f"the bulk {wanted} of {len(claims)} claims",
                        partial(self._bulk_once, list(claims), wanted),
                    )
                except ApplicationError as error:
                    # Every item gets a result, so none is left "acting" without a reason.
                    for index in chunk:
                        results[index] = _failed(work_items[index], failure_kind(error), str(error))
                    continue
                for claim_id, index in claims.items():
                    results[index] = {**work_items[index], **outcomes[claim_id]}
        ordered = [results[index] for index in range(len(work_items))]
        applied = sum(1 for result in ordered if result["outcome"] == "applied")
        logger.info(f"Bulk decisions: {applied} applied of {len(ordered)} work items")
        return ordered

    def _bulk_once(self, claim_ids: list[str], wanted: str) -> dict[str, dict[str, str]]:
        """One review (re-reads every state) and, when some are open, one confirmation."""
        browser = self._browser
        browser.load(
            self._url("bulk"), "form#bulk-form", "The bulk screen", on_login_page=self._relogin
        )
        form = browser.driver.find_element("css selector", "form#bulk-form")
        browser.script(FILL_BULK_FORM, "\n".join(claim_ids), wanted)
        state = browser.wait_after_submit("table#bulk-items", form)
        if state != "ready":
            browser.screenshot()
            if state == "login-page":
                self._relogin()
            raise ApplicationError(f"The bulk screen did not list the claims ({state})")
        review = browser.script(READ_BULK_ROWS, "table#bulk-items")
        outcomes: dict[str, dict[str, str]] = {}
        open_ids = []
        for row in review:
            claim_id = str(row["claim_id"])
            if row["state"] == "open":
                open_ids.append(claim_id)
            else:
                outcomes[claim_id] = _bulk_outcome(claim_id, str(row["state"]), row)
        missing = set(claim_ids) - set(outcomes) - set(open_ids)
        if missing:
            raise PageLayoutError(
                f"The bulk screen did not list {len(missing)} of the claims sent "
                f"(e.g. {sorted(missing)[0]}): has the portal's layout changed?"
            )
        if not open_ids:
            return outcomes
        button = browser.driver.find_element("css selector", "button#bulk-confirm")
        button.click()
        state = browser.wait_after_submit("table#bulk-receipts", button)
        if state != "ready":
            # The decisions may have been taken with the answer lost: the next review
            # re-reads every state, so nothing is decided twice.
            browser.screenshot()
            if state == "login-page":
                self._relogin()
            raise ApplicationError(f"The bulk confirmation gave no receipts ({state})")
        for row in browser.script(READ_BULK_ROWS, "table#bulk-receipts"):
            claim_id = str(row["claim_id"])
            outcomes[claim_id] = _bulk_outcome(claim_id, str(row["outcome"]), row)
        unanswered = [claim_id for claim_id in open_ids if claim_id not in outcomes]
        if unanswered:
            raise ApplicationError(
                f"The bulk receipts name no outcome for {len(unanswered)} claims "
                f"(e.g. {unanswered[0]})"
            )
        return outcomes

    def _already_decided(self, claim_id: str, page: Mapping[str, Any]) -> dict[str, str]:
        fields = {str(k): str(v) for k, v in page.get("fields", {}).items()}
        receipt = fields.get("receipt", "")
        if not receipt:
            status = fields.get("status", "")
            if status and not fields.get("decision"):
                # e.g. a closed (history) claim: the record asks for something the
                # portal rightly refuses, so it is the record's fault.
                raise BusinessError(f"Claim {claim_id} is {status}: it cannot be decided")
            self._browser.screenshot()
            raise ApplicationError(
                f"Claim {claim_id} can no longer be decided but shows no receipt"
            )
        logger.info(f"Claim {claim_id} was already decided ({fields.get('decision', '?')})")
        return {
            "outcome": "already_decided",
            "receipt": receipt,
            "decision": fields.get("decision", ""),
            "portal_status": fields.get("status", ""),
        }

    # -- helpers -------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return urljoin(self._base_url, path)

    def _require_open(self) -> None:
        if not self._base_url or not self._browser.has_browser():
            raise ApplicationError("The claims portal is not open: call Open Claims Portal first")

    def _default_download_dir(self) -> Path:
        if self._download_dir is not None:
            return self._download_dir
        data_dir = os.environ.get("RPAML_DATA_DIR")
        if data_dir:
            return Path(data_dir) / "downloads"
        return Path(tempfile.gettempdir()) / "rpaml-downloads"


def _failed(item: Mapping[str, str], kind: str, error: str) -> dict[str, str]:
    return {
        **item,
        "outcome": "failed",
        "receipt": "",
        "failure_kind": kind,
        "error": error,
    }


def _bulk_outcome(claim_id: str, state: str, row: Mapping[str, Any]) -> dict[str, str]:
    """A bulk screen row as a result: a state of the review or an outcome of the receipts."""
    decision, receipt = str(row.get("decision") or ""), str(row.get("receipt") or "")
    if state in ("applied", "decided", "already_decided") and receipt:
        outcome = "applied" if state == "applied" else "already_decided"
        return {"outcome": outcome, "receipt": receipt, "decision": decision, "error": ""}
    if state == "not_found":
        reason = f"Claim {claim_id} does not exist on the portal"
        return {"outcome": "failed", "receipt": "", "failure_kind": "business", "error": reason}
    if state in ("closed", "not_open"):
        reason = f"Claim {claim_id} is closed: it cannot be decided"
        return {"outcome": "failed", "receipt": "", "failure_kind": "business", "error": reason}
    # e.g. "expired": the token ran out; a new review issues a new one.
    raise ApplicationError(f"The bulk screen answered {state!r} for claim {claim_id}")
