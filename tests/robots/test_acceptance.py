"""Acceptance of the claims robots: real portal, real SQLite store, real headless Chromium.

One portal subprocess (small data) and one store serve the whole module; the Robot suites
run as child processes, in order: collect, history, apply (twice), portal down. Each test
checks the Robot output, the portal's own record of actions (/admin/actions) and the store.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from robot_harness import (
    ACCEPTANCE,
    PROCESS,
    TASKS,
    RobotRun,
    RunningPortal,
    decide,
    records_of,
    running_portal,
)
from robot_harness import run_robot as harness_run_robot

from rpaml_pipeline.store import Store

pytestmark = pytest.mark.browser

OPEN_CLAIMS = 40
CLOSED_CLAIMS = 60
LATE_ARRIVALS = 5
UNKNOWN_CLAIM = "CLM-999999"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("robots-acceptance")


@pytest.fixture(scope="module")
def portal(workdir: Path) -> Iterator[RunningPortal]:
    with running_portal(
        workdir,
        "--open-claims",
        str(OPEN_CLAIMS),
        "--closed-claims",
        str(CLOSED_CLAIMS),
        "--late-arrivals",
        str(LATE_ARRIVALS),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def secrets_file(workdir: Path, portal: RunningPortal) -> Path:
    path = workdir / "secrets.env"
    path.write_text(
        f"RPAML_PORTAL_USERNAME={portal.username}\nRPAML_PORTAL_PASSWORD={portal.password}\n"
    )
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def run_robot(workdir: Path, portal: RunningPortal, store_url: str) -> Iterator[Any]:
    def run(suite: Path, name: str, **extra_env: str) -> RobotRun:
        return harness_run_robot(
            suite,
            workdir / "robot" / name,
            portal,
            store_url,
            workdir / "data",
            RPAML_ACCEPTANCE_CLOSED_CLAIMS=str(CLOSED_CLAIMS),
            **extra_env,
        )

    yield run


def open_claims(portal: RunningPortal, *, visible_only: bool = True) -> set[str]:
    return {
        claim["claim_id"]
        for claim in portal.admin("claims")
        if claim["status"] == "open" and not (visible_only and claim["hidden"])
    }


def test_collect_stages_every_open_claim_once(
    portal: RunningPortal, store: Store, run_robot: Any
) -> None:
    visible_at_start = open_claims(portal)
    run = run_robot(ACCEPTANCE / "collect_claims.robot", "collect", RPAML_CLAIMS_PER_PAGE="10")
    assert run.return_code == 0, run.messages()

    staged = records_of(store, "robot:collect_claims")
    keys = [record.natural_key for record in staged]
    assert len(keys) == len(set(keys)), "a claim was staged twice"
    assert {record.revision for record in staged} == {1}
    assert visible_at_start <= set(keys)
    assert set(keys) <= open_claims(portal, visible_only=False)
    # Late arrivals revealed while paging were staged by one of the two collections.
    assert len(keys) > len(visible_at_start)
    for record in staged:
        assert record.raw["claim_id"] == record.natural_key
        assert {"region", "claimant_age", "reported_date"} <= set(record.raw)
        assert record.source_location is not None
        assert record.source_location.endswith(f"/claims/{record.natural_key}")
    runs = store.list_runs(PROCESS, kind="collect")
    assert runs and runs[0].status == "succeeded"
    assert runs[0].summary is not None
    assert runs[0].summary["collection"]["duplicates"] >= 0


def test_history_stages_one_record_per_closed_claim(
    portal: RunningPortal, store: Store, run_robot: Any
) -> None:
    run = run_robot(ACCEPTANCE / "download_history.robot", "history")
    assert run.return_code == 0, run.messages()

    closed = {claim["claim_id"] for claim in portal.admin("claims") if claim["status"] == "closed"}
    staged = records_of(store, "robot:download_history")
    assert len(staged) == CLOSED_CLAIMS == len(closed)
    assert {record.natural_key for record in staged} == closed
    assert {record.revision for record in staged} == {1}
    assert all(record.raw.get("outcome") in {"Paid", "Fraud confirmed"} for record in staged)
    assert all("/export/closed-claims.xlsx" in (record.source_location or "") for record in staged)


def test_apply_decisions_acts_once_and_stores_receipts(
    portal: RunningPortal, store: Store, run_robot: Any, secrets_file: Path
) -> None:
    collected = sorted(record.natural_key for record in records_of(store, "robot:collect_claims"))
    approve, escalate, reject, decided_by_hand = collected[:4]
    wanted = {approve: "approve", escalate: "escalate", reject: "reject"}
    record_ids = decide(store, {**wanted, decided_by_hand: "approve", UNKNOWN_CLAIM: "approve"})
    # A clerk rejects one claim by hand before the robot runs: the robot must not act again.
    portal.decide_as_a_person(decided_by_hand, "reject")
    actions_before = len(portal.actions())

    # Credentials from the secrets file this time, not from the environment.
    run = run_robot(
        ACCEPTANCE / "apply_decisions.robot",
        "apply",
        RPAML_PORTAL_USERNAME="",
        RPAML_PORTAL_PASSWORD="",
        RPAML_SECRETS_FILE=str(secrets_file),
    )
    assert run.return_code == 0, run.messages()

    actions = portal.actions()
    assert len(actions) == actions_before + len(wanted)
    by_claim: dict[str, list[dict[str, Any]]] = {}
    for action in actions:
        by_claim.setdefault(action["claim_id"], []).append(action)
    for claim_id, action in wanted.items():
        assert [item["action"] for item in by_claim[claim_id]] == [action]
        record = store.get_record(record_ids[claim_id])
        assert record.state == "acted"
        assert record.receipt == by_claim[claim_id][0]["receipt"]
        assert re.fullmatch(r"RCPT-\w{8}", record.receipt or "")
    # The hand decision stands; the robot stored its receipt as already decided.
    assert [item["action"] for item in by_claim[decided_by_hand]] == ["reject"]
    by_hand = store.get_record(record_ids[decided_by_hand])
    assert by_hand.state == "acted"
    assert by_hand.receipt == by_claim[decided_by_hand][0]["receipt"]
    outcomes = [event.detail.get("outcome") for event in store.record_events(by_hand.record_id)]
    assert "already_decided" in outcomes
    # A claim the portal does not know is the record's fault, not the portal's.
    unknown = store.get_record(record_ids[UNKNOWN_CLAIM])
    assert unknown.state == "failed"
    assert "does not exist" in (unknown.reason or "")
    assert UNKNOWN_CLAIM not in by_claim

    # The real task suite, run again: nothing is left to do, nothing is done twice.
    again = run_robot(TASKS / "apply_decisions.robot", "apply-again")
    assert again.return_code == 0, "\n".join(again.messages())
    assert portal.actions() == actions
    runs = store.list_runs(PROCESS, kind="act")
    assert runs[0].status == "succeeded"


def test_portal_down_fails_the_run_and_keeps_the_store(store: Store, run_robot: Any) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}"
    before = store.counts()
    run = run_robot(TASKS / "collect_claims.robot", "portal-down", RPAML_PORTAL_URL=dead_url)
    assert run.return_code != 0
    message = run.messages()
    assert "ApplicationError" in message
    assert f"{dead_url}/login" in message and "refused" in message
    assert store.counts() == before
    failed = store.list_runs(PROCESS, kind="collect")[0]
    assert failed.status == "failed"
    assert failed.summary is not None and "ApplicationError" in failed.summary["error"]

    keyword_level = run_robot(
        ACCEPTANCE / "portal_down.robot", "portal-down-keyword", RPAML_PORTAL_URL=dead_url
    )
    assert keyword_level.return_code == 0, "\n".join(keyword_level.messages())
