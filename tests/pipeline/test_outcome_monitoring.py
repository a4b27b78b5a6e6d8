"""Outcome monitoring per decision week: realised cost, baselines, calibration, alerts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from rpaml_models.evaluation import expected_calibration_error
from rpaml_pipeline.model_spec import decision_policy
from rpaml_pipeline.monitoring.outcomes import empty_outcomes, weekly_outcomes
from rpaml_pipeline.process import load_process
from rpaml_pipeline.process.monitoring_section import MonitoringSpec
from staged_claims import PROCESS_FILE

PROCESS = load_process(PROCESS_FILE)
POLICY = decision_policy(PROCESS)
MONDAY = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)  # ISO week 2026-W45


def _week(
    rng: np.random.Generator, start: dt.datetime, n: int, *, truth_shift: float
) -> pd.DataFrame:
    scores = rng.uniform(0.0, 0.4, n)
    amounts = rng.lognormal(7.5, 0.8, n)
    # The action of lowest expected cost for the score, as the policy decides.
    if_negative, if_positive = POLICY.cost_matrices(amounts)
    expected = scores[:, None] * if_positive + (1 - scores[:, None]) * if_negative
    actions = [POLICY.actions[i] for i in expected.argmin(axis=1)]
    truth = np.clip(scores + truth_shift, 0, 1)
    labels = (rng.random(n) < truth).astype(float)
    return pd.DataFrame(
        {
            "decided_at": [start + dt.timedelta(hours=int(h)) for h in rng.integers(0, 120, n)],
            "action": actions,
            "score": scores,
            "label": labels,
            "amount": amounts,
        }
    )


def test_weekly_figures_match_the_cost_table_and_the_labels() -> None:
    rng = np.random.default_rng(4)
    frame = _week(rng, MONDAY, 400, truth_shift=0.0)
    frame.loc[frame.index[:100], "label"] = np.nan  # outcomes not back yet
    (week,) = weekly_outcomes(frame, POLICY, MonitoringSpec())
    assert week.week == "2026-W45"
    assert week.decisions == 400 and week.labels == 300
    labelled = frame[frame["label"].notna()]
    if_negative, if_positive = POLICY.cost_matrices(labelled["amount"].to_numpy())
    rows = np.arange(len(labelled))
    chosen = [POLICY.actions.index(a) for a in labelled["action"]]
    by_hand = np.where(
        labelled["label"] == 1, if_positive[rows, chosen], if_negative[rows, chosen]
    ).mean()
    assert week.cost_per_decision == pytest.approx(by_hand)
    assert set(week.baselines) == set(POLICY.actions)
    for position, action in enumerate(POLICY.actions):
        single = np.where(
            labelled["label"] == 1, if_positive[:, position], if_negative[:, position]
        )
        assert week.baselines[action] == pytest.approx(single.mean())
    assert week.observed_rate == pytest.approx(labelled["label"].mean())
    assert week.ece == pytest.approx(
        expected_calibration_error(labelled["label"].to_numpy(), labelled["score"].to_numpy())
    )
    assert week.auc is not None and 0.5 < week.auc < 1
    assert week.judged


def test_a_week_gone_wrong_raises_cost_and_calibration_alerts() -> None:
    rng = np.random.default_rng(7)
    steady = [_week(rng, MONDAY + dt.timedelta(weeks=k), 400, truth_shift=0.0) for k in range(3)]
    # A new pattern: far more positives than the scores say.
    broken = _week(rng, MONDAY + dt.timedelta(weeks=3), 400, truth_shift=0.5)
    weeks = weekly_outcomes(pd.concat([*steady, broken]), POLICY, MonitoringSpec())
    assert [w.week for w in weeks] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    assert all(not [a for a in w.alerts if a["measure"] == "calibration"] for w in weeks[:3])
    last = {alert["measure"]: alert for alert in weeks[-1].alerts}
    assert last["calibration"]["value"] >= 0.1
    assert last["cost"]["kind"] == "performance" and last["cost"]["week"] == "2026-W48"
    assert "per labelled decision" in last["cost"]["message"]


def test_a_calibrated_model_on_few_labels_raises_no_calibration_alert() -> None:
    # Thirty labels of a perfectly calibrated model: its ECE is above 0.1 by chance alone
    # in most weeks, which is no reason to page anyone.
    weeks = []
    for seed in range(20):
        frame = _week(np.random.default_rng(seed), MONDAY, 30, truth_shift=0.0)
        (week,) = weekly_outcomes(frame, POLICY, MonitoringSpec(min_labels=30))
        weeks.append(week)
    noisy = [w for w in weeks if w.ece is not None and w.ece >= 0.1]
    assert len(noisy) >= 10
    assert all(w.judged for w in weeks)
    assert not [a for w in weeks for a in w.alerts if a["measure"] == "calibration"]
    assert all((w.ece_if_calibrated or 0) > 0.1 for w in weeks)


def test_too_few_labels_are_not_judged_and_no_rows_give_no_weeks() -> None:
    rng = np.random.default_rng(1)
    frame = _week(rng, MONDAY, 40, truth_shift=0.5)
    frame.loc[frame.index[:20], "label"] = np.nan
    (week,) = weekly_outcomes(frame, POLICY, MonitoringSpec(min_labels=30))
    assert week.labels == 20 and not week.judged and week.alerts == []
    assert weekly_outcomes(empty_outcomes(), POLICY, MonitoringSpec()) == []
    unlabelled = frame.assign(label=np.nan)
    (nothing,) = weekly_outcomes(unlabelled, POLICY, MonitoringSpec())
    assert nothing.labels == 0 and nothing.cost_per_decision is None


def test_an_action_outside_the_policy_is_refused() -> None:
    frame = _week(np.random.default_rng(2), MONDAY, 5, truth_shift=0.0).assign(action="shrug")
    with pytest.raises(ValueError, match="shrug"):
        weekly_outcomes(frame, POLICY, MonitoringSpec())
