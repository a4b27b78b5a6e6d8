"""Three business days of the real learning loop (the short version of ``bench/loop.py``).

Real everything: the sandbox portal and the scoring service as child processes on free
loopback ports, the robots in headless Chromium and under Xvfb, the SQLite store. The
portal's clock moves a day at a time; new claims are collected, decided and acted on once;
the outcomes that come back become labels judging those decisions; the retrain job runs
every day. Behaviour, not timings or cost goals (those are the benchmark's).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import pytest

from rpaml_pipeline.business_days import LoopOptions, run_business_days
from rpaml_pipeline.demo import DemoOptions
from rpaml_pipeline.settings import RpamlSettings
from rpaml_pipeline.store import Store

PROJECT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.serial]


def test_three_business_days_of_the_loop(tmp_path: Path) -> None:
    settings = RpamlSettings(
        project_dir=PROJECT, data_dir=tmp_path / "data", registry_dir=tmp_path / "registry"
    )
    options = LoopOptions(
        days=3,
        daily_claims=30,
        fraud_ring_day=2,
        sandbox=DemoOptions(seed=7, open_claims=40, closed_claims=900, late_arrivals=0),
    )
    days = run_business_days(settings, options)

    assert [d.day for d in days] == [1, 2, 3]
    dates = [date.fromisoformat(d.business_date) for d in days]
    assert dates == [dates[0] + timedelta(days=n) for n in range(3)]
    assert [d.arrived for d in days] == [30, 30, 30]
    assert [d.fraud_ring for d in days] == [False, True, True]
    # Day one decides the claims open at the start too; each later day its new claims.
    assert days[0].decided >= 30 + 40 - 5
    assert all(d.decided >= 25 for d in days[1:])
    for d in days:
        assert d.ratio_to_oracle is not None and d.ratio_to_oracle >= 0.999
        assert d.champion == "1"
        assert d.retrain.startswith(("skipped", "trained"))
    assert days[0].retrain.startswith("skipped") and "label" in days[0].retrain

    with Store.connect(settings.resolved_store_url) as store:
        acted = [
            record for chunk in store.iter_records("claims_triage", "acted") for record in chunk
        ]
        judged = [label for record in acted for label in store.labels.of_record(record.record_id)]
    assert len(acted) == sum(d.decided for d in days)
    # Every decision was applied in the portal exactly once, with the stored receipt: the
    # portal's own database is the witness.
    with closing(sqlite3.connect(settings.data_dir / "portal" / "portal.db")) as portal:
        applied = dict(portal.execute("SELECT claim_id, receipt FROM actions").fetchall())
    assert applied == {record.natural_key: record.receipt for record in acted}
    # Outcomes of the first day's decisions came back as labels judging them, later.
    assert sum(d.labels_received for d in days) == len(judged) >= 1
    for label in judged:
        assert label.kind == "outcome"
        assert label.action in ("approve", "escalate", "reject")
        assert label.decided_at is not None and label.observed_at > label.decided_at
        assert label.model_version == "1"
