"""``Staging``: the Robot Framework keyword library between robots and the staging store."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library

from rpaml_pipeline.errors import RecordNotFoundError
from rpaml_pipeline.incoming_rows import natural_key_of, normalise_row
from rpaml_pipeline.owners import process_owner
from rpaml_pipeline.process import ProcessDefinition, load_process
from rpaml_pipeline.runtime import Runtime
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.stages.robot import ROBOT_SUMMARY
from rpaml_pipeline.store import IncomingRecord, Store
from rpaml_robots.claim_rows import SOURCE_LOCATION
from rpaml_robots.errors import ConfigurationError

#: The role of each robot in a process (``robots:`` section), for robots a process
#: file does not name: it becomes the run's ``kind``.
DEFAULT_ROBOT_KINDS: Mapping[str, str] = {
    "download_history": "history",
    "collect_claims": "collect",
    "apply_decisions": "act",
    "enrich_policies": "enrich",
}
DEFAULT_PROCESS = "claims_triage"
DEFAULT_NATURAL_KEY = ("claim_id",)
#: Robot Framework's ``${SUITE STATUS}`` and the store's run statuses.
RUN_STATUSES: Mapping[str, str] = {
    "pass": "succeeded",
    "succeeded": "succeeded",
    "fail": "failed",
    "failed": "failed",
    "skip": "succeeded",
}


@dataclass
class RunTally:
    """What one robot run did, for its summary in the store."""

    staged: dict[str, int] = field(default_factory=lambda: {"new": 0, "revised": 0, "unchanged": 0})
    rejected_rows: int = 0
    acted: dict[str, int] = field(default_factory=dict)
    enriched: int = 0
    quarantined: int = 0
    business_failures: int = 0
    application_failures: int = 0
    consecutive_application_failures: int = 0
    application_messages: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {}
        if any(self.staged.values()) or self.rejected_rows:
            summary["staged"] = dict(self.staged)
        if self.rejected_rows:
            summary["rejected_rows"] = self.rejected_rows
        if self.acted:
            summary["acted"] = dict(self.acted)
        if self.enriched or self.quarantined:
            summary["enriched"] = self.enriched
            summary["quarantined"] = self.quarantined
        if self.business_failures or self.application_failures:
            summary["failures"] = {
                "business": self.business_failures,
                "application": self.application_failures,
            }
        summary.update(self.details)
        return summary


HISTORY_WATERMARK = "history_watermark"
"""The run detail in which a robot that reads incrementally records where it got to."""


def run_status(status: str) -> str:
    """Map ``PASS``/``FAIL`` (``${SUITE STATUS}``) or a store status to a store status."""
    try:
        return RUN_STATUSES[str(status).strip().lower()]
    except KeyError:
        raise ConfigurationError(
            f"Unknown run status {status!r}: expected succeeded, failed, PASS or FAIL"
        ) from None


@library(scope="GLOBAL", auto_keywords=False)
class Staging:
    """Keywords that put what robots collect into the staging store and take the
    decided records robots act on out of it.

    Built from the environment at import (``RpamlSettings``): ``RPAML_STORE_URL`` (the
    store), ``RPAML_PROCESS_FILE`` (the process whose records these are: its name,
    natural key and robot roles) and ``RPAML_RUN_ID`` (the id of the robot's run: when the
    caller, e.g. the CLI, already started a run with that id the robot works in it and
    leaves finishing it to the caller; otherwise the robot starts and finishes the run
    under that id, so the caller can read its summary). Every record staged carries
    the run, the robot's source name, the page URL it was read from and the capture
    time: its lineage starts here.

    Acting works on leases: `Claim Decisions To Apply` leases decided records to
    this robot, `Mark Acting` moves one to ``acting`` (checking the lease is still
    held), and `Record Receipt` or a failure keyword closes it.

    = Usage =

    | *** Settings ***
    | Library    rpaml_robots.staging.Staging
    | Suite Setup       Start Robot Run    collect_claims
    | Suite Teardown    Finish Robot Run    ${SUITE STATUS}
    |
    | *** Tasks ***
    | Stage Claims
    |     ${rows}=      Create List    ${{ {"claim_id": "CLM-000001", "amount": "$10.00"} }}
    |     ${counts}=    Stage Records    ${rows}    robot:collect_claims
    """

    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, lease_seconds: int = 300, max_attempts: int = 3) -> None:
        """``lease_seconds`` a claimed record stays this robot's, ``max_attempts``
        application failures before a record is dead."""
        # The library listens to its own suite so that a failed run's summary holds
        # the tasks' failure messages, not just Robot's "1 task, 0 passed, 1 failed".
        self.ROBOT_LIBRARY_LISTENER = self
        self._task_failures: list[str] = []
        self.settings = RpamlSettings()
        self.lease_seconds = int(lease_seconds)
        self.max_attempts = int(max_attempts)
        self.process = DEFAULT_PROCESS
        self.key_fields: tuple[str, ...] = DEFAULT_NATURAL_KEY
        self._definition: ProcessDefinition | None = None
        if self.settings.process_file.is_file() or os.environ.get("RPAML_PROCESS_FILE"):
            # A process file named explicitly must load: a typo must not silently
            # stage records under the default process.
            self._definition = load_process(self.settings.process_file)
            self.process = self._definition.name
            self.key_fields = tuple(self._definition.contract.natural_key)
        self.owner = process_owner("robot")
        self._runtime: Runtime | None = None
        self.run_id: str | None = os.environ.get("RPAML_RUN_ID") or None
        self._owns_run = False
        self.robot = ""
        # Records leased but not yet acted on: their leases are given back when the
        # run ends early, so another robot need not wait for them to expire.
        self._leased: set[str] = set()
        self._held: set[str] = set()
        self.tally = RunTally()

    @property
    def store(self) -> Store:
        # Built on first use: a dry run or a libdoc build must not touch a database.
        if self._runtime is None:
            if self._definition is None:
                raise ConfigurationError(
                    f"no process file at {self.settings.process_file}: set RPAML_PROCESS_FILE"
                )
            self._runtime = Runtime.build(self.settings, process=self._definition)
        return self._runtime.store

    def _run_exists(self, run_id: str) -> bool:
        try:
            self.store.get_run(run_id)
        except RecordNotFoundError:
            return False
        return True

    def _kind(self, robot: str) -> str:
        if self._definition is not None:
            for role, suite in self._definition.robots.model_dump().items():
                if suite == robot:
                    return str(role)
        return DEFAULT_ROBOT_KINDS.get(robot, robot)

    # -- runs ----------------------------------------------------------------------

    @keyword
    def start_robot_run(self, robot: str) -> str:
        """Start a run of ``robot`` in the store and return its id.

        The run's kind is the robot's role in the process file (history, collect,
        act). When ``RPAML_RUN_ID`` is set the caller owns the run: its id is returned
        and no new run is started.

        Example:
        | ${run_id}=    Start Robot Run    collect_claims
        """
        self.tally = RunTally()
        self.robot = robot
        if self.run_id and not self._owns_run and self._run_exists(self.run_id):
            logger.info(f"Working in run {self.run_id} started by the caller")
            return self.run_id
        # A caller that only names the run (RPAML_RUN_ID) gets it started and finished
        # here under that id, so it can read the run's summary afterwards.
        self.run_id = self.store.start_run(
            run_id=self.run_id,
            process=self.process,
            kind=self._kind(robot),
            robot=robot,
            config_hash=None,
            details={"owner": self.owner},
        )
        self._owns_run = True
        logger.info(f"Started run {self.run_id} of {robot}")
        return self.run_id

    @keyword
    def finish_robot_run(self, status: str = "succeeded", message: str = "") -> dict[str, Any]:
        """Finish the run with ``status`` and a summary of what it staged and did.

        ``status`` is succeeded or failed, or Robot's ``${SUITE STATUS}`` (PASS or
        FAIL); ``message`` (e.g. ``${SUITE MESSAGE}``) is kept in the summary of a
        failed run. Returns the summary. A run the caller owns (``RPAML_RUN_ID``) is
        left for the caller to finish.

        Example:
        | Suite Teardown    Finish Robot Run    ${SUITE STATUS}    ${SUITE MESSAGE}
        """
        final = run_status(status)
        self._release_leases()
        summary = self.tally.summary()
        if final == "failed":
            errors = self._task_failures or ([str(message)] if message else [])
            if errors:
                summary["error"] = "\n".join(errors)
        if self.run_id is None:
            logger.warn("Finish Robot Run: no run was started")
            return summary
        if self._owns_run:
            self.store.finish_run(self.run_id, status=final, summary=summary)
            logger.info(f"Finished run {self.run_id}: {final} {summary}")
        else:
            # The caller's stage runner closes the run with these figures.
            self.store.annotate_run(self.run_id, {ROBOT_SUMMARY: summary, "robot_status": final})
            logger.info(f"Run {self.run_id} {final} (finished by its caller): {summary}")
        return summary

    @keyword
    def add_run_detail(self, name: str, value: Any) -> None:
        """Add ``name: value`` to the summary of the current run.

        Example:
        | ${stats}=    Collection Statistics
        | Add Run Detail    collection    ${stats}
        """
        self.tally.details[str(name)] = value

    @keyword
    def history_watermark(self) -> str | None:
        """Where this robot's last successful run left off: the value it recorded as
        ``history_watermark`` (with `Add Run Detail`), or None before its first one
        (then the whole history is taken). Looks at the robot's 50 latest runs.

        Example:
        | ${since}=    History Watermark
        | ${path}=    Download Closed Claims History    closed_since=${since}
        """
        runs = self.store.list_runs(self.process, kind=self._kind(self.robot or ""), limit=50)
        for run in runs:
            if run.status != "succeeded" or run.robot != self.robot:
                continue
            figures = (run.details or {}).get(ROBOT_SUMMARY) or run.summary or {}
            if figures.get(HISTORY_WATERMARK):
                return str(figures[HISTORY_WATERMARK])
        return None

    # -- staging -------------------------------------------------------------------

    @keyword
    def stage_records(self, rows: Sequence[Mapping[str, str]], source: str) -> dict[str, int]:
        """Ingest ``rows`` (raw text values) into the store and return the counts.

        Each row becomes an ``IncomingRecord``: natural key from the process's key
        field (``claim_id``), payload the row as every source normalises it (field
        names, values as shown, empty values left out: ``rpaml_pipeline.incoming_rows``),
        ``source`` such as
        ``robot:collect_claims``, the row's ``source_location`` (page URL) and the
        capture time. Ingest is idempotent: the result counts new, revised and
        unchanged records. A row without a key is reported as rejected.

        Example:
        | ${counts}=    Stage Records    ${rows}    robot:download_history
        | Log    ${counts}[new] new claims
        """
        run_id = self._require_run()
        captured_at = dt.datetime.now(dt.UTC)
        incoming: list[IncomingRecord] = []
        rejected = 0
        for index, row in enumerate(rows):
            payload = normalise_row({k: v for k, v in row.items() if k != SOURCE_LOCATION})
            key = natural_key_of(payload, self.key_fields)
            if not key:
                rejected += 1
                logger.warn(
                    f"Row {index} has no {'/'.join(self.key_fields)}: not staged: {payload}"
                )
                continue
            incoming.append(
                IncomingRecord(
                    natural_key=key,
                    payload=payload,
                    source=source,
                    source_location=str(row.get(SOURCE_LOCATION, "")) or None,
                    captured_at=captured_at,
                )
            )
        counts = {"new": 0, "revised": 0, "unchanged": 0}
        if incoming:
            result = self.store.ingest(self.process, incoming, run_id=run_id)
            counts = {"new": result.new, "revised": result.revised, "unchanged": result.unchanged}
        for name, value in counts.items():
            self.tally.staged[name] += value
        self.tally.rejected_rows += rejected
        counts["rejected"] = rejected
        logger.info(f"Staged {len(incoming)} records from {source}: {counts}")
        return counts

    @keyword
    def claims_needing_details(self, rows: Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
        """The rows whose claim is not staged yet (any revision).

        Detail pages are then opened only for new claims.

        Example:
        | ${claims}=    Collect Open Claims
        | ${new}=       Claims Needing Details    ${claims}
        """
        keys = [natural_key_of(row, self.key_fields) for row in rows]
        known = self.store.known_keys(self.process, [key for key in keys if key])
        needing = [row for row, key in zip(rows, keys, strict=True) if key not in known]
        logger.info(f"{len(needing)} of {len(rows)} claims are new")
        self.tally.details["already_staged"] = len(rows) - len(needing)
        return needing

    # -- enriching ----------------------------------------------------------------

    @keyword
    def claim_records_to_enrich(
        self, search_field: str = "policy_number", limit: int = 100
    ) -> list[dict[str, str]]:
        """Lease up to ``limit`` collected records that still need an enrichment.

        Returns dicts with ``record_id``, ``key`` (the natural key) and ``search_term``
        (the raw value of ``search_field``). A record already enriched for the same
        search term is skipped; it stays leased to this robot until the run ends, so the
        next call does not hand it out again.

        Example:
        | ${claims}=    Claim Records To Enrich    policy_number    limit=200
        | FOR    ${claim}    IN    @{claims}
        |     Log    ${claim}[key]: ${claim}[search_term]
        | END
        """
        records = self.store.claim(
            self.process,
            state="collected",
            owner=self.owner,
            limit=int(limit),
            lease_seconds=self.lease_seconds,
        )
        self._held.update(record.record_id for record in records)
        latest = self.store.latest_enrichments(record.record_id for record in records)
        work: list[dict[str, str]] = []
        for record in records:
            term = str(record.raw.get(search_field, "") or "").strip()
            done = latest.get(record.record_id)
            if done is not None and (done.search_term or "") == term:
                continue
            self._held.discard(record.record_id)
            self._leased.add(record.record_id)
            work.append(
                {"record_id": record.record_id, "key": record.natural_key, "search_term": term}
            )
        skipped = len(records) - len(work)
        if skipped:
            self.tally.details["already_enriched"] = (
                int(self.tally.details.get("already_enriched", 0)) + skipped
            )
        logger.info(f"Claimed {len(work)} records to enrich ({skipped} already enriched)")
        return work

    @keyword
    def stage_enrichment(
        self,
        record_id: str,
        payload: Mapping[str, Any],
        search_term: str,
        location: str,
        source: str = "",
    ) -> str:
        """Store what a robot looked up for a record, with its lineage (``source`` robot,
        ``location`` such as the window, the ``search_term`` and the capture time), and
        keep the record's lease until the run ends (then it is given back, still
        ``collected``, for the pipeline). Returns the enrichment's id.

        Example:
        | ${policy}=    Look Up Policy    ${claim}[search_term]
        | Stage Enrichment    ${claim}[record_id]    ${policy}    ${claim}[search_term]
        | ...    desktop:Policy Administration
        """
        enrichment_id = self.store.add_enrichment(
            record_id,
            source=source or f"robot:{self.robot or 'enrich'}",
            location=str(location) or None,
            search_term=str(search_term),
            payload={str(k): str(v) for k, v in payload.items()},
            run_id=self._require_run(),
            captured_at=dt.datetime.now(dt.UTC),
        )
        self._hold(record_id)
        self.tally.enriched += 1
        self.tally.consecutive_application_failures = 0
        return enrichment_id

    @keyword
    def quarantine_record(self, record_id: str, reason: str) -> None:
        """A business exception found while enriching (e.g. the policy does not exist):
        the collected record becomes ``quarantined`` with ``reason``; the robot goes on.

        Example:
        | Quarantine Record    ${claim}[record_id]    policy POL-12A456 not found
        """
        self.store.quarantine(record_id, str(reason), run_id=self._require_run(), step="enrich")
        self._leased.discard(record_id)
        self.tally.quarantined += 1
        self.tally.business_failures += 1
        self.tally.consecutive_application_failures = 0
        logger.warn(f"Record {record_id} quarantined: {reason}")

    @keyword
    def record_enrichment_failure(self, record_id: str, reason: str) -> None:
        """The application failed while enriching: the record stays ``collected`` (its
        lease is kept until the run ends, so this run does not retry it) for a later run,
        and the failure is counted.

        Example:
        | Record Enrichment Failure    ${claim}[record_id]    ${error}
        """
        self._hold(record_id)
        self.tally.application_failures += 1
        self.tally.consecutive_application_failures += 1
        self.tally.application_messages.append(str(reason))
        logger.warn(f"Record {record_id}: application failure while enriching: {reason}")

    # -- acting --------------------------------------------------------------------

    @keyword
    def claim_decisions_to_apply(self, limit: int = 100) -> list[dict[str, str]]:
        """Lease up to ``limit`` decided records to this robot.

        Returns dicts with ``record_id``, ``claim_id`` (the natural key) and
        ``decision`` (approve, escalate or reject).

        Example:
        | ${work}=    Claim Decisions To Apply    limit=50
        | FOR    ${item}    IN    @{work}
        |     Log    ${item}[claim_id]: ${item}[decision]
        | END
        """
        records = self.store.claim(
            self.process,
            state="decided",
            owner=self.owner,
            limit=int(limit),
            lease_seconds=self.lease_seconds,
        )
        work = [
            {
                "record_id": record.record_id,
                "claim_id": record.natural_key,
                "decision": str(record.decision or ""),
            }
            for record in records
        ]
        self._leased.update(item["record_id"] for item in work)
        logger.info(f"Claimed {len(work)} decided records")
        return work

    @keyword
    def mark_acting(self, record_id: str) -> None:
        """Move a claimed record from ``decided`` to ``acting`` (checks the lease).

        Example:
        | Mark Acting    ${item}[record_id]
        """
        self.store.mark_acting(record_id, owner=self.owner, run_id=self.run_id)
        self._leased.discard(record_id)

    @keyword
    def mark_all_acting(self, work_items: Sequence[Mapping[str, str]]) -> None:
        """`Mark Acting` for every work item (each needs a ``record_id``), before a bulk act.

        Example:
        | ${work}=    Claim Decisions To Apply    limit=200
        | Mark All Acting    ${work}
        """
        for item in work_items:
            self.mark_acting(str(item["record_id"]))

    @keyword
    def record_portal_results(self, results: Sequence[Mapping[str, str]]) -> dict[str, int]:
        """Store what acting did to each work item (the results of `Apply Decisions In Bulk`).

        A result with a receipt is recorded with `Record Receipt` (its outcome: applied
        or already_decided); a failed one with `Record Business Failure` or `Record
        Application Failure` as its ``failure_kind`` says. Returns the count of each
        outcome.

        Example:
        | ${results}=    Apply Decisions In Bulk    ${work}
        | ${counts}=     Record Portal Results    ${results}
        """
        counts: dict[str, int] = {}
        for result in results:
            record_id = str(result["record_id"])
            outcome = str(result.get("outcome", ""))
            if outcome in ("applied", "already_decided") and result.get("receipt"):
                self.record_receipt(record_id, str(result["receipt"]), outcome, detail=result)
            elif result.get("failure_kind") == "business":
                outcome = "business_failure"
                self.record_business_failure(record_id, str(result.get("error", "")))
            else:
                outcome = "application_failure"
                reason = str(result.get("error") or "no outcome from the portal")
                self.record_application_failure(record_id, reason)
            counts[outcome] = counts.get(outcome, 0) + 1
        logger.info(f"Recorded the portal's results: {counts}")
        return counts

    @keyword
    def record_receipt(
        self,
        record_id: str,
        receipt: str,
        outcome: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Store the portal's receipt: the record becomes ``acted``.

        ``outcome`` is applied or already_decided; ``detail`` (e.g. the whole result
        of `Apply Decision`) is kept in the record's lineage.

        Example:
        | ${result}=    Apply Decision    ${item}[claim_id]    ${item}[decision]
        | Record Receipt    ${item}[record_id]    ${result}[receipt]    ${result}[outcome]
        """
        self.store.record_action(
            record_id,
            receipt=receipt,
            outcome=outcome,
            run_id=self._require_run(),
            detail=dict(detail or {}),
        )
        self.tally.acted[outcome] = self.tally.acted.get(outcome, 0) + 1
        self.tally.consecutive_application_failures = 0

    @keyword
    def record_business_failure(self, record_id: str, reason: str) -> None:
        """The record itself is bad: it becomes ``failed`` with ``reason``.

        Example:
        | Record Business Failure    ${item}[record_id]    ${error}
        """
        self.store.record_failure(
            record_id,
            reason=str(reason),
            kind="business",
            run_id=self._require_run(),
            max_attempts=self.max_attempts,
        )
        self.tally.business_failures += 1
        self.tally.consecutive_application_failures = 0
        logger.warn(f"Record {record_id}: business failure: {reason}")

    @keyword
    def record_application_failure(self, record_id: str, reason: str) -> None:
        """The application failed while acting: the record goes back to be retried
        with backoff, or to ``dead`` after the last attempt.

        Example:
        | Record Application Failure    ${item}[record_id]    ${error}
        """
        self.store.record_failure(
            record_id,
            reason=str(reason),
            kind="application",
            run_id=self._require_run(),
            max_attempts=self.max_attempts,
        )
        self.tally.application_failures += 1
        self.tally.consecutive_application_failures += 1
        self.tally.application_messages.append(str(reason))
        logger.warn(f"Record {record_id}: application failure: {reason}")

    @keyword
    def application_seems_down(self, after: int = 3) -> bool:
        """True after ``after`` application failures in a row: stop acting, since
        every further record would fail the same way (and wait for its retries).

        Example:
        | ${down}=    Application Seems Down
        | IF    ${down}    BREAK
        """
        return self.tally.consecutive_application_failures >= int(after)

    @keyword
    def run_should_have_no_application_failures(self) -> None:
        """Fail the run if any application failure was recorded, naming them.

        Example:
        | Run Should Have No Application Failures
        """
        count = self.tally.application_failures
        if count:
            first = self.tally.application_messages[0]
            raise AssertionError(
                f"{count} record(s) failed because of the application; first: {first}"
            )

    def end_test(self, data: Any, result: Any) -> None:
        """Listener hook: remember why a task failed (for the run summary)."""
        if not result.passed and result.message:
            self._task_failures.append(f"{result.name}: {result.message}")

    def _hold(self, record_id: str) -> None:
        # Done with in this run, but leased until its end: a later claim in the same run
        # must not hand the record out again.
        if record_id in self._leased:
            self._leased.discard(record_id)
            self._held.add(record_id)

    def _release_leases(self) -> None:
        for record_id in sorted(self._held):
            self.store.release(record_id, self.owner)
        self._held.clear()
        for record_id in sorted(self._leased):
            self.store.release(record_id, self.owner)
        if self._leased:
            logger.info(f"Gave back the leases of {len(self._leased)} records not acted on")
            self.tally.details["released"] = len(self._leased)
        self._leased.clear()

    def _require_run(self) -> str:
        if self.run_id is None:
            raise ConfigurationError("No robot run: call Start Robot Run first")
        return self.run_id
