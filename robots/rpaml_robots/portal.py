"""``ClaimsPortal``: the Robot Framework keyword library for the claims web portal."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from robot.api import logger
from robot.api.deco import keyword, library

from rpaml_robots.browser import ChromiumBrowser
from rpaml_robots.claim_rows import (
    SOURCE_LOCATION,
    Row,
    drop_duplicates,
    merge_details,
    normalise_history_row,
    rows_from_table,
)
from rpaml_robots.credentials import PortalCredentials, load_credentials
from rpaml_robots.errors import ApplicationError, BusinessError, ConfigurationError
from rpaml_robots.page_scripts import READ_CLAIM_DETAILS, READ_CLAIMS_TABLE, READ_RECEIPT

PORTAL_URL_KEY = "RPAML_PORTAL_URL"
DECISION_ACTIONS = ("approve", "escalate", "reject")
HISTORY_SHEET = "Closed claims"
#: Upper bound on list pages followed: a portal whose "next" link never ends must
#: not keep a robot busy forever.
MAX_PAGES = 1000


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
    ) -> None:
        """``page_attempts`` loads per page before giving up, ``retry_delay`` the
        first pause between them in seconds (doubled each time), ``timeout`` seconds
        to wait for an element, ``download_dir`` where the browser saves files."""
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
        browser = self._browser
        if urlsplit(browser.current_url()).path != "/login":
            browser.load(self._url("login"), "form#login-form", "The portal's log-in page")
        browser.selenium.input_text("css:input#username", credentials.username)
        # Input Password switches Robot's logging off while it types.
        browser.selenium.input_password("css:input#password", credentials.password)
        browser.selenium.click_button("css:button#login-button")
        deadline = time.monotonic() + browser.timeout
        while time.monotonic() < deadline:
            if browser.script("return !!document.querySelector('div.error');"):
                error = str(browser.script("return document.querySelector('div.error').innerText;"))
                browser.screenshot()
                raise ApplicationError(
                    f"The portal refused the log-in of {credentials.username!r}: {error.strip()}"
                )
            if urlsplit(browser.current_url()).path != "/login":
                logger.info(f"Logged in to the claims portal as {credentials.username}")
                return
            time.sleep(0.1)
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
    def download_closed_claims_history(self, target_dir: str | None = None) -> str:
        """Download the closed-claims export from ``/reports`` and return its path.

        Clicks ``a#export-closed`` and waits until the ``.xlsx`` has finished
        downloading into ``target_dir`` (default: ``<RPAML_DATA_DIR>/downloads``).

        Example:
        | ${path}=    Download Closed Claims History    ${OUTPUT_DIR}/downloads
        """
        self._require_open()
        folder = Path(target_dir) if target_dir else self._default_download_dir()
        folder = folder.expanduser().resolve()
        browser = self._browser
        browser.allow_downloads(folder)
        before = self._xlsx_versions(folder)
        browser.load(
            self._url("reports"),
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
            page = self._read_claims_page(url)
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
        page = self._browser.script(READ_CLAIMS_TABLE)
        if not isinstance(page, dict) or not page.get("headers"):
            self._browser.screenshot()
            raise ApplicationError(f"The claims list at {url} does not look as expected")
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
        if not isinstance(page, dict):
            self._browser.screenshot()
            raise ApplicationError(f"The page of claim {claim_id} does not look as expected")
        return page

    @keyword
    def add_claim_details(self, rows: Sequence[Mapping[str, str]]) -> list[Row]:
        """Read the detail page of each row's claim and merge it into the row.

        The detail page wins where both show a field and becomes the
        ``source_location``. A claim that vanished (404) is left out with a warning;
        an application error stops the keyword.

        Example:
        | ${new}=       Claims Needing Details    ${claims}
        | ${full}=      Add Claim Details    ${new}
        """
        merged: list[Row] = []
        for row in rows:
            claim_id = row.get("claim_id", "")
            try:
                details = self.read_claim_details(claim_id)
            except BusinessError as error:
                logger.warn(f"Claim {claim_id} left out: {error}")
                continue
            merged.append(merge_details(row, details))
        logger.info(f"Read the details of {len(merged)} of {len(rows)} claims")
        return merged

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

        Raises ``BusinessError`` for an unknown action or claim, ``ApplicationError``
        when the portal does not behave.

        Example:
        | ${result}=    Apply Decision    CLM-000123    approve
        | Log    ${result}[outcome]: ${result}[receipt]
        """
        wanted = str(action).strip().lower()
        if wanted not in DECISION_ACTIONS:
            raise BusinessError(
                f"{action!r} is not a portal action (expected one of {', '.join(DECISION_ACTIONS)})"
            )
        page = self._claim_page(claim_id)
        if not page.get("decision_form"):
            return self._already_decided(claim_id, page)
        browser = self._browser
        confirm_url = self._url(f"claims/{claim_id}/decision")
        browser.selenium.click_button(f"css:form#decision-form button#{wanted}")
        try:
            browser.selenium.wait_until_page_contains_element("css:button#confirm")
        except Exception as error:
            browser.screenshot()
            raise ApplicationError(
                f"The portal did not ask to confirm the {wanted} of claim {claim_id}"
            ) from error
        button = browser.driver.find_element("css selector", "button#confirm")
        button.click()
        self._wait_until_stale(button, f"the {wanted} of claim {claim_id}")
        receipt_page = browser.script(READ_RECEIPT)
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
        # Not the receipt page: someone decided first (409) or the portal failed.
        logger.info(f"Confirming claim {claim_id} was not accepted at {confirm_url}; re-reading it")
        page = self._claim_page(claim_id)
        if not page.get("decision_form"):
            return self._already_decided(claim_id, page)
        browser.screenshot()
        raise ApplicationError(
            f"The portal did not record the {wanted} of claim {claim_id}: it is still open"
        )

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

    def _wait_until_stale(self, element: Any, what: str) -> None:
        # The confirm button goes stale when the browser has left the confirmation
        # page, whichever answer (receipt page or 409) it got.
        deadline = time.monotonic() + self._browser.timeout
        while time.monotonic() < deadline:
            try:
                element.is_enabled()
            except Exception:  # StaleElementReferenceException: the page changed
                return
            time.sleep(0.05)
        self._browser.screenshot()
        raise ApplicationError(f"The portal did not answer the confirmation of {what}")

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
