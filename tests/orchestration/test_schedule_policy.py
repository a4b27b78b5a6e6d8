"""Schedules from the process file, next runs, and the missed-tick policy (coalesce:
one catch-up run of the latest missed tick, once, however many workers start)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbos import DBOS
from dbos._dbos import _get_dbos_instance
from orchestration_harness import PROJECT, process_file_with

from rpaml_pipeline.orchestration import (
    UnknownJobError,
    engine_settings,
    job_stages,
    missed_tick,
    schedule_entries,
)
from rpaml_pipeline.orchestration.engine import OrchestrationSettings
from rpaml_pipeline.orchestration.worker import apply_schedules, catch_up, declare_queues, launch
from rpaml_pipeline.process import load_process
from rpaml_pipeline.settings import RpamlSettings

UTC = dt.UTC


def test_missed_tick_runs_only_the_latest_missed_tick() -> None:
    now = dt.datetime(2026, 3, 2, 9, 7, tzinfo=UTC)
    # Down since Friday: dozens of 15-minute ticks missed, one run owed (09:00).
    friday = dt.datetime(2026, 2, 27, 17, 0, tzinfo=UTC)
    assert missed_tick("*/15 * * * *", friday, now) == dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    # Fired at 09:00 already: nothing owed.
    assert missed_tick("*/15 * * * *", dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC), now) is None
    # Never fired: nothing owed.
    assert missed_tick("*/15 * * * *", None, now) is None


def test_schedules_come_from_the_process_file_with_their_queue(tmp_path: Path) -> None:
    process = load_process(process_file_with(tmp_path))  # the shipped schedules
    entries = {entry.job: entry for entry in schedule_entries(process)}
    assert set(entries) == {"history", "collect", "process", "act", "retrain"}
    assert entries["retrain"].queue == "claims_triage.pipeline"
    assert entries["collect"].queue == "claims_triage.robots"
    assert entries["process"].queue == "claims_triage.pipeline"
    after = dt.datetime(2026, 3, 2, 9, 7, tzinfo=UTC)
    assert entries["act"].next_runs(after, 2) == [
        dt.datetime(2026, 3, 2, 9, 10, tzinfo=UTC),
        dt.datetime(2026, 3, 2, 9, 25, tzinfo=UTC),
    ]
    # This process declares neither enrichment nor delivery targets.
    assert job_stages(process, "loop") == ("collect", "process", "score", "act")
    shipped = load_process(PROJECT / "pipeline" / "processes" / "claims_triage.yaml")
    assert job_stages(shipped, "loop") == (
        "collect", "enrich", "process", "score", "act", "deliver",
    )  # fmt: skip
    with pytest.raises(UnknownJobError, match="known jobs"):
        job_stages(process, "tidy")


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[RpamlSettings]:
    path = process_file_with(tmp_path, {"collect": "*/15 * * * *"})
    settings = RpamlSettings(data_dir=tmp_path / "data", process_file=path)
    settings.data_dir.mkdir()
    process = load_process(path)
    engine = engine_settings(settings, process, OrchestrationSettings(executor_id="policy"))
    launch(engine, listen=False)  # nothing runs here: the test only looks at the queue
    try:
        declare_queues(engine, process.name)
        apply_schedules(schedule_entries(process), process.name)
        yield settings
    finally:
        DBOS.destroy(destroy_registry=False)


def test_a_worker_starting_after_missed_ticks_enqueues_one_catch_up_run_once(
    launched: RpamlSettings,
) -> None:
    process = load_process(launched.process_file)
    entries = schedule_entries(process)
    now = dt.datetime.now(UTC)
    assert catch_up(entries, now) == []  # never fired: nothing owed
    # The schedule last fired two hours ago (as a worker that then died would leave it);
    # DBOS keeps that time in its system database.
    two_hours_ago = now - dt.timedelta(hours=2)
    _get_dbos_instance()._sys_db.update_last_fired_at(
        "claims_triage.collect", two_hours_ago.isoformat()
    )
    expected_tick = missed_tick("*/15 * * * *", two_hours_ago, now)
    assert expected_tick is not None
    first = catch_up(entries, now)
    second = catch_up(entries, now)  # a second worker starting at the same time
    assert first == second == [f"sched-claims_triage.collect-{expected_tick.isoformat()}"]
    queued = DBOS.list_workflows(schedule_name="claims_triage.collect")
    assert [w.workflow_id for w in queued] == first
    assert queued[0].status == "ENQUEUED"
