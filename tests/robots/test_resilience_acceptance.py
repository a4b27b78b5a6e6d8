"""Acceptance of the robots against a slow, flaky, forgetful and redesigned portal.

One portal subprocess serves the module; its fault switches are flipped between the
tests through /admin/switches. The portal's own record of actions (/admin/actions) is
the witness that every claim was acted on exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from robot_harness import (
    ACCEPTANCE,
    PROCESS,
    PROCESS_FILE,
    TASKS,
    RobotRun,
    RunningPortal,
    decide,
    records_of,
    run_robot,
    running_portal,
)

from rpaml_pipeline.process import load_process
from rpaml_pipeline.processing import process_collected
from rpaml_pipeline.store import Store

pytestmark = pytest.mark.browser

OPEN_CLAIMS = 40
FLAKY = {
    "latency_ms": 5,
    "error_rate": 0.12,
    "max_consecutive_errors": 2,
    "session_expiry_requests": 20,
    "fault_seed": 5,
}
CALM = {"latency_ms": 0, "error_rate": 0.0, "session_expiry_requests": 0, "layout": "classic"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("robots-resilience")


@pytest.fixture(scope="module")
def portal(workdir: Path) -> Iterator[RunningPortal]:
    with running_portal(
        workdir, "--open-claims", str(OPEN_CLAIMS), "--closed-claims", "20", "--late-arrivals", "3"
    ) as running:
        yield running


def robot(
    portal: RunningPortal, workdir: Path, store_url: str, suite: Path, name: str, **env: str
) -> RobotRun:
    run = run_robot(suite, workdir / "robot" / name, portal, store_url, workdir / "data", **env)
    print(f"\n[robot] {name}: rc={run.return_code}")
    return run


def test_every_claim_is_collected_once_from_a_flaky_portal(
    portal: RunningPortal, store: Store, store_url: str, workdir: Path
) -> None:
    visible_at_start = portal.open_claims()
    portal.switch(**FLAKY)
    run = robot(
        portal,
        workdir,
        store_url,
        TASKS / "collect_claims.robot",
        "collect",
        RPAML_CLAIMS_PER_PAGE="10",
    )
    switches = portal.admin("switches")
    portal.switch(**CALM)
    assert run.return_code == 0, run.messages()

    staged = records_of(store, "robot:collect_claims")
    keys = [record.natural_key for record in staged]
    assert len(keys) == len(set(keys)), "a claim was staged twice"
    assert {record.revision for record in staged} == {1}
    assert visible_at_start <= set(keys)
    for record in staged:
        assert record.raw["claim_id"] == record.natural_key
        assert {"region", "claimant_age", "amount"} <= set(record.raw)
    # The switches really bit: errors were served and sessions ended, and each failed
    # page went into the log as a screenshot.
    assert switches["faults_injected"] > 0
    log = (run.output_dir / "output.xml").read_text()
    assert "logging in to the claims portal again" in log
    assert run.screenshots(), "no screenshot of the failed pages in the log"


def test_every_decision_is_applied_exactly_once_on_a_flaky_portal(
    portal: RunningPortal, store: Store, store_url: str, workdir: Path
) -> None:
    collected = sorted(record.natural_key for record in records_of(store, "robot:collect_claims"))
    actions = ("approve", "escalate", "reject")
    decisions = {claim: actions[index % 3] for index, claim in enumerate(collected[:30])}
    record_ids = decide(store, decisions)
    before = portal.actions()
    assert before == []

    portal.switch(**FLAKY)
    run = robot(
        portal,
        workdir,
        store_url,
        ACCEPTANCE / "resilience.robot",
        "apply",
        RPAML_ACCEPTANCE_ONE_BY_ONE="6",
    )
    switches = portal.admin("switches")
    portal.switch(**CALM)
    assert run.return_code == 0, run.messages()
    assert switches["faults_injected"] > 0

    taken = portal.actions()
    per_claim = Counter(action["claim_id"] for action in taken)
    assert per_claim == Counter(set(decisions)), "a claim was decided twice or not at all"
    for action in taken:
        assert action["action"] == decisions[action["claim_id"]]
        record = store.get_record(record_ids[action["claim_id"]])
        assert record.state == "acted"
        assert record.receipt == action["receipt"]


def test_a_redesigned_portal_is_a_layout_error_and_stages_nothing(
    portal: RunningPortal, store: Store, store_url: str, workdir: Path
) -> None:
    portal.switch(layout="redesign")
    before = store.counts()
    try:
        run = robot(portal, workdir, store_url, TASKS / "collect_claims.robot", "redesign")
        assert run.return_code != 0
        message = run.messages()
        assert "PageLayoutError" in message and "layout changed" in message
        assert store.counts() == before
        failed = store.list_runs(PROCESS, kind="collect")[0]
        assert failed.status == "failed"
        assert failed.summary is not None and "PageLayoutError" in failed.summary["error"]
        assert run.screenshots()

        keyword_level = robot(
            portal,
            workdir,
            store_url,
            ACCEPTANCE / "layout_change.robot",
            "redesign-keywords",
            RPAML_ACCEPTANCE_CLAIM_ID=sorted(portal.open_claims())[0],
        )
        assert keyword_level.return_code == 0, keyword_level.messages()
        assert store.counts() == before
    finally:
        portal.switch(**CALM)


def test_a_misaligned_portal_is_caught_by_the_data_contract(
    portal: RunningPortal, workdir: Path
) -> None:
    # A fresh store: every open claim is new to it, so every one is read and staged.
    store_url = f"sqlite:///{workdir / 'misaligned.db'}"
    portal.switch(layout="misaligned")
    try:
        run = robot(portal, workdir, store_url, TASKS / "collect_claims.robot", "misaligned")
    finally:
        portal.switch(**CALM)
    # The markup is the one the robot knows: it cannot tell, and stages what it saw.
    assert run.return_code == 0, run.messages()
    # The contract is the second line of defence; the enrichment is not what is tested.
    process = load_process(PROCESS_FILE).model_copy(update={"enrichment": None})
    with Store.connect(store_url) as store:
        staged = records_of(store)
        assert staged and {record.natural_key for record in staged} == portal.open_claims()
        run_id = store.start_run(PROCESS, "process")
        summary = process_collected(store, process, run_id).as_dict()
        store.finish_run(run_id, "succeeded", summary)
        processed = records_of(store)
    assert {record.state for record in processed} == {"quarantined"}, summary
    for record in processed:
        assert "amount" in (record.reason or "") and "incident_date" in (record.reason or "")
