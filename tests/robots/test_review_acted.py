"""The act robot carries out a reviewer's decision in the portal, once, with its receipt:
real portal, real SQLite store, the real apply_decisions task suite in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from robot_harness import PROCESS, TASKS, RobotRun, RunningPortal, decide, running_portal
from robot_harness import run_robot as harness_run_robot

from rpaml_pipeline.store import Store
from rpaml_pipeline.store.review_decisions import ReviewVerdict

pytestmark = pytest.mark.browser
COSTS = {"approve": 900.0, "escalate": 150.0, "reject": 1750.0}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("review-acted")


@pytest.fixture(scope="module")
def portal(workdir: Path) -> Iterator[RunningPortal]:
    with running_portal(workdir, "--open-claims", "12", "--closed-claims", "20") as running:
        yield running


def _act(workdir: Path, portal: RunningPortal, store_url: str, name: str) -> RobotRun:
    run = harness_run_robot(TASKS / "apply_decisions.robot", workdir / "robot" / name, portal,
                            store_url, workdir / "data")  # fmt: skip
    assert run.return_code == 0, run.messages()
    return run


def _actions(portal: RunningPortal) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for action in portal.actions():
        found.setdefault(action["claim_id"], []).append(action)
    return found


def test_a_reviewers_decision_is_applied_once(
    workdir: Path, portal: RunningPortal, store: Store, store_url: str
) -> None:
    first, second = sorted(portal.open_claims())[:2]
    ids = decide(store, {first: "escalate", second: "escalate"})
    with store.ctx.write() as conn:
        queued = store.review.enqueue(
            conn, PROCESS, dict.fromkeys(ids.values(), COSTS), review_action="escalate",
            sla_seconds=86400, run_id=None, now=store.now(),
        )  # fmt: skip
    assert queued == set(ids.values())
    # While they wait for a person, the robot has nothing to do with them.
    _act(workdir, portal, store_url, "waiting")
    assert not {first, second} & set(_actions(portal))

    choices = {first: ("reject", "fraud", 1), second: ("approve", "legitimate", 0)}
    for _ in choices:
        item = store.review.lease_next(PROCESS, "ann", lease_seconds=600)
        assert item is not None and item.lease_token is not None
        choice, outcome, label = choices[item.natural_key]
        verdict = ReviewVerdict(choice, choice, outcome, label, "a" * 64)
        store.review_decisions.decide(item.record_id, "ann", item.lease_token, verdict,
                                      run_id="review-run")  # fmt: skip
    _act(workdir, portal, store_url, "reviewed")
    actions = _actions(portal)
    for claim, (choice, _, _) in choices.items():
        assert [a["action"] for a in actions[claim]] == [choice]
        record = store.get_record(ids[claim])
        assert (record.state, record.decision) == ("acted", choice)
        assert record.receipt == actions[claim][0]["receipt"]
        steps = [event.step for event in store.record_events(record.record_id)]
        assert steps[-4:-2] == ["review.queue", "review"]
    # Run again: nothing is applied twice.
    _act(workdir, portal, store_url, "again")
    assert _actions(portal) == actions
