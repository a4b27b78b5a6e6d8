"""The simulated reviewer robot works the real review queue through the browser: real
portal (its investigation results), real review app, real store, headless Chromium."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from robot_harness import PROCESS, TASKS, RunningPortal, decide, running_portal
from robot_harness import run_robot as harness_run_robot

from review_queue_items import review_process
from rpaml_pipeline.child_processes import ManagedProcess, review_app
from rpaml_pipeline.store import Store
from rpaml_review.accounts import account_line

pytestmark = pytest.mark.browser
PASSWORD = "desk-password-1"
COSTS = {"approve": 900.0, "escalate": 150.0, "reject": 1750.0}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("review-desk")


@pytest.fixture(scope="module")
def portal(workdir: Path) -> Iterator[RunningPortal]:
    with running_portal(workdir, "--open-claims", "12", "--closed-claims", "20") as running:
        yield running


@pytest.fixture(scope="module")
def app(
    workdir: Path, store_url: str, store: Store, portal: RunningPortal
) -> Iterator[ManagedProcess]:
    review_process(workdir)
    env = {
        **os.environ,
        "RPAML_STORE_URL": store_url,
        "RPAML_PROCESS_FILE": str(workdir / "claims_triage_review.yaml"),
        "RPAML_DATA_DIR": str(workdir / "data"),
        "RPAML_PORTAL_URL": portal.url,
        "RPAML_REVIEW_ACCOUNTS": json.dumps([account_line("desk", "reviewer", PASSWORD)]),
        "RPAML_REVIEW_SIMULATED_REVIEWERS": '["desk"]',
    }
    with review_app(ready_file=workdir / "review.url", log_file=workdir / "review.log",
                    env=env) as server:  # fmt: skip
        yield server


def _queue(store: Store, claims: list[str]) -> dict[str, str]:
    ids = decide(store, dict.fromkeys(claims, "escalate"))
    with store.ctx.write() as conn:
        store.review.enqueue(conn, PROCESS, dict.fromkeys(ids.values(), COSTS),
                             review_action="escalate", sla_seconds=86400, run_id=None,
                             now=store.now())  # fmt: skip
    return ids


def _review(workdir: Path, portal: RunningPortal, app: ManagedProcess, store_url: str,
            name: str, error_rate: str) -> None:  # fmt: skip
    run = harness_run_robot(
        TASKS / "review_escalations.robot", workdir / "robot" / name, portal, store_url,
        workdir / "data", RPAML_REVIEW_URL=app.url, RPAML_REVIEW_USERNAME="desk",
        RPAML_REVIEW_PASSWORD=PASSWORD, RPAML_PORTAL_ADMIN_TOKEN=portal.admin_token,
        RPAML_REVIEW_ERROR_RATE=error_rate,
    )  # fmt: skip
    assert run.return_code == 0, run.messages()
    log = (workdir / "robot" / name / "log.html").read_text(errors="replace")
    assert PASSWORD not in log


def test_the_simulated_reviewer_answers_from_the_investigation(
    workdir: Path, portal: RunningPortal, app: ManagedProcess, store: Store, store_url: str
) -> None:
    truth = {claim["claim_id"]: int(claim["is_fraud"]) for claim in portal.admin("claims")}
    open_claims = sorted(portal.open_claims())
    right = _queue(store, open_claims[:3])
    _review(workdir, portal, app, store_url, "right", "0")
    wrong = _queue(store, open_claims[3:5])
    _review(workdir, portal, app, store_url, "wrong", "1")
    assert store.review.stats(PROCESS).open == 0
    for ids, flipped in ((right, False), (wrong, True)):
        for claim, record_id in ids.items():
            [label] = store.labels.of_record(record_id)
            assert (label.kind, label.source) == ("review", "review:simulated")
            assert label.details["reviewer"] == "desk" and label.details["simulated"] is True
            assert label.label == (1 - truth[claim] if flipped else truth[claim])
            record = store.get_record(record_id)
            assert record.state == "decided"
            assert record.decision == ("reject" if label.label == 1 else "approve")
