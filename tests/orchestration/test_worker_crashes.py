"""SIGKILL the worker while it collects and again while it applies decisions: the loop's
workflow resumes, every record reaches its end state, no claim is acted on twice.

The portal's own record of actions is the witness. Each kill takes the worker's whole
process group (worker, robot, chromedriver), as when a machine dies; the Chromium that
escapes it is reaped by the restarted worker (tests/orchestration/test_worker_leftovers.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from orchestration_harness import Portal, Workers, wait_until

from rpaml_pipeline.orchestration import engine_settings
from rpaml_pipeline.orchestration.control import client, wait_for
from rpaml_pipeline.process import load_process
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.serial]

END_STATES = {"acted", "quarantined", "failed", "dead"}


def _runs(store: Store, robot: str, status: str) -> int:
    return sum(1 for r in store.list_runs(limit=500) if r.robot == robot and r.status == status)


def _counts(store: Store) -> dict[str, int]:
    return store.counts("claims_triage").get("claims_triage", {})


def test_the_loop_survives_sigkill_while_collecting_and_while_acting(
    portal: Portal, make_workers: Any, data_dir: Path
) -> None:
    store_url = f"sqlite:///{data_dir / 'rpaml.db'}"
    workers: Workers = make_workers(portal, store_url=store_url, schedules={})
    workers.start("crash-worker")
    enqueued = workers.rpaml("run", "loop")
    assert enqueued.returncode == 0, enqueued.stderr
    workflow_id = enqueued.stdout.strip()
    workers.note("loop enqueued", workflow=workflow_id)

    with Store.connect(store_url) as store:
        # 1. Kill while the collect robot is on the portal.
        wait_until(lambda: _runs(store, "collect_claims", "running") == 1, 90, "collecting")
        time.sleep(1.0)  # the robot is logging in and reading the claims list
        workers.kill("crash-worker", "collect robot running")
        # Whatever the killed robot staged before it died (on a fast machine it may have
        # staged a page already) is staged once: the redone collect finds it unchanged.
        staged_before_kill = sum(_counts(store).values())
        workers.note("staged before the kill", records=staged_before_kill)
        workers.start("crash-worker")

        # 2. Kill while the act robot is applying decisions (some acted, some not yet).
        def mid_acting() -> bool:
            counts = _counts(store)
            return counts.get("acted", 0) >= 3 and counts.get("decided", 0) > 0

        wait_until(mid_acting, 120, "the act robot half way")
        before = _counts(store)
        workers.kill("crash-worker", f"act robot half way: {before}")
        workers.start("crash-worker")

        settings = RpamlSettings(
            data_dir=data_dir, store_url=store_url, process_file=workers.env["RPAML_PROCESS_FILE"]
        )
        engine = engine_settings(settings, load_process(settings.process_file))
        view = wait_for(engine, workflow_id, 150)
        workers.note("workflow finished", state=view.state, executor=view.executor_id)
        assert view.state == "succeeded", view.error
        with client(engine) as dbos:
            steps = [step["function_name"] for step in dbos.list_workflow_steps(workflow_id)]
            collected = dbos.list_workflow_steps(workflow_id)[0]["output"]["new"]
        # Each stage checkpointed once: collect was redone after the first kill (it had
        # not completed), act after the second; nothing completed was run again.
        assert steps == ["rpaml.collect", "rpaml.process", "rpaml.score", "rpaml.act"]

        counts = _counts(store)
        workers.note("records by state", **counts)
        assert set(counts) <= END_STATES, counts
        assert collected > 0
        assert sum(counts.values()) == collected + staged_before_kill
        acted = [r for chunk in store.iter_records("claims_triage", "acted") for r in chunk]
        requeued = sum(
            1 for r in acted for e in store.record_events(r.record_id) if e.step == "act.requeue"
        )
        dead_runs = _runs(store, "collect_claims", "failed") + _runs(
            store, "apply_decisions", "failed"
        )

    actions = portal.actions()
    claims_acted_on = [a["claim_id"] for a in actions]
    workers.note("portal witness", actions=len(actions), distinct=len(set(claims_acted_on)),
                 requeued_after_kill=requeued, robot_runs_closed_as_dead=dead_runs)  # fmt: skip
    assert len(claims_acted_on) == len(set(claims_acted_on)), "a claim got two actions"
    assert sorted(claims_acted_on) == sorted(r.natural_key for r in acted)
    receipts = {a["claim_id"]: a["receipt"] for a in actions}
    assert all(receipts[r.natural_key] == r.receipt for r in acted)
    (data_dir / "crash-timeline.json").write_text(json.dumps(workers.timeline, indent=2))
    print(json.dumps(workers.timeline, indent=2))
