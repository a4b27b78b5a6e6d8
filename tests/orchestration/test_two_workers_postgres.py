"""Two `rpaml worker` processes on one PostgreSQL database: a dead worker's workflow is
taken over with `rpaml recover`, queued jobs are shared with no record processed or
acted on twice, and a schedule tick runs once although both workers fire it."""

from __future__ import annotations

import datetime as dt
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

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.serial]


def test_two_workers_share_the_work_and_take_over_a_dead_one(
    portal: Portal, make_workers: Any, pg_database: str, data_dir: Path
) -> None:
    workers: Workers = make_workers(
        portal,
        store_url=pg_database,
        schedules={"score": "* * * * *"},
        RPAML_WORKER_PIPELINE_JOBS="1",
    )
    settings = RpamlSettings(
        data_dir=data_dir, store_url=pg_database, process_file=workers.env["RPAML_PROCESS_FILE"]
    )
    engine = engine_settings(settings, load_process(settings.process_file))
    assert engine.system_database_url == pg_database

    # 1. Worker w1 dies for good while collecting; w2 takes its workflow over.
    workers.start("w1")
    collect_id = workers.rpaml("run", "collect").stdout.strip()
    with Store.connect(pg_database) as store:
        wait_until(
            lambda: any(r.status == "running" for r in store.list_runs(kind="collect")),
            90,
            "w1 collecting",
        )
        time.sleep(1.0)
        workers.kill("w1", "collect robot running")
        workers.start("w2")
        recovered = workers.rpaml("recover", "w1", "--json")
        assert recovered.returncode == 0, recovered.stderr
        assert json.loads(recovered.stdout)["recovered"] == [collect_id]
        workers.note("rpaml recover w1", recovered=[collect_id])
        view = wait_for(engine, collect_id, 120)
        assert (view.state, view.executor_id) == ("succeeded", "w2")
        workers.note("collect workflow finished", executor=view.executor_id)

        # 2. Both workers share queued jobs: two process+score jobs, then two act jobs.
        workers.start("w1")
        ids = [workers.rpaml("run", "process").stdout.strip() for _ in range(2)]
        views = [wait_for(engine, workflow_id, 120) for workflow_id in ids]
        act_ids = [workers.rpaml("run", "act").stdout.strip() for _ in range(2)]
        act_views = [wait_for(engine, workflow_id, 150) for workflow_id in act_ids]
        assert all(v.state == "succeeded" for v in views + act_views)
        executors = {v.executor_id for v in act_views}
        workers.note("act jobs", executors=sorted(e or "" for e in executors))
        assert executors == {"w1", "w2"}, "both workers run a browser job at once"

        records = [r for chunk in store.iter_records("claims_triage") for r in chunk]
        per_state_changes: dict[tuple[str, str], int] = {}
        owners: set[str] = set()
        for record in records:
            for event in store.record_events(record.record_id):
                if event.to_state:
                    key = (record.record_id, event.to_state)
                    per_state_changes[key] = per_state_changes.get(key, 0) + 1
                if event.step == "act.start":
                    owners.add(str(event.detail.get("owner")))
        twice = {key: n for key, n in per_state_changes.items() if n > 1}
        assert not twice, f"records processed twice: {twice}"
        assert {r.state for r in records} <= {"acted", "quarantined", "failed"}
        workers.note("robots that acted", owners=len(owners))

        # 3. The every-minute schedule: each tick one workflow, run once.
        with client(engine) as dbos:

            def ticks() -> list[Any]:
                return [
                    w
                    for w in dbos.list_workflows(schedule_name="claims_triage.score")
                    if w.status == "SUCCESS"
                ]

            wait_until(lambda: bool(ticks()), 75, "a schedule tick")
            done = ticks()
            steps = [dbos.list_workflow_steps(w.workflow_id) for w in done]
        assert len({w.workflow_id for w in done}) == len(done)
        assert all(len(s) == 1 for s in steps)
        score_steps = len(views) + len(done)
        score_runs = len(store.list_runs(kind="score", limit=500))
        assert score_runs == score_steps, "a score stage ran outside its one checkpointed step"
        workers.note(
            "schedule ticks",
            ticks=[w.workflow_id for w in done],
            executors=[w.executor_id for w in done],
            score_runs=score_runs,
        )

    actions = portal.actions()
    claims = [a["claim_id"] for a in actions]
    assert len(claims) == len(set(claims)), "a claim got two actions"
    workers.note("portal witness", actions=len(claims), at=dt.datetime.now(dt.UTC).isoformat())
    print(json.dumps(workers.timeline, indent=2))
